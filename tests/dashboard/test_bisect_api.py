"""/api/bisect: the live bisection from the dashboard, over a real engine and Filtering, down to the exception applied."""

from __future__ import annotations

import json

from filters.request import Request

from .conftest import TOKEN, call
from .test_api import get, send

PAGE = "https://news.test/article"
NEEDED = "https://ads.test/needed.js"  # the page needs this script; the list's ||ads.test^ blocks it
MAX_ANSWERS = 20  # a search over two rules needs far fewer


def blocked(world, url: str, page: str = PAGE) -> bool:
    """Whether the proxy's engine now blocks a script of `page` (as a reload would ask it)."""
    return world.filtering.engine.check_request(Request.from_strings(url, page, "script")).blocked


def load_page(world) -> None:
    """The page's scripts decided, as a browser loading it through the proxy makes the engine decide them."""
    for url in (NEEDED, "https://cdn.test/adlib/x.js"):
        world.filtering.engine.check_request(Request.from_strings(url, PAGE, "script"))


def answer_until_named(world) -> dict:
    state = get(world, "/api/bisect")[1]
    for _ in range(MAX_ANSWERS):
        status, state = send(world, "POST", "/api/bisect/bad" if blocked(world, NEEDED) else "/api/bisect/good", {})
        assert status == 200, state
        if not state["active"]:
            return state
        assert state["phase"] == "searching" and state["step"] >= 1
        assert "reload the page and say dejunk.bisect.good or dejunk.bisect.bad" in state["message"]
    raise AssertionError(f"no culprit after {MAX_ANSWERS} answers: {state}")


def test_a_bisection_from_the_dashboard_names_the_culprit_and_one_click_applies_its_exception(world):
    engine = world.filtering.engine
    assert get(world, "/api/bisect") == (200, {"active": False, "site": None, "phase": "idle", "step": 0, "fired": 0,
                                               "message": "no bisection running", "result": None, "applied": None})
    status, state = send(world, "POST", "/api/bisect/start", {"site": "News.Test"})
    assert status == 200 and state["active"] and state["site"] == "news.test" and state["phase"] == "collecting"
    assert state["message"].startswith("bisecting news.test: reload its broken page now")
    assert world.filtering.engine is not engine  # the site's requests go through the bisection now
    load_page(world)
    assert get(world, "/api/bisect")[1]["fired"] == 2  # ||ads.test^ and the $redirect rule
    state = answer_until_named(world)
    assert state["phase"] == "done" and state["result"]["status"] == "found"
    assert state["result"]["culprits"] == [{"rule": "||ads.test^", "list": "list.txt", "line": 3, "kind": "network",
                                            "exception": "@@||ads.test^$domain=news.test"}]
    assert "add to your filters: @@||ads.test^$domain=news.test; bisection over" in state["message"]
    assert world.filtering.engine is engine and blocked(world, NEEDED)  # over: every rule again

    status, applied = send(world, "POST", "/api/bisect/apply", {})
    assert status == 200, applied
    assert applied["added"] == ["@@||ads.test^$domain=news.test"] and applied["applied"] == applied["added"]
    assert applied["path"] == str(world.myfilters)
    lines = world.myfilters.read_text().splitlines()
    assert lines[0] == "! mine" and lines[1].endswith("live bisection of news.test: the culprit's exception")
    assert lines[2:] == ["@@||ads.test^$domain=news.test"]
    assert not blocked(world, NEEDED)  # the engine was rebuilt with it before the answer
    assert blocked(world, NEEDED, "https://other.test/")  # the rule still blocks everywhere else
    assert blocked(world, "https://ads.test/banner.js", "https://other.test/")
    # A second click adds nothing twice.
    status, again = send(world, "POST", "/api/bisect/apply", {})
    assert status == 200 and again["added"] == [] and world.myfilters.read_text().splitlines()[2:] == lines[2:]


def test_the_dashboard_and_the_state_agree_with_each_step(world):
    send(world, "POST", "/api/bisect/start", {"site": "https://news.test/some/page"})
    load_page(world)
    status, state = send(world, "POST", "/api/bisect/bad", {})
    assert status == 200 and state["step"] == 1 and state["message"].startswith("step 1: 0 of the 2 rules")
    assert not blocked(world, NEEDED)  # every rule that fired on news.test is off
    assert blocked(world, NEEDED, "https://other.test/")  # other sites keep every rule
    assert world.bisection.state() == get(world, "/api/bisect")[1]


def test_stop_ends_it_and_every_rule_applies_again(world):
    engine = world.filtering.engine
    send(world, "POST", "/api/bisect/start", {"site": "news.test"})
    load_page(world)
    send(world, "POST", "/api/bisect/bad", {})
    status, state = send(world, "POST", "/api/bisect/stop", {})
    assert status == 200 and not state["active"] and state["phase"] == "stopped" and state["result"] is None
    assert state["message"] == "bisection of news.test stopped; every rule applies again"
    assert world.filtering.engine is engine and blocked(world, NEEDED)
    status, error = send(world, "POST", "/api/bisect/apply", {})
    assert status == 409 and "no culprit" in error["error"]


def test_answers_without_a_bisection_and_bad_sites_are_refused_as_json(world):
    for action in ("good", "bad", "stop"):
        status, error = send(world, "POST", f"/api/bisect/{action}", {})
        assert status == 409 and "no bisection running" in error["error"], action
    assert send(world, "POST", "/api/bisect/apply", {})[0] == 409
    status, error = send(world, "POST", "/api/bisect/start", {"site": "bad/site"})
    assert status == 400 and "host name" in error["error"]
    assert send(world, "POST", "/api/bisect/start", {})[0] == 400
    assert get(world, "/api/bisect")[1]["phase"] == "idle"
    assert call(world.dashboard, "GET", "/api/bisect/start").status == 405


def test_state_changes_need_the_token_and_the_dashboards_origin(world):
    engine = world.filtering.engine
    body = json.dumps({"site": "news.test"}).encode()
    refused = [
        call(world.dashboard, "POST", "/api/bisect/start", body, content_type="application/json"),
        call(world.dashboard, "POST", "/api/bisect/start", body, content_type="application/json",
             x_dejunk_token=TOKEN, origin="http://evil.test"),
    ]
    assert [reply.status for reply in refused] == [403, 403]
    assert world.filtering.engine is engine and get(world, "/api/bisect")[1]["active"] is False
    send(world, "POST", "/api/bisect/start", {"site": "news.test"})
    assert call(world.dashboard, "POST", "/api/bisect/stop", b"{}", content_type="application/json").status == 403
    assert get(world, "/api/bisect")[1]["active"] is True


def test_a_list_change_stops_it_and_says_so(world):
    send(world, "POST", "/api/bisect/start", {"site": "news.test"})
    assert world.bisection.engine_changed()
    state = get(world, "/api/bisect")[1]
    assert not state["active"] and state["phase"] == "stopped" and "the lists changed" in state["message"]


def test_apply_with_my_filters_off_is_refused(world):
    world.api.sources.myfilters = lambda: None
    send(world, "POST", "/api/bisect/start", {"site": "news.test"})
    load_page(world)
    answer_until_named(world)
    status, error = send(world, "POST", "/api/bisect/apply", {})
    assert status == 409 and "my filters are off" in error["error"]


def test_a_bad_site_leaves_the_bisection_running_and_the_status_says_one_runs(world):
    assert not [p for p in get(world, "/api/status")[1]["problems"] if "bisecting" in p]
    send(world, "POST", "/api/bisect/start", {"site": "news.test"})
    assert send(world, "POST", "/api/bisect/start", {"site": "bad/site"})[0] == 400
    state = get(world, "/api/bisect")[1]
    assert state["active"] and state["site"] == "news.test"
    problems = get(world, "/api/status")[1]["problems"]
    assert [p for p in problems if p.startswith("bisecting news.test: some rules are off there")]
    send(world, "POST", "/api/bisect/stop", {})
    assert not [p for p in get(world, "/api/status")[1]["problems"] if "bisecting" in p]
