// Socket.IO clients for tools/bench/run socketio: node socketio-clients.js URL.
//
// Holds many socket.io-client connections through one proxy, driven by
// commands on stdin, one JSON line answered on stdout per command:
//   connect N         open N clients (at most CONCURRENCY connecting at once), each long-polling
//                     first and upgrading to a WebSocket (the default), and answer when every one
//                     is connected and upgraded, or has failed
//   run R COUNT N     every ready client emits COUNT "up"s, N a second, each at its own phase;
//                     answers at once
//   stats R [lat]     counts of run R (sent "up"s, received "down"s, senders still going), the
//                     clients still ready, the disconnects so far, this process's longest
//                     event-loop stall since R started; with "lat", the one-way latencies (µs) of run
//                     R's "down"s
// Clients keep cookies (withCredentials): the proxy's stickiness cookie
// must take each one's polling requests and its upgrade to the server that
// issued its session. No reconnection: a client the proxy drops stays
// dropped and is counted.
"use strict";
const readline = require("readline");
const { requireIo, runOf, received, pace, longestStallMs } = require("./socketio-common");

const { io } = requireIo("socket.io-client");

const url = process.argv[2];
const CONCURRENCY = 100;
const CONNECT_TIMEOUT_MS = 30000;

const clients = [];   // { socket, server, ready }
let disconnects = 0;
const disconnectReasons = {};
const isReady = (client) => client.socket.connected && client.socket.io.engine &&
  client.socket.io.engine.transport.name === "websocket";

function openClient() {
  return new Promise((resolve) => {
    const client = { socket: null, server: null, ready: false };
    const socket = io(url, { forceNew: true, withCredentials: true, reconnection: false,
                             transports: ["polling", "websocket"], timeout: CONNECT_TIMEOUT_MS });
    client.socket = socket;
    let settled = false;
    const settle = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        socket.close();
      } else {
        client.ready = true;
        clients.push(client);
      }
      resolve(error);
    };
    const timer = setTimeout(() => settle(`timed out (connected ${socket.connected}, transport ` +
      `${socket.io.engine ? socket.io.engine.transport.name : "none"})`), CONNECT_TIMEOUT_MS);
    const check = () => { if (socket.connected && client.server && isReady(client)) settle(null); };
    socket.on("connect_error", (error) => settle(`connect_error: ${error.message}`));
    socket.on("hello", (server) => { client.server = server; check(); });
    socket.on("connect", check);
    socket.on("disconnect", (reason) => {
      if (!settled) return settle(`disconnect while connecting: ${reason}`);
      disconnects += 1;
      disconnectReasons[reason] = (disconnectReasons[reason] || 0) + 1;
    });
    socket.on("down", received);
    socket.io.on("open", () => {
      socket.io.engine.on("upgrade", check);
      socket.io.engine.on("upgradeError", (error) => settle(`upgrade failed: ${error.message}`));
    });
  });
}

async function connect(count) {
  const started = Date.now();
  const errors = {};
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const error = await openClient();
      if (error) errors[error] = (errors[error] || 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  const servers = {};
  for (const client of clients) servers[client.server] = (servers[client.server] || 0) + 1;
  return { ready: clients.filter(isReady).length, held: clients.length, failed: count - clients.length,
           errors, servers, seconds: (Date.now() - started) / 1000 };
}

function startRun(r, count, rate) {
  let started = 0;
  for (const client of clients) {
    if (!isReady(client)) continue;
    started += 1;
    pace(client.socket, "up", r, count, rate);
  }
  return { started };
}

function stats(r, withLatencies) {
  const run = runOf(r);
  const out = { r, sent: run.sent, received: run.received, pending: run.pending,
                ready: clients.filter(isReady).length, held: clients.length, disconnects,
                disconnect_reasons: disconnectReasons, stall_ms: longestStallMs() };
  if (withLatencies) out.latencies = run.latencies;
  return out;
}

const answer = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const [command, ...args] = line.trim().split(/\s+/);
  try {
    if (command === "connect") answer(await connect(Number(args[0])));
    else if (command === "run") answer(startRun(Number(args[0]), Number(args[1]), Number(args[2])));
    else if (command === "stats") answer(stats(Number(args[0]), args[1] === "lat"));
    else answer({ error: `unknown command ${command}` });
  } catch (error) {
    answer({ error: String(error && error.stack || error) });
  }
});
lines.on("close", () => process.exit(0));
