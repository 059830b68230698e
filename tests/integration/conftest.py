"""Fixtures for lb's integration tests: backends, the lb process, cleanup.

Every process a test starts is stopped by a finalizer; lb must exit 0 on
SIGTERM within a few seconds and leave no sanitizer report, or the test
errors in teardown. On failure lb's stdout/stderr (and backend logs) are
attached to the report.
"""

import os
import resource
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lbtest  # noqa: E402

LOG_TAIL_CHARS = 20000


def pytest_configure(config):
    config.addinivalue_line("markers", "big: moves a gibibyte through lb (seconds, not ms)")
    # Thousands of WebSockets in one test: this process and the backends it
    # starts need more descriptors than the usual soft limit of 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pytest_report_header(config):
    return [f"lb binary: {lbtest.lb_binary()}"
            + (" (sanitized)" if lbtest.SANITIZED else "")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for lb in getattr(item, "_lb_instances", []):
        for label, path in (("stderr", lb.stderr_path), ("stdout", lb.stdout_path)):
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if len(text) > LOG_TAIL_CHARS:
                text = "...\n" + text[-LOG_TAIL_CHARS:]
            report.sections.append((f"lb {label} ({' '.join(lb.cmd)})", text or "(empty)"))
    for backend in getattr(item, "_backends", []):
        try:
            text = backend.log_text()
        except OSError:
            continue
        report.sections.append((f"backend {backend.name} log", text[-LOG_TAIL_CHARS:]))


def _track(request, attr, obj):
    if not hasattr(request.node, attr):
        setattr(request.node, attr, [])
    getattr(request.node, attr).append(obj)


@pytest.fixture(scope="session")
def backend_log_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("backends"))


@pytest.fixture(scope="session")
def _session_backends(backend_log_dir):
    started = []
    try:
        for name in ("b1", "b2", "b3"):
            started.append(lbtest.Backend(name, backend_log_dir))
        yield started
    finally:
        for backend in started:
            backend.stop()


@pytest.fixture
def backends(_session_backends, request):
    """Three HTTP backends (b1, b2, b3), shared by the session, healthy."""
    for backend in _session_backends:
        backend.set_health(True)
        _track(request, "_backends", backend)
    return _session_backends


@pytest.fixture(scope="session")
def _session_echo_backends(backend_log_dir):
    started = []
    try:
        for name in ("echo1", "echo2"):
            started.append(lbtest.Backend(name, backend_log_dir, tcp_echo=True))
        yield started
    finally:
        for backend in started:
            backend.stop()


@pytest.fixture
def echo_backends(_session_echo_backends, request):
    """Two TCP echo backends, shared by the session."""
    for backend in _session_echo_backends:
        _track(request, "_backends", backend)
    return _session_echo_backends


@pytest.fixture
def start_backend(request, tmp_path):
    """Factory for backends private to one test: start_backend(name, tcp_echo=False,
    tls=None, udp_echo=False); tls=(cert_path, key_path) serves HTTPS;
    udp_echo adds a UDP echo on the same port number."""
    started = []

    def start(name, tcp_echo=False, tls=None, udp_echo=False):
        backend = lbtest.Backend(name, str(tmp_path), tcp_echo=tcp_echo, tls=tls, udp_echo=udp_echo)
        started.append(backend)
        _track(request, "_backends", backend)
        return backend

    yield start
    for backend in started:
        backend.stop()


def _lb_factory(request, workdir):
    """Generator behind start_lb and module_lb: yields the factory, then
    stops every lb it started and fails on a bad exit or sanitizer report."""
    started = []

    def start(config, args=(), wait=True, ready_ports=None, nofile=None, env=None, wrapper=()):
        name = "lb" if not started else f"lb{len(started) + 1}"
        lb = lbtest.Lb(config, workdir, args=args, ready_ports=ready_ports, name=name, nofile=nofile,
                       env=env, wrapper=wrapper)
        started.append(lb)
        _track(request, "_lb_instances", lb)
        if wait:
            lb.wait_ready()
        return lb

    yield start

    problems = []
    for lb in started:
        if not lb.stopped:
            code = lb.stop(signal.SIGTERM, timeout=lbtest.STOP_TIMEOUT)
            if code is None:
                problems.append(f"{' '.join(lb.cmd)}: did not exit within "
                                f"{lbtest.STOP_TIMEOUT:g}s of SIGTERM")
            elif code != 0:
                problems.append(f"{' '.join(lb.cmd)}: exit code {code} after SIGTERM")
        report = lb.sanitizer_report()
        if report:
            problems.append(f"sanitizer report from lb:\n{report[-LOG_TAIL_CHARS:]}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def start_lb(request, tmp_path):
    """Factory: start_lb(config, args=(), wait=True, nofile=None) -> lbtest.Lb.

    `config` is a dict (see lbtest.make_config) or YAML text. Waits until
    every listen port accepts. At teardown lb still running gets SIGTERM and
    must exit 0 within a few seconds."""
    yield from _lb_factory(request, str(tmp_path))


@pytest.fixture(scope="module")
def module_lb(request, tmp_path_factory):
    """start_lb for an lb shared by every test of a module (many small cases
    against one running lb); the same checks at the module's end."""
    yield from _lb_factory(request, str(tmp_path_factory.mktemp("lb")))


@pytest.fixture
def http_lb(start_lb, backends):
    """Factory for the common case: an http listener forwarding to the three
    shared backends. http_lb(listener_extra={}, group_extra={}, args=(),
    workers=1, **global_extra) -> (lb, port)."""

    def start(listener_extra=None, group_extra=None, args=(), workers=1, targets=None,
              **global_extra):
        port = lbtest.free_port()
        config = lbtest.make_config(
            [lbtest.http_listener(port, "web", **(listener_extra or {}))],
            [lbtest.target_group("web", backends if targets is None else targets,
                                 **(group_extra or {}))],
            workers=workers, **global_extra)
        return start_lb(config, args=args), port

    return start


# ---------------------------------------------------------------- TLS

@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory):
    """Certificates made once per session with the openssl CLI (tlstest.CertSet)."""
    import tlstest
    return tlstest.CertSet(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def raw_backend():
    """Factory for lbtest.RawBackend servers (exact bytes per connection),
    closed at teardown: raw_backend(echo=True, host=HOST)."""
    made = []

    def make(**kwargs):
        backend = lbtest.RawBackend(**kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()
