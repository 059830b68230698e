"""Helpers of the binary upgrade tests (test_binary_upgrade*.py; README,
"Binary upgrade"): the processes an upgrade makes, who serves a
connection, a binary that fails in a chosen way, and the `upgrades`
fixture.

After an upgrade the serving process is not the one the start_lb fixture
started but its child (reparented to this test process when the old one
exits: the `upgrades` fixture makes pytest a child subreaper for the test).
The fixture stops every new lb a test made, requires exit code 0 from it,
and runs before start_lb's teardown, whose sanitizer check reads the same
stderr file (the new process inherits the old one's stdout and stderr).
Under ASan the child execs the same sanitized binary (LB_BINARY)."""

import ctypes
import os
import re
import shutil
import signal
import time

import pytest

import lbtest
from lbtest import (TIME_SCALE, HttpConn, free_port, http_listener, make_config, target_group)


PR_SET_CHILD_SUBREAPER = 36

STARTED = r"binary upgrade: started (\S+) \(pid (\d+)\), waiting up to (\d+) ms"
NEW_READY = r"ready: serving in place of pid (\d+)"
HANDED_OVER = r"binary upgrade: the new lb \(pid (\d+)\) is ready; this one stops accepting and drains"
FAILED = r"binary upgrade: the new lb \(pid (\d+)\) failed: (.*); this lb keeps serving"
UPGRADE_TIMEOUT = 20 * TIME_SCALE  # a new lb's start and first health verdicts


# ---------------------------------------------------------------- processes

def _prctl(option, value):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")


def alive(pid):
    """Running (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def reap(pid):
    """Exit code of `pid` if it ended and was ours to wait for (else None);
    'running' if it still runs."""
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if not alive(pid) else "running"
    if got == 0:
        return "running"
    return os.waitstatus_to_exitcode(status)


def wait_gone(pid, timeout):
    """Waits until `pid` has ended; its exit code when this process reaped
    it, None when someone else did; raises on a timeout."""
    deadline = time.monotonic() + timeout
    while True:
        code = reap(pid)
        if code != "running":
            return code
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} still running after {timeout}s")
        time.sleep(0.02)


def children_of(pid):
    """Pids whose parent is `pid` (zombies included)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def wait_text(lb, pattern, timeout=UPGRADE_TIMEOUT, count=1):
    """lb.wait_log for a log that outlives lb.proc: after an upgrade the new
    processes write to the same file."""
    return lb.wait_log(pattern, timeout=timeout, count=count, interval=0.02, while_running=False)


def read_pid_file(path):
    with open(path) as f:
        return int(f.read().strip())


class Upgrades:
    """Drives upgrades of one or more lbs and owns the processes they start."""

    def __init__(self):
        self.pids = []

    def track(self, pid):
        if pid not in self.pids:
            self.pids.append(pid)
        return pid

    @staticmethod
    def request(lb, via="cli"):
        """Asks the lb named by the pid file for an upgrade: `lb -s upgrade`
        (which must succeed) or SIGUSR2 to pid `via`."""
        if via == "cli":
            done = lbtest.run_lb("-s", "upgrade", "-c", lb.config_path)
            assert done.returncode == 0, done.stderr
            assert done.stdout == "" and done.stderr == "", done
        else:
            os.kill(via, signal.SIGUSR2)

    def upgrade(self, lb, via="cli", timeout=UPGRADE_TIMEOUT):
        """One whole upgrade: returns the new pid once the old one logged
        that it hands over. Checks the new one's own line and the pid file."""
        pid_file = lb.config["global"].get("pid_file") if isinstance(lb.config, dict) else None
        serving = via if via != "cli" else read_pid_file(pid_file)
        counts = {pattern: len(re.findall(pattern, lb.stderr())) for pattern in (STARTED, NEW_READY, HANDED_OVER)}
        self.request(lb, via)
        started = wait_text(lb, STARTED, timeout, count=counts[STARTED] + 1)[-1]
        new_pid = self.track(int(started.group(2)))
        handed = wait_text(lb, HANDED_OVER, timeout, count=counts[HANDED_OVER] + 1)[-1]
        assert int(handed.group(1)) == new_pid, (handed.group(0), new_pid)
        ready = wait_text(lb, NEW_READY, timeout, count=counts[NEW_READY] + 1)[-1]
        assert int(ready.group(1)) == serving, (ready.group(0), serving)
        if pid_file:
            assert read_pid_file(pid_file) == new_pid
        return new_pid

    def stop_all(self):
        problems = []
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
        for pid in self.pids:
            try:
                code = wait_gone(pid, lbtest.STOP_TIMEOUT)
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
                wait_gone(pid, 5)
                problems.append(f"new lb pid {pid} did not exit within {lbtest.STOP_TIMEOUT:g}s of SIGTERM")
                continue
            if code not in (0, None):
                problems.append(f"new lb pid {pid}: exit code {code}")
        return problems


@pytest.fixture
def upgrades(start_lb):
    """Upgrades of lbs of this test; every new lb is stopped (SIGTERM, exit 0)
    at teardown, before start_lb checks the shared stderr for sanitizer
    reports."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    tracker = Upgrades()
    try:
        yield tracker
    finally:
        problems = tracker.stop_all()
        _prctl(PR_SET_CHILD_SUBREAPER, 0)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


def wait_serving_ready(lb, count=1):
    """The first 'ready: generation' line: an lb takes upgrades from then on."""
    lb.wait_log(r"ready: generation \d+: ", count=count)


# ---------------------------------------------------------------- which process serves a connection

def _server_side_inode(server_port, client_port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == server_port and \
                        int(remote.rsplit(":", 1)[1], 16) == client_port and inode != "0":
                    return inode
    return None


def owner(client_address, server_port, pids):
    """Which of `pids` holds the accepted socket of the client connection
    from `client_address` (host, port) to lb's `server_port` (the connection
    must have been answered once, so that it is accepted)."""
    inode = _server_side_inode(server_port, client_address[1])
    assert inode, f"no accepted socket for client port {client_address[1]}"
    wanted = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


def served_by(port, pids, path="/"):
    """One request on a fresh connection: (status, pid of the lb that
    accepted it)."""
    with HttpConn(port) as conn:
        conn.request("GET", path)
        response = conn.read_response()
        return response.status, owner(conn.sock.getsockname(), port, pids)


# ---------------------------------------------------------------- wrk


class Executable:
    """A copy of the lb binary in a directory of the test's own, so that the
    test can replace it (as a package upgrade replaces /usr/sbin/lb) with
    something else. lb runs the path it was started by."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "lb")
        self.restore()

    def _replace(self, write):
        # Written aside, then renamed over: the running binary's file is
        # never written (ETXTBSY), as a package manager does it.
        temporary = self.path + ".new"
        write(temporary)
        os.replace(temporary, self.path)

    def restore(self):
        self._replace(lambda path: shutil.copy2(lbtest.lb_binary(), path))

    def script(self, text):
        def write(path):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self._replace(write)

    def start(self, start_lb, config):
        saved = os.environ.get("LB_BINARY")
        os.environ["LB_BINARY"] = self.path
        try:
            return start_lb(config)
        finally:
            if saved is None:
                del os.environ["LB_BINARY"]
            else:
                os.environ["LB_BINARY"] = saved


def slow_start_script(seconds):
    """A new binary that takes `seconds` before it becomes lb (one process:
    it execs the real binary with its arguments and descriptors)."""
    return ("#!/usr/bin/python3\n"
            "import os, sys, time\n"
            f"time.sleep({seconds})\n"
            f"os.execv({lbtest.lb_binary()!r}, [{lbtest.lb_binary()!r}] + sys.argv[1:])\n")


def assert_still_serving(lb, port, pid_file=None):
    """The old lb serves new connections itself, holds the pid file, and has
    no child left."""
    for _ in range(10):
        assert served_by(port, [lb.pid]) == (200, lb.pid)
    assert lb.admin_get("/api/v1/stats")["generation"] >= 1
    if pid_file:
        assert read_pid_file(pid_file) == lb.pid
    assert children_of(lb.pid) == []
    assert lb.proc.poll() is None


def simple_config(backends, tmp_path, **global_extra):
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", backends[:2])], workers=2,
                         pid_file=str(tmp_path / "lb.pid"), **global_extra)
    return config, port
