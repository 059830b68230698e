// What both sides of tools/bench/run socketio share (socketio-server.js
// and socketio-clients.js): the message, the clock, the per-run counts and
// the paced sender.
"use strict";
const path = require("path");
const { createRequire } = require("module");
const { monitorEventLoopDelay } = require("perf_hooks");

// socket.io and socket.io-client come from tests/integration/socketio's
// node_modules (npm ci there), the versions the integration tests pin.
const requireIo = createRequire(path.resolve(__dirname, "../../tests/integration/socketio/package.json"));

// A chat-sized message body, the same both ways.
const TEXT = "the quick brown fox jumps over the lazy dog; the quick brown fox jumps over the lazy dog".slice(0, 80);

// Microseconds of CLOCK_MONOTONIC, which every process on the machine shares:
// a message's send time compared with another process's receive time.
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// Counts per run, by the run number every message carries: the servers and
// the clients start a run a few milliseconds apart, and a message of run R
// that arrives before its receiver started R still counts for R.
// A run starts with a full garbage collection (node --expose-gc), so one is
// less likely inside it, and resets this process's event-loop delay
// histogram: how late its own timers fired during the run. A stall of this
// process holds every message it sends (socket.io buffers an emit until
// its transport's next turn) or receives meanwhile, so a message latency no
// longer than the longest stall is the load generator's, not the proxy's.
const runs = new Map();
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
function runOf(r) {
  if (!runs.has(r)) {
    if (global.gc) global.gc();
    loopDelay.reset();
    runs.set(r, { sent: 0, received: 0, pending: 0, latencies: [] });
    for (const old of runs.keys()) if (old < r - 2) runs.delete(old);
  }
  return runs.get(r);
}

// A message of run `message.r` arrived.
function received(message) {
  const run = runOf(message.r);
  run.received += 1;
  run.latencies.push(nowUs() - message.t);
}

// Emits `count` `event`s of run `r` on `socket`, `rate` a second, starting
// at a random phase (a steady rate over many sockets, not one burst a
// second); stops early if the socket disconnects. Run r's `pending` counts
// the senders still going.
function pace(socket, event, r, count, rate) {
  const current = runOf(r);
  const interval = 1000 / rate;
  current.pending += 1;
  let seq = 0;
  const send = () => {
    if (socket.connected) {
      seq += 1;
      socket.emit(event, { r, s: seq, t: nowUs(), m: TEXT });
      current.sent += 1;
    }
    return seq < count && socket.connected;
  };
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

// This process's longest event-loop stall since the newest run started, ms.
const longestStallMs = () => loopDelay.max / 1e6;

module.exports = { requireIo, runOf, received, pace, longestStallMs };
