"""HTTPS listeners: SNI certificate selection, RSA/ECDSA by signature
algorithms, HTTPS to plain targets, keep-alive and bodies over TLS,
WebSocket over TLS, handshake timeout, non-TLS input, HTTP -> HTTPS redirect.

Certificates come from the session's tls_certs (tlstest.CertSet)."""

import asyncio
import hashlib
import json
import os
import socket
import ssl
import subprocess
import time

import pytest
import websockets

import lbtest
import tlstest
from lbtest import HOST, HttpConn, free_port, headers_named, http_listener, make_config, target_group


def https_listener(port, group, certs, name="web-tls", policy=None, tls_extra=None, **extra):
    tls = {"certificates": [c.config for c in certs]}
    if policy:
        tls["policy"] = policy
    tls.update(tls_extra or {})
    return http_listener(port, group, name=name, protocol="https", tls=tls, **extra)


@pytest.fixture
def https_lb(start_lb, backends):
    """https_lb(certs, workers=1, policy=None, tls_extra=None, **listener_extra) -> (lb, port)."""

    def start(certs, workers=1, policy=None, tls_extra=None, **listener_extra):
        port = free_port()
        config = make_config([https_listener(port, "web", certs, policy=policy, tls_extra=tls_extra,
                                             **listener_extra)],
                             [target_group("web", backends)], workers=workers)
        return start_lb(config), port

    return start


def curl(*args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=timeout, text=True)


# ---------------------------------------------------------------- certificate selection

def test_sni_exact_then_wildcard_then_default(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default, tls_certs.wildcard, tls_certs.exact])
    expected = {
        "api.example.com": "api.example.com",        # exact beats the wildcard
        "API.Example.COM": "api.example.com",        # names are case-insensitive
        "www.example.com": "wildcard.example.com",   # one label under the wildcard
        "a.b.example.com": "default.test",           # two labels: not covered
        "example.com": "default.test",               # the apex is not covered
        "unknown.test": "default.test",              # unknown name: first certificate
        None: "default.test",                        # no SNI: first certificate
    }
    for name, cn in expected.items():
        result = tlstest.s_client(port, servername=name)
        assert result.handshake_ok, result
        assert result.cn == cn, (name, result)


def test_rsa_or_ecdsa_chosen_by_client_signature_algorithms(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default, tls_certs.both_rsa, tls_certs.both_ec])
    cases = [
        (["-sigalgs", "ECDSA+SHA256"], "dual-ecdsa", "ECDSA"),
        (["-sigalgs", "RSA-PSS+SHA256"], "dual-rsa", "RSA-PSS"),
        (["-tls1_2", "-sigalgs", "RSA+SHA256"], "dual-rsa", "RSA"),
        (["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "dual-rsa", None),
        ([], "dual-ecdsa", "ECDSA"),  # a client that can do both gets the cheaper ECDSA
    ]
    for args, cn, signature in cases:
        result = tlstest.s_client(port, servername="dual.example.com", args=args)
        assert result.handshake_ok, (args, result)
        assert result.cn == cn, (args, result)
        if signature:
            assert result.peer_signature_type == signature, (args, result)


def test_alpn_prefers_h2_then_http11(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default])
    result = tlstest.s_client(port, args=["-alpn", "http/1.1,h2"])
    assert result.alpn == "h2", result  # lb's order, not the client's
    result = tlstest.s_client(port, args=["-alpn", "http/1.1"])
    assert result.alpn == "http/1.1", result
    # A client offering none of them still connects, without ALPN.
    result = tlstest.s_client(port, args=["-alpn", "spdy/3"])
    assert result.handshake_ok and result.alpn is None, result


def test_alpn_without_h2_when_http2_is_off(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default], http2=False)
    result = tlstest.s_client(port, args=["-alpn", "h2,http/1.1"])
    assert result.alpn == "http/1.1", result
    result = tlstest.s_client(port, args=["-alpn", "h2"])
    assert result.handshake_ok and result.alpn is None, result


# ---------------------------------------------------------------- proxying over TLS

def test_curl_https_to_plain_backend_sets_forwarded_proto(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default], workers=2)
    # Verified by name against the certificate (it is its own CA).
    result = curl("-v", "--http1.1", "--cacert", tls_certs.default.cert, "--resolve", f"default.test:{port}:{HOST}",
                  f"https://default.test:{port}/hello?x=1")
    assert result.returncode == 0, result.stderr
    assert "ALPN: server accepted http/1.1" in result.stderr
    echo = json.loads(result.stdout)
    assert echo["path"] == "/hello" and echo["query"] == "x=1"
    assert headers_named(echo, "X-Forwarded-Proto") == ["https"]
    assert headers_named(echo, "X-Forwarded-Port") == [str(port)]
    assert headers_named(echo, "X-Forwarded-For") == ["127.0.0.1"]
    assert "tls" not in echo  # the target leg is plain HTTP


def test_keepalive_and_bodies_both_ways_over_tls(https_lb, tls_certs, backends):
    _, port = https_lb([tls_certs.default])
    body = os.urandom(3 * 1024 * 1024 + 17)
    with HttpConn(port, tls=True, server_name="default.test", timeout=30) as conn:
        conn.request("GET", "/bytes/2500000")
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b"".join(lbtest_pattern(2500000))
        conn.request("POST", "/upload", body=body)
        response = conn.read_response()
        assert response.status == 200
        assert response.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
        conn.request("GET", "/chunked/100000")
        response = conn.read_response()
        assert len(response.body) == 100000
        for i in range(20):
            conn.request("GET", f"/n/{i}")
            assert conn.read_response().json()["path"] == f"/n/{i}"


def lbtest_pattern(size):
    import backend  # the shared body pattern
    offset = 0
    while offset < size:
        n = min(size - offset, backend.IO_CHUNK)
        yield backend.pattern_slice(offset, n)
        offset += n


def test_websocket_over_https(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default])
    context = ssl.create_default_context(cafile=tls_certs.default.cert)

    async def session():
        async with websockets.connect(f"wss://{HOST}:{port}/ws", ssl=context, server_hostname="default.test",
                                      ping_interval=None, max_size=None, open_timeout=10) as ws:
            await ws.send("over tls")
            assert await ws.recv() == "over tls"
            data = os.urandom(300000)
            await ws.send(data)
            assert await ws.recv() == data
        return ws.close_code

    assert asyncio.run(asyncio.wait_for(session(), 30)) == 1000


# ---------------------------------------------------------------- bad clients

def _closed_within(sock, seconds):
    """Seconds until the peer closed (EOF or reset), or None if still open."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - start
    except (ConnectionResetError, ssl.SSLError):
        return time.monotonic() - start
    except socket.timeout:
        return None


def test_handshake_timeout_closes_silent_and_stalled_clients(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default], tls_extra={"handshake_timeout": "400ms"})
    hello = tlstest.MemoryTlsClient("default.test").client_hello()
    with socket.create_connection((HOST, port)) as silent, \
            socket.create_connection((HOST, port)) as stalled:
        stalled.sendall(hello[:20])  # part of a ClientHello, then nothing
        for sock in (silent, stalled):
            took = _closed_within(sock, 5)
            assert took is not None, "connection not closed by the handshake timeout"
            assert took < 3
    # Without the timeout the idle timeout (60s) would be all there is.
    assert tlstest.s_client(port).handshake_ok


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",  # a ClientHello one byte long
    bytes(range(256)) * 4,
])
def test_non_tls_input_is_closed_not_hung(https_lb, tls_certs, garbage):
    lb, port = https_lb([tls_certs.default])
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(garbage)
        assert _closed_within(sock, 5) is not None
    assert tlstest.s_client(port).handshake_ok
    assert lb.proc.poll() is None


def test_broken_hello_gets_a_decode_error_alert(https_lb, tls_certs):
    _, port = https_lb([tls_certs.default])
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00")
        sock.settimeout(5)
        answer = sock.recv(100)
    assert answer[:1] == b"\x15" and answer[5:7] == b"\x02\x32", answer  # fatal decode_error


# ---------------------------------------------------------------- HTTP -> HTTPS

def test_redirect_http_to_https_then_served_over_tls(start_lb, backends, tls_certs):
    http_port, https_port = free_port(), free_port()
    plain = http_listener(http_port, "web", name="web")
    plain["default_action"] = {"redirect": {"protocol": "HTTPS", "port": str(https_port), "status": 301}}
    config = make_config([plain, https_listener(https_port, "web", [tls_certs.default])],
                         [target_group("web", backends)])
    start_lb(config)
    response = lbtest.get(http_port, "/shop/cart?id=7", headers=[("Host", "default.test")])
    assert response.status == 301
    assert response.header("Location") == f"https://default.test:{https_port}/shop/cart?id=7"
    result = curl("-L", "--cacert", tls_certs.default.cert, "--resolve", f"default.test:{http_port}:{HOST}",
                  "--resolve", f"default.test:{https_port}:{HOST}", f"http://default.test:{http_port}/shop/cart?id=7")
    assert result.returncode == 0, result.stderr
    echo = json.loads(result.stdout)
    assert echo["path"] == "/shop/cart" and echo["query"] == "id=7"
    assert headers_named(echo, "X-Forwarded-Proto") == ["https"]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_close_notify_right_after_the_request_still_gets_the_answer(https_lb, tls_certs, version):
    """A client that half-closes (close_notify) after its request, as over plain
    TCP with a FIN: lb answers, then closes."""
    _, port = https_lb([tls_certs.default])
    context = lbtest.unverified_tls_context()
    context.maximum_version = version
    client = tlstest.MemoryTlsClient("default.test", context)
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(client.client_hello())
        client.finish_handshake(sock)
        sock.sendall(client.encrypt(lbtest.build_request("GET", "/delay/100", host="default.test")))
        try:
            client.obj.unwrap()  # queues close_notify
        except ssl.SSLWantReadError:
            pass
        sock.sendall(client.outgoing.read())
        answer = client.read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
    assert b'"path": "/delay/100"' in answer
