// A Socket.IO server for tools/bench/run socketio: node socketio-server.js PORT NAME.
//
// Sessions live in this process only (no adapter), so a client's polling
// requests must all reach it until the WebSocket upgrade: the proxy in
// front has to be sticky. Besides Socket.IO it answers, directly (the
// bench calls these on the server's own port, not through the proxy):
//   /health                         200 and NAME (the bench's check through each proxy)
//   /bench/run?r=R&count=C&rate=N    start run R: emit C "down"s to every connected socket, N a
//                                    second, each socket at its own phase
//   /bench/stats?r=R[&latencies=1]   JSON: run R's counts, this process's longest event-loop
//                                    stall since R started (and one-way latencies of R's "up"s)
"use strict";
const http = require("http");
const { requireIo, runOf, received, pace, longestStallMs } = require("./socketio-common");

const { Server } = requireIo("socket.io");

const [port, name] = [Number(process.argv[2]), process.argv[3]];

function startRun(r, count, rate) {
  for (const socket of io.of("/").sockets.values()) pace(socket, "down", r, count, rate);
  return io.of("/").sockets.size;
}

function stats(r, withLatencies) {
  const run = runOf(r);
  let websocket = 0;
  for (const socket of io.of("/").sockets.values()) {
    if (socket.conn.transport.name === "websocket") websocket += 1;
  }
  const out = { name, sockets: io.of("/").sockets.size, websocket, r, sent: run.sent, received: run.received,
                pending: run.pending, stall_ms: longestStallMs() };
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
  socket.on("up", received);
});
server.listen(port, "127.0.0.1", () => console.log(`${name} listening on ${port}`));
