"""Make docs/dashboard-overview.png: the dashboard's overview after real traffic on loopback.

It starts a mitmdump with dejunk (a fresh state folder, a small list of its own) and a loopback
origin, sends requests through the proxy for a few minutes (some blocked by the list, a few that
fail upstream), then opens http://dejunk.home.arpa/ in headless Chromium through the proxy and
saves the overview. Nothing leaves the machine: every name resolves to loopback or fails locally.

    python scripts/screenshot_dashboard.py [--minutes 6] [--out docs/dashboard-overview.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.chromium import find_chromium  # noqa: E402
from tests.e2e.dashboard import DASHBOARD_URL, browser_through  # noqa: E402
from tests.e2e.harness import Proxy  # noqa: E402
from tests.e2e.origin import start_origin  # noqa: E402

LIST = """[Adblock Plus 2.0]
! Title: screenshot list
||ads.test^
||tracker.test^
||metrics.test^
||banners.test^
/pixel.gif$image
"""

PAGES = ("news.test", "shop.test", "video.test", "blog.test")
JUNK = ("ads.test/ad.js", "tracker.test/t.js", "metrics.test/collect.js", "banners.test/top.png",
        "cdn.test/pixel.gif")


def send(opener, url: str) -> None:
    try:
        with opener.open(url, timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError):
        pass  # blocked answers and upstream failures are what the overview shows


def traffic(proxy_url: str, port: int, minutes: float) -> None:
    """Bursts of page loads with their junk, one burst every ten seconds, more in some minutes."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url}))
    end = time.monotonic() + minutes * 60
    burst = 0
    while time.monotonic() < end:
        loads = 2 + (burst * 7) % 5
        for i in range(loads):
            page = PAGES[(burst + i) % len(PAGES)]
            send(opener, f"http://{page}:{port}/bytes?size=2000&b={burst}&i={i}")
            for j in range(2 + (burst + 3 * i) % 5):  # the page's own scripts, styles and images
                send(opener, f"http://{page}:{port}/bytes?size=500&b={burst}&i={i}&r={j}")
            for j, junk in enumerate(JUNK[(burst + i) % 2: 1 + (burst + i) % 3 + (burst + i) % 2]):
                host, _, path = junk.partition("/")
                send(opener, f"http://{host}:{port}/{path}?b={burst}&i={i}&j={j}")
        if burst % 4 == 1:
            send(opener, f"http://unknown-name.invalid:{port}/")  # fails upstream: no such name
        burst += 1
        time.sleep(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6, help="how long to send traffic (one bar a minute)")
    parser.add_argument("--out", default=str(REPO / "docs" / "dashboard-overview.png"))
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("Chromium is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="dejunk-screenshot-") as folder:
        workdir = Path(folder)
        (workdir / "list.txt").write_text(LIST)
        origin = start_origin()
        proxy = Proxy(workdir, name="screenshot", options={"dejunk_lists": [workdir / "list.txt"],
                                                          "dejunk_state": workdir / "state",
                                                          "dejunk_connect_timeout": 2})
        try:
            traffic(proxy.url, origin.port, args.minutes)
            with browser_through(proxy.url, chromium) as browser:
                page = browser.new_context(viewport={"width": 1280, "height": 960}, device_scale_factor=1).new_page()
                page.goto(DASHBOARD_URL)
                page.wait_for_selector("#chart rect.bar-blocked", timeout=30_000)
                page.wait_for_timeout(500)  # the bars' fonts and layout settle
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out, full_page=True)
        finally:
            proxy.stop()
            origin.stop()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
