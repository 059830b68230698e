"""TCP listener: a byte pump to tcp targets, round robin, half-close, idle."""

import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import lbtest
from lbtest import closed_without_answer, dur, free_port, make_config, recv_exact, target_group, tcp_listener


@pytest.fixture
def tcp_lb(start_lb, echo_backends):
    """tcp_lb(listener_extra={}, targets=None, args=()) -> (lb, port)."""

    def start(listener_extra=None, targets=None, args=()):
        port = free_port()
        config = make_config(
            [tcp_listener(port, "echo", **(listener_extra or {}))],
            [target_group("echo", echo_backends if targets is None else targets,
                          protocol="tcp")])
        return start_lb(config, args=args), port

    return start


def recv_until_eof(sock, timeout=10):
    sock.settimeout(timeout)
    out = bytearray()
    while data := sock.recv(1 << 20):
        out += data
    return bytes(out)


@pytest.mark.parametrize("workers", [1, 2])
def test_echo_through_lb(tcp_lb, workers):
    _, port = tcp_lb(args=["--workers", str(workers)])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for size in (1, 1000, 300000):
            data = os.urandom(size)
            sock.sendall(data)
            assert recv_exact(sock, size) == data


def settled_accepts(backends):
    """Accept counts once every backend connection has closed: the readiness
    probe's connection may still be on its way through lb."""

    def counts():
        texts = [b.log_text() for b in backends]
        if any(t.count("accept ") != t.count("closed ") for t in texts):
            return None
        return [t.count("accept ") for t in texts]

    previous = None
    while True:
        current = lbtest.wait_for(counts, timeout=5, what="backend connections to close")
        if current == previous:
            return current
        previous = current
        time.sleep(0.2)


def test_round_robin_over_two_echo_backends(tcp_lb, echo_backends):
    _, port = tcp_lb()
    before = settled_accepts(echo_backends)
    for i in range(4):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"ping %d" % i)
            assert recv_exact(sock, len(b"ping %d" % i)) == b"ping %d" % i
    after = settled_accepts(echo_backends)
    assert [a - b for a, b in zip(after, before)] == [2, 2]


def test_forward_to_weighted_groups_splits_connections(start_lb, echo_backends):
    # default_action forwarding to two groups by weight, as http listeners do.
    a, b = echo_backends[:2]
    port = free_port()
    listener = tcp_listener(port, "unused")
    listener["default_action"] = {"forward": {"target_groups": [{"name": "a", "weight": 1},
                                                                {"name": "b", "weight": 3}]}}
    config = make_config([listener], [target_group("a", [a], protocol="tcp"),
                                      target_group("b", [b], protocol="tcp")])
    start_lb(config)
    before = settled_accepts([a, b])
    for i in range(400):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"x")
            assert recv_exact(sock, 1) == b"x"
    after = settled_accepts([a, b])
    got_a, got_b = (x - y for x, y in zip(after, before))
    assert got_a + got_b == 400
    assert 0.18 <= got_a / 400 <= 0.32, (got_a, got_b)  # 25% expected


def test_half_close_propagated(tcp_lb, echo_backends):
    # The client stops sending but must still get every echoed byte, then EOF.
    _, port = tcp_lb(targets=[echo_backends[0]])
    data = os.urandom(8 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        def send():
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.3)  # let the FIN overtake the echo inside lb
        received = recv_until_eof(sock, timeout=20)
        sender.join(10)
    assert len(received) == len(data)
    assert received == data
    lbtest.wait_for(lambda: "half-close" in echo_backends[0].log_text(), timeout=5,
                    what="the backend to see the half-close")


def test_server_close_reaches_client(tcp_lb, start_backend):
    # A target that closes at once: the client sees EOF, not a hang.
    silent = start_backend("closer")  # HTTP backend: closes on a bad request
    _, port = tcp_lb(targets=[silent])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n\r\n")
        data = recv_until_eof(sock, timeout=10)
    assert data.startswith(b"HTTP/1.1 400")


def test_refused_target_closes_client(tcp_lb):
    _, port = tcp_lb(targets=[lbtest.dead_target()])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            assert sock.recv(100) == b""
    except ConnectionResetError:
        # A reset may come so soon that connect() itself reports it (with a
        # timeout Python connects non-blocking and then reads SO_ERROR).
        pass


def test_connect_failure_retried_on_next_target(tcp_lb, echo_backends):
    _, port = tcp_lb(targets=[lbtest.dead_target(), echo_backends[0]])
    for i in range(4):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"try %d" % i)
            assert recv_exact(sock, len(b"try %d" % i)) == b"try %d" % i


def test_idle_timeout_closes_idle_tunnel(tcp_lb):
    _, port = tcp_lb(listener_extra={"idle_timeout": dur(1)})
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"hello")
        assert recv_exact(sock, 5) == b"hello"
        started = time.monotonic()
        try:
            assert recv_until_eof(sock, timeout=8) == b""
        except ConnectionResetError:
            pass
        elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 6, elapsed


def test_active_tunnel_outlives_idle_timeout(tcp_lb):
    _, port = tcp_lb(listener_extra={"idle_timeout": dur(1)})
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < 2.5:
            message = b"tick %d" % i
            sock.sendall(message)
            assert recv_exact(sock, len(message)) == message
            time.sleep(0.3)
            i += 1


def test_many_concurrent_tunnels(tcp_lb):
    _, port = tcp_lb()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(b"conn %d" % i)
        for i, sock in enumerate(socks):
            assert recv_exact(sock, len(b"conn %d" % i)) == b"conn %d" % i
    finally:
        for sock in socks:
            sock.close()


# ---------------------------------------------------------------- splicing

def pipe_descriptors(pid):
    count = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{name}").startswith("pipe:")
        except OSError:
            pass  # closed meanwhile
    return count


def test_both_directions_are_spliced_and_every_byte_arrives(tcp_lb):
    lb, port = tcp_lb(args=["--log-level", "debug"])
    data = os.urandom(4 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sender = threading.Thread(target=sock.sendall, args=(data,))
        sender.start()
        received = recv_exact(sock, len(data))
        sender.join(10)
    assert received == data
    lines = re.findall(r"tcp tunnel \S+ -> \S+: (\w+)", lb.stderr())
    assert lines[-2:] == ["spliced", "spliced"], lines


def test_pipes_are_held_only_while_bytes_are_in_flight(tcp_lb):
    # 40 tunnels whose clients send and do not read (a small receive buffer,
    # so it fills soon): the echoes back up in lb, each such direction
    # holding its pipe. Once the bytes are gone the pipes go back to the
    # pool, which keeps at most 16 (32 descriptors), or are closed.
    lb, port = tcp_lb()
    before = pipe_descriptors(lb.pid)
    block = os.urandom(256 * 1024)
    socks, sent = [], []
    try:
        for _ in range(40):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            socks.append(sock)
            sent.append(0)
        # Send (the echo target buffers what it cannot send back) until lb
        # holds a pipe per stalled direction.
        deadline = time.monotonic() + 20
        while (held := (pipe_descriptors(lb.pid) - before) // 2) < 40 and time.monotonic() < deadline:
            for i, sock in enumerate(socks):
                try:
                    sent[i] += sock.send(block)
                except BlockingIOError:
                    pass
        assert held >= 40, (held, sent)
        # A few read everything back (their pipes drain and go back); the
        # rest close with bytes in flight (theirs are closed with them).
        for i, sock in enumerate(socks[:4]):
            sock.setblocking(True)
            sock.settimeout(20)
            assert len(recv_exact(sock, sent[i])) == sent[i]
    finally:
        for sock in socks:
            sock.close()
    lbtest.wait_for(lambda: pipe_descriptors(lb.pid) - before <= 2 * 16, timeout=10,
                    what="the pipes to go back (at most 16 spare)")


# ---------------------------------------------------------------- socket options and limits

def keepalive_timers(port):
    """ss's timer field for each established socket lb accepted on `port`,
    e.g. "timer:(keepalive,46sec,0)", or "" when it has none."""
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return [next((f for f in line.split() if f.startswith("timer:")), "") for line in out.splitlines()]


def keepalive_seconds(timer):
    """Whole seconds left on an ss keepalive timer with no probe sent yet:
    ss writes "46sec", but "1min" at exactly a minute, "1min5sec" above it
    and "5.123ms" (meaning 5.123 s) under ten. None for anything else."""
    match = re.fullmatch(r"timer:\(keepalive,(?:(\d+)min)?(?:(\d+)(?:sec|\.\d+ms))?(?:\d+ms)?,0\)", timer)
    if not match or not any(match.groups()):
        return None
    minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return minutes * 60 + seconds


def accepted_socket_timers(port, protocol="tcp"):
    """Opens a connection, makes sure lb has taken it up (one echo or one
    request through it), and returns keepalive_timers(port)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if protocol == "tcp":
            sock.sendall(b"x")
            assert recv_exact(sock, 1) == b"x"
        else:
            sock.sendall(lbtest.build_request("GET", "/"))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        return keepalive_timers(port)


@pytest.mark.parametrize("protocol", ["tcp", "http"])
def test_tcp_keepalive_settings_reach_the_client_socket(start_lb, echo_backends, backends, protocol):
    port = free_port()
    group = target_group("g", echo_backends if protocol == "tcp" else backends, protocol=protocol)
    listener = lbtest.http_listener(port, "g", protocol=protocol,
                                    tcp_keepalive={"idle": "47s", "interval": "3s", "count": 2})
    start_lb(make_config([listener], [group]))
    timers = accepted_socket_timers(port, protocol)
    assert len(timers) == 1
    assert 40 <= (keepalive_seconds(timers[0]) or 0) <= 47, timers


def test_tcp_keepalive_can_be_turned_off(tcp_lb):
    _, port = tcp_lb(listener_extra={"tcp_keepalive": {"enabled": False}})
    assert accepted_socket_timers(port) == [""]


def test_reload_changes_keepalive_for_new_connections_and_a_failed_one_does_not(start_lb, echo_backends):
    # The settings live on the listening socket, which a reload keeps.
    port = free_port()
    group = target_group("g", echo_backends, protocol="tcp")

    def config(keepalive, group_name="g"):
        listener = lbtest.http_listener(port, group_name, protocol="tcp", tcp_keepalive=keepalive)
        return make_config([listener], [group])

    def keepalive_within(low, high):
        return low <= (keepalive_seconds(accepted_socket_timers(port)[0]) or 0) <= high

    lb = start_lb(config({"idle": "47s", "interval": "3s", "count": 2}))
    assert keepalive_within(40, 47)
    # Each worker takes the new generation up after "reloaded" is logged.
    lb.reload(config({"idle": "23s", "interval": "3s", "count": 2}))
    lbtest.wait_for(lambda: keepalive_within(16, 23), what="the reloaded keepalive on new connections")
    lb.write_config(config({"idle": "9s", "interval": "3s", "count": 2}, group_name="missing"))
    lb.send_signal(signal.SIGHUP)
    lb.wait_log(r"reload rejected")
    assert keepalive_within(16, 23), "a refused config changed it"
    lb.reload(config({"enabled": False}))
    lbtest.wait_for(lambda: accepted_socket_timers(port) == [""], what="keepalive off on new connections")


def test_default_keepalive_is_60s(tcp_lb):
    _, port = tcp_lb()
    timers = accepted_socket_timers(port)
    assert 50 <= (keepalive_seconds(timers[0]) or 0) <= 60, timers


def served_connection(port):
    """A connection lb tunnels (echo works), or None if lb closed it. Places
    free up a moment after a client closes (lb's readiness probe, say)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"in")
        if recv_exact(sock, 2, timeout=2) == b"in":
            return sock
    except (AssertionError, ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    sock.close()
    return None


def test_listener_max_connections_refuses_the_extra_one(tcp_lb):
    lb, port = tcp_lb(listener_extra={"max_connections": 2}, args=["--workers", "2"])
    first = lbtest.wait_for(lambda: served_connection(port), timeout=5, what="a first connection")
    second = lbtest.wait_for(lambda: served_connection(port), timeout=5, what="a second connection")
    try:
        assert lb.listener_stats("tcp")["connections"]["open"] == 2
        refused = lb.listener_stats("tcp")["connections"]["refused_max_connections"]
        for _ in range(3):  # over both workers: the limit is the listener's, not a worker's
            with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
                assert closed_without_answer(extra)
        assert lb.listener_stats("tcp")["connections"]["refused_max_connections"] == refused + 3
        assert lbtest.metric(lb.admin_get("/metrics"), "lb_listener_connections_refused_total", listener="tcp",
                             reason="max_connections") == refused + 3
        first.close()
        # A closed connection gives its place back.
        third = lbtest.wait_for(lambda: served_connection(port), timeout=5, what="a connection after one closed")
        third.close()
        second.sendall(b"still")
        assert recv_exact(second, 5) == b"still"
    finally:
        first.close()
        second.close()
