"""The dashboard's pages in real headless Chromium, through a real mitmdump with dejunk.

One proxy and one browser for the module. The browser opens http://dejunk.home.arpa/ through the
proxy as a user's browser does; traffic goes to loopback origins under `.test` names (the test
resolver), and what the pages did is checked through the API.
"""

from __future__ import annotations

import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .dashboard import DASHBOARD, DASHBOARD_URL, api, browser_through
from .dashboard_fake import FakeDashboard
from .harness import Proxy, fetch

try:
    from playwright.sync_api import expect
except ImportError:
    if os.environ.get("CI"):  # CI installs requirements-dev.txt: a missing Playwright is a broken install
        raise
    pytest.skip("Playwright is not installed (pip install -r requirements-dev.txt)", allow_module_level=True)

WAIT_MS = 20_000  # for the pages to show what the proxy has (they poll every few seconds)
# Every other wait too: a save that rebuilds the engine takes longer than Playwright's 5 s on a busy machine.
expect.set_options(timeout=WAIT_MS)

# A list rule blocks ads.test: the numbers on the overview come from requests sent to it.
SENT_ALLOWED = 5
SENT_BLOCKED = 3
HOSTILE_QUERY = "q=<img/src=x/onerror=window.pwned=1>"


def _hostile_page() -> bytes:
    """A page on another site that tries to change the dashboard's state: fetches, then a form post."""
    target = f"http://{DASHBOARD}/api/sites/allow"
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>evil</title></head><body>
<form id="f" method="POST" action="{target}" enctype="text/plain">
<input type="hidden" name='{{"site":"evil-form.test","x":"' value='"}}'></form>
<script>
const tries = [
  fetch("{target}", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
                      body: JSON.stringify({{site: "evil-fetch.test"}})}}),
  fetch("{target}", {{method: "POST", headers: {{"Content-Type": "application/json",
                      "X-Dejunk-Token": "__DEJUNK_TOKEN__"}}, body: JSON.stringify({{site: "evil-cors.test"}})}}),
  fetch("http://{DASHBOARD}/").then((r) => r.text()).then((t) => {{ window.stolen = t; }}),
  fetch("http://{DASHBOARD}/api/myfilters", {{method: "PUT", headers: {{"Content-Type": "application/json"}},
                                              body: JSON.stringify({{text: "||evil-put.test^"}})}}),
  fetch("http://{DASHBOARD}/api/lists/add", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
                                             body: JSON.stringify({{url: "http://evil.test/list.txt"}})}}),
];
Promise.allSettled(tries).then((results) => {{
  window.fetchResults = results.map((r) => r.status);
  document.getElementById("f").submit();
}});
</script></body></html>""".encode()


class HostileSite:
    """A loopback server that serves the hostile page to any host name (evil.test here)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = _hostile_page()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# A list with a rule that breaks broken.test's page (it removes the article), for the bisection.
PLANTED_LIST = """! Title: planted
! the next rule breaks broken.test
broken.test##article
"""
ARTICLE = "The article text that must survive"  # the test origin's page (tests/e2e/origin.py)
MAX_ANSWERS = 12  # three rules fire on the page: the search needs far fewer


@pytest.fixture(scope="module")
def dash_proxy(workdir, test_list):
    """dejunk with the test list, the planted list and a fresh state folder of its own."""
    planted = workdir / "planted.txt"
    planted.write_text(PLANTED_LIST)
    instance = Proxy(workdir, name="dashboard", options={
        "dejunk_lists": [test_list, planted],
        "dejunk_state": workdir / "state",
        "dejunk_connect_timeout": 2,
        "dejunk_response_timeout": 3,
    })
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def browser(dash_proxy, chromium_binary):
    with browser_through(dash_proxy.url, chromium_binary) as instance:
        yield instance


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.problems = problems
    yield tab
    context.close()


@pytest.fixture(scope="module")
def hostile_site():
    server = HostileSite()
    yield server
    server.stop()


def _allowed(dash_proxy) -> list[str]:
    status, sites = api(dash_proxy.url, "/api/sites")
    assert status == 200, sites
    return sites["allowed"]


def _no_page_problems(page) -> None:
    """No script error and no CSP violation (Chromium reports both on the console)."""
    assert not [p for p in page.problems if "favicon" not in p], page.problems


def test_overview_shows_the_requests_sent(dash_proxy, origin, page):
    for i in range(SENT_ALLOWED):
        assert fetch(dash_proxy, f"http://news.test:{origin.port}/bytes?size=10&n={i}").status == 200
    for i in range(SENT_BLOCKED):
        assert fetch(dash_proxy, f"http://ads.test:{origin.port}/ad{i}.js").status != 200
    page.goto(DASHBOARD_URL)
    expect(page.locator("#ov-requests")).to_have_text(str(SENT_ALLOWED + SENT_BLOCKED), timeout=WAIT_MS)
    expect(page.locator("#ov-blocked")).to_have_text(str(SENT_BLOCKED))
    expect(page.locator("#ov-hosts")).to_contain_text("ads.test")
    expect(page.locator("#ov-rules")).to_contain_text("||ads.test^")
    # The plot has a slot for each bucket the API gives, and bars for the minute the requests were sent.
    for span, words in (("hour", "last hour"), ("days", "last 7 days")):
        page.get_by_role("radio", name="Last 7 days" if span == "days" else "Last hour").check()
        expect(page.locator("#chart-title")).to_contain_text(words)
        buckets = api(dash_proxy.url, f"/api/stats?range={span}")[1]["history"]
        expect(page.locator("#chart rect.hit")).to_have_count(len(buckets))
        # (one bar, or two if the requests were sent across a minute's or hour's end)
        assert 1 <= page.locator("#chart rect.bar-blocked").count() <= 2
        expect(page.locator("#chart-title")).to_contain_text(f"{SENT_ALLOWED + SENT_BLOCKED} requests, {SENT_BLOCKED} blocked")
    _no_page_problems(page)


def test_site_toggle_takes_effect(dash_proxy, origin, page):
    ad = f"http://ads.test:{origin.port}/toggle.js"
    assert fetch(dash_proxy, ad).status != 200
    page.goto(DASHBOARD_URL + "#/sites")
    page.get_by_label("Site", exact=True).first.fill("ads.test")
    page.get_by_role("button", name="Allow site").click()
    toggle = page.get_by_role("switch", name="ads.test")
    expect(toggle).to_be_checked()
    assert "ads.test" in _allowed(dash_proxy)
    assert fetch(dash_proxy, ad).status == 200
    toggle.click()  # off: filtered again
    expect(toggle).not_to_be_checked()
    expect(toggle).to_be_enabled()
    assert "ads.test" not in _allowed(dash_proxy)
    assert fetch(dash_proxy, ad).status != 200
    toggle.press("Space")  # by keyboard: on again
    expect(toggle).to_be_checked()
    expect(toggle).to_be_enabled()
    assert fetch(dash_proxy, ad).status == 200
    page.get_by_role("button", name="Remove ads.test").click()
    expect(toggle).to_have_count(0)
    assert "ads.test" not in _allowed(dash_proxy)
    _no_page_problems(page)


def test_hostile_page_changes_nothing(dash_proxy, hostile_site, page):
    state = {path: api(dash_proxy.url, path) for path in ("/api/sites", "/api/myfilters", "/api/lists")}
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: answers.append((r.request.method, r.status)) if "/api/" in r.url else None)
    with page.expect_navigation(url=re.compile(re.escape(DASHBOARD)), timeout=WAIT_MS):
        page.goto(f"http://evil.test:{hostile_site.port}/")
    # The form's post reached the proxy and was refused.
    assert ("POST", 403) in answers, answers
    for path, before in state.items():
        assert api(dash_proxy.url, path) == before, path
    assert not {"evil-form.test", "evil-fetch.test", "evil-cors.test"} & set(_allowed(dash_proxy))


def test_log_shows_a_hostile_url_as_text(dash_proxy, origin, page):
    url = f"http://ads.test:{origin.port}/x.js?{HOSTILE_QUERY}"
    assert fetch(dash_proxy, url, extra=["--globoff"]).status != 200
    page.goto(DASHBOARD_URL + "#/log")
    row = page.locator("table.log tbody tr", has_text=HOSTILE_QUERY).first
    expect(row).to_be_visible()
    expect(row.locator("td.url")).to_contain_text(HOSTILE_QUERY)
    expect(row.locator(".badge")).to_have_text("blocked")
    expect(row).to_have_class(re.compile(r"\bact-blocked\b"))
    assert page.locator("table.log img").count() == 0
    assert page.evaluate("window.pwned") is None
    # The filter narrows the list; the explain link carries the request over.
    page.get_by_label("Filter the log").fill("onerror")
    expect(page.locator("table.log tbody tr")).to_have_count(1)
    row.get_by_role("link", name="Explain").click()
    expect(page.locator("#ex-url")).to_have_value(url)
    expect(page.locator("#ex-action")).to_have_text("blocked")
    expect(page.locator("#ex-rule")).to_have_text("||ads.test^")
    _no_page_problems(page)


def test_log_row_copies_the_exception_and_allows_the_site(dash_proxy, origin, page):
    ad = f"http://ads.test:{origin.port}/copy.js"
    assert fetch(dash_proxy, ad).status != 200
    page.goto(DASHBOARD_URL + "#/log")
    row = page.locator("table.log tbody tr", has_text="/copy.js").first
    row.get_by_role("button", name=re.compile("Copy the exception rule")).click()
    # http://dejunk.home.arpa is not a secure context: the rule is shown selected for the user to copy.
    copied = page.locator("#copy-text")
    expect(copied).to_be_focused()
    expect(copied).to_have_value(re.compile(r"^@@\|\|ads\.test\^"))
    assert page.evaluate("document.activeElement.selectionEnd - document.activeElement.selectionStart") == \
        len(copied.input_value())
    # One click turns filtering off for the site; the toast's Undo turns it on again.
    row.get_by_role("button", name=re.compile("Allow ads.test")).click()
    expect(page.locator("#toast")).to_contain_text("ads.test is allowed")
    assert "ads.test" in _allowed(dash_proxy)
    assert fetch(dash_proxy, ad).status == 200
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(page.locator("#toast")).to_contain_text("filters ads.test again")
    assert "ads.test" not in _allowed(dash_proxy)
    assert fetch(dash_proxy, ad).status != 200
    _no_page_problems(page)


def test_my_filters_errors_by_line_then_a_good_rule_blocks(dash_proxy, origin, page):
    mine = f"http://mine.test:{origin.port}/thing.js"
    assert fetch(dash_proxy, mine).status == 200
    page.goto(DASHBOARD_URL + "#/myfilters")
    editor = page.get_by_role("textbox", name="My filters")
    expect(editor).to_be_editable()
    editor.fill("! mine\n||mine.test^$nosuchoption\n")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#mf-errors li").first
    expect(error).to_contain_text("Line 2")
    assert fetch(dash_proxy, mine).status == 200
    editor.fill("! mine\n||mine.test^\n")
    editor.press("Control+s")
    expect(page.locator("#mf-state")).to_contain_text("Saved: 1 rule")
    expect(page.locator("#mf-errors li")).to_have_count(0)
    deadline = time.monotonic() + 20
    while fetch(dash_proxy, mine).status == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fetch(dash_proxy, mine).status != 200
    _no_page_problems(page)


def _site_state(site) -> tuple[bool, bool]:
    """(the article is there, the ad slot is there) in the site's tab, as loaded now."""
    return site.locator("article").count() > 0, site.locator(".ad-slot").count() > 0


def test_bisect_from_the_log_names_the_culprit_and_its_exception_fixes_the_page(dash_proxy, origin, page):
    url = f"http://broken.test:{origin.port}/bisect-me.html"
    site = page.context.new_page()  # the broken page, in another tab of the same browser, through the proxy
    site.goto(url)
    assert _site_state(site) == (False, False)  # the planted rule took the article, the list's rule the ad slot
    page.goto(DASHBOARD_URL + "#/log")
    row = page.locator("table.log tbody tr", has_text="/bisect-me.html").first
    row.get_by_role("button", name="Bisect this site: find the rule that broke broken.test").click()
    expect(page).to_have_url(re.compile(r"#/bisect$"))
    expect(page.locator("#bi-title")).to_have_text("Bisecting broken.test")
    expect(page.locator("#bi-next")).to_be_focused()
    expect(page.locator("#bi-next")).to_contain_text("Reload the broken page on broken.test")
    expect(page.locator("#problems")).to_contain_text("bisecting broken.test: some rules are off there")
    for answer in range(MAX_ANSWERS):
        site.goto(url)
        article, _ = _site_state(site)
        message = page.locator("#bi-message").text_content()
        page.locator("#bi-good" if article else "#bi-bad").press("Enter")  # by keyboard
        expect(page.locator("#bi-message")).not_to_have_text(message)
        if page.locator("#bi-answer").is_hidden():
            break
        expect(page.locator("#bi-next")).to_contain_text("Reload the page, then say Good or Bad")
    assert answer >= 2  # the list's ad rules fired on the page too: they were tried and cleared
    expect(page.locator("#bi-next")).to_have_text("Found: this rule breaks the page.")
    expect(page.locator("#problems")).to_be_hidden()  # every rule applies again
    culprit = page.locator("#bi-culprits li")
    expect(culprit).to_have_count(1)
    expect(culprit.locator("code.rule")).to_have_text("broken.test##article")
    expect(culprit.locator(".where")).to_have_text("planted.txt:3")
    expect(culprit.locator(".exception code")).to_have_text("broken.test#@#article")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: nothing wider than the screen
    expect(page.get_by_role("button", name="Add to my filters")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Add to my filters").click()
    expect(page.locator("#bi-apply")).to_have_text("Added to my filters")
    expect(page.locator("#bi-apply")).to_be_disabled()
    assert "broken.test#@#article" in api(dash_proxy.url, "/api/myfilters")[1]["text"].splitlines()
    # The page is whole again, while the list's rules still work on it.
    deadline = time.monotonic() + 20
    site.goto(url)
    while _site_state(site) != (True, False) and time.monotonic() < deadline:
        time.sleep(0.3)
        site.goto(url)
    assert _site_state(site) == (True, False)
    assert ARTICLE in site.content()
    assert fetch(dash_proxy, f"http://ads.test:{origin.port}/after-bisect.js").status != 200
    _no_page_problems(page)


# ---- API failures, which the real proxy cannot be made to give on demand ----


@pytest.fixture(scope="module")
def fake_dashboard():
    server = FakeDashboard()
    yield server
    server.stop()


@pytest.mark.parametrize("status, words", [(401, "needs its password"), (403, "refused the change (403: no way)"),
                                           (500, "dejunk failed (500): no way")])
def test_api_failures_are_shown_plainly(fake_dashboard, page, status, words):
    fake_dashboard.fail = {"/api/stats": (status, "no way")}
    try:
        page.goto(fake_dashboard.url)
        expect(page.locator("#error")).to_be_visible()
        expect(page.locator("#error")).to_contain_text(words)
    finally:
        fake_dashboard.fail = {}
    page.get_by_role("radio", name="Last 7 days").check()  # a refresh now, which succeeds
    expect(page.locator("#error")).to_be_hidden()


def test_offline_is_shown_plainly(browser, fake_dashboard):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(fake_dashboard.url)
        expect(page.locator("#ov-requests")).to_have_text("3", timeout=WAIT_MS)
        context.set_offline(True)
        page.get_by_role("radio", name="Last 7 days").check()
        expect(page.locator("#error")).to_contain_text("Cannot reach dejunk", timeout=WAIT_MS)
        context.set_offline(False)
        page.get_by_role("radio", name="Last hour").check()
        expect(page.locator("#error")).to_be_hidden(timeout=WAIT_MS)
    finally:
        context.close()


def test_pages_are_reachable_by_keyboard_on_a_phone(browser, fake_dashboard):
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(fake_dashboard.url + "#/log")
        expect(page.locator("table.log td.url").first).to_be_visible(timeout=WAIT_MS)
        # Nothing is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_role("link", name="Sites").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#page-sites")).to_be_visible()
        expect(page.get_by_role("link", name="Sites")).to_have_attribute("aria-current", "page")
    finally:
        context.close()
