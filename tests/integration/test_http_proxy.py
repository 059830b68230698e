"""HTTP forwarding: round robin, keep-alive, pipelining, forwarding headers."""

import socket
import time

import pytest
import requests

import lbtest
from lbtest import HttpConn, build_request, headers_named


@pytest.mark.parametrize("workers", [1, 2])
def test_forwards_request_and_response(http_lb, workers):
    _, port = http_lb(args=["--workers", str(workers)])
    response = requests.get(f"http://127.0.0.1:{port}/some/path?a=1&b=two",
                            headers={"X-Custom": "value"}, timeout=10)
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == "GET"
    assert echo["path"] == "/some/path"
    assert echo["query"] == "a=1&b=two"
    assert headers_named(echo, "X-Custom") == ["value"]
    assert response.headers["X-Backend"] == echo["backend"]


@pytest.mark.parametrize("workers", [1, 2])
def test_round_robin_over_targets_on_one_connection(http_lb, backends, workers):
    _, port = http_lb(args=["--workers", str(workers)])
    seen = []
    with HttpConn(port) as conn:
        for _ in range(9):
            conn.request("GET", "/")
            response = conn.read_response()
            assert response.status == 200
            seen.append(response.header("X-Backend"))
    assert sorted(set(seen[:3])) == ["b1", "b2", "b3"], seen
    assert seen[3:6] == seen[:3] and seen[6:9] == seen[:3], seen


def test_round_robin_over_new_connections(http_lb):
    _, port = http_lb()
    seen = [lbtest.get(port, "/").header("X-Backend") for _ in range(6)]
    assert sorted(seen) == ["b1", "b1", "b2", "b2", "b3", "b3"], seen


def test_client_keep_alive(http_lb, backends):
    _, port = http_lb()
    with HttpConn(port) as conn:
        local = conn.sock.getsockname()
        for i in range(5):
            conn.request("GET", f"/ka/{i}")
            response = conn.read_response()
            assert response.status == 200
            assert response.json()["path"] == f"/ka/{i}"
            assert "close" not in response.connection_tokens()
        assert conn.sock.getsockname() == local
        assert not conn.is_closed(timeout=0.3)


def test_client_connection_close_is_honoured(http_lb):
    _, port = http_lb()
    with HttpConn(port) as conn:
        conn.request("GET", "/", [("Connection", "close")])
        response = conn.read_response()
        assert response.status == 200
        assert conn.is_closed(timeout=3)


def test_http10_client_without_keep_alive_is_closed(http_lb):
    _, port = http_lb()
    with HttpConn(port) as conn:
        conn.send(b"GET /old HTTP/1.0\r\nHost: lb.test\r\n\r\n")
        response = conn.read_response()
        assert response.status == 200
        assert response.json()["path"] == "/old"
        assert conn.is_closed(timeout=3)


def test_pipelined_requests_are_answered_in_order(http_lb):
    _, port = http_lb()
    # The slowest request first: an lb that answers in completion order fails.
    paths = ["/delay/400", "/fast/1", "/delay/100", "/fast/2"]
    batch = b"".join(build_request("GET", p) for p in paths)
    batch += build_request("POST", "/with/body", body=b"x" * 3000)
    with HttpConn(port) as conn:
        conn.send(batch)
        answered = [conn.read_response().json() for _ in range(len(paths) + 1)]
    assert [a["path"] for a in answered] == paths + ["/with/body"]
    assert answered[-1]["body_len"] == 3000


def test_pipelined_requests_split_across_segments(http_lb):
    _, port = http_lb()
    batch = build_request("GET", "/one") + build_request("GET", "/two")
    with HttpConn(port) as conn:
        # Cut in the middle of the second request's headers.
        cut = len(build_request("GET", "/one")) + 10
        conn.send(batch[:cut])
        time.sleep(0.1)
        conn.send(batch[cut:])
        assert conn.read_response().json()["path"] == "/one"
        assert conn.read_response().json()["path"] == "/two"


def test_each_request_on_a_keep_alive_connection_is_parsed_afresh(http_lb):
    """An idle keep-alive connection holds no parser; the next request's
    parser starts at its first byte. A request trickled in a byte at a time
    after an idle pause, then one just under the header limit, then one over
    it: the limit counts each request on its own, as before."""
    _, port = http_lb(listener_extra={"max_header_size": 2048})
    with HttpConn(port) as conn:
        conn.request("GET", "/first")
        assert conn.read_response().json()["path"] == "/first"
        for byte in build_request("GET", "/trickled"):
            conn.send(bytes([byte]))
        assert conn.read_response().json()["path"] == "/trickled"
        filler = "a" * (2048 - 200)
        conn.request("GET", "/near-limit", headers=[("X-Filler", filler)])
        assert conn.read_response().json()["path"] == "/near-limit"
        conn.request("GET", "/near-limit-again", headers=[("X-Filler", filler)])
        assert conn.read_response().json()["path"] == "/near-limit-again"
        conn.request("GET", "/over", headers=[("X-Filler", "a" * 2100)])
        assert conn.read_response().status == 431


def test_pipelined_requests_then_half_close_are_all_answered(http_lb):
    # printf | nc style: everything sent, then the write side shut. Every
    # complete request still gets its answer, then lb closes; the trailing
    # half request is dropped.
    _, port = http_lb()
    paths = ["/delay/200", "/one", "/two"]
    batch = b"".join(build_request("GET", p) for p in paths)
    with HttpConn(port) as conn:
        conn.send(batch + b"GET /never-finished HTTP/1.1\r\nHo")
        conn.sock.shutdown(socket.SHUT_WR)
        answered = [conn.read_response() for _ in paths]
        assert [a.json()["path"] for a in answered] == paths
        assert conn.sock.recv(1) == b""  # closed, nothing more


def test_pipelined_requests_then_half_close_complete_requests_only(http_lb):
    _, port = http_lb()
    with HttpConn(port) as conn:
        conn.send(build_request("GET", "/delay/100") + build_request("GET", "/last"))
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.read_response().json()["path"] == "/delay/100"
        last = conn.read_response()
        assert last.json()["path"] == "/last"
        assert last.header("connection") == "close"
        assert conn.sock.recv(1) == b""


def test_pipelined_local_answers_then_half_close_are_all_answered(http_lb):
    # Answered by lb itself (fixed response) in the middle of the batch: the
    # answer given while the rest is still being parsed must not end it.
    rules = [{"priority": 1, "conditions": {"path": ["/ping"]},
              "action": {"fixed_response": {"status": 200, "content_type": "text/plain", "body": "pong"}}}]
    _, port = http_lb(listener_extra={"rules": rules})
    paths = ["/ping", "/ping", "/one", "/ping"]
    with HttpConn(port) as conn:
        conn.send(b"".join(build_request("GET", p) for p in paths))
        conn.sock.shutdown(socket.SHUT_WR)
        bodies = [conn.read_response().body for _ in paths]
        assert conn.sock.recv(1) == b""
    assert [b for b in bodies if b == b"pong"] == [b"pong"] * 3
    assert b'"path": "/one"' in bodies[2] or b'"path":"/one"' in bodies[2]


def test_x_forwarded_for_appended_to_existing(http_lb):
    _, port = http_lb()
    response = lbtest.get(port, "/", [("X-Forwarded-For", "203.0.113.7")])
    values = headers_named(response.json(), "X-Forwarded-For")
    assert len(values) == 1, values
    assert [v.strip() for v in values[0].split(",")] == ["203.0.113.7", "127.0.0.1"]


def test_x_forwarded_for_set_when_absent(http_lb):
    _, port = http_lb()
    values = headers_named(lbtest.get(port, "/").json(), "X-Forwarded-For")
    assert values == ["127.0.0.1"]


def test_x_forwarded_proto_and_port_set(http_lb):
    _, port = http_lb()
    # Client-supplied values must not survive: lb states what it saw.
    echo = lbtest.get(port, "/", [("X-Forwarded-Proto", "https"),
                                  ("X-Forwarded-Port", "1")]).json()
    assert headers_named(echo, "X-Forwarded-Proto") == ["http"]
    assert headers_named(echo, "X-Forwarded-Port") == [str(port)]


def test_host_header_preserved(http_lb):
    _, port = http_lb()
    echo = lbtest.get(port, "/", [("Host", "Example.COM:8443")]).json()
    assert headers_named(echo, "Host") == ["Example.COM:8443"]


def test_hop_by_hop_headers_removed(http_lb):
    _, port = http_lb()
    echo = lbtest.get(port, "/", [
        ("Connection", "keep-alive, X-Private-Hop"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "foo/2"),           # no "upgrade" token: not an upgrade
        ("X-Private-Hop", "secret"),
        ("X-End-To-End", "kept"),
    ]).json()
    names = {k.lower() for k, _ in echo["headers"]}
    for hop in ("keep-alive", "proxy-connection", "te", "trailer", "upgrade", "x-private-hop"):
        assert hop not in names, echo["headers"]
    for value in headers_named(echo, "Connection"):
        assert "x-private-hop" not in value.lower()
    assert headers_named(echo, "X-End-To-End") == ["kept"]


def test_end_to_end_headers_and_duplicates_kept(http_lb):
    _, port = http_lb()
    response = lbtest.get(port, "/response-headers?Set-Cookie=a%3D1&Set-Cookie=b%3D2",
                          [("X-Dup", "1"), ("X-Dup", "2"), ("Accept", "text/plain")])
    assert response.status == 200
    assert response.header_values("Set-Cookie") == ["a=1", "b=2"]
    echo = response.json()
    assert headers_named(echo, "X-Dup") in (["1", "2"], ["1, 2"])
    assert headers_named(echo, "Accept") == ["text/plain"]


def test_request_target_forwarded_verbatim(http_lb):
    _, port = http_lb()
    echo = lbtest.get(port, "/a%20b/c?q=x%2Fy&empty=&flag").json()
    assert echo["path"] == "/a%20b/c"
    assert echo["query"] == "q=x%2Fy&empty=&flag"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods_forwarded(http_lb, method):
    _, port = http_lb()
    with HttpConn(port) as conn:
        conn.request(method, "/m", body=b"payload")
        echo = conn.read_response().json()
    assert echo["method"] == method
    assert echo["body_len"] == 7


def test_backend_status_codes_passed_through(http_lb):
    _, port = http_lb()
    with HttpConn(port) as conn:
        for status in (201, 301, 404, 418, 500, 503):
            conn.request("GET", f"/status/{status}")
            response = conn.read_response()
            assert response.status == status
            assert response.json()["status"] == status


def test_many_sequential_connections(http_lb):
    _, port = http_lb()
    session = requests.Session()
    for i in range(50):
        assert session.get(f"http://127.0.0.1:{port}/n/{i}", timeout=10).status_code == 200
    for i in range(50):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(build_request("GET", f"/c/{i}", [("Connection", "close")]))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 "), data[:100]
