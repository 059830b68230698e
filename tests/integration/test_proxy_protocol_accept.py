"""accept_proxy_protocol: a listener behind another L4 balancer reads the
PROXY header (v1 or v2) that a trusted proxy (trusted_proxies) puts first,
and from then on the address it carries is the client: source_ip rules,
source_ip_hash, X-Forwarded-For, access logs and any PROXY header lb sends on.
A header from anyone else is refused; a missing, malformed or late one from
a trusted proxy closes the connection with nothing forwarded."""

import json
import socket
import ssl
import struct
import time

import pytest

import lbtest
import tlstest
from lbtest import (HOST, HttpConn, closed_without_answer, free_port, headers_named, make_config, recv_exact,
                    target_group, wait_for)

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source, destination=("127.0.0.1", 80)):
    family = "TCP6" if ":" in source[0] else "TCP4"
    return f"PROXY {family} {source[0]} {destination[0]} {source[1]} {destination[1]}\r\n".encode()


def v2(source, destination=("127.0.0.1", 80)):
    family = socket.AF_INET6 if ":" in source[0] else socket.AF_INET
    block = (socket.inet_pton(family, source[0]) + socket.inet_pton(family, destination[0])
             + struct.pack("!HH", source[1], destination[1]))
    fam = b"\x21" if family == socket.AF_INET6 else b"\x11"
    return V2_SIGNATURE + b"\x21" + fam + struct.pack("!H", len(block)) + block


HEADERS = {"v1": v1, "v2": v2}


def matched_rule(body="matched 203.0.113.0/24"):
    return {"priority": 10, "conditions": {"source_ip": ["203.0.113.0/24"]},
            "action": {"fixed_response": {"status": 200, "content_type": "text/plain", "body": body}}}


def start_http(start_lb, targets, trusted=("127.0.0.1/32",), protocol="http", workers=1, **extra):
    port = free_port()
    listener = lbtest.http_listener(port, "web", protocol=protocol, accept_proxy_protocol=True,
                                    trusted_proxies=list(trusted), **extra)
    listener["rules"] = [matched_rule()]
    lb = start_lb(make_config([listener], [target_group("web", targets)], workers=workers))
    return lb, port


def counters(lb, listener="web"):
    return lb.listener_stats(listener)["connections"]


def settled_invalid_count(lb):
    """proxy_header_invalid once lb's readiness probe (a trusted connection
    closed without a header) has been counted."""
    return wait_for(lambda: counters(lb)["proxy_header_invalid"] or None, timeout=5,
                    what="the readiness probe to count as a missing header")


def request_with_header(port, header, path="/", headers=()):
    with HttpConn(port) as conn:
        conn.send(header + lbtest.build_request("GET", path, headers))
        return conn.read_response()


def access_log(lb, predicate):
    def find():
        for line in lb.stdout().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if predicate(entry):
                    return entry
        return None
    return wait_for(find, timeout=5, what="the access log line")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_carried_address_is_the_client(start_lb, backends, version):
    lb, port = start_http(start_lb, backends[:1])
    header = HEADERS[version](("198.51.100.7", 5555), ("192.0.2.80", 80))
    response = request_with_header(port, header, path=f"/carried-{version}")
    assert response.status == 200
    echo = response.json()
    assert headers_named(echo, "x-forwarded-for") == ["198.51.100.7"]
    entry = access_log(lb, lambda e: e.get("url") == f"/carried-{version}")
    assert (entry["client"], entry["client_port"]) == ("198.51.100.7", 5555)
    # source_ip rules see it too: the real peer (127.0.0.1) would not match.
    matched = request_with_header(port, HEADERS[version](("203.0.113.7", 1), ("192.0.2.80", 80)))
    assert matched.body == b"matched 203.0.113.0/24"


def test_header_in_pieces_then_request_in_the_same_segment_as_its_end(start_lb, backends):
    _, port = start_http(start_lb, backends[:1])
    header = v2(("198.51.100.8", 4000))
    with HttpConn(port) as conn:
        tlstest.send_in_pieces(conn.sock, header[:-3], size=2)
        conn.send(header[-3:] + lbtest.build_request("GET", "/"))
        assert headers_named(conn.read_response().json(), "x-forwarded-for") == ["198.51.100.8"]
        conn.request("GET", "/second")  # keep-alive: still that client
        assert headers_named(conn.read_response().json(), "x-forwarded-for") == ["198.51.100.8"]


@pytest.mark.parametrize("header", [b"PROXY UNKNOWN\r\n", V2_SIGNATURE + b"\x20\x00\x00\x00"],
                         ids=["v1-unknown", "v2-local"])
def test_unknown_and_local_keep_the_connection_address(start_lb, backends, header):
    _, port = start_http(start_lb, backends[:1])
    response = request_with_header(port, header)
    assert headers_named(response.json(), "x-forwarded-for") == ["127.0.0.1"]


@pytest.mark.parametrize("bad", [
    b"GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n",                      # no header at all
    b"PROXY TCP4 198.51.100.7 10.0.0.1 99999 80\r\nGET / HTTP/1.1\r\n\r\n",  # port out of range
    b"PROXY TCP9 1 2 3 4\r\nGET / HTTP/1.1\r\n\r\n",
    V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12) + b"GET / HTTP/1.1\r\n\r\n",  # version 3
], ids=["missing", "v1-bad-port", "v1-bad-protocol", "v2-bad-version"])
def test_malformed_or_missing_header_from_a_trusted_proxy_is_closed(start_lb, backends, bad):
    lb, port = start_http(start_lb, backends[:1])
    before = backends[0].stats()["requests"]
    invalid = settled_invalid_count(lb)
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(bad)
        assert closed_without_answer(sock)
    assert backends[0].stats()["requests"] == before
    assert counters(lb)["proxy_header_invalid"] == invalid + 1


def test_late_header_is_closed_after_header_timeout(start_lb, backends):
    lb, port = start_http(start_lb, backends[:1], header_timeout="1s")
    invalid = settled_invalid_count(lb)
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(b"PROXY TCP4 198.51")
        started = time.monotonic()
        assert closed_without_answer(sock, timeout=8)
        assert 0.8 <= time.monotonic() - started < 5
    assert counters(lb)["proxy_header_invalid"] == invalid + 1


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_header_from_an_untrusted_peer_is_refused(start_lb, backends, version):
    # 127.0.0.1 is not a trusted proxy here, so it is a direct client.
    lb, port = start_http(start_lb, backends[:1], trusted=["10.0.0.0/8"])
    before = backends[0].stats()["requests"]
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(HEADERS[version](("203.0.113.7", 1)) + lbtest.build_request("GET", "/"))
        assert closed_without_answer(sock)
    assert backends[0].stats()["requests"] == before
    assert counters(lb)["proxy_header_untrusted"] == 1
    assert counters(lb)["proxy_header_invalid"] == 0
    # Without a header it is served as itself.
    assert headers_named(lbtest.get(port).json(), "x-forwarded-for") == ["127.0.0.1"]


def test_tcp_listener_untrusted_peer(start_lb, raw_backend):
    backend = raw_backend()
    port = free_port()
    listener = lbtest.tcp_listener(port, "raw", accept_proxy_protocol=True, trusted_proxies=["10.0.0.0/8"])
    lb = start_lb(make_config([listener], [target_group("raw", [backend.target], protocol="tcp")]))
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(v1(("203.0.113.7", 1)) + b"spoofed")
        assert closed_without_answer(sock)
    assert counters(lb, "tcp")["proxy_header_untrusted"] == 1
    # A direct client whose first bytes only look like the start of one is
    # held until they do not, then passed on untouched.
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(b"PRO")
        time.sleep(0.2)
        sock.sendall(b"TEST")
        assert backend.wait_connection(b"PROTEST") == b"PROTEST"
        assert recv_exact(sock, 7) == b"PROTEST"
    assert all(not data.startswith(b"PROXY") for data in backend.connections)


@pytest.mark.parametrize("listener_protocol", ["tcp", "tls_passthrough"])
def test_carried_address_goes_on_in_the_header_lb_sends(start_lb, raw_backend, listener_protocol):
    backend = raw_backend(echo=False)
    port = free_port()
    listener = {"name": "chain", "protocol": listener_protocol, "listen": f"{HOST}:{port}",
                "accept_proxy_protocol": True, "trusted_proxies": ["127.0.0.0/8"], "proxy_protocol": "v1",
                "default_action": {"forward": {"target_group": "raw"}}}
    start_lb(make_config([listener], [target_group("raw", [backend.target], protocol="tcp")]))
    payload = (tlstest.MemoryTlsClient(server_name="chain.test").client_hello()
               if listener_protocol == "tls_passthrough" else b"payload")
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(v2(("203.0.113.7", 4000), ("198.51.100.1", 443)) + payload)
        expected = b"PROXY TCP4 203.0.113.7 198.51.100.1 4000 443\r\n" + payload
        assert backend.wait_connection(expected[:20], len(expected)) == expected


def test_https_listener_reads_the_header_before_the_handshake(start_lb, backends, tls_certs):
    port = free_port()
    listener = lbtest.http_listener(port, "web", protocol="https", accept_proxy_protocol=True,
                                    trusted_proxies=["127.0.0.1/32"],
                                    tls={"certificates": [tls_certs.default.config]})
    start_lb(make_config([listener], [target_group("web", backends[:1])]))
    raw = socket.create_connection((HOST, port), timeout=10)
    raw.sendall(v1(("198.51.100.9", 443)))
    with lbtest.unverified_tls_context().wrap_socket(raw) as tls_sock:
        tls_sock.sendall(lbtest.build_request("GET", "/tls"))
        data = b""
        while b"}" not in data:
            chunk = tls_sock.recv(65536)
            if not chunk:
                break
            data += chunk
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert headers_named(body, "x-forwarded-for") == ["198.51.100.9"]
    assert headers_named(body, "x-forwarded-proto") == ["https"]


def test_source_ip_hash_uses_the_carried_address(start_lb, backends):
    port = free_port()
    listener = lbtest.http_listener(port, "web", accept_proxy_protocol=True, trusted_proxies=["127.0.0.1/32"])
    lb = start_lb(make_config([listener], [target_group("web", backends, algorithm="source_ip_hash")]))
    clients = [(f"198.51.100.{i}", 1000 + i) for i in range(1, 25)]

    def backend_for(client):
        response = request_with_header(port, v1(client))
        assert response.status == 200
        return response.header("x-backend")

    first = {client: backend_for(client) for client in clients}
    # Every connection really comes from 127.0.0.1: spreading over the
    # targets, and keeping each carried client in its place, is the header's doing.
    assert len(set(first.values())) >= 2
    for client in clients:
        assert backend_for((client[0], client[1] + 1)) == first[client]
    assert lb.proc.poll() is None
