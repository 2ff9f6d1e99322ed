"""A real browser behind dejunk: headless Chromium loads a news page with ads over HTTP and HTTPS.

The page (tests/e2e/site/) embeds an ad network's loader script, ad images, an ad iframe and a
tracker pixel from `ads.test` and `tracker.test`, and ad containers that EasyList's generic
selectors match. Chromium sends everything through a real mitmdump, once with dejunk and the
site's filter list, once bare, and the test reads what the browser rendered: the DOM, the frames,
the requests it made, and the pixels of a screenshot (saved under artifacts/e2e-browser-pyX.Y/).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .chromium import BrowserError, Chromium, NetworkEntry
from .harness import REPO, Proxy
from .origin import make_tls_context
from .site import SITE_LIST, SiteServer

pytestmark = pytest.mark.timeout(180)

# One folder per Python and mitmproxy, so two test runs side by side (as CI makes them) keep theirs apart.
ARTIFACTS = REPO / "artifacts" / f"e2e-browser-py{sys.version_info[0]}.{sys.version_info[1]}"
SCHEMES = ["http", "https"]
AD_HOSTS = ("ads.test", "tracker.test")
ARTICLE_SENTENCES = [
    "Town council approves the new riverside footbridge",
    "After three years of debate, the town council voted on Tuesday evening to build a footbridge",
    "The council said the bridge would be open to pedestrians and cyclists around the clock.",
    "Residents who spoke at the meeting welcomed the decision",
]
# Selectors of the page's ad containers (site-list.txt hides them with EasyList's own rules).
AD_CONTAINERS = ["#top-ad", ".ad-slot", ".ad_container"]
# Requests the page makes whatever the rewriter removed: the loader in <head>, an ad image inside
# the article (no container rule covers it) and the tracker pixel.
ALWAYS_REQUESTED = {"/loader.js": "script", "/img/468x60/c3c.png": "image", "/pixel.gif?page=bridge": "image"}
# The solid colours of the ads and of the article photo, as the screenshot shows them.
COLOURS = {
    "top banner": (0xDD, 0x33, 0x33),
    "inline ad": (0xCC, 0x33, 0xCC),
    "sidebar ad": (0xFF, 0x99, 0x00),
    "injected ad": (0xFF, 0xDD, 0x00),
    "iframe ad": (0xCC, 0x00, 0x00),
    "article photo": (0x44, 0x88, 0xAA),
}
AD_COLOURS = [name for name in COLOURS if name != "article photo"]
PAGE_FACTS = """(() => {
    const present = {};
    for (const selector of %s) present[selector] = document.querySelector(selector) !== null;
    return {
        title: document.title,
        article: (document.querySelector("#article") || {innerText: ""}).innerText,
        images: [...document.images].map(i => ({id: i.id, src: i.currentSrc || i.src, complete: i.complete,
                                                 width: i.naturalWidth, height: i.naturalHeight})),
        present,
        loaderRan: window.adLoaderRan === true,
    };
})()""" % json.dumps(AD_CONTAINERS + ["#injected-ad", "#ad-frame", ".most-read"])


def rewriter_available() -> bool:
    return importlib.util.find_spec("filters.html.rewrite") is not None


@dataclass
class Visit:
    """Everything one page load through one proxy produced."""

    kind: str  # "dejunk" or "bare"
    scheme: str
    port: int
    url: str
    requests: list[NetworkEntry]
    facts: dict
    frames: dict[str, str]
    colours: dict[str, int]
    screenshot: Path
    upstream_hits: list  # what the site's servers received during the load
    events: list[dict]  # dejunk's events during the load (none for the bare proxy)

    def origin(self, host: str) -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def requests_to(self, host: str) -> list[NetworkEntry]:
        return [r for r in self.requests if r.url.startswith(self.origin(host) + "/")]

    def image(self, image_id: str) -> dict | None:
        return next((i for i in self.facts["images"] if i["id"] == image_id), None)


@pytest.fixture(scope="module")
def sites(workdir):
    servers = {"http": SiteServer(), "https": SiteServer(make_tls_context(workdir))}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def proxies(workdir):
    # The site's servers use a self-signed certificate: the proxy must not verify it (ssl_insecure).
    started = {
        "dejunk": Proxy(workdir, name="browser-dejunk", options={"dejunk_lists": [SITE_LIST], "ssl_insecure": True}),
        "bare": Proxy(workdir, name="browser-bare", dejunk=False, options={"ssl_insecure": True}),
        # Element hiding off, so that the ad iframe stays in the page and its blocked request shows.
        "dejunk-no-cosmetic": Proxy(workdir, name="browser-no-cosmetic", options={
            "dejunk_lists": [SITE_LIST], "ssl_insecure": True, "dejunk_cosmetic": "off"}),
    }
    yield started
    for proxy in started.values():
        proxy.stop()


@pytest.fixture(scope="module")
def browsers(workdir, chromium_binary, proxies):
    started: dict[str, Chromium] = {}
    try:
        for kind, proxy in proxies.items():
            started[kind] = Chromium(workdir, proxy.url, name=f"chromium-{kind}", binary=chromium_binary)
        yield started
    finally:
        for browser in started.values():
            browser.close()


@pytest.fixture(scope="module")
def visits(sites, proxies, browsers):
    """Load the page once per proxy and scheme, on first use."""
    done: dict[tuple[str, str], Visit] = {}

    def visit(kind: str, scheme: str) -> Visit:
        if (kind, scheme) not in done:
            done[kind, scheme] = _visit(kind, scheme, sites[scheme], proxies[kind], browsers[kind])
        return done[kind, scheme]

    return visit


def _visit(kind: str, scheme: str, site: SiteServer, proxy: Proxy, browser: Chromium) -> Visit:
    hits_before, events_before = len(site.hits()), len(proxy.events())
    url = site.url("news.test", "/")
    try:
        tab = browser.open(url, settle=1.0)
    except BrowserError as e:
        raise AssertionError(f"{e}\n--- proxy log ---\n{proxy.log()[-3000:]}") from None
    try:
        facts = tab.evaluate(PAGE_FACTS)
        frames = tab.frame_texts()
        tab.wait_for_frames_to_paint()
        screenshot = tab.screenshot(ARTIFACTS / f"{kind}-{scheme}.png")
        # Then shoot again until two shots agree (a static page then looks the same), at most 4 times.
        for _ in range(3):
            shown = screenshot.read_bytes()
            time.sleep(0.5)
            if tab.screenshot(screenshot).read_bytes() == shown:
                break
    finally:
        tab.close()
    print(f"screenshot of {url} through the {kind} proxy: {screenshot}")
    colours = browser.colour_counts(screenshot.read_bytes(), COLOURS)
    return Visit(
        kind=kind, scheme=scheme, port=site.port, url=url, requests=list(tab.page.requests.values()), facts=facts, frames=frames,
        colours=colours, screenshot=screenshot, upstream_hits=site.hits()[hits_before:],
        events=proxy.events()[events_before:],
    )


# --- through dejunk ------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_article_is_rendered(visits, scheme):
    page = visits("dejunk", scheme)
    assert page.facts["title"] == "The Loopback Gazette"
    for sentence in ARTICLE_SENTENCES:
        assert sentence in page.facts["article"]
    photo = page.image("photo")
    assert photo["complete"] and (photo["width"], photo["height"]) == (640, 300)
    assert page.facts["present"][".most-read"]
    assert page.colours["article photo"] >= 640 * 300 * 0.9, page.colours


@pytest.mark.parametrize("scheme", SCHEMES)
def test_ad_requests_are_blocked_and_logged(visits, scheme):
    page = visits("dejunk", scheme)
    ad_requests = [r for host in AD_HOSTS for r in page.requests_to(host)]
    assert ad_requests, "the page made no ad requests at all"
    blocked = {e["url"]: e for e in page.events if e["event"] == "blocked"}
    for request in ad_requests:
        assert request.from_dejunk and request.from_dejunk.startswith("blocked"), request
        event = blocked.get(request.url)
        assert event is not None, f"no blocked event for {request.url}: {page.events}"
        host = event["host"]
        assert event["rule"] == f"||{host}^" and event["list"] == SITE_LIST.name
    for path, request_type in ALWAYS_REQUESTED.items():
        host = "tracker.test" if path.startswith("/pixel") else "ads.test"
        event = blocked.get(page.origin(host) + path)
        assert event is not None and event["type"] == request_type, (path, blocked.keys())
    reached = [h for h in page.upstream_hits if h.host in AD_HOSTS]
    assert reached == [], f"blocked requests reached the ad servers: {reached}"
    assert not page.facts["loaderRan"] and not page.facts["present"]["#injected-ad"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_blocked_images_leave_no_broken_image_placeholders(visits, scheme):
    page = visits("dejunk", scheme)
    for image in page.facts["images"]:
        # A broken image has complete=true and naturalWidth 0; a blocked one is the 1x1 GIF.
        assert image["complete"] and image["width"] > 0, image
    for image_id in ("inline-ad-img", "pixel"):
        image = page.image(image_id)
        assert (image["width"], image["height"]) == (1, 1), image
    for image_id in ("top-ad-img", "side-ad-img"):
        image = page.image(image_id)
        assert image is None or (image["width"], image["height"]) == (1, 1), image


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_ad_is_visible_in_the_screenshot(visits, scheme):
    page = visits("dejunk", scheme)
    assert page.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    visible = {name: page.colours[name] for name in AD_COLOURS if page.colours[name]}
    assert visible == {}, f"ad colours in {page.screenshot}: {visible}"


def test_blocked_iframe_is_an_empty_page_over_https(visits):
    page = visits("dejunk", "https")
    frames = [(url, text) for url, text in page.frames.items() if "ads.test" in url]
    if page.facts["present"]["#ad-frame"]:
        assert frames and all(text.strip() == "" for _, text in frames), frames
        frame_request = next(r for r in page.requests_to("ads.test") if r.url.endswith("/frame.html"))
        assert frame_request.status == 200 and frame_request.mime_type == "text/html"
    else:
        assert frames == [], "the iframe was removed, yet a frame loaded"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_blocked_iframe_shows_nothing(visits, scheme):
    # Over plain HTTP Chromium sends no Sec-Fetch-Dest and a frame's Accept is a page's, so the
    # frame gets the "Blocked" page, which hides itself when framed; over HTTPS it is an empty page.
    page = visits("dejunk-no-cosmetic", scheme)
    assert page.facts["present"]["#ad-frame"]
    frames = [text for url, text in page.frames.items() if "ads.test" in url]
    assert frames and all(text.strip() == "" for text in frames), frames
    assert page.colours["iframe ad"] == 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_ad_containers_are_removed_from_the_page(visits, scheme):
    if not rewriter_available():
        pytest.skip("the cosmetic rewriter (filters.html.rewrite) is not on this branch yet")
    page = visits("dejunk", scheme)
    present = [selector for selector in AD_CONTAINERS if page.facts["present"][selector]]
    assert present == [], f"ad containers still in the DOM: {present}"
    assert not page.facts["present"]["#ad-frame"]
    for sentence in ARTICLE_SENTENCES:
        assert sentence in page.facts["article"]
    rewritten = [e for e in page.events if e["event"] == "rewritten" and e["url"] == page.url]
    assert rewritten and rewritten[0]["removed"] >= len(AD_CONTAINERS), page.events


# --- through a bare mitmdump: the same page shows its ads, so the checks above can fail -------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_bare_proxy_shows_the_ads(visits, scheme):
    page = visits("bare", scheme)
    for sentence in ARTICLE_SENTENCES:
        assert sentence in page.facts["article"]
    assert page.facts["loaderRan"] and page.facts["present"]["#injected-ad"]
    assert all(page.facts["present"][selector] for selector in AD_CONTAINERS)
    sizes = {i["id"]: (i["width"], i["height"]) for i in page.facts["images"]}
    assert sizes["top-ad-img"] == (728, 90) and sizes["inline-ad-img"] == (468, 60)
    assert sizes["side-ad-img"] == (300, 250)
    assert any("ADVERTISEMENT" in text for url, text in page.frames.items() if "ads.test" in url), page.frames
    reached = {(h.host, h.path) for h in page.upstream_hits}
    for path in ALWAYS_REQUESTED:
        host = "tracker.test" if path.startswith("/pixel") else "ads.test"
        assert (host, path) in reached
    assert ("tracker.test", "/pixel.gif?impression=loader") in reached
    missing = [name for name in AD_COLOURS if page.colours[name] < 500]
    assert missing == [], f"ads not visible in {page.screenshot}: {page.colours}"
    assert page.events == []
