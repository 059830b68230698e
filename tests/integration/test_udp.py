"""UDP listeners (NLB-style): each client address:port is a flow that keeps
the target the group's algorithm gave it, with its own connected socket to
that target; replies go back to the client from the listener's address.
Flows expire after udp.idle_timeout; at most udp.max_flows per worker, the
least recently used dropped first. A target that answers ICMP port
unreachable, or turns unhealthy, loses its flows to the others.

The backends (backend.py --udp-echo) answer each datagram with
b"NAME\\n" + datagram, and count the distinct source address:port pairs they
saw (udp_peers): one per flow lb opened to them."""

import contextlib
import json
import os
import socket
import time

import pytest

import lbtest
from lbtest import HOST, free_port, make_config, target_group, wait_for


def udp_listener(port, group="udp", host=HOST, **extra):
    listener = {"name": "udp", "protocol": "udp", "listen": f"{host}:{port}"}
    listener.update(extra)
    listener["default_action"] = {"forward": {"target_group": group}}
    return listener


@contextlib.contextmanager
def udp_clients(n):
    """n client sockets, closed afterwards."""
    socks = [client() for _ in range(n)]
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def client(host=HOST):
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    return sock


def exchange(sock, port, payload, host=HOST, timeout=2.0):
    """Sends one datagram to lb and returns (backend name, echoed payload, source
    address of the reply), or None if no reply came within `timeout`."""
    sock.sendto(payload, (host, port))
    sock.settimeout(timeout)
    try:
        data, source = sock.recvfrom(70000)
    except socket.timeout:
        return None
    name, _, echoed = data.partition(b"\n")
    return name.decode(), echoed, source[:2]


def exchange_retrying(sock, port, payload, host=HOST, tries=20, timeout=0.5):
    """exchange() until an answer comes (datagrams may be lost, e.g. the one
    that found a target gone)."""
    for _ in range(tries):
        answer = exchange(sock, port, payload, host, timeout)
        if answer:
            return answer
    raise AssertionError(f"no UDP answer from lb on {host}:{port} after {tries} tries")


@pytest.fixture
def udp_backends(start_backend):
    """udp_backends(n, names=None) -> n backend.py processes with --udp-echo."""
    def start(n=3, names=None):
        names = names or [f"u{i + 1}" for i in range(n)]
        return [start_backend(name, udp_echo=True) for name in names]
    return start


@pytest.fixture
def udp_lb(start_lb):
    """udp_lb(targets, workers=1, listener_extra=None, group_extra=None) -> (lb, port);
    returns once a datagram makes it through."""
    def start(targets, workers=1, listener_extra=None, group_extra=None, host=HOST):
        port = free_port()
        config = make_config([udp_listener(port, host=host, **(listener_extra or {}))],
                             [target_group("udp", targets, protocol="udp", **(group_extra or {}))],
                             workers=workers)
        lb = start_lb(config, ready_ports=[])
        probe_host = {"0.0.0.0": HOST, "[::1]": "::1"}.get(host, host)
        with client(probe_host) as probe:
            exchange_retrying(probe, port, b"ready", host=probe_host)
        return lb, port
    return start


def peers(backends):
    return {b.name: b.stats()["udp_peers"] for b in backends}


def flows(lb):
    """The udp listener's flows in the admin API's stats: open now, created,
    evicted, expired, target_refused."""
    return lb.listener_stats("udp")["flows"]


@pytest.mark.parametrize("workers", [1, 2])
def test_many_clients_each_stay_on_one_target_and_get_their_own_replies(udp_lb, udp_backends, workers):
    backends = udp_backends(3)
    lb, port = udp_lb(backends, workers=workers)
    before = sum(peers(backends).values())
    with udp_clients(40) as clients:
        seen = {}
        for round_ in range(5):
            for i, sock in enumerate(clients):
                payload = b"client %d round %d " % (i, round_) + os.urandom(16)
                name, echoed, _ = exchange_retrying(sock, port, payload)
                assert echoed == payload  # this client's own datagram came back to it
                assert seen.setdefault(i, name) == name  # always the same target
        assert len(set(seen.values())) == 3  # round robin spread the flows
        # One connected socket per flow at the targets: 40 new flows, no more.
        assert sum(peers(backends).values()) - before == 40
        assert flows(lb)["open"] == 41  # and lb's readiness probe


def test_source_ip_hash_keeps_a_clients_flows_together(udp_lb, udp_backends):
    backends = udp_backends(3)
    _, port = udp_lb(backends, group_extra={"algorithm": "source_ip_hash"})
    placement = {}
    for last in range(1, 31):
        ip = f"127.0.0.{last}"
        names = set()
        for _ in range(3):  # three flows (ports) from the same address
            with client(ip) as sock:
                names.add(exchange_retrying(sock, port, b"hi")[0])
        assert len(names) == 1, (ip, names)
        placement[ip] = names.pop()
    assert len(set(placement.values())) >= 2


@pytest.mark.parametrize("size", [1, 1400, 60 * 1024, 65507 - 3])
def test_datagram_sizes_round_trip_intact(udp_lb, udp_backends, size):
    backends = udp_backends(1)
    _, port = udp_lb(backends)
    payload = os.urandom(size)  # 65507 is IPv4's largest; the echo adds b"u1\n"
    with client() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        name, echoed, _ = exchange_retrying(sock, port, payload)
    assert (name, len(echoed)) == ("u1", size)
    assert echoed == payload


def test_empty_datagrams_pass_both_ways(udp_lb, udp_backends):
    backends = udp_backends(1)
    _, port = udp_lb(backends)
    with client() as sock:
        assert exchange_retrying(sock, port, b"")[:2] == ("u1", b"")   # client to target: empty
        sock.settimeout(2)
        sock.sendto(b"empty please", (HOST, port))
        data, _ = sock.recvfrom(100)                                     # target to client: empty
        assert data == b""
        assert exchange_retrying(sock, port, b"still here")[:2] == ("u1", b"still here")


def test_flows_expire_after_idle_timeout(udp_lb, udp_backends):
    backends = udp_backends(1)
    lb, port = udp_lb(backends, listener_extra={"udp": {"idle_timeout": "1s"}})
    wait_for(lambda: flows(lb)["open"] == 0, timeout=5, what="the readiness probe's flow to expire")
    expired = flows(lb)["expired"]
    with client() as sock:
        exchange_retrying(sock, port, b"one")
        assert flows(lb)["open"] == 1
        opened = peers(backends)["u1"]
        time.sleep(0.5)
        exchange_retrying(sock, port, b"two")  # activity keeps the flow
        assert peers(backends)["u1"] == opened
        started = time.monotonic()
        wait_for(lambda: flows(lb)["open"] == 0, timeout=5, what="the flow to expire")
        assert 0.7 <= time.monotonic() - started < 3
        assert flows(lb)["expired"] == expired + 1
        # The next datagram opens a new flow: a new socket at the target.
        exchange_retrying(sock, port, b"three")
        assert peers(backends)["u1"] == opened + 1
        client_port = sock.getsockname()[1]

    def logged():
        for line in lb.stdout().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("protocol") == "udp" and entry.get("client_port") == client_port:
                return entry
        return None
    entry = wait_for(logged, timeout=5, what="the expired flow's access log line")
    assert (entry["bytes_in"], entry["bytes_out"]) == (6, 6 + 2 * len(b"u1\n"))
    assert entry["target_group"] == "udp"


def test_max_flows_evicts_the_least_recently_used(udp_lb, udp_backends):
    backends = udp_backends(1)
    lb, port = udp_lb(backends, listener_extra={"udp": {"max_flows": 2}})
    with udp_clients(3) as (a, b, c):
        exchange_retrying(a, port, b"a")   # may evict the readiness probe's flow
        exchange_retrying(b, port, b"b")
        evicted = flows(lb)["evicted"]
        exchange_retrying(a, port, b"a")   # a is now the most recent, b the oldest
        before = peers(backends)["u1"]
        exchange_retrying(c, port, b"c")   # evicts b
        assert flows(lb)["evicted"] == evicted + 1
        assert flows(lb)["open"] == 2
        assert peers(backends)["u1"] == before + 1
        exchange_retrying(a, port, b"a")   # kept its flow: no new socket
        assert peers(backends)["u1"] == before + 1
        exchange_retrying(b, port, b"b")   # lost it: a new flow (and evicts c)
        assert peers(backends)["u1"] == before + 2
        assert flows(lb)["evicted"] == evicted + 2


def test_killed_target_loses_its_flows_to_the_others(udp_lb, udp_backends):
    backends = udp_backends(2)
    lb, port = udp_lb(backends)
    with udp_clients(10) as clients:
        placement = [exchange_retrying(sock, port, b"first")[0] for sock in clients]
        assert set(placement) == {"u1", "u2"}
        backends[0].stop()  # u1's port now answers ICMP port unreachable
        for sock, was in zip(clients, placement):
            name, echoed, _ = exchange_retrying(sock, port, b"after")
            assert (name, echoed) == ("u2", b"after")
            # and it stays there
            assert exchange_retrying(sock, port, b"again")[0] == "u2"
        refused = flows(lb)["target_refused"]
        assert refused >= placement.count("u1")
        # Each refusal is a connect failure of that target, none of the other's.
        counters = {t["port"]: t["counters"]["connect_failures"]
                    for t in lb.admin_get("/api/v1/target-groups/udp")["targets"]}
        assert counters == {backends[0].port: refused, backends[1].port: 0}


def test_replies_leave_from_the_address_the_client_used(udp_lb, udp_backends):
    backends = udp_backends(1)
    _, port = udp_lb(backends, host="0.0.0.0")
    for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        with client() as sock:
            _, _, source = exchange_retrying(sock, port, b"where from?", host=address)
        assert source == (address, port)


def test_allow_drops_datagrams_from_other_sources(udp_lb, udp_backends):
    backends = udp_backends(1)
    _, port = udp_lb(backends, listener_extra={"allow": ["127.0.0.1/32"]})
    with client("127.0.0.9") as outsider:
        assert exchange(outsider, port, b"let me in", timeout=1.0) is None
    with client("127.0.0.1") as insider:
        assert exchange_retrying(insider, port, b"hello")[1] == b"hello"
    assert backends[0].stats()["udp_datagrams"] == 2  # the probe's and the insider's


def test_ipv6_clients_reach_ipv4_targets(udp_lb, udp_backends):
    backends = udp_backends(1)
    _, port = udp_lb(backends, host="[::1]")
    with client("::1") as sock:
        name, echoed, source = exchange_retrying(sock, port, b"v6", host="::1")
    assert (name, echoed, source) == ("u1", b"v6", ("::1", port))


# ---------------------------------------------------------------- target health

def target_states(lb, group="udp"):
    return {t["port"]: t["state"] for t in lb.admin_get(f"/api/v1/target-groups/{group}")["targets"]}


def test_unhealthy_target_gets_no_new_flows_and_its_flows_move(udp_lb, udp_backends):
    u1, u2 = udp_backends(2)
    # UDP has no probe of its own: an http check on the traffic port number (TCP).
    lb, port = udp_lb([u1, u2], group_extra={"health_check": lbtest.health_check(protocol="http")})
    wait_for(lambda: set(target_states(lb).values()) == {"healthy"}, timeout=10, what="both targets healthy")
    with udp_clients(10) as clients:
        placement = [exchange_retrying(sock, port, b"before")[0] for sock in clients]
        assert set(placement) == {"u1", "u2"}
        u1.set_health(False)
        wait_for(lambda: target_states(lb)[u1.port] == "unhealthy", timeout=10, what="u1 unhealthy")
        for sock in clients:
            # Moved with the next datagram, which is not lost on the way.
            assert exchange(sock, port, b"after")[:2] == ("u2", b"after")
        for _ in range(10):
            with client() as sock:
                assert exchange_retrying(sock, port, b"new")[0] == "u2"
        u1.set_health(True)
        wait_for(lambda: target_states(lb)[u1.port] == "healthy", timeout=10, what="u1 healthy again")
        names = set()
        for _ in range(10):
            with client() as sock:
                names.add(exchange_retrying(sock, port, b"newer")[0])
        assert names == {"u1", "u2"}


def test_tcp_health_check_on_a_configured_port(udp_lb, udp_backends, start_backend):
    u1, = udp_backends(1)
    checked = start_backend("hc")  # answers TCP where u1's health is asked
    check = {"protocol": "tcp", "port": checked.port, "interval": "1s", "timeout": "500ms",
             "healthy_threshold": 2, "unhealthy_threshold": 2}
    lb, port = udp_lb([u1], group_extra={"health_check": check})
    wait_for(lambda: target_states(lb)[u1.port] == "healthy", timeout=10, what="u1 healthy")
    checked.stop()
    wait_for(lambda: target_states(lb)[u1.port] == "unhealthy", timeout=10, what="u1 unhealthy")
    # Its only target down, the group fails open rather than drop everything.
    with client() as sock:
        assert exchange_retrying(sock, port, b"still")[:2] == ("u1", b"still")


def test_reload_keeps_flows_on_their_targets(udp_lb, udp_backends):
    backends = udp_backends(2)
    lb, port = udp_lb(backends)
    with udp_clients(6) as clients:
        placement = [exchange_retrying(sock, port, b"x")[0] for sock in clients]
        before = peers(backends)
        config = dict(lb.config)
        config["listeners"][0]["udp"] = {"idle_timeout": "30s"}
        lb.reload(config)
        for sock, name in zip(clients, placement):
            assert exchange_retrying(sock, port, b"y")[0] == name
        assert peers(backends) == before  # the same flows, not new ones


def test_deregistered_target_keeps_its_flows_until_the_delay_then_they_move(udp_lb, udp_backends):
    u1, u2 = udp_backends(2)
    lb, port = udp_lb([u1], group_extra={"deregistration_delay": "2s"})
    with client() as sock:
        assert exchange_retrying(sock, port, b"before")[0] == "u1"
        config = dict(lb.config)
        config["target_groups"][0]["targets"] = [u2.target]
        lb.reload(config)
        removed = time.monotonic()
        # Draining: the open flow stays; a new client goes to u2 at once.
        with client() as newcomer:
            assert exchange_retrying(newcomer, port, b"new")[0] == "u2"
        assert exchange_retrying(sock, port, b"during")[0] == "u1"
        time.sleep(max(0.0, removed + 2.5 - time.monotonic()))
        # Cut at the deadline: the same client's next datagram opens a flow on u2.
        assert exchange_retrying(sock, port, b"after")[0] == "u2"


def test_reload_that_points_the_listener_elsewhere_moves_its_flows(udp_lb, udp_backends):
    u1, u2 = udp_backends(2)
    lb, port = udp_lb([u1])
    with client() as sock:
        assert exchange_retrying(sock, port, b"before")[0] == "u1"
        config = dict(lb.config)
        # A new group for the listener; the old one (and its target) leaves the config.
        config["target_groups"] = [target_group("other", [u2], protocol="udp")]
        config["listeners"][0]["default_action"] = {"forward": {"target_group": "other"}}
        lb.reload(config)
        assert exchange_retrying(sock, port, b"after")[0] == "u2"
        assert flows(lb)["open"] == 1
