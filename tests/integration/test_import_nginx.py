"""`lb import-nginx PATH`: realistic nginx configurations (tests/nginx/)
through the real binary. The YAML must pass `lb -t`, the report must name
every directive that was not mapped exactly (file:line: directive: ...),
and the exit status must say whether anything was (README, "Coming from
nginx"). When nginx is installed, each configuration is also checked with
`nginx -t`, so the inputs are ones nginx really accepts."""

import os
import shutil
import subprocess

import pytest

import lbtest
import tlstest
from lbtest import run_lb

SITES = os.path.join(lbtest.REPO, "tests", "nginx")


def copy_site(tmp_path, name):
    """The site's files in a scratch directory (tests may add certificates)."""
    target = tmp_path / name
    shutil.copytree(os.path.join(SITES, name), target)
    return target


def import_nginx(site):
    result = run_lb("import-nginx", str(site / "nginx.conf"))
    # The report names files by the path given; strip the scratch directory.
    lines = [line.replace(str(site) + "/", "") for line in result.stderr.splitlines()]
    return result, lines


def assert_lb_accepts(tmp_path, yaml_text):
    path = tmp_path / "lb.yaml"
    path.write_text(yaml_text)
    check = run_lb("-t", "-c", str(path))
    assert check.returncode == 0, check.stdout + check.stderr + "\n" + yaml_text


def assert_report(lines, expected):
    """Each report line starts with the expected "file:line: directive: what" text, in order."""
    assert len(lines) == len(expected), "\n".join(lines)
    for line, start in zip(lines, expected):
        assert line.startswith(start), f"{line!r} does not start with {start!r}"


def nginx_check(site):
    """`nginx -t` on the site, with its prefix and error log kept in the scratch directory."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        return
    result = subprocess.run([nginx, "-t", "-q", "-p", str(site), "-e", "stderr", "-c", str(site / "nginx.conf")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_socketio_reverse_proxy_with_ip_hash_and_websockets(tmp_path):
    site = copy_site(tmp_path, "socketio")
    nginx_check(site)
    result, lines = import_nginx(site)
    assert result.returncode == 2, result.stderr
    assert_lb_accepts(tmp_path, result.stdout)
    assert_report(lines, [
        "nginx.conf:3: user: not supported: lb runs as the user that starts it",
        "nginx.conf:5: pid: ignored: lb's own pid file is global.pid_file",
        "nginx.conf:8: worker_connections: ignored: ",
        "nginx.conf:12: map: ignored: lb passes WebSocket upgrades by itself",
        "nginx.conf:30: proxy_http_version: ignored (lb does this by default)",
        "nginx.conf:31: proxy_set_header: ignored: lb passes WebSocket upgrades by itself",
        "nginx.conf:32: proxy_set_header: ignored: lb passes WebSocket upgrades by itself",
        "nginx.conf:35: proxy_set_header: ignored (lb does this by default)",
        "nginx.conf:40: proxy_pass: approximated: target group socketio_nodes is also used at",
    ])
    yaml = result.stdout
    assert "algorithm: hash\n    hash_key: client_ip/24\n" in yaml           # ip_hash
    assert "tunnel_idle_timeout: 10m\n" in yaml                              # WebSocket idle = proxy_read_timeout
    # The only server is the default one: its locations need no host condition.
    assert 'conditions: { path: ["/socket.io/*"] }' in yaml
    assert "passive_health: { max_fails: 1, fail_timeout: 10s }" in yaml    # nginx's defaults, written out
    assert "retry_on: [connect_failure, timeout]" in yaml


def test_api_gateway_with_includes_rewrites_and_headers(tmp_path):
    site = copy_site(tmp_path, "api-gateway")
    nginx_check(site)
    result, lines = import_nginx(site)
    assert result.returncode == 2, result.stderr
    assert_lb_accepts(tmp_path, result.stdout)
    assert_report(lines, [
        "nginx.conf:7: worker_connections: ignored: ",
        "conf.d/10-upstreams.conf:6: keepalive: ignored: lb pools target connections by itself",
        "snippets/proxy-headers.conf:3: proxy_set_header: ignored (lb does this by default)",
        "snippets/proxy-headers.conf:4: proxy_set_header: ignored (lb does this by default)",
        "conf.d/20-gateway.conf:43: proxy_pass: approximated: target group users_service is also used at",
    ])
    yaml = result.stdout
    assert "path_rewrite: { prefix: /v1/users/, replacement: /users/ }" in yaml
    assert "path_rewrite: { prefix: /v1/orders/, replacement: / }" in yaml
    assert 'set: { Host: "#{host}", X-Real-IP: "#{client_ip}", X-Request-ID: "#{request_id}" }' in yaml
    # A location's own proxy_set_header replaces the inherited ones, as in nginx.
    assert "set: { Host: legacy.internal }" in yaml
    assert "add: { X-Gateway: lb-demo }" in yaml and "remove: [X-Powered-By]" in yaml
    assert 'conditions: { path: ["/admin/*"], source_ip: [10.20.0.0/16] }' in yaml
    assert "hash_key: header:x-tenant-id" in yaml
    assert "backup: true" in yaml
    assert "trusted_proxies: [10.0.0.0/8]" in yaml
    assert "max_body_size: 5m" in yaml


def test_tls_site_with_http_redirect_maps_completely(tmp_path):
    site = copy_site(tmp_path, "tls-site")
    certs = site / "certs"
    certs.mkdir()
    tlstest.make_cert(str(certs), "site", "example.test", ["DNS:example.test", "DNS:www.example.test"])
    tlstest.make_cert(str(certs), "static", "static.example.test", ["DNS:static.example.test"])
    nginx_check(site)
    result, lines = import_nginx(site)
    assert_report(lines, [
        "nginx.conf:8: ssl_prefer_server_ciphers: ignored (lb does this by default)",
        "nginx.conf:9: ssl_session_cache: ignored (lb does this by default)",
        "nginx.conf:10: ssl_session_timeout: ignored (lb does this by default)",
        "nginx.conf:30: proxy_set_header: ignored (lb does this by default)",
    ])
    assert result.returncode == 0, result.stderr
    assert_lb_accepts(tmp_path, result.stdout)
    yaml = result.stdout
    # One https listener per address with both certificates, the default server's first.
    site_cert = f"{certs}/site.pem"
    static_cert = f"{certs}/static.pem"
    assert yaml.count("- name: https-443\n") == 1 and yaml.count("- name: https-443-ipv6\n") == 1
    assert yaml.index(site_cert) < yaml.index(static_cert)
    assert "policy: recommended" in yaml
    assert "redirect:\n        protocol: HTTPS\n        port: 443\n" in yaml
    assert "add: { Strict-Transport-Security: \"max-age=63072000\" }" in yaml


def test_stream_tcp_udp_and_sni_routing(tmp_path):
    site = copy_site(tmp_path, "stream")
    if os.path.exists("/usr/lib/nginx/modules/ngx_stream_module.so"):
        nginx_check(site)
    result, lines = import_nginx(site)
    assert result.returncode == 2, result.stderr
    assert_lb_accepts(tmp_path, result.stdout)
    assert_report(lines, [
        "nginx.conf:2: load_module: ignored: lb has no modules",
        "nginx.conf:40: proxy_responses: not supported: ",
    ])
    yaml = result.stdout
    assert "protocol: udp\n    listen: 0.0.0.0:53\n    udp: { idle_timeout: 5s }" in yaml
    assert "protocol: tcp\n    listen: 0.0.0.0:5432\n    idle_timeout: 10m\n    proxy_protocol: v1" in yaml
    assert "protocol: tls_passthrough" in yaml
    # A map with `hostnames` picks exact names first, then the longest wildcard.
    rules = [line.strip() for line in yaml.splitlines() if "conditions: { host:" in line]
    assert rules == ['conditions: { host: [api.example.test] }',
                     'conditions: { host: [example.test] }',
                     'conditions: { host: ["*.api.example.test"] }',
                     'conditions: { host: ["*.example.test"] }'], yaml
    assert "default_action: { forward: { target_group: web_tls } }" in yaml


def test_unreadable_certificate_is_reported_and_yaml_still_written(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  server {\n    listen 443 ssl;\n"
                    "    ssl_certificate /nonexistent/site.pem;\n    ssl_certificate_key /nonexistent/site.key;\n"
                    "    location / { proxy_pass http://127.0.0.1:8000; }\n  }\n}\n")
    result = run_lb("import-nginx", str(conf))
    assert result.returncode == 2, result.stderr
    assert f"{conf}:5: ssl_certificate: cannot read /nonexistent/site.pem here" in result.stderr
    assert "cert: /nonexistent/site.pem" in result.stdout


def test_syntax_error_exits_one_with_file_and_line(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  server {\n    listen 80\n  }\n}\n")
    result = run_lb("import-nginx", str(conf))
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{conf}:5: unexpected \"}}\": directive \"listen\" has no \";\"" in result.stderr


def test_missing_file_and_nothing_to_map_exit_one(tmp_path):
    result = run_lb("import-nginx", str(tmp_path / "missing.conf"))
    assert result.returncode == 1
    assert "missing.conf: cannot read: No such file or directory" in result.stderr
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\n")
    result = run_lb("import-nginx", str(conf))
    assert result.returncode == 1
    assert "nothing to map" in result.stderr


def test_import_needs_a_path_and_the_usual_flags_still_work(tmp_path):
    result = run_lb("import-nginx")
    assert result.returncode != 0
    assert "path" in (result.stdout + result.stderr).lower()
    assert run_lb("--version").returncode == 0


def test_imported_config_serves_as_nginx_would(tmp_path, backends, start_lb):
    """The YAML made from a small site, run by lb: the target sees nginx's
    rewritten path and headers, and lb's own answers are nginx's."""
    b1, b2 = backends[0], backends[1]
    port = lbtest.free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""events {{}}
http {{
    upstream app {{ server 127.0.0.1:{b1.port}; server 127.0.0.1:{b2.port}; }}
    server {{
        listen 127.0.0.1:{port};
        location /api/ {{
            proxy_pass http://app/v2/;
            proxy_set_header X-Real-IP $remote_addr;
            add_header X-Gateway lb always;
        }}
        location = /ping {{ return 200 "pong"; }}
        location /old/ {{ return 301 https://$host$request_uri; }}
        location / {{ proxy_pass http://127.0.0.1:{b1.port}; }}
    }}
}}
""")
    result = run_lb("import-nginx", str(conf))
    assert result.returncode == 0, result.stderr
    admin = lbtest.free_port()
    # Only the admin address is the test's own (a free port).
    yaml = result.stdout.replace("listeners:\n", f"global:\n  admin: {{ listen: 127.0.0.1:{admin} }}\n  workers: 1\nlisteners:\n", 1)
    start_lb(yaml, ready_ports=[port])

    response = lbtest.get(port, "/api/items?x=1", headers=[("Host", "site.test")])
    assert response.status == 200, response
    echo = response.json()
    assert (echo["path"], echo["query"]) == ("/v2/items", "x=1")
    assert lbtest.headers_named(echo, "host") == ["app"]            # nginx's $proxy_host
    assert lbtest.headers_named(echo, "x-real-ip") == ["127.0.0.1"]
    assert response.header("x-gateway") == "lb"

    other = lbtest.get(port, "/else", headers=[("Host", "site.test")])
    assert other.json()["backend"] == b1.name
    assert lbtest.headers_named(other.json(), "host") == [f"127.0.0.1:{b1.port}"]

    ping = lbtest.get(port, "/ping")
    assert (ping.status, ping.body) == (200, b"pong")
    moved = lbtest.get(port, "/old/page?q=1", headers=[("Host", "site.test")])
    assert (moved.status, moved.header("location")) == (301, "https://site.test/old/page?q=1")
    slash = lbtest.get(port, "/api", headers=[("Host", "site.test")])
    assert slash.status == 301 and slash.header("location").endswith("/api/")
