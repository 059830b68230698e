"""The conformance cases of http_conformance_cases.py against nginx and
HAProxy, configured as an operator would put them in front of the same
kind of target (keep-alive both sides, Host passed on, X-Forwarded-For),
compared with what the RFC asks for and lb does.

Every case where nginx or HAProxy does something else is listed in
DIVERGENCES with the reason lb does what it does, and each of those case
ids is written in README's "Where lb differs from nginx and HAProxy"
section. The test fails on a divergence the table does not list, and on a
listed one that no longer happens, so the table and the README stay true
as lb, nginx or HAProxy change."""

import os
import re
import shutil
import signal
import subprocess

import pytest

import lbtest
from http_conformance_cases import ALL_CASES, expected, outcome, respond_by_case
from scripted_backend import ScriptedBackend

README = os.path.join(lbtest.REPO, "README.md")
README_SECTION = "Where lb differs from nginx and HAProxy"

# (proxy, "kind:case id") -> why lb's answer (the RFC's, see the case) is kept.
STRICTER_METHOD = "lb's parser knows a fixed list of methods and refuses others; nginx and HAProxy pass any token on"
HOP_BY_HOP = ("RFC 9110 §7.6.1: a proxy MUST remove the fields Connection names (and Keep-Alive, "
              "Proxy-Connection); left in place they mislead the target about this connection")
HOST_SUPPLIED = "an HTTP/1.1 request upstream needs a Host; lb gives the listener's address where the client gave none"
REFUSED_FRAMING = ("ambiguous framing is how requests are smuggled; lb refuses it (400, close) where the RFC "
                   "allows refusing")
UPSTREAM_ERROR = "a response lb cannot frame is a 502 and the client's connection stays usable"
CODING_STATUS = "RFC 9112 §6.3: chunked not final is a MUST-400; 501 is for a coding lb does not know before a final chunked"
DIVERGENCES = {
    ("nginx", "request:unknown-method"): STRICTER_METHOD,
    ("haproxy", "request:unknown-method"): STRICTER_METHOD,
    ("haproxy", "request:lower-case-method"): STRICTER_METHOD,
    ("haproxy", "request:version-2-on-h1"): "RFC 9110 §15.6.6: 505 for a major version lb does not speak",
    ("haproxy", "request:absolute-form"): "RFC 9112 §3.2.2: the authority of an absolute-form target is the host; "
                                          "HAProxy refuses the mismatch, lb routes on it and forwards it as Host",
    ("haproxy", "request:asterisk-form-get"): "RFC 9112 §3.2.4: the asterisk form is for OPTIONS only",
    ("haproxy", "request:no-host-1.1"): "RFC 9112 §3.2: an HTTP/1.1 request without Host MUST get 400",
    ("nginx", "request:no-host-1.0"): HOST_SUPPLIED,
    ("haproxy", "request:no-host-1.0"): HOST_SUPPLIED,
    ("nginx", "request:empty-host"): HOST_SUPPLIED + " (nginx refuses an empty Host)",
    ("haproxy", "request:empty-host"): HOST_SUPPLIED,
    ("haproxy", "request:bad-host"): "RFC 9112 §3.2: a Host that is not uri-host[:port] MUST get 400",
    ("haproxy", "request:nul-in-value"): "RFC 9110 §5.5: NUL in a field value MUST be refused or replaced",
    ("nginx", "request:obs-fold"): "RFC 9112 §5.2 allows replacing obs-fold by SP; lb does (nginx refuses)",
    ("haproxy", "request:obs-fold"): "both replace the fold; HAProxy keeps the fold's whitespace, lb one SP",
    ("nginx", "request:chunked"): "lb streams the chunked body as it comes; nginx buffers it and sends a Content-Length",
    ("nginx", "request:chunked-case-insensitive"): "as chunked",
    ("haproxy", "request:content-length-repeated-same"): REFUSED_FRAMING,
    ("haproxy", "request:content-length-list-same"): REFUSED_FRAMING,
    ("haproxy", "request:te-and-content-length"): REFUSED_FRAMING,
    ("nginx", "request:te-chunked-then-tab"): "lb's parser does not frame it, so lb refuses it (400); nginx: 501",
    ("haproxy", "request:te-chunked-then-tab"): "lb's parser does not frame it, so lb refuses it (400); HAProxy "
                                                "reads it as chunked",
    ("haproxy", "request:te-in-http-1.0"): "RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing",
    ("nginx", "request:te-chunked-twice"): CODING_STATUS,
    ("nginx", "request:te-not-final-chunked"): CODING_STATUS,
    ("nginx", "request:te-unknown"): CODING_STATUS,
    ("haproxy", "request:te-gzip-chunked"): "RFC 9112 §6.1: 501 for a coding lb cannot pass on (HAProxy: 422)",
    ("nginx", "request:connection-named-field-removed"): HOP_BY_HOP,
    ("haproxy", "request:connection-named-field-removed"): HOP_BY_HOP,
    ("nginx", "request:keep-alive-and-proxy-fields-removed"): HOP_BY_HOP,
    ("haproxy", "request:keep-alive-and-proxy-fields-removed"): HOP_BY_HOP,
    ("nginx", "response:1xx-then-final"): "lb relays 1xx and then the final response; nginx 1.22 takes a 103 "
                                         "for the final one and stalls",
    ("nginx", "response:te-and-content-length"): UPSTREAM_ERROR + " (RFC 9112 §6.3: ought to be an error)",
    ("haproxy", "response:te-and-content-length"): UPSTREAM_ERROR + " (RFC 9112 §6.3: ought to be an error)",
    ("nginx", "response:content-length-differ"): UPSTREAM_ERROR + "; nginx trusts one length and stalls",
    ("nginx", "response:bad-status-code"): UPSTREAM_ERROR + "; nginx reads it as HTTP/0.9 and stalls",
    ("nginx", "response:content-length-not-a-number"): UPSTREAM_ERROR + "; nginx stalls",
    ("haproxy", "response:nul-in-value"): UPSTREAM_ERROR + " (RFC 9110 §5.5)",
    ("haproxy", "response:bad-status-code"): UPSTREAM_ERROR + "; HAProxy passes a 4-digit status on to the client",
    ("nginx", "response:not-http"): UPSTREAM_ERROR + "; nginx relays the bytes as an HTTP/0.9 response",
    ("haproxy", "response:close-delimited"): "lb re-frames a close-delimited body as chunked and keeps the "
                                             "client's connection; HAProxy closes it",
    ("haproxy", "response:http-1.0-close-delimited"): "as close-delimited",
}


def start_process(cmd, port, workdir, name):
    log = open(os.path.join(workdir, f"{name}.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=workdir, start_new_session=True)
    lbtest.wait_port(port, proc=proc, what=name)
    return proc, log


def stop_process(proc, log):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()


def nginx_config(workdir, port, target_port):
    temp = "\n".join(f"  {kind}_temp_path {workdir}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""\
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_header_timeout 1s;
  client_body_timeout 1s;
{temp}
  upstream app {{
    server 127.0.0.1:{target_port};
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1s;      # below the cases' 3 s, so a waiting proxy shows as a close
    }}
  }}
}}
"""


def haproxy_config(port, target_port):
    return f"""\
global
  nbthread 1
defaults
  mode http
  option http-keep-alive
  timeout connect 2s
  timeout client 1s
  timeout server 1s
  timeout http-request 1s
frontend web
  bind 127.0.0.1:{port}
  option forwardfor
  default_backend app
backend app
  http-reuse always
  server s1 127.0.0.1:{target_port}
"""


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    """proxy name -> (port, its ScriptedBackend), for nginx and HAProxy."""
    started, backends, running = {}, [], []
    for name in ("nginx", "haproxy"):
        if shutil.which(name) is None:
            continue
        workdir = str(tmp_path_factory.mktemp(name))
        backend = ScriptedBackend(respond_by_case)
        backends.append(backend)
        port = lbtest.free_port()
        if name == "nginx":
            path = os.path.join(workdir, "nginx.conf")
            with open(path, "w") as f:
                f.write(nginx_config(workdir, port, backend.port))
            cmd = ["nginx", "-p", workdir, "-e", "stderr", "-c", path]
        else:
            path = os.path.join(workdir, "haproxy.cfg")
            with open(path, "w") as f:
                f.write(haproxy_config(port, backend.port))
            cmd = ["haproxy", "-db", "-f", path]
        running.append(start_process(cmd, port, workdir, name))
        started[name] = (port, backend)
    yield started
    for proc, log in running:
        stop_process(proc, log)
    for backend in backends:
        backend.close()


PARAMS = [(proxy, kind, case) for proxy in ("nginx", "haproxy") for kind, case in ALL_CASES]


@pytest.mark.parametrize("proxy,kind,case", PARAMS, ids=[f"{p}-{k}:{c.id}" for p, k, c in PARAMS])
def test_case(proxies, proxy, kind, case):
    if proxy not in proxies:
        pytest.skip(f"{proxy} is not installed (tools/dev installs it); no comparison without it")
    port, backend = proxies[proxy]
    got = outcome(kind, port, backend, case)
    want = expected(kind, case)
    key = (proxy, f"{kind}:{case.id}")
    if key in DIVERGENCES:
        assert got != want, (f"{proxy} now does what lb does for {case.id}: drop it from DIVERGENCES "
                             f"and the README")
    else:
        assert got == want, (f"{proxy} differs from lb on {case.id} (RFC {case.rfc}): lb {want!r}, "
                             f"{proxy} {got!r}; fix lb or list it in DIVERGENCES and the README")


def test_every_divergence_is_in_the_readme():
    with open(README) as f:
        text = f.read()
    match = re.search(rf"^## {re.escape(README_SECTION)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no '## {README_SECTION}' section"
    section = match.group(1)
    missing = sorted({key for _, key in DIVERGENCES if f"`{key.split(':', 1)[1]}`" not in section})
    assert not missing, f"README's '{README_SECTION}' does not name: {missing}"
