// A Socket.IO server for lb's tests: node server.js PORT NAME.
// Its sessions live only in this process, so a client whose polling
// requests reach another server is refused ("Session ID unknown"): the
// balancer in front must be sticky until the WebSocket upgrade.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const [port, name] = [Number(process.argv[2]), process.argv[3]];
// /page: a browser page that connects with the client this server hands
// out (/socket.io/socket.io.js), echoes once over the upgraded transport,
// and writes the outcome into the page.
const PAGE = `<html><body><p id=r>waiting</p><script src="/socket.io/socket.io.js"></script><script>
const out = (text) => { document.getElementById("r").textContent = text; };
const socket = io({ transports: ["polling", "websocket"], reconnection: false });
socket.on("connect_error", (e) => out("connect_error: " + e.message));
// No timers of the page's own: headless Chromium's virtual time would
// fire them early.
socket.io.on("open", () => socket.io.engine.on("upgrade", () => {
  socket.emit("echo", "from the browser", (reply) => out("ok:" + reply.transport + ":" + reply.value));
}));
</script></body></html>`;
const server = http.createServer((req, res) => {
  if (req.url === "/page") {
    res.writeHead(200, { "content-type": "text/html" });
    return res.end(PAGE);
  }
  res.writeHead(req.url === "/health" ? 200 : 404);
  res.end(name);
});
const io = new Server(server);
io.on("connection", (socket) => {
  socket.on("echo", (value, ack) => ack({ value, server: name, transport: socket.conn.transport.name }));
});
server.listen(port, "127.0.0.1", () => console.log(`${name} listening on ${port}`));
