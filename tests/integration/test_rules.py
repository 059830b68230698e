"""Listener rules, actions, weighted groups, allow lists and balancing
algorithms through the real binary (issue 3). Backends answer with
X-Backend: b1|b2|b3, so where a request went is visible."""

import collections
import socket

import pytest
import requests

import lbtest
from lbtest import HttpConn, headers_named


def group(name, targets, **extra):
    return lbtest.target_group(name, targets, **extra)


def rule(priority, conditions, action):
    return {"priority": priority, "conditions": conditions, "action": action}


def fwd(name):
    return {"forward": {"target_group": name}}


def fixed(body, status=200):
    return {"fixed_response": {"status": status, "content_type": "text/plain", "body": body}}


def start_rules(start_lb, backends, rules, default=None, listener_extra=None, groups=None, workers=1):
    port = lbtest.free_port()
    b1, b2, b3 = backends
    listener = lbtest.http_listener(port, "g1", **(listener_extra or {}))
    listener["rules"] = rules
    if default is not None:
        listener["default_action"] = default
    groups = groups or [group("g1", [b1]), group("g2", [b2]), group("g3", [b3])]
    lb = start_lb(lbtest.make_config([listener], groups, workers=workers))
    return lb, port


def who(port, path="/", headers=(), host="lb.test", method="GET", source=None):
    """(status, backend or body) for one request on a fresh connection."""
    with HttpConn(port, source=source) as conn:
        conn.request(method, path, headers, host=host)
        response = conn.read_response(head=method == "HEAD")
    return response.status, response.header("X-Backend") or response.body.decode(errors="replace")


# ---------------------------------------------------------------- conditions

def test_host_condition_exact_wildcard_and_case_insensitive(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"host": ["api.example.com"]}, fwd("g2")),
        rule(20, {"host": ["*.example.com"]}, fwd("g3")),
    ])
    assert who(port, host="api.example.com") == (200, "b2")
    assert who(port, host="API.Example.COM:8080") == (200, "b2")
    assert who(port, host="www.example.com") == (200, "b3")
    assert who(port, host="example.com") == (200, "b1")       # '*' needs its dot: default
    assert who(port, host="a.b.example.com") == (200, "b3")   # '*' spans any run of characters
    assert who(port, host="example.org") == (200, "b1")


def test_path_condition_wildcards_and_case_sensitive(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"path": ["/api/*"]}, fwd("g2")),
        rule(20, {"path": ["/v?/items"]}, fwd("g3")),
    ])
    assert who(port, "/api/users?x=1") == (200, "b2")
    assert who(port, "/API/users") == (200, "b1")
    assert who(port, "/v1/items") == (200, "b3")
    assert who(port, "/v10/items") == (200, "b1")             # '?' is exactly one character
    assert who(port, "/api") == (200, "b1")


def test_method_condition(start_lb, backends):
    _, port = start_rules(start_lb, backends, [rule(10, {"method": ["POST", "PUT"]}, fwd("g2"))])
    assert who(port, method="POST")[1] == "b2"
    assert who(port, method="PUT")[1] == "b2"
    assert who(port, method="GET")[1] == "b1"
    assert who(port, method="DELETE")[1] == "b1"


def test_header_condition_names_case_insensitive_values_wildcard(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"header": {"X-Canary": ["true", "yes*"]}}, fwd("g2")),
    ])
    assert who(port, headers=[("x-canary", "true")])[1] == "b2"
    assert who(port, headers=[("X-CANARY", "yes-please")])[1] == "b2"
    assert who(port, headers=[("X-Canary", "false")])[1] == "b1"
    assert who(port)[1] == "b1"


def test_query_condition(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"query": {"version": ["2", "3*"]}}, fwd("g2")),
    ])
    assert who(port, "/x?version=2")[1] == "b2"
    assert who(port, "/x?a=1&version=31")[1] == "b2"
    assert who(port, "/x?version=1")[1] == "b1"
    assert who(port, "/x?versions=2")[1] == "b1"
    assert who(port, "/x")[1] == "b1"


def test_source_ip_condition_ipv4(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"source_ip": ["127.0.0.2/32", "10.0.0.0/8"]}, fwd("g2")),
    ])
    assert who(port, source="127.0.0.2")[1] == "b2"
    assert who(port, source="127.0.0.3")[1] == "b1"
    assert who(port, source="127.0.0.1")[1] == "b1"


def test_source_ip_condition_ipv6(start_lb, backends):
    port = lbtest.free_port()
    b1, b2, _ = backends
    listener = {"name": "v6", "protocol": "http", "listen": f"[::1]:{port}",
                "rules": [rule(10, {"source_ip": ["::1/128"]}, fwd("g2")),
                          rule(20, {"source_ip": ["2001:db8::/32"]}, fixed("never"))],
                "default_action": fwd("g1")}
    lb = start_lb(lbtest.make_config([listener], [group("g1", [b1]), group("g2", [b2])]), wait=False)
    lbtest.wait_for(lambda: _v6_accepts(port), timeout=10, what="lb on [::1]")
    with socket.create_connection(("::1", port), timeout=10) as sock:
        sock.sendall(lbtest.build_request("GET", "/"))
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
    assert b"X-Backend: b2" in data
    lb.stop()


def _v6_accepts(port):
    try:
        with socket.create_connection(("::1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_conditions_and_across_kinds_or_within(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"path": ["/a", "/b"], "method": ["POST"]}, fwd("g2")),
    ])
    assert who(port, "/a", method="POST")[1] == "b2"
    assert who(port, "/b", method="POST")[1] == "b2"
    assert who(port, "/a", method="GET")[1] == "b1"    # path matches, method does not
    assert who(port, "/c", method="POST")[1] == "b1"   # method matches, path does not


def test_lowest_priority_wins_whatever_the_file_order(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(30, {"path": ["/*"]}, fwd("g3")),
        rule(5, {"path": ["/special"]}, fwd("g2")),
        rule(20, {"path": ["/special", "/other"]}, fixed("p20")),
    ])
    assert who(port, "/special")[1] == "b2"
    assert who(port, "/other") == (200, "p20")
    assert who(port, "/anything")[1] == "b3"


def test_no_match_takes_the_default_action(start_lb, backends):
    _, port = start_rules(start_lb, backends, [rule(10, {"path": ["/x"]}, fwd("g2"))],
                          default=fixed("nothing here", status=404))
    assert who(port, "/y") == (404, "nothing here")


# ---------------------------------------------------------------- actions

def test_fixed_response_status_type_and_body(start_lb, backends):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"path": ["/ping"]}, {"fixed_response": {"status": 418, "content_type": "application/json",
                                                          "body": '{"ok": true}'}}),
    ])
    response = requests.get(f"http://127.0.0.1:{port}/ping", timeout=10)
    assert response.status_code == 418
    assert response.headers["Content-Type"] == "application/json"
    assert response.text == '{"ok": true}'
    head = requests.head(f"http://127.0.0.1:{port}/ping", timeout=10)
    assert head.status_code == 418 and head.headers["Content-Length"] == str(len('{"ok": true}'))


def test_fixed_response_keeps_the_connection_and_skips_the_body(start_lb, backends):
    _, port = start_rules(start_lb, backends, [rule(10, {"path": ["/ping"]}, fixed("pong"))])
    with HttpConn(port) as conn:
        conn.request("POST", "/ping", body=b"x" * 5000)
        assert conn.read_response().body == b"pong"
        conn.request("GET", "/after")
        response = conn.read_response()
        assert response.status == 200 and response.header("X-Backend") == "b1"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_placeholders_and_status(start_lb, backends, status):
    _, port = start_rules(start_lb, backends, [
        rule(10, {"path": ["/old/*"]}, {"redirect": {"host": "new.example.com", "path": "/new/#{path}",
                                                    "query": "from=#{host}&#{query}", "status": status}}),
    ])
    with HttpConn(port) as conn:
        conn.request("GET", "/old/page?a=1", host="shop.example.com")
        response = conn.read_response()
    assert response.status == status
    assert response.header("Location") == f"http://new.example.com:{port}/new/old/page?from=shop.example.com&a=1"


def test_redirect_http_to_https_default_port_omitted(start_lb, backends):
    _, port = start_rules(start_lb, backends, [], default={"redirect": {"protocol": "HTTPS", "port": "443",
                                                                         "status": 301}})
    with HttpConn(port) as conn:
        conn.request("GET", "/a/b?x=1", host="example.com")
        response = conn.read_response()
    assert response.status == 301
    assert response.header("Location") == "https://example.com/a/b?x=1"


def test_forward_to_weighted_groups_splits_by_weight(start_lb, backends):
    _, port = start_rules(start_lb, backends, [], default={"forward": {"target_groups": [
        {"name": "g1", "weight": 80}, {"name": "g2", "weight": 20}]}})
    counts = collections.Counter()
    with HttpConn(port) as conn:
        for _ in range(2000):
            conn.request("GET", "/")
            counts[conn.read_response().header("X-Backend")] += 1
    assert set(counts) == {"b1", "b2"}
    share = counts["b1"] / 2000
    assert 0.75 <= share <= 0.85, counts


def test_forward_group_stickiness_keeps_a_client_on_its_group(start_lb, backends):
    _, port = start_rules(start_lb, backends, [], default={"forward": {
        "target_groups": [{"name": "g1", "weight": 50}, {"name": "g2", "weight": 50}],
        "stickiness": {"enabled": True, "duration": "1h"}}})
    with requests.Session() as jar:
        first = jar.get(f"http://127.0.0.1:{port}/", timeout=10)
        cookie = first.cookies.get("LBTG")
        assert cookie, first.headers
        set_cookie = first.headers["Set-Cookie"]
        assert "HttpOnly" in set_cookie and "Path=/" in set_cookie and "SameSite=Lax" in set_cookie
        seen = {first.headers["X-Backend"]}
        for _ in range(100):
            response = jar.get(f"http://127.0.0.1:{port}/", timeout=10)
            seen.add(response.headers["X-Backend"])
            # lb's cookie is its own business: the target never sees it.
            assert "LBTG" not in str(headers_named(response.json(), "Cookie"))
        assert len(seen) == 1, seen
    # Without the cookie, clients spread over both groups.
    spread = {requests.get(f"http://127.0.0.1:{port}/", timeout=10).headers["X-Backend"] for _ in range(60)}
    assert spread == {"b1", "b2"}


def test_forward_group_stickiness_ignores_a_tampered_cookie(start_lb, backends):
    _, port = start_rules(start_lb, backends, [], default={"forward": {
        "target_groups": [{"name": "g1", "weight": 1}, {"name": "g2", "weight": 1}],
        "stickiness": {"enabled": True, "duration": "1h"}}})
    first = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    cookie = first.cookies["LBTG"]
    tampered = cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")
    response = requests.get(f"http://127.0.0.1:{port}/", cookies={"LBTG": tampered}, timeout=10)
    assert response.status_code == 200
    assert response.cookies.get("LBTG") not in (None, tampered)   # replaced by a valid one


# ---------------------------------------------------------------- allow list

def test_allow_list_refuses_other_sources_at_accept(start_lb, backends):
    _, port = start_rules(start_lb, backends, [], listener_extra={"allow": ["127.0.0.2/32"]})
    assert who(port, source="127.0.0.2")[1] == "b1"
    with socket.socket() as sock:
        sock.bind(("127.0.0.3", 0))
        sock.settimeout(5)
        sock.connect((lbtest.HOST, port))
        sock.sendall(lbtest.build_request("GET", "/"))
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            data = b""
        assert data == b""   # closed without an answer


# ---------------------------------------------------------------- algorithms

def distribution(port, n, source=None):
    counts = collections.Counter()
    for _ in range(n):
        counts[who(port, source=source)[1]] += 1
    return counts


@pytest.mark.parametrize("algorithm", ["round_robin", "weighted_random", "least_outstanding_requests"])
def test_target_weights_honoured(start_lb, backends, algorithm):
    b1, b2, _ = backends
    targets = [dict(b1.target, weight=3), dict(b2.target, weight=1)]
    port = lbtest.free_port()
    lb = start_lb(lbtest.make_config([lbtest.http_listener(port, "w")],
                                     [group("w", targets, algorithm=algorithm)]))
    counts = collections.Counter()
    with HttpConn(port) as conn:
        for _ in range(1200):
            conn.request("GET", "/")
            counts[conn.read_response().header("X-Backend")] += 1
    share = counts["b1"] / 1200
    assert 0.70 <= share <= 0.80, (algorithm, counts)
    lb.stop()


def test_least_outstanding_avoids_the_busy_target(start_lb, backends):
    b1, b2, _ = backends
    port = lbtest.free_port()
    start_lb(lbtest.make_config([lbtest.http_listener(port, "l")],
                                [group("l", [b1, b2], algorithm="least_outstanding_requests")]))
    # Hold two slow requests; whichever target they landed on is busy.
    import threading
    slow = []
    threads = [threading.Thread(target=lambda: slow.append(lbtest.get(port, "/delay/1500")))
               for _ in range(2)]
    before = b1.stats()["requests"] + b2.stats()["requests"]
    for t in threads:
        t.start()
    # Both slow requests are at their targets (so lb counts them outstanding).
    lbtest.wait_for(lambda: b1.stats()["requests"] + b2.stats()["requests"] >= before + 2, timeout=5,
                    what="both slow requests at the targets")
    quick = collections.Counter(who(port)[1] for _ in range(10))
    for t in threads:
        t.join()
    busy = {r.header("X-Backend") for r in slow}
    if len(busy) == 1:
        # Both slow requests sit on one target: new requests go to the other.
        assert quick[busy.pop()] == 0, quick
    else:
        # One slow request each: outstanding is equal, requests alternate.
        assert quick["b1"] == 5 and quick["b2"] == 5, quick


def test_source_ip_hash_keeps_each_client_on_one_target(start_lb, backends):
    port = lbtest.free_port()
    start_lb(lbtest.make_config([lbtest.http_listener(port, "h")],
                                [group("h", backends, algorithm="source_ip_hash")], workers=2))
    placements = {}
    for last in range(2, 40):
        source = f"127.0.0.{last}"
        seen = set(distribution(port, 5, source=source))
        assert len(seen) == 1, (source, seen)
        placements[source] = seen.pop()
    assert len(set(placements.values())) == 3, placements   # clients spread over all targets
