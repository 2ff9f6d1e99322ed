"""dejunk.bisect (over flows) and the live dejunk.bisect.start/good/bad/stop, on a corpus page with planted culprits."""

from __future__ import annotations

import re

import pytest
from mitmproxy import io
from mitmproxy.test import taddons

from filters.request import Request
from tests.addons.test_dejunk import dejunk, make_flow, serve_page
from tests.reports.test_culprit import ARTICLE, PLANTED, make_planted


@pytest.fixture(scope="module")
def planted(corpus, tmp_path_factory):
    """Corpus page 1 recorded, and EasyList with culprits planted (see tests/reports/test_culprit.py)."""
    return make_planted(corpus, tmp_path_factory.mktemp("culprit"))


SCRIPT_URL = "https://slate.com/media/components/oil/oil.1.3.5-RELEASE.min.js"
MAX_STEPS = 40  # a search over a handful of rules needs far fewer answers


@pytest.fixture
def proxy(planted, tmp_path, monkeypatch):
    import filters.proxy.pool

    monkeypatch.setattr(filters.proxy.pool, "default_workers", lambda: 0)  # pages rewritten in a thread
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(planted["list"])], dejunk_myfilters="",
                       dejunk_state=str(tmp_path / "state"))
        yield addon, tctx
        addon.done()


def load_page(addon, planted) -> bytes:
    """The page and its script through the proxy, as a browser reloading it; returns the page as delivered."""
    page = next(r for r in planted["records"] if r.page is not None)
    f = serve_page(addon, url=planted["url"], body=page.page)
    return f.response.raw_content


def script_blocked(addon, planted) -> bool:
    f = make_flow(SCRIPT_URL, dest="script", referer=planted["url"])
    addon.requestheaders(f)
    return f.response is not None


def test_bisect_over_flows_logs_the_culprit_and_its_checked_exception(proxy, planted):
    addon, tctx = proxy
    with open(planted["recording"], "rb") as fo:
        flows = list(io.FlowReader(fo).stream())
    said = tctx.master.commands.call("dejunk.bisect", flows, "text", ARTICLE)
    assert said.startswith(f"dejunk: bisecting {len(flows)} flows in the background")
    addon.bisect_job.join(timeout=180)
    assert not addon.bisect_job.is_alive()
    line = planted["lines"]["text"]
    assert f"  {PLANTED['text']}    (easylist.txt:{line})" in addon.bisect_said
    assert "  slate.com#@#.article__content" in addon.bisect_said
    assert "checked: with it" in addon.bisect_said


def test_bisect_over_flows_refuses_a_bad_expectation(proxy):
    _, tctx = proxy
    with pytest.raises(Exception, match="unknown expectation"):
        tctx.master.commands.call("dejunk.bisect", [], "colour", "red")


def answer_until_done(tctx, broken) -> str:
    said = ""
    for _ in range(MAX_STEPS):
        said = tctx.master.commands.call("dejunk.bisect.bad" if broken() else "dejunk.bisect.good")
        if "bisection over" in said:
            return said
    raise AssertionError(f"no culprit after {MAX_STEPS} answers: {said}")


def test_live_bisection_finds_the_cosmetic_culprit(proxy, planted):
    addon, tctx = proxy
    engine = addon.filtering.engine
    said = tctx.master.commands.call("dejunk.bisect.start", "slate.com")
    assert "reload its broken page now" in said
    assert ARTICLE.encode() not in load_page(addon, planted)  # broken with every rule
    assert script_blocked(addon, planted)
    said = answer_until_done(tctx, lambda: ARTICLE.encode() not in load_page(addon, planted))
    line = planted["lines"]["text"]
    assert f"{PLANTED['text']} (easylist.txt:{line})" in said
    assert "add to your filters: slate.com#@#.article__content" in said
    steps = int(re.search(r"culprit after (\d+) steps", said).group(1))
    assert steps >= 3  # EasyList's own rules fired on the page too: they were tried and cleared
    assert addon.filtering.engine is engine and addon.bisecting is None  # every rule applies again
    assert ARTICLE.encode() not in load_page(addon, planted)


def test_live_bisection_finds_the_network_culprit_and_spares_other_sites(proxy, planted):
    addon, tctx = proxy
    other = Request.from_strings("https://securepubads.g.doubleclick.net/tag/js/gpt.js", "https://news.test/", "script")
    assert addon.filtering.engine.check_request(other).blocked
    tctx.master.commands.call("dejunk.bisect.start", "slate.com")
    load_page(addon, planted)
    assert script_blocked(addon, planted)
    said = tctx.master.commands.call("dejunk.bisect.bad")
    assert said.startswith("dejunk: step 1: 0 of the ")  # every rule that fired on slate.com is off
    assert not script_blocked(addon, planted)
    assert addon.filtering.engine.check_request(other).blocked  # another site keeps every rule
    said = answer_until_done(tctx, lambda: script_blocked(addon, planted))
    assert f"add to your filters: @@{PLANTED['script']}$domain=slate.com" in said


def test_live_bisection_when_the_page_works_or_nothing_fired(proxy, planted):
    addon, tctx = proxy
    tctx.master.commands.call("dejunk.bisect.start", "slate.com")
    said = tctx.master.commands.call("dejunk.bisect.bad")
    assert "no rule has fired on slate.com" in said  # the page was not reloaded yet
    said = tctx.master.commands.call("dejunk.bisect.good")
    assert "works with every rule" in said and addon.bisecting is None
    with pytest.raises(Exception, match="no bisection running"):
        tctx.master.commands.call("dejunk.bisect.good")


def test_stop_and_a_list_change_end_the_live_bisection(proxy, planted):
    addon, tctx = proxy
    engine = addon.filtering.engine
    tctx.master.commands.call("dejunk.bisect.start", "slate.com")
    assert addon.filtering.engine is not engine
    assert "stopped; every rule applies again" in tctx.master.commands.call("dejunk.bisect.stop")
    assert addon.filtering.engine is engine
    tctx.master.commands.call("dejunk.bisect.start", "slate.com")
    addon._engine_ready(engine)  # what a list update or an edit of my filters does
    assert addon.bisecting is None and addon.filtering.engine is engine
    with pytest.raises(Exception, match="host name"):
        tctx.master.commands.call("dejunk.bisect.start", "bad/site")


def dashboard_call(addon, method, path, data=None):
    """The dashboard's API as the proxy serves it (token included for changes)."""
    import asyncio
    import json

    headers = {} if method == "GET" else {"content-type": ["application/json"],
                                          "x-dejunk-token": [addon.dashboard.dashboard.token]}
    body = json.dumps(data).encode() if data is not None else b""
    reply = asyncio.run(addon.dashboard.dashboard.handle(method, path, headers, body))
    return reply.status, json.loads(reply.body)


def test_commands_and_the_dashboard_drive_the_same_bisection(proxy, planted):
    addon, tctx = proxy
    said = tctx.master.commands.call("dejunk.bisect.start", "slate.com")
    status, state = dashboard_call(addon, "GET", "/api/bisect")
    assert status == 200 and state["active"] and state["site"] == "slate.com"
    assert said == f"dejunk: {state['message']}"  # the same words
    load_page(addon, planted)
    status, state = dashboard_call(addon, "POST", "/api/bisect/bad", {})
    assert status == 200 and state["phase"] == "searching" and state["step"] == 1
    said = tctx.master.commands.call("dejunk.bisect.stop")
    assert said == "dejunk: " + dashboard_call(addon, "GET", "/api/bisect")[1]["message"]
    assert dashboard_call(addon, "POST", "/api/bisect/good", {})[0] == 409
