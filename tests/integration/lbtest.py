"""Helpers for lb's integration tests: ports, processes, configs, raw HTTP.

The tests drive the real binary (LB_BINARY, default <repo>/build/lb/lb) with
a YAML file, backend.py processes on 127.0.0.1 and real clients.
"""

import json
import os
import resource
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BACKEND_SCRIPT = os.path.join(HERE, "backend.py")
HOST = "127.0.0.1"

# Sanitizer builds are slower to start and to move bytes.
SANITIZED = os.environ.get("LB_SANITIZED", "") not in ("", "0")
# Upper bounds on "promptly" stretch by this much under sanitizers.
TIME_SCALE = 2.0 if SANITIZED else 1.0
START_TIMEOUT = 10.0 * TIME_SCALE
STOP_TIMEOUT = 5.0 * TIME_SCALE


def lb_binary():
    return os.environ.get("LB_BINARY") or os.path.join(REPO, "build", "lb", "lb")


def project_version():
    with open(os.path.join(REPO, "meson.build")) as f:
        match = re.search(r"version\s*:\s*'([^']+)'", f.read())
    return match.group(1) if match else None


# ---------------------------------------------------------------- ports

_handed_out = set()


def free_port():
    """A TCP port nothing uses now on any local address, never handed out
    twice per run. The probe binds the wildcard address: a port free on
    127.0.0.1 may still be held on 127.0.0.5 by a client socket in
    TIME_WAIT, and a listener on 0.0.0.0 would then fail with EADDRINUSE."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port")


def port_accepts(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, timeout=START_TIMEOUT, proc=None, what="process", host=HOST):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} "
                               f"before listening on {port}")
        if port_accepts(port, host):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not listening on {port} after {timeout}s")


def listening_sockets(port):
    """Number of sockets in LISTEN state bound to `port` (one per worker with
    SO_REUSEPORT)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            pass
    return count


# ---------------------------------------------------------------- processes

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class RssSampler:
    """Samples a process's RSS in the background; `peak_kib` after stop()."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Backend:
    """A backend.py process (HTTP, or TCP echo with tcp_echo=True; HTTPS with
    tls=(cert_path, key_path); udp_echo=True adds a UDP echo on the same
    port number)."""

    def __init__(self, name, log_dir, port=None, tcp_echo=False, tls=None, udp_echo=False, host=HOST):
        self.name = name
        self.host = host
        self.port = port or free_port()
        self.tcp_echo = tcp_echo
        self.tls = tls
        self.log_path = os.path.join(log_dir, f"backend-{name}.log")
        cmd = [sys.executable, BACKEND_SCRIPT, "--port", str(self.port), "--name", name, "--host", host]
        if tcp_echo:
            cmd.append("--tcp-echo")
        if udp_echo:
            cmd.append("--udp-echo")
        if tls:
            cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, host=host, proc=self.proc, what=f"backend {name}")
        except Exception:
            self.stop()
            raise

    @property
    def target(self):
        return {"address": self.host, "port": self.port}

    def _admin(self, method, path):
        conn = HttpConn(self.port, host=self.host, tls=bool(self.tls))
        try:
            conn.request(method, path)
            return json.loads(conn.read_response().body)
        finally:
            conn.close()

    def stats(self):
        return self._admin("GET", "/admin/stats")

    def set_health(self, up):
        self._admin("POST", "/admin/health/" + ("up" if up else "down"))

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class RawBackend:
    """A TCP server in this process that keeps every byte each connection
    sends (for exact-bytes checks such as PROXY headers) and, with echo=True,
    sends them back."""

    def __init__(self, echo=True, host=HOST):
        self.echo = echo
        self.listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.host = host
        self.connections = []          # bytearray per accepted connection, in accept order
        self.peers = []                # (ip, port) lb connected from, per connection
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def target(self):
        return {"address": self.host, "port": self.port}

    def _accept(self):
        while True:
            try:
                conn, peer = self.listener.accept()
            except OSError:
                return
            received = bytearray()
            with self._lock:
                self.connections.append(received)
                self.peers.append(peer[:2])
            threading.Thread(target=self._serve, args=(conn, received), daemon=True).start()

    def _serve(self, conn, received):
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    received += data
                if self.echo:
                    try:
                        conn.sendall(data)
                    except OSError:
                        return

    def received(self, index=-1):
        with self._lock:
            return bytes(self.connections[index])

    def wait_connection(self, prefix, size=None, timeout=10.0):
        """The bytes of the connection that began with `prefix`, once it has
        sent at least `size` bytes (default len(prefix)). Other connections
        (lb's readiness probe, other clients) are ignored."""
        size = len(prefix) if size is None else size

        def found():
            with self._lock:
                for data in self.connections:
                    if data.startswith(prefix) and len(data) >= size:
                        return bytes(data)
            return None
        return wait_for(found, timeout=timeout, what=f"a connection starting {prefix[:40]!r} at the raw backend")

    def count(self):
        with self._lock:
            return len(self.connections)

    def close(self):
        self.listener.close()


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


class Lb:
    """The lb binary running a config in the foreground."""

    def __init__(self, config, workdir, args=(), ready_ports=None, name="lb", nofile=None, env=None, wrapper=()):
        self.workdir = workdir
        self.config_path = os.path.join(workdir, f"{name}.yaml")
        with open(self.config_path, "w") as f:
            f.write(config if isinstance(config, str) else to_yaml(config))
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.binary = lb_binary()
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError(f"lb binary {self.binary} missing: build it (tools/dev build) "
                               "or set LB_BINARY")
        # wrapper: a command that execs lb (systemd-socket-activate ...);
        # env: added to lb's environment.
        self.cmd = [*wrapper, self.binary, "-c", self.config_path, *args]
        self._out = open(self.stdout_path, "w")
        self._err = open(self.stderr_path, "w")
        # nofile: lb's descriptor limit, set before it starts (io_uring's
        # accepts do not see a limit lowered later).
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) if nofile else None
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, cwd=workdir, preexec_fn=limit,
                                     env=dict(os.environ, **env) if env else None)
        self.stopped = False
        self.nofile = nofile
        self.config = config
        self.ready_ports = ready_ports
        if ready_ports is None:
            self.ready_ports = listen_ports(config) if not isinstance(config, str) else []

    def wait_ready(self, timeout=START_TIMEOUT):
        """Returns once every listen port accepts; raises if lb exits first."""
        for port in self.ready_ports:
            wait_port(port, timeout=timeout, proc=self.proc, what="lb")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        return rss_kib(self.pid)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Exit code, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals lb and returns its exit code (kills it, returning None, if
        it does not exit within `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.wait(timeout)
        if code is None:
            self.proc.kill()
            self.proc.wait()
        self.stopped = True
        self._out.close()
        self._err.close()
        return code

    def admin_get(self, path):
        """GET on the admin API (no token) of a dict config: the JSON answer,
        or the text of /metrics."""
        host, port = self.config["global"]["admin"]["listen"].rsplit(":", 1)
        with HttpConn(int(port), host=host) as conn:
            conn.request("GET", path)
            response = conn.read_response()
        assert response.status == 200, response
        return response.body.decode() if path == "/metrics" else response.json()

    def listener_stats(self, name):
        """Listener `name` in the admin API's stats: "connections" (stream)
        or "flows" (udp) with what is open now and the counters."""
        for listener in self.admin_get("/api/v1/stats")["listeners"]:
            if listener["name"] == name:
                return listener
        raise AssertionError(f"no listener {name!r} in the admin API's stats")

    def write_config(self, config):
        with open(self.config_path, "w") as f:
            f.write(config if isinstance(config, str) else to_yaml(config))

    def reload(self, config=None, timeout=START_TIMEOUT):
        """Optionally rewrites the config, sends SIGHUP and waits until lb
        logs that it reloaded; returns the new generation."""
        if config is not None:
            self.write_config(config)
        before = len(re.findall(r"reloaded: generation (\d+)", self.stderr()))
        self.send_signal(signal.SIGHUP)
        matches = self.wait_log(r"reloaded: generation (\d+)", timeout=timeout, count=before + 1)
        return int(matches[-1].group(1))

    def wait_log(self, pattern, timeout=START_TIMEOUT, count=1, interval=0.05, while_running=True):
        """Waits until stderr holds `count` matches of regex `pattern`;
        returns the match objects. while_running=False: the log may outlive
        this process (after a binary upgrade the new lb writes to the same
        file), so its exit is no reason to stop waiting."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            matches = list(regex.finditer(self.stderr()))
            if len(matches) >= count:
                return matches
            if while_running and self.proc.poll() is not None:
                raise AssertionError(f"lb exited ({self.proc.returncode}) while waiting for {pattern!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {count} x {pattern!r} "
                                     f"in lb's log")
            time.sleep(interval)

    def stdout(self):
        with open(self.stdout_path, errors="replace") as f:
            return f.read()

    def access_entries(self):
        """The JSON access log lines on stdout so far, parsed."""
        return [json.loads(line) for line in self.stdout().splitlines() if line.startswith("{")]

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def sanitizer_report(self):
        text = self.stderr()
        checked = text
        if self.nofile:
            # UBSan's vptr check reads the object's vtable only after
            # probing the memory through a pipe it opens on the spot; with
            # every descriptor in use that pipe fails and sound objects are
            # reported as "invalid vptr". For a descriptor-starved lb those
            # reports say nothing; AddressSanitizer's and every other check
            # still count.
            # The note names the address; it need not follow its error line
            # (another thread's report or log line can come between), so
            # errors are matched to notes by address, not by position.
            starved = set(re.findall(r"^(0x[0-9a-f]+): note: object has invalid vptr$", text, flags=re.M))
            checked = "\n".join(
                line for line in text.splitlines()
                if not ((m := re.search(r"runtime error: .* address (0x[0-9a-f]+) which does not point to "
                                        r"an object of type ", line)) and m.group(1) in starved))
        return text if any(m in checked for m in SANITIZER_MARKERS) else None


def run_lb(*args, timeout=10.0):
    """Runs lb to completion (CLI checks): CompletedProcess with text output."""
    return subprocess.run([lb_binary(), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- configs

def dur(seconds):
    """A duration the config accepts: 250ms, 2s."""
    ms = int(round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def http_listener(port, group, name="web", **extra):
    listener = {"name": name, "protocol": "http", "listen": f"{HOST}:{port}"}
    listener.update(extra)
    listener["default_action"] = {"forward": {"target_group": group}}
    return listener


def tcp_listener(port, group, name="tcp", **extra):
    return http_listener(port, group, name=name, protocol="tcp", **extra)


def target_group(name, targets, protocol="http", **extra):
    group = {"name": name, "protocol": protocol, "algorithm": "round_robin"}
    group.update(extra)
    group["targets"] = [t.target if isinstance(t, Backend) else t for t in targets]
    return group


def health_check(**extra):
    """A fast health check for tests: every second, 2 to go up or down."""
    check = {"path": "/health", "interval": "1s", "timeout": "500ms",
             "healthy_threshold": 2, "unhealthy_threshold": 2}
    check.update(extra)
    return check


def dead_target():
    """A target address where nothing listens (connect is refused)."""
    return {"address": HOST, "port": free_port()}


def make_config(listeners, groups, workers=1, **global_extra):
    glob = {"workers": workers,
            "shutdown_timeout": "10s",
            "access_log": {"path": "stdout", "format": "json"},
            # Never the default 9901: tests run next to each other.
            "admin": {"listen": f"{HOST}:{free_port()}"}}
    glob.update(global_extra)
    return {"global": glob, "listeners": listeners, "target_groups": groups}


def listen_ports(config):
    """The TCP ports a started lb accepts on: its listeners' and the admin
    API's. lb binds its listeners before the admin API, so waiting only on
    listeners let a test reach the admin port before it existed (a refused
    connect seen in CI under ASan)."""
    ports = []
    for listener in config.get("listeners", []):
        if listener.get("protocol", "http") != "udp":
            ports.append(int(str(listener["listen"]).rsplit(":", 1)[1]))
    admin = (config.get("global") or {}).get("admin") or {}
    if admin.get("enabled", True) and "listen" in admin:
        ports.append(int(str(admin["listen"]).rsplit(":", 1)[1]))
    return ports


# A leading * would be a YAML alias; such values are quoted.
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+-][A-Za-z0-9_./:*@+ -]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED and not text.endswith(" ") \
            and not re.match(r"^[-+]?[0-9.]", text) and ": " not in text:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(value, indent=0):
    """Block-style YAML for dicts/lists/scalars, so configs read like the docs."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{key}:\n{to_yaml(item, indent + 2)}")
            elif isinstance(item, (dict, list)):
                out.append(f"{pad}{key}: {'{}' if isinstance(item, dict) else '[]'}\n")
            else:
                out.append(f"{pad}{key}: {_scalar(item)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 2)
                out.append(f"{pad}- {body[indent + 2:]}")
            else:
                out.append(f"{pad}- {_scalar(item) if not isinstance(item, (dict, list)) else '[]'}\n")
        return "".join(out)
    return pad + _scalar(value) + "\n"


# ---------------------------------------------------------------- raw HTTP

class Response:
    def __init__(self, status, reason, version, headers, body, informational):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers            # list of (name, value)
        self.body = body
        self.informational = informational  # 1xx responses seen before this one

    def header(self, name):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def header_values(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def connection_tokens(self):
        return {t.strip().lower() for v in self.header_values("connection")
                for t in v.split(",") if t.strip()}

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers!r} body={self.body[:200]!r}>"


class ConnectionClosed(Exception):
    """The peer closed before a complete response arrived."""


class HttpConn:
    """One client TCP connection speaking HTTP/1.1 by hand, for exact bytes."""

    def __init__(self, port, host=HOST, timeout=10.0, source=None, tls=False, server_name=None):
        """tls: True (no verification) or an ssl.SSLContext; server_name is the SNI."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            context = tls if isinstance(tls, ssl.SSLContext) else unverified_tls_context()
            self.sock = context.wrap_socket(self.sock, server_hostname=server_name)
        self.buf = bytearray()
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, (bytes, bytearray)) else data.encode())

    def request(self, method, path, headers=(), body=b"", host="lb.test"):
        self.send(build_request(method, path, headers, body, host))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete response before the deadline")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("no complete response before the deadline") from None
        except ConnectionResetError:
            data = b""
        if not data:
            raise ConnectionClosed(f"connection closed; unparsed bytes: {bytes(self.buf[:200])!r}")
        self.buf += data

    def _read_line(self, deadline):
        while True:
            index = self.buf.find(b"\r\n")
            if index >= 0:
                line = bytes(self.buf[:index])
                del self.buf[:index + 2]
                return line
            self._fill(deadline)

    def _read_exact(self, n, deadline, sink=None):
        out = bytearray()
        while n:
            if not self.buf:
                self._fill(deadline)
            take = min(n, len(self.buf))
            if sink is None:
                out += self.buf[:take]
            else:
                sink(bytes(self.buf[:take]))
            del self.buf[:take]
            n -= take
        return bytes(out)

    def read_head(self, timeout=None):
        """Status line and headers of the next response, 1xx included."""
        return self._read_head(time.monotonic() + (timeout or self.timeout))

    def _read_head(self, deadline):
        status_line = self._read_line(deadline).decode("latin-1")
        match = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", status_line)
        if not match:
            raise ValueError(f"bad status line {status_line!r}")
        headers = []
        while True:
            line = self._read_line(deadline).decode("latin-1")
            if not line:
                break
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        return match.group(1), int(match.group(2)), match.group(3) or "", headers

    def read_response(self, timeout=None, head=False, sink=None, skip_1xx=True):
        """Reads one full response. `head`: the request was HEAD (no body).
        `sink`: called with body pieces instead of keeping the body."""
        deadline = time.monotonic() + (timeout or self.timeout)
        informational = []
        while True:
            version, status, reason, headers = self._read_head(deadline)
            if 100 <= status < 200 and status != 101 and skip_1xx:
                informational.append(status)
                continue
            break
        response = Response(status, reason, version, headers, b"", informational)
        if head or status in (101, 204, 304) or 100 <= status < 200:
            return response
        encoding = (response.header("transfer-encoding") or "").lower()
        length = response.header("content-length")
        body = bytearray()
        append = sink or body.extend
        if "chunked" in encoding:
            while True:
                size = int(self._read_line(deadline).split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_line(deadline):
                        pass
                    break
                self._read_exact(size, deadline, append)
                if self._read_line(deadline) != b"":
                    raise ValueError("chunk not followed by CRLF")
        elif length is not None:
            self._read_exact(int(length), deadline, append)
        else:  # delimited by close
            while True:
                if self.buf:
                    append(bytes(self.buf))
                    self.buf.clear()
                try:
                    self._fill(deadline)
                except ConnectionClosed:
                    break
        response.body = bytes(body)
        return response

    def is_closed(self, timeout=2.0):
        """True if the peer closes (EOF or reset) within `timeout` with no
        further bytes; raises if bytes arrive instead."""
        if self.buf:
            raise AssertionError(f"unexpected bytes {bytes(self.buf[:200])!r}")
        return closed_without_answer(self.sock, timeout)


def unverified_tls_context():
    """A client context that accepts any certificate (tests check names themselves)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def build_request(method, path, headers=(), body=b"", host="lb.test"):
    """Request bytes; adds Host unless given and Content-Length for a body
    unless a framing header is given."""
    names = {k.lower() for k, _ in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    if "host" not in names and host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in headers]
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body, sizes=(1, 7, 100, 4096, 65536)):
    """`body` in chunked encoding with varied chunk sizes (and an extension)."""
    out = bytearray()
    offset, i = 0, 0
    while offset < len(body):
        size = min(sizes[i % len(sizes)], len(body) - offset)
        ext = b";ext=1" if i == 1 else b""
        out += b"%x%s\r\n" % (size, ext) + body[offset:offset + size] + b"\r\n"
        offset += size
        i += 1
    return bytes(out + b"0\r\n\r\n")


def get(port, path="/", headers=(), timeout=10.0):
    """One request on a fresh connection."""
    with HttpConn(port, timeout=timeout) as conn:
        conn.request("GET", path, headers)
        return conn.read_response()


def backend_of(port, path="/", timeout=10.0):
    """Which backend answered one request on a fresh connection (None on a
    non-200 answer)."""
    response = get(port, path, timeout=timeout)
    return response.header("x-backend") if response.status == 200 else None


def headers_named(echo, name):
    """Values of header `name` as the backend saw them (echo JSON)."""
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


def metric(text, name, **labels):
    """The value of one sample in Prometheus text, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{want}}}" if want else name):
            return float(value)
    return None


def recv_exact(sock, n, timeout=10):
    """Exactly n bytes from a raw socket; raises AssertionError if it closes first."""
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        data = sock.recv(n - len(out))
        if not data:
            raise AssertionError(f"closed after {len(out)} of {n} bytes")
        out += data
    return bytes(out)


def closed_without_answer(sock, timeout=5.0):
    """True if the peer closes (FIN or reset) within `timeout` without
    sending a byte; False on a timeout; raises if bytes arrive."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
    if data:
        raise AssertionError(f"unexpected bytes {data[:200]!r}")
    return True


def wait_for(predicate, timeout=5.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
