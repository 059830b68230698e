"""A real browser over HTTP/2: headless Chromium loads a page from an https
listener over h2 and opens a WebSocket, which must ride the same h2
connection (RFC 8441) to the target's echo. Asserted from lb's access log,
not assumed: both lines are HTTP/2.0 from the same client port."""


import pytest

import browser
import lbtest
from lbtest import HOST, free_port, make_config, target_group

PAGE = ("<html><body><p id=r>waiting</p><script>"
        "const ws = new WebSocket('wss://' + location.host + '/ws');"
        "ws.onopen = () => ws.send('hello over h2');"
        "ws.onmessage = (e) => { document.getElementById('r').textContent = 'echo:' + e.data; };"
        "ws.onerror = () => { document.getElementById('r').textContent = 'websocket error'; };"
        "</script></body></html>")


@pytest.mark.skipif(browser.CHROMIUM is None, reason="chromium is not installed (tools/dev installs it)")
def test_chromium_page_and_websocket_share_one_h2_connection(start_lb, backends, tls_certs, tmp_path):
    port = free_port()
    listener = {"name": "web", "protocol": "https", "listen": f"{HOST}:{port}",
                "tls": {"certificates": [tls_certs.default.config]},
                "rules": [{"priority": 1, "conditions": {"path": ["/page"]},
                           "action": {"fixed_response": {"status": 200, "content_type": "text/html",
                                                         "body": PAGE}}}],
                "default_action": {"forward": {"target_group": "web"}}}
    lb = start_lb(make_config([listener], [target_group("web", backends)]))
    shown = browser.page_text(tmp_path / "profile", f"https://localhost:{port}/page", "r")
    assert shown == "echo:hello over h2", shown

    entries = lb.access_entries
    lbtest.wait_for(lambda: any(e["url"] == "/ws" for e in entries()), what="the WebSocket's access log line")
    by_url = {e["url"]: e for e in entries()}
    page, websocket = by_url["/page"], by_url["/ws"]
    assert page["protocol"] == "HTTP/2.0" and page["status"] == 200
    assert websocket["protocol"] == "HTTP/2.0" and websocket["status"] == 101
    assert websocket["client_port"] == page["client_port"], (page, websocket)  # one connection
