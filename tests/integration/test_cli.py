"""The command line an nginx user expects: -c, -t, --version, --workers."""

import re

import lbtest
from lbtest import free_port, http_listener, make_config, run_lb, target_group, to_yaml


def write(tmp_path, text, name="lb.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_version_prints_name_and_project_version():
    result = run_lb("--version")
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^lb {re.escape(lbtest.project_version())}\b",
                     result.stdout.strip(), re.M), result.stdout


def test_check_valid_config_succeeds_and_names_the_file(tmp_path, backends):
    config = make_config([http_listener(free_port(), "web")], [target_group("web", backends)])
    path = write(tmp_path, to_yaml(config))
    result = run_lb("-t", "-c", path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "test is successful" in output
    assert path in output


# Line and column are 1-based and point at the offending node.
UNKNOWN_KEY_CONFIG = """\
global:
  workers: 1
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:{port}
    bogus_key: 1
    default_action: {{ forward: {{ target_group: web }} }}
target_groups:
  - name: web
    targets:
      - {{ address: 127.0.0.1, port: 9 }}
"""


def test_check_unknown_key_names_file_line_column_and_key_path(tmp_path):
    path = write(tmp_path, UNKNOWN_KEY_CONFIG.format(port=free_port()))
    result = run_lb("-t", "-c", path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    # The key path names the mapping holding the stray key; the message names the key.
    assert re.search(rf"{re.escape(path)}:7:5: listeners\[0\](\.bogus_key)?: .*bogus_key",
                     output), output


BAD_DURATION_CONFIG = """\
global:
  workers: 1
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:{port}
    idle_timeout: 10 parsecs
    default_action: {{ forward: {{ target_group: web }} }}
target_groups:
  - name: web
    targets:
      - {{ address: 127.0.0.1, port: 9 }}
"""


def test_check_bad_value_names_file_line_column_and_key_path(tmp_path):
    path = write(tmp_path, BAD_DURATION_CONFIG.format(port=free_port()))
    result = run_lb("-t", "-c", path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(rf"{re.escape(path)}:7:19: listeners\[0\]\.idle_timeout: ", output), output


def test_bad_config_refuses_to_start(tmp_path):
    path = write(tmp_path, BAD_DURATION_CONFIG.format(port=free_port()))
    result = run_lb("-c", path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "idle_timeout" in result.stdout + result.stderr


def test_missing_config_file_fails(tmp_path):
    path = str(tmp_path / "nope.yaml")
    result = run_lb("-t", "-c", path)
    assert result.returncode != 0
    assert path in result.stdout + result.stderr


def test_workers_flag_overrides_config(start_lb, backends):
    # One SO_REUSEPORT listening socket per worker (docs/architecture.md, "Threads").
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", backends)],
                         workers=1)
    start_lb(config, args=["--workers", "3"])
    lbtest.wait_for(lambda: lbtest.listening_sockets(port) == 3, timeout=5,
                    what="3 listening sockets")
    assert lbtest.get(port, "/").status == 200


def test_workers_from_config(start_lb, backends):
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", backends)],
                         workers=2)
    start_lb(config)
    lbtest.wait_for(lambda: lbtest.listening_sockets(port) == 2, timeout=5,
                    what="2 listening sockets")
    assert lbtest.listening_sockets(port) == 2


def test_runs_in_foreground_and_serves(start_lb, backends):
    port = free_port()
    config = make_config([http_listener(port, "web")], [target_group("web", backends)])
    lb = start_lb(config)
    assert lb.proc.poll() is None  # did not daemonize
    response = lbtest.get(port, "/hello")
    assert response.status == 200
    assert response.json()["path"] == "/hello"


# Issue 3: lb -t rejects these with file:line:col: key.path: message.
RULES_BASE = """\
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:{port}
    rules:
      - priority: 10
        conditions: {{ path: ["/a"] }}
        action: {{ forward: {{ target_group: web }} }}
{extra_rule}
    default_action: {{ forward: {{ target_group: web }} }}
target_groups:
  - name: web
    targets:
      - {{ address: 127.0.0.1, port: 9 }}
"""

BAD_RULES = {
    "duplicate priority": (
        '      - priority: 10\n        conditions: { path: ["/b"] }\n'
        '        action: { forward: { target_group: web } }',
        r":9:19: listeners\[0\]\.rules\[1\]\.priority: .*10.*line 6"),
    "unknown target group": (
        '      - priority: 20\n        conditions: { path: ["/b"] }\n'
        '        action: { forward: { target_group: nope } }',
        r":11:44: listeners\[0\]\.rules\[1\]\.action\.forward\.target_group: .*nope"),
    "bad CIDR": (
        '      - priority: 20\n        conditions: { source_ip: ["10.0.0.0/33"] }\n'
        '        action: { forward: { target_group: web } }',
        r":10:35: listeners\[0\]\.rules\[1\]\.conditions\.source_ip\[0\]: .*10\.0\.0\.0/33"),
    "bad wildcard": (
        '      - priority: 20\n        conditions: { host: ["bad host*"] }\n'
        '        action: { forward: { target_group: web } }',
        r":10:30: listeners\[0\]\.rules\[1\]\.conditions\.host\[0\]: "),
    "bad duration": (
        '      - priority: 20\n        conditions: { path: ["/b"] }\n'
        '        action: { forward: { target_groups: [{ name: web }], stickiness: { enabled: true, duration: 10 } } }',
        r":11:101: listeners\[0\]\.rules\[1\]\.action\.forward\.stickiness\.duration: .*duration"),
}


import pytest  # noqa: E402


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_check_rejects_bad_rules_with_position(tmp_path, case):
    extra, pattern = BAD_RULES[case]
    path = write(tmp_path, RULES_BASE.format(port=free_port(), extra_rule=extra))
    result = run_lb("-t", "-c", path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(re.escape(path) + pattern, output), output
    assert "test failed" in output
