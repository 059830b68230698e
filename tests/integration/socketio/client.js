// Socket.IO clients for lb's tests: node client.js URL COUNT MESSAGES.
// Each client connects (long-polling first, as browsers do), upgrades to a
// WebSocket, and sends MESSAGES echoes acknowledged by the server. Prints
// one JSON line per client and exits 0 when all did all of it.
"use strict";
const { io } = require("socket.io-client");

const [url, count, messages] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const deadline = setTimeout(() => finish("timed out"), 30000);
const results = [];

function finish(why) {
  clearTimeout(deadline);
  for (const result of results) console.log(JSON.stringify(result));
  const ok = results.length === count && results.every((r) => r.error === null && r.echoed === messages);
  if (why) console.error(why);
  process.exit(ok && !why ? 0 : 1);
}

function run(index) {
  return new Promise((resolve) => {
    const result = { index, connected: false, upgraded: null, echoed: 0, servers: [], error: null };
    results.push(result);
    // withCredentials: the client keeps cookies (lb's stickiness cookie) in Node too.
    const socket = io(url, { withCredentials: true, rejectUnauthorized: false, reconnection: false,
                             transports: ["polling", "websocket"], timeout: 10000 });
    const done = (error) => {
      result.error = error;
      socket.close();
      resolve();
    };
    socket.on("connect_error", (error) => done(`connect_error: ${error.message}`));
    socket.on("disconnect", (reason) => { if (result.echoed < messages) done(`disconnect: ${reason}`); });
    // The upgrade may finish before or after "connect": echo once both happened.
    let echoing = false;
    let sent = 0;
    const next = () => {
      if (sent === messages) return done(null);
      sent += 1;
      socket.timeout(10000).emit("echo", sent, (error, reply) => {
        if (error) return done(`no ack: ${error.message}`);
        if (reply.value !== sent) return done(`wrong echo ${reply.value}`);
        result.echoed += 1;
        if (!result.servers.includes(reply.server)) result.servers.push(reply.server);
        next();
      });
    };
    const start = () => {
      if (echoing || !result.connected || !result.upgraded) return;
      echoing = true;
      next();
    };
    socket.io.on("open", () => socket.io.engine.on("upgrade", (transport) => {
      result.upgraded = transport.name;
      start();
    }));
    socket.on("connect", () => {
      result.connected = true;
      start();
    });
  });
}

Promise.all(Array.from({ length: count }, (_, i) => run(i))).then(() => finish(null));
