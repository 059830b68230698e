"""The admin API's dashboard in a real browser: headless Chromium (over
the DevTools pipe, tests/integration/cdp.py) loads GET / from lb's admin
address with two target groups behind it and traffic flowing, and the
page is read back from its DOM: every group and target with its state,
a target going unhealthy and one registered through the API showing up,
requests/s above 0, no console errors, no horizontal overflow at phone
width; with a token_file, only the token prompt until the token is typed,
and the token never in a URL.

LB_DASHBOARD_SCREENSHOT=/path.png saves a 1280 px wide screenshot of the
page with its traffic (docs/dashboard.png is one)."""

import json
import math
import os
import threading
import time

import pytest
import requests

import cdp
import lbtest
from lbtest import HOST, TIME_SCALE, free_port, health_check, http_listener, make_config, target_group
from test_admin_api import Admin

pytestmark = pytest.mark.skipif(cdp.CHROMIUM is None, reason="chromium is not installed (tools/dev installs it)")

TOKEN = "dashboard-s3cret-9f2c"
FIRST_LOAD = 30 * TIME_SCALE   # Chromium's start and first paint on a busy 2-core CI box
CHANGE = 10 * TIME_SCALE       # a change reaching the page: a check interval or two, then one poll

# Each group with its targets and their states as the page shows them.
GROUPS_SHOWN = """JSON.stringify(Object.fromEntries(
  Array.from(document.querySelectorAll('section[data-group]')).map(section => [section.dataset.group,
    Object.fromEntries(Array.from(section.querySelectorAll('tr[data-target]')).map(row =>
      [row.dataset.target, {state: row.querySelector('td.state').textContent,
                            badge: row.querySelector('td.state .badge').className,
                            cells: Array.from(row.cells).map(c => c.textContent)}]))])))"""


def key(backend):
    return f"{HOST}:{backend.port}"


class Traffic:
    """Requests to each port from a thread until stopped; one in ten asks
    the backend for a 500, so the error series has something to show."""

    def __init__(self, ports):
        self.ports = ports
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        connections = {}
        while not self._stop.is_set():
            for port in self.ports:
                path = "/status/500" if self.sent % 10 == 9 else "/"
                try:
                    conn = connections.get(port) or lbtest.HttpConn(port)
                    connections[port] = conn
                    conn.request("GET", path)
                    conn.read_response(timeout=5)
                    self.sent += 1
                except (OSError, lbtest.ConnectionClosed):
                    connections.pop(port, None)
            # A rate that swells and ebbs, so the charts show a shape.
            self._stop.wait(0.004 + 0.012 * (1 + math.sin(time.monotonic() / 6)))
        for conn in connections.values():
            conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def start(start_lb, backends, tmp_path, token=False):
    """lb with listeners web (group web: b1, b2, checked) and api (group
    api: b3, no check); returns (lb, config, admin URL, listener ports)."""
    b1, b2, b3 = backends
    web_port, api_port = free_port(), free_port()
    config = make_config([http_listener(web_port, "web", name="web"), http_listener(api_port, "api", name="api")],
                         [target_group("web", [b1, b2], health_check=health_check(), deregistration_delay="30s"),
                          target_group("api", [b3])], workers=2)
    if token:
        token_file = tmp_path / "admin.token"
        token_file.write_text(TOKEN + "\n")
        config["global"]["admin"]["token_file"] = str(token_file)
    lb = start_lb(config)
    return lb, config, "http://" + config["global"]["admin"]["listen"], (web_port, api_port)


def groups_shown(page):
    return json.loads(page.evaluate(GROUPS_SHOWN))


def wait_states(page, expected, what):
    """Waits until each (group, target) in `expected` shows its state."""
    def matches(text):
        shown = json.loads(text)
        return all(shown.get(g, {}).get(t, {}).get("state") == s for (g, t), s in expected.items())
    return json.loads(page.wait_for(GROUPS_SHOWN, matches, timeout=CHANGE, what=what))


def test_dashboard_shows_groups_targets_and_changes_live(start_lb, backends, start_backend, tmp_path):
    b1, b2, b3 = backends
    lb, config, admin_url, ports = start(start_lb, backends, tmp_path)
    with Traffic(ports) as traffic, cdp.Browser(tmp_path / "chromium") as browser:
        page = browser.page
        page.set_viewport(1280, 900)
        page.navigate(admin_url + "/")
        page.wait_for("document.querySelectorAll('section[data-group]').length", lambda n: n == 2,
                      timeout=FIRST_LOAD, what="both target groups on the page")
        shown = wait_states(page, {("web", key(b1)): "healthy", ("web", key(b2)): "healthy",
                                   ("api", key(b3)): "unused"}, "the targets' first states")
        assert set(shown) == {"web", "api"}
        assert set(shown["web"]) == {key(b1), key(b2)} and set(shown["api"]) == {key(b3)}
        assert "state-healthy" in shown["web"][key(b1)]["badge"]
        assert "state-unused" in shown["api"][key(b3)]["badge"]
        assert not page.evaluate("document.getElementById('dashboard').hidden")
        assert page.evaluate("document.getElementById('login').hidden")  # no token_file: no prompt

        # Traffic shows as a rate, per listener and per target.
        page.wait_for("parseFloat(document.querySelector('tr[data-listener=\"web\"] td.requests').textContent)",
                      lambda rate: rate and rate > 0, timeout=CHANGE, what="requests/s of listener web above 0")
        page.wait_for(f"parseFloat(document.querySelector('tr[data-target=\"{key(b3)}\"] td.requests').textContent)",
                      lambda rate: rate and rate > 0, timeout=CHANGE, what="requests/s of target b3 above 0")
        assert traffic.sent > 0

        # A target whose check fails turns red; one registered through the API appears.
        b2.set_health(False)
        shown = wait_states(page, {("web", key(b2)): "unhealthy"}, "b2 unhealthy on the page")
        assert "state-unhealthy" in shown["web"][key(b2)]["badge"]
        assert any("HTTP 503" in cell for cell in shown["web"][key(b2)]["cells"]), shown["web"][key(b2)]
        b4 = start_backend("b4")
        answer = Admin(config).register(b4)
        assert answer.status_code == 201, answer.text
        page.wait_for(GROUPS_SHOWN, lambda text: key(b4) in json.loads(text).get("web", {}),
                      timeout=CHANGE, what="the registered target on the page")
        shown = wait_states(page, {("web", key(b4)): "healthy"}, "b4 healthy")
        assert "api" in shown["web"][key(b4)]["cells"]  # where it came from

        # The charts have points (the lb-wide requests line at least).
        page.wait_for("document.querySelectorAll('#lb-charts polyline').length", lambda n: n and n > 0,
                      timeout=CHANGE, what="the lb-wide charts")
        screenshot = os.environ.get("LB_DASHBOARD_SCREENSHOT")
        if screenshot:
            # A minute of history makes a picture worth keeping (docs/dashboard.png).
            page.wait_for("document.querySelector('#lb-charts polyline').points.numberOfItems",
                          lambda n: n >= 60, timeout=120, what="a minute of points")
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport(1280, height)
            page.wait_for("window.innerHeight", lambda h: h == height, what="the tall viewport")
            page.screenshot(screenshot)

        # Phone width: the page reflows; only tables scroll, inside themselves.
        page.set_viewport(375, 800, mobile=True, scale=2)
        page.wait_for("window.innerWidth", lambda w: w == 375, what="the phone viewport")
        status = page.evaluate("document.getElementById('status').textContent")
        page.wait_for("document.getElementById('status').textContent", lambda s: s != status,
                      timeout=CHANGE, what="a poll at phone width")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")
        assert max(widths) <= 376, f"the page is wider than the phone: {widths}"

        assert page.errors() == []
    b2.set_health(True)


def test_dashboard_with_token_asks_for_it_and_keeps_it_out_of_urls(start_lb, backends, tmp_path):
    b1, b2, b3 = backends
    lb, config, admin_url, ports = start(start_lb, backends, tmp_path, token=True)
    with Traffic(ports), cdp.Browser(tmp_path / "chromium") as browser:
        page = browser.page
        page.navigate(admin_url + "/")
        page.wait_for("!document.getElementById('login').hidden", timeout=FIRST_LOAD, what="the token prompt")
        # Only the prompt: no data on the page, none answered to the page.
        assert page.evaluate("document.getElementById('dashboard').hidden")
        text = page.evaluate("document.body.innerText")
        for secret in (key(b1), key(b2), key(b3), "generation"):
            assert secret not in text
        api_answers = [status for url, status in page.responses() if "/api/" in url]
        assert api_answers and set(api_answers) == {401}, page.responses()

        # Typed in, as a user would.
        page.evaluate("document.getElementById('token').focus()")
        page.call("Input.insertText", text=TOKEN)
        page.evaluate("document.getElementById('login-submit').click()")
        wait_states(page, {("web", key(b1)): "healthy", ("web", key(b2)): "healthy", ("api", key(b3)): "unused"},
                    "the data after the token")
        assert page.evaluate("document.getElementById('login').hidden")

        # A refused token (it changed, say): back to the prompt, data gone.
        page.evaluate("sessionStorage.setItem('lb.dashboard.token', 'not-the-token')")
        page.wait_for("!document.getElementById('login').hidden", timeout=CHANGE, what="the prompt again on a 401")
        assert page.evaluate("document.querySelectorAll('section[data-group]').length") == 0
        assert "refused" in page.evaluate("document.getElementById('login-error').textContent")

        requested = page.requests()
        assert not [url for url, _ in requested if TOKEN in url], "the token went into a URL"
        bearer = [url for url, headers in requested
                  if headers.get("Authorization") == f"Bearer {TOKEN}" and url.endswith("/api/v1/dashboard")]
        assert bearer, "no dashboard request carried the token"
        # The only errors are the API's 401s (the first poll, the refused token).
        others = [e for e in page.errors() if not ("status of 401" in e and "/api/v1/dashboard" in e)]
        assert others == []


def test_dashboard_files_carry_a_strict_policy_and_the_data_needs_the_token(start_lb, backends, tmp_path):
    lb, config, admin_url, ports = start(start_lb, backends, tmp_path, token=True)
    for path, content_type in (("/", "text/html"), ("/dashboard.js", "text/javascript"),
                               ("/dashboard.css", "text/css")):
        answer = requests.get(admin_url + path, timeout=10)
        assert answer.status_code == 200, path
        assert answer.headers["Content-Type"].startswith(content_type)
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"
        # Nothing from elsewhere (the SVG namespace is a name, not a fetch).
        own = answer.text.replace("http://www.w3.org/2000/svg", "")
        assert "http://" not in own and "https://" not in own and "//" + "fonts" not in own
    assert requests.post(admin_url + "/", timeout=10).status_code == 405
    refused = requests.get(admin_url + "/api/v1/dashboard", timeout=10)
    assert refused.status_code == 401 and "targets" not in refused.text


def test_dashboard_api_reports_rates_series_and_the_last_reload(start_lb, backends, tmp_path):
    b1, b2, b3 = backends
    lb, config, admin_url, ports = start(start_lb, backends, tmp_path)
    admin = Admin(config)

    def dashboard():
        answer = admin.call("GET", "/api/v1/dashboard")
        assert answer.status_code == 200, answer.text
        assert answer.headers["Cache-Control"] == "no-store"
        return answer.json()

    first = dashboard()
    assert first["instance"]["last_reload"] is None
    assert first["instance"]["version"] == lbtest.project_version()
    with Traffic(ports):
        busy = lbtest.wait_for(lambda: (lambda d: d["lb"]["requests_per_s"] > 0 and d)(dashboard()),
                               timeout=CHANGE, what="lb-wide requests/s above 0")
    web = next(g for g in busy["target_groups"] if g["name"] == "web")
    assert {t["id"] for t in web["targets"]} == {key(b1), key(b2)}
    assert all(t["source"] == "config" for t in web["targets"])
    assert web["series"]["t"] and len(web["series"]["t"]) == len(web["series"]["requests_per_s"])
    assert len(busy["lb"]["series"]["t"]) <= busy["points"]
    assert any(t["p99_us"] for g in busy["target_groups"] for t in g["targets"])

    # A rejected reload is remembered with its reason.
    with open(lb.config_path, "w") as f:
        f.write("listeners: [oops\n")
    assert admin.call("POST", "/api/v1/reload").status_code == 400
    reload = dashboard()["instance"]["last_reload"]
    assert reload["result"] == "rejected" and reload["error"], reload
    lb.write_config(config)
    assert admin.call("POST", "/api/v1/reload").status_code == 200
    reload = dashboard()["instance"]["last_reload"]
    assert reload["result"] == "accepted" and "error" not in reload, reload
