"""Differential tests against real nginx: for each realistic nginx config
in tests/nginx/differential/, nginx runs the config as written and lb runs
what `lb import-nginx` makes of it, both in front of the same backends; the
same requests (and WebSocket, TCP, UDP and TLS exchanges) go to both, and
what each client and each backend saw is compared: status, Location, body,
the backend reached where nginx's choice is deterministic (else whether
the choice was consistent), and the request headers that reached the
backend.

Every difference is listed in DIFFERENCES with its reason, and each reason
is in README's "Coming from nginx" section; the test fails on a difference
the table does not list and on a listed one that no longer happens."""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess

import pytest
import websockets
import yaml

import lbtest
import tlstest
from lbtest import HOST, HttpConn, free_port

TEMPLATES = os.path.join(lbtest.REPO, "tests", "nginx", "differential")
README = os.path.join(lbtest.REPO, "README.md")

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (tools/dev install)")

# (config, case, field) -> why lb answers differently. Each reason's key
# words are in the README ("Coming from nginx").
NGINX_PAGES = ("nginx's redirects and error pages carry an HTML body with an nginx footer; lb's redirects have no "
               "body and its error answers one line of text")
LB_FORWARDED = ("lb always appends the client to X-Forwarded-For and sets X-Forwarded-Proto and -Port (its own "
                "headers); nginx sends them only where proxy_set_header says so, and a location with any "
                "proxy_set_header of its own inherits none of the server's")
ALWAYS_ON_ERRORS = ("add_header ... always also decorates nginx's own error pages; lb's response edits leave "
                    "lb's error answers alone")
DIFFERENCES = {
    ("api-gateway", "users", "target x-forwarded-for"): LB_FORWARDED,
    ("api-gateway", "users", "target x-forwarded-proto"): LB_FORWARDED,
    ("api-gateway", "users-post", "target x-forwarded-for"): LB_FORWARDED,
    ("api-gateway", "users-post", "target x-forwarded-proto"): LB_FORWARDED,
    ("api-gateway", "legacy", "target x-forwarded-for"): LB_FORWARDED,
    ("api-gateway", "legacy", "target x-forwarded-proto"): LB_FORWARDED,
    ("api-gateway", "users-no-slash", "body"): NGINX_PAGES,
    ("api-gateway", "old-api", "body"): NGINX_PAGES,
    ("api-gateway", "blocked-file", "body"): NGINX_PAGES,
    ("api-gateway", "body-too-large", "body"): NGINX_PAGES,
    ("api-gateway", "body-too-large", "x-gateway"): ALWAYS_ON_ERRORS,
    ("socketio", "plain", "target x-forwarded-for"): LB_FORWARDED,
    ("socketio", "plain", "target x-forwarded-proto"): LB_FORWARDED,
    ("tls-site", "http-to-https", "body"): NGINX_PAGES,
    ("tls-site", "www", "target x-forwarded-for"): LB_FORWARDED,
    ("tls-site", "static", "target x-forwarded-for"): LB_FORWARDED,
    ("tls-site", "static", "target x-forwarded-proto"): LB_FORWARDED,
}


# ---------------------------------------------------------------- processes

def nginx_temp_paths(workdir):
    return " ".join(f"{kind}_temp_path {workdir}/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def render(name, values, path):
    with open(os.path.join(TEMPLATES, name)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    left = re.findall(r"@[A-Z0-9_]+@", text)
    assert not left, f"{name}: no value for {left}"
    with open(path, "w") as f:
        f.write(text)
    return path


class Nginx:
    def __init__(self, conf, workdir, ports):
        self.log_path = os.path.join(workdir, "nginx.log")
        self.log = open(self.log_path, "w")
        cmd = ["nginx", "-c", conf, "-p", workdir, "-e", "stderr",
               "-g", f"daemon off; pid {workdir}/nginx.pid; worker_processes 1;"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=workdir, start_new_session=True)
        for port in ports:
            lbtest.wait_port(port, proc=self.proc, what="nginx")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture
def pair(start_lb, tmp_path):
    """pair(template, nginx_values, lb_values, ready_ports_nginx, ready_ports_lb):
    nginx on its rendering of the template, lb on the import of its own;
    returns the import's report (stderr)."""
    started = []

    def start(template, nginx_values, lb_values, nginx_ports, lb_ports):
        nginx_dir = tmp_path / "nginx"
        nginx_dir.mkdir(exist_ok=True)
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (nginx_dir / kind).mkdir(exist_ok=True)
        values = dict(nginx_values, TEMP_PATHS=nginx_temp_paths(nginx_dir))
        conf = render(template, values, str(nginx_dir / template))
        started.append(Nginx(conf, str(nginx_dir), nginx_ports))
        # What an operator's config holds: no temp paths of a test's own.
        lb_conf = render(template, dict(lb_values, TEMP_PATHS=""), str(tmp_path / f"lb-{template}"))
        imported = lbtest.run_lb("import-nginx", lb_conf)
        assert imported.returncode in (0, 2), imported.stderr
        config = yaml.safe_load(imported.stdout)
        config["global"] = {"workers": 1, "shutdown_timeout": "2s",
                            "access_log": {"path": "stdout", "format": "json"},
                            "admin": {"listen": f"{HOST}:{free_port()}"}}
        start_lb(config, ready_ports=lb_ports)
        return imported.stderr

    yield start
    for nginx in started:
        nginx.stop()


# ---------------------------------------------------------------- observing

BACKEND_HEADERS = ("host", "x-real-ip", "x-forwarded-for", "x-forwarded-proto", "x-service")
RESPONSE_HEADERS = ("x-gateway", "strict-transport-security")


def observe(port, method, path, headers=(), body=b"", tls=None, server_name=None, ports=()):
    """What a client and the backend saw of one request, ports written as
    PORT so nginx's and lb's answers compare."""
    with HttpConn(port, tls=tls or False, server_name=server_name) as conn:
        conn.request(method, path, list(headers), body, host=dict(headers).get("Host", "lb.test"))
        response = conn.read_response()
    seen = {"status": response.status}
    location = response.header("Location")
    if location is not None:
        for p in ports:
            location = location.replace(f":{p}/", ":PORT/")
        seen["location"] = location
    for name in RESPONSE_HEADERS:
        seen[name] = response.header(name)
    try:
        echo = response.json()
    except ValueError:
        echo = None
    if isinstance(echo, dict) and "headers" in echo:
        seen["backend"] = echo["backend"]
        seen["path"] = echo["path"]
        seen["query"] = echo["query"]
        for name in BACKEND_HEADERS:
            values = lbtest.headers_named(echo, name)
            seen[f"target {name}"] = ", ".join(values) if values else None
    else:
        seen["body"] = response.body
    return seen


def compare(config, cases):
    """cases: {case: (nginx_seen, lb_seen)} -> differences not in DIFFERENCES,
    and listed ones that did not happen."""
    found = set()
    unexplained = []
    for case, (theirs, ours) in cases.items():
        for field in sorted(set(theirs) | set(ours)):
            if theirs.get(field) != ours.get(field):
                found.add((config, case, field))
                if (config, case, field) not in DIFFERENCES:
                    unexplained.append(f"{config} {case} {field}: nginx {theirs.get(field)!r}, "
                                       f"lb {ours.get(field)!r}")
    gone = [key for key in DIFFERENCES if key[0] == config and key not in found]
    return unexplained, gone


def check(config, cases):
    unexplained, gone = compare(config, cases)
    assert not unexplained, "differences nobody explained:\n" + "\n".join(unexplained)
    assert not gone, f"listed differences that no longer happen: {gone}"


def target(backend):
    return f"{backend.target['address']}:{backend.target['port']}"


# ---------------------------------------------------------------- the configs

def test_api_gateway(pair, backends):
    b1, b2, b3 = backends
    n_port, l_port = free_port(), free_port()
    common = {"B1": target(b1), "B2": target(b2), "B3": target(b3)}
    pair("api-gateway.conf", dict(common, HTTP_PORT=n_port), dict(common, HTTP_PORT=l_port), [n_port], [l_port])
    host = [("Host", "api.example.test")]
    corpus = {
        "healthz": ("GET", "/healthz", host, b""),
        "users": ("GET", "/v1/users/42?x=1", host + [("X-Forwarded-For", "203.0.113.7")], b""),
        "users-post": ("POST", "/v1/users/", host + [("Content-Length", "5")], b"hello"),
        "users-no-slash": ("GET", "/v1/users?x=1", host, b""),
        "legacy": ("GET", "/legacy/page?y=2", host, b""),
        "blocked-file": ("GET", "/app/config.env", host, b""),
        "unknown": ("GET", "/nothing/here", host, b""),
        "old-api": ("GET", "/old-api/anything", host, b""),
        "body-too-large": ("POST", "/v1/users/", host + [("Content-Length", "2048")], b"x" * 2048),
    }
    cases = {}
    for case, (method, path, headers, body) in corpus.items():
        cases[case] = tuple(observe(port, method, path, headers, body, ports=(n_port, l_port))
                            for port in (n_port, l_port))
    # least_conn with a backup: any primary, never the backup. Which primary
    # depends on each proxy's load: compared as "a primary".
    for case in ("users", "users-post"):
        for seen in cases[case]:
            assert seen.pop("backend") in ("b1", "b2"), case
    check("api-gateway", cases)

    # hash $http_x_tenant_id consistent: each tenant stays on one backend
    # with both (the backend differs: nginx's ketama ring vs lb's Maglev).
    for port in (n_port, l_port):
        chosen = {}
        for tenant in [f"t{i}" for i in range(8)] * 2:
            seen = observe(port, "GET", "/v1/orders/7", host + [("X-Tenant-Id", tenant)])
            assert seen["path"] == "/7"
            chosen.setdefault(tenant, set()).add(seen["backend"])
        assert all(len(b) == 1 for b in chosen.values()), (port, chosen)


def test_tls_site(pair, backends, tmp_path):
    b1, b2, _ = backends
    certs = tmp_path / "certs"
    certs.mkdir()
    www = tlstest.make_cert(str(certs), "www", "www.example.test", ["DNS:www.example.test", "DNS:example.test"])
    static = tlstest.make_cert(str(certs), "static", "static.example.test", ["DNS:static.example.test"])
    n_http, n_https, l_http, l_https = (free_port() for _ in range(4))
    common = {"B1": target(b1), "B2": target(b2), "WWW_CERT": www.cert, "WWW_KEY": www.key,
              "STATIC_CERT": static.cert, "STATIC_KEY": static.key}
    pair("tls-site.conf", dict(common, HTTP_PORT=n_http, HTTPS_PORT=n_https),
         dict(common, HTTP_PORT=l_http, HTTPS_PORT=l_https), [n_http, n_https], [l_http, l_https])
    cases = {}
    ports = (n_http, n_https, l_http, l_https)
    for case, (http_port_of, kwargs) in {
        "http-to-https": (lambda n, l: (n_http, l_http), {"headers": [("Host", "www.example.test")]}),
        "www": (lambda n, l: (n_https, l_https),
                {"headers": [("Host", "www.example.test")], "tls": True, "server_name": "www.example.test"}),
        "static": (lambda n, l: (n_https, l_https),
                   {"headers": [("Host", "static.example.test")], "tls": True,
                    "server_name": "static.example.test"}),
    }.items():
        n, l = http_port_of(None, None)
        cases[case] = (observe(n, "GET", "/a/b?c=1", ports=ports, **kwargs),
                       observe(l, "GET", "/a/b?c=1", ports=ports, **kwargs))
    check("tls-site", cases)
    # The certificate each name gets.
    for name, cert in (("www.example.test", www), ("static.example.test", static)):
        for port in (n_https, l_https):
            result = tlstest.s_client(port, name)
            assert result.cn == cert.cn, (port, name, result.text)


def test_socketio_reverse_proxy(pair, backends):
    b1, b2, b3 = backends
    n_port, l_port = free_port(), free_port()
    common = {"B1": target(b1), "B2": target(b2), "B3": target(b3)}
    pair("socketio.conf", dict(common, HTTP_PORT=n_port), dict(common, HTTP_PORT=l_port), [n_port], [l_port])

    def session(port):
        """Engine.IO's dance: a polling handshake, a poll with the sid, then
        the WebSocket upgrade with the sid, all from one client address."""
        host = [("Host", "chat.example.test")]
        with HttpConn(port) as conn:
            conn.request("GET", "/socket.io/?EIO=4&transport=polling", host)
            handshake = conn.read_response()
        sid = json.loads(handshake.body[1:])["sid"]
        with HttpConn(port) as conn:
            conn.request("GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}", host)
            poll = conn.read_response()

        async def upgrade():
            url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
            async with websockets.connect(url) as ws:
                await ws.send("2probe")
                return await asyncio.wait_for(ws.recv(), 10)

        echoed = asyncio.run(upgrade())
        return {"handshake": handshake.status, "poll": (poll.status, poll.body), "upgrade": echoed,
                "same backend": handshake.header("X-Backend") == poll.header("X-Backend")}

    cases = {f"session-{i}": (session(n_port), session(l_port)) for i in range(3)}
    cases["plain"] = tuple(observe(port, "GET", "/index.html", [("Host", "chat.example.test")])
                           for port in (n_port, l_port))
    # ip_hash picks by the client's /24 with both, but a different node
    # (nginx's hash vs lb's Maglev): compared as "one node for everything".
    backends_seen = [seen.pop("backend") for seen in cases["plain"]]
    for port, first in zip((n_port, l_port), backends_seen):
        assert {observe(port, "GET", "/again", [("Host", "chat.example.test")])["backend"]
                for _ in range(5)} == {first}
    check("socketio", cases)


def test_stream_tcp_udp_and_sni_routing(pair, echo_backends, start_backend, tls_certs):
    udp = start_backend("udp1", udp_echo=True)
    tls_api = start_backend("tls-api", tls=(tls_certs.backend.cert, tls_certs.backend.key))
    tls_web = start_backend("tls-web", tls=(tls_certs.backend.cert, tls_certs.backend.key))
    ports = {side: {"TCP_PORT": free_port(), "UDP_PORT": free_port(), "TLS_PORT": free_port()}
             for side in ("nginx", "lb")}
    common = {"ECHO1": target(echo_backends[0]), "ECHO2": target(echo_backends[1]), "UDP1": target(udp),
              "TLS_API": target(tls_api), "TLS_WEB": target(tls_web)}
    pair("stream.conf", dict(common, **ports["nginx"]), dict(common, **ports["lb"]),
         [ports["nginx"]["TCP_PORT"], ports["nginx"]["TLS_PORT"]],
         [ports["lb"]["TCP_PORT"], ports["lb"]["TLS_PORT"]])

    def tcp(port):
        out = []
        for i in range(4):
            with socket.create_connection((HOST, port), timeout=5) as sock:
                sock.sendall(f"hello {i}\n".encode())
                out.append(sock.recv(100))
        return out

    def udp_exchange(port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"ping", (HOST, port))
            return sock.recvfrom(2048)[0]

    def sni(port, name):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return observe(port, "GET", "/sni", [("Host", name)], tls=context, server_name=name)["backend"]

    cases = {}
    n, l = ports["nginx"], ports["lb"]
    cases["tcp"] = ({"echo": tcp(n["TCP_PORT"])}, {"echo": tcp(l["TCP_PORT"])})
    cases["udp"] = ({"reply": udp_exchange(n["UDP_PORT"])}, {"reply": udp_exchange(l["UDP_PORT"])})
    for name in ("api.example.test", "www.example.test", "other.test"):
        cases[f"sni {name}"] = ({"backend": sni(n["TLS_PORT"], name)}, {"backend": sni(l["TLS_PORT"], name)})
    assert cases["sni api.example.test"][0]["backend"] == "tls-api"
    check("stream", cases)


def test_every_listed_difference_is_explained_in_the_readme():
    with open(README) as f:
        readme = f.read()
    section = readme.split("## Coming from nginx", 1)
    assert len(section) == 2, "README has no 'Coming from nginx' section"
    text = section[1].split("\n## ", 1)[0]
    for reason in set(DIFFERENCES.values()):
        assert reason in text, f"README 'Coming from nginx' does not say: {reason}"
