"""The upstream habits nginx configs rely on (README "Algorithms", "Backup
targets", "Passive health", "Retries"): least_connections over open
WebSockets, hash on a request key, backup targets, max_fails without an
active check, retries on statuses, timeouts and connect failures, and
receive_buffer (README "Receive buffer")."""

import re
import socket
import subprocess

import pytest

import lbtest
from lbtest import HOST, HttpConn, free_port, http_listener, make_config, target_group, wait_for


def ws_open(port, path="/ws"):
    """An open WebSocket through lb (the echo's 101 read); returns the
    connection and the backend that took it."""
    conn = HttpConn(port)
    conn.request("GET", path, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                               ("Sec-WebSocket-Version", "13")])
    response = conn.read_response()
    assert response.status == 101
    return conn, response.header("X-Backend")


def group_targets(lb, name):
    return {t["id"]: t for t in lb.admin_get(f"/api/v1/target-groups/{name}")["targets"]}


# ---------------------------------------------------------------- least_connections

@pytest.mark.parametrize("algorithm,new_target_takes_all", [("least_connections", True),
                                                            ("least_outstanding_requests", False)])
def test_least_connections_gives_a_new_target_the_new_websockets(start_lb, backends, algorithm,
                                                                   new_target_takes_all):
    """After a scale-out, least_connections sends new WebSockets to the new
    target until it holds its share; least_outstanding_requests cannot see
    open tunnels and keeps rotating."""
    port = free_port()
    config = make_config([http_listener(port, "chat")],
                         [target_group("chat", backends[:2], algorithm=algorithm)])
    lb = start_lb(config)
    held = []
    try:
        for _ in range(6):
            held.append(ws_open(port))
        assert sorted(b for _, b in held) == ["b1", "b1", "b1", "b2", "b2", "b2"]
        config["target_groups"][0]["targets"] = [b.target for b in backends]
        lb.reload(config)
        new = []
        for _ in range(3):
            held.append(ws_open(port))
            new.append(held[-1][1])
        if new_target_takes_all:
            assert new == ["b3", "b3", "b3"]
        else:
            assert new != ["b3", "b3", "b3"]
    finally:
        for conn, _ in held:
            conn.close()


# ---------------------------------------------------------------- hash

def backend_of(port, path="/", headers=(), source=None):
    with HttpConn(port, source=source) as conn:
        conn.request("GET", path, list(headers))
        response = conn.read_response()
        assert response.status == 200
        return response.header("X-Backend")


@pytest.mark.parametrize("key,request_for", [
    ("query:sid", lambda v: (f"/socket.io/?EIO=4&sid={v}", [])),
    ("cookie:io", lambda v: ("/", [("Cookie", f"a=b; io={v}")])),
    ("header:X-User", lambda v: ("/", [("X-User", v)])),
])
def test_hash_key_keeps_each_key_on_one_target_and_spreads_keys(start_lb, backends, key, request_for):
    port = free_port()
    config = make_config([http_listener(port, "app")],
                         [target_group("app", backends, algorithm="hash", hash_key=key)])
    start_lb(config)
    chosen = {}
    for value in [f"k{i}" for i in range(24)]:
        path, headers = request_for(value)
        seen = {backend_of(port, path if "socket.io" not in path else "/?" + path.split("?", 1)[1], headers)
                for _ in range(3)}
        assert len(seen) == 1, (value, seen)
        chosen[value] = seen.pop()
    # 24 keys over 3 targets: every target gets some (a miss is ~3 * (2/3)^24).
    assert set(chosen.values()) == {"b1", "b2", "b3"}


def test_hash_without_the_key_goes_round_robin(start_lb, backends):
    port = free_port()
    config = make_config([http_listener(port, "app")],
                         [target_group("app", backends, algorithm="hash", hash_key="cookie:io")])
    start_lb(config)
    seen = [backend_of(port, "/") for _ in range(6)]
    assert sorted(seen) == ["b1", "b1", "b2", "b2", "b3", "b3"], seen


def test_hash_client_ip_prefix_groups_a_subnet(start_lb, backends):
    """client_ip/24 (nginx ip_hash): every 127.0.0.x lands on one target;
    whole addresses spread."""
    port = free_port()
    config = make_config([http_listener(port, "app", listen=f"0.0.0.0:{port}")],
                         [target_group("app", backends, algorithm="hash", hash_key="client_ip/24")])
    start_lb(config, ready_ports=[port])
    sources = [f"127.0.0.{i}" for i in range(1, 13)]
    assert len({backend_of(port, source=s) for s in sources}) == 1
    config["target_groups"][0]["hash_key"] = "client_ip"
    port2 = free_port()
    config2 = make_config([http_listener(port2, "app", listen=f"0.0.0.0:{port2}")],
                          [target_group("app", backends, algorithm="hash", hash_key="client_ip")])
    start_lb(config2, ready_ports=[port2])
    assert len({backend_of(port2, source=s) for s in sources}) > 1


# ---------------------------------------------------------------- backup

def test_backup_serves_only_while_no_primary_can(start_lb, backends):
    port = free_port()
    b1, b2, b3 = backends
    targets = [b1.target, b2.target, dict(b3.target, backup=True)]
    config = make_config([http_listener(port, "app")],
                         [target_group("app", targets, health_check=lbtest.health_check())])
    lb = start_lb(config)
    wait_for(lambda: all(t["state"] == "healthy" for t in group_targets(lb, "app").values()),
             timeout=10, what="targets healthy")
    assert {backend_of(port) for _ in range(8)} == {"b1", "b2"}
    b1.set_health(False)
    b2.set_health(False)
    wait_for(lambda: backend_of(port) == "b3", timeout=10, what="the backup to take over")
    assert {backend_of(port) for _ in range(6)} == {"b3"}
    b2.set_health(True)
    wait_for(lambda: backend_of(port) == "b2", timeout=10, what="a primary back")
    assert {backend_of(port) for _ in range(6)} == {"b2"}


# ---------------------------------------------------------------- passive health

def test_max_fails_takes_a_target_out_for_fail_timeout_without_a_check(start_lb, backends):
    port = free_port()
    dead = lbtest.dead_target()
    config = make_config([http_listener(port, "app")],
                         [target_group("app", [dead, backends[0].target], retry_on=[],
                                       passive_health={"max_fails": 2, "fail_timeout": "3s"})])
    lb = start_lb(config)
    statuses = []
    while statuses.count(502) < 2:
        statuses.append(lbtest.get(port, "/").status)
        assert len(statuses) < 10, statuses
    dead_id = f"{dead['address']}:{dead['port']}"
    assert group_targets(lb, "app")[dead_id]["passive_out_ms"] > 0
    metrics = lb.admin_get("/metrics")
    assert lbtest.metric(metrics, "lb_target_passive_out", target_group="app", target=dead_id) == 1
    assert [lbtest.get(port, "/").status for _ in range(8)] == [200] * 8
    # After fail_timeout the target gets traffic again (and fails again).
    wait_for(lambda: lbtest.get(port, "/").status == 502, timeout=10, what="the target back in rotation")
    lb.wait_log(r"target .* is out of rotation for 3000 ms: 2 tries failed", timeout=1)


# ---------------------------------------------------------------- retries

def app_with(backends, port, **group):
    return make_config([http_listener(port, "app")], [target_group("app", backends, **group)])


def statuses(port, path, method="GET", count=8):
    out = []
    for _ in range(count):
        with HttpConn(port) as conn:
            conn.request(method, path, [("Content-Length", "0")] if method == "POST" else [])
            out.append(conn.read_response().status)
    return out


def test_retry_on_status_hides_a_failing_target(start_lb, backends):
    b1, b2, _ = backends
    b1.set_health(False)  # b1's /health answers 503
    port = free_port()
    lb = start_lb(app_with([b1, b2], port, retry_on=["connect_failure", 503]))
    assert statuses(port, "/health") == [200] * 8
    b1_id = f"{b1.target['address']}:{b1.target['port']}"
    assert group_targets(lb, "app")[b1_id]["counters"]["retries"] >= 4
    # Not idempotent: sent once, the 503 is the answer.
    assert 503 in statuses(port, "/health", method="POST")


def test_retry_non_idempotent_retries_post(start_lb, backends):
    b1, b2, _ = backends
    b1.set_health(False)
    port = free_port()
    start_lb(app_with([b1, b2], port, retry_on=[503], retry_non_idempotent=True))
    assert statuses(port, "/health", method="POST") == [200] * 8


def test_without_retry_on_the_status_passes(start_lb, backends):
    b1, b2, _ = backends
    b1.set_health(False)
    port = free_port()
    start_lb(app_with([b1, b2], port))
    assert sorted(statuses(port, "/health")) == [200] * 4 + [503] * 4


def test_last_try_answer_is_passed_on(start_lb, backends):
    b1, b2, _ = backends
    b1.set_health(False)
    b2.set_health(False)
    port = free_port()
    start_lb(app_with([b1, b2], port, retry_on=[503]))
    assert statuses(port, "/health", count=4) == [503] * 4


def test_retry_on_timeout(start_lb, backends, raw_backend):
    hang = raw_backend(echo=False)  # accepts, never answers
    port = free_port()
    start_lb(app_with([hang.target, backends[0].target], port, response_timeout="300ms",
                      retry_on=["connect_failure", "timeout"]))
    assert statuses(port, "/", count=4) == [200] * 4
    port2 = free_port()
    start_lb(app_with([hang.target, backends[0].target], port2, response_timeout="300ms"))
    assert sorted(statuses(port2, "/", count=4)) == [200, 200, 504, 504]


def test_connect_failures_and_retry_tries(start_lb, backends):
    dead = [lbtest.dead_target() for _ in range(3)]
    port = free_port()
    start_lb(app_with(dead + [backends[0].target], port))   # default: 3 tries
    assert 502 in statuses(port, "/", count=8)
    port2 = free_port()
    start_lb(app_with(dead + [backends[0].target], port2, retry_tries=4))
    assert statuses(port2, "/", count=8) == [200] * 8
    port3 = free_port()
    start_lb(app_with([dead[0], backends[0].target], port3, retry_on=[]))
    assert sorted(statuses(port3, "/", count=4)) == [200, 200, 502, 502]


def test_retry_timeout_budget_stops_retrying(start_lb, backends, raw_backend):
    hang = raw_backend(echo=False)
    port = free_port()
    # The first try's timeout uses up the whole budget: no second try.
    start_lb(app_with([hang.target, backends[0].target], port, response_timeout="400ms",
                      retry_on=["timeout"], retry_timeout="300ms"))
    assert sorted(statuses(port, "/", count=4)) == [200, 200, 504, 504]


def test_tcp_group_without_connect_failure_does_not_retry(start_lb, echo_backends):
    dead = lbtest.dead_target()
    port = free_port()
    config = make_config([lbtest.tcp_listener(port, "t")],
                         [target_group("t", [dead, echo_backends[0].target], protocol="tcp", retry_on=[])])
    start_lb(config)
    outcomes = []
    for _ in range(4):
        # lb resets the client when its one try failed; that may show at
        # connect, send or receive.
        try:
            with socket.create_connection((HOST, port), timeout=5) as sock:
                sock.sendall(b"ping\n")
                outcomes.append(sock.recv(100) != b"")
        except OSError:
            outcomes.append(False)
    assert sorted(outcomes) == [False, False, True, True]


def test_retry_resends_the_whole_body(start_lb, backends, raw_backend):
    """A PUT whose first target never answers reaches the next one with its
    whole body (lb keeps up to 64 KiB of it for a retry)."""
    hang = raw_backend(echo=False)
    port = free_port()
    start_lb(app_with([hang.target, backends[0].target], port, response_timeout="500ms",
                      retry_on=["timeout"]))
    body = bytes(i % 251 for i in range(48 * 1024))
    for _ in range(2):  # one of the two starts on the silent target
        with HttpConn(port) as conn:
            conn.request("PUT", "/upload", [("Content-Length", str(len(body)))], body)
            response = conn.read_response()
        assert response.status == 200
        assert response.json()["body_len"] == len(body)
    assert hang.count() >= 1


def test_status_retry_drops_a_broken_answer_at_its_head(start_lb, backends):
    """A target that answers 503 announcing a body it never sends: the
    retry happens at the head, so the client gets the next target's answer
    (without the retry it would get the 503 and a body cut at
    response_timeout)."""
    from scripted_backend import ScriptedBackend
    broken = ScriptedBackend(lambda request: b"HTTP/1.1 503 Busy\r\nContent-Length: 100000\r\n\r\nonly this")
    try:
        port = free_port()
        start_lb(app_with([broken.target, backends[0].target], port, retry_on=[503], response_timeout="30s"))
        assert statuses(port, "/", count=4) == [200] * 4
        assert len(broken.requests_for("/")) >= 1
    finally:
        broken.close()


# ---------------------------------------------------------------- receive_buffer

def target_receive_buffers(target_port):
    """The kernel receive buffer (ss's skmem rb) of every established
    connection to target_port: lb's connections to that target (nothing
    else connects to it in these tests)."""
    out = subprocess.run(["ss", "-tmnH", "state", "established", f"( dport = :{target_port} )"],
                         capture_output=True, text=True, check=True).stdout
    return [int(rb) for rb in re.findall(r"skmem:\([^)]*\brb(\d+)", out)]


def default_receive_buffer():
    """tcp_rmem's default: a new socket's buffer before autotuning grows it."""
    with open("/proc/sys/net/ipv4/tcp_rmem") as f:
        return int(f.read().split()[1])


@pytest.mark.parametrize("protocol", ["http", "tcp"])
def test_receive_buffer_is_set_on_target_connections(start_lb, backends, echo_backends, protocol):
    """receive_buffer: 48k gives lb's connections to targets SO_RCVBUF 48k
    (the kernel shows it doubled, 96k); without it they keep the kernel's
    autotuned buffer, which starts at tcp_rmem's default."""
    target = (backends if protocol == "http" else echo_backends)[0]
    listener = http_listener if protocol == "http" else lbtest.tcp_listener
    for receive_buffer, check in (("48k", lambda rb: rb == 2 * 48 * 1024),
                                  (None, lambda rb: rb >= default_receive_buffer() and rb != 2 * 48 * 1024)):
        port = free_port()
        extra = {"receive_buffer": receive_buffer} if receive_buffer else {}
        lb = start_lb(make_config([listener(port, "g")], [target_group("g", [target.target], protocol=protocol,
                                                                              **extra)]))
        with socket.create_connection((HOST, port), timeout=5) as client:
            if protocol == "http":
                client.sendall(b"GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n")
                assert client.recv(4096).startswith(b"HTTP/1.1 200")
            else:
                client.sendall(b"ping\n")
                assert client.recv(100) == b"ping\n"
            # The http connection is pooled after the response, the tcp one
            # held by the open client: either way it is there to look at.
            buffers = target_receive_buffers(target.port)
            assert buffers and all(check(rb) for rb in buffers), (receive_buffer, buffers)
        lb.stop()
