"""Headless Chromium driven over the DevTools protocol through
--remote-debugging-pipe: Chromium reads commands from its fd 3 and writes
answers and events to its fd 4, each message JSON ended by a NUL byte. No
port, no websocket. One page (a flattened target session) per browser.

    with cdp.Browser(profile_dir) as browser:
        page = browser.page
        page.navigate(url)
        page.wait_for("document.title", lambda t: t == "x")
"""

import base64
import fcntl
import json
import os
import shutil
import threading
import time

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)


class CdpError(RuntimeError):
    pass


class Browser:
    def __init__(self, profile_dir, log_path=None, timeout=30.0):
        os.makedirs(profile_dir, exist_ok=True)
        self.timeout = timeout
        self.log_path = log_path or os.path.join(str(profile_dir), "chromium.log")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # Out of the way of 3 and 4 before they are dup2'ed there in the child.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_read, answers_write)]
        os.close(commands_read)
        os.close(answers_write)
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--remote-debugging-pipe", f"--user-data-dir={profile_dir}", "about:blank"]
        try:
            self.pid = os.posix_spawn(CHROMIUM, args, dict(os.environ), file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2),
                (os.POSIX_SPAWN_DUP2, high[0], 3), (os.POSIX_SPAWN_DUP2, high[1], 4)])
        finally:
            for fd in (*high, log):
                os.close(fd)
        self._ids = iter(range(1, 1 << 30))
        self._lock = threading.Condition()
        self._answers_by_id = {}
        self.events = []  # (sessionId, method, params) in arrival order
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.page = self._open_page()
        except Exception:
            self.close()
            raise

    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = os.read(self._answers, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed = True
                    self._lock.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._lock:
                    if "id" in message:
                        self._answers_by_id[message["id"]] = message
                    else:
                        self.events.append((message.get("sessionId"), message["method"], message.get("params", {})))
                    self._lock.notify_all()

    def call(self, method, session=None, timeout=None, **params):
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data):]
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._lock:
            while message_id not in self._answers_by_id:
                if self._closed:
                    raise CdpError(f"chromium went away during {method} (log: {self.log_path})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CdpError(f"no answer to {method} within {timeout or self.timeout}s")
                self._lock.wait(left)
            answer = self._answers_by_id.pop(message_id)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def _open_page(self):
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        return Page(self, session)

    def close(self):
        try:
            if not self._closed:
                self.call("Browser.close", timeout=5)
        except CdpError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        for fd in (self._commands, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """One tab. Records what a test asserts on: console errors, uncaught
    exceptions, log errors, and every request with its response status."""

    def __init__(self, browser, session):
        self.browser = browser
        self.session = session
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method, **params):
        return self.browser.call(method, session=self.session, **params)

    def _events(self, *methods):
        with self.browser._lock:
            return [params for session, method, params in self.browser.events
                    if session == self.session and method in methods]

    def errors(self):
        """Console errors, uncaught exceptions and error log entries, as text."""
        found = []
        for params in self._events("Runtime.consoleAPICalled"):
            if params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                   for a in params.get("args", [])))
        for params in self._events("Runtime.exceptionThrown"):
            details = params.get("exceptionDetails", {})
            found.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        for params in self._events("Log.entryAdded"):
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                found.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
        return found

    def requests(self):
        """(url, request headers) of every request the page made."""
        return [(p["request"]["url"], p["request"].get("headers", {}))
                for p in self._events("Network.requestWillBeSent")]

    def responses(self):
        """(url, status) of every response the page received."""
        return [(p["response"]["url"], p["response"]["status"]) for p in self._events("Network.responseReceived")]

    def navigate(self, url):
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise CdpError(f"navigating to {url}: {result['errorText']}")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails'].get('text')}: "
                           f"{result['exceptionDetails'].get('exception', {}).get('description')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, predicate=bool, timeout=10.0, what=None):
        """Evaluates `expression` every 100 ms until predicate(value) holds;
        returns the value, or fails with the last one at the deadline. An
        expression that throws (the page is not there yet) is not yet true."""
        deadline = time.monotonic() + timeout
        value = None
        while True:
            try:
                value = self.evaluate(expression)
            except CdpError as error:
                value = error
            else:
                if predicate(value):
                    return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or expression}; last value: "
                                     f"{value!r}; page errors: {self.errors()}")
            time.sleep(0.1)

    def set_viewport(self, width, height, mobile=False, scale=1):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=scale,
                  mobile=mobile)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
