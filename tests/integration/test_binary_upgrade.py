"""Binary upgrade under load, and what carries over (README, "Binary
upgrade"; issue 17): `lb -s upgrade` or SIGUSR2 starts the binary lb was
started from on the same listening sockets; the old process drains once
the new one is ready. Helpers and the `upgrades` fixture: upgradetest.py."""

import asyncio
import random
import re
import shutil
import signal
import socket
import time

import pytest
import websockets

import lbtest
from lbtest import (HOST, TIME_SCALE, dur, free_port, health_check, http_listener, make_config, target_group,
                    tcp_listener)
from test_drain import WebSocket
from test_udp import udp_listener
from upgradetest import (STARTED, alive, owner, read_pid_file, served_by, simple_config, wait_gone,
                         wait_serving_ready)
from upgradetest import upgrades  # noqa: F401 - the fixture


def parse_wrk(output):
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"),
                             (int(x) for x in errors.groups()) if errors else (0, 0, 0, 0)))
    return requests, int(non2xx.group(1)) if non2xx else 0, socket_errors


# ---------------------------------------------------------------- 1. under load

# Not scaled down under ASan: measured on 2 cores, this test takes about 8 s
# either way and each sanitized lb peaks near 210 MiB RSS (ASan's shadow
# and quarantine, quarantine_size_mb=16) with all 500 open.
WEBSOCKETS = 500


class Load:
    """What the clients of the load test saw."""

    def __init__(self):
        self.handover_at = None          # monotonic time the old lb logged the hand-over
        # keep-alive HTTP pool
        self.http_ok = 0
        self.http_retried = []           # (path, when): closed before any byte of the response, on a used connection
        self.http_failures = []
        # WebSockets
        self.ws_echoed = 0
        self.ws_after = {}               # index -> messages echoed after the hand-over
        self.ws_failures = []
        # the long TCP tunnel
        self.tunnel_echoed = 0
        self.tunnel_after = 0
        self.tunnel_failures = []
        # new TCP connections
        self.connects = 0
        self.connects_after = 0
        self.connect_refused = 0
        self.connect_failures = []
        # UDP
        self.udp_sent = {}               # payload -> monotonic send time
        self.udp_received = set()
        self.udp_errors = []
        # slowest new connection (connect + echo) and pool request, seconds
        self.connect_max_s = 0.0
        self.http_max_s = 0.0

    def summary(self):
        return (f"pool {self.http_ok} ok, {len(self.http_failures)} failed; WebSockets {self.ws_echoed} echoed, "
                f"{len(self.ws_after)} echoing after the hand-over, {len(self.ws_failures)} failed; tunnel "
                f"{self.tunnel_echoed} ({self.tunnel_after} after); connects {self.connects} "
                f"({self.connects_after} after), {self.connect_refused} refused, "
                f"{len(self.connect_failures)} failed; UDP {len(self.udp_sent)} sent, "
                f"{len(self.udp_received)} answered")


async def http_pool_client(cid, port, stop, load):
    """Sequential GETs on a keep-alive connection, each path unique per try.
    A request whose connection closes before any byte of its response, on a
    connection that already carried a response, is retried on a new
    connection (what HTTP clients do for an idempotent request, RFC 9112
    9.3.1) and listed; anything else that is not a whole 200 is a failure."""
    reader = writer = None
    used = 0
    n = attempt = 0
    while not stop.is_set():
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 10 * TIME_SCALE)
            except Exception as error:  # noqa: BLE001 - counted
                load.http_failures.append(f"c{cid}: connect: {error!r}")
                await asyncio.sleep(0.05)
                continue
            used = 0
        path = f"/pool/c{cid}/n{n}/t{attempt}"
        buf = bytearray()
        asked = time.monotonic()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: lb.test\r\n\r\n".encode())
            while b"\r\n\r\n" not in buf:
                data = await asyncio.wait_for(reader.read(65536), 10 * TIME_SCALE)
                if not data:
                    raise EOFError("closed")
                buf += data
            head, _, body = bytes(buf).partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "-1"))
            if length < 0:
                raise ValueError(f"no Content-Length: {head!r}")
            while len(body) < length:
                data = await asyncio.wait_for(reader.read(65536), 10 * TIME_SCALE)
                if not data:
                    raise EOFError("closed in the body")
                body += data
            if len(body) != length:
                raise ValueError(f"{len(body) - length} bytes after the body")
        except (EOFError, ConnectionError, asyncio.TimeoutError, ValueError) as error:
            writer.close()
            writer = None
            if not buf and used > 0 and not isinstance(error, (asyncio.TimeoutError, ValueError)):
                load.http_retried.append((path, time.monotonic()))
                attempt += 1
                continue
            load.http_failures.append(f"{path}: {error!r} after {len(buf)} bytes on a connection used {used} times")
            n, attempt = n + 1, 0
            continue
        load.http_max_s = max(load.http_max_s, time.monotonic() - asked)
        if status != 200:
            load.http_failures.append(f"{path}: status {status}")
        else:
            load.http_ok += 1
        used += 1
        n, attempt = n + 1, 0
        if "close" in headers.get("connection", "").lower():
            writer.close()
            writer = None
        await asyncio.sleep(0.005)
    if writer is not None:
        writer.close()


async def echo_loop(exchange, stop, failures, name, echoed, pause):
    """Sends numbered messages through `exchange` (message -> its echo) until
    `stop`; the first error or wrong echo goes to `failures` and ends it."""
    n = 0
    while not stop.is_set():
        message = name(n)
        try:
            reply = await asyncio.wait_for(exchange(message), 10 * TIME_SCALE)
        except Exception as error:  # noqa: BLE001 - counted
            failures.append(f"{message!r}: {error!r}")
            return
        if reply != message:
            failures.append(f"sent {message!r}, got {reply!r}")
            return
        echoed()
        n += 1
        await asyncio.sleep(pause())


async def ws_client(index, ws, stop, load):
    rnd = random.Random(index)

    async def exchange(message):
        await ws.send(message)
        return await ws.recv()

    def echoed():
        load.ws_echoed += 1
        if load.handover_at is not None:
            load.ws_after[index] = load.ws_after.get(index, 0) + 1

    await echo_loop(exchange, stop, load.ws_failures, lambda n: f"ws {index} {n}", echoed,
                    lambda: rnd.uniform(0.1, 0.2))


async def tunnel_client(reader, writer, stop, load):
    async def exchange(payload):
        writer.write(payload)
        return await reader.readexactly(len(payload))

    def echoed():
        load.tunnel_echoed += 1
        if load.handover_at is not None:
            load.tunnel_after += 1

    await echo_loop(exchange, stop, load.tunnel_failures, lambda n: f"tunnel {n:08d} ".encode() * 8, echoed,
                    lambda: 0.05)


async def connect_client(cid, port, stop, load):
    """New TCP connections, one after the other: connect, echo, close."""
    n = 0
    while not stop.is_set():
        payload = f"connect {cid} {n}\n".encode()
        asked = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 10 * TIME_SCALE)
        except ConnectionRefusedError:
            load.connect_refused += 1
            continue
        except Exception as error:  # noqa: BLE001 - counted
            load.connect_failures.append(f"{payload!r}: connect: {error!r}")
            continue
        try:
            writer.write(payload)
            got = await asyncio.wait_for(reader.readexactly(len(payload)), 10 * TIME_SCALE)
            if got != payload:
                load.connect_failures.append(f"{payload!r}: got {got!r}")
            else:
                load.connects += 1
                load.connect_max_s = max(load.connect_max_s, time.monotonic() - asked)
                if load.handover_at is not None:
                    load.connects_after += 1
        except Exception as error:  # noqa: BLE001 - counted
            load.connect_failures.append(f"{payload!r}: {error!r}")
        writer.close()
        n += 1
        await asyncio.sleep(0.01)


class UdpFlowClient(asyncio.DatagramProtocol):
    """A connected UDP socket (so an ICMP port unreachable would surface as
    ConnectionRefusedError in error_received)."""

    def __init__(self, load):
        self.load = load

    def datagram_received(self, data, addr):
        _, _, payload = data.partition(b"\n")
        self.load.udp_received.add(payload)

    def error_received(self, exc):
        self.load.udp_errors.append(repr(exc))


async def udp_client(fid, port, stop, load):
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: UdpFlowClient(load), remote_addr=(HOST, port))
    try:
        seq = 0
        while not stop.is_set():
            payload = f"flow {fid} datagram {seq}".encode()
            load.udp_sent[payload] = time.monotonic()
            transport.sendto(payload)
            seq += 1
            await asyncio.sleep(0.01)
        # Replies still on their way.
        deadline = time.monotonic() + 1.0 * TIME_SCALE
        while time.monotonic() < deadline and not set(load.udp_sent) <= load.udp_received:
            await asyncio.sleep(0.02)
    finally:
        transport.close()


async def wait_async(predicate, timeout, what, load=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" ({load.summary()})" if load else ""))
        await asyncio.sleep(0.02)


def three_protocol_config(start_backend, tmp_path, web_group_extra=None, **global_extra):
    """An HTTP group of two targets, a TCP echo and a UDP echo behind one lb
    of two workers; returns (config, web backends, http_port, tcp_port, udp_port)."""
    web = [start_backend("web1"), start_backend("web2")]
    echo = start_backend("echo", tcp_echo=True)
    udp = start_backend("udp", udp_echo=True)
    http_port, tcp_port, udp_port = free_port(), free_port(), free_port()
    config = make_config(
        [http_listener(http_port, "web"), tcp_listener(tcp_port, "echo"), udp_listener(udp_port, "udp")],
        [target_group("web", web, **(web_group_extra or {})), target_group("echo", [echo], protocol="tcp"),
         target_group("udp", [udp], protocol="udp")],
        workers=2, pid_file=str(tmp_path / "lb.pid"), **global_extra)
    return config, web, http_port, tcp_port, udp_port


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (tools/dev install provides it)")
def test_upgrade_under_load_drops_nothing(start_lb, start_backend, upgrades, tmp_path):
    config, web, http_port, tcp_port, udp_port = three_protocol_config(
        start_backend, tmp_path, web_group_extra={"health_check": health_check()}, shutdown_timeout="60s")
    lb = start_lb(config)
    wait_serving_ready(lb)
    old_pid = lb.pid
    admin_port = int(config["global"]["admin"]["listen"].rsplit(":", 1)[1])
    load = Load()
    checks = {}

    async def scenario():
        stop = asyncio.Event()
        url = f"ws://{HOST}:{http_port}/ws"
        sockets = []
        for start in range(0, WEBSOCKETS, 100):
            sockets += await asyncio.gather(*[
                websockets.connect(url, ping_interval=None, open_timeout=20 * TIME_SCALE, close_timeout=10)
                for _ in range(start, min(start + 100, WEBSOCKETS))])
        tunnel_reader, tunnel_writer = await asyncio.open_connection(HOST, tcp_port)
        tasks = [asyncio.create_task(ws_client(i, ws, stop, load)) for i, ws in enumerate(sockets)]
        tasks.append(asyncio.create_task(tunnel_client(tunnel_reader, tunnel_writer, stop, load)))
        tasks += [asyncio.create_task(http_pool_client(c, http_port, stop, load)) for c in range(4)]
        tasks += [asyncio.create_task(connect_client(c, tcp_port, stop, load)) for c in range(2)]
        tasks += [asyncio.create_task(udp_client(f, udp_port, stop, load)) for f in range(4)]
        served_before = sum(await asyncio.gather(*[asyncio.to_thread(lambda b=b: b.stats()["requests"])
                                                   for b in web]))
        wrk = await asyncio.create_subprocess_exec(
            "wrk", "-t2", "-c32", "-d120s", "--timeout", f"{int(10 * TIME_SCALE)}s", "--latency",
            f"http://{HOST}:{http_port}/", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            # The upgrade starts once every kind of traffic flows through lb.
            await wait_async(lambda: load.ws_echoed >= 2 * WEBSOCKETS and load.tunnel_echoed >= 3 and
                             load.connects >= 3 and len(load.udp_received) >= 12 and load.http_ok >= 12,
                             10 * TIME_SCALE, "traffic of every kind before the upgrade", load)
            served = sum(await asyncio.gather(*[asyncio.to_thread(lambda b=b: b.stats()["requests"])
                                                for b in web]))
            assert served - served_before > 100, "wrk's requests are not reaching the targets"

            upgrade_started = time.time()
            new_pid = await asyncio.to_thread(upgrades.upgrade, lb)
            load.handover_at = time.monotonic()
            checks["new_pid"] = new_pid
            checks["upgrade_started"] = upgrade_started
            # The traffic goes on through and after the hand-over.
            await wait_async(lambda: time.monotonic() - load.handover_at > 2.0 * TIME_SCALE and
                             len(load.ws_after) == WEBSOCKETS and min(load.ws_after.values()) >= 3 and
                             load.tunnel_after >= 10 and load.connects_after >= 10,
                             15 * TIME_SCALE, "traffic after the hand-over", load)
            assert alive(old_pid), "the old lb left while it still had tunnels"

            # New connections go to the new process; the old one still holds
            # the tunnels it had.
            pids = [old_pid, new_pid]
            checks["http_owner"] = await asyncio.to_thread(served_by, http_port, pids)
            checks["admin_owner"] = await asyncio.to_thread(served_by, admin_port, pids, "/api/v1/stats")
            async with websockets.connect(url, ping_interval=None) as fresh:
                await fresh.send("fresh")
                assert await fresh.recv() == "fresh"
                checks["fresh_ws_owner"] = owner(fresh.local_address, http_port, pids)
            reader, writer = await asyncio.open_connection(HOST, tcp_port)
            writer.write(b"fresh tcp")
            assert await reader.readexactly(9) == b"fresh tcp"
            checks["fresh_tcp_owner"] = owner(writer.get_extra_info("sockname"), tcp_port, pids)
            writer.close()
            checks["tunnel_owner"] = owner(tunnel_writer.get_extra_info("sockname"), tcp_port, pids)
            checks["old_ws_owners"] = {owner(ws.local_address, http_port, pids) for ws in sockets[::50]}
            checks["rss_mib"] = (lbtest.rss_kib(old_pid) // 1024, lbtest.rss_kib(new_pid) // 1024)
        finally:
            stop.set()
            if wrk.returncode is None:
                wrk.send_signal(signal.SIGINT)
            output = (await wrk.communicate())[0].decode()
            await asyncio.gather(*tasks, return_exceptions=True)
        checks["wrk"] = output
        checks["ws_open"] = sum(1 for ws in sockets if ws.open)
        # The old process is still there for its tunnels; once they end, it goes.
        checks["old_alive_before_close"] = alive(old_pid)
        closed_at = time.monotonic()
        tunnel_writer.close()
        await asyncio.gather(*[ws.close() for ws in sockets])
        checks["close_codes"] = {ws.close_code for ws in sockets}
        return closed_at

    closed_at = asyncio.run(asyncio.wait_for(scenario(), 120 * TIME_SCALE))
    assert lb.wait(10 * TIME_SCALE) == 0, "the old lb did not exit once its tunnels ended"
    old_exit_s = time.monotonic() - closed_at
    new_pid = checks["new_pid"]

    requests, non2xx, socket_errors = parse_wrk(checks["wrk"])
    lost = sorted(((t - load.handover_at, p.decode()) for p, t in load.udp_sent.items()
                   if p not in load.udp_received))
    print(f"\nupgrade under load: wrk {requests} requests, {non2xx} non-2xx, socket errors {socket_errors}; "
          f"pool {load.http_ok} ok, {len(load.http_retried)} retried after a keep-alive close; "
          f"{WEBSOCKETS} WebSockets echoed {load.ws_echoed} messages; tunnel {load.tunnel_echoed} chunks; "
          f"{load.connects} new TCP connections, {load.connect_refused} refused; "
          f"UDP {len(load.udp_sent)} sent, {len(lost)} lost {lost[:8]}; slowest pool request "
          f"{load.http_max_s:.3f}s, slowest new connection {load.connect_max_s:.3f}s; RSS old/new lb {checks['rss_mib']} MiB; old lb exited "
          f"{old_exit_s:.2f}s after its tunnels closed")

    # wrk on keep-alive connections: every request answered 2xx, no connect refused.
    assert requests > 500, checks["wrk"]
    assert non2xx == 0, checks["wrk"]
    assert socket_errors["connect"] == 0, checks["wrk"]
    assert socket_errors["timeout"] == 0, checks["wrk"]
    assert socket_errors["write"] == 0, checks["wrk"]
    # wrk counts a keep-alive connection closed between two requests as a
    # read error (wrk.c, socket_readable: EOF before a response). After a
    # hand-over the old lb answers each idle connection's next request with
    # Connection: close instead of closing it under the client: none.
    assert socket_errors["read"] == 0, checks["wrk"]
    # The pool: no failure; a retry only for a request lb never read (no
    # access log line for that try), only at the hand-over.
    assert load.http_failures == [], load.http_failures[:10]
    assert load.http_ok > 50
    logged = {entry.get("url") for entry in lb.access_entries()}
    assert not [path for path, _ in load.http_retried if path in logged], "a retried request had been served"
    assert load.http_retried == [], [(path, at - load.handover_at) for path, at in load.http_retried]
    # WebSockets and the tunnel: every message echoed, none closed by lb.
    assert load.ws_failures == [], load.ws_failures[:10]
    assert checks["ws_open"] == WEBSOCKETS
    assert checks["close_codes"] == {1000}
    assert load.tunnel_failures == []
    # New TCP connections: none refused, all echoed.
    assert load.connect_refused == 0
    assert load.connect_failures == [], load.connect_failures[:10]
    # UDP: no ICMP refusal (the flows' sockets are connected, so one would
    # show). A datagram may be lost only at the hand-over, where the old lb
    # ends its flows (README): a reply its target sends to a flow socket the
    # old lb has just closed has nowhere to go. At most the one each flow
    # has in flight then.
    assert load.udp_errors == []
    assert len(lost) <= 4 and all(abs(at) < 1.0 * TIME_SCALE for at, _ in lost), lost
    # Who serves what.
    assert checks["http_owner"] == (200, new_pid)
    assert checks["admin_owner"] == (200, new_pid)
    assert checks["fresh_ws_owner"] == new_pid
    assert checks["fresh_tcp_owner"] == new_pid
    assert checks["tunnel_owner"] == old_pid
    assert checks["old_ws_owners"] == {old_pid}
    assert checks["old_alive_before_close"]
    assert read_pid_file(config["global"]["pid_file"]) == new_pid
    stats = lb.admin_get("/api/v1/stats")
    assert stats["started_unix_s"] >= int(checks["upgrade_started"])
    assert alive(new_pid)
    assert lb.stderr().count("lb stopped") == 1


def test_old_lb_cuts_its_tunnels_at_shutdown_timeout_not_before(start_lb, backends, echo_backends, upgrades,
                                                                tmp_path):
    """A WebSocket and a TCP tunnel that outlive the hand-over keep working on
    the old process until shutdown_timeout, are closed then (not earlier),
    and the old process exits; new ones go to the new process."""
    http_port, tcp_port = free_port(), free_port()
    config = make_config([http_listener(http_port, "web"), tcp_listener(tcp_port, "echo")],
                         [target_group("web", backends[:1]), target_group("echo", echo_backends[:1], protocol="tcp")],
                         pid_file=str(tmp_path / "lb.pid"), shutdown_timeout=dur(2))
    lb = start_lb(config)
    wait_serving_ready(lb)
    ws = WebSocket(http_port)
    tunnel = socket.create_connection((HOST, tcp_port), timeout=10)
    try:
        assert ws.echo("before") == "before"
        tunnel.sendall(b"before")
        assert lbtest.recv_exact(tunnel, 6) == b"before"
        new_pid = upgrades.upgrade(lb)
        handed_at = time.monotonic()
        pids = [lb.pid, new_pid]
        assert owner(ws.sock.getsockname(), http_port, pids) == lb.pid
        assert owner(tunnel.getsockname(), tcp_port, pids) == lb.pid
        # Still working on the old process, well into the drain.
        for i in range(5):
            assert ws.echo(f"draining {i}") == f"draining {i}"
            tunnel.sendall(b"draining %d" % i)
            assert lbtest.recv_exact(tunnel, 10) == b"draining %d" % i
            time.sleep(0.2)
        assert lb.proc.poll() is None
        assert served_by(http_port, pids) == (200, new_pid)
        closed_after = ws.wait_closed(timeout=5 * TIME_SCALE)
        assert closed_after is not None, "the old lb kept the WebSocket past shutdown_timeout"
        assert 1.7 <= time.monotonic() - handed_at <= 2 + 1.5 * TIME_SCALE
        assert lbtest.closed_without_answer(tunnel, timeout=2 * TIME_SCALE)
        assert lb.wait(5 * TIME_SCALE) == 0
    finally:
        ws.close()
        tunnel.close()
    assert served_by(http_port, [new_pid]) == (200, new_pid)


def test_draining_old_lb_still_answers_signals(start_lb, backends, upgrades, tmp_path):
    """The old lb drains a WebSocket for up to shutdown_timeout (30 s here):
    an operator can still reopen its log, is told it takes no upgrade, and
    SIGTERM ends the drain at once."""
    config, port = simple_config(backends, tmp_path, shutdown_timeout="30s")
    lb = start_lb(config)
    wait_serving_ready(lb)
    ws = WebSocket(port)
    try:
        assert ws.echo("one") == "one"
        new_pid = upgrades.upgrade(lb)
        assert ws.echo("draining") == "draining"
        lb.send_signal(signal.SIGUSR1)
        lb.wait_log(r"log files reopened")
        lb.send_signal(signal.SIGUSR2)
        lb.wait_log(r"binary upgrade refused: lb is stopping")
        assert len(re.findall(STARTED, lb.stderr())) == 1
        assert ws.echo("still draining") == "still draining"
        stopped = time.monotonic()
        lb.send_signal(signal.SIGTERM)
        assert lb.wait(3 * TIME_SCALE) == 0, "SIGTERM did not end the old lb's drain"
        assert time.monotonic() - stopped < 2 * TIME_SCALE
        assert ws.wait_closed(timeout=2 * TIME_SCALE) is not None
    finally:
        ws.close()
    assert alive(new_pid)
    assert served_by(port, [new_pid]) == (200, new_pid)


# ---------------------------------------------------------------- 2-4. the new lb fails; the old one serves on


def test_sticky_cookie_and_tls_session_tickets_carry_over(start_lb, backends, upgrades, tls_certs, tmp_path):
    import tlstest
    from test_stickiness import ask, backends_of
    from test_tls_termination import https_listener

    http_port, https_port = free_port(), free_port()
    group = target_group("web", backends, stickiness={"type": "lb_cookie"})
    config = make_config([http_listener(http_port, "web"), https_listener(https_port, "web", [tls_certs.default])],
                         [group], workers=2, pid_file=str(tmp_path / "lb.pid"))
    lb = start_lb(config)
    wait_serving_ready(lb)
    assert "random per-process key" in lb.stderr()   # no sticky_secret_file: the key only lb knows

    target, cookies, _ = ask(http_port)
    cookie = {"LBSTICKY": cookies["LBSTICKY"][0]}
    assert backends_of(http_port, 6, cookie) == {target: 6}
    sessions = {}
    for version in ("-tls1_2", "-tls1_3"):
        sessions[version] = str(tmp_path / f"session{version}.pem")
        first = tlstest.s_client(https_port, args=[version, "-sess_out", sessions[version]])
        assert first.handshake_ok and not first.reused, first

    new_pid = upgrades.upgrade(lb)
    assert lb.wait(10 * TIME_SCALE) == 0    # from here on only the new lb answers
    assert served_by(http_port, [new_pid]) == (200, new_pid)

    assert backends_of(http_port, 10, cookie) == {target: 10}
    assert len(backends_of(http_port, 6)) > 1   # without the cookie: round robin
    for version, path in sessions.items():
        again = tlstest.s_client(https_port, args=[version, "-sess_in", path])
        assert again.reused, (version, again)


# ---------------------------------------------------------------- 6. another worker count

def test_worker_count_changes_serve_every_inherited_socket(start_lb, start_backend, upgrades, tmp_path):
    config, _, http_port, tcp_port, udp_port = three_protocol_config(start_backend, tmp_path)
    lb = start_lb(config)
    wait_serving_ready(lb)
    admin_port = int(config["global"]["admin"]["listen"].rsplit(":", 1)[1])
    assert lbtest.listening_sockets(http_port) == 2

    previous = lb.pid
    for workers in (1, 4, 2):
        config["global"]["workers"] = workers
        lb.write_config(config)
        new_pid = upgrades.upgrade(lb)
        if previous == lb.pid:
            assert lb.wait(10 * TIME_SCALE) == 0
        else:
            assert wait_gone(previous, 10 * TIME_SCALE) == 0
        previous = new_pid

        stats = lb.admin_get("/api/v1/stats")
        assert stats["workers"] == workers
        assert served_by(admin_port, [new_pid], "/api/v1/stats") == (200, new_pid)
        # Connections from 48 source ports (the kernel spreads them over the
        # two sockets of the SO_REUSEPORT group by their hash): all answered.
        for _ in range(48):
            assert served_by(http_port, [new_pid]) == (200, new_pid)
        for i in range(24):
            with socket.create_connection((HOST, tcp_port), timeout=5 * TIME_SCALE) as sock:
                sock.sendall(b"echo %d" % i)
                assert lbtest.recv_exact(sock, len(b"echo %d" % i), timeout=5 * TIME_SCALE) == b"echo %d" % i
        for i in range(24):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.connect((HOST, udp_port))
                sock.settimeout(5 * TIME_SCALE)
                sock.send(b"datagram %d" % i)
                assert sock.recv(100) == b"udp\ndatagram %d" % i
        # The same two kernel sockets all along: none added, none dropped.
        assert lbtest.listening_sockets(http_port) == 2
        assert lbtest.listening_sockets(tcp_port) == 2


# ---------------------------------------------------------------- 7. what an operator can do wrong
