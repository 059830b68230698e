// A Socket.IO server for lb's tests: node server.js PORT NAME.
// Its sessions live only in this process, so a client whose polling
// requests reach another server is refused ("Session ID unknown"): the
// balancer in front must be sticky until the WebSocket upgrade.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const [port, name] = [Number(process.argv[2]), process.argv[3]];
const server = http.createServer((req, res) => {
  res.writeHead(req.url === "/health" ? 200 : 404);
  res.end(name);
});
const io = new Server(server);
io.on("connection", (socket) => {
  socket.on("echo", (value, ack) => ack({ value, server: name, transport: socket.conn.transport.name }));
});
server.listen(port, "127.0.0.1", () => console.log(`${name} listening on ${port}`));
