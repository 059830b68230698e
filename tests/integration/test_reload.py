"""Hot reload in process (SIGHUP and lb -s reload): a bad file is rejected
while the old config keeps serving; a good one is published without
dropping listeners, keep-alive connections, WebSockets or in-flight
requests (issue 3)."""

import asyncio
import os
import re
import signal
import threading
import time

import websockets

import lbtest
from lbtest import HttpConn


def fixed_listener(port, body, name="web"):
    listener = lbtest.http_listener(port, "web", name=name)
    listener["rules"] = [{"priority": 10, "conditions": {"path": ["/version"]},
                          "action": {"fixed_response": {"status": 200, "content_type": "text/plain",
                                                        "body": body}}}]
    return listener


def write_config(lb, config):
    with open(lb.config_path, "w") as f:
        f.write(config if isinstance(config, str) else lbtest.to_yaml(config))


def reload_and_wait(lb, port, expect_body, timeout=5):
    lb.send_signal(signal.SIGHUP)
    lbtest.wait_for(lambda: lbtest.get(port, "/version").body == expect_body, timeout=timeout,
                    what=f"version {expect_body!r} after reload")


def test_good_reload_changes_routing(start_lb, backends):
    port = lbtest.free_port()
    config = lbtest.make_config([fixed_listener(port, "v1")], [lbtest.target_group("web", backends)])
    lb = start_lb(config)
    assert lbtest.get(port, "/version").body == b"v1"
    config["listeners"] = [fixed_listener(port, "v2")]
    write_config(lb, config)
    reload_and_wait(lb, port, b"v2")
    # Workers may serve the new snapshot before the main thread logs it.
    lbtest.wait_for(lambda: "reloaded: generation 2" in lb.stderr(), timeout=5, what="reload logged")


def test_bad_reload_is_rejected_and_the_old_config_keeps_serving(start_lb, backends):
    port = lbtest.free_port()
    config = lbtest.make_config([fixed_listener(port, "v1")], [lbtest.target_group("web", backends)])
    lb = start_lb(config)
    good_yaml = open(lb.config_path).read()
    # A duplicate rule priority, then a YAML syntax error.
    broken = config.copy()
    listener = fixed_listener(port, "v2")
    listener["rules"] = listener["rules"] * 2
    broken["listeners"] = [listener]
    for bad in (lbtest.to_yaml(broken), good_yaml.replace("listeners:", "listeners: [", 1)):
        write_config(lb, bad)
        before = lb.stderr().count("reload rejected")
        lb.send_signal(signal.SIGHUP)
        lbtest.wait_for(lambda: lb.stderr().count("reload rejected") > before, timeout=5, what="rejection logged")
        line = [l for l in lb.stderr().splitlines() if "reload rejected" in l][-1]
        assert re.search(re.escape(lb.config_path) + r":\d+:\d+: ", line), line
        for _ in range(20):
            assert lbtest.get(port, "/version").body == b"v1"
    assert lb.proc.poll() is None


def test_listeners_added_and_removed_unchanged_ones_keep_their_socket(start_lb, backends):
    keep, drop, add = lbtest.free_port(), lbtest.free_port(), lbtest.free_port()
    groups = [lbtest.target_group("web", backends)]
    config = lbtest.make_config([fixed_listener(keep, "k1", "keep"), fixed_listener(drop, "d1", "drop")],
                                groups, workers=2)
    lb = start_lb(config)
    inode_before = _listen_inodes(keep)
    assert len(inode_before) == 2   # one SO_REUSEPORT socket per worker
    config["listeners"] = [fixed_listener(keep, "k2", "keep"), fixed_listener(add, "a2", "add")]
    write_config(lb, config)
    reload_and_wait(lb, keep, b"k2")
    lbtest.wait_for(lambda: lbtest.port_accepts(add), timeout=5, what="added listener")
    assert lbtest.get(add, "/version").body == b"a2"
    lbtest.wait_for(lambda: not lbtest.port_accepts(drop), timeout=5, what="removed listener closed")
    assert _listen_inodes(keep) == inode_before


def _listen_inodes(port):
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                inodes.add(inode)
    return inodes


def test_requests_never_fail_across_reloads(start_lb, backends):
    port = lbtest.free_port()
    config = lbtest.make_config([fixed_listener(port, "v0")], [lbtest.target_group("web", backends)], workers=2)
    lb = start_lb(config)
    failures, done = [], threading.Event()
    counts = {"ok": 0}

    def hammer():
        while not done.is_set():
            try:
                with HttpConn(port) as conn:
                    for _ in range(5):
                        conn.request("GET", "/")
                        if conn.read_response().status != 200:
                            failures.append("status")
                        counts["ok"] += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(1, 31):
        config["listeners"] = [fixed_listener(port, f"v{i}")]
        write_config(lb, config)
        lb.send_signal(signal.SIGHUP)
        time.sleep(0.05)
    done.set()
    for t in threads:
        t.join()
    assert failures == [], failures[:5]
    assert counts["ok"] > 100
    lbtest.wait_for(lambda: lbtest.get(port, "/version").body == b"v30", timeout=5)


def test_keep_alive_connection_survives_and_follows_the_new_config(start_lb, backends):
    port = lbtest.free_port()
    config = lbtest.make_config([fixed_listener(port, "v1")], [lbtest.target_group("web", backends)])
    lb = start_lb(config)
    with HttpConn(port) as conn:
        conn.request("GET", "/version")
        assert conn.read_response().body == b"v1"
        config["listeners"] = [fixed_listener(port, "v2")]
        write_config(lb, config)
        reload_and_wait(lb, port, b"v2")
        conn.request("GET", "/version")
        assert conn.read_response().body == b"v2"   # same socket, newest snapshot


def test_in_flight_request_finishes_across_a_reload_that_removes_its_group(start_lb, backends):
    port = lbtest.free_port()
    b1 = backends[0]
    config = lbtest.make_config([lbtest.http_listener(port, "slow")], [lbtest.target_group("slow", [b1])])
    lb = start_lb(config)
    result = []
    before = b1.stats()["requests"]
    thread = threading.Thread(target=lambda: result.append(lbtest.get(port, "/delay/1000")))
    thread.start()
    lbtest.wait_for(lambda: b1.stats()["requests"] > before, timeout=5, what="the slow request at b1")
    other = dict(config)
    other["listeners"] = [fixed_listener(port, "v2")]
    other["listeners"][0]["default_action"] = {"fixed_response": {"status": 503, "body": "gone"}}
    other["target_groups"] = []
    write_config(lb, other)
    lb.send_signal(signal.SIGHUP)
    thread.join(10)
    assert result and result[0].status == 200 and result[0].header("X-Backend") == "b1"
    lbtest.wait_for(lambda: lbtest.get(port, "/version").body == b"v2", timeout=5)


def test_websocket_survives_reloads(start_lb, backends):
    port = lbtest.free_port()
    config = lbtest.make_config([fixed_listener(port, "v1")], [lbtest.target_group("web", backends)])
    lb = start_lb(config)

    async def scenario():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            for i in range(10):
                config["listeners"] = [fixed_listener(port, f"v{i + 2}")]
                write_config(lb, config)
                lb.send_signal(signal.SIGHUP)
                await asyncio.sleep(0.05)
            await ws.send("after")
            assert await ws.recv() == "after"

    asyncio.run(scenario())
    lbtest.wait_for(lambda: lbtest.get(port, "/version").body == b"v11", timeout=5)


def test_lb_s_reload_signals_through_the_pid_file(start_lb, backends, tmp_path):
    port = lbtest.free_port()
    pid_file = str(tmp_path / "lb.pid")
    config = lbtest.make_config([fixed_listener(port, "v1")], [lbtest.target_group("web", backends)],
                                pid_file=pid_file)
    lb = start_lb(config)
    # Listen sockets are bound before the workers start; the pid file is
    # written once they run, so it can trail the ports by a moment.
    lbtest.wait_for(lambda: os.path.exists(pid_file), timeout=5)
    assert open(pid_file).read().strip() == str(lb.pid)
    config["listeners"] = [fixed_listener(port, "v2")]
    write_config(lb, config)
    result = lbtest.run_lb("-s", "reload", "-c", lb.config_path)
    assert result.returncode == 0, result.stderr
    lbtest.wait_for(lambda: lbtest.get(port, "/version").body == b"v2", timeout=5)
    result = lbtest.run_lb("-s", "quit", "-c", lb.config_path)
    assert result.returncode == 0
    assert lb.wait(10) == 0
    assert not os.path.exists(pid_file)
