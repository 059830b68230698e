"""An HTTP/1.1 target that parses what lb sends it, keeps every request it
read (per connection, in order) and answers each with scripted raw bytes,
for tests of how lb frames what it forwards and what it does with what a
target answers."""

import socket
import threading

from lbtest import HOST, wait_for


class Request:
    def __init__(self, connection, head, body):
        self.connection = connection      # index of the connection it came on
        self.head = head                  # bytes up to and including the blank line
        self.body = body                  # the body, de-chunked
        lines = head.decode("latin-1").split("\r\n")
        self.method, self.target, self.version = lines[0].split(" ", 2)
        self.headers = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                self.headers.append((name, value.strip()))

    def header_values(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name):
        values = self.header_values(name)
        return values[0] if values else None

    def __repr__(self):
        return f"Request({self.head!r} + {len(self.body)} body bytes)"


def _ok(request):
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class ScriptedBackend:
    """`respond(request)` returns the raw bytes to answer with (default: 200
    "ok"); None closes the connection instead, and (bytes, "close") sends
    the bytes, then closes."""

    def __init__(self, respond=_ok):
        self.respond = respond
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.requests = []
        self.raw = []                     # every byte received, per connection
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def target(self):
        return {"address": HOST, "port": self.port}

    def close(self):
        self.listener.close()

    def requests_for(self, target_prefix="/"):
        with self._lock:
            return [r for r in self.requests if r.target.startswith(target_prefix)]

    def wait_requests(self, count, target_prefix="/", timeout=5.0):
        return wait_for(lambda: len(self.requests_for(target_prefix)) >= count and self.requests_for(target_prefix),
                        timeout=timeout, what=f"{count} request(s) for {target_prefix} at the backend")

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                index = len(self.raw)
                self.raw.append(bytearray())
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn, index):
        buf = bytearray()

        def fill():
            data = conn.recv(65536)
            if not data:
                raise EOFError
            with self._lock:
                self.raw[index] += data
            buf.extend(data)

        def read_line():
            while b"\r\n" not in buf:
                fill()
            line, _, rest = bytes(buf).partition(b"\r\n")
            buf[:] = rest
            return line

        def read_exact(n):
            while len(buf) < n:
                fill()
            out = bytes(buf[:n])
            del buf[:n]
            return out

        with conn:
            try:
                while True:
                    while b"\r\n\r\n" not in buf:
                        fill()
                    end = buf.index(b"\r\n\r\n") + 4
                    head = bytes(buf[:end])
                    del buf[:end]
                    request = Request(index, head, b"")
                    encoding = (request.header("transfer-encoding") or "").lower()
                    if "chunked" in encoding:
                        body = bytearray()
                        while True:
                            size = int(read_line().split(b";")[0], 16)
                            if size == 0:
                                while read_line():
                                    pass
                                break
                            body += read_exact(size)
                            read_exact(2)
                        request.body = bytes(body)
                    elif request.header("content-length") is not None:
                        request.body = read_exact(int(request.header("content-length")))
                    with self._lock:
                        self.requests.append(request)
                    answer = self.respond(request)
                    if answer is None:
                        return
                    if isinstance(answer, tuple):
                        conn.sendall(answer[0])
                        return
                    conn.sendall(answer)
            except (EOFError, OSError, ValueError):
                return
