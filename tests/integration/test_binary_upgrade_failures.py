"""Binary upgrade failures and operator mistakes (README, "Binary
upgrade"; issue 17): a new lb that exits, rejects its config or is never
ready leaves the old one serving; refusals while one is under way, while
stopping, before ready. Helpers and the `upgrades` fixture: upgradetest.py."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

import lbtest
from lbtest import (HOST, TIME_SCALE, HttpConn, free_port, health_check, http_listener, make_config, target_group, wait_for)
from test_drain import WebSocket
from upgradetest import (Executable, FAILED, HANDED_OVER, NEW_READY, STARTED, UPGRADE_TIMEOUT, Upgrades, alive, assert_still_serving, children_of, owner, read_pid_file, served_by, simple_config, slow_start_script, wait_gone, wait_serving_ready)
from upgradetest import upgrades  # noqa: F401 - the fixture


def test_upgrade_to_a_binary_that_exits_at_start_leaves_the_old_one_serving(start_lb, backends, upgrades, tmp_path):
    binary = Executable(str(tmp_path / "bin"))
    config, port = simple_config(backends, tmp_path)
    lb = binary.start(start_lb, config)
    wait_serving_ready(lb)
    binary.script("#!/bin/sh\nexit 3\n")

    Upgrades.request(lb)
    started = lb.wait_log(STARTED)[0]
    assert started.group(1) == binary.path
    failed = lb.wait_log(FAILED)[0]
    pid = int(failed.group(1))
    assert pid == int(started.group(2))
    assert failed.group(2) == "it ended before it was ready (see its messages above)"
    lb.wait_log(rf"binary upgrade: the new lb \(pid {pid}\) exited with status 3\n")
    assert not alive(pid)
    assert_still_serving(lb, port, config["global"]["pid_file"])
    assert not re.search(HANDED_OVER, lb.stderr())

    # The real binary back in place: the next upgrade goes through.
    binary.restore()
    new_pid = upgrades.upgrade(lb)
    assert lb.wait(10 * TIME_SCALE) == 0
    assert served_by(port, [new_pid]) == (200, new_pid)


BAD_CONFIGS = {
    # YAML the loader refuses (an unknown key)
    "unknown key": lambda config, port: lbtest.to_yaml(config) + "bogus_key: 1\n",
    # not YAML at all
    "broken yaml": lambda config, port: lbtest.to_yaml(config) + "listeners: [\n",
    # valid, but a new listener's address is taken by someone else
    "address in use": lambda config, port: lbtest.to_yaml(dict(
        config, listeners=config["listeners"] + [http_listener(port, "web", name="second")])),
}
BAD_CONFIG_MESSAGES = {"unknown key": r"bogus_key", "broken yaml": r"lb\.yaml:\d+:\d+",
                       "address in use": r"[Aa]ddress already in use"}


@pytest.mark.parametrize("problem", list(BAD_CONFIGS))
def test_new_lb_rejecting_the_config_leaves_the_old_one_serving(start_lb, backends, upgrades, tmp_path, problem):
    config, port = simple_config(backends, tmp_path)
    lb = start_lb(config)
    wait_serving_ready(lb)
    squatter = socket.socket()
    squatter.bind((HOST, 0))
    squatter.listen(1)
    try:
        with open(lb.config_path, "w") as f:
            f.write(BAD_CONFIGS[problem](config, squatter.getsockname()[1]))
        if problem == "address in use":
            Upgrades.request(lb)
        else:
            # `lb -s` reads the file for the pid file: it refuses a bad one
            # and signals nothing; SIGUSR2 by hand still starts an upgrade.
            done = lbtest.run_lb("-s", "upgrade", "-c", lb.config_path)
            assert done.returncode == 1
            assert re.search(BAD_CONFIG_MESSAGES[problem], done.stderr), done.stderr
            assert not re.search(STARTED, lb.stderr())
            os.kill(read_pid_file(config["global"]["pid_file"]), signal.SIGUSR2)
        failed = lb.wait_log(FAILED)[0]
        pid = int(failed.group(1))
        assert failed.group(2) == "it ended before it was ready (see its messages above)"
        lb.wait_log(rf"binary upgrade: the new lb \(pid {pid}\) exited with status 1\n")
        # The new lb's own message says what is wrong, before the old one's.
        text = lb.stderr()
        assert re.search(BAD_CONFIG_MESSAGES[problem], text[:text.index(failed.group(0))]), text
        assert_still_serving(lb, port, config["global"]["pid_file"])
        # Nothing of the attempt is left: with the file fixed, an upgrade works.
        lb.write_config(config)
        new_pid = upgrades.upgrade(lb)
        assert lb.wait(10 * TIME_SCALE) == 0
        assert served_by(port, [new_pid]) == (200, new_pid)
    finally:
        squatter.close()


def test_new_lb_never_ready_is_killed_at_upgrade_timeout(start_lb, backends, upgrades, tmp_path):
    binary = Executable(str(tmp_path / "bin"))
    config, port = simple_config(backends, tmp_path, upgrade_timeout="2s")
    lb = binary.start(start_lb, config)
    wait_serving_ready(lb)
    binary.script("#!/bin/sh\nexec sleep 1000\n")

    asked = time.monotonic()
    Upgrades.request(lb)
    started = lb.wait_log(STARTED)[0]
    pid = int(started.group(2))
    assert started.group(3) == "2000"
    # Meanwhile the old lb serves as before.
    assert served_by(port, [lb.pid]) == (200, lb.pid)
    failed = lb.wait_log(FAILED, timeout=10 * TIME_SCALE)[0]
    waited = time.monotonic() - asked
    assert int(failed.group(1)) == pid
    assert failed.group(2) == "it was not ready within upgrade_timeout"
    assert 1.9 <= waited <= 2 + 2 * TIME_SCALE, waited
    lb.wait_log(rf"binary upgrade: the new lb \(pid {pid}\) was killed by signal Killed\n")
    assert not alive(pid)
    assert_still_serving(lb, port, config["global"]["pid_file"])


# ---------------------------------------------------------------- 5. cookies and tickets carry over


def test_second_upgrade_while_one_is_under_way_is_refused(start_lb, backends, upgrades, tmp_path):
    binary = Executable(str(tmp_path / "bin"))
    config, port = simple_config(backends, tmp_path)
    lb = binary.start(start_lb, config)
    wait_serving_ready(lb)
    binary.script(slow_start_script(1.5 * TIME_SCALE))

    os.kill(lb.pid, signal.SIGUSR2)
    pid = upgrades.track(int(lb.wait_log(STARTED)[0].group(2)))
    os.kill(lb.pid, signal.SIGUSR2)
    lb.wait_log(rf"binary upgrade: an upgrade to pid {pid} is already under way; this lb keeps serving")
    assert children_of(lb.pid) == [pid]
    # The first one goes on and takes over; no second process was started.
    handed = lb.wait_log(HANDED_OVER, timeout=UPGRADE_TIMEOUT)[0]
    assert int(handed.group(1)) == pid
    assert len(re.findall(STARTED, lb.stderr())) == 1
    assert lb.wait(10 * TIME_SCALE) == 0
    assert read_pid_file(config["global"]["pid_file"]) == pid
    assert served_by(port, [pid]) == (200, pid)


def test_upgrade_refused_while_stopping_and_a_stop_ends_an_upgrade_under_way(start_lb, backends, upgrades,
                                                                             tmp_path):
    binary = Executable(str(tmp_path / "bin"))
    config, port = simple_config(backends[:1], tmp_path, shutdown_timeout="10s")
    lb = binary.start(start_lb, config)
    wait_serving_ready(lb)

    # An upgrade under way when SIGQUIT comes: the new lb must not outlive
    # the stop (it would serve on after the operator stopped lb).
    binary.script(slow_start_script(2 * TIME_SCALE))
    os.kill(lb.pid, signal.SIGUSR2)
    pid = upgrades.track(int(lb.wait_log(STARTED)[0].group(2)))
    before = backends[0].stats()["requests"]
    hanging = HttpConn(port, timeout=30)
    hanging.request("GET", "/hang")       # keeps the graceful stop going
    wait_for(lambda: backends[0].stats()["requests"] > before, what="the /hang request at the target")
    lb.send_signal(signal.SIGQUIT)
    lb.wait_log(rf"binary upgrade: the new lb \(pid {pid}\) failed: lb is stopping\n")
    lb.wait_log(rf"binary upgrade: the new lb \(pid {pid}\) was killed by signal Killed")
    assert not alive(pid)

    # SIGUSR2 while draining: refused.
    os.kill(lb.pid, signal.SIGUSR2)
    lb.wait_log(r"binary upgrade refused: lb is stopping")
    assert len(re.findall(STARTED, lb.stderr())) == 1
    assert children_of(lb.pid) == []
    # And SIGTERM still ends the drain at once (the /hang request would
    # hold it until shutdown_timeout: lb does not notice a client that
    # leaves while its request waits for the target).
    lb.send_signal(signal.SIGTERM)
    assert lb.wait(3 * TIME_SCALE) == 0
    hanging.close()
    assert not re.search(NEW_READY, lb.stderr())
    assert not os.path.exists(config["global"]["pid_file"])


def test_upgrade_before_ready_is_refused(start_lb, backends, raw_backend, upgrades, tmp_path):
    """A target that accepts and never answers keeps the first health
    verdict (and so readiness) 5 s away."""
    silent = raw_backend(echo=False)
    port = free_port()
    config = make_config([http_listener(port, "web")],
                         [target_group("web", [backends[0], silent.target],
                                       health_check=health_check(interval="10s", timeout="5s"))],
                         pid_file=str(tmp_path / "lb.pid"))
    lb = start_lb(config)
    assert not re.search(r"ready: ", lb.stderr())
    os.kill(lb.pid, signal.SIGUSR2)
    lb.wait_log(r"binary upgrade refused: this lb is not ready yet")
    assert not re.search(r"ready: ", lb.stderr()), "lb got ready too soon for this test"
    assert not re.search(STARTED, lb.stderr())
    assert children_of(lb.pid) == []
    assert lb.proc.poll() is None


def test_cli_upgrade_finds_the_running_lb_or_says_why_not(start_lb, backends, upgrades, tmp_path):
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", backends[:1])])
    lb = start_lb(config)
    wait_serving_ready(lb)
    environment = {k: v for k, v in os.environ.items() if k != "MAINPID"}

    def cli(config_path, **extra):
        return subprocess.run([lbtest.lb_binary(), "-s", "upgrade", "-c", config_path], capture_output=True,
                              text=True, timeout=10 * TIME_SCALE, env=dict(environment, **extra),
                              stdin=subprocess.DEVNULL)

    # No pid_file and no $MAINPID: a clear error, nothing signalled.
    done = cli(lb.config_path)
    assert done.returncode == 1
    assert done.stderr == (f"lb: {lb.config_path}: global.pid_file is not set (and no $MAINPID), "
                           "cannot find the running lb\n")
    # A pid file that does not exist (lb not running with this config) or
    # names a process that is gone.
    pid_file = tmp_path / "other.pid"
    other = dict(config, **{"global": dict(config["global"], pid_file=str(pid_file))})
    other_path = str(tmp_path / "other.yaml")
    with open(other_path, "w") as f:
        f.write(lbtest.to_yaml(other))
    done = cli(other_path)
    assert done.returncode == 1
    assert done.stderr == f"lb: cannot read a pid from {pid_file} (is lb running?)\n"
    gone = subprocess.Popen(["true"])
    gone.wait()
    pid_file.write_text(f"{gone.pid}\n")
    done = cli(other_path)
    assert done.returncode == 1
    assert done.stderr == f"lb: kill({gone.pid}): No such process\n"
    assert not re.search(STARTED, lb.stderr())

    # systemd's ExecReload= way: $MAINPID names it.
    done = cli(lb.config_path, MAINPID=str(lb.pid))
    assert done.returncode == 0, done.stderr
    pid = upgrades.track(int(lb.wait_log(STARTED)[0].group(2)))
    lb.wait_log(HANDED_OVER, timeout=UPGRADE_TIMEOUT)
    assert lb.wait(10 * TIME_SCALE) == 0
    assert served_by(port, [pid]) == (200, pid)


@pytest.mark.parametrize("damage", ["removed", "not executable"])
def test_binary_gone_or_not_executable_is_said_and_the_old_one_serves(start_lb, backends, upgrades, tmp_path,
                                                                     damage):
    binary = Executable(str(tmp_path / "bin"))
    config, port = simple_config(backends, tmp_path)
    lb = binary.start(start_lb, config)
    wait_serving_ready(lb)
    if damage == "removed":
        os.unlink(binary.path)
        reason = "No such file or directory"
    else:
        os.chmod(binary.path, 0o644)
        reason = "Permission denied"
    Upgrades.request(lb)
    lb.wait_log(rf"binary upgrade: cannot run {re.escape(binary.path)}: {reason}; this lb keeps serving")
    assert not re.search(STARTED, lb.stderr())
    assert_still_serving(lb, port, config["global"]["pid_file"])
    binary.restore()
    new_pid = upgrades.upgrade(lb)
    assert lb.wait(10 * TIME_SCALE) == 0
    assert served_by(port, [new_pid]) == (200, new_pid)


def test_upgrade_again_while_the_previous_old_one_still_drains(start_lb, backends, upgrades, tmp_path):
    """Two upgrades in a row (an operator who sends it twice, a bad deploy
    corrected at once): three processes at the same time, each WebSocket
    stays on the process that accepted it."""
    config, port = simple_config(backends, tmp_path, shutdown_timeout="30s")
    lb = start_lb(config)
    wait_serving_ready(lb)
    first = WebSocket(port)
    second = None
    try:
        assert first.echo("one") == "one"
        second_pid = upgrades.upgrade(lb)
        second = WebSocket(port)
        assert second.echo("two") == "two"
        third_pid = upgrades.upgrade(lb)     # the pid file names the second process now
        pids = [lb.pid, second_pid, third_pid]
        assert owner(first.sock.getsockname(), port, pids) == lb.pid
        assert owner(second.sock.getsockname(), port, pids) == second_pid
        assert served_by(port, pids) == (200, third_pid)
        assert first.echo("one again") == "one again"
        assert second.echo("two again") == "two again"
        assert alive(lb.pid) and alive(second_pid)
        first.close()
        assert lb.wait(10 * TIME_SCALE) == 0
        second.close()
        assert wait_gone(second_pid, 10 * TIME_SCALE) == 0
    finally:
        first.close()
        if second:
            second.close()
    assert served_by(port, [third_pid]) == (200, third_pid)
