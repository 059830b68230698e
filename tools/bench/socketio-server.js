// A Socket.IO server for tools/bench/run socketio: node socketio-server.js PORT NAME.
//
// Sessions live in this process only (no adapter), so a client's polling
// requests must all reach it until the WebSocket upgrade: the proxy in
// front has to be sticky. Besides Socket.IO it answers, directly (the
// bench calls these on the server's own port, not through the proxy):
//   /health                         200 and NAME (the bench's check through each proxy)
//   /bench/run?r=R&count=C&rate=N    start run R: emit C "down"s to every connected socket, N a
//                                    second, each socket at its own phase
//   /bench/stats?r=R[&latencies=1]   JSON: run R's counts (and one-way latencies of its "up"s)
// The socket.io package comes from tests/integration/socketio/node_modules
// (npm ci there), the one the integration tests pin.
"use strict";
const http = require("http");
const path = require("path");
const { createRequire } = require("module");

const requireIo = createRequire(path.resolve(__dirname, "../../tests/integration/socketio/package.json"));
const { Server } = requireIo("socket.io");

const [port, name] = [Number(process.argv[2]), process.argv[3]];
// A chat-sized message body, the same both ways.
const TEXT = "the quick brown fox jumps over the lazy dog; the quick brown fox jumps over the lazy dog".slice(0, 80);
// Microseconds of CLOCK_MONOTONIC, which every process on the machine shares:
// a message's send time compared with another process's receive time.
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// Counts per run, by the run number every message carries: the servers and
// the clients start a run a few milliseconds apart, and a message of run R
// that arrives before its receiver started R still counts for R.
const runs = new Map();
function runOf(r) {
  if (!runs.has(r)) {
    runs.set(r, { sent: 0, received: 0, pending: 0, latencies: [] });
    for (const old of runs.keys()) if (old < r - 2) runs.delete(old);
  }
  return runs.get(r);
}

function startRun(r, count, rate) {
  const current = runOf(r);
  const interval = 1000 / rate;
  for (const socket of io.of("/").sockets.values()) {
    current.pending += 1;
    let seq = 0;
    const send = () => {
      if (socket.connected) {
        seq += 1;
        socket.emit("down", { r, s: seq, t: nowUs(), m: TEXT });
        current.sent += 1;
      }
      return seq < count && socket.connected;
    };
    // A random phase per socket: a steady rate, not one burst a second.
    setTimeout(() => {
      if (!send()) return (current.pending -= 1);
      const timer = setInterval(() => {
        if (!send()) {
          clearInterval(timer);
          current.pending -= 1;
        }
      }, interval);
    }, Math.random() * interval);
  }
  return io.of("/").sockets.size;
}

function stats(r, withLatencies) {
  const run = runOf(r);
  let websocket = 0;
  for (const socket of io.of("/").sockets.values()) {
    if (socket.conn.transport.name === "websocket") websocket += 1;
  }
  const out = { name, sockets: io.of("/").sockets.size, websocket, r, sent: run.sent, received: run.received,
                pending: run.pending };
  if (withLatencies) out.latencies = run.latencies;
  return out;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://bench");
  const json = (value) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  if (url.pathname === "/health") {
    res.writeHead(200, { "content-type": "text/plain" });
    return res.end(name);
  }
  if (url.pathname === "/bench/run") {
    const sockets = startRun(Number(url.searchParams.get("r")), Number(url.searchParams.get("count")),
                             Number(url.searchParams.get("rate")));
    return json({ name, sockets });
  }
  if (url.pathname === "/bench/stats") {
    return json(stats(Number(url.searchParams.get("r")), url.searchParams.get("latencies") === "1"));
  }
  res.writeHead(404);
  res.end();
});
// Longer than every proxy's idle timeout for pooled upstream connections
// (60 s), so a proxy never sends a request on one this server is closing.
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;

const io = new Server(server);
io.on("connection", (socket) => {
  socket.emit("hello", name);
  socket.on("up", (message) => {
    const run = runOf(message.r);
    run.received += 1;
    run.latencies.push(nowUs() - message.t);
  });
});
server.listen(port, "127.0.0.1", () => console.log(`${name} listening on ${port}`));
