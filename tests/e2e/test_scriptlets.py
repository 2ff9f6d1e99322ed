"""Scriptlets through a real mitmdump: every browser case gets its script from dejunk; for this module's own
cases a bare mitmdump (no addon) is the control. Then scoping, exceptions and pages with a Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.e2e.chromium import Chromium, find_chromium
from tests.e2e.harness import Proxy, fetch
from tests.e2e.origin import big_page_block
from tests.scriptlets.batch import BROWSER_FLAGS, probe_all
from tests.scriptlets.cases import Case, all_cases
from tests.scriptlets.origin import CaseOrigin

CASES = all_cases()

# A page that records what ran: its own scripts, and the flag a scriptlet sets (set-constant).
_OWN = "window.ownRan = true;"
_OWN_HASH = base64.b64encode(hashlib.sha256(_OWN.encode()).digest()).decode()
_CSP_PAGE = """<!doctype html><html><head>{meta}<title>t</title>
<script nonce="n0nce">window.adBlockDetected = true; window.ownRan = true;</script>
<script>window.strayRan = true;</script></head>
<body><p id="out"></p><script nonce="n0nce">document.getElementById('out').textContent = String(window.adBlockDetected);</script>
</body></html>"""
_PROBE = "[document.getElementById('out').textContent, window.ownRan === true, window.strayRan === true]"
_HASH_PAGE = f"""<!doctype html><html><head><title>t</title><script>{_OWN}</script>
<script>window.strayRan = true;</script></head><body></body></html>"""

SCENARIOS = [
    # (case, list lines, expect): rules written for the case's host by `{host}`
    Case("csp-nonce-header", "set, adBlockDetected, false", _CSP_PAGE.format(meta=""), _PROBE,
         ["false", True, False], ["true", True, False],
         headers={"Content-Security-Policy": "default-src 'self'; script-src 'nonce-n0nce'; object-src 'none'"}),
    Case("csp-nonce-meta", "set, adBlockDetected, false",
         _CSP_PAGE.format(meta="<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'nonce-n0nce'\">"),
         _PROBE, ["false", True, False], ["true", True, False]),
    Case("csp-hash-header", "set, adBlockDetected, false", _HASH_PAGE,
         "[String(window.adBlockDetected), window.ownRan === true, window.strayRan === true]",
         ["false", True, False], ["undefined", True, False],
         headers={"Content-Security-Policy": f"script-src 'sha256-{_OWN_HASH}'"}),
    Case("csp-none", "set, adBlockDetected, false", _HASH_PAGE,
         "[String(window.adBlockDetected), window.ownRan === true]", ["undefined", False], ["undefined", False],
         headers={"Content-Security-Policy": "script-src 'none'"}),
]

_LATE = """<script>setTimeout(function () {{
  var late = document.createElement('div'); late.id = 'late'; late.className = 'card'; late.textContent = '{text}';
  document.body.appendChild(late); }}, 300);</script>"""
_STYLED = """<!doctype html><html><head><title>t</title><style>.card {{ height: 40px; }}</style></head>
<body><p class="note" id="note">note</p><p class="warn" id="warn" style="color: rgb(255, 0, 0)">warn</p>
<div class="card" id="early">Sponsored early</div>{late}</body></html>"""

# Cosmetic rules that put something into the page (`call` is the rule after the host).
PAGE_RULES = [
    Case("style-plain", "##p.note:style(color: rgb(1, 2, 3))", _STYLED.format(late=""),
         "getComputedStyle(document.getElementById('note')).color", "rgb(1, 2, 3)", "rgb(0, 0, 0)"),
    # Procedural: applied by the page runtime, also to an element the page adds later.
    Case("style-procedural", "##.card:has-text(/Sponsored/):style(height: 3px; overflow: hidden)",
         _STYLED.format(late=_LATE.format(text="Sponsored late")),
         "[getComputedStyle(document.getElementById('early')).height, getComputedStyle(document.getElementById('late')).height]",
         ["3px", "3px"], ["40px", "40px"], settle=0.8),
    Case("live-matches-css", "##p:matches-css(color: rgb(255, 0, 0))", _STYLED.format(late=""),
         "getComputedStyle(document.getElementById('warn')).display", "none", "block"),
    Case("live-late-element", "##.card:has-text(Sponsored)", _STYLED.format(late=_LATE.format(text="Sponsored late")),
         "[!!document.getElementById('early'), getComputedStyle(document.getElementById('late')).display]",
         [False, "none"], [True, "block"], settle=0.8),
]

SCOPING = """\
! exceptions and scoping, on pages of the set-constant-flag case
scoped-out.test##+js(set, adBlockDetected, false)
excepted-all.test##+js(set, adBlockDetected, false)
excepted-all.test#@#+js()
excepted-one.test##+js(set-constant, adBlockDetected, false)
excepted-one.test#@#+js(set, adBlockDetected, false)
entity.*##+js(set, adBlockDetected, false)
sub.parent.test##+js(set, adBlockDetected, false)
~elsewhere.parent.test,parent.test##+js(set, adBlockDetected, false)
"""


@pytest.fixture(scope="module")
def case_origin():
    served = CaseOrigin(CASES + SCENARIOS + PAGE_RULES)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browsers(workdir):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): scriptlets are checked in a browser")
    lines = [f"{case.id}.test##+js({case.call})" for case in CASES + SCENARIOS]
    lines += [f"{case.id}.test{case.call}" for case in PAGE_RULES]
    rules = workdir / "scriptlets.txt"
    rules.write_text("\n".join(lines) + "\n" + SCOPING)
    dejunk = Proxy(workdir, options={"dejunk_lists": [rules]}, name="scriptlets-dejunk")
    bare = Proxy(workdir, dejunk=False, name="scriptlets-bare")
    started = {}
    try:
        started["dejunk"] = Chromium(workdir, dejunk.url, name="scriptlets-dejunk-chromium", extra_args=BROWSER_FLAGS)
        started["bare"] = Chromium(workdir, bare.url, name="scriptlets-bare-chromium", extra_args=BROWSER_FLAGS)
        yield started, dejunk
    finally:
        for browser in started.values():
            browser.close()
        dejunk.stop()
        bare.stop()


def page_url(host: str, case: Case, origin) -> str:
    return f"http://{host}.test:{origin.port}/case/{case.id}?case={case.id}"


OWN = SCENARIOS + PAGE_RULES  # cases no other module loads
ALL = CASES + OWN
SCOPES = [
    ("scoped-out", True),
    ("other", False),  # no rule for this host
    ("excepted-all", False),  # `#@#+js()`
    ("excepted-one", False),  # `#@#+js(set, ...)` names the same call under its alias
    ("entity", True),  # `entity.*`: `.test` is the public suffix of entity.test
    ("sub.parent", True),
    ("elsewhere.parent", False),  # `~elsewhere.parent.test`
    ("x.parent", True),
]
SCOPED_CASE = next(c for c in CASES if c.id == "set-constant-flag")


@pytest.fixture(scope="module")
def results(case_origin, browsers):
    """Every probe through dejunk, and the control through the bare proxy for the cases of this module only
    (tests/scriptlets/test_browser.py loads each scriptlet case without its script already); pages loaded side
    by side (see tests/scriptlets/batch.py)."""
    started, _dejunk = browsers
    bare = probe_all(started["bare"], [(case.id, page_url(case.id, case, case_origin), case) for case in OWN])
    pages = [(case.id, page_url(case.id, case, case_origin), case) for case in ALL]
    pages += [(("scope", host), f"http://{host}.test:{case_origin.port}/case/{SCOPED_CASE.id}", SCOPED_CASE)
              for host, _ in SCOPES]
    return {"bare": bare, "dejunk": probe_all(started["dejunk"], pages)}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", ALL, ids=[case.id for case in ALL])
def test_case_through_the_proxy(case, results):
    if case.id in results["bare"]:
        assert results["bare"][case.id] == case.control, "the page through a bare mitmdump"
    assert results["dejunk"][case.id] == case.expect, "the page through dejunk"


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("host", "applies"), SCOPES)
def test_scoping_and_exceptions(host, applies, results):
    found = results["dejunk"][("scope", host)]
    assert found == (SCOPED_CASE.expect if applies else SCOPED_CASE.control)


def test_policies_are_kept_but_for_dejunks_element(case_origin, browsers):
    started, dejunk = browsers
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": dejunk.url}))
    case = next(c for c in SCENARIOS if c.id == "csp-hash-header")
    with opener.open(page_url(case.id, case, case_origin), timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        body = response.read().decode()
    sources = policy.split()
    assert sources[0] == "script-src" and f"'sha256-{_OWN_HASH}'" in sources and len(sources) == 3
    script = body[body.index("<script data-dejunk") :]
    script = script[script.index(">") + 1 : script.index("</script>")]
    assert f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'" in sources


@pytest.fixture(scope="module")
def small_hold_proxy(workdir):
    rules = workdir / "streamed-scriptlets.txt"
    rules.write_text("127.0.0.1##+js(set, adBlockDetected, false)\n127.0.0.1##p:style(color: red)\n")
    instance = Proxy(workdir, options={"dejunk_lists": [rules], "dejunk_max_rewrite_bytes": 65536},
                     name="streamed-scriptlets")
    yield instance
    instance.stop()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_page_too_large_to_hold_still_gets_its_scriptlets(framing, origin, small_hold_proxy):
    query = "mb=1&chunked=1" if framing == "chunked" else "mb=1"
    got = fetch(small_hold_proxy, f"http://127.0.0.1:{origin.port}/big-page?{query}")
    assert got.status == 200 and got.exit_code == 0
    page = b"".join(big_page_block(i) for i in range(16))
    markup_end = got.body.index(b"</style>") + len(b"</style>")
    assert got.body.startswith(b'<script data-dejunk="">') and got.body[markup_end:] == page
    assert b"adBlockDetected" in got.body[:markup_end] and b"p{color: red !important}" in got.body[:markup_end]
    if framing == "content-length":
        assert int(got.headers["content-length"]) == len(got.body)


TRUST_LIST = """[Adblock Plus 2.0]
! Title: a list from somewhere
127.0.0.1##+js(nowebrtc)
127.0.0.1##+js(trusted-replace-argument, JSON.parse, 0, x)
"""


def test_trusted_only_scriptlets_need_a_trusted_list(tmp_path, origin):
    from filters.lists import subscriptions
    from tests.list_server import ListServer

    with ListServer() as server:
        url = server.serve("/list.txt", TRUST_LIST)
        cache = tmp_path / "cache"
        [downloaded] = subscriptions.update([url], str(cache), force=True)
        assert downloaded.ok, downloaded.error
        page = f"http://127.0.0.1:{origin.port}/page.html"
        untrusted = Proxy(tmp_path, name="untrusted", options={"dejunk_lists": [url], "dejunk_cache": cache})
        try:
            body = fetch(untrusted, page).body
            assert b'"nowebrtc"' in body and b"trusted-replace-argument" not in body
            assert "trusted-only scriptlet (trusted-replace-argument) in an untrusted list 1" in untrusted.log()
        finally:
            untrusted.stop()
        trusted = Proxy(tmp_path, name="trusted", options={
            "dejunk_lists": [url], "dejunk_cache": cache, "dejunk_trusted_lists": [server.url("/")]})
        try:
            body = fetch(trusted, page).body
            assert b'"nowebrtc"' in body and b'"trusted-replace-argument"' in body
        finally:
            trusted.stop()
