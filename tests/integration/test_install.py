"""`meson install`: the tree it makes (README, "Install"), the example
config it puts in /etc/lb, the systemd units (systemd-analyze verify and
security, and the unit's system call filter against what lb really calls),
the lb user's sysusers.d entry and the man page.

The install is a package build's: a fresh `meson setup` of this source tree
with --prefix=/usr --sysconfdir=/etc, then `meson install --destdir`.
Compiling lb again in that build directory would take about three minutes
on CI's two cores (and the suite runs twice, release and sanitized), so the
binary under test (LB_BINARY) is put where that build would have linked it
and `meson install --no-rebuild` installs it: every install rule of the
meson.build files runs as written, on the binary every other test uses.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

import lbtest
import tlstest
from lbtest import HOST, free_port, health_check, http_listener, make_config, target_group, tcp_listener, to_yaml

REPO = lbtest.REPO
SCHEMA_SOURCE = os.path.join(REPO, "conf", "lb.schema.json")
INSTALLED_SCHEMA = "/usr/share/lb/lb.schema.json"
MODELINE = "# yaml-language-server: $schema="

# What `systemd-analyze security --offline=true` gives lb.service on
# systemd 252 (Debian 12): 1.4, "OK". What is left exposed is what a
# network proxy needs (README, "Install"). A change that weakens the unit
# raises the score and fails here.
MAX_EXPOSURE = 1.4

# System calls lb was seen making (strace -f of a run with http, https and
# tcp listeners (a tcp tunnel splices), health checks, a DNS name target, sd_notify, proxied
# requests, `lb -t`, `lb -s reload`, a binary upgrade, a reopen and a
# graceful stop). The unit's SystemCallFilter must allow each; the test
# that runs lb under strace finds any new one. The io_uring operations
# themselves (accept, connect, send, recv) are not system calls, so no
# filter sees them.
SYSCALLS_LB_MAKES = """
    io_uring_setup io_uring_enter io_uring_register eventfd2 signalfd4
    socket bind listen setsockopt getsockopt getsockname getpeername shutdown sendmsg
    mmap munmap mprotect madvise brk futex clone clone3 set_robust_list rseq exit exit_group
    read write pread64 lseek openat close newfstatat readlink access getcwd unlink fcntl dup3
    memfd_create pipe2 splice ftruncate execve wait4
    rt_sigaction rt_sigprocmask kill getpid getuid geteuid getgid getegid prctl prlimit64
    getrandom uname sysinfo clock_nanosleep
""".split()


def run(*cmd, timeout=120, **kwargs):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kwargs)


def need(*tools):
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (tools/dev install provides it)")


def pkg_config_dir(variable, fallback):
    """systemd's own directory for `variable`, where meson.build puts /usr
    installs (tools/systemd/meson.build)."""
    result = run("pkg-config", "--variable=" + variable, "systemd")
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else fallback


def meson_install(build_dir, destdir):
    result = run("meson", "install", "-C", str(build_dir), "--no-rebuild", "--destdir", str(destdir))
    assert result.returncode == 0, result.stdout + result.stderr


class Installed:
    """A `meson install --destdir` tree of a fresh /usr build directory."""

    def __init__(self, build_dir, root):
        self.build_dir = build_dir
        self.root = root
        self.unit_dir = pkg_config_dir("systemdsystemunitdir", "/usr/lib/systemd/system")
        self.sysusers_dir = pkg_config_dir("sysusersdir", "/usr/lib/sysusers.d")

    def path(self, absolute):
        return os.path.join(self.root, absolute.lstrip("/"))

    @property
    def lb(self):
        return self.path("/usr/sbin/lb")

    @property
    def config(self):
        return self.path("/etc/lb/lb.yaml")

    @property
    def man_page(self):
        return self.path("/usr/share/man/man8/lb.8")

    def unit(self, name="lb.service"):
        return self.path(os.path.join(self.unit_dir, name))

    def files(self):
        """Every file and link under the root, as absolute paths of the target system."""
        found = []
        for directory, _, names in os.walk(self.root):
            for name in names:
                found.append("/" + os.path.relpath(os.path.join(directory, name), self.root))
        return sorted(found)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    need("meson", "pkg-config")
    build_dir = tmp_path_factory.mktemp("install-build")
    started = time.monotonic()
    setup = run("meson", "setup", str(build_dir), REPO, "--prefix=/usr", "--sysconfdir=/etc",
                "-Dtests=false", "-Db_sanitize=none", timeout=300)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    os.makedirs(build_dir / "lb", exist_ok=True)
    shutil.copy2(lbtest.lb_binary(), build_dir / "lb" / "lb")
    root = tmp_path_factory.mktemp("destdir")
    meson_install(build_dir, root)
    print(f"meson setup + install: {time.monotonic() - started:.1f}s")
    return Installed(build_dir, root)


def expected_files(installed):
    files = [
        "/etc/lb/lb.yaml",
        os.path.join(installed.unit_dir, "lb.service"),
        os.path.join(installed.unit_dir, "lb.socket"),
        os.path.join(installed.sysusers_dir, "lb.conf"),
        "/usr/sbin/lb",
        "/usr/share/man/man8/lb.8",
    ]
    if schema_is_installed():
        files.append(INSTALLED_SCHEMA)
    return sorted(files)


def schema_is_installed():
    """Whether a meson.build installs conf/lb.schema.json (another change
    adds that line; until then the tree has no schema)."""
    for directory, _, names in os.walk(REPO):
        if "meson.build" in names and not os.path.relpath(directory, REPO).startswith(("build", ".")):
            with open(os.path.join(directory, "meson.build")) as f:
                if re.search(r"install_data\([^)]*lb\.schema\.json", f.read()):
                    return True
    return False


def unit_settings(path):
    """The unit file's Key=value lines, each key's values in order."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")):
                key, value = line.split("=", 1)
                settings.setdefault(key, []).append(value)
    return settings


# ---------------------------------------------------------------- the tree

def test_the_tree_is_exactly_the_listed_files(installed):
    files = installed.files()
    print("\n".join(files))
    assert files == expected_files(installed)
    assert stat.S_IMODE(os.stat(installed.lb).st_mode) == 0o755
    for path in (installed.config, installed.man_page, installed.unit()):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path


def test_the_readme_lists_the_tree(installed):
    """README, "Install": the tree as `meson install --destdir D` makes it."""
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    install = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    listed = sorted(re.findall(r"^D(/\S+)", install, re.M))
    assert listed == expected_files(installed)


def test_the_installed_binary_is_the_one_under_test(installed):
    with open(installed.lb, "rb") as a, open(lbtest.lb_binary(), "rb") as b:
        assert a.read() == b.read()
    result = run(installed.lb, "--version")
    assert result.returncode == 0 and result.stdout.startswith("lb "), result.stdout + result.stderr


def test_the_schema_is_installed_as_it_is_in_the_source(installed):
    if not os.path.exists(SCHEMA_SOURCE) or not schema_is_installed():
        pytest.skip("conf/lb.schema.json is not in the install tree yet: no meson.build installs it")
    with open(SCHEMA_SOURCE, "rb") as a, open(installed.path(INSTALLED_SCHEMA), "rb") as b:
        assert a.read() == b.read()


def test_the_installed_config_names_the_installed_schema(installed):
    """The example's editor modeline names the schema beside it in the
    source tree; installed, it names the installed one."""
    with open(os.path.join(REPO, "conf", "examples", "lb.yaml")) as f:
        source = f.read().splitlines(keepends=True)
    with open(installed.config) as f:
        copy = f.read().splitlines(keepends=True)
    assert source[0].startswith(MODELINE), source[0]
    assert copy[0] == MODELINE + INSTALLED_SCHEMA + "\n"
    assert copy[1:] == source[1:]


def test_installing_again_keeps_an_edited_config(installed, tmp_path):
    root = tmp_path / "root"
    meson_install(installed.build_dir, root)
    config = root / "etc" / "lb" / "lb.yaml"
    config.write_text("# the operator's own\n")
    meson_install(installed.build_dir, root)
    assert config.read_text() == "# the operator's own\n"
    # Everything else is replaced as usual.
    assert (root / "usr" / "sbin" / "lb").exists()


# ---------------------------------------------------------------- example config

def config_copy(installed, tmp_path, text=None):
    """The installed example in a scratch directory, with the admin token it
    names beside it (its relative paths are read from its own directory:
    /etc/lb/admin.token once installed)."""
    path = tmp_path / "lb.yaml"
    with open(installed.config) as f:
        path.write_text(text if text is not None else f.read())
    (tmp_path / "admin.token").write_text("a-token-for-the-test\n")
    return path


def lb_check(installed, path):
    return run(installed.lb, "-t", "-c", str(path), timeout=30)


def test_the_example_config_passes_lb_t(installed, tmp_path):
    path = config_copy(installed, tmp_path)
    result = lb_check(installed, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test is successful" in result.stdout
    # The token it names must exist: the comment at its top says how to make it.
    os.unlink(tmp_path / "admin.token")
    result = lb_check(installed, path)
    assert result.returncode == 1
    assert "global.admin.token_file" in result.stderr and "admin.token" in result.stderr


def enable_https(text):
    """The example with its commented-out https listener turned on and the
    http listener redirecting to it, as its comments tell an operator to."""
    out, in_block, enabled, redirected = [], False, False, False
    for line in text.splitlines():
        if line.startswith("  # - name: https"):
            in_block = enabled = True
        if in_block and not line.startswith("  #"):
            in_block = False
        if in_block:
            line = "  " + line[4:]
        elif line == "    default_action: { forward: { target_group: app } }" and not redirected:
            continue
        elif line.startswith("    # default_action: { redirect:"):
            line = "    " + line[6:]
            redirected = True
        out.append(line)
    assert enabled and redirected, "the example no longer has the https block its comments describe"
    return "\n".join(out) + "\n"


def test_the_example_config_is_ready_for_https_on_443(installed, tmp_path):
    with open(installed.config) as f:
        text = enable_https(f.read())
    path = config_copy(installed, tmp_path, text)
    tlstest.make_cert(str(tmp_path), "example.com", "example.com", sans=["DNS:example.com"])
    result = lb_check(installed, path)
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + text
    assert "listen: 0.0.0.0:443" in text


def test_the_example_config_fits_the_unit(installed):
    """The pid file and access log are where the unit lets lb write, and a
    graceful stop ends before systemd's stop timeout."""
    yaml = pytest.importorskip("yaml")
    with open(installed.config) as f:
        config = yaml.safe_load(f)
    unit = unit_settings(installed.unit())
    glob = config["global"]
    assert glob["pid_file"] == "/run/lb/lb.pid"
    assert os.path.dirname(glob["pid_file"]) == "/run/" + unit["RuntimeDirectory"][0]
    assert glob["access_log"]["path"] == "/var/log/lb/access.log"
    assert os.path.dirname(glob["access_log"]["path"]) == "/var/log/" + unit["LogsDirectory"][0]
    assert glob["admin"]["listen"].startswith("127.0.0.1:") and glob["admin"]["token_file"]

    def seconds(text):
        return int(re.fullmatch(r"(\d+)s", text).group(1))
    assert seconds(glob["shutdown_timeout"]) < seconds(unit["TimeoutStopSec"][0])
    assert [listener["listen"] for listener in config["listeners"]] == ["0.0.0.0:80"]
    assert all(group.get("health_check") for group in config["target_groups"])
    # Ready waits for health verdicts: healthy_threshold x interval, 5 x 30s
    # with the defaults, must fit in the start timeout.
    start_timeout = int(re.fullmatch(r"(\d+)min", unit["TimeoutStartSec"][0]).group(1)) * 60
    assert 5 * 30 < start_timeout
    for group in config["target_groups"]:
        check = group["health_check"]
        assert check["healthy_threshold"] * seconds(check["interval"]) < start_timeout


# ---------------------------------------------------------------- systemd

def unit_copies(installed, tmp_path):
    """The units with the binary and config paths inside the destdir, so
    that systemd-analyze finds the executables they name."""
    directory = tmp_path / "units"
    directory.mkdir()
    for name in ("lb.service", "lb.socket"):
        with open(installed.unit(name)) as f:
            text = f.read()
        text = text.replace("/usr/sbin/lb", installed.lb).replace("/etc/lb/lb.yaml", installed.config)
        (directory / name).write_text(text)
    return directory


def test_the_unit_runs_the_installed_binary_and_config(installed):
    unit = unit_settings(installed.unit())
    assert unit["ExecStart"] == ["/usr/sbin/lb -c /etc/lb/lb.yaml"]
    assert unit["ExecReload"] == ["/usr/sbin/lb -t -c /etc/lb/lb.yaml",
                                  "/usr/sbin/lb -s reload -c /etc/lb/lb.yaml"]
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["KillSignal"] == ["SIGQUIT"] and unit["KillMode"] == ["control-group"]
    assert unit["User"] == ["lb"]
    # Nothing may forbid executing lb again: the binary upgrade does.
    for key in ("NoExecPaths", "ExecPaths", "RootDirectory", "RootImage"):
        assert key not in unit, key


def test_systemd_analyze_verify_passes(installed, tmp_path):
    need("systemd-analyze")
    units = unit_copies(installed, tmp_path)
    # MANPATH: verify looks up Documentation=man:lb(8), which must be the
    # installed page.
    env = dict(os.environ, MANPATH=installed.path("/usr/share/man"), SYSTEMD_LOG_COLOR="0")
    result = run("systemd-analyze", "verify", str(units / "lb.service"), str(units / "lb.socket"),
                 env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    # And it does complain about a unit with a mistake in it.
    broken = (units / "lb.service").read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    (units / "lb.service").write_text(broken)
    result = run("systemd-analyze", "verify", str(units / "lb.service"), env=env, timeout=60)
    assert "ProtectSytem" in result.stderr


def test_systemd_analyze_security_exposure_is_ok(installed, tmp_path):
    need("systemd-analyze")
    units = unit_copies(installed, tmp_path)
    result = run("systemd-analyze", "security", "--offline=true", "--no-pager", str(units / "lb.service"),
                 timeout=60)
    match = re.search(r"Overall exposure level for lb\.service: (\d+\.\d+) (\S+)", result.stdout)
    assert match, result.stdout + result.stderr
    exposed = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    print(f"exposure {match.group(1)} {match.group(2)}\n" + "\n".join(exposed))
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout
    assert match.group(2) == "OK"


def syscall_groups():
    """systemd's named system call groups (`systemd-analyze syscall-filter`)."""
    result = run("systemd-analyze", "syscall-filter", "--no-pager")
    assert result.returncode == 0, result.stderr
    groups, current = {}, None
    for line in result.stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif not line.strip():
            current = None
        elif current is not None and not line.strip().startswith("#"):
            current.add(line.strip())
    return groups


def allowed_syscalls(installed):
    """What the unit's SystemCallFilter lines let lb call."""
    groups = syscall_groups()

    def expand(name):
        if not name.startswith("@"):
            return {name}
        return set().union(*(expand(member) for member in groups[name]))

    allowed = None
    for line in unit_settings(installed.unit())["SystemCallFilter"]:
        deny = line.startswith("~")
        names = set().union(*(expand(name) for name in line.lstrip("~").split()))
        if deny:
            allowed -= names
        else:
            allowed = names if allowed is None else allowed | names
    return allowed


def test_the_system_call_filter_allows_io_uring_and_what_lb_calls(installed):
    need("systemd-analyze")
    allowed = allowed_syscalls(installed)
    assert {"io_uring_setup", "io_uring_enter", "io_uring_register"} <= allowed
    assert sorted(set(SYSCALLS_LB_MAKES) - allowed) == []


def test_lb_running_makes_no_system_call_the_unit_forbids(installed, tmp_path, backends):
    """lb under strace, doing what a service does: start with health
    checks and an https listener, tell systemd (NOTIFY_SOCKET), proxy,
    `lb -t` and `lb -s reload` (the unit's ExecReload), a binary upgrade,
    reopen, a graceful stop. Every system call it makes must pass the
    unit's filter and every socket be of a family the unit allows."""
    need("systemd-analyze", "strace")
    if lbtest.SANITIZED:
        pytest.skip("the sanitizer runtime makes system calls of its own")
    if run("strace", "-f", "-o", os.devnull, "true", timeout=30).returncode != 0:
        pytest.skip("strace cannot trace here (ptrace not permitted)")
    port, tls_port, tcp_port = free_port(), free_port(), free_port()
    cert = tlstest.make_cert(str(tmp_path), "site", "site.test", sans=["DNS:site.test"])
    (tmp_path / "admin.token").write_text("token\n")
    config = make_config(
        [http_listener(port, "app"),
         dict(http_listener(tls_port, "app", name="tls", protocol="https"), tls={"certificates": [cert.config]}),
         tcp_listener(tcp_port, "raw")],
        [target_group("app", backends, health_check=health_check()),
         target_group("raw", backends, protocol="tcp")],
        workers=2, pid_file=str(tmp_path / "lb.pid"),
        access_log={"path": str(tmp_path / "access.log"), "format": "json"})
    config["global"]["admin"]["token_file"] = str(tmp_path / "admin.token")
    config_path = tmp_path / "lb.yaml"
    config_path.write_text(to_yaml(config))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_name = f"\0lb-test-install-{os.getpid()}"
    notify.bind(notify_name)
    env = dict(os.environ, NOTIFY_SOCKET="@" + notify_name[1:])
    trace = tmp_path / "trace"
    stderr_path = tmp_path / "lb.stderr"
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace), installed.lb, "-c", str(config_path)],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=env)
    try:
        lbtest.wait_port(port, proc=proc, what="lb under strace", timeout=30)
        lbtest.wait_port(tls_port, proc=proc, what="lb under strace", timeout=30)
        assert lbtest.get(port, "/").status == 200
        # A tcp tunnel (spliced both ways).
        lbtest.wait_port(tcp_port, proc=proc, what="lb under strace", timeout=30)
        assert lbtest.get(tcp_port, "/").status == 200
        commands = []
        for name, args in (("check", ["-t", "-c", str(config_path)]),
                           ("reload", ["-s", "reload", "-c", str(config_path)])):
            command_trace = tmp_path / f"trace.{name}"
            result = run("strace", "-f", "-qq", "-o", str(command_trace), installed.lb, *args, timeout=60)
            assert result.returncode == 0, result.stdout + result.stderr
            commands.append(command_trace)
        wait_for(lambda: "reloaded: generation" in stderr_path.read_text(), "lb to reload", proc)
        assert lbtest.get(port, "/").status == 200
        # The binary upgrade: fork and exec of lb by lb, inside the unit
        # (refused until lb is ready: health checks have a verdict).
        wait_for(lambda: re.search(r" info ready: ", stderr_path.read_text()), "lb to be ready", proc)
        old_pid = read_pid(tmp_path / "lb.pid")
        command_trace = tmp_path / "trace.upgrade"
        result = run("strace", "-f", "-qq", "-o", str(command_trace), installed.lb,
                     "-s", "upgrade", "-c", str(config_path), timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        commands.append(command_trace)
        wait_for(lambda: read_pid(tmp_path / "lb.pid") not in (None, old_pid), "the new lb's pid file", proc)
        assert lbtest.get(port, "/").status == 200
        # lb, not strace: the pid file names the traced process.
        lb_pid = read_pid(tmp_path / "lb.pid")
        os.kill(lb_pid, signal.SIGUSR1)
        wait_for(lambda: "reopened" in stderr_path.read_text(), "lb to reopen its log", proc)
        os.kill(lb_pid, signal.SIGQUIT)
        assert proc.wait(timeout=30) == 0, stderr_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
    made, families = set(), set()
    for path in [trace, *commands]:
        text = path.read_text()
        made |= set(re.findall(r"^\d+\s+([a-z_0-9]+)\(", text, re.M))
        families |= set(re.findall(r"^\d+\s+socket\((AF_[A-Z0-9]+)", text, re.M))
    assert "io_uring_setup" in made
    assert "splice" in made, "the tcp tunnel's bytes were copied, not spliced"
    print("system calls:", " ".join(sorted(made)))
    assert sorted(made - allowed_syscalls(installed)) == []
    allowed_families = set(unit_settings(installed.unit())["RestrictAddressFamilies"][0].split())
    assert families <= allowed_families, families


def read_pid(path):
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def wait_for(condition, what, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"lb exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def test_sysusers_makes_the_user_the_unit_runs_as(installed, tmp_path):
    need("systemd-sysusers")
    entry = installed.path(os.path.join(installed.sysusers_dir, "lb.conf"))
    result = run("systemd-sysusers", "--root", str(tmp_path), "--dry-run", entry, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    user = unit_settings(installed.unit())["User"][0]
    assert f"Creating user '{user}'" in result.stdout + result.stderr


# ---------------------------------------------------------------- man page

def render_man(installed):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    result = run("man", "-P", "cat", "-l", installed.man_page, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return re.sub(r".\x08", "", result.stdout)


def section(text, name):
    match = re.search(rf"^{name}\n(.*?)(?=^[A-Z][A-Z ]+\n)", text, re.M | re.S)
    assert match, f"no {name} section in the rendered man page"
    return match.group(1)


def help_options(help_text):
    """Each option line of CLI11's --help: (short or None, long)."""
    return re.findall(r"^\s+(?:(-\w),)?(--[\w-]+)", help_text, re.M)


def test_the_man_page_renders_and_describes_every_option(installed):
    need("man")
    text = render_man(installed)
    assert text.startswith("LB(8)"), text[:200]
    options = section(text, "OPTIONS")
    tags = [line.strip() for line in options.splitlines() if re.match(r"^ {7}\S", line)]

    result = run(installed.lb, "--help")
    assert result.returncode == 0, result.stderr
    found = help_options(result.stdout)
    assert ("-c", "--config") in found and ("-t", "--test") in found, result.stdout
    for short, long in found:
        tag = [t for t in tags if re.search(rf"(^|, ){re.escape(long)}\b", t)]
        assert tag, f"lb --help lists {long}, the man page's OPTIONS do not:\n" + "\n".join(tags)
        if short:
            assert re.match(rf"{re.escape(short)}, {re.escape(long)}\b", tag[0]), tag[0]
    # Subcommands, and the values -s takes.
    subcommands = re.findall(r"^\s+([a-z][\w-]+)\s", result.stdout.split("Subcommands:")[1], re.M)
    assert "import-nginx" in subcommands, result.stdout
    for name in subcommands:
        assert any(t.startswith(name) for t in tags), f"subcommand {name} is not in OPTIONS"
    values = re.search(r"--signal TEXT\s+send a signal to the running lb: ([a-z, ]+)", result.stdout)
    assert values, result.stdout
    for value in re.findall(r"[a-z]+", values.group(1)):
        assert re.search(rf"\b{value}\s+\(SIG", options), f"-s {value} is not described"
    signals = section(text, "SIGNALS")
    for name in ("SIGHUP", "SIGQUIT", "SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2"):
        assert name in signals, name
    for name in ("SYSTEMD", "ENVIRONMENT", "FILES", "EXIT STATUS", "SEE ALSO"):
        section(text + "END\n", name)


def test_groff_warns_about_nothing_in_the_man_page(installed):
    need("groff")
    result = run("groff", "-man", "-ww", "-z", installed.man_page, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
