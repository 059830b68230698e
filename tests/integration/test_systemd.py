"""lb under systemd (README, "Running under systemd"): the sd_notify
messages read from a real NOTIFY_SOCKET, in order and from the right
process, and socket activation through systemd-socket-activate."""

import os
import shutil
import signal
import socket
import struct
import time

import pytest

import lbtest
from lbtest import free_port, health_check, http_listener, make_config, target_group, wait_for


class NotifySocket:
    """The service manager's end: a datagram socket lb's sd_notify writes to.
    Each message comes with the sender's pid (SO_PASSCRED), as systemd sees it."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.received = []  # (pid, {field: value})

    def next(self, timeout=10 * lbtest.TIME_SCALE):
        """The next message as (sender pid, fields); fails after `timeout`."""
        self.sock.settimeout(timeout)
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            raise AssertionError(f"no sd_notify message within {timeout}s "
                                 f"(so far: {self.received})") from None
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
        self.received.append((pid, fields))
        return pid, fields

    def nothing_within(self, seconds):
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return True
        raise AssertionError(f"unexpected sd_notify message {data!r}")

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(str(tmp_path / "notify.sock"))
    yield sock
    sock.close()


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def target_state(lb, group, target_id):
    targets = {t["id"]: t for t in lb.admin_get(f"/api/v1/target-groups/{group}")["targets"]}
    return targets[target_id]["state"]


# Checks whose healthy_threshold takes 15 s: READY must not wait for it.
SLOW_THRESHOLD = {"interval": "3s", "healthy_threshold": 5}


def checked_config(port, targets, tmp_path, **global_extra):
    return make_config([http_listener(port, "app")],
                       [target_group("app", targets, health_check=health_check(**SLOW_THRESHOLD))],
                       pid_file=str(tmp_path / "lb.pid"), **global_extra)


def test_ready_reloading_stopping_in_order(start_lb, backends, notify, tmp_path):
    port = free_port()
    backend = backends[0]
    lb = start_lb(checked_config(port, [backend], tmp_path), env={"NOTIFY_SOCKET": notify.path})

    # READY=1 once the target had its first check (at a random point of
    # the first 3 s interval), not before and not after the five passes.
    pid, ready = notify.next()
    assert pid == lb.pid
    assert ready.get("READY") == "1", ready
    assert backend.stats()["health_checks"] >= 1
    assert target_state(lb, "app", f"127.0.0.1:{backend.port}") == "initial"
    assert ready["STATUS"] == "generation 1: 1 listener, 0 of 1 targets in service"

    before = monotonic_usec()
    lb.send_signal(signal.SIGHUP)
    pid, reloading = notify.next()
    after = monotonic_usec()
    assert pid == lb.pid
    assert reloading.get("RELOADING") == "1", reloading
    assert before <= int(reloading["MONOTONIC_USEC"]) <= after
    pid, reloaded = notify.next()
    assert reloaded.get("READY") == "1", reloaded
    assert reloaded["STATUS"].startswith("generation 2: ")

    # A rejected reload still ends in READY=1: the previous config serves.
    with open(lb.config_path, "a") as f:
        f.write("bogus_key: 1\n")
    lb.send_signal(signal.SIGHUP)
    _, reloading = notify.next()
    assert reloading.get("RELOADING") == "1"
    _, rejected = notify.next()
    assert rejected.get("READY") == "1"
    assert rejected["STATUS"].startswith("reload rejected, serving generation 2: ")
    assert "bogus_key" in rejected["STATUS"]
    assert lbtest.get(port, "/").status == 200

    lb.send_signal(signal.SIGQUIT)
    pid, stopping = notify.next()
    assert pid == lb.pid
    assert stopping.get("STOPPING") == "1", stopping
    assert lb.wait(10 * lbtest.TIME_SCALE) == 0
    assert [list(fields)[0] for _, fields in notify.received] == \
        ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"]


def test_ready_waits_for_the_first_check_of_every_target(start_lb, backends, notify, tmp_path):
    """One target passing, one failing (503): READY=1 once both had their
    first check, whatever its result."""
    port = free_port()
    up, down = backends[0], backends[1]
    down.set_health(False)
    lb = start_lb(checked_config(port, [up, down], tmp_path), env={"NOTIFY_SOCKET": notify.path})
    _, ready = notify.next()
    assert ready.get("READY") == "1"
    assert up.stats()["health_checks"] >= 1
    assert down.stats()["health_checks"] >= 1
    assert lb.stderr().count("ready: ") == 1


def test_no_notify_socket_no_messages_and_same_behaviour(start_lb, backends, tmp_path):
    """Without NOTIFY_SOCKET lb serves as before and sends nothing anywhere."""
    port = free_port()
    config = make_config([http_listener(port, "app")], [target_group("app", [backends[0].target])])
    lb = start_lb(config)
    assert lbtest.get(port, "/").status == 200
    lb.wait_log(r"ready: generation 1: 1 listener, 1 of 1 targets in service")


def test_upgrade_hands_the_service_to_the_new_pid(start_lb, backends, notify, tmp_path):
    port = free_port()
    backend = backends[0]
    target_id = f"127.0.0.1:{backend.port}"
    config = checked_config(port, [backend], tmp_path, shutdown_timeout="5s")
    lb = start_lb(config, env={"NOTIFY_SOCKET": notify.path})
    _, ready = notify.next()
    assert ready.get("READY") == "1"
    wait_for(lambda: target_state(lb, "app", target_id) == "healthy", timeout=30 * lbtest.TIME_SCALE,
             what="five passed checks")
    pid_file = tmp_path / "lb.pid"
    new_pid = None
    try:
        lb.send_signal(signal.SIGUSR2)
        # The old lb says it is upgrading, then names the new main pid once
        # the new one is ready; the new one says nothing itself until then.
        pid, upgrading = notify.next()
        assert pid == lb.pid
        assert upgrading["STATUS"].startswith("upgrading: new lb pid ")
        # The target's verdict travels with the sockets: the new lb need not
        # pass five checks (15 s) again before it takes over.
        pid, handed = notify.next(timeout=5 * lbtest.TIME_SCALE)
        assert pid == lb.pid, "MAINPID= must come from the process systemd knows as main"
        new_pid = int(handed["MAINPID"])
        assert handed.get("READY") == "1"
        assert new_pid != lb.pid
        assert int(pid_file.read_text()) == new_pid
        assert target_state(lb, "app", target_id) == "healthy"  # the admin API is the new lb's now
        # The old one exits without STOPPING=1 (it is no longer the service).
        assert lb.wait(10 * lbtest.TIME_SCALE) == 0
        # From now on the new process speaks for the service.
        os.kill(new_pid, signal.SIGHUP)
        pid, reloading = notify.next()
        assert pid == new_pid and reloading.get("RELOADING") == "1"
        pid, reloaded = notify.next()
        assert pid == new_pid and reloaded.get("READY") == "1"
        assert lbtest.get(port, "/").status == 200
        os.kill(new_pid, signal.SIGTERM)
        pid, stopping = notify.next()
        assert pid == new_pid and stopping.get("STOPPING") == "1"
        wait_for(lambda: not os.path.exists(f"/proc/{new_pid}") or
                 open(f"/proc/{new_pid}/stat").read().split()[2] == "Z",
                 timeout=10 * lbtest.TIME_SCALE, what="the new lb to exit")
        new_pid = None
    finally:
        if new_pid:
            os.kill(new_pid, signal.SIGKILL)


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"),
                    reason="systemd-socket-activate (package systemd) is not installed")
def test_socket_activation_takes_the_passed_socket(start_lb, backends):
    """systemd-socket-activate binds the addresses (without SO_REUSEPORT) and
    execs lb with LISTEN_FDS: lb must serve on the passed socket, with both
    workers (binding the address itself would fail: EADDRINUSE)."""
    port, spare = free_port(), free_port()
    config = make_config([http_listener(port, "app")], [target_group("app", [backends[0].target])])
    config["global"]["workers"] = 2
    wrapper = ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-l", f"127.0.0.1:{spare}"]
    lb = start_lb(config, wrapper=wrapper, wait=False)
    lb.wait_log(rf"Listening on 127\.0\.0\.1:{spare} as 4\.")
    # systemd-socket-activate starts lb on the first connection, which
    # waits in the socket's queue meanwhile and is answered by lb.
    assert lbtest.get(port, "/", timeout=10 * lbtest.TIME_SCALE).status == 200
    lb.wait_log(r"ready: ")
    # The spare socket matches no listener: closed, and said so.
    lb.wait_log(rf"the tcp 127\.0\.0\.1:{spare} socket from systemd matches no listener of this config: closed")
    statuses = [lbtest.get(port, "/").status for _ in range(20)]
    assert statuses == [200] * 20
    assert "cannot listen" not in lb.stderr()
    assert not lbtest.port_accepts(spare)
    # A reload keeps the socket it was given.
    lb.reload()
    assert lbtest.get(port, "/").status == 200
