"""Regression tests for the attacks of issue 12 items 1-5 and 7 (request
smuggling, response injection, framing refused too late, Host ambiguity,
rule bypass by path encoding, smaller protocol slips), through the real
binary with a scripted target that records exactly what lb forwarded."""

import socket
import time

import pytest

import lbtest
from lbtest import HttpConn
from scripted_backend import ScriptedBackend


@pytest.fixture
def scripted(start_lb):
    """scripted(respond=None, listener_extra=None) -> (backend, lb port): an
    http listener whose only target is a fresh ScriptedBackend."""
    started = []

    def start(respond=None, listener_extra=None, rules=None):
        backend = ScriptedBackend(respond) if respond else ScriptedBackend()
        started.append(backend)
        port = lbtest.free_port()
        listener = lbtest.http_listener(port, "app", **(listener_extra or {}))
        if rules:
            listener["rules"] = rules
        config = lbtest.make_config([listener], [lbtest.target_group("app", [backend.target])])
        start_lb(config)
        return backend, port

    yield start
    for backend in started:
        backend.close()


def warm_pool(port, backend):
    """One exchange, so lb holds an idle pooled connection to the target."""
    with HttpConn(port) as conn:
        conn.request("GET", "/warm")
        assert conn.read_response().status == 200
    backend.wait_requests(1, "/warm")


# ---------------------------------------------------------------- 1: smuggling

def test_connection_header_cannot_strip_content_length(scripted):
    backend, port = scripted()
    warm_pool(port, backend)
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    with HttpConn(port) as conn:
        conn.send(b"POST /upload HTTP/1.1\r\nHost: lb.test\r\nConnection: Content-Length\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled)
        assert conn.read_response().status == 200
    [upload] = backend.wait_requests(1, "/upload")
    assert upload.header_values("Content-Length") == [str(len(smuggled))], upload
    assert upload.body == smuggled
    # The next client on the pooled connection gets its own answer.
    with HttpConn(port) as conn:
        conn.request("GET", "/next")
        assert conn.read_response().status == 200
    backend.wait_requests(1, "/next")
    assert backend.requests_for("/smuggled") == []


def test_connection_header_cannot_strip_host(scripted):
    backend, port = scripted()
    with HttpConn(port) as conn:
        conn.send(b"GET /h HTTP/1.1\r\nHost: app.example\r\nConnection: Host\r\n\r\n")
        assert conn.read_response().status == 200
    [request] = backend.wait_requests(1, "/h")
    assert request.header_values("Host") == ["app.example"]


def test_target_connection_header_cannot_unframe_the_response(scripted):
    backend, port = scripted(lambda r: b"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\n"
                                       b"Content-Length: 5\r\n\r\nhello")
    with HttpConn(port) as conn:
        conn.request("GET", "/one")
        first = conn.read_response()
        assert first.header("Content-Length") == "5" and first.body == b"hello", first
        conn.request("GET", "/two")  # the connection is still in step
        assert conn.read_response().body == b"hello"


# ---------------------------------------------------------------- 2: 204/304 bodies

INJECTED = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected"


@pytest.mark.parametrize("status,framing", [
    (204, b"Content-Length: %d\r\n" % len(INJECTED)),
    (304, b"Transfer-Encoding: chunked\r\n"),
    (204, b"Transfer-Encoding: chunked\r\n"),
])
def test_bodies_of_204_and_304_never_reach_a_client(scripted, status, framing):
    def respond(request):
        if request.target == "/empty":
            body = INJECTED if b"Content-Length" in framing else b"%x\r\n%s\r\n0\r\n\r\n" % (len(INJECTED), INJECTED)
            return b"HTTP/1.1 %d X\r\n%s\r\n%s" % (status, framing, body)
        return b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"
    backend, port = scripted(respond)
    with HttpConn(port) as conn:
        conn.request("GET", "/empty")
        response = conn.read_response()
        assert response.status == status
        assert response.header("Content-Length") is None or status == 304
        conn.request("GET", "/after")
        assert conn.read_response().body == b"real"
    # Nor another client, on whatever connection lb has left.
    for _ in range(3):
        with HttpConn(port) as conn:
            conn.request("GET", "/other")
            assert conn.read_response().body == b"real"


def test_head_response_with_body_bytes_is_not_reused(scripted):
    def respond(request):
        if request.method == "HEAD":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected"
        return b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"
    backend, port = scripted(respond)
    with HttpConn(port) as conn:
        conn.request("HEAD", "/h")
        assert conn.read_response(head=True).header("Content-Length") == "8"
        conn.request("GET", "/after")
        assert conn.read_response().body == b"real"


# ---------------------------------------------------------------- 3: framing refused first

@pytest.mark.parametrize("coding,status", [(b"xchunked", 400), (b"gzip, chunked", 501), (b"chunked, chunked", 400)])
def test_refused_transfer_coding_reaches_no_target(scripted, coding, status):
    backend, port = scripted()
    warm_pool(port, backend)
    with HttpConn(port) as conn:
        conn.send(b"POST /bad HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: " + coding +
                  b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        response = conn.read_response()
        assert response.status == status
        assert "close" in response.connection_tokens()
    # Another request proves lb went on; the refused one never arrived.
    with HttpConn(port) as conn:
        conn.request("GET", "/after")
        assert conn.read_response().status == 200
    backend.wait_requests(1, "/after")
    assert backend.requests_for("/bad") == []
    assert all(b"/bad" not in bytes(raw) for raw in backend.raw)


# ---------------------------------------------------------------- 4: Host

def test_two_host_headers_are_refused(scripted):
    backend, port = scripted()
    with HttpConn(port) as conn:
        conn.send(b"GET /two HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n")
        assert conn.read_response().status == 400
        assert conn.is_closed()
    assert backend.requests_for("/two") == []


def test_absolute_form_is_forwarded_with_the_authority_it_was_routed_on(scripted):
    backend, port = scripted(rules=[{"priority": 1, "conditions": {"host": ["b.example"]},
                                     "action": {"fixed_response": {"status": 403}}}])
    with HttpConn(port) as conn:
        conn.send(b"GET http://a.example/abs?q=1 HTTP/1.1\r\nHost: b.example\r\n\r\n")
        assert conn.read_response().status == 200
    [request] = backend.wait_requests(1, "/abs")
    assert request.target == "/abs?q=1"
    assert request.header_values("Host") == ["a.example"]


# ---------------------------------------------------------------- 5: paths

ADMIN_RULE = [{"priority": 1, "conditions": {"path": ["/admin*"]},
               "action": {"fixed_response": {"status": 403, "body": "no"}}}]


@pytest.mark.parametrize("path", ["/admin", "//admin", "/%61dmin", "/./admin", "/x/../admin", "/%2e%2e/admin",
                                  "/public/..//admin/x"])
def test_path_rules_match_the_normalized_path(scripted, path):
    backend, port = scripted(rules=ADMIN_RULE)
    with HttpConn(port) as conn:
        conn.request("GET", path)
        assert conn.read_response().status == 403, path


def test_target_gets_the_normalized_path_by_default(scripted):
    backend, port = scripted()
    with HttpConn(port) as conn:
        conn.request("GET", "/a/./b/../%63//d?x=%2e")
        assert conn.read_response().status == 200
    [request] = backend.wait_requests(1, "/a")
    assert request.target == "/a/c/d?x=%2e"


def test_original_path_can_be_forwarded(scripted):
    backend, port = scripted(listener_extra={"path_normalization": {"merge_slashes": False, "forward": "original"}},
                             rules=ADMIN_RULE)
    with HttpConn(port) as conn:
        conn.request("GET", "/x/../%61dmin")
        assert conn.read_response().status == 403
        conn.request("GET", "/a/./b//c")
        assert conn.read_response().status == 200
    [request] = backend.wait_requests(1, "/a")
    assert request.target == "/a/./b//c"


def test_malformed_escape_in_path_is_refused(scripted):
    backend, port = scripted()
    with HttpConn(port) as conn:
        conn.request("GET", "/a%zz")
        assert conn.read_response().status == 400


# ---------------------------------------------------------------- 7: smaller slips

@pytest.mark.parametrize("line", [b"X Bad: 1", b": empty", b"X\tTab: 1"])
def test_invalid_header_names_are_refused(scripted, line):
    backend, port = scripted()
    with HttpConn(port) as conn:
        conn.send(b"GET /bad-name HTTP/1.1\r\nHost: lb.test\r\n" + line + b"\r\n\r\n")
        assert conn.read_response().status == 400
    assert backend.requests_for("/bad-name") == []


def test_http10_request_without_host_gets_one_upstream(scripted):
    backend, port = scripted()
    with HttpConn(port) as conn:
        conn.send(b"GET /old HTTP/1.0\r\n\r\n")
        assert conn.read_response().status == 200
    [request] = backend.wait_requests(1, "/old")
    assert request.version == "HTTP/1.1"
    assert request.header_values("Host") == [f"127.0.0.1:{port}"]


def test_bytes_sent_before_a_target_dies_mid_body_reach_the_client(scripted):
    backend, port = scripted(lambda r: (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10, "close"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /half HTTP/1.1\r\nHost: lb.test\r\n\r\n")
        received = bytearray()
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), received
    assert b"\r\nContent-Length: 100" in head, received
    # What the target sent, and not a byte more: the short body shows the cut.
    assert body == b"x" * 10, received


def test_chunk_data_must_end_with_crlf(scripted):
    backend, port = scripted()
    with HttpConn(port) as conn:
        conn.send(b"POST /chunks HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhelloXX0\r\n\r\n")
        response = conn.read_response()
        assert response.status == 400


# ---------------------------------------------------------------- found by fuzzing

def test_switching_protocols_without_upgrade_is_refused(scripted):
    # A 101 that does not name its protocol: lb could not tell the tunnel's
    # bytes from a next response, so the client gets 502, not a half tunnel.
    backend, port = scripted(lambda r: b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n")
    with HttpConn(port) as conn:
        conn.send(b"GET /ws HTTP/1.1\r\nHost: lb.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        assert conn.read_response().status == 502
    backend.wait_requests(1, "/ws")


def test_header_limit_does_not_depend_on_how_the_head_arrives(scripted):
    # A head under max_header_size whose one long header name trickles in a
    # byte per segment: each piece was once charged the name's ": " and CRLF.
    backend, port = scripted(listener_extra={"max_header_size": "1k"})
    name = b"X-" + b"n" * 200
    with HttpConn(port) as conn:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.send(b"GET /trickle HTTP/1.1\r\nHost: lb.test\r\n")
        for byte in name:
            conn.send(bytes([byte]))
            time.sleep(0.002)  # pacing, so the name arrives in many reads
        conn.send(b": v\r\n\r\n")
        assert conn.read_response().status == 200
    [request] = backend.wait_requests(1, "/trickle")
    assert request.header(name.decode()) == "v"


def test_bytes_after_switching_protocols_reach_the_client_untouched(scripted):
    # A 101 claiming a chunked body: what follows is the new protocol's
    # bytes, not a body for lb to de-chunk.
    tunnel_bytes = b"5\r\nhello\r\n0\r\n\r\n"
    backend, port = scripted(lambda r: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                       b"Connection: Upgrade\r\nTransfer-Encoding: chunked\r\n\r\n" + tunnel_bytes)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: lb.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        received = b""
        deadline = time.monotonic() + 5
        while not received.endswith(tunnel_bytes) and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), received
    assert rest == tunnel_bytes, received
