"""trusted_proxies on an HTTP listener without PROXY headers: behind another
HTTP proxy, the client is the rightmost X-Forwarded-For address that is not
a trusted proxy (nginx realip with real_ip_recursive on). That address drives
source_ip rules, source_ip_hash and the access log; X-Forwarded-For itself is
passed on with the connecting proxy appended, as always."""

import json

import lbtest
from lbtest import HttpConn, free_port, headers_named, make_config, target_group, wait_for


def start(start_lb, backends, **listener_extra):
    port = free_port()
    listener = lbtest.http_listener(port, "web", **listener_extra)
    listener["rules"] = [{"priority": 10, "conditions": {"source_ip": ["198.51.100.0/24"]},
                          "action": {"fixed_response": {"status": 200, "content_type": "text/plain",
                                                        "body": "client in 198.51.100.0/24"}}}]
    return start_lb(make_config([listener], [target_group("web", backends[:1])])), port


def send(port, path, xff):
    with HttpConn(port) as conn:
        conn.request("GET", path, [("X-Forwarded-For", xff)])
        return conn.read_response()


def logged_client(lb, path):
    def find():
        for line in lb.stdout().splitlines():
            if line.startswith("{") and json.loads(line).get("url") == path:
                return json.loads(line)
        return None
    entry = wait_for(find, timeout=5, what=f"the access log line for {path}")
    return entry["client"], entry["client_port"]


def test_rightmost_untrusted_forwarded_address_is_the_client(start_lb, backends):
    lb, port = start(start_lb, backends, trusted_proxies=["127.0.0.1/32", "10.0.0.0/8"])
    # 10.1.1.1 is a trusted hop, 198.51.100.9 the client it vouched for; the
    # leftmost entry is whatever the client wrote and is not believed.
    assert send(port, "/rule", "6.6.6.6, 198.51.100.9, 10.1.1.1").body == b"client in 198.51.100.0/24"
    response = send(port, "/echo", "6.6.6.6, 203.0.113.5, 10.1.1.1")
    assert response.status == 200
    assert headers_named(response.json(), "x-forwarded-for") == ["6.6.6.6, 203.0.113.5, 10.1.1.1, 127.0.0.1"]
    assert logged_client(lb, "/echo") == ("203.0.113.5", 0)


def test_forwarded_for_from_an_untrusted_peer_is_not_believed(start_lb, backends):
    lb, port = start(start_lb, backends, trusted_proxies=["10.0.0.0/8"])  # not 127.0.0.1
    response = send(port, "/spoof", "198.51.100.9")
    assert response.status == 200 and response.header("x-backend") == "b1"  # the rule did not match
    assert logged_client(lb, "/spoof")[0] == "127.0.0.1"


def test_without_trusted_proxies_the_peer_is_the_client(start_lb, backends):
    lb, port = start(start_lb, backends)
    assert send(port, "/plain", "198.51.100.9").header("x-backend") == "b1"
    assert logged_client(lb, "/plain")[0] == "127.0.0.1"
