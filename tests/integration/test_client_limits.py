"""Per-client limits (listener client_limits): open connections, new
connections per second and requests per second per client address, held
across workers, answered with 429 on HTTP and a close on TCP, counted in
the stats, and a reconnect storm from a few addresses that leaves other
clients served. Clients are told apart by their source address
(127.0.0.0/8 is all loopback)."""

import asyncio
import base64
import os
import socket
import threading
import time

import lbtest
from lbtest import HttpConn, TIME_SCALE, http_listener, make_config, metric, target_group, tcp_listener


def start(start_lb, targets, limits, workers=1, protocol="http", **listener_extra):
    port = lbtest.free_port()
    make = http_listener if protocol == "http" else tcp_listener
    config = make_config([make(port, "g", name="l", client_limits=limits, **listener_extra)],
                         [target_group("g", targets, protocol=protocol)], workers=workers)
    return start_lb(config), port


def request_ok(conn, path="/"):
    conn.request("GET", path)
    return conn.read_response()


def test_open_connections_per_client(start_lb, backends):
    lb, port = start(start_lb, backends[:1], {"connections": 3})
    held = [HttpConn(port, source="127.0.0.2") for _ in range(3)]
    try:
        for conn in held:
            assert request_ok(conn).status == 200
        with HttpConn(port, source="127.0.0.2") as extra:
            response = request_ok(extra)
            assert response.status == 429, response
            assert response.header("Retry-After") == "1"
            assert "close" in response.connection_tokens()
            assert extra.is_closed()
        # Another client has its own count.
        with HttpConn(port, source="127.0.0.3") as other:
            assert request_ok(other).status == 200
        # A connection given back makes room.
        held.pop().close()
        lbtest.wait_for(lambda: lb.listener_stats("l")["connections"]["open"] == 2, what="the close to be seen")
        with HttpConn(port, source="127.0.0.2") as again:
            assert request_ok(again).status == 200
    finally:
        for conn in held:
            conn.close()
    stats = lb.listener_stats("l")["client_limited"]
    assert stats["connections"] == 1, stats


def test_request_rate_per_client(start_lb, backends):
    lb, port = start(start_lb, backends[:1], {"request_rate": {"per_second": 2, "burst": 4}})
    with HttpConn(port, source="127.0.0.2") as conn:
        statuses = [request_ok(conn).status for _ in range(6)]
        assert statuses[:4] == [200] * 4, statuses
        assert statuses[4:] == [429, 429], statuses
        # The connection goes on, and says when to come back.
        conn.request("GET", "/")
        limited = conn.read_response()
        assert limited.status == 429 and limited.header("Retry-After") == "1"
        with HttpConn(port, source="127.0.0.3") as other:
            assert request_ok(other).status == 200
        time.sleep(0.6)  # the bucket refills at 2 a second: one request's worth after 0.5 s
        assert request_ok(conn).status == 200
    metrics = lb.admin_get("/metrics")
    assert metric(metrics, "lb_listener_client_limited_total", listener="l", reason="request_rate") == 3


def test_request_rate_counts_the_client_behind_a_trusted_proxy(start_lb, backends):
    lb, port = start(start_lb, backends[:1], {"request_rate": {"per_second": 1, "burst": 2}, "connections": 1},
                     trusted_proxies=["127.0.0.9/32"])
    # The proxy is not a client: its connections are not limited...
    conns = [HttpConn(port, source="127.0.0.9") for _ in range(3)]
    try:
        def ask(conn, client):
            conn.request("GET", "/", headers=[("X-Forwarded-For", client)])
            return conn.read_response().status
        assert [ask(conns[0], "198.51.100.1") for _ in range(3)] == [200, 200, 429]
        # ...its clients are, each on its own, whichever connection they come on.
        assert ask(conns[1], "198.51.100.2") == 200
        assert ask(conns[2], "198.51.100.1") == 429
    finally:
        for conn in conns:
            conn.close()


def test_tcp_connection_rate_closes(start_lb, echo_backends):
    lb, port = start(start_lb, echo_backends[:1], {"connection_rate": {"per_second": 1, "burst": 3}},
                     protocol="tcp")
    echoed = 0
    for _ in range(6):
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)) as sock:
            sock.sendall(b"ping")
            sock.settimeout(5)
            try:
                echoed += sock.recv(16) == b"ping"
            except ConnectionResetError:
                pass
    assert echoed == 3
    assert lb.listener_stats("l")["client_limited"]["connection_rate"] == 3


def test_limits_hold_across_workers(start_lb, backends):
    lb, port = start(start_lb, backends[:1], {"connections": 10}, workers=2)
    conns = [HttpConn(port, source="127.0.0.2") for _ in range(30)]
    try:
        statuses = [request_ok(conn).status for conn in conns]
        assert statuses.count(200) == 10, statuses
        assert statuses.count(429) == 20, statuses
    finally:
        for conn in conns:
            conn.close()


# ---------------------------------------------------------------- reconnect storm

UPGRADE = ("GET /ws HTTP/1.1\r\nHost: lb.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")


async def storm_client(port, source, seconds, counts):
    """WebSocket reconnects as fast as one coroutine can: connect, upgrade,
    read the answer's status, close."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(UPGRADE.format(key=key).encode())
            status_line = await asyncio.wait_for(reader.readline(), 5)
            status = status_line.split(b" ")[1].decode() if status_line else "closed"
            writer.close()
        except (OSError, asyncio.TimeoutError):
            status = "error"
        counts[status] = counts.get(status, 0) + 1


def run_storm(port, sources, seconds, per_source=8):
    results = {source: {} for source in sources}

    async def main():
        await asyncio.gather(*(storm_client(port, source, seconds, results[source])
                               for source in sources for _ in range(per_source)))
    asyncio.run(main())
    return results


def test_reconnect_storm_is_held_to_its_rate_and_others_are_served(start_lb, backends):
    rate, burst = 50, 50  # low enough that a loaded 2-core machine still storms past it
    lb, port = start(start_lb, backends[:1], {"connection_rate": {"per_second": rate, "burst": burst}}, workers=2)
    seconds = 3.0
    storm = {}
    thread = threading.Thread(target=lambda: storm.update(run_storm(port, ["127.0.0.2", "127.0.0.3", "127.0.0.4"],
                                                                    seconds)))
    started = time.monotonic()
    thread.start()
    # Meanwhile another client keeps asking, on fresh connections, well
    # within its own rate (paced at 20 a second).
    latencies, statuses = [], []
    while thread.is_alive():
        t = time.monotonic()
        with HttpConn(port, source="127.0.0.5") as conn:
            statuses.append(request_ok(conn).status)
        latencies.append(time.monotonic() - t)
        time.sleep(max(0.0, 0.05 - (time.monotonic() - t)))
    thread.join()
    elapsed = time.monotonic() - started
    assert set(statuses) == {200}, statuses
    assert len(latencies) >= 10
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.25 * TIME_SCALE, latencies
    for source, counts in storm.items():
        attempts = sum(counts.values())
        upgraded = counts.get("101", 0)
        # The storm really was over the limit, and the limit held it within
        # a few percent: no more than the rate over the time plus the burst,
        # over both workers together.
        assert attempts > 2 * (rate * elapsed + burst), (source, counts, elapsed)
        assert upgraded <= (rate * elapsed + burst) * 1.03, (source, counts, elapsed)
        assert upgraded >= rate * (elapsed - 1.0), (source, counts, elapsed)
        assert counts.get("429", 0) > 0, counts
