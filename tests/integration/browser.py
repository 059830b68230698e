"""Headless Chromium for the tests, driven over the DevTools protocol in
real time: open a URL, then read a JavaScript expression until it is what
the test waits for, with a deadline. (--dump-dom's virtual time fires a
page's timers early and never ends while a long-poll is pending, which is
what Socket.IO does.)"""

import asyncio
import json
import re
import shutil
import subprocess
import time
import urllib.request

import websockets

CHROMIUM = shutil.which("chromium")


class Chromium:
    def __init__(self, profile_dir):
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--ignore-certificate-errors",
             f"--user-data-dir={profile_dir}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError("chromium exited before its DevTools endpoint was up")
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                self.port = int(found.group(1))
        if self.port is None:
            raise RuntimeError("chromium's DevTools endpoint did not come up")

    def _page_socket_url(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=10) as response:
            targets = json.load(response)
        return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    def open_and_wait(self, url, expression, predicate, timeout=30):
        """Navigates to url, then evaluates expression every 100 ms until
        predicate(value) holds; returns the last value (at the deadline too)."""
        return asyncio.run(self._open_and_wait(url, expression, predicate, timeout))

    async def _open_and_wait(self, url, expression, predicate, timeout):
        async with websockets.connect(self._page_socket_url(), max_size=None) as page:
            ids = iter(range(1, 1_000_000))

            async def call(method, **params):
                message_id = next(ids)
                await page.send(json.dumps({"id": message_id, "method": method, "params": params}))
                while True:
                    message = json.loads(await page.recv())
                    if message.get("id") == message_id:
                        return message.get("result", {})

            await call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            value = None
            while time.monotonic() < deadline:
                result = await call("Runtime.evaluate", expression=expression, returnByValue=True)
                value = result.get("result", {}).get("value")
                if predicate(value):
                    break
                await asyncio.sleep(0.1)
            return value

    def text_of(self, url, element_id, timeout=30):
        """Opens url and waits until element `element_id` shows something
        other than "waiting" (the tests' pages start so); returns it."""
        return self.open_and_wait(url, f"document.getElementById('{element_id}') && "
                                       f"document.getElementById('{element_id}').textContent",
                                  lambda text: bool(text) and text != "waiting", timeout)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def page_text(profile_dir, url, element_id, timeout=30):
    """Chromium.text_of in a browser started and closed around it."""
    chromium = Chromium(profile_dir)
    try:
        return chromium.text_of(url, element_id, timeout)
    finally:
        chromium.close()
