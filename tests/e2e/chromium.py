"""Headless Chromium for end-to-end tests, driven over the DevTools protocol on a pipe.

`--remote-debugging-pipe` makes Chromium read protocol messages from file descriptor 3 and write
its own to descriptor 4, each a JSON object followed by a NUL byte: no port, no websocket, and
nothing to download at run time. Every wait is bounded; `close()` ends the browser.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

# Without these, Chromium contacts Google services at start-up (through the proxy under test).
QUIET_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # the tests may run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,NetworkTimeServiceQuerying,"
    "AccountConsistency,DiceWebSigninInterception,ChromeWhatsNewUI,PrivacySandboxSettings4,"
    "IsolateOrigins,site-per-process",
    "--allow-browser-signin=false",
    # Frames from other sites in the page's own process, so one session can read every frame.
    "--disable-site-isolation-trials",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-quic",
    "--mute-audio",
    # Tabs loaded side by side (`load_all`) keep their timers running as a tab in front would.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--hide-scrollbars",
    "--password-store=basic",
    "--use-mock-keychain",
]


class BrowserError(RuntimeError):
    """Chromium failed, answered a command with an error, or did not answer in time."""


def find_chromium() -> str | None:
    """The path of a Chromium binary, or None."""
    override = os.environ.get("DEJUNK_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class NetworkEntry:
    """One request the page made, as the browser saw it."""

    url: str
    resource_type: str
    status: int | None = None
    mime_type: str | None = None
    failed: str | None = None
    from_dejunk: str | None = None  # the X-Dejunk header of the response, if any


@dataclass
class PageLoad:
    """What loading one page produced: the requests it made, by the browser's request id."""

    url: str
    requests: dict[str, NetworkEntry] = field(default_factory=dict)
    load_seconds: float = 0.0


class Chromium:
    """One headless browser with a fresh profile, sending everything through `proxy_url`."""

    def __init__(self, workdir: Path, proxy_url: str, *, name: str = "chromium", binary: str | None = None,
                 window: tuple[int, int] = (1280, 1000), timeout: float = 30.0, extra_args: tuple[str, ...] = ()):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserError("no Chromium found (apt-get install chromium)")
        self.timeout = timeout
        self.profile = workdir / f"{name}-profile"
        self.log_path = workdir / f"{name}.log"
        self.profile.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary, *QUIET_FLAGS,
            f"--user-data-dir={self.profile}",
            f"--proxy-server={proxy_url}",
            # Send loopback names and addresses through the proxy too (Chromium bypasses them by default).
            "--proxy-bypass-list=<-loopback>",
            # The proxy re-signs HTTPS with its own CA; this profile does not trust it.
            "--ignore-certificate-errors",
            f"--window-size={window[0]},{window[1]}",
            "--remote-debugging-pipe",
            *extra_args,
            "about:blank",
        ]
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def arrange_pipes():
            # In the child: the protocol pipes must sit on descriptors 3 and 4 exactly.
            read_end, write_end = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=arrange_pipes, close_fds=False, start_new_session=True,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        try:
            self.version = self.call("Browser.getVersion")
        except BrowserError:
            self.close()
            raise

    # --- protocol ------------------------------------------------------------------------------

    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        deadline = time.monotonic() + self.timeout
        while data:
            if time.monotonic() > deadline:
                raise BrowserError("Chromium does not read its protocol pipe")
            _, writable, _ = select.select([], [self._to_browser], [], 1.0)
            if writable:
                data = data[os.write(self._to_browser, data):]

    def _receive(self, deadline: float) -> dict | None:
        """The next message, or None when the deadline passes."""
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self._from_browser], [], [], min(remaining, 1.0))
            if not readable:
                if self.process.poll() is not None:
                    raise BrowserError(f"Chromium exited ({self.process.returncode}): {self.log()[-2000:]}")
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed its protocol pipe: {self.log()[-2000:]}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one command and wait for its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._receive(deadline)
            if reply is None:
                raise BrowserError(f"no answer to {method} within {timeout or self.timeout} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for(self, predicate, timeout: float | None = None) -> dict | None:
        """The first kept or arriving event that satisfies `predicate`, or None after the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        index = 0
        while True:
            while index < len(self._events):
                if predicate(self._events[index]):
                    return self._events[index]
                index += 1
            message = self._receive(deadline)
            if message is None:
                return None
            if "method" in message:
                self._events.append(message)

    def drain(self, seconds: float) -> None:
        """Collect events for a while (late requests, e.g. from timers)."""
        deadline = time.monotonic() + seconds
        while True:
            message = self._receive(deadline)
            if message is None:
                return
            if "method" in message:
                self._events.append(message)

    # --- pages ---------------------------------------------------------------------------------

    def open(self, url: str, *, settle: float = 1.0) -> Tab:
        """A new tab that has loaded `url` (load event fired, then `settle` seconds of quiet)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, target, session)
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=session)
        self.call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
        self.call("Network.setCacheDisabled", {"cacheDisabled": True}, session=session)
        tab.load(url, settle=settle)
        return tab

    def load_all(self, urls: list[str], *, settle: float = 0.5) -> list[Tab | BrowserError]:
        """Load several pages side by side, each in a tab of its own: for each URL its tab once its load
        event fired and `settle` seconds passed, or the error. The caller closes the tabs."""
        tabs: list[Tab] = []
        for _ in urls:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime"):
                self.call(f"{domain}.enable", session=session)
            self.call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
            tabs.append(Tab(self, target, session))
        if len(tabs) == 1:
            tabs[0].call("Page.bringToFront")  # a page alone is in front: it gets animation frames too
        loaders: dict[str, int] = {}
        results: list[Tab | BrowserError] = list(tabs)
        for number, (tab, url) in enumerate(zip(tabs, urls)):
            navigated = tab.call("Page.navigate", {"url": url})
            if navigated.get("errorText"):
                results[number] = BrowserError(f"navigation to {url} failed: {navigated['errorText']}")
            else:
                loaders[f"{tab.session} {navigated.get('loaderId')}"] = number
        deadline = time.monotonic() + self.timeout
        seen = 0
        while loaders and time.monotonic() < deadline:
            # Only this batch's load events: each found one is taken off the pending set.
            while seen < len(self._events) and loaders:
                event = self._events[seen]
                seen += 1
                params = event.get("params", {})
                if event.get("method") == "Page.lifecycleEvent" and params.get("name") == "load":
                    loaders.pop(f"{event.get('sessionId')} {params.get('loaderId')}", None)
            if loaders:
                message = self._receive(deadline)
                if message is not None and "method" in message:
                    self._events.append(message)
        for number in loaders.values():
            results[number] = BrowserError(f"{urls[number]}: no load event within {self.timeout} s")
        self.drain(settle)
        sessions = {tab.session for tab in tabs}
        self._events = [event for event in self._events if event.get("sessionId") not in sessions]
        return results

    def colour_counts(self, png: bytes, colours: dict[str, tuple[int, int, int]], tolerance: int = 3) -> dict[str, int]:
        """How many pixels of an image have each named colour (the browser decodes the image)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, target, session)
        try:
            script = """(async () => {
                const img = new Image();
                img.src = "data:image/png;base64,%s";
                await img.decode();
                const canvas = document.createElement("canvas");
                canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
                const context = canvas.getContext("2d");
                context.drawImage(img, 0, 0);
                const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
                const colours = %s, tolerance = %d, counts = {};
                for (const name in colours) counts[name] = 0;
                for (let i = 0; i < data.length; i += 4) {
                    for (const name in colours) {
                        const [r, g, b] = colours[name];
                        if (Math.abs(data[i] - r) <= tolerance && Math.abs(data[i + 1] - g) <= tolerance
                            && Math.abs(data[i + 2] - b) <= tolerance) { counts[name]++; break; }
                    }
                }
                return counts;
            })()""" % (base64.b64encode(png).decode(), json.dumps(colours), tolerance)
            return tab.evaluate(script)
        finally:
            tab.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._send({"id": 0, "method": "Browser.close", "params": {}})
                self.process.wait(timeout=10)
            except (BrowserError, OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            # Its own process group (start_new_session): renderers and helpers go with it.
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()


class Tab:
    """One page target attached with a flat session."""

    def __init__(self, browser: Chromium, target: str, session: str):
        self.browser = browser
        self.target = target
        self.session = session
        self.page: PageLoad | None = None

    def call(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    def load(self, url: str, *, settle: float = 1.0) -> PageLoad:
        browser = self.browser
        browser._events = [e for e in browser._events if e.get("sessionId") != self.session]
        started = time.monotonic()
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {result['errorText']}")
        loader = result.get("loaderId")

        def loaded(event: dict) -> bool:
            # The load event of this navigation, not a late one of the blank page the tab opened with.
            params = event.get("params", {})
            return (event.get("sessionId") == self.session and event["method"] == "Page.lifecycleEvent"
                    and params.get("name") == "load" and params.get("loaderId") == loader)

        fired = browser.wait_for(loaded)
        if fired is None:
            raise BrowserError(f"{url}: no load event within {browser.timeout} s")
        page = PageLoad(url=url, load_seconds=time.monotonic() - started)
        browser.drain(settle)
        for event in browser._events:
            if event.get("sessionId") == self.session:
                _record(page, event["method"], event.get("params", {}))
        self.page = page
        return page

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable results only)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('text')}: {expression[:200]}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page (beyond the window too)."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def frame_texts(self) -> dict[str, str]:
        """The visible text of every child frame, by frame URL (read with the protocol's privileges)."""
        # innerText of an element that is not rendered is its whole text: a hidden document shows
        # nothing, so it counts as no text.
        return self._in_each_frame("(!document.body || getComputedStyle(document.documentElement).display === 'none')"
                                   " ? '' : document.body.innerText")

    def wait_for_frames_to_paint(self, timeout_ms: int = 3000) -> dict[str, bool]:
        """Wait until every child frame has drawn two frames since now (or timeout_ms), by frame URL."""
        # A cross-site frame paints in its own renderer, on a busy machine well after the page's
        # load event; two animation frames there mean its current content reached the screen.
        return self._in_each_frame(
            "Promise.race([new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true)))),"
            f" new Promise(done => setTimeout(() => done(false), {int(timeout_ms)}))])")

    def _in_each_frame(self, expression: str) -> dict:
        """The value of a JavaScript expression in an isolated world of every child frame, by frame URL."""
        values: dict = {}

        def walk(node: dict) -> None:
            for child in node.get("childFrames", []):
                frame = child["frame"]
                world = self.call("Page.createIsolatedWorld", {"frameId": frame["id"], "worldName": "dejunk-test"})
                result = self.call("Runtime.evaluate", {
                    "expression": expression, "contextId": world["executionContextId"],
                    "returnByValue": True, "awaitPromise": True,
                })
                values[frame["url"]] = result["result"].get("value", "")
                walk(child)

        walk(self.call("Page.getFrameTree")["frameTree"])
        return values

    def html(self) -> str:
        return self.evaluate("document.documentElement.outerHTML")

    def close(self) -> None:
        try:
            self.browser.call("Target.closeTarget", {"targetId": self.target}, timeout=5)
        except BrowserError:
            pass
        browser = self.browser  # its events are of no more use, and every later wait would scan them
        browser._events = [event for event in browser._events if event.get("sessionId") != self.session]


def _record(page: PageLoad, method: str, params: dict) -> None:
    if method == "Network.requestWillBeSent":
        request_id = params["requestId"]
        page.requests.setdefault(request_id, NetworkEntry(params["request"]["url"], params.get("type", "Other")))
    elif method == "Network.responseReceived":
        entry = page.requests.get(params["requestId"])
        if entry is not None:
            response = params["response"]
            entry.status = response.get("status")
            entry.mime_type = response.get("mimeType")
            headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
            entry.from_dejunk = headers.get("x-dejunk")
    elif method == "Network.loadingFailed":
        entry = page.requests.get(params["requestId"])
        if entry is not None:
            entry.failed = params.get("errorText") or "failed"
