"""Access log fields, field selection and the nginx-style template through
the real binary (README "Logs"): every field with a real value, the
template's output compared exactly for a known request, only the chosen
keys with `fields`, errors at load with their position, and SIGUSR1's
reopen with the template format."""

import json
import os
import re
import signal

import h2test
import lbtest
import tlstest
from lbtest import HOST, HttpConn

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def entry_for(lb, url):
    def find():
        return next((e for e in lb.access_entries() if e.get("url") == url), None)
    return lbtest.wait_for(find, timeout=10, what=f"the access log line of {url}")


def request(port, path, headers=(), body=b"", method="GET", **conn_args):
    """(response, the client socket's own port)."""
    with HttpConn(port, **conn_args) as conn:
        client_port = conn.sock.getsockname()[1]
        conn.request(method, path, headers=headers, body=body)
        return conn.read_response(), client_port


def test_every_json_field_of_a_forwarded_request(start_lb, backends):
    port = lbtest.free_port()
    listener = lbtest.http_listener(port, "web")
    listener["rules"] = [{"priority": 7, "conditions": {"path": ["/delay/*"]},
                          "action": {"forward": {"target_group": "web"}}}]
    lb = start_lb(lbtest.make_config([listener], [lbtest.target_group("web", backends[:1])]))
    response, client_port = request(port, "/delay/150", method="POST", body=b"x" * 10,
                                    headers=[("User-Agent", "ua/1"), ("Referer", "http://ref.test/"),
                                             ("Content-Length", "10")])
    assert response.status == 200
    entry = entry_for(lb, "/delay/150")
    assert list(entry) == ["time", "listener", "client", "client_port", "request_id", "method", "host", "url",
                           "protocol", "status", "bytes_in", "bytes_out", "duration_ms", "connect_ms",
                           "first_byte_ms", "target", "target_group", "rule", "retries", "user_agent", "referer"]
    assert entry["listener"] == "web" and entry["client"] == HOST and entry["client_port"] == client_port
    assert entry["request_id"] == response.header("x-request-id")
    assert (entry["method"], entry["host"], entry["protocol"], entry["status"]) == ("POST", "lb.test", "HTTP/1.1", 200)
    assert entry["bytes_in"] == 10 and entry["bytes_out"] == len(response.body)
    assert entry["connect_ms"] > 0  # a new connection: its connect was timed
    assert entry["first_byte_ms"] >= 150 and entry["duration_ms"] >= 150
    assert entry["target"] == f"{HOST}:{backends[0].port}" and entry["target_group"] == "web"
    assert entry["rule"] == "7" and entry["retries"] == 0
    assert entry["user_agent"] == "ua/1" and entry["referer"] == "http://ref.test/"


def test_default_rule_and_a_pooled_connection(http_lb, backends):
    lb, port = http_lb(targets=backends[:1])
    with HttpConn(port) as conn:
        for path in ("/first", "/second"):
            conn.request("GET", path)
            assert conn.read_response().status == 200
    assert entry_for(lb, "/first")["rule"] == "default"
    # The second request went over the connection the first left idle.
    assert entry_for(lb, "/second")["connect_ms"] == 0


def test_retries_count_tries_after_the_first(http_lb, backends):
    lb, port = http_lb(targets=[lbtest.dead_target(), backends[0]])
    for i in range(2):  # round robin: one of the two starts at the refusing target
        response, _ = request(port, f"/retry/{i}")
        assert response.status == 200
    entries = [entry_for(lb, f"/retry/{i}") for i in range(2)]
    assert sorted(e["retries"] for e in entries) == [0, 1]
    assert all(e["target"] == f"{HOST}:{backends[0].port}" for e in entries)


def test_tls_fields_of_an_https_listener(start_lb, backends, tls_certs):
    port = lbtest.free_port()
    listener = lbtest.http_listener(port, "web", protocol="https",
                                    tls={"certificates": [tls_certs.default.config]}, http2=False)
    lb = start_lb(lbtest.make_config([listener], [lbtest.target_group("web", backends)]))
    response, _ = request(port, "/tls", tls=True, server_name="default.test")
    assert response.status == 200
    entry = entry_for(lb, "/tls")
    assert entry["tls_version"].startswith("TLSv1.")
    assert entry["tls_cipher"] and re.match(r"^[A-Z0-9_-]+$", entry["tls_cipher"])
    assert entry["sni"] == "default.test"


def test_a_head_too_large_is_logged_with_its_protocol_and_tls(start_lb, backends, tls_certs):
    # Refused before its head was read, a request has no method or url in
    # its line, but its connection's protocol and TLS are known.
    port = lbtest.free_port()
    listener = lbtest.http_listener(port, "web", protocol="https", max_header_size="4k",
                                    tls={"certificates": [tls_certs.default.config]})
    lb = start_lb(lbtest.make_config([listener], [lbtest.target_group("web", backends)]))
    client = h2test.H2Client.connect(port, tls=True, server_name="default.test")
    try:
        stream = client.response(client.request("/h2-big", headers=[("x-big", "a" * 5000)]))
    finally:
        client.close()
    assert stream.header(":status") == "431"
    with HttpConn(port, tls=True, server_name="default.test") as conn:
        conn.request("GET", "/h1-big", headers=[("X-Big", "a" * 5000)])
        assert conn.read_response().status == 431
    def both():
        lines = [e for e in lb.access_entries() if e.get("status") == 431]
        return lines if len(lines) == 2 else None
    refused = lbtest.wait_for(both, timeout=10, what="the two 431 lines")
    by_protocol = {e["protocol"]: e for e in refused}
    assert set(by_protocol) == {"HTTP/2.0", "HTTP/1.1"}, refused
    for entry in refused:
        assert entry["tls_version"].startswith("TLSv1.") and entry["sni"] == "default.test", entry
        assert "url" not in entry and entry["error"] == "request header too large"


def test_combined_escapes_what_the_client_wrote(http_lb):
    # nginx's combined writes '"', '\\' and bytes outside printable ASCII
    # of the request line and User-Agent as \\xHH: a client must not be able
    # to close a quoted field and forge the ones after it.
    lb, port = http_lb(access_log={"path": "stdout", "format": "combined"})
    forged = 'evil" 200 0 "-" "x\\'
    response, _ = request(port, '/combined?q="1"', headers=[("User-Agent", forged)])
    assert response.status == 200
    line = lbtest.wait_for(lambda: next((l for l in lb.stdout().splitlines() if "/combined" in l), None),
                           timeout=10, what="the combined line")
    assert '"GET /combined?q=\\x221\\x22 HTTP/1.1" 200 ' in line, line
    assert '"evil\\x22 200 0 \\x22-\\x22 \\x22x\\x5C" ' in line, line
    assert line.count('"') == 6, line


def test_field_selection_writes_only_the_chosen_keys(http_lb):
    lb, port = http_lb(access_log={"path": "stdout", "format": "json",
                                   "fields": ["status", "request_id", "url", "time"]})
    response, _ = request(port, "/chosen")
    entry = entry_for(lb, "/chosen")
    assert list(entry) == ["status", "request_id", "url", "time"]
    assert entry["request_id"] == response.header("x-request-id") and entry["status"] == 200


TEMPLATE = ('$remote_addr:$remote_port $remote_user "$request" $status $body_bytes_sent $bytes_received '
            '"$http_referer" "$http_user_agent" $request_id $rule $retries $upstream_addr $target_group '
            '$listener $ssl_protocol $trace_id ${status}x $$')


def template_lb(http_lb, backends, path):
    return http_lb(targets=backends[:1], access_log={"path": path, "format": "template", "template": TEMPLATE})


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def test_template_line_for_a_known_request(http_lb, backends, tmp_path):
    path = str(tmp_path / "access.log")
    lb, port = template_lb(http_lb, backends, path)
    response, client_port = request(port, "/t?q=1", headers=[("User-Agent", 'say "hi"'),
                                                             ("traceparent",
                                                              "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
    assert response.status == 200
    [line] = lbtest.wait_for(lambda: read_lines(path), timeout=10, what="the template line")
    expected = (f'{HOST}:{client_port} - "GET /t?q=1 HTTP/1.1" 200 {len(response.body)} 0 '
                f'"-" "say \\x22hi\\x22" {response.header("x-request-id")} default 0 {HOST}:{backends[0].port} web '
                f'web - 4bf92f3577b34da6a3ce929d0e0e4736 200x $')
    assert line == expected


def test_sigusr1_reopens_a_template_log(http_lb, backends, tmp_path):
    path = str(tmp_path / "access.log")
    lb, port = template_lb(http_lb, backends, path)
    request(port, "/before")
    lbtest.wait_for(lambda: read_lines(path), timeout=10, what="the first line")
    os.rename(path, path + ".1")
    lb.send_signal(signal.SIGUSR1)

    def reopened():
        request(port, "/after")
        return read_lines(path)
    [line, *_] = lbtest.wait_for(reopened, timeout=10, what="a line in the reopened file")
    assert '"GET /after HTTP/1.1" 200' in line
    assert '"GET /before HTTP/1.1"' in read_lines(path + ".1")[0]


def test_bad_templates_and_fields_are_refused_with_their_position(tmp_path):
    cases = [
        ("  access_log: { format: template, template: '$remote_addr $nope' }\n",
         "lb.yaml:2:59: global.access_log.template: unknown log variable '$nope'"),
        ("  access_log: { format: json, fields: [time, nope] }\n",
         "lb.yaml:2:46: global.access_log.fields[1]: unknown access log field 'nope'"),
    ]
    for global_line, error in cases:
        path = tmp_path / "lb.yaml"
        path.write_text("global:\n" + global_line +
                        "target_groups:\n  - { name: web, targets: [{ address: 127.0.0.1, port: 1 }] }\n"
                        "listeners:\n  - { name: l, listen: 127.0.0.1:1, "
                        "default_action: { forward: { target_group: web } } }\n")
        result = lbtest.run_lb("-t", "-c", str(path))
        assert result.returncode != 0
        assert error.split(":", 1)[1] in result.stderr, result.stderr


def test_tcp_tunnel_lines_get_connect_time_and_retries(start_lb, echo_backends):
    import socket
    port = lbtest.free_port()
    config = lbtest.make_config([lbtest.tcp_listener(port, "echo")],
                                [lbtest.target_group("echo", [lbtest.dead_target(), echo_backends[0]],
                                                     protocol="tcp")])
    lb = start_lb(config)
    for _ in range(4):  # round robin: some connections start at the refusing target
        with socket.create_connection((HOST, port), timeout=10) as sock:
            sock.sendall(b"hello")
            got = b""
            while len(got) < 5:
                chunk = sock.recv(100)
                assert chunk, "closed before the echo"
                got += chunk

    def ours():
        # start_lb's readiness probe is a tunnel too, without bytes: not ours.
        lines = [e for e in lb.access_entries() if e["protocol"] == "tunnel" and e["bytes_out"] == 5]
        return lines if len(lines) == 4 else None
    lines = lbtest.wait_for(ours, timeout=10, what="four tunnel lines")
    assert {e["retries"] for e in lines} == {0, 1}, json.dumps(lines)
    assert all(e["connect_ms"] > 0 and "request_id" not in e and "status" not in e for e in lines), json.dumps(lines)
