"""Targets by DNS name and SRV discovery (README "Targets by DNS name"),
against a real DNS server: dnsmasq on a loopback port, its records changed
by the tests while lb runs."""

import collections
import json
import os
import threading
import time

import pytest

import dnstest
import lbtest
from lbtest import HttpConn, wait_for

pytestmark = pytest.mark.skipif(not os.access(dnstest.DNSMASQ, os.X_OK),
                                reason="dnsmasq (dnsmasq-base) is not installed: tools/dev installs it")

IPS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


@pytest.fixture
def loopback_backends(tmp_path):
    """Three backends on one port at 127.0.0.1, .2 and .3: what three A
    records of one name point at."""
    started = []
    for _ in range(20):
        port = lbtest.free_port()
        try:
            for i, ip in enumerate(IPS):
                started.append(lbtest.Backend(f"ip{i + 1}", str(tmp_path), port=port, host=ip))
            break
        except RuntimeError:
            for backend in started:
                backend.stop()
            started = []
    assert started, "no port free on 127.0.0.1-3"
    yield started
    for backend in started:
        backend.stop()


@pytest.fixture
def dns(tmp_path):
    servers = []

    def start(hosts=(), srv=()):
        server = dnstest.Dnsmasq(str(tmp_path), hosts=hosts, srv=srv)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def config_for(dns_server, groups, listeners=None, **global_extra):
    port = lbtest.free_port()
    listeners = listeners or [lbtest.http_listener(port, groups[0]["name"])]
    resolver = {"nameservers": [dns_server.nameserver], "timeout": "300ms", "attempts": 1,
                "min_ttl": "1s", "hold": global_extra.pop("hold", "5m")}
    return lbtest.make_config(listeners, groups, resolver=resolver, **global_extra), listeners[0]["listen"]


def port_of(listen):
    return int(listen.rsplit(":", 1)[1])


def name_group(name, port, **extra):
    group = {"name": "web", "protocol": "http", "algorithm": "round_robin"}
    group.update(extra)
    group["targets"] = [{"address": name, "port": port}]
    return group


def served_by(port, count, path="/"):
    """Which backends answered `count` requests (name -> count)."""
    seen = collections.Counter()
    for _ in range(count):
        response = lbtest.get(port, path)
        assert response.status == 200, response
        seen[response.json()["backend"]] += 1
    return seen


def target_ids(lb, group="web", state=None):
    targets = lb.admin_get(f"/api/v1/target-groups/{group}")["targets"]
    return sorted(t["id"] for t in targets if state is None or t["state"] == state)


def test_three_a_records_are_three_targets(start_lb, dns, loopback_backends):
    port = loopback_backends[0].port
    server = dns(hosts=[(ip, "web.test") for ip in IPS])
    config, listen = config_for(server, [name_group("web.test", port)])
    lb = start_lb(config)
    wait_for(lambda: len(target_ids(lb)) == 3, what="three targets from three A records")
    assert served_by(port_of(listen), 30) == {"ip1": 10, "ip2": 10, "ip3": 10}
    group = lb.admin_get("/api/v1/target-groups/web")
    assert {t["source"] for t in group["targets"]} == {"dns"}
    assert {t["discovered_by"] for t in group["targets"]} == {"web.test"}
    [name] = group["discovery"]
    assert name["name"] == "web.test" and name["type"] == "A/AAAA"
    assert name["answer"] == list(IPS) and name["last_error"] == ""
    assert name["next_lookup_unix_ms"] > name["resolved_at_unix_ms"]
    metrics = lb.admin_get("/metrics")
    assert lbtest.metric(metrics, "lb_dns_lookups_total", result="ok") >= 1
    assert lbtest.metric(metrics, "lb_dns_changes_total") == 1


def test_addresses_lb_cannot_connect_to_are_skipped(start_lb, dns, loopback_backends):
    port = loopback_backends[0].port
    server = dns(hosts=[(IPS[0], "web.test"), ("0.0.0.0", "web.test"), ("224.0.0.1", "web.test")])
    config, listen = config_for(server, [name_group("web.test", port)])
    lb = start_lb(config)
    lb.wait_log(r"dns: A/AAAA web\.test: ")
    wait_for(lambda: target_ids(lb) == [f"{IPS[0]}:{port}"], what="only the usable address")
    assert set(served_by(port_of(listen), 5)) == {"ip1"}


def test_removed_record_drains_then_goes_and_added_record_enters(start_lb, dns, loopback_backends):
    port = loopback_backends[0].port
    server = dns(hosts=[(IPS[0], "web.test"), (IPS[1], "web.test")])
    config, listen = config_for(server, [name_group("web.test", port, deregistration_delay="10s",
                                                    slow_start="60s")])
    lb = start_lb(config)
    wait_for(lambda: len(target_ids(lb)) == 2, what="two targets")
    gone = f"{IPS[1]}:{port}"

    # A slow request in flight on the target whose record goes away.
    answers = {}

    def slow_request():
        with HttpConn(port_of(listen)) as conn:
            while True:
                conn.request("GET", "/delay/2500")
                response = conn.read_response()
                assert response.status == 200, response
                if response.json()["backend"] == "ip2":
                    answers["slow"] = response
                    return

    slow = threading.Thread(target=slow_request)
    slow.start()
    wait_for(lambda: loopback_backends[1].stats()["requests"] > 0, timeout=10, what="a request in flight on ip2")
    server.set_hosts([(IPS[0], "web.test"), (IPS[2], "web.test")])
    wait_for(lambda: gone in target_ids(lb, state="draining"), timeout=10, what="ip2 draining")
    # The new address came in; while ip2 drains, new requests avoid it.
    wait_for(lambda: f"{IPS[2]}:{port}" in target_ids(lb), what="ip3 registered")
    # It entered as a new registration does: ramping up under slow start,
    # behind ip1, which has been in service for longer.
    targets = {t["id"]: t for t in lb.admin_get("/api/v1/target-groups/web")["targets"]}
    assert 0 <= targets[f"{IPS[2]}:{port}"]["slow_start_share"] < targets[f"{IPS[0]}:{port}"].get(
        "slow_start_share", 1)
    assert "ip2" not in served_by(port_of(listen), 10)
    slow.join(10)
    assert answers["slow"].status == 200
    wait_for(lambda: gone not in target_ids(lb), timeout=10, what="ip2 removed once drained")
    lb.wait_log(r"dns: A/AAAA web\.test: 127\.0\.0\.1, 127\.0\.0\.3 \(was 127\.0\.0\.1, 127\.0\.0\.2\)")


def test_dns_down_keeps_the_last_answer(start_lb, dns, loopback_backends):
    port = loopback_backends[0].port
    server = dns(hosts=[(IPS[0], "web.test"), (IPS[1], "web.test")])
    config, listen = config_for(server, [name_group("web.test", port)], hold="1s")
    lb = start_lb(config)
    wait_for(lambda: len(target_ids(lb)) == 2, what="two targets")
    server.stop()
    lb.wait_log(r"dns: A/AAAA web\.test: lookup failed: .*; keeping the last answer", timeout=10)
    # Well past hold: a server that does not answer says nothing about the name.
    wait_for(lambda: lb.admin_get("/api/v1/target-groups/web")["discovery"][0]["last_error"].startswith(
        "lookup failed"), what="the error shown")
    assert set(served_by(port_of(listen), 10)) == {"ip1", "ip2"}
    assert len(target_ids(lb)) == 2
    assert lbtest.metric(lb.admin_get("/metrics"), "lb_dns_lookups_total", result="failed") >= 1


def test_rejected_reload_keeps_what_dns_said(start_lb, dns, loopback_backends):
    port = loopback_backends[0].port
    server = dns(hosts=[(IPS[0], "web.test"), (IPS[1], "web.test")])
    static = lbtest.target_group("static", [loopback_backends[0]])
    config, listen = config_for(server, [name_group("web.test", port), static])
    lb = start_lb(config)
    wait_for(lambda: len(target_ids(lb)) == 2, what="two targets")
    server.stop()
    lb.wait_log(r"dns: A/AAAA web\.test: lookup failed")
    # A config that loads (it names another host) but cannot be applied: its
    # new listener's address is taken.
    rejected = json.loads(json.dumps(config))
    rejected["target_groups"][0]["targets"] = [{"address": "other.test", "port": port}]
    rejected["listeners"].append(lbtest.http_listener(port, "static", name="taken"))
    lb.write_config(rejected)
    lb.send_signal(lbtest.signal.SIGHUP)
    lb.wait_log(r"reload rejected")
    failures = lbtest.metric(lb.admin_get("/metrics"), "lb_dns_lookups_total", result="failed")
    wait_for(lambda: lbtest.metric(lb.admin_get("/metrics"), "lb_dns_lookups_total", result="failed") > failures,
             timeout=10, what="a lookup after the rejected reload")
    # Any rebuild now (an admin API change elsewhere) keeps the last answer.
    host, admin_port = config["global"]["admin"]["listen"].rsplit(":", 1)
    with HttpConn(int(admin_port), host=host) as conn:
        conn.request("POST", "/api/v1/target-groups/static/targets",
                     body=f'{{"address": "{IPS[1]}", "port": {port}}}'.encode(),
                     headers=[("Content-Type", "application/json")])
        assert conn.read_response().status == 201
    assert target_ids(lb, state="unused") == sorted(f"{ip}:{port}" for ip in IPS[:2])
    assert set(served_by(port_of(listen), 6)) == {"ip1", "ip2"}


def test_nxdomain_empties_the_name_only_after_hold(start_lb, dns, loopback_backends):
    port = loopback_backends[0].port
    server = dns(hosts=[(IPS[0], "web.test")])
    config, listen = config_for(server, [name_group("web.test", port, deregistration_delay="0s")], hold="3s")
    lb = start_lb(config)
    wait_for(lambda: len(target_ids(lb)) == 1, what="one target")
    server.set_hosts([(IPS[1], "other.test")])
    lb.wait_log(r"dns: A/AAAA web\.test: no such name", timeout=10)
    assert lbtest.get(port_of(listen)).status == 200  # still held
    lb.wait_log(r"dns: A/AAAA web\.test: gone for 3s \(resolver\.hold\)", timeout=15)
    wait_for(lambda: target_ids(lb) == [], what="the target removed")
    assert lbtest.get(port_of(listen)).status == 503
    # Gone for good: looked up again with back-off, not in a tight loop.
    failed = lbtest.metric(lb.admin_get("/metrics"), "lb_dns_lookups_total", result="failed")
    wait_for(lambda: lbtest.metric(lb.admin_get("/metrics"), "lb_dns_lookups_total", result="failed") > failed,
             timeout=10, what="another lookup")
    name = lb.admin_get("/api/v1/target-groups/web")["discovery"][0]
    assert name["next_lookup_unix_ms"] - time.time() * 1000 > 500, name


def test_unresolvable_at_start_503_until_the_record_appears(start_lb, dns, loopback_backends):
    port = loopback_backends[0].port
    server = dns(hosts=[(IPS[1], "other.test")])
    config, listen = config_for(server, [name_group("late.test", port)])
    lb = start_lb(config)
    lb.wait_log(r"dns: A/AAAA late\.test: no such name")
    response = lbtest.get(port_of(listen))
    assert response.status == 503
    assert lb.admin_get("/api/v1/target-groups/web")["discovery"][0]["resolved"] is False
    server.set_hosts([(IPS[0], "late.test")])
    wait_for(lambda: lbtest.get(port_of(listen)).status == 200, timeout=10, what="200 once the name resolves")
    assert "reloaded" not in lb.stderr()


def test_srv_ports_weights_and_priorities(start_lb, dns, backends):
    b1, b2, b3 = backends
    srv_name = "_http._tcp.app.test"
    server = dns(hosts=[("127.0.0.1", "app.test")],
                 srv=[(srv_name, "app.test", b1.port, 10, 30), (srv_name, "app.test", b2.port, 10, 10),
                      (srv_name, "app.test", b3.port, 20, 10)])
    # Smooth weighted round robin: the SRV weights show exactly, not by chance.
    group = {"name": "app", "protocol": "http", "algorithm": "round_robin",
             "discovery": {"srv": srv_name}, "health_check": lbtest.health_check()}
    config, listen = config_for(server, [group])
    lb = start_lb(config)
    wait_for(lambda: len(target_ids(lb, "app", state="healthy")) == 3, timeout=10, what="three healthy targets")
    targets = {t["port"]: t for t in lb.admin_get("/api/v1/target-groups/app")["targets"]}
    assert {p: t["weight"] for p, t in targets.items()} == {b1.port: 30, b2.port: 10, b3.port: 10}
    # Priority 10 serves, by weight 3:1; priority 20 is the backup.
    seen = served_by(port_of(listen), 200)
    assert set(seen) == {"b1", "b2"} and abs(seen["b1"] - 3 * seen["b2"]) <= 4, seen
    b1.set_health(False)
    b2.set_health(False)
    wait_for(lambda: len(target_ids(lb, "app", state="unhealthy")) == 2, timeout=10, what="priority 10 down")
    assert set(served_by(port_of(listen), 10)) == {"b3"}
    b2.set_health(True)
    wait_for(lambda: len(target_ids(lb, "app", state="healthy")) == 2, timeout=10, what="b2 back")
    assert set(served_by(port_of(listen), 10)) == {"b2"}
    # A new SRV set is followed: b3 alone now.
    server.set_srv([(srv_name, "app.test", b3.port, 1, 1)])
    wait_for(lambda: target_ids(lb, "app", state="healthy") == [f"127.0.0.1:{b3.port}"], timeout=15,
             what="only b3 left")


def test_discovered_groups_refuse_admin_registrations(start_lb, dns, backends):
    server = dns(hosts=[("127.0.0.1", "web.test")])
    config, _ = config_for(server, [name_group("web.test", backends[0].port)])
    lb = start_lb(config)
    host, admin_port = config["global"]["admin"]["listen"].rsplit(":", 1)
    with HttpConn(int(admin_port), host=host) as conn:
        conn.request("POST", "/api/v1/target-groups/web/targets",
                     body=b'{"address": "127.0.0.1", "port": 9}', headers=[("Content-Type", "application/json")])
        response = conn.read_response()
    assert response.status == 409, response
    assert "takes its targets from DNS" in response.json()["error"]


def test_two_instances_agree_on_targets_cookies_and_client_hashing(start_lb, dns, loopback_backends, tmp_path):
    port = loopback_backends[0].port
    server = dns(hosts=[(ip, "web.test") for ip in IPS])
    secret = tmp_path / "sticky.secret"
    secret.write_bytes(os.urandom(32))
    instances = []
    for sticky in ({"type": "lb_cookie", "duration": "1h"}, None):
        pair = []
        for _ in range(2):
            extra = {"stickiness": sticky} if sticky else {"algorithm": "source_ip_hash"}
            config, listen = config_for(server, [name_group("web.test", port, **extra)],
                                        sticky_secret_file=str(secret))
            lb = start_lb(config)
            wait_for(lambda lb=lb: len(target_ids(lb)) == 3, what="three targets")
            pair.append((lb, port_of(listen)))
        instances.append(pair)
    (a, a_port), (b, b_port) = instances[0]
    assert target_ids(a) == target_ids(b)
    # A cookie issued by one instance lands on the same target at the other.
    for _ in range(6):
        first = lbtest.get(a_port)
        cookie = first.header("set-cookie").split(";")[0]
        again = lbtest.get(b_port, headers=[("Cookie", cookie)])
        assert again.json()["backend"] == first.json()["backend"]
    # The same client address lands on the same target at either instance.
    (c, c_port), (d, d_port) = instances[1]
    for source in ("127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"):
        with HttpConn(c_port, source=source) as conn:
            conn.request("GET", "/")
            at_c = conn.read_response().json()["backend"]
        with HttpConn(d_port, source=source) as conn:
            conn.request("GET", "/")
            at_d = conn.read_response().json()["backend"]
        assert at_c == at_d, source


def test_config_check_warns_about_names_that_do_not_resolve(dns, tmp_path, loopback_backends):
    server = dns(hosts=[(IPS[0], "web.test")])
    config, _ = config_for(server, [name_group("web.test", loopback_backends[0].port),
                                    dict(name_group("late.test", 80), name="late"),
                                    {"name": "svc", "protocol": "http", "discovery": {"srv": "_http._tcp.none.test"}}])
    path = tmp_path / "check.yaml"
    path.write_text(lbtest.to_yaml(config))
    result = lbtest.run_lb("-t", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("lb: warning:")]
    assert warnings == [
        "lb: warning: target group late: late.test (A/AAAA) does not resolve now: Domain name not found",
        "lb: warning: target group svc: _http._tcp.none.test (SRV) does not resolve now: Domain name not found",
    ], result.stderr


def test_srv_answer_too_large_for_udp_comes_over_tcp(start_lb, dns):
    # 40 records do not fit a 512-byte UDP answer: dnsmasq truncates and
    # c-ares asks again over TCP (the path where a socket changes interest
    # from inside its own completion).
    srv_name = "_http._tcp.big.test"
    records = [(srv_name, f"node{i:02d}.big.test", 20000 + i, 10, 1) for i in range(40)]
    server = dns(hosts=[("127.0.0.1", f"node{i:02d}.big.test") for i in range(40)], srv=records)
    group = {"name": "big", "protocol": "http", "discovery": {"srv": srv_name}}
    config, _ = config_for(server, [group])
    lb = start_lb(config)
    wait_for(lambda: len(target_ids(lb, "big")) == 40, timeout=15, what="40 targets from one SRV answer")
    srv = lb.admin_get("/api/v1/target-groups/big")["discovery"][0]
    assert srv["type"] == "SRV" and len(srv["answer"]) == 40
    # dnsmasq answers TCP in a forked child: the query came again from
    # another dnsmasq process.
    with open(server.log_path) as f:
        pids = {line.split("[", 1)[1].split("]", 1)[0] for line in f if f"query[SRV] {srv_name}" in line}
    assert len(pids) >= 2, pids
