"""Header and path rewriting (README "Header rewriting", "Path rewriting"):
what the target receives and what the client gets, through the real
binary, over HTTP/1.1 and HTTP/2; config errors for bad variables and
protected headers."""

import json
import re
import subprocess

import lbtest
from lbtest import HOST, HttpConn, free_port, headers_named, make_config, target_group


def rewrite_config(port, backends, **listener_extra):
    listener = {
        "name": "web", "protocol": "http", "listen": f"{HOST}:{port}",
        "request_headers": {"set": {"X-Real-IP": "#{client_ip}", "X-Client-Port": "#{client_port}",
                                    "X-Id": "#{request_id}", "X-Scheme": "#{scheme}",
                                    "X-Server-Port": "#{server_port}", "X-Uri": "#{request_uri}",
                                    "X-Method": "#{method}", "X-Listener": "#{listener}"}},
        "response_headers": {"set": {"Strict-Transport-Security": "max-age=63072000"}},
        "rules": [
            {"priority": 10, "conditions": {"path": ["/old/*"]},
             "action": {"forward": {
                 "target_group": "app",
                 "path_rewrite": {"prefix": "/old/", "replacement": "/new/"},
                 "request_headers": {"set": {"Host": "app.internal", "X-Target": "#{target}"},
                                     "add": {"X-Route": "rule #{rule} to #{target_group}"},
                                     "remove": ["X-Debug"]},
                 "response_headers": {"remove": ["X-Backend"], "add": {"X-Via": "lb #{rule}"}}}}},
            {"priority": 20, "conditions": {"path": ["/fixed"]},
             "action": {"fixed_response": {"status": 200, "body": "fixed",
                                           "response_headers": {"set": {"Cache-Control": "no-store #{rule}"}}}}},
        ],
        "default_action": {"forward": {"target_group": "app"}},
    }
    listener.update(listener_extra)
    return make_config([listener], [target_group("app", backends[:1])])


def test_request_headers_set_added_removed_with_variables(start_lb, backends):
    port = free_port()
    start_lb(rewrite_config(port, backends))
    with HttpConn(port) as conn:
        client_port = conn.sock.getsockname()[1]
        conn.request("GET", "/old/a/b?x=1&y=2", [("X-Debug", "secret"), ("X-Real-IP", "6.6.6.6"),
                                                 ("X-Route", "from client")])
        response = conn.read_response()
    assert response.status == 200
    echo = response.json()
    # Path: prefix replaced, the query kept.
    assert echo["path"] == "/new/a/b" and echo["query"] == "x=1&y=2"
    assert headers_named(echo, "Host") == ["app.internal"]
    # set replaces what the client sent; remove drops it; add appends.
    assert headers_named(echo, "X-Real-IP") == ["127.0.0.1"]
    assert headers_named(echo, "X-Debug") == []
    assert headers_named(echo, "X-Route") == ["from client", "rule 10 to app"]
    assert headers_named(echo, "X-Client-Port") == [str(client_port)]
    assert headers_named(echo, "X-Scheme") == ["http"]
    assert headers_named(echo, "X-Server-Port") == [str(port)]
    assert headers_named(echo, "X-Uri") == ["/old/a/b?x=1&y=2"]
    assert headers_named(echo, "X-Method") == ["GET"]
    assert headers_named(echo, "X-Listener") == ["web"]
    assert headers_named(echo, "X-Target") == [backends[0].target["address"] + ":" +
                                               str(backends[0].target["port"])]
    (request_id,) = headers_named(echo, "X-Id")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    # lb's own forwarding headers are still lb's.
    assert headers_named(echo, "X-Forwarded-For") == ["127.0.0.1"]


def test_response_headers_and_default_action(start_lb, backends):
    port = free_port()
    lb = start_lb(rewrite_config(port, backends))
    rewritten = lbtest.get(port, "/old/x")
    assert rewritten.status == 200
    assert rewritten.header("Strict-Transport-Security") == "max-age=63072000"
    assert rewritten.header("X-Backend") is None            # removed by the action
    assert rewritten.header("X-Via") == "lb 10"
    plain = lbtest.get(port, "/plain?q=1")
    assert plain.status == 200
    assert plain.header("X-Backend") == "b1"                 # the default action removes nothing
    assert plain.header("Strict-Transport-Security") == "max-age=63072000"
    echo = plain.json()
    assert echo["path"] == "/plain" and echo["query"] == "q=1"   # no rewrite outside the rule
    assert headers_named(echo, "Host") == ["lb.test"]          # HttpConn sends Host: lb.test
    # The listener's response edits reach lb's own answers of its rules.
    fixed = lbtest.get(port, "/fixed")
    assert fixed.status == 200 and fixed.body == b"fixed"
    assert fixed.header("Strict-Transport-Security") == "max-age=63072000"
    assert fixed.header("Cache-Control") == "no-store 20"     # the action's own edits
    # The access log shows the request as the client sent it.
    entries = [e for e in lb.access_entries() if e["url"] == "/old/x"]
    assert entries and entries[0]["status"] == 200


def test_request_ids_differ_per_request(start_lb, backends):
    port = free_port()
    start_lb(rewrite_config(port, backends))
    with HttpConn(port) as conn:
        ids = set()
        for _ in range(5):
            conn.request("GET", "/id")
            ids.update(headers_named(conn.read_response().json(), "X-Id"))
    assert len(ids) == 5


def test_target_variable_follows_a_retry(start_lb, backends):
    """#{target} in a request header names the target of the try that
    carries it, not the first one tried."""
    port = free_port()
    dead = lbtest.dead_target()
    config = make_config(
        [{"name": "web", "protocol": "http", "listen": f"{HOST}:{port}",
          "default_action": {"forward": {"target_group": "app",
                                         "request_headers": {"set": {"X-Target": "#{target}"}}}}}],
        [target_group("app", [dead, backends[0]])])
    start_lb(config)
    live = f"{backends[0].target['address']}:{backends[0].target['port']}"
    for _ in range(4):
        response = lbtest.get(port, "/t")
        assert response.status == 200
        assert headers_named(response.json(), "X-Target") == [live]


def test_http2_client_gets_the_same_edits(start_lb, backends):
    port = free_port()
    start_lb(rewrite_config(port, backends, http2="prior_knowledge"))
    result = subprocess.run(["curl", "-sS", "--max-time", "15", "--http2-prior-knowledge", "-D", "-",
                             f"http://127.0.0.1:{port}/old/h2?z=9"], capture_output=True, timeout=20)
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/2 200")
    lines = [line.lower() for line in head.splitlines()]
    assert "strict-transport-security: max-age=63072000" in lines
    assert "x-via: lb 10" in lines
    assert not any(line.startswith("x-backend:") for line in lines)
    echo = json.loads(body)
    assert echo["path"] == "/new/h2" and echo["query"] == "z=9"
    assert headers_named(echo, "Host") == ["app.internal"]


def test_websocket_upgrade_passes_with_edits(start_lb, backends):
    """Edits of other headers leave the upgrade alone (Upgrade and
    Connection are lb's), and the 101 gets the response edits."""
    port = free_port()
    start_lb(rewrite_config(port, backends))
    with HttpConn(port) as conn:
        conn.request("GET", "/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                    ("Sec-WebSocket-Version", "13")])
        response = conn.read_response()
        assert response.status == 101
        assert response.header("Strict-Transport-Security") == "max-age=63072000"
        assert response.header("Upgrade").lower() == "websocket"


def check_config(tmp_path, config):
    path = tmp_path / "lb.yaml"
    path.write_text(lbtest.to_yaml(config))
    return lbtest.run_lb("-t", "-c", str(path))


def test_unknown_variable_and_protected_headers_are_config_errors(tmp_path, backends):
    def with_listener(**extra):
        listener = lbtest.http_listener(free_port(), "app", **extra)
        return make_config([listener], [target_group("app", backends[:1])])

    result = check_config(tmp_path, with_listener(request_headers={"set": {"X-A": "#{remote_addr}"}}))
    assert result.returncode == 1
    assert re.search(r"lb\.yaml:\d+:\d+: listeners\[0\]\.request_headers\.set\.X-A: unknown variable "
                     r"'#\{remote_addr\}'", result.stderr), result.stderr
    result = check_config(tmp_path, with_listener(request_headers={"remove": ["X-Forwarded-For"]}))
    assert result.returncode == 1
    assert "X-Forwarded-For' carries the client's identity" in result.stderr, result.stderr
    result = check_config(tmp_path, with_listener(response_headers={"set": {"Content-Length": "1"}}))
    assert result.returncode == 1
    assert "framing or hop-by-hop" in result.stderr, result.stderr
    listener = lbtest.http_listener(free_port(), "app")
    listener["default_action"] = {"fixed_response": {"status": 200, "response_headers": {"remove": ["Server"]}}}
    result = check_config(tmp_path, make_config([listener], [target_group("app", backends[:1])]))
    assert result.returncode == 1
    assert "default_action.fixed_response.response_headers.remove: lb's own answer" in result.stderr, result.stderr
    result = check_config(tmp_path, with_listener(request_headers={"set": {"Host": "ok.example"}}))
    assert result.returncode == 0, result.stderr
