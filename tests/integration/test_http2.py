"""HTTP/2 to clients: ALPN h2 on https listeners, h2c with prior knowledge,
each stream an exchange (routing, cookies, X-Forwarded-*, access log),
flow control both ways, and the limits against HTTP/2's abuses (rapid
reset, CONTINUATION and control-frame floods, oversized header lists,
windows never opened), graceful GOAWAY.

Real clients: curl --http2, nghttp (nghttp2-client), and python3-h2 for
frame-level cases (h2test.H2Client)."""

import hashlib
import os
import json
import signal
import socket
import subprocess
import time

import h2.settings
import pytest
from hyperframe.frame import ContinuationFrame, HeadersFrame, SettingsFrame

import h2test
import lbtest
from backend import pattern_slice
from lbtest import HOST, free_port, make_config, target_group

ENHANCE_YOUR_CALM = 11
NO_ERROR = 0
CANCEL = 8


def https_h2_listener(port, certs, **extra):
    listener = {"name": "web", "protocol": "https", "listen": f"{HOST}:{port}",
                "tls": {"certificates": [certs.default.config]}}
    listener.update(extra)
    listener["default_action"] = {"forward": {"target_group": "web"}}
    return listener


@pytest.fixture
def h2_lb(start_lb, backends, tls_certs):
    """h2_lb(listener_extra={}, group_extra={}, h2c=False) -> (lb, port): an
    https listener (h2 by ALPN), or with h2c an http listener with
    http2: prior_knowledge, to the shared backends."""

    def start(listener_extra=None, group_extra=None, h2c=False, targets=None, **global_extra):
        port = free_port()
        extra = dict(listener_extra or {})
        if h2c:
            listener = lbtest.http_listener(port, "web", http2="prior_knowledge", **extra)
        else:
            listener = https_h2_listener(port, tls_certs, **extra)
        config = make_config([listener], [target_group("web", backends if targets is None else targets,
                                                         **(group_extra or {}))], **global_extra)
        return start_lb(config), port

    return start


def access_entries(lb, count, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        entries = lb.access_entries()
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True, text=True, timeout=20)


def echo(stream):
    assert stream.status == 200, (stream.status, bytes(stream.data[:200]))
    return json.loads(bytes(stream.data))


def echoed_header(request_echo, name):
    return [value for key, value in request_echo["headers"] if key.lower() == name]


# ---------------------------------------------------------------- negotiation and real clients

def test_curl_and_nghttp_get_h2_over_https_and_the_access_log_says_so(h2_lb):
    lb, port = h2_lb()
    result = curl("-k", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                  f"https://localhost:{port}/curl")
    assert result.stdout == "2 200", result
    result = subprocess.run(["nghttp", "-n", "-s", "-m", "5", f"https://localhost:{port}/nghttp"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    entries = access_entries(lb, 6)
    h2_entries = [e for e in entries if e["protocol"] == "HTTP/2.0"]
    assert len(h2_entries) == 6, entries
    assert {e["url"] for e in h2_entries} == {"/curl", "/nghttp"}
    assert all(e["status"] == 200 and e["target_group"] == "web" for e in h2_entries)


def test_http2_false_offers_only_http11(h2_lb):
    _, port = h2_lb({"http2": False})
    result = curl("-k", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                  f"https://localhost:{port}/")
    assert result.stdout == "1.1 200", result


def test_h2c_prior_knowledge_and_http11_share_the_listener(h2_lb):
    lb, port = h2_lb(h2c=True)
    result = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                  f"http://{HOST}:{port}/h2c")
    assert result.stdout == "2 200", result
    result = curl("-o", "/dev/null", "-w", "%{http_version} %{http_code}", f"http://{HOST}:{port}/h1")
    assert result.stdout == "1.1 200", result
    # The preface in pieces is still the preface.
    sock = socket.create_connection((HOST, port))
    for piece in (h2test.PREFACE[:3], h2test.PREFACE[3:10], h2test.PREFACE[10:]):
        sock.sendall(piece)
        time.sleep(0.02)
    client = h2test.H2Client(sock, preface_sent=True)
    assert client.response(client.request("/pieces", scheme="http")).status == 200
    protocols = {e["url"]: e["protocol"] for e in access_entries(lb, 3)}
    assert protocols == {"/h2c": "HTTP/2.0", "/h1": "HTTP/1.1", "/pieces": "HTTP/2.0"}


def test_plain_listener_without_prior_knowledge_refuses_the_preface(http_lb):
    _, port = http_lb()
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.sendall(h2test.PREFACE)
    data, _ = h2test.read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 4"), data[:80]


# ---------------------------------------------------------------- each stream is an exchange

def test_request_translation_authority_cookies_and_forwarded_headers(h2_lb):
    _, port = h2_lb()
    client = h2test.H2Client.connect(port)
    sid = client.request("/echo?x=1", authority="app.example:8443",
                         headers=[("cookie", "a=1"), ("cookie", "b=2"), ("x-custom", "v"), ("te", "trailers")])
    request = echo(client.response(sid))
    assert request["path"] == "/echo"
    assert echoed_header(request, "host") == ["app.example:8443"]
    assert echoed_header(request, "cookie") == ["a=1; b=2"]
    assert echoed_header(request, "x-custom") == ["v"]
    assert echoed_header(request, "x-forwarded-proto") == ["https"]
    assert echoed_header(request, "x-forwarded-for") == [HOST]


def test_many_concurrent_streams_with_interleaved_bodies(h2_lb):
    _, port = h2_lb()
    client = h2test.H2Client.connect(port)
    sizes = [1000 + 6007 * i for i in range(40)]  # pattern_slice reaches 276,100 bytes
    sids = {client.request(f"/bytes/{n}"): n for n in sizes}
    for sid, n in sids.items():
        stream = client.response(sid)
        assert stream.status == 200 and stream.ended
        assert bytes(stream.data) == pattern_slice(0, n), sid


def test_uploads_on_parallel_streams_arrive_whole(h2_lb):
    _, port = h2_lb()
    client = h2test.H2Client.connect(port)
    bodies = {}
    for i in range(4):
        body = pattern_slice(i, 300_000 + i)
        sid = client.request("/upload", method="POST", body=body, headers=[("content-length", str(len(body)))])
        bodies[sid] = body
    # One without content-length: it reaches the target chunked.
    body = pattern_slice(9, 200_000)
    sid = client.request("/upload", method="POST", body=body)
    bodies[sid] = body
    for sid, body in bodies.items():
        answer = echo(client.response(sid))
        assert answer["body_len"] == len(body)
        assert answer["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_set_cookie_fields_stay_separate_with_the_stickiness_cookie(h2_lb):
    _, port = h2_lb(group_extra={"stickiness": {"type": "lb_cookie", "duration": "1h"}})
    client = h2test.H2Client.connect(port)
    stream = client.response(client.request("/response-headers?Set-Cookie=a=1&Set-Cookie=b=2"))
    assert stream.status == 200
    cookies = stream.header_values("set-cookie")
    assert "a=1" in cookies and "b=2" in cookies
    assert any(c.startswith("AWSALB=") or c.lower().startswith("lb") for c in cookies if c not in ("a=1", "b=2")), \
        cookies
    # No connection-specific field reaches an HTTP/2 client.
    names = {name for name, _ in stream.headers}
    assert not names & {"connection", "keep-alive", "transfer-encoding"}


def test_fixed_response_redirect_and_errors_over_h2(h2_lb, tls_certs):
    listener_extra = {"rules": [
        {"priority": 1, "conditions": {"path": ["/fixed"]},
         "action": {"fixed_response": {"status": 418, "content_type": "text/plain", "body": "teapot"}}},
        {"priority": 2, "conditions": {"path": ["/moved"]},
         "action": {"redirect": {"host": "elsewhere.test", "status": 301}}},
    ]}
    _, port = h2_lb(listener_extra)
    client = h2test.H2Client.connect(port)
    fixed = client.response(client.request("/fixed"))
    assert fixed.status == 418 and bytes(fixed.data) == b"teapot"
    moved = client.response(client.request("/moved"))
    assert moved.status == 301 and moved.header("location").startswith("https://elsewhere.test")
    bad = client.response(client.request("/%zz"))
    assert bad.status == 400
    assert client.response(client.request("/after")).status == 200  # the connection carries on


def test_head_and_no_content_end_with_the_headers(h2_lb):
    _, port = h2_lb()
    client = h2test.H2Client.connect(port)
    head = client.response(client.request("/bytes/5000", method="HEAD"))
    assert head.status == 200 and head.ended and not head.data
    nocontent = client.response(client.request("/nocontent"))
    assert nocontent.status == 204 and nocontent.ended and not nocontent.data


# ---------------------------------------------------------------- flow control

def test_a_stream_whose_window_is_shut_does_not_stall_the_others(h2_lb):
    _, port = h2_lb()
    # The client reopens the connection's window as data comes, and the
    # streams' windows only for the streams it reads: the first it never does.
    client = h2test.H2Client.connect(port, auto_ack="connection")
    stuck = client.request("/bytes/3000000")
    client.pump(time.monotonic() + 5, until=lambda: len(client.streams[stuck].data) >= 65535)
    assert len(client.streams[stuck].data) == 65535  # the stream window, then nothing
    for i in range(5):  # each fits its stream's first window
        sid = client.request(f"/bytes/{20000 + i}")
        stream = client.streams[sid]
        assert client.pump(time.monotonic() + 10, until=lambda: stream.ended), len(stream.data)
        assert bytes(stream.data) == pattern_slice(0, 20000 + i)
    assert len(client.streams[stuck].data) == 65535 and not client.streams[stuck].ended


def test_an_upload_to_a_slow_target_is_held_by_the_stream_window(h2_lb):
    # A target whose connections are never accepted, so never read: the
    # kernel's buffers and lb's upstream queue fill, the exchange pauses,
    # and the client's window is not reopened.
    silent = socket.socket()
    silent.bind((HOST, 0))
    silent.listen(8)
    target = {"address": HOST, "port": silent.getsockname()[1]}
    _, port = h2_lb(targets=[target], group_extra={"response_timeout": "30s"})
    client = h2test.H2Client.connect(port)
    sid = client.request("/upload", method="POST", end_stream=False)
    sent = 0
    chunk = b"x" * 16384
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if client.conn.local_flow_control_window(sid) < len(chunk):
            if not client.pump(time.monotonic() + 1.0,
                               until=lambda: client.conn.local_flow_control_window(sid) >= len(chunk)):
                break
            continue
        client.conn.send_data(sid, chunk)
        client.flush()
        sent += len(chunk)
    # The kernel's buffers and lb's queue (a few MB) hold the rest; then the
    # window stays shut instead of lb buffering without end.
    assert sent < 32 * 1024 * 1024, sent
    assert client.conn.local_flow_control_window(sid) < len(chunk)
    silent.close()


# ---------------------------------------------------------------- limits and abuse

def test_rapid_reset_gets_goaway_enhance_your_calm(h2_lb):
    lb, port = h2_lb({"http2_limits": {"reset_rate": {"per_second": 10, "burst": 20}}})
    client = h2test.H2Client.connect(port)
    try:
        for _ in range(200):
            client.reset(client.request("/delay/2000"))
    except OSError:
        pass  # lb closed the connection while we were still resetting
    code, _ = client.wait_goaway()
    assert code == ENHANCE_YOUR_CALM
    assert client.wait_closed()
    # Other connections are untouched.
    other = h2test.H2Client.connect(port)
    assert other.response(other.request("/")).status == 200


def flood_ping(client):
    for i in range(300):
        client.conn.ping(i.to_bytes(8, "big"))


def flood_settings(client):
    for _ in range(300):
        client.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})


def flood_empty_data(client):
    sid = client.request("/upload", method="POST", end_stream=False)
    for _ in range(300):
        client.conn.send_data(sid, b"")


@pytest.mark.parametrize("flood", [flood_ping, flood_settings, flood_empty_data], ids=["ping", "settings", "empty-data"])
def test_frame_floods_get_goaway_enhance_your_calm(h2_lb, flood):
    _, port = h2_lb({"http2_limits": {"control_frame_rate": {"per_second": 10, "burst": 50}}})
    client = h2test.H2Client.connect(port)
    try:
        flood(client)
        client.flush()
    except OSError:
        pass  # lb closed the connection while we were still flooding
    code, _ = client.wait_goaway()
    assert code == ENHANCE_YOUR_CALM
    other = h2test.H2Client.connect(port)
    assert other.response(other.request("/")).status == 200


def test_streams_lb_must_reset_for_the_client_count_as_resets(h2_lb):
    # "MadeYouReset" (CVE-2025-8671): no RST_STREAM from the client, but
    # DATA past its content-length on each request stream makes lb reset it.
    # (A zero WINDOW_UPDATE, the other vector, is a connection error in
    # nghttp2 1.52.)
    import hpack
    from hyperframe.frame import DataFrame, HeadersFrame as Headers, RstStreamFrame
    _, port = h2_lb({"http2_limits": {"reset_rate": {"per_second": 10, "burst": 20}}})
    sock = h2test.raw_connection(port)
    encoder = hpack.Encoder()
    sock.sendall(h2test.PREFACE + SettingsFrame(0).serialize() + SettingsFrame(0, flags=["ACK"]).serialize())
    received = bytearray()
    closed = False
    sid = 1
    while not closed and sid < 1000:
        # A batch at a time, each answered by lb's RST_STREAMs before the
        # next: well under max_concurrent_streams, like a paced attacker.
        frames = []
        for _ in range(8):
            headers = Headers(sid, flags=["END_HEADERS"])
            headers.data = encoder.encode([(":method", "POST"), (":path", "/delay/2000"), (":scheme", "https"),
                                           (":authority", "lb.test"), ("content-length", "1")])
            data = DataFrame(sid, flags=["END_STREAM"])
            data.data = b"xx"
            frames += [headers.serialize(), data.serialize()]
            sid += 2
        try:
            sock.sendall(b"".join(frames))
        except OSError:
            break
        resets_before = sum(isinstance(f, RstStreamFrame) for f in h2test.parse_frames(bytes(received)))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frames_now = h2test.parse_frames(bytes(received))
            if sum(isinstance(f, RstStreamFrame) for f in frames_now) >= resets_before + 8 or \
                    h2test.goaway_codes(bytes(received)):
                break
            sock.settimeout(1)
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, OSError):
                chunk = b""
            if not chunk:
                closed = True
                break
            received += chunk
        if h2test.goaway_codes(bytes(received)):
            break
    rest, _ = h2test.read_until_closed(sock)
    assert h2test.goaway_codes(bytes(received) + rest) == [ENHANCE_YOUR_CALM]


def test_a_client_that_stops_reading_its_socket_is_closed_after_idle_timeout(h2_lb):
    lb, port = h2_lb({"idle_timeout": "1s"})
    # Windows wide open, then the socket is never read again: lb's output
    # backs up in the kernel and in lb, and nothing more can be said.
    client = h2test.H2Client.connect(port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2 ** 31 - 1})
    client.conn.increment_flow_control_window(2 ** 31 - 1 - 65535)
    client.request("/bytes/200000000")
    lbtest.wait_for(lambda: lb.listener_stats("web")["connections"]["open"] == 1, what="the connection")
    lbtest.wait_for(lambda: lb.listener_stats("web")["connections"]["open"] == 0, timeout=15,
                    what="lb to close the connection nobody reads")
    client.close()


def test_continuation_flood_ends_the_connection(h2_lb):
    _, port = h2_lb()
    sock = h2test.raw_connection(port)
    sock.sendall(h2test.PREFACE + SettingsFrame(0).serialize())
    headers = HeadersFrame(1)
    headers.data = b"\x82"  # :method GET, indexed; the block never ends
    sock.sendall(headers.serialize())
    closed = False
    try:
        for _ in range(200):
            frame = ContinuationFrame(1)
            frame.data = b"\x84"  # :path /, again and again
            sock.sendall(frame.serialize())
    except OSError:
        closed = True
    data, closed_after = h2test.read_until_closed(sock)
    assert closed or closed_after
    assert h2test.goaway_codes(data), data[-40:]
    other = h2test.H2Client.connect(port)
    assert other.response(other.request("/")).status == 200


def test_header_list_over_max_header_size_is_431_a_bomb_is_reset_and_the_connection_lives(h2_lb):
    _, port = h2_lb({"max_header_size": "4k"})
    client = h2test.H2Client.connect(port)
    # Over the limit: read through and answered.
    stream = client.response(client.request("/big", headers=[("x-big", "b" * 1000)] * 8))
    assert stream.status == 431
    # Each field indexed after its first use: a few bytes on the wire decode
    # to far more than the limit (an HPACK bomb's shape). Past 4x the limit
    # lb stops decoding it for the stream, which is reset.
    bomb = client.response(client.request("/bomb", headers=[("x-bomb", "b" * 1000)] * 200))
    assert bomb.status is None and bomb.reset_code is not None
    assert client.response(client.request("/fine")).status == 200


def test_a_client_over_max_concurrent_streams_gets_goaway(h2_lb):
    # Raw frames: python-h2 itself would not open more than the server allows.
    import hpack
    _, port = h2_lb({"http2_limits": {"max_concurrent_streams": 2}})
    sock = h2test.raw_connection(port)
    encoder = hpack.Encoder()
    sock.sendall(h2test.PREFACE + SettingsFrame(0).serialize() + SettingsFrame(0, flags=["ACK"]).serialize()
                 + b"".join(h2test.request_frame(sid, "/delay/500", encoder=encoder) for sid in (1, 3, 5)))
    data, closed = h2test.read_until_closed(sock)
    assert closed and h2test.goaway_codes(data) == [1], h2test.parse_frames(data)  # PROTOCOL_ERROR
    settings = [f for f in h2test.parse_frames(data) if isinstance(f, SettingsFrame) and f.settings]
    assert settings[0].settings[SettingsFrame.MAX_CONCURRENT_STREAMS] == 2
    other = h2test.H2Client.connect(port)
    assert other.response(other.request("/")).status == 200


def test_a_client_that_never_opens_its_window_is_reset_after_idle_timeout(h2_lb):
    lb, port = h2_lb({"idle_timeout": "1s"})
    client = h2test.H2Client.connect(port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    sid = client.request("/bytes/1000000")
    stream = client.response(sid, timeout=10)
    assert stream.reset_code == CANCEL, (stream.status, stream.reset_code)


# ---------------------------------------------------------------- graceful endings

def test_sigquit_sends_goaway_and_lets_streams_finish(h2_lb):
    # nghttp, as python-h2 takes any GOAWAY for the end of the connection.
    lb, port = h2_lb()
    client = subprocess.Popen(["nghttp", "-v", "-n", f"https://localhost:{port}/delay/800"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lbtest.wait_for(lambda: "lb_http_requests_total 1" in lb.admin_get("/metrics"), what="the request to arrive")
    lb.send_signal(signal.SIGQUIT)
    output, _ = client.communicate(timeout=20)
    assert client.returncode == 0, output
    goaway = output.index("recv GOAWAY frame")
    assert "error_code=NO_ERROR" in output[goaway:goaway + 200], output[goaway:goaway + 200]
    assert output.index("recv (stream_id=13) :status: 200") > goaway, output  # answered after the GOAWAY
    assert lb.wait(10) == 0


# ---------------------------------------------------------------- WebSockets over HTTP/2 (RFC 8441)

def ws_frame(payload, opcode=0x1):
    """A masked client frame (RFC 6455 §5.2), payloads under 64 KiB."""
    mask = b"\x01\x02\x03\x04"
    length = len(payload)
    header = bytes([0x80 | opcode]) + (bytes([0x80 | length]) if length < 126
                                       else bytes([0x80 | 126]) + length.to_bytes(2, "big"))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_messages(data):
    """The (opcode, payload) of unmasked server frames in `data`, and what is left."""
    messages = []
    while len(data) >= 2:
        length, offset = data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                break
            length, offset = int.from_bytes(data[2:4], "big"), 4
        if len(data) < offset + length:
            break
        messages.append((data[0] & 0x0F, bytes(data[offset:offset + length])))
        data = data[offset + length:]
    return messages, data


def open_websocket(client, path="/ws"):
    sid = client.conn.get_next_available_stream_id()
    client.streams[sid] = h2test.StreamState()
    client.conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                                   (":path", path), (":authority", "lb.test"), ("sec-websocket-version", "13")])
    client.flush()
    stream = client.streams[sid]
    client.pump(time.monotonic() + 10, until=lambda: stream.headers is not None or stream.reset_code is not None)
    return sid, stream


def test_websocket_over_h2_extended_connect_echoes_and_is_logged(h2_lb):
    lb, port = h2_lb()
    client = h2test.H2Client.connect(port)
    client.pump(time.monotonic() + 5, until=lambda: 8 in client.remote_settings)
    assert client.remote_settings.get(8) == 1  # SETTINGS_ENABLE_CONNECT_PROTOCOL
    sid, stream = open_websocket(client)
    assert stream.status == 200, stream.headers
    assert stream.header("sec-websocket-accept") is None
    for text in (b"hello", b"x" * 5000, b"last"):
        before = len(stream.data)
        client.conn.send_data(sid, ws_frame(text))
        client.flush()
        client.pump(time.monotonic() + 10, until=lambda: ws_messages(bytes(stream.data[before:]))[0])
        assert ws_messages(bytes(stream.data[before:]))[0] == [(0x1, text)]
    # Plain requests share the connection meanwhile.
    assert client.response(client.request("/beside")).status == 200
    entries = access_entries(lb, 2)
    websocket = [e for e in entries if e["url"] == "/ws"]
    assert websocket and websocket[0]["protocol"] == "HTTP/2.0" and websocket[0]["status"] == 101, entries
    # The client ends its side: the target gets FIN and the stream ends.
    client.conn.end_stream(sid)
    client.flush()
    assert client.response(sid).ended


def test_websocket_over_h2_to_a_target_that_refuses_the_upgrade(h2_lb):
    _, port = h2_lb()
    client = h2test.H2Client.connect(port)
    client.pump(time.monotonic() + 5, until=lambda: 8 in client.remote_settings)
    sid, stream = open_websocket(client, path="/status/403")
    assert stream.status == 403


# ---------------------------------------------------------------- big bodies

GIB = 1024 ** 3
RSS_LIMIT_KIB = int(os.environ.get("LB_TEST_RSS_LIMIT_MIB", "64")) * 1024


@pytest.mark.big
def test_gib_upload_on_one_stream_holds_memory_flat(h2_lb, backends, tmp_path):
    # nghttp streams the file (sparse: zeros, no disk) as fast as the windows allow.
    lb, port = h2_lb(targets=[backends[0]])
    body = tmp_path / "gib"
    with open(body, "wb") as f:
        f.truncate(GIB)
    digest = hashlib.sha256()
    zeros = bytes(1 << 20)
    for _ in range(GIB >> 20):
        digest.update(zeros)
    client = h2test.H2Client.connect(port)
    assert client.response(client.request("/warm-up")).status == 200
    baseline = lb.rss_kib()
    with lbtest.RssSampler(lb.pid) as sampler:
        result = subprocess.run(["nghttp", "-d", str(body), f"https://localhost:{port}/upload"],
                                capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["body_len"] == GIB and answer["body_sha256"] == digest.hexdigest()
    growth = sampler.peak_kib - baseline
    assert growth < RSS_LIMIT_KIB, f"RSS grew {growth // 1024} MiB"


def test_a_reload_that_removes_the_listener_sends_goaway(h2_lb, backends):
    lb, port = h2_lb()
    client = h2test.H2Client.connect(port)
    assert client.response(client.request("/before")).status == 200
    config = dict(lb.config)
    other = free_port()
    config["listeners"] = [lbtest.http_listener(other, "web", name="other")]
    lb.reload(config)
    code, last_stream = client.wait_goaway()
    assert code == NO_ERROR and last_stream == 1
