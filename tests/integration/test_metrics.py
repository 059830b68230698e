"""/metrics as Prometheus sees it: the exposition passes `promtool check
metrics` while traffic flows, and the latency and size histograms put what
known fast and slow backends did into the right buckets. TLS handshake
counters by version, resumption and failure."""

import shutil
import socket
import ssl
import subprocess
import threading

import pytest
import requests

import lbtest
import tlstest
from lbtest import HOST, free_port, http_listener, make_config, metric, target_group
from test_tls_termination import https_listener

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) is not installed")

SLOW_MS = 300


def rule(priority, path, forward):
    return {"priority": priority, "conditions": {"path": [path]}, "action": {"forward": forward}}


def start(start_lb, backends, tls_certs=None):
    """One http listener routing /slow to the `slow` group (which reaches its
    backend as /delay/SLOW_MS) and the rest to `fast`, a /local fixed
    answer, and (with certificates) an https listener."""
    port = free_port()
    listener = http_listener(port, "fast")
    listener["rules"] = [
        rule(10, "/slow", {"target_group": "slow",
                           "path_rewrite": {"prefix": "/slow", "replacement": f"/delay/{SLOW_MS}"}}),
        {"priority": 20, "conditions": {"path": ["/local"]},
         "action": {"fixed_response": {"status": 200, "content_type": "text/plain", "body": "here"}}},
    ]
    listeners = [listener]
    tls_port = None
    if tls_certs:
        tls_port = free_port()
        listeners.append(https_listener(tls_port, "fast", [tls_certs.default]))
    config = make_config(listeners, [target_group("fast", backends[:1]), target_group("slow", backends[1:2])])
    lb = start_lb(config)
    admin = "http://" + config["global"]["admin"]["listen"]
    return lb, admin, port, tls_port


def scrape(admin):
    response = requests.get(admin + "/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def promtool_check(text):
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).strip()


def test_exposition_passes_promtool_under_load(start_lb, backends, tls_certs):
    lb, admin, port, tls_port = start(start_lb, backends, tls_certs)
    stop = threading.Event()
    sent = [0]

    def traffic():
        session = requests.Session()
        while not stop.is_set():
            for path in ("/", "/bytes/3000", "/local", "/status/503", "/slow"):
                session.get(f"http://{HOST}:{port}{path}", timeout=10)
                sent[0] += 1
            requests.get(f"https://{HOST}:{tls_port}/", verify=False, timeout=10)

    threads = [threading.Thread(target=traffic) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        lbtest.wait_for(lambda: sent[0] >= 20, what="traffic to flow")
        for _ in range(5):
            text = scrape(admin)
            code, output = promtool_check(text)
            assert code == 0 and output == "", output
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    text = scrape(admin)
    for family in ("lb_listener_http_request_duration_seconds", "lb_target_group_http_first_byte_seconds",
                   "lb_listener_http_response_size_bytes", "lb_target_group_http_connect_duration_seconds"):
        assert f"# TYPE {family} histogram" in text
    assert metric(text, "lb_listener_http_request_duration_seconds_count", listener="web") > 0


def bucket(text, family, le, **labels):
    return metric(text, family + "_bucket", **labels, le=le)


def test_buckets_separate_a_fast_backend_from_a_slow_one(start_lb, backends):
    lb, admin, port, _ = start(start_lb, backends)
    fast, slow = 20, 6
    with lbtest.HttpConn(port) as conn:
        for _ in range(fast):
            conn.request("GET", "/bytes/5000")
            assert conn.read_response().status == 200
        for _ in range(slow):
            conn.request("GET", "/slow")
            assert conn.read_response().status == 200
        conn.request("POST", "/upload", body=b"u" * 100_000)
        assert conn.read_response().status == 200
        conn.request("GET", "/local")
        assert conn.read_response().body == b"here"
    # The last exchange is counted as it is logged, just after its answer.
    lbtest.wait_for(lambda: metric(scrape(admin), "lb_listener_http_request_duration_seconds_count",
                                   listener="web") == fast + slow + 2, what="every exchange counted")
    text = scrape(admin)
    duration = "lb_target_group_http_request_duration_seconds"
    first_byte = "lb_target_group_http_first_byte_seconds"
    # The fast group (20 GETs and the upload) answers well under 100 ms...
    assert metric(text, duration + "_count", target_group="fast") == fast + 1
    assert bucket(text, duration, "0.1", target_group="fast") == fast + 1
    # ...the slow one after its 300 ms delay, in no bucket below 0.25 s.
    assert metric(text, duration + "_count", target_group="slow") == slow
    assert bucket(text, duration, "0.25", target_group="slow") == 0
    assert bucket(text, duration, "1", target_group="slow") == slow
    assert bucket(text, first_byte, "0.25", target_group="slow") == 0
    assert bucket(text, first_byte, "1", target_group="slow") == slow
    assert SLOW_MS / 1000 * slow <= metric(text, duration + "_sum", target_group="slow") <= 1.0 * slow
    # One keep-alive connection per target: one connect each, however many requests.
    connect = "lb_target_group_http_connect_duration_seconds"
    assert metric(text, connect + "_count", target_group="fast") == 1
    assert metric(text, connect + "_count", target_group="slow") == 1
    # Sizes: 5000-byte answers sit in (4 KiB, 16 KiB]; the upload's body in (64 KiB, 256 KiB].
    response_size = "lb_target_group_http_response_size_bytes"
    assert bucket(text, response_size, "4096", target_group="fast") == 1  # the upload's small JSON answer
    assert bucket(text, response_size, "16384", target_group="fast") == fast + 1
    request_size = "lb_target_group_http_request_size_bytes"
    assert bucket(text, request_size, "65536", target_group="fast") == fast
    assert bucket(text, request_size, "262144", target_group="fast") == fast + 1
    assert metric(text, request_size + "_sum", target_group="fast") == 100_000
    # The listener saw all of it, lb's own /local answer too; +Inf holds everything.
    assert bucket(text, "lb_listener_http_request_duration_seconds", "+Inf", listener="web") == fast + slow + 2
    assert metric(text, "lb_listener_http_first_byte_seconds_count", listener="web") == fast + slow + 1


def client_context(version):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    return context


def handshake(port, context, session=None):
    with socket.create_connection((HOST, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="default.test", session=session) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while tls.recv(4096):
                pass
            return tls.session, tls.session_reused


def test_tls_handshakes_by_version_resumption_and_failure(start_lb, backends, tls_certs):
    lb, admin, _, tls_port = start(start_lb, backends, tls_certs)
    tls12 = client_context(ssl.TLSVersion.TLSv1_2)
    session, reused = handshake(tls_port, tls12)
    assert not reused
    _, reused = handshake(tls_port, tls12, session)
    assert reused
    handshake(tls_port, client_context(ssl.TLSVersion.TLSv1_3))
    # Not a ClientHello: a protocol failure.
    with socket.create_connection((HOST, tls_port), timeout=10) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.settimeout(10)
        try:
            while raw.recv(4096):  # lb's alert, then its close
                pass
        except ConnectionResetError:
            pass
    labels = {"listener": "web-tls"}

    def counted():
        text = scrape(admin)
        return (metric(text, "lb_listener_tls_handshake_failures_total", **labels, reason="protocol") == 1
                and text)

    text = lbtest.wait_for(counted, what="the failed handshake counted")
    assert metric(text, "lb_listener_tls_handshakes_total", **labels, version="TLSv1.2") == 2
    assert metric(text, "lb_listener_tls_handshakes_total", **labels, version="TLSv1.3") == 1
    assert metric(text, "lb_listener_tls_handshakes_total", **labels, version="TLSv1") == 0
    assert metric(text, "lb_listener_tls_resumed_total", **labels) == 1
    code, output = promtool_check(text)
    assert code == 0, output
