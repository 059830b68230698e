"""HTTPS target groups: lb connects to targets over TLS, verifies them
(tls.ca_file or the system store; `verify: false` to opt out), sends
tls.server_name as SNI, pools the connections, and treats a failed handshake
like a failed connect (next target, else 502)."""

import hashlib
import json
import os
import subprocess

import pytest

from lbtest import HOST, HttpConn, free_port, get, http_listener, make_config, target_group
from test_tls_termination import https_listener
from test_upstream_habits import target_receive_buffers


@pytest.fixture
def tls_backends(start_backend, tls_certs):
    """Two HTTPS backends with the CA-signed certificate (backend.test, 127.0.0.1)."""
    return [start_backend(f"s{i}", tls=tls_certs.backend.tls) for i in (1, 2)]


def secure_group(targets, tls=None, **extra):
    group = target_group("secure", targets, protocol="https", **extra)
    if tls is not None:
        group["tls"] = tls
    return group


def start_proxy(start_lb, group, workers=1):
    port = free_port()
    return start_lb(make_config([http_listener(port, "secure")], [group], workers=workers)), port


def test_verified_connection_with_server_name(start_lb, tls_backends, tls_certs):
    _, port = start_proxy(start_lb, secure_group(tls_backends, {"ca_file": tls_certs.ca.cert,
                                                                "server_name": "backend.test"}))
    response = get(port, "/secure")
    assert response.status == 200, response
    echo = response.json()
    assert echo["tls"]["sni"] == "backend.test"
    assert echo["tls"]["version"] == "TLSv1.3"
    assert echo["tls"]["alpn"] == "http/1.1"
    assert echo["path"] == "/secure"


def test_receive_buffer_is_set_on_https_target_connections(start_lb, tls_backends, tls_certs):
    """The TLS connect path passes receive_buffer to its TCP socket too."""
    _, port = start_proxy(start_lb, secure_group(tls_backends[:1], {"ca_file": tls_certs.ca.cert},
                                                 receive_buffer="40k"))
    with HttpConn(port) as conn:  # held open: lb's pooled connection to the target stays established
        conn.request("GET", "/")
        assert conn.read_response().status == 200
        assert target_receive_buffers(tls_backends[0].port) == [2 * 40 * 1024]


def test_without_server_name_the_ip_is_verified_and_no_sni_sent(start_lb, tls_backends, tls_certs):
    _, port = start_proxy(start_lb, secure_group(tls_backends, {"ca_file": tls_certs.ca.cert}))
    response = get(port, "/")
    assert response.status == 200, response
    assert response.json()["tls"]["sni"] is None


def test_unknown_ca_is_refused_with_502_and_logged(start_lb, tls_backends, tls_certs):
    lb, port = start_proxy(start_lb, secure_group(tls_backends, {"ca_file": tls_certs.default.cert,
                                                                 "server_name": "backend.test"}))
    before = [backend.stats() for backend in tls_backends]
    response = get(port, "/")
    assert response.status == 502
    assert "certificate verify failed" in lb.stderr()
    assert "target TLS handshake failed" in lb.stdout()  # the access log says why
    for backend, earlier in zip(tls_backends, before):  # reached over TCP, never sent a request
        stats = backend.stats()
        assert stats["tcp_accepts"] > earlier["tcp_accepts"]
        assert stats["requests"] == earlier["requests"]


def test_wrong_server_name_is_refused(start_lb, tls_backends, tls_certs):
    _, port = start_proxy(start_lb, secure_group(tls_backends, {"ca_file": tls_certs.ca.cert,
                                                                "server_name": "other.test"}))
    assert get(port, "/").status == 502


def test_verify_false_accepts_any_certificate(start_lb, tls_backends, tls_certs):
    _, port = start_proxy(start_lb, secure_group(tls_backends, {"verify": False, "server_name": "other.test"}))
    response = get(port, "/")
    assert response.status == 200
    assert response.json()["tls"]["sni"] == "other.test"


def test_connections_are_pooled(start_lb, start_backend, tls_certs):
    backend = start_backend("pooled", tls=tls_certs.backend.tls)
    _, port = start_proxy(start_lb, secure_group([backend], {"ca_file": tls_certs.ca.cert}))
    with HttpConn(port) as conn:
        for i in range(10):
            conn.request("GET", f"/{i}")
            assert conn.read_response().status == 200
    for i in range(5):  # new client connections, same pooled target connection
        assert get(port, f"/again/{i}").status == 200
    stats = backend.stats()
    assert stats["requests"] == 15
    assert stats["connections"] == 2  # one pooled TLS connection plus this stats call


def test_failed_handshake_moves_on_to_the_next_target(start_lb, start_backend, tls_certs):
    echo = start_backend("echo", tcp_echo=True)  # answers our ClientHello with itself: handshake fails
    secure = start_backend("secure1", tls=tls_certs.backend.tls)
    _, port = start_proxy(start_lb, secure_group([echo, secure], {"ca_file": tls_certs.ca.cert}))
    for i in range(6):
        response = get(port, f"/{i}")
        assert response.status == 200, response
        assert response.json()["backend"] == "secure1"
    assert echo.log_text().count("accept") >= 3  # it was tried, and failed over


def test_silent_target_handshake_times_out_then_next_target(start_lb, start_backend, tls_certs):
    plain = start_backend("plain")  # an HTTP server waits for a request: no ServerHello ever
    secure = start_backend("secure2", tls=tls_certs.backend.tls)
    _, port = start_proxy(start_lb, secure_group([plain, secure], {"ca_file": tls_certs.ca.cert},
                                                 connect_timeout="300ms"))
    for i in range(4):
        response = get(port, f"/{i}")
        assert response.status == 200, response
        assert response.json()["backend"] == "secure2"


def test_https_listener_to_https_targets_with_big_bodies(start_lb, tls_backends, tls_certs):
    port = free_port()
    config = make_config([https_listener(port, "secure", [tls_certs.default])],
                         [secure_group(tls_backends, {"ca_file": tls_certs.ca.cert, "server_name": "backend.test"})],
                         workers=2)
    start_lb(config)
    body = os.urandom(5 * 1024 * 1024 + 3)
    upload = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lb-upload-{port}")
    with open(upload, "wb") as f:
        f.write(body)
    try:
        result = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", tls_certs.default.cert,
                                 "--resolve", f"default.test:{port}:{HOST}", "--data-binary", f"@{upload}",
                                 f"https://default.test:{port}/upload"], capture_output=True, timeout=40)
    finally:
        os.unlink(upload)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["body_sha256"] == hashlib.sha256(body).hexdigest()
    result = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", tls_certs.default.cert,
                             "--resolve", f"default.test:{port}:{HOST}", f"https://default.test:{port}/bytes/8000000"],
                            capture_output=True, timeout=40)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == 8000000


def test_bad_ca_file_is_a_config_error(tmp_path, tls_certs):
    from lbtest import run_lb, to_yaml
    bad_ca = os.path.join(str(tmp_path), "not-a-ca.pem")
    with open(bad_ca, "w") as f:
        f.write("nothing here\n")
    config = make_config([http_listener(free_port(), "secure")],
                         [secure_group([{"address": HOST, "port": 1}], {"ca_file": bad_ca})])
    path = os.path.join(str(tmp_path), "lb.yaml")
    with open(path, "w") as f:
        f.write(to_yaml(config))
    result = run_lb("-t", "-c", path)
    assert result.returncode != 0
    assert f"tls.ca_file {bad_ca}: no usable CA certificates" in result.stderr, result.stderr
