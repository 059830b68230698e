"""tls_passthrough listeners: lb reads the ClientHello without terminating
TLS, routes its SNI through the listener's host rules, and tunnels the bytes
untouched, so the client talks TLS with the target itself. A hello split
into tiny TCP segments or many TLS records still routes; anything that is not
a ClientHello is closed with nothing forwarded."""

import json
import os
import socket
import subprocess
import time

import pytest

import tlstest
from lbtest import HOST, free_port, make_config, target_group, wait_for


@pytest.fixture(scope="module")
def site_certs(tmp_path_factory):
    """Each target has its own certificate: the one the client sees names the target."""
    directory = str(tmp_path_factory.mktemp("passthrough-certs"))
    return {
        "api": tlstest.make_cert(directory, "api", "api.example.com", ["DNS:api.example.com"]),
        "shop": tlstest.make_cert(directory, "shop", "shop-backend", ["DNS:*.shop.test"]),
        "fallback": tlstest.make_cert(directory, "fallback", "fallback-backend", ["DNS:fallback.test"]),
    }


def passthrough_listener(port, rules, default_group, name="pass", **extra):
    listener = {"name": name, "protocol": "tls_passthrough", "listen": f"{HOST}:{port}"}
    listener.update(extra)
    listener["rules"] = rules
    listener["default_action"] = {"forward": {"target_group": default_group}}
    return listener


def host_rule(priority, hosts, group):
    return {"priority": priority, "conditions": {"host": hosts}, "action": {"forward": {"target_group": group}}}


@pytest.fixture
def passthrough(start_lb, start_backend, site_certs):
    """A passthrough listener: api.example.com -> api, *.shop.test -> shop,
    everything else -> fallback; each group one HTTPS backend with its own cert."""

    def start(default_targets=None, workers=1, **listener_extra):
        backends = {name: start_backend(f"pt-{name}", tls=cert.tls) for name, cert in site_certs.items()}
        port = free_port()
        rules = [host_rule(10, ["api.example.com"], "api"), host_rule(20, ["*.shop.test"], "shop")]
        groups = [target_group("api", [backends["api"]], protocol="tcp"),
                  target_group("shop", [backends["shop"]], protocol="tcp"),
                  target_group("fallback", default_targets or [backends["fallback"]], protocol="tcp")]
        lb = start_lb(make_config([passthrough_listener(port, rules, "fallback", **listener_extra)], groups,
                                  workers=workers))
        return lb, port, backends

    return start


def test_sni_routes_and_the_target_certificate_reaches_the_client(passthrough):
    _, port, _ = passthrough(workers=2)
    cases = {
        "api.example.com": "api.example.com",
        "API.EXAMPLE.COM": "api.example.com",
        "cart.shop.test": "shop-backend",
        "deep.cart.shop.test": "shop-backend",  # rule wildcards match any run of characters
        "other.test": "fallback-backend",
        None: "fallback-backend",               # no SNI: the default action
    }
    for name, cn in cases.items():
        result = tlstest.s_client(port, servername=name)
        assert result.handshake_ok, (name, result)
        assert result.cn == cn, (name, result)
        assert "200 OK" in result.out


def test_bytes_pass_untouched_end_to_end(passthrough, site_certs):
    lb, port, _ = passthrough()
    result = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", site_certs["api"].cert,
                             "--resolve", f"api.example.com:{port}:{HOST}",
                             f"https://api.example.com:{port}/through?x=1"], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    echo = json.loads(result.stdout)
    assert echo["backend"] == "pt-api"
    assert echo["tls"]["sni"] == "api.example.com"  # the client's own SNI reached the target
    # No forwarding headers: lb never saw the HTTP inside.
    assert not any(k.lower().startswith("x-forwarded") for k, _ in echo["headers"])
    result = subprocess.run(["curl", "-sS", "--max-time", "20", "-k", "--resolve", f"x.shop.test:{port}:{HOST}",
                             f"https://x.shop.test:{port}/bytes/6000000"], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == 6000000
    # The access log has one tunnel line per connection, with the SNI as host.
    lines = wait_for(lambda: [json.loads(l) for l in lb.stdout().splitlines() if '"tunnel"' in l][-2:]
                     if lb.stdout().count('"tunnel"') >= 2 else None, what="tunnel log lines")
    assert [(l["host"], l["target_group"]) for l in lines] == [("api.example.com", "api"), ("x.shop.test", "shop")]
    assert lines[1]["bytes_out"] > 6000000


@pytest.mark.parametrize("segment", [1, 3])
def test_client_hello_in_tiny_tcp_segments(passthrough, segment):
    _, port, _ = passthrough()
    client = tlstest.MemoryTlsClient("api.example.com")
    hello = client.client_hello()
    with socket.create_connection((HOST, port), timeout=10) as sock:
        tlstest.send_in_pieces(sock, hello, size=segment, pause=0.001)
        client.finish_handshake(sock)
        assert client.peer_cn() == "api.example.com"
        sock.sendall(client.encrypt(b"GET /frag HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n"))
        answer = client.read_all(sock)
    assert b"200 OK" in answer and b'"backend": "pt-api"' in answer


def test_client_hello_split_across_tls_records(passthrough):
    _, port, _ = passthrough()
    client = tlstest.MemoryTlsClient("cart.shop.test")
    hello = client.client_hello()
    assert hello[0] == 22 and len(hello) == 5 + (hello[3] << 8 | hello[4]), "expected one record"
    message = hello[5:]
    records = b"".join(bytes([22, 3, 1, 0, len(message[i:i + 40])]) + message[i:i + 40]
                       for i in range(0, len(message), 40))
    with socket.create_connection((HOST, port), timeout=10) as sock:
        tlstest.send_in_pieces(sock, records, size=7, pause=0.001)
        client.finish_handshake(sock)
        assert client.peer_cn() == "shop-backend"


def _closed_without_answer(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    assert data == b"", data
    return True


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
    b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00",  # a handshake record, but not a ClientHello
    b"SSH-2.0-OpenSSH_9.2\r\n",
])
def test_garbage_is_closed_and_never_forwarded(passthrough, start_backend, garbage):
    echo = start_backend("pt-echo", tcp_echo=True)
    lb, port, _ = passthrough(default_targets=[echo])
    accepts_before = echo.log_text().count("accept")
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(garbage)
        assert _closed_without_answer(sock)
    # The control: a real hello to the same default group does reach the
    # echo target. Had the garbage been forwarded, its connection would have
    # been opened before this one: the target would see two accepts.
    client = tlstest.MemoryTlsClient(None)
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(client.client_hello())
        sock.settimeout(5)
        assert sock.recv(5)[:1] == b"\x16"  # our own hello, echoed back by the target
    wait_for(lambda: echo.log_text().count("accept") >= accepts_before + 1, what="echo target accept")
    assert echo.log_text().count("accept") == accepts_before + 1, echo.log_text()


def test_incomplete_hello_times_out_without_forwarding(passthrough, start_backend):
    echo = start_backend("pt-echo2", tcp_echo=True)
    _, port, _ = passthrough(default_targets=[echo], header_timeout="500ms")
    accepts_before = echo.log_text().count("accept")  # the readiness probe
    hello = tlstest.MemoryTlsClient("api.example.com").client_hello()
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(hello[:30])
        start = time.monotonic()
        assert _closed_without_answer(sock, timeout=5)
        assert time.monotonic() - start < 3
    assert echo.log_text().count("accept") == accepts_before


def test_unreachable_target_resets_the_client(start_lb):
    port = free_port()
    dead = {"address": HOST, "port": free_port()}
    start_lb(make_config([passthrough_listener(port, [], "gone")],
                         [target_group("gone", [dead], protocol="tcp")]))
    result = tlstest.s_client(port, servername="api.example.com")
    assert not result.handshake_ok
