"""Helpers for the dashboard's browser tests: Playwright on the system's Chromium, the API through the proxy.

Playwright drives the Chromium the machine has (`executable_path`); it never downloads a browser.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import contextmanager

from .chromium import QUIET_FLAGS

DASHBOARD = "dejunk.home.arpa"
DASHBOARD_URL = f"http://{DASHBOARD}/"


# Where the browser itself (not a page) sends requests: a loopback port nothing listens on.
# Chromium checks for component updates even with --disable-component-update; through dejunk those
# checks would count as requests (and leave for the internet without the test resolver).
NOWHERE_PROXY = "http://127.0.0.1:1"


class ProxiedBrowser:
    """A Playwright browser whose pages (each context) go through dejunk, and nothing else does."""

    def __init__(self, browser, proxy_url: str):
        self.browser = browser
        self.proxy_url = proxy_url

    def new_context(self, **options):
        """A browser context (own cookies and cache) whose every request goes through the proxy."""
        return self.browser.new_context(proxy={"server": self.proxy_url, "bypass": "<-loopback>"}, **options)


@contextmanager
def browser_through(proxy_url: str, chromium: str):
    """A headless Chromium (Playwright) whose pages' requests go through the proxy at `proxy_url`."""
    from playwright.sync_api import sync_playwright

    # Playwright says headless itself; the rest keeps Chromium from calling home.
    flags = [flag for flag in QUIET_FLAGS if not flag.startswith("--headless")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=flags,
                                             proxy={"server": NOWHERE_PROXY}, timeout=60_000)
        try:
            yield ProxiedBrowser(browser, proxy_url)
        finally:
            browser.close()


def api(proxy_url: str, path: str, *, method: str = "GET", body: dict | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, object]:
    """One API call through the proxy, as any client of it makes it: (status, decoded JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(DASHBOARD_URL.rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url}))
    try:
        with opener.open(request, timeout=15) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None
