#!/usr/bin/env python3
"""Demo and test backend for lb: an HTTP/1.1 server (or a TCP echo server).

Runs as its own process, stdlib only:
    backend.py --port P --name NAME [--host 127.0.0.1] [--tcp-echo] [--udp-echo]
               [--tls-cert PEM --tls-key PEM]

HTTP endpoints (every response carries X-Backend: NAME):
    any path          JSON echo of the request (method, path, query, headers
                      as a list of pairs, body_len, body_sha256)
    /status/{code}    answers that status
    /delay/{ms}       echo after a delay
    /bytes/{n}        n bytes of a deterministic pattern, Content-Length
    /chunked/{n}      the same, chunked
    /upload           consumes any body streaming; {"body_len", "body_sha256"}
    /close            closes the socket without answering (FIN)
    /reset            closes the socket with a RST
    /garbage          answers bytes that are not HTTP
    /hang             never answers (until the peer goes away)
    /nocontent        204
    /notmodified      304
    /response-headers?K=V&K=V   adds those response headers (repeats kept)
    /ws               WebSocket echo (RFC 6455)
    /socket.io/       a Socket.IO-style session held only by this process:
                      ?transport=polling without sid is the handshake
                      (0{"sid":...}, Set-Cookie: io=SID); with &sid=SID a
                      poll; ?transport=websocket&sid=SID upgrades to the
                      WebSocket echo. An unknown sid gets 400 (as Engine.IO's
                      "Session ID unknown" when a balancer is not sticky).
    /health           200 or 503 by a flag; POST /admin/health/{up|down}
    /admin/stats      {"name", "requests", "connections", "open_connections",
                      "health_checks", "tcp_accepts", "udp_datagrams",
                      "udp_peers"}; requests counts neither /admin/* nor
                      /health (health checks are not traffic)

With --udp-echo it also answers UDP on the same port number: each datagram
comes back to its sender as b"NAME\n" + the datagram, except that
b"empty please" is answered with an empty datagram (the HTTP side stays,
for /health and /admin/stats; udp_peers counts the distinct source
address:port pairs seen).

With --tls-cert/--tls-key the HTTP server speaks HTTPS (handshake after the
TCP accept, so tcp_accepts also counts connections whose handshake failed)
and the echo JSON carries "tls": {"sni", "version", "alpn"}.

The body pattern (byte at offset o is o % 251) is shared with the tests
through pattern_slice().
"""

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import socket
import ssl
import struct
import sys
import urllib.parse

PATTERN_PERIOD = 251  # prime, so the pattern never lines up with buffer sizes
IO_CHUNK = 256 * 1024
_PATTERN = bytes(i % PATTERN_PERIOD for i in range(PATTERN_PERIOD * 1100))
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large",
    417: "Expectation Failed", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


def pattern_slice(offset, length):
    """Bytes [offset, offset+length) of the body pattern; length <= IO_CHUNK."""
    start = offset % PATTERN_PERIOD
    return _PATTERN[start:start + length]


def log(*parts):
    print(*parts, flush=True)


class BadRequest(Exception):
    pass


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value), order and repeats kept
        split = urllib.parse.urlsplit(target)
        self.path = split.path or target
        self.query = split.query

    def header(self, name):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def header_values(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def connection_tokens(self):
        tokens = set()
        for value in self.header_values("connection"):
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
        return tokens

    def keep_alive(self):
        tokens = self.connection_tokens()
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class Backend:
    def __init__(self, name, ssl_context=None):
        self.name = name
        self.healthy = True
        self.requests = 0
        self.connections = 0
        self.tcp_accepts = 0
        self.ssl_context = ssl_context
        self.open_connections = 0
        self.health_checks = 0
        self.sessions = set()  # socket.io-style session ids this process issued
        self.udp_datagrams = 0
        self.udp_peers = set()

    # ------------------------------------------------------------ connection

    async def handle(self, reader, writer):
        self.tcp_accepts += 1
        tls_info = None
        if self.ssl_context is not None:
            try:
                await writer.start_tls(self.ssl_context)
            except (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError) as error:
                log(f"tls handshake failed from {writer.get_extra_info('peername')}: {error}")
                writer.close()
                return
            sslobj = writer.get_extra_info("ssl_object")
            tls_info = {"sni": getattr(sslobj, "lb_sni", None), "version": sslobj.version(),
                        "alpn": sslobj.selected_alpn_protocol()}
        self.connections += 1
        self.open_connections += 1
        try:
            while True:
                request = await self.read_head(reader, writer)
                if request is None:
                    return
                request.tls = tls_info
                if not await self.serve(request, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, BrokenPipeError):
            pass
        except BadRequest as error:
            await self.send_simple(writer, 400, str(error), close=True)
        finally:
            self.open_connections -= 1
            try:
                writer.close()
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def read_head(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None  # clean EOF between requests
        except asyncio.LimitOverrunError:
            await self.send_simple(writer, 431, "header block too large", close=True)
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest("bad request line")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest("bad header line")
            headers.append((name, value.strip()))
        return Request(parts[0], parts[1], parts[2], headers)

    async def body_chunks(self, request, reader, writer):
        """Yields the request body piece by piece (Content-Length or chunked)."""
        if request.header("expect") and request.header("expect").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        encoding = request.header("transfer-encoding")
        if encoding is not None:
            if encoding.lower() != "chunked":
                raise BadRequest("unsupported transfer-encoding")
            while True:
                size_line = await reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size")
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    return
                while size:
                    data = await reader.read(min(size, IO_CHUNK))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", size)
                    size -= len(data)
                    yield data
                if await reader.readexactly(2) != b"\r\n":
                    raise BadRequest("chunk not followed by CRLF")
        length = request.header("content-length")
        remaining = int(length) if length is not None else 0
        while remaining:
            data = await reader.read(min(remaining, IO_CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            remaining -= len(data)
            yield data

    async def consume_body(self, request, reader, writer):
        digest = hashlib.sha256()
        total = 0
        async for data in self.body_chunks(request, reader, writer):
            digest.update(data)
            total += len(data)
        return total, digest.hexdigest()

    # ------------------------------------------------------------ responses

    def head_bytes(self, status, headers, keep_alive):
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
                 f"X-Backend: {self.name}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, writer, request, status, body=b"", headers=(), keep_alive=True):
        headers = list(headers)
        if status not in (204, 304) and status >= 200:
            headers.append(("Content-Length", str(len(body))))
        writer.write(self.head_bytes(status, headers, keep_alive))
        if request is None or request.method != "HEAD":
            if status not in (204, 304):
                writer.write(body)
        await writer.drain()

    async def send_simple(self, writer, status, text, close=False):
        try:
            await self.send(writer, None, status, text.encode() + b"\n",
                            [("Content-Type", "text/plain")], keep_alive=not close)
        except (ConnectionError, OSError):
            pass

    async def send_json(self, writer, request, status, obj, keep_alive, extra=()):
        body = json.dumps(obj).encode() + b"\n"
        headers = [("Content-Type", "application/json")] + list(extra)
        await self.send(writer, request, status, body, headers, keep_alive)

    # ------------------------------------------------------------ routing

    async def serve(self, request, reader, writer):
        """Answers one request; returns whether the connection stays open."""
        path = request.path
        keep_alive = request.keep_alive()
        if path == "/health":
            self.health_checks += 1
        elif not path.startswith("/admin/"):
            self.requests += 1

        if path == "/ws" and "upgrade" in request.connection_tokens():
            await self.websocket(request, reader, writer)
            return False
        if path == "/socket.io/":
            return await self.socket_io(request, reader, writer, keep_alive)
        if path == "/hang":
            await reader.read()  # returns once the peer closes
            return False
        if path == "/close":
            return False
        if path == "/reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if path == "/garbage":
            writer.write(b"\x00\x01 this is not HTTP at all \xff\xfe\r\n\r\n")
            await writer.drain()
            return False

        body_len, body_sha = await self.consume_body(request, reader, writer)
        segments = path.strip("/").split("/")

        if path == "/upload":
            await self.send_json(writer, request, 200,
                                 {"backend": self.name, "body_len": body_len,
                                  "body_sha256": body_sha}, keep_alive)
        elif segments[0] == "status" and len(segments) == 2 and segments[1].isdigit():
            status = int(segments[1])
            if status in (204, 304):
                await self.send(writer, request, status, keep_alive=keep_alive)
            else:
                await self.send_json(writer, request, status,
                                     {"backend": self.name, "status": status}, keep_alive)
        elif segments[0] == "delay" and len(segments) == 2 and segments[1].isdigit():
            await asyncio.sleep(int(segments[1]) / 1000)
            await self.send_json(writer, request, 200,
                                 self.echo(request, body_len, body_sha), keep_alive)
        elif segments[0] == "bytes" and len(segments) == 2 and segments[1].isdigit():
            await self.send_pattern(writer, request, int(segments[1]), False, keep_alive)
        elif segments[0] == "chunked" and len(segments) == 2 and segments[1].isdigit():
            await self.send_pattern(writer, request, int(segments[1]), True, keep_alive)
        elif path == "/nocontent":
            await self.send(writer, request, 204, keep_alive=keep_alive)
        elif path == "/notmodified":
            await self.send(writer, request, 304, headers=[("ETag", '"v1"')],
                            keep_alive=keep_alive)
        elif path == "/response-headers":
            extra = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
            await self.send_json(writer, request, 200,
                                 self.echo(request, body_len, body_sha), keep_alive, extra)
        elif path == "/health":
            status = 200 if self.healthy else 503
            await self.send_json(writer, request, status,
                                 {"backend": self.name, "healthy": self.healthy}, keep_alive)
        elif segments[:2] == ["admin", "health"] and len(segments) == 3 \
                and request.method == "POST" and segments[2] in ("up", "down"):
            self.healthy = segments[2] == "up"
            await self.send_json(writer, request, 200,
                                 {"backend": self.name, "healthy": self.healthy}, keep_alive)
        elif path == "/admin/stats":
            await self.send_json(writer, request, 200,
                                 {"name": self.name, "requests": self.requests,
                                  "connections": self.connections,
                                  "tcp_accepts": self.tcp_accepts,
                                  "open_connections": self.open_connections,
                                  "health_checks": self.health_checks,
                                  "udp_datagrams": self.udp_datagrams,
                                  "udp_peers": len(self.udp_peers)}, keep_alive)
        else:
            await self.send_json(writer, request, 200,
                                 self.echo(request, body_len, body_sha), keep_alive)
        return keep_alive

    def echo(self, request, body_len, body_sha):
        echo = {"backend": self.name, "method": request.method, "path": request.path,
                "query": request.query, "version": request.version,
                "headers": [[k, v] for k, v in request.headers],
                "body_len": body_len, "body_sha256": body_sha}
        if getattr(request, "tls", None) is not None:
            echo["tls"] = request.tls
        return echo

    async def send_pattern(self, writer, request, size, chunked, keep_alive):
        framing = [("Transfer-Encoding", "chunked")] if chunked else \
                  [("Content-Length", str(size))]
        writer.write(self.head_bytes(200, [("Content-Type", "application/octet-stream")]
                                     + framing, keep_alive))
        if request.method != "HEAD":
            offset = 0
            while offset < size:
                piece = pattern_slice(offset, min(IO_CHUNK, size - offset))
                if chunked:
                    writer.write(b"%x\r\n" % len(piece))
                    writer.write(piece)
                    writer.write(b"\r\n")
                else:
                    writer.write(piece)
                offset += len(piece)
                await writer.drain()  # back-pressure: never hold more than a chunk
            if chunked:
                writer.write(b"0\r\n\r\n")
        await writer.drain()

    # ------------------------------------------------------------ socket.io

    async def socket_io(self, request, reader, writer, keep_alive):
        await self.consume_body(request, reader, writer)
        query = dict(urllib.parse.parse_qsl(request.query))
        sid = query.get("sid")
        if sid is None and query.get("transport") == "polling":
            sid = base64.urlsafe_b64encode(os.urandom(15)).decode()
            self.sessions.add(sid)
            handshake = json.dumps({"sid": sid, "upgrades": ["websocket"], "pingInterval": 25000,
                                    "pingTimeout": 20000})
            await self.send(writer, request, 200, b"0" + handshake.encode(),
                            [("Content-Type", "text/plain; charset=UTF-8"),
                             ("Set-Cookie", f"io={sid}; Path=/; HttpOnly; SameSite=Lax")], keep_alive)
            return keep_alive
        if sid not in self.sessions:
            await self.send_json(writer, request, 400, {"code": 1, "message": "Session ID unknown",
                                                        "backend": self.name}, keep_alive)
            return keep_alive
        if query.get("transport") == "websocket" and "upgrade" in request.connection_tokens():
            await self.websocket(request, reader, writer)
            return False
        await self.send(writer, request, 200, b"6", [("Content-Type", "text/plain; charset=UTF-8")],
                        keep_alive)  # a noop packet
        return keep_alive

    # ------------------------------------------------------------ websocket

    async def websocket(self, request, reader, writer):
        key = request.header("sec-websocket-key")
        if not key or (request.header("upgrade") or "").lower() != "websocket":
            await self.send_simple(writer, 400, "not a websocket handshake", close=True)
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        writer.write(self.head_bytes(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                           ("Sec-WebSocket-Accept", accept)], True))
        await writer.drain()
        log(f"websocket open from {writer.get_extra_info('peername')}")
        message_opcode = None
        fragments = []
        try:
            while True:
                fin, opcode, payload = await self.ws_read_frame(reader)
                if opcode == 0x8:  # close: answer with the same code, then hang up
                    await self.ws_write_frame(writer, 0x8, payload[:2])
                    log("websocket closed by peer")
                    return
                if opcode == 0x9:
                    await self.ws_write_frame(writer, 0xA, payload)
                    continue
                if opcode == 0xA:
                    continue
                if opcode in (0x1, 0x2):
                    message_opcode, fragments = opcode, [payload]
                elif opcode == 0x0 and message_opcode is not None:
                    fragments.append(payload)
                else:
                    await self.ws_write_frame(writer, 0x8, struct.pack("!H", 1002))
                    return
                if fin:
                    await self.ws_write_frame(writer, message_opcode, b"".join(fragments))
                    message_opcode, fragments = None, []
        except (asyncio.IncompleteReadError, ConnectionError):
            log("websocket connection lost")

    @staticmethod
    async def ws_read_frame(reader):
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await reader.readexactly(8))[0]
        mask = await reader.readexactly(4) if second & 0x80 else None
        payload = await reader.readexactly(length)
        if mask and length:
            # XOR the whole payload at once via big integers: fast in CPython.
            repeated = (mask * (length // 4 + 1))[:length]
            payload = (int.from_bytes(payload, "big") ^
                       int.from_bytes(repeated, "big")).to_bytes(length, "big")
        return bool(first & 0x80), first & 0x0F, payload

    @staticmethod
    async def ws_write_frame(writer, opcode, payload):
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        writer.write(header + payload)
        await writer.drain()


class UdpEcho(asyncio.DatagramProtocol):
    """--udp-echo: each datagram goes back to its sender as b"NAME\n" + datagram
    (b"empty please" gets an empty datagram back)."""

    def __init__(self, backend, sock):
        self.backend = backend
        self.sock = sock
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.backend.udp_datagrams += 1
        self.backend.udp_peers.add(addr[:2])
        if data == b"empty please":
            # asyncio's sendto() silently drops an empty datagram: use the socket.
            self.sock.sendto(b"", addr)
        else:
            self.transport.sendto(self.backend.name.encode() + b"\n" + data, addr)


async def tcp_echo(reader, writer):
    peer = writer.get_extra_info("peername")
    log(f"accept {peer}")
    try:
        while True:
            data = await reader.read(IO_CHUNK)
            if not data:
                # Client half-closed: everything read was already queued, so
                # the FIN goes out after the last echoed byte.
                log(f"half-close from {peer}: finishing and shutting down write")
                if writer.can_write_eof():
                    writer.write_eof()
                await writer.drain()
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError) as error:
        log(f"error {peer}: {error}")
    finally:
        try:
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        log(f"closed {peer}")


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--name", default="backend")
    parser.add_argument("--tcp-echo", action="store_true", help="echo bytes instead of HTTP")
    parser.add_argument("--udp-echo", action="store_true", help="also echo UDP datagrams on the same port")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate chain")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = parser.parse_args()

    ssl_context = None
    if args.tls_cert:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
        ssl_context.set_alpn_protocols(["http/1.1"])

        def remember_sni(sslobj, name, _context):
            sslobj.lb_sni = name  # reported in the echo

        ssl_context.sni_callback = remember_sni
    backend = Backend(args.name, ssl_context)
    handler = tcp_echo if args.tcp_echo else backend.handle
    server = await asyncio.start_server(handler, args.host, args.port,
                                        limit=1024 * 1024, reuse_address=True)
    loop = asyncio.get_running_loop()
    if args.udp_echo:
        udp = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((args.host, args.port))
        await loop.create_datagram_endpoint(lambda: UdpEcho(backend, udp), sock=udp)
    mode = "tcp-echo" if args.tcp_echo else ("https" if ssl_context else "http")
    mode += " + udp-echo" if args.udp_echo else ""
    log(f"{args.name} ({mode}) listening on {args.host}:{args.port}")

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    log(f"{args.name} stopped")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
