"""Connection draining (deregistration_delay, README "Connection draining"): a target
removed from its group gets no new traffic, its in-flight requests finish,
clients it served close after their response, tunnels to it last until the
delay ends; re-registering cancels; unhealthy targets are cut at once; and
SIGQUIT drains the listeners up to shutdown_timeout.

Targets are removed here by reload; test_admin_api.py does it through the
admin API."""

import base64
import os
import re
import signal
import socket
import struct
import threading
import time

import lbtest
from lbtest import (TIME_SCALE, HttpConn, backend_of, dur, free_port, health_check, http_listener, make_config,
                    target_group, tcp_listener)


def key(backend):
    return f"127.0.0.1:{backend.port}"


class WebSocket:
    """A minimal RFC 6455 client on a raw socket (text frames, masked)."""

    def __init__(self, port, path="/ws", timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        nonce = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: lb.test\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.sock.recv(4096)
            if not data:
                raise AssertionError(f"closed during the handshake: {head!r}")
            head += data
        status_line = head.split(b"\r\n", 1)[0]
        assert b" 101 " in status_line, head
        self.backend = re.search(rb"(?i)x-backend: (\S+)", head).group(1).decode()
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.sock.sendall(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)

    def _read(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        return self._read(length).decode()

    def echo(self, text):
        self.send(text)
        return self.recv()

    def wait_closed(self, timeout):
        """Seconds until the peer closes the connection (None if it does not)."""
        started = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return time.monotonic() - started
        except ConnectionResetError:
            return time.monotonic() - started
        except socket.timeout:
            return None

    def close(self):
        self.sock.close()


def in_flight(port, path, results, conn=None):
    def run():
        try:
            c = conn or HttpConn(port, timeout=30)
            c.request("GET", path)
            results.append(c.read_response(timeout=30))
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def web_config(targets, delay="10s", **group_extra):
    port = free_port()
    config = make_config([http_listener(port, "web")],
                         [target_group("web", targets, deregistration_delay=delay, **group_extra)])
    return config, port


def set_targets(config, targets):
    config["target_groups"][0]["targets"] = [t.target for t in targets]


def test_in_flight_request_finishes_and_new_ones_go_elsewhere(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = web_config([b2])
    lb = start_lb(config)
    results = []
    before = b2.stats()["requests"]
    thread = in_flight(port, "/delay/2000", results)
    lbtest.wait_for(lambda: b2.stats()["requests"] > before, what="the slow request to reach b2")
    set_targets(config, [b1])
    lb.reload(config)
    reloaded = time.monotonic()
    lb.wait_log(rf"target {re.escape(key(b2))} deregistered, draining for up to 10000ms")
    for _ in range(10):
        assert backend_of(port) == "b1"
    thread.join(10)
    assert isinstance(results[0], lbtest.Response) and results[0].status == 200, results
    assert results[0].header("x-backend") == "b2"
    assert b2.stats()["requests"] == before + 1
    # Nothing left on it: gone long before the 10 s delay.
    lb.wait_log(rf"target {re.escape(key(b2))} drained\n", timeout=3)
    assert time.monotonic() - reloaded < 4 * TIME_SCALE


def test_keep_alive_client_of_draining_target_closes_after_its_response(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = web_config([b2])
    lb = start_lb(config)
    busy = HttpConn(port)
    idle = HttpConn(port)
    idle.request("GET", "/")
    assert idle.read_response().header("x-backend") == "b2"
    results = []
    before = b2.stats()["requests"]
    thread = in_flight(port, "/delay/1500", results, conn=busy)
    lbtest.wait_for(lambda: b2.stats()["requests"] > before, what="the slow request to reach b2")
    set_targets(config, [b1])
    lb.reload(config)
    # Idle since its answer from b2: closed now.
    assert idle.is_closed(timeout=2)
    thread.join(10)
    response = results[0]
    assert isinstance(response, lbtest.Response) and response.status == 200, results
    assert "close" in response.connection_tokens()
    assert busy.is_closed(timeout=2)
    # A client served by b1 keeps its connection.
    other = HttpConn(port)
    other.request("GET", "/")
    assert other.read_response().header("x-backend") == "b1"
    assert not other.is_closed(timeout=0.5)
    for conn in (busy, idle, other):
        conn.close()


def test_websocket_to_draining_target_lasts_until_the_delay(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = web_config([b2], delay="2s")
    lb = start_lb(config)
    ws = WebSocket(port)
    assert ws.backend == "b2"
    assert ws.echo("before") == "before"
    set_targets(config, [b1])
    lb.reload(config)
    reloaded = time.monotonic()
    time.sleep(1)
    assert ws.echo("while draining") == "while draining"
    closed_after = ws.wait_closed(timeout=5)
    assert closed_after is not None, "the tunnel outlived the deregistration delay"
    total = time.monotonic() - reloaded
    assert 1.7 <= total <= 3.5 * TIME_SCALE, total
    ws.close()
    lb.wait_log(rf"target {re.escape(key(b2))} drained \(deregistration delay over")


def test_tcp_tunnel_to_draining_target_lasts_until_the_delay(start_lb, echo_backends):
    e1, e2 = echo_backends
    port = free_port()
    group = target_group("echo", [e2], protocol="tcp", deregistration_delay="2s")
    config = make_config([tcp_listener(port, "echo")], [group])
    lb = start_lb(config)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"one")
        assert sock.recv(3) == b"one"
        config["target_groups"][0]["targets"] = [e1.target]
        lb.reload(config)
        reloaded = time.monotonic()
        time.sleep(0.5)
        sock.sendall(b"two")
        assert sock.recv(3) == b"two"
        sock.settimeout(5)
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass
        assert 1.5 <= time.monotonic() - reloaded <= 3.5 * TIME_SCALE


def test_registering_again_cancels_the_drain(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = web_config([b1, b2], delay="2s")
    lb = start_lb(config)
    ws = WebSocket(port)
    if ws.backend != "b2":
        ws.close()
        ws = WebSocket(port)  # round robin: the next one goes to b2
    assert ws.backend == "b2"
    set_targets(config, [b1])
    lb.reload(config)
    assert set(backend_of(port) for _ in range(4)) == {"b1"}
    set_targets(config, [b1, b2])
    lb.reload(config)
    lb.wait_log(rf"target {re.escape(key(b2))} registered again, drain cancelled")
    assert ws.wait_closed(timeout=3) is None  # past the 2 s delay
    assert ws.echo("still here") == "still here"
    assert set(backend_of(port) for _ in range(4)) == {"b1", "b2"}
    ws.close()


def test_unhealthy_target_is_not_drained(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = web_config([b1, b2], delay="30s", health_check=health_check())
    lb = start_lb(config)
    for backend in (b1, b2):
        lb.wait_log(rf"target {re.escape(key(backend))} is healthy")
    ws = WebSocket(port)
    if ws.backend != "b2":
        ws.close()
        ws = WebSocket(port)
    assert ws.backend == "b2"
    b2.set_health(False)
    lb.wait_log(rf"target {re.escape(key(b2))} is unhealthy")
    set_targets(config, [b1])
    lb.reload(config)
    lb.wait_log(rf"target {re.escape(key(b2))} deregistered \(unhealthy: not drained\)")
    assert ws.wait_closed(timeout=2 * TIME_SCALE) is not None
    ws.close()


def test_zero_deregistration_delay_cuts_at_once(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = web_config([b2], delay="0s")
    lb = start_lb(config)
    ws = WebSocket(port)
    set_targets(config, [b1])
    lb.reload(config)
    assert ws.wait_closed(timeout=2 * TIME_SCALE) is not None
    ws.close()
    assert backend_of(port) == "b1"


def test_graceful_quit_keeps_websocket_until_shutdown_timeout(start_lb, backends):
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", [backends[0]])],
                         shutdown_timeout=dur(2))
    lb = start_lb(config)
    ws = WebSocket(port)
    assert ws.echo("before") == "before"
    quit_at = time.monotonic()
    lb.send_signal(signal.SIGQUIT)
    time.sleep(0.5)
    assert ws.echo("while stopping") == "while stopping"
    assert ws.wait_closed(timeout=5) is not None
    assert 1.7 <= time.monotonic() - quit_at <= 3.5 * TIME_SCALE
    assert lb.wait(5) == 0
    ws.close()
