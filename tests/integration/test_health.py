"""Active health checks and routing by health (README, "Health checks"):
thresholds, initial targets, fail open, the passive signal, pooled
connections of unhealthy targets, check options, and carry-over on reload.

Target states are read from lb's log ("target group G: target A:P is
healthy|unhealthy"), which the checker writes on every transition."""

import re
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timezone

import pytest

import lbtest
from lbtest import (TIME_SCALE, HttpConn, backend_of, free_port, health_check, http_listener, make_config,
                    target_group, tcp_listener)


def key(backend):
    return f"127.0.0.1:{backend.port}"


def wait_state(lb, target_key, state, timeout=10, count=1):
    return lb.wait_log(rf"target {re.escape(target_key)} is {state}(?!\w)", timeout=timeout, count=count)


def checked_config(targets, check=None, workers=1, **group_extra):
    port = free_port()
    group = target_group("web", targets, health_check=check or health_check(), **group_extra)
    return make_config([http_listener(port, "web")], [group], workers=workers), port


def spread(port, n):
    """Backends that answered n requests, counted (None = not a 200)."""
    return Counter(backend_of(port) for _ in range(n))


def log_time(match_or_line):
    """Wall-clock time (epoch seconds) of an lb log line."""
    text = match_or_line if isinstance(match_or_line, str) else \
        match_or_line.string[match_or_line.string.rfind("\n", 0, match_or_line.start()) + 1:]
    stamp = text[:24]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


# ---------------------------------------------------------------- thresholds

def test_flipped_health_endpoint_takes_target_out_and_back(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = checked_config([b1, b2])
    lb = start_lb(config)
    wait_state(lb, key(b1), "healthy")
    wait_state(lb, key(b2), "healthy")
    assert set(spread(port, 10)) == {"b1", "b2"}

    b2.set_health(False)
    flipped = time.monotonic()
    wait_state(lb, key(b2), "unhealthy")
    down_after = time.monotonic() - flipped
    # unhealthy_threshold (2) failed checks one interval (1s) apart.
    assert 0.8 <= down_after <= 4 * TIME_SCALE, down_after
    assert spread(port, 20) == Counter({"b1": 20})

    b2.set_health(True)
    flipped = time.monotonic()
    wait_state(lb, key(b2), "healthy", count=2)
    up_after = time.monotonic() - flipped
    assert 0.8 <= up_after <= 4 * TIME_SCALE, up_after
    assert set(spread(port, 10)) == {"b1", "b2"}


def test_new_target_starts_initial_and_gets_traffic_once_healthy(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = checked_config([b1], health_check(healthy_threshold=3))
    lb = start_lb(config)
    wait_state(lb, key(b1), "healthy")
    config["target_groups"][0]["targets"].append(b2.target)
    before = b2.stats()["requests"]
    lb.reload(config)
    reloaded = time.monotonic()
    # Three passing checks one second apart are two seconds away at least.
    while time.monotonic() - reloaded < 1.5:
        assert backend_of(port) == "b1"
    assert b2.stats()["requests"] == before
    wait_state(lb, key(b2), "healthy")
    assert time.monotonic() - reloaded >= 1.8
    assert "b2" in spread(port, 10)


def test_target_of_unchecked_group_takes_traffic_at_once(start_lb, backends):
    b1, b2 = backends[:2]
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", [b1])])
    lb = start_lb(config)
    config["target_groups"][0]["targets"].append(b2.target)
    lb.reload(config)
    assert set(spread(port, 4)) == {"b1", "b2"}


def test_health_survives_reload(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = checked_config([b1, b2])
    lb = start_lb(config)
    wait_state(lb, key(b1), "healthy")
    b2.set_health(False)
    wait_state(lb, key(b2), "unhealthy")
    lb.reload()
    # Carried over by identity: b2 is still out, b1 still in (were they reset
    # to initial, every target would fail open and b2 would get traffic).
    assert spread(port, 10) == Counter({"b1": 10})


# ---------------------------------------------------------------- fail open

def test_fail_open_when_every_target_is_unhealthy(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = checked_config([b1, b2])
    lb = start_lb(config)
    wait_state(lb, key(b1), "healthy")
    wait_state(lb, key(b2), "healthy")
    b1.set_health(False)
    b2.set_health(False)
    wait_state(lb, key(b1), "unhealthy")
    wait_state(lb, key(b2), "unhealthy")
    assert spread(port, 20) == Counter({"b1": 10, "b2": 10})
    warnings = re.findall(r"target group web: no healthy target \(2 unhealthy.*fail open", lb.stderr())
    assert len(warnings) == 1, warnings  # rate-limited, not one per request


# ---------------------------------------------------------------- passive signal

def test_killed_backend_leaves_rotation_after_unhealthy_threshold_failed_connects(start_lb, start_backend):
    live = [start_backend("k1"), start_backend("k2")]
    victim = start_backend("k3")
    config, port = checked_config(live + [victim])
    lb = start_lb(config, args=["--log-level", "debug"])
    for backend in live + [victim]:
        wait_state(lb, key(backend), "healthy")
    victim.proc.kill()
    victim.proc.wait()
    killed = time.time()
    failed = 0
    for _ in range(30):
        if backend_of(port) is None:
            failed += 1
    # A refused connect is retried on another target, so clients see none.
    assert failed == 0
    marked = wait_state(lb, key(victim), r"unhealthy: 2 connects failed on live traffic",
                        timeout=TIME_SCALE)
    # Marked by live traffic, well before two checks a second apart could.
    assert log_time(marked[0]) - killed < 0.9 * TIME_SCALE
    refused = re.findall(rf"connect to {re.escape(key(victim))} failed", lb.stderr())
    # The threshold, then no more attempts. Failures in a row count active
    # checks too: a check that reached the dead target first leaves one
    # refused connect for live traffic to find (seen under ASan).
    assert 1 <= len(refused) <= 2, refused
    counted = {t["id"]: t["counters"]["connect_failures"] for t in lb.admin_get("/api/v1/target-groups/web")["targets"]}
    assert counted == {key(live[0]): 0, key(live[1]): 0, key(victim): len(refused)}


def test_passive_signal_on_tcp_listener(start_lb, start_backend, echo_backends):
    victim = start_backend("tcp-victim", tcp_echo=True)
    port = free_port()
    check = health_check(protocol="tcp")
    del check["path"]
    group = target_group("echo", [echo_backends[0], victim], protocol="tcp", health_check=check)
    config = make_config([tcp_listener(port, "echo")], [group])
    lb = start_lb(config)
    wait_state(lb, key(echo_backends[0]), "healthy")
    wait_state(lb, key(victim), "healthy")
    victim.stop()
    for _ in range(6):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
    wait_state(lb, key(victim), r"unhealthy: 2 connects failed on live traffic", timeout=TIME_SCALE)


def parse_wrk(output):
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = (int(non2xx.group(1)) if non2xx else 0) + \
        (sum(int(g) for g in errors.groups()) if errors else 0)
    return total, failed


def test_killing_one_of_three_backends_under_wrk_load(start_lb, start_backend):
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed (tools/dev install)")
    live = [start_backend("w1"), start_backend("w2")]
    victim = start_backend("w3")
    config, port = checked_config(live + [victim], workers=2)
    lb = start_lb(config)
    for backend in live + [victim]:
        wait_state(lb, key(backend), "healthy")

    # A prober beside wrk timestamps each of its own requests, so failures
    # can be placed before or after the target left rotation.
    probes = []
    stop = threading.Event()

    def probe():
        conn = None
        while not stop.is_set():
            started = time.time()
            try:
                conn = conn or HttpConn(port, timeout=5)
                conn.request("GET", "/")
                ok = conn.read_response().status == 200
            except (OSError, lbtest.ConnectionClosed, TimeoutError, ValueError):
                ok = False
                conn = None
            probes.append((started, ok))

    prober = threading.Thread(target=probe)
    prober.start()
    wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d5s", f"http://127.0.0.1:{port}/"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(2)
        victim.proc.kill()
        victim.proc.wait()
        output = wrk.communicate(timeout=30)[0]
    finally:
        stop.set()
        prober.join(10)
        if wrk.poll() is None:
            wrk.kill()
    marked = wait_state(lb, key(victim), "unhealthy", timeout=5)
    out_at = log_time(marked[0])
    total, failed = parse_wrk(output)
    late_failures = [t for t, ok in probes if not ok and t > out_at + 0.05]
    print(f"\nwrk: {total} requests, {failed} failed ({100.0 * failed / max(total, 1):.3f}%); "
          f"prober: {len(probes)} requests, {sum(not ok for _, ok in probes)} failed, "
          f"{len(late_failures)} after the target was marked unhealthy")
    assert total > 500, output
    assert failed / total < 0.01, output
    assert late_failures == []


# ---------------------------------------------------------------- pooled connections

def test_unhealthy_target_loses_its_pooled_connections(start_lb, backends):
    b1, b2 = backends[:2]
    config, port = checked_config([b1, b2])
    lb = start_lb(config)
    wait_state(lb, key(b1), "healthy")
    wait_state(lb, key(b2), "healthy")
    spread(port, 6)
    # lb keeps its keep-alive connection to b2 (the +1 is this stats call).
    assert b2.stats()["open_connections"] >= 2
    b2.set_health(False)
    wait_state(lb, key(b2), "unhealthy")
    # Closed well before the pool's 15 s idle expiry.
    lbtest.wait_for(lambda: b2.stats()["open_connections"] == 1, timeout=4 * TIME_SCALE,
                    what="lb to close its pooled connections to the unhealthy target")


# ---------------------------------------------------------------- check options

@pytest.mark.parametrize("path,matcher,healthy", [
    ("/status/302", "200", False),
    ("/status/302", "200-399", True),
    ("/status/204", "200,204", True),
    ("/status/404", "200-399", False),
])
def test_matcher(start_lb, backends, path, matcher, healthy):
    b1 = backends[0]
    config, _ = checked_config([b1], health_check(path=path, matcher=matcher))
    lb = start_lb(config)
    if healthy:
        wait_state(lb, key(b1), "healthy")
    else:
        code = path.rsplit("/", 1)[1]
        wait_state(lb, key(b1),
                   rf"unhealthy: HTTP {code} from {re.escape(path)} \(expected {re.escape(matcher)}\)")


def test_check_timeout(start_lb, backends):
    b1 = backends[0]
    config, _ = checked_config([b1], health_check(path="/delay/2000", timeout="300ms"))
    lb = start_lb(config)
    wait_state(lb, key(b1), r"unhealthy: http check timed out after 300ms")


def test_tcp_check_on_its_own_port(start_lb, backends, start_backend):
    # Traffic goes to b1; its check goes to another port. Only the check
    # port's listener dying makes b1 unhealthy.
    b1 = backends[0]
    check_target = start_backend("check-port", tcp_echo=True)
    check = {"protocol": "tcp", "port": check_target.port, "interval": "1s", "timeout": "500ms",
             "healthy_threshold": 2, "unhealthy_threshold": 2}
    config, port = checked_config([b1], check)
    lb = start_lb(config)
    wait_state(lb, key(b1), "healthy")
    check_target.stop()
    wait_state(lb, key(b1),
               rf"unhealthy: connect to 127\.0\.0\.1:{check_target.port}: Connection refused")
    assert backend_of(port) == "b1"  # the only target: fails open


def test_checks_are_spread_over_the_interval(start_lb, backends):
    # Ten groups checking one listening socket (tcp checks): record when each
    # first check arrives.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    check_port = listener.getsockname()[1]
    accepted = []

    def accept():
        listener.settimeout(0.2)
        while len(accepted) < 10:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            accepted.append(time.monotonic())
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = free_port()
    check = {"protocol": "tcp", "port": check_port, "interval": "4s", "timeout": "1s",
             "healthy_threshold": 2, "unhealthy_threshold": 2}
    groups = [target_group(f"g{i}", [backends[0]], health_check=check) for i in range(10)]
    start_lb(make_config([http_listener(port, "g0")], groups))
    thread.join(10)
    listener.close()
    assert len(accepted) == 10
    # Ten first checks at random points of a 4 s interval, not one burst.
    assert max(accepted) - min(accepted) > 1.0, accepted


def test_https_check_speaks_tls_and_reads_the_status(start_lb, start_backend, tls_certs):
    # A self-signed HTTPS target: the check does not verify (as an ALB's), it
    # proves the target answers GET /health over TLS with a matching status.
    # A plain-HTTP check against the same port could never pass.
    tls_backend = start_backend("tls", tls=(tls_certs.default.cert, tls_certs.default.key))
    check = health_check(protocol="https")
    group = target_group("web", [tls_backend], protocol="https", health_check=check,
                         tls={"verify": False})
    port = free_port()
    lb = start_lb(make_config([http_listener(port, "web")], [group]))
    wait_state(lb, key(tls_backend), "healthy")
    assert tls_backend.stats()["health_checks"] >= 2
    tls_backend.set_health(False)
    wait_state(lb, key(tls_backend), r"unhealthy: HTTP 503 from /health \(expected 200\)")


def test_https_check_fails_on_a_plain_http_port(start_lb, backends):
    b1 = backends[0]
    config, _ = checked_config([b1], health_check(protocol="https"))
    lb = start_lb(config)
    # The plain backend waits for a request head that never comes (or
    # answers the ClientHello with garbage): either way no TLS, no pass.
    wait_state(lb, key(b1), r"unhealthy: (TLS handshake with 127\.0\.0\.1:\d+ failed|https check timed out after 500ms)")
