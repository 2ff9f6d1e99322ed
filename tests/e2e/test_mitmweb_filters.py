"""The README's filter expressions for dejunk's flows, checked on real flows wherever users type them.

A real mitmweb with dejunk serves one request of each kind dejunk treats differently (curl
through its proxy). Then every expression in the table of the README's "dejunk's flows in
mitmweb" section must select exactly the expected flows in three places: Python's
`mitmproxy.flowfilter` on the flows mitmweb saves (the engine of mitmdump's `view_filter` and
the console), `dejunk.explain` through mitmweb's command API, and mitmweb's own flow list in
headless Chromium, typed into its Search box key by key. mitmweb 11 filters that list in the
browser with a JavaScript copy of the filter language; mitmweb 12 checks the expression with
that copy, then sends it over the websocket and filters on the server: both run here, whichever
mitmproxy is installed. Every wait is bounded (requests 10 s, the list settling 10 s).
"""

from __future__ import annotations

import http.client
import io
import json
import re
import time
from pathlib import Path

import pytest
from mitmproxy import command_lexer, flowfilter
from mitmproxy import io as flow_io
from mitmproxy.version import VERSION

from .chromium import BrowserError, Chromium
from .harness import REPO, Proxy, fetch
from .test_mitmweb import MITMWEB, free_port

SECTION = "### dejunk's flows in mitmweb"

# Only the hosts these requests need; cookies are accepted elsewhere, so that a cookie policy
# note does not land on every flow.
POLICIES = """
[policy.connect]
default = "accept"
reject  = ["forbidden.test"]

[policy.image]
default = "accept"
reject  = ["noimages.test"]

[policy.cookie]
default = "accept"
reject  = ["cookies.test"]
"""

# Every URL names its case (`case-NAME`), so a flow is known by its URL wherever it is shown.
CASE = re.compile(r"case-([a-z_]+)")

BLOCKED = {"blocked", "builtin", "redirected"}
POLICY = {"connect", "image", "cookie"}
UPSTREAM = {"refused", "dns"}
CHANGED = {"rewritten", "removeparam", "csp"}
FAILED = {"failed"}  # dejunk's engine fails on it (tests/e2e/break_engine.py)
MARKED = BLOCKED | POLICY | UPSTREAM | CHANGED | FAILED
UNMARKED = {"exception", "allowed_site", "untouched"}

# What each documented expression must select. The README's table and these keys must agree.
EXPECTED = {
    "~marked": MARKED,
    '~comment "blocked by"': {"blocked", "builtin"},
    '~comment "redirected to"': {"redirected"},
    "~comment builtin.txt": {"builtin"},
    '~comment "policy rejects"': POLICY,
    '~comment "image policy"': {"image"},
    '~comment "upstream failed"': UPSTREAM,
    '~comment "ad element"': {"rewritten"},
    '~comment "parameters removed"': {"removeparam"},
    '~comment "CSP added"': {"csp"},
    '~comment "dejunk failed"': FAILED,
    "~hs X-Dejunk": BLOCKED | {"connect", "image"} | UPSTREAM,
}

MITMPROXY_MAJOR = int(VERSION.split(".")[0])


def documented_section() -> str:
    text = (REPO / "README.md").read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    return re.split(r"\n##+ ", text.split(SECTION, 1)[1], maxsplit=1)[0]


def documented_expressions() -> list[str]:
    """Every filter expression in the section's table, in either column (`\\|` is a table's `|`)."""
    rows = [line for line in documented_section().splitlines() if line.startswith("|")]
    found = []
    for row in rows[2:]:  # below the header and its separator
        for span in re.findall(r"`((?:[^`\\]|\\.)+)`", row):
            expression = span.replace("\\|", "|")
            if expression.startswith(("~", "!")) and expression not in found:
                found.append(expression)
    return found


def test_the_readme_table_and_these_expectations_list_the_same_expressions():
    documented = documented_expressions()
    assert documented, "the README's table lists no filter expressions"
    assert set(documented) - set(EXPECTED) == set(), "documented but not checked here"
    assert set(EXPECTED) - set(documented) == set(), "checked here but no longer documented"


# --- the running mitmweb and its flows ---------------------------------------------------------

class MitmwebWithDejunk(Proxy):
    """mitmweb with dejunk, the test list and dejunk's own list, on free loopback ports; no browser."""

    program = MITMWEB
    _LISTENING = re.compile(r"Web server listening at http://[^:/]+:(\d+)/")

    def __init__(self, workdir: Path, test_list: Path, config: Path):
        self.web_port = free_port()
        super().__init__(workdir, name="mitmweb-filters", options={
            "dejunk_lists": [test_list, "builtin"],
            "dejunk_config": config,
            "dejunk_allow": ["friendly.test"],
            "dejunk_connect_timeout": 2,
            "dejunk_response_timeout": 3,
            "web_open_browser": False,
            "web_host": "127.0.0.1",
            "web_port": self.web_port,
        }, scripts=[Path(__file__).with_name("break_engine.py")])
        self.wait_for_log(self._LISTENING)
        # mitmweb 12 guards its interface with a token it prints in that line; mitmweb 11 has none.
        token = re.search(r"Web server listening at \S+\?token=(\w+)", self.log())
        self.token = token.group(1) if token else ""

    @property
    def page_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/" + (f"?token={self.token}" if self.token else "")

    def dumped_flows(self) -> list:
        """The flows as mitmweb saves them (its `flows/dump`), read back with mitmproxy's reader."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
        try:
            connection.request("GET", "/flows/dump", headers=headers)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 200, body[:500]
        return list(flow_io.FlowReader(io.BytesIO(body)).stream())


def requests_of_every_kind(origin_port: int) -> dict[str, tuple[str, dict[str, str]]]:
    """One request per case: its URL and headers."""
    site = f"http://site.test:{origin_port}"
    script = {"Sec-Fetch-Dest": "script"}
    document = {"Sec-Fetch-Dest": "document"}
    return {
        "blocked": (f"http://ads.test:{origin_port}/case-blocked.js", script),
        "builtin": ("http://doubleclick.net/case-builtin.js", script),
        "redirected": (f"http://ads.test:{origin_port}/adlib/case-redirected.js", script),
        "connect": (f"http://forbidden.test:{origin_port}/case-connect.html", document),
        "image": (f"http://noimages.test:{origin_port}/case-image.png", {"Sec-Fetch-Dest": "image"}),
        "cookie": (f"http://cookies.test:{origin_port}/echo/case-cookie", {"Cookie": "id=42"}),
        "refused": (f"http://site.test:{free_port()}/case-refused", document),  # bound, then released: closed
        "dns": ("http://nowhere.invalid/case-dns", document),
        "rewritten": (f"{site}/case-rewritten.html", document),
        "removeparam": (f"{site}/echo/case-removeparam?id=1&utm_source=newsletter", {}),
        "csp": (f"{site}/strict/echo/case-csp", document),
        "exception": (f"http://allowed.ads.test:{origin_port}/case-exception.js", script),
        "allowed_site": (f"http://friendly.test:{origin_port}/case-allowed_site.js", script),
        "untouched": (f"{site}/case-untouched.js", script),
        "failed": (f"{site}/case-failed-explode.js", script),
    }


def case_of(url: str) -> str:
    match = CASE.search(url)
    assert match, f"a flow this test did not make: {url}"
    return match.group(1)


@pytest.fixture(scope="module")
def mitmweb(workdir, test_list, origin):
    """The running mitmweb, after one request of every kind went through it."""
    config = workdir / "filters-policies.toml"
    config.write_text(POLICIES)
    instance = MitmwebWithDejunk(workdir, test_list, config)
    try:
        for case, (url, headers) in requests_of_every_kind(origin.port).items():
            result = fetch(instance, url, headers=headers, max_time=10)
            assert result.status, f"{case}: no answer from the proxy ({result.exit_code})"
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def flows(mitmweb):
    """mitmweb's flows by case, as Python flows."""
    by_case = {}
    for f in mitmweb.dumped_flows():
        by_case[case_of(f.request.pretty_url)] = f
    assert set(by_case) == MARKED | UNMARKED, "one flow per case"
    return by_case


def test_the_flows_carry_what_the_expectations_assume(flows):
    """The cases are what they are named: dejunk marked exactly the marked ones, as the README says."""
    marks = {case: f.marked for case, f in flows.items()}
    assert {case for case, mark in marks.items() if mark == ":no_entry_sign:"} == BLOCKED
    assert {case for case, mark in marks.items() if mark == ":shield:"} == POLICY
    assert {case for case, mark in marks.items() if mark == ":warning:"} == UPSTREAM | FAILED
    assert flows["failed"].comment.startswith("dejunk failed on this flow: error in request: RuntimeError")
    assert marks["rewritten"] == ":scissors:" and marks["removeparam"] == marks["csp"] == ":pencil2:"
    assert {case for case, mark in marks.items() if not mark} == UNMARKED


@pytest.mark.parametrize("expression", documented_expressions())
def test_pythons_filter_selects_the_documented_flows(flows, expression):
    matcher = flowfilter.parse(expression)
    assert matcher is not None, f"{expression!r} does not parse"
    assert {case for case, f in flows.items() if matcher(f)} == EXPECTED[expression]


# --- mitmweb's web interface in headless Chromium ----------------------------------------------

ROW_URLS = """[...document.querySelectorAll('.flow-table tbody td.col-path')].map(cell =>
    [...cell.childNodes].filter(node => node.nodeType === Node.TEXT_NODE).map(node => node.textContent).join(''))"""
SEARCH_BOX = "document.querySelector('input[placeholder=Search]')"
RUN_COMMAND = """(async (name, args) => {
    // mitmweb 11 names its XSRF cookie _xsrf, mitmweb 12 _mitmproxy_xsrf; the page sends it back.
    const xsrf = (document.cookie.match(/(?:^|; )(?:_mitmproxy_xsrf|_xsrf)=([^;]*)/) || [])[1];
    const response = await fetch('./commands/' + name, {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-XSRFToken': xsrf},
        body: JSON.stringify({arguments: args}),
    });
    return [response.status, await response.text()];
})"""


class FlowList:
    """mitmweb's page in a tab: its Search box and the flows its list shows."""

    def __init__(self, browser: Chromium, url: str):
        self.browser = browser
        self.tab = browser.open(url, settle=0.5)

    def cases_shown(self) -> set[str]:
        return {case_of(url) for url in self.tab.evaluate(ROW_URLS)}

    def wait_for_rows(self, count: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.tab.evaluate(ROW_URLS)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"mitmweb shows {self.tab.evaluate(ROW_URLS)}, not {count} flows")
            time.sleep(0.1)

    def _filter_messages(self, method: str, kind: str) -> int:
        """How many websocket messages of `kind` for the Search box the page sent or received."""
        count = 0
        for event in list(self.browser._events):  # the protocol events the browser has delivered
            if event.get("sessionId") != self.tab.session or event["method"] != method:
                continue
            try:
                message = json.loads(event["params"]["response"]["payloadData"])
            except (KeyError, ValueError):
                continue
            if message.get("type") == kind and message.get("payload", {}).get("name") == "search":
                count += 1
        return count

    def settled_cases(self, quiet: float = 0.5, timeout: float = 10) -> set[str]:
        """The flows shown once every filter sent is answered (mitmweb 12) and the list stays still."""
        deadline = time.monotonic() + timeout
        shown, since = None, time.monotonic()
        while True:
            # mitmweb 12 answers each `flows/updateFilter` with one `flows/filterUpdate`, in order;
            # mitmweb 11 sends none.
            answered = (self._filter_messages("Network.webSocketFrameReceived", "flows/filterUpdate")
                        >= self._filter_messages("Network.webSocketFrameSent", "flows/updateFilter"))
            now = self.cases_shown()
            if now != shown or not answered:
                shown, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"mitmweb's flow list did not settle within {timeout} s")
            self.browser.drain(0.1)  # collects the protocol events meanwhile

    def search(self, expression: str) -> set[str]:
        """Clear the Search box, type `expression` key by key as a user does; the flows then shown."""
        self.tab.evaluate(f"{SEARCH_BOX}.focus(), {SEARCH_BOX}.select()")
        for kind in ("rawKeyDown", "keyUp"):
            self.tab.call("Input.dispatchKeyEvent", {"type": kind, "key": "Backspace", "code": "Backspace",
                                                     "windowsVirtualKeyCode": 8})
        assert self.tab.evaluate(f"{SEARCH_BOX}.value") == ""
        self.settled_cases()
        for character in expression:
            self.tab.call("Input.insertText", {"text": character})
        assert self.tab.evaluate(f"{SEARCH_BOX}.value") == expression
        return self.settled_cases()

    def rejects(self) -> bool:
        """Whether the Search box marks its text as an expression it does not understand."""
        return self.tab.evaluate(f"{SEARCH_BOX}.closest('.filter-input').classList.contains('has-error')")

    def command(self, name: str, *arguments: str) -> tuple[int, str]:
        status, body = self.tab.evaluate(f"{RUN_COMMAND}({json.dumps(name)}, {json.dumps(list(arguments))})")
        return status, body


@pytest.fixture(scope="module")
def flow_list(workdir, mitmweb, flows, chromium_binary):
    # The page itself goes straight to mitmweb's web port, not through its proxy.
    browser = Chromium(workdir, "direct://", name="mitmweb-filters-chromium", window=(1280, 1600),
                       binary=chromium_binary)
    try:
        page = FlowList(browser, mitmweb.page_url)
        page.wait_for_rows(len(flows))
    except BrowserError as error:
        browser.close()
        pytest.fail(f"Chromium: {error}")
    assert page.cases_shown() == set(flows)
    yield page
    browser.close()


@pytest.mark.parametrize("expression", documented_expressions())
def test_mitmwebs_flow_list_shows_the_documented_flows(flow_list, expression):
    shown = flow_list.search(expression)
    assert not flow_list.rejects(), f"mitmweb {VERSION} marks {expression!r} as not understood"
    assert shown == EXPECTED[expression], f"mitmweb {VERSION}, {expression!r}"


def explained_cases(flow_list: FlowList, *arguments: str) -> set[str]:
    """The flows `dejunk.explain` lists, run through mitmweb's command API as its command bar does."""
    status, body = flow_list.command("dejunk.explain", *arguments)
    assert status == 200, body
    text = json.loads(body)["value"]
    # One line with the flow's URL alone, then indented lines (a comment's further lines are not).
    return {case_of(url) for url in re.findall(r"^https?://\S+$", text, re.MULTILINE)}


@pytest.mark.parametrize("expression", documented_expressions())
def test_dejunk_explain_in_mitmweb_takes_the_documented_expressions(flow_list, expression):
    assert explained_cases(flow_list, expression) == EXPECTED[expression]


def test_the_readmes_dejunk_explain_example_explains_the_flows_its_expression_selects(flows, flow_list):
    examples = re.findall(r"`(dejunk\.explain \"[^`]*)`", documented_section())
    assert examples, "the section shows dejunk.explain with a filter expression"
    for example in examples:
        # Split and unquoted as mitmproxy's command line does.
        name, *arguments = [command_lexer.unquote(part) for part in command_lexer.expr.parse_string(example)
                            if part.strip()]
        assert name == "dejunk.explain" and len(arguments) == 1, example
        selected = {case for case, f in flows.items() if flowfilter.parse(arguments[0])(f)}
        assert selected, f"{example}: its expression selects none of the flows"
        assert explained_cases(flow_list, *arguments) == selected, example


def test_what_the_readme_says_works_only_in_some_places(flows, flow_list):
    """The README's note on `~marker` and `~meta`: Python's filter and dejunk.explain take them, mitmweb differs."""
    section = documented_section()
    marker, meta = "~marker :no_entry_sign:", '~meta "^dejunk:"'
    assert f"`{marker}`" in section and f"`{meta}`" in section

    python = {expr: {case for case, f in flows.items() if flowfilter.parse(expr)(f)} for expr in (marker, meta)}
    assert python[marker] == BLOCKED
    assert python[meta] == MARKED | {"exception", "allowed_site"}
    for expression in (marker, meta):
        assert explained_cases(flow_list, expression) == python[expression], expression

    # mitmweb 11 shows the marker's emoji and matches it in the browser; mitmweb 12 matches the
    # shortcode on the server.
    shown = flow_list.search(marker)
    assert not flow_list.rejects()
    assert shown == (BLOCKED if MITMPROXY_MAJOR >= 12 else set()), f"mitmweb {VERSION}"

    # Neither mitmweb's browser-side parser knows ~meta: the box flags it and the list stays whole.
    shown = flow_list.search(meta)
    assert flow_list.rejects(), f"mitmweb {VERSION} accepts {meta!r}"
    assert shown == set(flows), f"mitmweb {VERSION}"
