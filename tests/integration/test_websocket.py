"""WebSocket through lb: the upgrade, echo, and the tunnel idle timeout.

The client is the `websockets` package (10.4: asyncio API only)."""

import asyncio
import os
import time

import pytest
import websockets

from lbtest import dur

# No keepalive pings from the client: idle must mean idle.
CLIENT_OPTIONS = {"ping_interval": None, "max_size": None, "open_timeout": 10,
                  "close_timeout": 5}


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_url(port, path="/ws"):
    return f"ws://127.0.0.1:{port}{path}"


@pytest.mark.parametrize("workers", [1, 2])
def test_echo_text_binary_fragmented_and_ping(http_lb, workers):
    _, port = http_lb(args=["--workers", str(workers)])

    async def session():
        async with websockets.connect(ws_url(port), **CLIENT_OPTIONS) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            data = os.urandom(70000)  # 64-bit length form
            await ws.send(data)
            assert await ws.recv() == data
            await ws.send(["frag-1 ", "frag-2 ", "frag-3"])
            assert await ws.recv() == "frag-1 frag-2 frag-3"
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
        return ws.close_code

    assert run(session()) == 1000


def test_large_messages(http_lb):
    _, port = http_lb()

    async def session():
        async with websockets.connect(ws_url(port), **CLIENT_OPTIONS) as ws:
            for size in (1, 125, 126, 65535, 65536, 4 * 1024 * 1024):
                data = os.urandom(size)
                await ws.send(data)
                assert await ws.recv() == data

    run(session())


def test_many_concurrent_websockets(http_lb):
    _, port = http_lb()

    async def one(i):
        async with websockets.connect(ws_url(port), **CLIENT_OPTIONS) as ws:
            for j in range(5):
                await ws.send(f"{i}-{j}")
                assert await ws.recv() == f"{i}-{j}"

    async def all_of_them():
        await asyncio.gather(*(one(i) for i in range(30)))

    run(all_of_them())


def test_idle_longer_than_idle_timeout_but_below_tunnel_idle_timeout_survives(http_lb):
    # idle_timeout is for HTTP keep-alive; an upgraded tunnel has its own.
    _, port = http_lb(listener_extra={"idle_timeout": dur(1),
                                      "tunnel_idle_timeout": dur(30)})

    async def session():
        async with websockets.connect(ws_url(port), **CLIENT_OPTIONS) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            await asyncio.sleep(2.5)
            await ws.send("after")
            assert await ws.recv() == "after"

    run(session())


def test_tunnel_closed_after_tunnel_idle_timeout(http_lb):
    _, port = http_lb(listener_extra={"tunnel_idle_timeout": dur(1)})

    async def session():
        async with websockets.connect(ws_url(port), **CLIENT_OPTIONS) as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
            started = time.monotonic()
            try:
                await asyncio.wait_for(ws.recv(), 8)
            except websockets.ConnectionClosed:
                return time.monotonic() - started
            except asyncio.TimeoutError:
                pytest.fail("tunnel still open 8 s into a 1 s tunnel_idle_timeout")
            pytest.fail("a message arrived on an idle tunnel")

    elapsed = run(session())
    assert 0.8 <= elapsed < 6, elapsed


def test_active_tunnel_outlives_tunnel_idle_timeout(http_lb):
    _, port = http_lb(listener_extra={"tunnel_idle_timeout": dur(1)})

    async def session():
        async with websockets.connect(ws_url(port), **CLIENT_OPTIONS) as ws:
            started = time.monotonic()
            i = 0
            while time.monotonic() - started < 2.5:
                await ws.send(f"tick {i}")
                assert await ws.recv() == f"tick {i}"
                await asyncio.sleep(0.3)
                i += 1

    run(session())


def test_close_handshake_passes_through(http_lb):
    _, port = http_lb()

    async def session():
        async with websockets.connect(ws_url(port), **CLIENT_OPTIONS) as ws:
            await ws.send("x")
            await ws.recv()
            await ws.close(code=4001, reason="bye")
            # backend.py answers the close with the same code
            return ws.close_code

    assert run(session()) == 4001
