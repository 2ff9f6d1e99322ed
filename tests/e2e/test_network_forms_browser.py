"""uBO's network-side forms in headless Chromium through a real mitmdump with dejunk.

`google-ima.js`: a video player page loads Google's IMA SDK (here from `imasdk.test`, on loopback)
and then drives it as a player does: display container, ads loader, ads request, ads manager, its
events. The list blocks the SDK everywhere but redirects it to `google-ima.js` on `player.test`:
there the player must get to its content with no script error; on `plain.test` (same page, same
proxy, no redirect rule for it) the blocked SDK leaves the player broken, which is what the
stand-in is for.

`$replace` changes a script the page runs, and `##^responseheader(refresh)` keeps a page that
its `Refresh` header would send elsewhere.

`$popup`: a link on one site to a popup rule's host is followed in the tab (what the proxy sees of
a popup is the same: a top-level navigation whose Fetch Metadata says it comes from another
site); the rule blocks it, and a link within that host's own site is followed as usual.
"""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from .chromium import BrowserError, Chromium
from .harness import Proxy

pytestmark = pytest.mark.timeout(180)

# uBlock filters' own rule for the SDK, but for the loopback origin's port between host and path.
LIST = """[Adblock Plus 2.0]
! Title: IMA stand-in test list
||imasdk.test^*/js/sdkloader/ima3.js$script,redirect=google-ima.js,domain=player.test
||imasdk.test^
||adsession.test^$popup
||replace.test^$script,replace=/adsEnabled = true/adsEnabled = false/
refresh.test##^responseheader(refresh)
"""

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Player</title>
<script>window.onerror = function(message) { document.documentElement.dataset.error = String(message); };</script>
<script src="http://imasdk.test:{port}/js/sdkloader/ima3.js"></script>
</head><body>
<video id="content" muted playsinline width="320" height="180"></video><div id="ads"></div>
<p id="status">waiting for the player</p>
<script>
(function() {
  var steps = [];
  function say(text) { steps.push(text); document.getElementById('status').textContent = steps.join(' > '); }
  function playContent() { document.documentElement.dataset.content = 'playing'; }
  var ima = google.ima;
  var video = document.getElementById('content');
  var container = new ima.AdDisplayContainer(document.getElementById('ads'), video);
  container.initialize();
  var loader = new ima.AdsLoader(container);
  loader.getSettings().setVpaidMode(ima.ImaSdkSettings.VpaidMode.ENABLED);
  loader.getSettings().setLocale('en');
  loader.addEventListener(ima.AdErrorEvent.Type.AD_ERROR, function(e) {
    say('ad error ' + e.getError().getErrorCode());
    playContent();
  }, false);
  loader.addEventListener(ima.AdsManagerLoadedEvent.Type.ADS_MANAGER_LOADED, function(e) {
    var settings = new ima.AdsRenderingSettings();
    settings.restoreCustomPlaybackStateOnAdBreakComplete = true;
    var manager = e.getAdsManager(video, settings);
    manager.addEventListener(ima.AdErrorEvent.Type.AD_ERROR, function() { say('ad error'); playContent(); });
    manager.addEventListener(ima.AdEvent.Type.CONTENT_PAUSE_REQUESTED, function() { video.pause(); say('paused'); });
    manager.addEventListener(ima.AdEvent.Type.CONTENT_RESUME_REQUESTED, function() { say('content resumed'); playContent(); });
    manager.addEventListener(ima.AdEvent.Type.ALL_ADS_COMPLETED, function() { say('all ads completed'); manager.destroy(); });
    manager.init(320, 180, ima.ViewMode.NORMAL);
    manager.start();
    say('ads manager started');
  }, false);
  var request = new ima.AdsRequest();
  request.adTagUrl = 'http://ads.test/vast.xml';
  request.linearAdSlotWidth = 320;
  request.linearAdSlotHeight = 180;
  request.setAdWillAutoPlay(true);
  request.setAdWillPlayMuted(true);
  loader.requestAds(request);
  say('ads requested');
})();
</script>
</body></html>
"""

REPLACE_PAGES = {
    "/": (b"<!DOCTYPE html><title>settings</title><script src='/config.js'></script><p id='ads'></p>"
          b"<script>document.getElementById('ads').textContent = window.adsEnabled ? 'ads on' : 'ads off';</script>",
          "text/html"),
    "/config.js": (b"window.adsEnabled = true;", "application/javascript"),
}

LINK_PAGE = """<!DOCTYPE html><html><head><title>{host}{path}</title></head><body>
<a id="away" href="http://adsession.test:{port}/landing">offer</a>
<a id="within" href="/landing">more</a>
</body></html>"""

# Waits in the page (at most 5 s) for the player to finish its ad break, then reports.
REPORT = """new Promise(resolve => {
  const started = Date.now();
  (function poll() {
    const status = document.getElementById('status').textContent;
    if (status.includes('all ads completed') || Date.now() - started > 5000) {
      resolve({status, content: document.documentElement.dataset.content || null,
               error: document.documentElement.dataset.error || null, realSdk: window.realImaLoaded === true});
    } else {
      setTimeout(poll, 50);
    }
  })();
})"""


class PlayerSite:
    """The player page on `player.test` and `plain.test`, and an "SDK" on `imasdk.test` (loopback)."""

    def __init__(self):
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_GET(self):
                host = (self.headers.get("host") or "").rsplit(":", 1)[0]
                site.hits.append((host, self.path))
                extra: dict[str, str] = {}
                if host in ("player.test", "plain.test") and self.path == "/":
                    body, kind = PAGE.replace("{port}", str(site.port)).encode(), "text/html; charset=utf-8"
                elif host == "imasdk.test":
                    body, kind = b"window.realImaLoaded = true;", "application/javascript"
                elif host in ("news.test", "adsession.test"):
                    body, kind = LINK_PAGE.format(host=host, port=site.port, path=self.path).encode(), "text/html"
                elif host == "replace.test":
                    body, kind = REPLACE_PAGES.get(self.path, (b"not found", "text/plain"))
                elif host in ("refresh.test", "other.test", "elsewhere.test"):
                    body, kind = f"<!DOCTYPE html><title>{host}</title><p>{host}</p>".encode(), "text/html"
                    if host != "elsewhere.test":
                        extra["Refresh"] = f"0; url=http://elsewhere.test:{site.port}/"
                else:
                    body, kind = b"not found", "text/plain"
                self.send_response(200 if kind != "text/plain" else 404)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.hits: list[tuple[str, str]] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def site():
    server = PlayerSite()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ima_proxy(workdir):
    path = workdir / "ima-list.txt"
    path.write_text(LIST)
    instance = Proxy(workdir, name="ima", options={"dejunk_lists": [path]})
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def browser(workdir, chromium_binary, ima_proxy):
    instance = Chromium(workdir, ima_proxy.url, name="chromium-ima", binary=chromium_binary)
    yield instance
    instance.close()


def play(browser: Chromium, url: str) -> dict:
    tab = browser.open(url, settle=0.5)
    try:
        return tab.evaluate(REPORT)
    finally:
        tab.close()


def test_the_player_gets_to_its_content_with_the_stand_in(site, ima_proxy, browser):
    report = play(browser, f"http://player.test:{site.port}/")
    assert report == {"status": "ads requested > ads manager started > content resumed > all ads completed",
                      "content": "playing", "error": None, "realSdk": False}, ima_proxy.log()[-2000:]
    event = ima_proxy.wait_for_event(lambda e: e["event"] == "blocked" and e["host"] == "imasdk.test"
                                     and e.get("redirect") == "google-ima.js")
    assert event["type"] == "script" and event["url"].endswith("/js/sdkloader/ima3.js")
    assert ("imasdk.test", "/js/sdkloader/ima3.js") not in site.hits  # the SDK's server never asked


def test_without_the_redirect_the_blocked_sdk_breaks_the_player(site, ima_proxy, browser):
    report = play(browser, f"http://plain.test:{site.port}/")
    assert report["content"] is None and report["status"] == "waiting for the player" and not report["realSdk"]
    assert "google is not defined" in report["error"]
    ima_proxy.wait_for_event(lambda e: e["event"] == "blocked" and e["host"] == "imasdk.test"
                             and e["rule"] == "||imasdk.test^" and e.get("redirect") is None)
    assert ("imasdk.test", "/js/sdkloader/ima3.js") not in site.hits


def follow(browser: Chromium, start: str, link: str) -> str:
    """Open `start`, click the link with id `link` (a navigation the page makes), and give the title shown."""
    tab = browser.open(start, settle=0.3)
    try:
        first = tab.evaluate("document.title")
        tab.evaluate(f"setTimeout(() => document.getElementById({link!r}).click(), 0); true")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                title = tab.evaluate("document.readyState === 'complete' ? document.title : ''")
            except BrowserError:
                continue  # the page is being replaced
            if title and title != first:
                return title
        raise AssertionError(f"no navigation from {start} within 10 s")
    finally:
        tab.close()


def test_a_link_to_a_popup_host_from_another_site_is_blocked(site, ima_proxy, browser):
    title = follow(browser, f"http://news.test:{site.port}/", "away")
    assert title == "Blocked"
    event = ima_proxy.wait_for_event(lambda e: e["event"] == "blocked" and e["host"] == "adsession.test")
    assert event["type"] == "popup" and event["rule"] == "||adsession.test^$popup"
    assert ("adsession.test", "/landing") not in site.hits


def test_a_link_within_the_popup_hosts_own_site_is_followed(site, ima_proxy, browser):
    title = follow(browser, f"http://adsession.test:{site.port}/", "within")
    assert title == "adsession.test/landing"
    assert ("adsession.test", "/landing") in site.hits


def test_a_script_changed_by_replace_runs_changed(site, ima_proxy, browser):
    tab = browser.open(f"http://replace.test:{site.port}/", settle=0.3)
    try:
        assert tab.evaluate("document.getElementById('ads').textContent") == "ads off"
    finally:
        tab.close()
    ima_proxy.wait_for_event(lambda e: e["event"] == "replaced" and e["url"].endswith("/config.js"))


def test_a_removed_refresh_header_keeps_the_page(site, ima_proxy, browser):
    # The page of a site without the rule goes where its Refresh header says; the site with it stays.
    def title(tab) -> str:
        try:
            return tab.evaluate("document.readyState === 'complete' ? document.title : ''")
        except BrowserError:
            return ""  # the page is being replaced

    tab = browser.open(f"http://other.test:{site.port}/", settle=0)
    try:
        started = time.monotonic()
        while title(tab) != "elsewhere.test" and time.monotonic() - started < 10:
            time.sleep(0.1)
        refreshed_after = time.monotonic() - started
        assert title(tab) == "elsewhere.test"
    finally:
        tab.close()
    tab = browser.open(f"http://refresh.test:{site.port}/", settle=0)
    try:
        time.sleep(max(1.0, 3 * refreshed_after))  # well past the time the other page took to go
        assert title(tab) == "refresh.test"
    finally:
        tab.close()
    event = ima_proxy.wait_for_event(lambda e: e["event"] == "header_removed")
    assert event["header"] == "refresh" and event["host"] == "refresh.test"
