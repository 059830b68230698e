"""Signals that stop lb (README, "Signals"): SIGTERM/SIGINT now, SIGQUIT
gracefully within shutdown_timeout."""

import signal
import socket
import threading
import time

import pytest

import lbtest
from lbtest import HttpConn, dur


def in_flight(port, path, results, timeout=30):
    """Starts a request in a thread; its Response (or exception) lands in results."""

    def run():
        try:
            with HttpConn(port, timeout=timeout) as conn:
                conn.request("GET", path)
                results.append(conn.read_response())
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_backend_saw(backend, count_before, n=1):
    lbtest.wait_for(lambda: backend.stats()["requests"] >= count_before + n, timeout=5,
                    what="the request to reach the backend")


def new_request_refused(port):
    """True if a new client cannot get a response any more."""
    try:
        with HttpConn(port, timeout=2) as conn:
            conn.request("GET", "/new")
            conn.read_response(timeout=2)
            return False
    except (OSError, lbtest.ConnectionClosed, TimeoutError, ValueError):
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_now_with_open_connections(http_lb, backends, sig):
    lb, port = http_lb(targets=[backends[0]])
    idle = [HttpConn(port) for _ in range(3)]
    results = []
    before = backends[0].stats()["requests"]
    thread = in_flight(port, "/hang", results)
    wait_backend_saw(backends[0], before)
    for conn in idle:
        conn.request("GET", "/")
        assert conn.read_response().status == 200
    started = time.monotonic()
    code = lb.stop(sig, timeout=5 * lbtest.TIME_SCALE)
    elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 2 * lbtest.TIME_SCALE, elapsed
    thread.join(10)
    assert results, "the in-flight client is still waiting"
    assert not isinstance(results[0], lbtest.Response) or results[0].status >= 500, results
    for conn in idle:
        assert conn.is_closed(timeout=2)
        conn.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_graceful_quit_finishes_in_flight_request(http_lb, backends, workers):
    lb, port = http_lb(targets=[backends[0]], args=["--workers", str(workers)])
    results = []
    before = backends[0].stats()["requests"]
    thread = in_flight(port, "/delay/2000", results)
    wait_backend_saw(backends[0], before)
    lb.send_signal(signal.SIGQUIT)
    # Stops accepting at once; the slow request still completes.
    lbtest.wait_for(lambda: new_request_refused(port), timeout=3,
                    what="lb to stop accepting new connections")
    thread.join(10)
    assert len(results) == 1 and isinstance(results[0], lbtest.Response), results
    assert results[0].status == 200
    assert results[0].json()["path"] == "/delay/2000"
    assert lb.wait(5) == 0


def test_graceful_quit_closes_idle_keep_alive_connections(http_lb):
    lb, port = http_lb()
    conn = HttpConn(port)
    conn.request("GET", "/")
    assert conn.read_response().status == 200
    started = time.monotonic()
    lb.send_signal(signal.SIGQUIT)
    # Nothing in flight: lb leaves promptly instead of waiting for the client.
    assert lb.wait(5) == 0
    assert time.monotonic() - started < 3
    assert conn.is_closed(timeout=2)
    conn.close()


def test_graceful_quit_cuts_hanging_request_at_shutdown_timeout(start_lb, backends):
    port = lbtest.free_port()
    config = lbtest.make_config([lbtest.http_listener(port, "web")],
                                [lbtest.target_group("web", [backends[0]])],
                                shutdown_timeout=dur(1.5))
    lb = start_lb(config)
    results = []
    before = backends[0].stats()["requests"]
    thread = in_flight(port, "/hang", results)
    wait_backend_saw(backends[0], before)
    started = time.monotonic()
    lb.send_signal(signal.SIGQUIT)
    code = lb.wait(10)
    elapsed = time.monotonic() - started
    assert code == 0
    assert 1.2 <= elapsed < 4.5, elapsed
    thread.join(10)
    # The client is not left hanging: it got an error response or a close.
    assert results, "the client is still waiting"
    assert not isinstance(results[0], lbtest.Response) or results[0].status >= 500


def test_graceful_quit_lets_tcp_tunnel_finish(start_lb, echo_backends):
    port = lbtest.free_port()
    config = lbtest.make_config([lbtest.tcp_listener(port, "echo")],
                                [lbtest.target_group("echo", echo_backends, protocol="tcp")],
                                shutdown_timeout=dur(10))
    lb = start_lb(config)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"one")
        assert sock.recv(3) == b"one"
        lb.send_signal(signal.SIGQUIT)
        time.sleep(0.5)
        sock.sendall(b"two")  # the tunnel keeps working while draining
        assert sock.recv(3) == b"two"
    assert lb.wait(5) == 0
