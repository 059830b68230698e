"""backend.py on its own, without lb: the other tests trust what it reports."""

import asyncio
import hashlib
import json
import os
import socket

import websockets

import lbtest
from lbtest import HttpConn, build_request, chunked, headers_named


def test_echo_keep_alive_and_pipelining(backends):
    port = backends[0].port
    with HttpConn(port) as conn:
        conn.send(build_request("GET", "/a?x=1", [("X-Dup", "1"), ("X-Dup", "2")]) +
                  build_request("POST", "/b", body=b"abc"))
        first, second = conn.read_response().json(), conn.read_response().json()
    assert (first["path"], first["query"], first["backend"]) == ("/a", "x=1", "b1")
    assert headers_named(first, "X-Dup") == ["1", "2"]
    assert (second["method"], second["body_len"]) == ("POST", 3)
    assert second["body_sha256"] == hashlib.sha256(b"abc").hexdigest()


def test_upload_chunked_and_expect_continue(backends):
    body = os.urandom(300000)
    with HttpConn(backends[0].port) as conn:
        conn.request("POST", "/upload", [("Transfer-Encoding", "chunked")], chunked(body))
        assert conn.read_response().json()["body_sha256"] == hashlib.sha256(body).hexdigest()
        conn.send(build_request("POST", "/upload", [("Content-Length", str(len(body))),
                                                    ("Expect", "100-continue")]))
        assert conn.read_head()[1] == 100
        conn.send(body)
        assert conn.read_response().json()["body_len"] == len(body)


def test_bodiless_and_streamed_responses(backends):
    with HttpConn(backends[0].port) as conn:
        conn.request("HEAD", "/bytes/777")
        assert conn.read_response(head=True).header("Content-Length") == "777"
        conn.request("GET", "/nocontent")
        assert conn.read_response().status == 204
        conn.request("GET", "/notmodified")
        assert conn.read_response().status == 304
        conn.request("GET", "/chunked/300000")
        chunked_body = conn.read_response().body
        conn.request("GET", "/bytes/300000")
        assert conn.read_response().body == chunked_body
    assert chunked_body[:5] == bytes(range(5)) and chunked_body[251] == 0


def test_failure_endpoints(backends):
    port = backends[0].port
    for path in ("/close", "/reset"):
        with HttpConn(port) as conn:
            conn.request("GET", path)
            assert conn.is_closed(timeout=3)
    with HttpConn(port) as conn:
        conn.request("GET", "/garbage")
        try:
            conn.read_response(timeout=3)
            raise AssertionError("garbage parsed as HTTP")
        except ValueError:
            pass
    with HttpConn(port) as conn:
        conn.request("GET", "/hang")
        assert not conn.is_closed(timeout=0.5)


def test_health_flag_and_stats(backends):
    backend = backends[1]
    before = backend.stats()
    backend.set_health(False)
    assert lbtest.get(backend.port, "/health").status == 503
    backend.set_health(True)
    assert lbtest.get(backend.port, "/health").status == 200
    lbtest.get(backend.port, "/")
    after = backend.stats()
    # Health checks are not traffic: counted apart from requests.
    assert after["health_checks"] == before["health_checks"] + 2
    assert after["requests"] == before["requests"] + 1
    assert after["open_connections"] == 1  # this stats call


def test_websocket_echo(backends):
    async def session():
        url = f"ws://127.0.0.1:{backends[0].port}/ws"
        async with websockets.connect(url, ping_interval=None, max_size=None) as ws:
            await ws.send(["a", "b"])
            assert await ws.recv() == "ab"
            data = os.urandom(100000)
            await ws.send(data)
            assert await ws.recv() == data
            await asyncio.wait_for(await ws.ping(), 5)

    asyncio.run(asyncio.wait_for(session(), 20))


def test_socket_io_session_is_known_only_where_it_was_issued(backends):
    first, second = backends[0].port, backends[1].port
    handshake = lbtest.get(first, "/socket.io/?EIO=4&transport=polling")
    assert handshake.status == 200 and handshake.body.startswith(b"0{")
    sid = json.loads(handshake.body[1:])["sid"]
    assert handshake.header("Set-Cookie").startswith(f"io={sid};")
    poll = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert lbtest.get(first, poll).status == 200
    unknown = lbtest.get(second, poll)
    assert unknown.status == 400 and unknown.json()["message"] == "Session ID unknown"

    async def upgrade(port):
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
        async with websockets.connect(url, ping_interval=None) as ws:
            await ws.send("2probe")
            return await ws.recv()

    assert asyncio.run(asyncio.wait_for(upgrade(first), 20)) == "2probe"
    try:
        asyncio.run(asyncio.wait_for(upgrade(second), 20))
        raise AssertionError("upgrade with an unknown sid succeeded")
    except websockets.exceptions.InvalidStatusCode as error:
        assert error.status_code == 400


def test_tcp_echo_half_close(echo_backends):
    with socket.create_connection(("127.0.0.1", echo_backends[0].port), timeout=10) as sock:
        sock.sendall(b"hello")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(100):
            data += chunk
    assert data == b"hello"
    lbtest.wait_for(lambda: "half-close" in echo_backends[0].log_text(), timeout=5,
                    what="half-close logged")
