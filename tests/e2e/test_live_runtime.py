"""The page runtime (filters/cosmetic/live.js) in headless Chromium, without a proxy.

A loopback origin serves pages whose HTML carries `<script>` + `live.program(...)` themselves, and
the test reads what the browser made of them: hidden elements (computed `display`), removed ones,
attributes taken off, an element a page script inserts 200 ms after load, an attribute a script
changes later (`:watch-attr()`), and the same page without the runtime as the control.
"""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from filters.cosmetic import live
from filters.cosmetic.rules import CosmeticStore
from filters.lists.syntax import parse_list_text

from .chromium import BrowserError, Chromium, find_chromium

pytestmark = [pytest.mark.timeout(180)]

RULES = """
site.test##.card:has-text(/Sponsored/)
site.test##p:matches-css(color: rgb(255, 0, 0))
site.test##.teaser:matches-css-before(content: /Anzeige/)
site.test##:xpath(//span[text()='Ad']/..)
site.test##.feed > div:has(> b:has-text(Promoted))
site.test##.kill:remove()
site.test###player:remove-attr(href)
site.test##.box:remove-class(/^ad-/)
site.test##.slot:matches-attr(data-state=ad):watch-attr(data-state)
site.test##.flip:has-text(Sponsored)
site.test##.bogus:has(> :matches-css(colour-of-nothing: x))
site.test##.keep-me:others()
"""

BODY = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Live</title>
<style>.red { color: rgb(255, 0, 0); } .teaser::before { content: "Anzeige"; }</style>
{runtime}
</head><body>
<div class="card" id="sponsored-card">Sponsored story</div>
<div class="card" id="news-card">News story</div>
<p class="red" id="red-p">red paragraph</p><p id="plain-p">plain paragraph</p>
<div class="teaser" id="teaser">teaser text</div><div class="teaser2" id="teaser2">other teaser</div>
<div id="xpath-box"><span>Ad</span></div><div id="xpath-other"><span>Add</span></div>
<div class="feed" id="feed"><div id="feed-news"><b>News</b></div></div>
<div class="kill" id="kill-1">kill me</div>
<a id="player" href="https://ads.example/pop" class="x">play</a>
<div class="box ad-top story" id="box">box</div>
<div class="slot" id="slot" data-state="empty">slot</div>
<div class="flip" id="flip">Sponsored then news</div>
<p id="article">The article text that must stay.</p>
<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    var late = document.createElement("div");
    late.id = "late-promoted";
    late.innerHTML = "<b>Promoted</b>";
    document.getElementById("feed").appendChild(late);
    var kill = document.createElement("div");
    kill.className = "kill";
    kill.id = "kill-late";
    document.body.appendChild(kill);
    window.insertedAt = performance.now();
  }, 200);
  setTimeout(function () {
    document.getElementById("slot").setAttribute("data-state", "ad");
    document.getElementById("flip").textContent = "News now";
  }, 400);
});
</script>
</body></html>"""

OTHERS_BODY = """<!DOCTYPE html><html><head><title>Others</title>{runtime}</head><body>
<header id="top">header</header>
<div id="main"><nav id="nav">nav</nav><div id="outer"><div class="keep-me" id="keep"><p id="inside">kept</p></div>
<aside id="side">side</aside></div></div>
<footer id="bottom">footer</footer>
</body></html>"""

# A page that changes its DOM all the time, counting how much work it gets done in a second.
BUSY_BODY = """<!DOCTYPE html><html><head><title>Busy</title>{runtime}</head><body>
<div id="list"></div><div class="card" id="ad">Sponsored</div>
<script>
window.done = new Promise(function (resolve) {
  var list = document.getElementById("list");
  var count = 0;
  var end = performance.now() + 1000;
  function work() {
    for (var i = 0; i < 20; i += 1) {
      var item = document.createElement("div");
      item.textContent = "item " + count;
      list.appendChild(item);
      if (list.childNodes.length > 50) { list.removeChild(list.firstChild); }
      count += 1;
    }
    if (performance.now() < end) { setTimeout(work, 0); } else { resolve(count); }
  }
  window.addEventListener("load", function () { setTimeout(work, 0); });
});
</script></body></html>"""

FACTS = """(() => {
  const facts = {};
  for (const element of document.querySelectorAll("[id]")) {
    facts[element.id] = {
      display: getComputedStyle(element).display,
      marked: element.hasAttribute("data-dejunk-hidden"),
      href: element.getAttribute("href"),
      className: element.className,
    };
  }
  return facts;
})()"""


def description() -> str:
    store = CosmeticStore.from_lists([parse_list_text(RULES, name="live-test.txt")])
    rules = store.page_rules("https://site.test/")
    assert rules.live
    return rules.live


class Pages(http.server.ThreadingHTTPServer):
    daemon_threads = True
    pages: dict[str, bytes] = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        body = self.server.pages.get(self.path.split("?")[0])
        status = 200 if body is not None else 404
        body = body if body is not None else b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def origin():
    script = f"<script>{live.program(description())}</script>"
    server = Pages(("127.0.0.1", 0), Handler)
    server.pages = {
        "/runtime.html": BODY.replace("{runtime}", script).encode(),
        "/control.html": BODY.replace("{runtime}", "").encode(),
        "/others.html": OTHERS_BODY.replace("{runtime}", script).encode(),
        "/busy-runtime.html": BUSY_BODY.replace("{runtime}", script).encode(),
        "/busy-control.html": BUSY_BODY.replace("{runtime}", "").encode(),
    }
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium): the page runtime needs a browser")
    try:
        instance = Chromium(tmp_path_factory.mktemp("live-runtime"), "direct://")
    except BrowserError as error:
        pytest.skip(f"Chromium does not start here: {error}")
    yield instance
    instance.close()


def facts_when(tab, ready, timeout: float = 15.0) -> dict:
    """The page's facts once `ready(facts)` holds (or, after the timeout, as they are)."""
    deadline = time.monotonic() + timeout
    while True:
        facts = tab.evaluate(FACTS)
        if ready(facts) or time.monotonic() > deadline:
            return facts
        time.sleep(0.1)


def test_runtime_applies_every_form_and_keeps_up_with_the_page(browser, origin):
    tab = browser.open(f"{origin}/runtime.html", settle=0.5)
    try:
        facts = facts_when(tab, lambda f: "late-promoted" in f and f["late-promoted"]["display"] == "none"
                           and f["slot"]["display"] == "none" and f["flip"]["display"] != "none")
        hidden = {name for name, fact in facts.items() if fact["display"] == "none"}
        assert hidden == {"sponsored-card", "red-p", "teaser", "xpath-box", "late-promoted", "slot"}
        assert all(facts[name]["marked"] for name in hidden)
        # removed: the one in the page and the one a script inserted after load
        assert "kill-1" not in facts and "kill-late" not in facts
        assert tab.evaluate("window.insertedAt > 0") is True
        assert facts["player"]["href"] is None and facts["player"]["className"] == "x"
        assert facts["box"]["className"] == "box story"
        # shown again once it no longer matches; untouched elements stay as they were
        assert not facts["flip"]["marked"]
        for name in ("news-card", "plain-p", "teaser2", "xpath-other", "feed-news", "article"):
            assert facts[name]["display"] == "block" and not facts[name]["marked"], name
    finally:
        tab.close()


def test_without_the_runtime_nothing_is_hidden(browser, origin):
    tab = browser.open(f"{origin}/control.html", settle=0.5)
    try:
        facts = facts_when(tab, lambda f: "late-promoted" in f and "kill-late" in f)
        assert {name for name, fact in facts.items() if fact["display"] == "none"} == set()
        assert "kill-1" in facts and "kill-late" in facts
        assert facts["player"]["href"] == "https://ads.example/pop" and facts["box"]["className"] == "box ad-top story"
    finally:
        tab.close()


def test_others_hides_all_but_the_match_its_ancestors_and_descendants(browser, origin):
    tab = browser.open(f"{origin}/others.html", settle=0.5)
    try:
        facts = facts_when(tab, lambda f: f["side"]["display"] == "none")
        assert {name for name, fact in facts.items() if fact["display"] == "none"} == {"top", "nav", "side", "bottom"}
        assert facts["keep"]["display"] == facts["inside"]["display"] == "block"
    finally:
        tab.close()


def test_a_busy_page_is_not_slowed_much(browser, origin):
    counts = {}
    for kind in ("control", "runtime"):
        tab = browser.open(f"{origin}/busy-{kind}.html", settle=0.1)
        try:
            counts[kind] = tab.evaluate("window.done")
            if kind == "runtime":
                assert tab.evaluate('getComputedStyle(document.getElementById("ad")).display') == "none"
        finally:
            tab.close()
    # The page's own work in one second, with the runtime re-checking after every change: most of it is left.
    print(f"busy page work in 1 s: {json.dumps(counts)}")
    assert counts["runtime"] >= 0.5 * counts["control"], json.dumps(counts)
