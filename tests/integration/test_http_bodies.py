"""Bodies: streamed both ways (Content-Length and chunked), bodiless responses,
Expect: 100-continue, and flat memory for gibibyte transfers."""

import hashlib
import os
import socket
import subprocess
import threading
import time

import pytest

import backend
import lbtest
from lbtest import HttpConn, build_request, chunked

GIB = 1 << 30
# RSS lb may grow by while moving a gibibyte: buffers are bounded, the body is not held.
RSS_LIMIT_KIB = int(os.environ.get("LB_TEST_RSS_LIMIT_MIB", "64")) * 1024


class PatternChecker:
    """Verifies a body against backend.py's pattern as it streams in."""

    def __init__(self):
        self.offset = 0
        self.ok = True

    def __call__(self, data):
        view = memoryview(data)
        while view:
            piece = view[:backend.IO_CHUNK]
            if self.ok and bytes(piece) != backend.pattern_slice(self.offset, len(piece)):
                self.ok = False
            self.offset += len(piece)
            view = view[len(piece):]


def random_body(size):
    return os.urandom(size)


def test_content_length_upload(http_lb):
    _, port = http_lb()
    body = random_body(5 * 1024 * 1024 + 3)
    with HttpConn(port) as conn:
        conn.request("POST", "/upload", body=body)
        echo = conn.read_response().json()
    assert echo["body_len"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_chunked_upload(http_lb):
    _, port = http_lb()
    body = random_body(3 * 1024 * 1024 + 11)
    with HttpConn(port) as conn:
        conn.request("POST", "/upload", [("Transfer-Encoding", "chunked")], chunked(body))
        echo = conn.read_response().json()
    assert echo["body_len"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_chunked_upload_with_trailers(http_lb):
    _, port = http_lb()
    body = b"hello world"
    raw = b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n"
    with HttpConn(port) as conn:
        conn.request("POST", "/upload", [("Transfer-Encoding", "chunked")], raw)
        echo = conn.read_response().json()
        conn.request("GET", "/after")  # framing intact after the trailer
        assert conn.read_response().json()["path"] == "/after"
    assert echo["body_len"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_chunked_upload_sent_slowly(http_lb):
    _, port = http_lb()
    pieces = [os.urandom(n) for n in (10, 2000, 1, 70000)]
    with HttpConn(port) as conn:
        conn.send(build_request("POST", "/upload", [("Transfer-Encoding", "chunked")]))
        for piece in pieces:
            conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            time.sleep(0.05)
        conn.send(b"0\r\n\r\n")
        echo = conn.read_response().json()
    body = b"".join(pieces)
    assert echo["body_len"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("path", ["/bytes", "/chunked"])
def test_download(http_lb, path):
    _, port = http_lb()
    size = 8 * 1024 * 1024 + 5
    checker = PatternChecker()
    with HttpConn(port) as conn:
        conn.request("GET", f"{path}/{size}")
        response = conn.read_response(sink=checker, timeout=30)
        assert response.status == 200
        assert checker.offset == size and checker.ok
        conn.request("GET", "/next")  # connection still usable
        assert conn.read_response().json()["path"] == "/next"


def test_empty_chunked_download(http_lb):
    _, port = http_lb()
    with HttpConn(port) as conn:
        conn.request("GET", "/chunked/0")
        response = conn.read_response()
        assert response.status == 200 and response.body == b""
        conn.request("GET", "/next")
        assert conn.read_response().json()["path"] == "/next"


def test_head_204_304_have_no_body_and_keep_alive(http_lb):
    _, port = http_lb()
    with HttpConn(port) as conn:
        conn.request("HEAD", "/bytes/1000")
        head = conn.read_response(head=True)
        assert head.status == 200
        assert head.header("Content-Length") == "1000"
        conn.request("GET", "/nocontent")
        assert conn.read_response().status == 204
        conn.request("GET", "/notmodified")
        not_modified = conn.read_response()
        assert not_modified.status == 304
        assert not_modified.header("ETag") == '"v1"'
        conn.request("HEAD", "/chunked/5000")
        assert conn.read_response(head=True).status == 200
        # Any stray body byte from above would corrupt this response.
        conn.request("GET", "/still-alive")
        response = conn.read_response()
        assert response.status == 200
        assert response.json()["path"] == "/still-alive"
        assert not conn.is_closed(timeout=0.3)


def test_expect_100_continue_raw(http_lb):
    _, port = http_lb()
    body = os.urandom(64 * 1024)
    with HttpConn(port) as conn:
        conn.send(build_request("POST", "/upload", [("Content-Length", str(len(body))),
                                                    ("Expect", "100-continue")]))
        # Nothing is sent until the interim response arrives.
        version, status, _, _ = conn.read_head(timeout=5)
        assert status == 100
        conn.send(body)
        response = conn.read_response()
        assert response.status == 200
        assert response.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_expect_100_continue_with_curl(http_lb, tmp_path):
    _, port = http_lb()
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(200 * 1024))  # > 1 KiB: curl sends Expect
    started = time.monotonic()
    result = subprocess.run(
        ["curl", "-sS", "--expect100-timeout", "10", "--data-binary", f"@{payload}",
         "-w", "\n%{http_code}", f"http://127.0.0.1:{port}/upload"],
        capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    body, _, code = result.stdout.rpartition("\n")
    assert code == "200"
    assert f'"body_len": {200 * 1024}' in body
    # curl only waits out its 10 s timer if no 100 Continue ever came.
    assert elapsed < 5, f"curl waited {elapsed:.1f}s for 100 Continue"


# ---------------------------------------------------------------- gibibytes


def _upload_gib(port, lb):
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    for _ in range(GIB // len(block)):
        digest.update(block)
    errors = []

    def send_all(conn):
        try:
            conn.send(build_request("POST", "/upload", [("Content-Length", str(GIB))]))
            for _ in range(GIB // len(block)):
                conn.sock.sendall(block)
        except OSError as error:
            errors.append(error)

    with HttpConn(port, timeout=120) as conn:
        baseline = lb.rss_kib()
        with lbtest.RssSampler(lb.pid) as sampler:
            sender = threading.Thread(target=send_all, args=(conn,))
            sender.start()
            sender.join(300)
            response = conn.read_response(timeout=120)
    assert not errors, errors
    echo = response.json()
    assert echo["body_len"] == GIB
    assert echo["body_sha256"] == digest.hexdigest()
    return baseline, sampler.peak_kib


@pytest.mark.big
def test_gib_upload_streams_with_flat_memory(http_lb, backends):
    lb, port = http_lb(targets=[backends[0]])
    lbtest.get(port, "/warm-up")
    baseline, peak = _upload_gib(port, lb)
    assert peak - baseline < RSS_LIMIT_KIB, f"RSS grew {(peak - baseline) // 1024} MiB"


@pytest.mark.big
def test_gib_download_streams_with_flat_memory(http_lb, backends):
    lb, port = http_lb(targets=[backends[0]])
    lbtest.get(port, "/warm-up")
    checker = PatternChecker()
    with HttpConn(port, timeout=120) as conn:
        baseline = lb.rss_kib()
        with lbtest.RssSampler(lb.pid) as sampler:
            conn.request("GET", f"/bytes/{GIB}")
            response = conn.read_response(sink=checker, timeout=300)
    assert response.status == 200
    assert checker.offset == GIB and checker.ok
    growth = sampler.peak_kib - baseline
    assert growth < RSS_LIMIT_KIB, f"RSS grew {growth // 1024} MiB"


@pytest.mark.big
def test_slow_reader_download_is_back_pressured(http_lb, backends):
    # A client that stops reading must not make lb buffer the whole response.
    lb, port = http_lb(targets=[backends[0]])
    lbtest.get(port, "/warm-up")
    with HttpConn(port, timeout=60) as conn:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        baseline = lb.rss_kib()
        with lbtest.RssSampler(lb.pid) as sampler:
            conn.request("GET", f"/bytes/{GIB // 4}")
            time.sleep(3)  # not reading: lb's buffers and the backend stall
        growth = sampler.peak_kib - baseline
        checker = PatternChecker()
        response = conn.read_response(sink=checker, timeout=120)
    assert response.status == 200 and checker.offset == GIB // 4 and checker.ok
    assert growth < RSS_LIMIT_KIB, f"RSS grew {growth // 1024} MiB while the client stalled"


# ---------------------------------------------------------------- spliced response bodies
#
# The rest of a large Content-Length body goes from the target's socket to
# the client's with splice(2) when both are plain TCP (README, "Response
# bodies"); these are the ways that can go wrong.

def spliced_lines(lb):
    return [line for line in lb.stderr().splitlines() if "bytes spliced" in line]


def test_a_large_body_is_spliced_whole_and_the_connections_go_on(http_lb, backends):
    lb, port = http_lb(targets=[backends[0]], args=["--log-level", "debug"])
    size = 6 * 1024 * 1024 + 7
    with HttpConn(port, timeout=30) as conn:
        for _ in range(2):  # the second on the same client and (pooled) target connection
            checker = PatternChecker()
            conn.request("GET", f"/bytes/{size}")
            response = conn.read_response(sink=checker, timeout=30)
            assert response.status == 200 and checker.offset == size and checker.ok
        conn.request("GET", "/next")
        assert conn.read_response().json()["path"] == "/next"
    assert len(spliced_lines(lb)) == 2, lb.stderr()[-2000:]
    entries = [e for e in lb.access_entries() if e.get("url", "").startswith("/bytes/")]
    assert [e["bytes_out"] for e in entries] == [size, size]


def test_chunked_and_small_bodies_are_not_spliced(http_lb, backends):
    lb, port = http_lb(targets=[backends[0]], args=["--log-level", "debug"])
    with HttpConn(port, timeout=30) as conn:
        for path in (f"/chunked/{4 << 20}", f"/bytes/{64 * 1024}"):
            checker = PatternChecker()
            conn.request("GET", path)
            assert conn.read_response(sink=checker, timeout=30).status == 200 and checker.ok
    assert spliced_lines(lb) == []


def test_a_pipelined_request_after_a_spliced_body_gets_its_own_answer(http_lb, backends):
    _, port = http_lb(targets=[backends[0]])
    size = 3 * 1024 * 1024
    with HttpConn(port, timeout=30) as conn:
        conn.sock.sendall(build_request("GET", f"/bytes/{size}") + build_request("GET", "/after"))
        checker = PatternChecker()
        response = conn.read_response(sink=checker, timeout=30)
        assert response.status == 200 and checker.offset == size and checker.ok
        assert conn.read_response().json()["path"] == "/after"


def _truncating_target(body_sent, announced):
    from scripted_backend import ScriptedBackend
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % announced
    return ScriptedBackend(lambda request: (head + b"x" * body_sent, "close"))


def test_a_target_closing_mid_body_cuts_the_client_short(http_lb):
    target = _truncating_target(1_000_000, 4_000_000)
    lb, port = http_lb(targets=[target.target])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(build_request("GET", "/truncated"))
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: 4000000" in head.lower()
    assert body == b"x" * 1_000_000  # all it sent, then the connection ends short of the length
    entry = lbtest.wait_for(lambda: next((e for e in lb.access_entries() if e.get("url") == "/truncated"), None),
                            what="the access log line")
    assert entry["error"] == "target closed the connection mid-response" and entry["bytes_out"] == 1_000_000


class SlowBodyTarget:
    """Answers every request on a connection with a 300 KB body, sent as a
    head and 1 KB, a pause (so lb has switched to splicing), then the rest
    followed by a stray response no request asked for."""

    BODY = b"y" * 300_000

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            sock, _ = self.listener.accept()
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        try:
            self._answer(sock)
        except OSError:
            pass  # lb closed it (not reusable: the stray bytes)
        finally:
            sock.close()

    def _answer(self, sock):
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                pending += chunk
            pending = pending.partition(b"\r\n\r\n")[2]
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(self.BODY) + self.BODY[:1000])
            time.sleep(0.2)
            sock.sendall(self.BODY[1000:] + b"HTTP/1.1 418 stray\r\nContent-Length: 0\r\n\r\n")


def test_bytes_after_a_spliced_body_keep_the_target_connection_out_of_the_pool(http_lb):
    # The pump stops at the body's end and leaves what follows in the
    # socket, where the parser never sees it: lb must look before pooling.
    target = SlowBodyTarget()
    lb, port = http_lb(targets=[{"address": "127.0.0.1", "port": target.port}], args=["--log-level", "debug"])
    with HttpConn(port, timeout=20) as conn:
        # Pipelined: the next request is ready for a target connection the
        # moment the body ends, before the pool could notice anything.
        conn.sock.sendall(build_request("GET", "/twice") * 3)
        for _ in range(3):
            response = conn.read_response(timeout=20)
            assert response.status == 200 and response.body == SlowBodyTarget.BODY
    assert len(spliced_lines(lb)) == 3
    assert target.connections == 3, "a connection with stray bytes was reused"


def test_a_client_that_stops_reading_a_spliced_body_is_cut_after_idle_timeout(http_lb, backends):
    # As on the copying path: a client that does not read is timed by the
    # listener's idle_timeout, not the target's response_timeout.
    lb, port = http_lb(targets=[backends[0]], listener_extra={"idle_timeout": "1s"},
                       group_extra={"response_timeout": "30s"})
    with HttpConn(port, timeout=20) as conn:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.request("GET", f"/bytes/{256 << 20}")
        entry = lbtest.wait_for(
            lambda: next((e for e in lb.access_entries() if e.get("url", "").startswith("/bytes/")), None),
            timeout=15, what="the cut response's log line")
    assert entry["error"] == "client stopped reading the response"
    assert lbtest.get(port, "/still-serving").status == 200


def test_a_client_reading_a_spliced_body_slowly_is_not_timed_by_the_target(http_lb, backends):
    # Steady but slower than the pipe and the socket buffers empty: no read
    # from the target for longer than its response_timeout, yet the client
    # is taking bytes all along.
    lb, port = http_lb(targets=[backends[0]], group_extra={"response_timeout": "1s"})
    size = 6 << 20
    with socket.socket() as sock:
        sock.settimeout(20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.connect(("127.0.0.1", port))
        sock.sendall(build_request("GET", f"/bytes/{size}"))
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        body = len(received.partition(b"\r\n\r\n")[2])
        while body < size:
            time.sleep(0.02)
            chunk = sock.recv(16384)
            if not chunk:
                break
            body += len(chunk)
    entry = next(e for e in lb.access_entries() if e.get("url", "").startswith("/bytes/"))
    assert body == size, entry
    assert "error" not in entry, entry


def test_a_client_reset_mid_splice_is_not_blamed_on_the_target(http_lb, backends):
    lb, port = http_lb(targets=[backends[0]])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        # A pipelined upload over 64 KiB: lb stops reading this client, so
        # only the pump can notice its reset.
        sock.sendall(build_request("GET", f"/bytes/{64 << 20}") + build_request("POST", "/x", body=b"z" * 100000))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(0.3)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    entry = lbtest.wait_for(
        lambda: next((e for e in lb.access_entries() if e.get("url", "").startswith("/bytes/")), None),
        timeout=15, what="the cut response's log line")
    assert entry["error"] == "client closed the connection mid-response", entry


def test_a_client_gone_mid_splice_leaves_lb_serving(http_lb, backends):
    lb, port = http_lb(targets=[backends[0]])
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(build_request("GET", f"/bytes/{64 << 20}"))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    lbtest.wait_for(lambda: len([e for e in lb.access_entries() if e.get("url", "").startswith("/bytes/")]) == 5,
                    timeout=15, what="five cut responses logged")
    assert lbtest.get(port, "/still-serving").status == 200
