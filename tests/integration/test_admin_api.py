"""The admin API (global.admin): auth, validation, registration and
deregistration through the real binary, and run-time registrations kept
across reloads. Clients use `requests`."""

import re
import signal
import socket
import time

import pytest
import requests

import lbtest
from lbtest import (TIME_SCALE, backend_of, free_port, health_check, http_listener, make_config, metric,
                    port_accepts, target_group)
from test_drain import WebSocket, in_flight

TOKEN = "s3cret-token"


def key(backend):
    return f"127.0.0.1:{backend.port}"


class Admin:
    def __init__(self, config, token=None):
        self.base = "http://" + config["global"]["admin"]["listen"]
        self.token = token

    def call(self, method, path, token="default", **kwargs):
        token = self.token if token == "default" else token
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def group(self, name="web"):
        response = self.call("GET", f"/api/v1/target-groups/{name}")
        assert response.status_code == 200, response.text
        return response.json()

    def target(self, address_port, group="web"):
        for target in self.group(group)["targets"]:
            if target["id"] == address_port:
                return target
        return None

    def register(self, backend_or_body, group="web", **kwargs):
        body = backend_or_body if isinstance(backend_or_body, dict) else backend_or_body.target
        return self.call("POST", f"/api/v1/target-groups/{group}/targets", json=body, **kwargs)

    def deregister(self, address_port, group="web", **kwargs):
        return self.call("DELETE", f"/api/v1/target-groups/{group}/targets/{address_port}", **kwargs)

    def wait_state(self, address_port, state, timeout=10, group="web"):
        def current():
            target = self.target(address_port, group)
            return target and target["state"] == state and target
        return lbtest.wait_for(current, timeout=timeout, what=f"{address_port} to be {state}")


def start(start_lb, tmp_path, targets, token=False, delay="10s", check=True, **group_extra):
    port = free_port()
    extra = {"health_check": health_check()} if check else {}
    extra.update(group_extra)
    config = make_config([http_listener(port, "web")],
                         [target_group("web", targets, deregistration_delay=delay, **extra)])
    if token:
        token_file = tmp_path / "admin.token"
        token_file.write_text(TOKEN + "\n")
        config["global"]["admin"]["token_file"] = str(token_file)
    lb = start_lb(config)
    admin = Admin(config, TOKEN if token else None)
    lbtest.wait_for(lambda: port_accepts(int(config["global"]["admin"]["listen"].rsplit(":", 1)[1])),
                    what="the admin API to listen")
    return lb, admin, config, port


# ---------------------------------------------------------------- auth

def test_token_required_and_nothing_changes_without_it(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    lb, admin, _, _ = start(start_lb, tmp_path, [b1], token=True)
    for token in (None, "wrong", TOKEN + "x", ""):
        for method, path, kwargs in (
                ("GET", "/api/v1/target-groups", {}),
                ("GET", "/api/v1/target-groups/web", {}),
                ("POST", "/api/v1/target-groups/web/targets", {"json": b2.target}),
                ("DELETE", f"/api/v1/target-groups/web/targets/{key(b1)}", {}),
                ("POST", "/api/v1/reload", {})):
            response = admin.call(method, path, token=token, **kwargs)
            assert response.status_code == 401, (method, path, token, response.text)
            assert "error" in response.json()
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    group = admin.group()
    assert [t["id"] for t in group["targets"]] == [key(b1)]
    assert group["targets"][0]["state"] != "draining"
    assert "reloaded" not in lb.stderr()
    # Other schemes are not a bearer token.
    response = admin.call("GET", "/api/v1/target-groups", token=None,
                          headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401
    # /healthz is for load balancers in front of lb: no token.
    health = admin.call("GET", "/healthz", token=None)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_no_token_file_means_open_on_loopback(start_lb, backends, tmp_path):
    _, admin, _, _ = start(start_lb, tmp_path, [backends[0]])
    assert admin.call("GET", "/api/v1/target-groups").status_code == 200


def test_disabled_admin_api_does_not_listen(start_lb, backends):
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", [backends[0]])])
    config["global"]["admin"]["enabled"] = False
    start_lb(config)
    assert not port_accepts(int(config["global"]["admin"]["listen"].rsplit(":", 1)[1]))


def test_admin_address_in_use_fails_start(start_lb, backends):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = free_port()
        config = make_config([http_listener(port, "web")], [target_group("web", [backends[0]])])
        config["global"]["admin"]["listen"] = f"127.0.0.1:{taken.getsockname()[1]}"
        lb = start_lb(config, wait=False)
        code = lb.wait(10)
        lb.stop()  # already gone; marks it stopped for the fixture
        assert code == 1
        assert "admin API: cannot listen on" in lb.stderr()


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("body,message", [
    ('{"address": "127.0.0.1",', "not valid JSON"),
    ('["127.0.0.1", 80]', "must be a JSON object"),
    ('{"port": 80}', "'address' is required"),
    ('{"address": "backend.internal", "port": 80}', "must be an IPv4 or IPv6 address"),
    ('{"address": "127.0.0.1:80", "port": 80}', "must be an IPv4 or IPv6 address"),
    ('{"address": 127, "port": 80}', "'address' is required"),
    ('{"address": "127.0.0.1"}', "'port' is required"),
    ('{"address": "127.0.0.1", "port": 0}', "from 1 to 65535"),
    ('{"address": "127.0.0.1", "port": 65536}', "from 1 to 65535"),
    ('{"address": "127.0.0.1", "port": "80"}', "from 1 to 65535"),
    ('{"address": "127.0.0.1", "port": 80.5}', "from 1 to 65535"),
    ('{"address": "127.0.0.1", "port": 80, "weight": 1001}', "'weight' must be an integer"),
    ('{"address": "127.0.0.1", "port": 80, "weight": -1}', "'weight' must be an integer"),
    ('{"address": "127.0.0.1", "port": 80, "zone": 3}', "'zone' must be a string"),
    ('{"address": "127.0.0.1", "port": 80, "region": "x"}', "unknown key 'region'"),
    ('{"address": "0.0.0.0", "port": 80}', "unspecified address"),
    ('{"address": "::", "port": 80}', "unspecified address"),
    ('{"address": "255.255.255.255", "port": 80}', "broadcast"),
    ('{"address": "224.0.0.1", "port": 80}', "multicast"),
    ('{"address": "ff02::1", "port": 80}', "multicast"),
    ('{"address": "::ffff:239.1.2.3", "port": 80}', "multicast"),
    ('{"address": "127.0.0.1\\u0000x", "port": 80}', "must be an IPv4 or IPv6 address"),
])
def test_invalid_registration_is_400(start_lb, backends, tmp_path, body, message):
    b1 = backends[0]
    _, admin, _, _ = start(start_lb, tmp_path, [b1])
    response = admin.call("POST", "/api/v1/target-groups/web/targets", data=body,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert [t["id"] for t in admin.group()["targets"]] == [key(b1)]


def admin_port(config):
    return int(config["global"]["admin"]["listen"].rsplit(":", 1)[1])


@pytest.mark.parametrize("token", [False, True])
def test_idle_connections_cannot_starve_the_admin_api(start_lb, backends, tmp_path, token):
    """Anyone who reaches the address can open connections; filling every
    slot with idle or trickling ones must not lock out probes or the
    operator."""
    _, admin, config, _ = start(start_lb, tmp_path, [backends[0]], token=token)
    hogs = []
    try:
        for i in range(100):
            sock = socket.create_connection(("127.0.0.1", admin_port(config)), timeout=5)
            if i % 2:
                sock.sendall(b"GET /api/v1/stats HTTP/1.1\r\nHost: x\r\n")  # never finished
            hogs.append(sock)
        started = time.monotonic()
        health = admin.call("GET", "/healthz", token=None)
        assert health.status_code == 200
        assert admin.call("GET", "/api/v1/target-groups").status_code == 200
        assert time.monotonic() - started < 2 * TIME_SCALE
        # And the hogs go away by themselves: no first byte within 2 s,
        # no complete request within 5 s.
        for sock in hogs[-10:]:
            assert lbtest.closed_without_answer(sock, timeout=8 * TIME_SCALE)
    finally:
        for sock in hogs:
            sock.close()


def test_not_found_and_wrong_method(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    _, admin, _, _ = start(start_lb, tmp_path, [b1])
    cases = [
        ("GET", "/api/v1/target-groups/nope", {}, 404, "no target group 'nope'"),
        ("POST", "/api/v1/target-groups/nope/targets", {"json": b2.target}, 404, "no target group 'nope'"),
        ("DELETE", f"/api/v1/target-groups/nope/targets/{key(b1)}", {}, 404, "no target group 'nope'"),
        ("DELETE", f"/api/v1/target-groups/web/targets/{key(b2)}", {}, 404, "is not registered"),
        ("DELETE", "/api/v1/target-groups/web/targets/127.0.0.1", {}, 400, "address:port"),
        ("DELETE", "/api/v1/target-groups/web/targets/not-an-ip:80", {}, 400, "address:port"),
        ("DELETE", "/api/v1/target-groups/web/targets/127.0.0.1:0", {}, 400, "address:port"),
        ("GET", "/api/v2/target-groups", {}, 404, "no such endpoint"),
        ("GET", "/nope", {}, 404, "no such endpoint"),
        ("DELETE", "/api/v1/target-groups/web", {}, 405, "not allowed"),
        ("GET", "/api/v1/reload", {}, 405, "not allowed"),
        ("PUT", "/api/v1/target-groups/web/targets", {"json": b2.target}, 405, "not allowed"),
    ]
    for method, path, kwargs, status, message in cases:
        response = admin.call(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        assert message in response.json()["error"], (method, path, response.text)
    assert [t["id"] for t in admin.group()["targets"]] == [key(b1)]


def test_path_bytes_that_are_not_utf8_still_get_an_answer(start_lb, backends, tmp_path):
    # Errors echo the decoded path segment; %FF is not UTF-8, and writing the
    # JSON reply used to throw, which aborted lb (found by tests/fuzz/admin_json).
    lb, admin, _, _ = start(start_lb, tmp_path, [backends[0]])
    for method, path, status in (("DELETE", "/api/v1/target-groups/web/targets/%FF", 400),
                                 ("DELETE", "/api/v1/target-groups/web/targets/10.0.0.1%FE:80", 400),
                                 ("GET", "/api/v1/target-groups/%FF%FE", 404),
                                 ("POST", "/api/v1/target-groups/%C3%28/targets", 404)):
        response = admin.call(method, path, json={} if method == "POST" else None)
        assert response.status_code == status, (method, path, response.text)
        assert "\ufffd" in response.json()["error"], (method, path, response.text)
    assert admin.call("GET", "/healthz").status_code == 200
    assert lb.proc.poll() is None


def test_yaml_target_weight_belongs_to_the_file(start_lb, backends, tmp_path):
    b1 = backends[0]
    _, admin, _, _ = start(start_lb, tmp_path, [b1])
    response = admin.register({**b1.target, "weight": 7})
    assert response.status_code == 409
    assert "change its weight or zone there" in response.json()["error"]
    same = admin.register(b1)
    assert same.status_code == 200 and same.json()["source"] == "config"


# ---------------------------------------------------------------- registration

def test_register_target_checks_it_then_routes_to_it(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    lb, admin, _, port = start(start_lb, tmp_path, [b1])
    admin.wait_state(key(b1), "healthy")
    response = admin.register({**b2.target, "weight": 2, "zone": "zone-b"})
    assert response.status_code == 201, response.text
    target = response.json()
    assert target["id"] == key(b2)
    assert target["source"] == "api" and target["weight"] == 2 and target["zone"] == "zone-b"
    assert target["state"] == "initial"
    # Initial: no traffic until its checks pass.
    assert {backend_of(port) for _ in range(6)} == {"b1"}
    admin.wait_state(key(b2), "healthy")
    served = [backend_of(port) for _ in range(9)]
    assert served.count("b2") == 6, served  # weight 2 against 1
    listing = admin.call("GET", "/api/v1/target-groups").json()
    counts = listing["target_groups"][0]["target_counts"]
    assert counts["total"] == 2 and counts["healthy"] == 2
    detail = admin.target(key(b2))
    assert detail["counters"]["requests"] >= 6
    assert detail["in_flight"] == 0
    again = admin.register({**b2.target, "weight": 1})
    assert again.status_code == 200 and again.json()["weight"] == 1


def test_ipv6_target_registers_and_deregisters(start_lb, backends, tmp_path):
    _, admin, _, _ = start(start_lb, tmp_path, [backends[0]])
    port = free_port()
    response = admin.register({"address": "::1", "port": port})
    assert response.status_code == 201, response.text
    assert response.json()["id"] == f"[::1]:{port}"
    response = admin.deregister(f"[::1]:{port}")
    assert response.status_code == 202, response.text
    lbtest.wait_for(lambda: admin.target(f"[::1]:{port}") is None, what="the target to go")


# ---------------------------------------------------------------- deregistration

def test_deregister_drains_in_flight_request_and_websocket(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    lb, admin, _, port = start(start_lb, tmp_path, [b2], check=False, delay="3s")
    assert admin.register(b1).status_code == 201
    ws = WebSocket(port)
    if ws.backend != "b2":
        ws.close()
        ws = WebSocket(port)
    assert ws.backend == "b2"
    results = []
    before = b2.stats()["requests"]
    thread = None
    while thread is None:
        b1_before = b1.stats()["requests"]  # round robin: get the slow request onto b2
        attempt = []
        t = in_flight(port, "/delay/1500", attempt)
        lbtest.wait_for(lambda: b1.stats()["requests"] + b2.stats()["requests"] > before + b1_before,
                        what="the slow request at a target")
        if b2.stats()["requests"] > before:
            thread, results = t, attempt
        else:
            t.join(10)
    response = admin.deregister(key(b2))
    deregistered = time.monotonic()
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "draining"
    assert 2000 < body["drain_remaining_ms"] <= 3000
    assert body["in_flight"] == 1 and body["active_connections"] == 1
    # No new request reaches it; the one in flight finishes.
    requests_before = b2.stats()["requests"]
    assert {backend_of(port) for _ in range(6)} == {"b1"}
    thread.join(10)
    assert isinstance(results[0], lbtest.Response) and results[0].status == 200, results
    assert results[0].header("x-backend") == "b2"
    assert b2.stats()["requests"] == requests_before
    # The WebSocket keeps the drain going until the delay ends, then is cut.
    assert ws.echo("draining") == "draining"
    assert admin.target(key(b2))["state"] == "draining"
    assert ws.wait_closed(timeout=5) is not None
    assert 2.5 <= time.monotonic() - deregistered <= 4.5 * TIME_SCALE
    ws.close()
    lbtest.wait_for(lambda: admin.target(key(b2)) is None, what="the drained target to go")
    second = admin.deregister(key(b2))
    assert second.status_code == 404


def test_deregister_idle_target_is_gone_quickly(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    _, admin, _, _ = start(start_lb, tmp_path, [b1, b2], check=False, delay="300s")
    assert admin.deregister(key(b2)).status_code == 202
    lbtest.wait_for(lambda: admin.target(key(b2)) is None, timeout=2 * TIME_SCALE,
                    what="a target with nothing in flight to go at once")


def test_register_again_cancels_the_drain(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    lb, admin, _, port = start(start_lb, tmp_path, [b1, b2], delay="2s")
    admin.wait_state(key(b1), "healthy")
    admin.wait_state(key(b2), "healthy")
    ws = WebSocket(port)
    if ws.backend != "b2":
        ws.close()
        ws = WebSocket(port)
    assert admin.deregister(key(b2)).status_code == 202
    assert admin.target(key(b2))["state"] == "draining"
    response = admin.register(b2)
    assert response.status_code == 201
    # Health carried over: straight back to healthy, not initial.
    assert response.json()["state"] == "healthy"
    assert response.json()["source"] == "config"
    assert ws.wait_closed(timeout=3) is None
    assert ws.echo("kept") == "kept"
    assert {backend_of(port) for _ in range(4)} == {"b1", "b2"}
    ws.close()


# ---------------------------------------------------------------- reloads

def test_runtime_registrations_survive_reload(start_lb, backends, tmp_path):
    b1, b2, b3 = backends
    lb, admin, config, port = start(start_lb, tmp_path, [b1])
    assert admin.register(b2).status_code == 201
    admin.wait_state(key(b2), "healthy")
    assert admin.deregister(key(b1)).status_code == 202
    lbtest.wait_for(lambda: admin.target(key(b1)) is None, what="b1 to go")
    # A reload by signal with a YAML that adds b3...
    config["target_groups"][0]["targets"].append(b3.target)
    lb.reload(config)
    ids = {t["id"]: t for t in admin.group()["targets"]}
    assert set(ids) == {key(b2), key(b3)}
    assert ids[key(b2)]["source"] == "api" and ids[key(b2)]["state"] == "healthy"
    assert ids[key(b3)]["source"] == "config"
    # ...and one through the API keep both the registration and the removal.
    response = admin.call("POST", "/api/v1/reload")
    assert response.status_code == 200 and response.json()["generation"] > 0
    assert {t["id"] for t in admin.group()["targets"]} == {key(b2), key(b3)}
    admin.wait_state(key(b3), "healthy")
    assert {backend_of(port) for _ in range(6)} == {"b2", "b3"}
    # Registering the YAML's b1 again brings it back as the file's.
    assert admin.register(b1).status_code == 201
    assert admin.target(key(b1))["source"] == "config"


def test_registrations_of_a_removed_group_are_dropped(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    lb, admin, config, port = start(start_lb, tmp_path, [b1], check=False)
    config["target_groups"].append(target_group("other", [b1]))
    lb.reload(config)
    assert admin.register(b2, group="other").status_code == 201
    config["target_groups"].pop()
    lb.reload(config)
    assert admin.call("GET", "/api/v1/target-groups/other").status_code == 404
    assert "dropping its 1 target(s) registered through the admin API" in lb.stderr()
    config["target_groups"].append(target_group("other", [b1]))
    lb.reload(config)
    assert [t["id"] for t in admin.group("other")["targets"]] == [key(b1)]


def test_reload_through_the_api_rejects_a_broken_config(start_lb, backends, tmp_path):
    b1 = backends[0]
    lb, admin, config, port = start(start_lb, tmp_path, [b1], check=False)
    with open(lb.config_path, "a") as f:
        f.write("bogus_key: 1\n")
    response = admin.call("POST", "/api/v1/reload")
    assert response.status_code == 400
    assert "bogus_key" in response.json()["error"]
    assert backend_of(port) == "b1"
    lb.write_config(config)
    assert admin.call("POST", "/api/v1/reload").status_code == 200


def test_keep_alive_admin_connection_serves_several_requests(start_lb, backends, tmp_path):
    _, admin, config, _ = start(start_lb, tmp_path, [backends[0]], token=True)
    admin_port = int(config["global"]["admin"]["listen"].rsplit(":", 1)[1])
    with lbtest.HttpConn(admin_port) as conn:
        for path in ("/healthz", "/api/v1/target-groups", "/api/v1/target-groups/web"):
            conn.request("GET", path, headers=[("Authorization", f"Bearer {TOKEN}")])
            response = conn.read_response()
            assert response.status == 200, response
            assert response.header("content-type") == "application/json"
            response.json()


def test_graceful_stop_refuses_changes_but_answers_reads(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    lb, admin, _, port = start(start_lb, tmp_path, [b1], check=False)
    results = []
    thread = in_flight(port, "/delay/1500", results)
    lbtest.wait_for(lambda: admin.target(key(b1))["in_flight"] == 1, what="the request in flight")
    lb.send_signal(signal.SIGQUIT)
    lbtest.wait_for(lambda: admin.call("GET", "/healthz").status_code == 503, what="/healthz to say stopping")
    assert admin.register(b2).status_code == 503
    assert admin.call("POST", "/api/v1/reload").status_code == 503
    assert admin.group()["targets"][0]["in_flight"] == 1
    thread.join(10)
    assert results[0].status == 200
    assert lb.wait(5) == 0


def test_connection_opened_before_a_token_change_serves_nothing_more(start_lb, backends, tmp_path):
    # A keep-alive admin connection authorised under the old settings must
    # not outlive them: after a reload that drops the token it would
    # otherwise keep working with no token at all.
    lb, admin, config, _ = start(start_lb, tmp_path, backends[:1], token=True, check=False)
    host, admin_port = config["global"]["admin"]["listen"].rsplit(":", 1)
    conn = lbtest.HttpConn(int(admin_port))
    try:
        conn.request("GET", "/api/v1/target-groups", [("Authorization", f"Bearer {TOKEN}")])
        assert conn.read_response().status == 200
        del config["global"]["admin"]["token_file"]
        lb.reload(config)
        conn.request("GET", "/api/v1/target-groups")
        with pytest.raises((lbtest.ConnectionClosed, OSError)):
            conn.read_response()
    finally:
        conn.close()
    # New connections follow the new settings (open on loopback).
    assert admin.call("GET", "/api/v1/target-groups", token=None).status_code == 200


def test_reload_moves_the_admin_address(start_lb, backends, tmp_path):
    lb, admin, config, _ = start(start_lb, tmp_path, [backends[0]], check=False)
    old_port = int(config["global"]["admin"]["listen"].rsplit(":", 1)[1])
    config["global"]["admin"]["listen"] = f"127.0.0.1:{free_port()}"
    lb.reload(config)
    moved = Admin(config)
    assert moved.call("GET", "/healthz").status_code == 200
    lbtest.wait_for(lambda: not port_accepts(old_port), what="the old admin port to close")


# ---------------------------------------------------------------- stats and metrics

def test_metrics_and_stats_count_what_lb_did(start_lb, backends, tmp_path):
    b1, b2 = backends[:2]
    lb, admin, config, port = start(start_lb, tmp_path, [b1, b2], token=True, check=False)
    # The harness's readiness probe connected once; wait until lb counted it.
    def accepted():
        return metric(admin.call("GET", "/metrics").text, "lb_connections_accepted_total")
    lbtest.wait_for(lambda: accepted() >= 1, what="the readiness probe to be counted")
    accepted_before = accepted()
    for _ in range(6):
        assert lbtest.get(port, "/").status == 200
    assert lbtest.get(port, "/status/503").status == 503
    # The token guards /metrics like /api/.
    assert admin.call("GET", "/metrics", token=None).status_code == 401

    response = admin.call("GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert metric(text, "lb_http_requests_total") == 7
    assert metric(text, "lb_http_responses_total", code="2xx") == 6
    assert metric(text, "lb_http_responses_total", code="5xx") == 1
    assert metric(text, "lb_connections_accepted_total") == accepted_before + 7
    assert metric(text, "lb_config_generation") == 1
    assert re.search(r'^lb_info\{version="[0-9.]+",zone=""\} 1$', text, re.M), text
    for backend in (b1, b2):
        labels = {"target_group": "web", "target": key(backend)}
        assert metric(text, "lb_target_state", **labels, state="unused") == 1
        assert metric(text, "lb_target_state", **labels, state="healthy") == 0
    assert (metric(text, "lb_target_requests_total", target_group="web", target=key(b1)) +
            metric(text, "lb_target_requests_total", target_group="web", target=key(b2))) == 7
    # Every sample's family is declared, and each declared family has samples.
    # (A histogram's samples are its name + _bucket, _sum and _count.)
    declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    histograms = {line.split()[2] for line in text.splitlines()
                  if line.startswith("# TYPE") and line.endswith(" histogram")}
    sampled = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{")[0].split()[0]
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            sampled.add(base if base in histograms else name)
    assert histograms and declared == sampled

    # A reload (accepted, then rejected) shows in both views.
    assert admin.call("POST", "/api/v1/reload").status_code == 200
    with open(lb.config_path, "a") as f:
        f.write("\nbogus_key: 1\n")
    assert admin.call("POST", "/api/v1/reload").status_code == 400
    stats = admin.call("GET", "/api/v1/stats").json()
    assert stats["reloads"] == {"accepted": 1, "rejected": 1}
    assert stats["generation"] == 2
    assert stats["requests"] == 7
    assert stats["responses"]["2xx"] == 6 and stats["responses"]["5xx"] == 1
    web = next(g for g in stats["target_groups"] if g["name"] == "web")
    assert web["requests"] == 7 and web["responses_5xx"] == 1
    text = admin.call("GET", "/metrics").text
    assert metric(text, "lb_reloads_total", result="accepted") == 1
    assert metric(text, "lb_reloads_total", result="rejected") == 1


def test_open_connections_gauge_follows_a_websocket(start_lb, backends, tmp_path):
    lb, admin, config, port = start(start_lb, tmp_path, backends[:1], check=False)
    # The readiness probe's connection may still be closing.
    lbtest.wait_for(lambda: metric(admin.call("GET", "/metrics").text, "lb_connections_open") == 0,
                    what="no open connection before")
    ws = WebSocket(port)
    try:
        lbtest.wait_for(lambda: metric(admin.call("GET", "/metrics").text, "lb_connections_open") == 1,
                        what="one open connection")
        text = admin.call("GET", "/metrics").text
        assert metric(text, "lb_target_active_connections", target_group="web", target=key(backends[0])) == 1
    finally:
        ws.close()
    lbtest.wait_for(lambda: metric(admin.call("GET", "/metrics").text, "lb_connections_open") == 0,
                    what="no open connection")
