"""The workload lb exists for: a Socket.IO fleet (node servers from npm's
socket.io, sessions held per process) behind an https listener, driven by
real socket.io-client instances that connect by long-polling, upgrade to
a WebSocket and exchange acknowledged messages. Polling needs stickiness
until the upgrade: with lb_cookie every client gets through; without it,
the same clients are refused by servers that never saw their session.

Needs node and tests/integration/socketio/node_modules (tools/dev test
runs npm ci there)."""

import json
import os
import shutil
import subprocess

import pytest

import browser
import lbtest
from lbtest import HOST, free_port, make_config, target_group

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "socketio")
READY = shutil.which("node") and os.path.isdir(os.path.join(HERE, "node_modules", "socket.io"))
pytestmark = pytest.mark.skipif(not READY, reason="node or tests/integration/socketio/node_modules missing "
                                                  "(tools/dev test installs them with npm ci)")
CLIENTS = 30
MESSAGES = 5


@pytest.fixture
def socketio_fleet(tmp_path):
    """Three Socket.IO servers; their targets."""
    procs, targets = [], []
    for i in range(3):
        port = free_port()
        log = open(tmp_path / f"socketio-{i}.log", "w")
        procs.append(subprocess.Popen(["node", os.path.join(HERE, "server.js"), str(port), f"io{i}"],
                                      stdout=log, stderr=subprocess.STDOUT))
        lbtest.wait_port(port, proc=procs[-1], what=f"socket.io server io{i}")
        targets.append({"address": HOST, "port": port})
    yield targets
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def run_clients(port):
    result = subprocess.run(["node", os.path.join(HERE, "client.js"), f"https://{HOST}:{port}", str(CLIENTS),
                             str(MESSAGES)], capture_output=True, text=True, timeout=60, cwd=HERE)
    return result, [json.loads(line) for line in result.stdout.splitlines()]


def start(start_lb, tls_certs, targets, **group):
    port = free_port()
    listener = {"name": "io", "protocol": "https", "listen": f"{HOST}:{port}",
                "tls": {"certificates": [tls_certs.default.config]},
                "default_action": {"forward": {"target_group": "io"}}}
    return start_lb(make_config([listener], [target_group("io", targets, **group)], workers=2)), port


def test_socketio_clients_connect_upgrade_and_echo_with_lb_cookie(start_lb, tls_certs, socketio_fleet):
    lb, port = start(start_lb, tls_certs, socketio_fleet, stickiness={"type": "lb_cookie", "duration": "1h"})
    result, clients = run_clients(port)
    assert result.returncode == 0, (result.stderr, [c for c in clients if c["error"]][:3])
    assert len(clients) == CLIENTS
    for client in clients:
        assert client["connected"] and client["upgraded"] == "websocket" and client["echoed"] == MESSAGES
        assert len(client["servers"]) == 1, client  # one session, one server
    assert len({c["servers"][0] for c in clients}) > 1  # and the fleet shares them
    entries = lb.access_entries()
    assert sum(1 for e in entries if e.get("status") == 101) == CLIENTS


def test_without_stickiness_the_same_clients_are_refused(start_lb, tls_certs, socketio_fleet):
    # The control: proves the first test passes because of the cookie.
    _, port = start(start_lb, tls_certs, socketio_fleet)
    result, clients = run_clients(port)
    assert result.returncode != 0
    assert sum(1 for c in clients if c["error"]) > CLIENTS // 2, clients



@pytest.mark.skipif(browser.CHROMIUM is None, reason="chromium is not installed (tools/dev installs it)")
def test_socketio_in_chromium_over_h2_with_lb_cookie(start_lb, tls_certs, socketio_fleet, tmp_path):
    # The browser takes h2: polling requests, lb's cookie and the WebSocket
    # upgrade (RFC 8441) all ride one HTTP/2 connection.
    lb, port = start(start_lb, tls_certs, socketio_fleet, stickiness={"type": "lb_cookie", "duration": "1h"})
    shown = browser.page_text(tmp_path / "profile", f"https://localhost:{port}/page", "r")
    assert shown == "ok:websocket:from the browser", shown

    entries = lb.access_entries
    lbtest.wait_for(lambda: any(e["status"] == 101 for e in entries()), what="the upgrade's access log line")
    socketio = [e for e in entries() if e["url"].startswith("/socket.io/") and "socket.io.js" not in e["url"]]
    assert socketio and all(e["protocol"] == "HTTP/2.0" for e in socketio), socketio
    assert len({e["client_port"] for e in socketio}) == 1, socketio  # one connection
    assert len({e["target"] for e in socketio}) == 1, socketio  # sticky to one server
    assert any(e["status"] == 101 for e in socketio)
