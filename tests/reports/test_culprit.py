"""Finding the rules that broke a page: engine subsets, ddmin, and corpus recordings with planted culprits."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from filters.engine import Engine
from filters.html.rewrite import rewrite_page
from filters.reports import culprit, recordings
from filters.request import Request

# --- what the search needs from the engine ------------------------------------------------------------


class TestEngineSubsets:
    LIST = ("||ads.test^\n"
            "/banner.js\n"
            "@@||ads.test/ok/*\n"
            "||track.test^$removeparam=utm\n"
            "##.ad\n"
            "site.test##.promo\n"
            "site.test##+js(set-constant, x, 1)\n")

    def test_fired_names_every_rule_that_blocks_a_request_and_no_exception(self):
        engine = Engine.from_text(self.LIST)
        request = Request.from_strings("https://ads.test/banner.js", "https://site.test/", "script")
        fired = engine.network.fired(request)
        assert [engine.network.rule_text(rid) for rid in fired] == ["||ads.test^", "/banner.js"]
        excepted = Request.from_strings("https://ads.test/ok/banner.js", "https://site.test/", "script")
        assert engine.network.fired(excepted) == ()  # let through: nothing fired
        modified = Request.from_strings("https://track.test/p?utm=1&a=2", "https://site.test/", "image")
        assert [engine.network.rule_text(r) for r in engine.network.fired(modified)] == ["||track.test^$removeparam=utm"]
        assert engine.network.fired(Request.from_strings("https://site.test/a.js", "https://site.test/", "script")) == ()

    def test_a_subset_switches_rules_off_and_leaves_the_engine_and_exceptions_alone(self):
        engine = Engine.from_text(self.LIST)
        request = Request.from_strings("https://ads.test/banner.js", "https://site.test/", "script")
        first, second = engine.network.fired(request)
        assert engine.subset([first]).check_request(request).filter == "/banner.js"
        assert not engine.subset([first, second]).check_request(request).blocked
        assert engine.check_request(request).filter == "||ads.test^"  # the engine itself is unchanged
        excepted = Request.from_strings("https://ads.test/ok/x.js", "https://site.test/", "script")
        assert not engine.subset([second]).check_request(excepted).blocked  # the exception still applies
        with pytest.raises(TypeError):
            engine.subset([first]).network.__getstate__()

    def test_cosmetic_rules_are_switched_off_by_list_and_line(self):
        engine = Engine.from_text(self.LIST, name="l.txt")
        page = (b'<html><head></head><body><div class="ad">a</div><div class="promo">p</div>'
                b'<p>story</p></body></html>')
        url = "https://site.test/a"
        full = engine.cosmetic(url)
        assert full.injected_at == (("l.txt", 7),)
        result = rewrite_page(page, url=url, content_type="text/html", rules=full)
        assert sorted((h.list, h.line) for h in result.rule_hits) == [("l.txt", 5), ("l.txt", 6)]
        without = engine.subset(cosmetic_off=[("l.txt", 5), ("l.txt", 7)]).cosmetic(url)
        assert not without.scriptlets and without.without == {("l.txt", 5), ("l.txt", 7)}
        result = rewrite_page(page, url=url, content_type="text/html", rules=without)
        assert [(h.list, h.line) for h in result.rule_hits] == [("l.txt", 6)]  # the generic ##.ad is off
        assert b'class="ad"' in result.body and b"promo" not in result.body


# --- delta debugging -----------------------------------------------------------------------------------


def run_search(candidates, broken):
    search = culprit.Search(candidates)
    asked = []
    while not search.done:
        asked.append(frozenset(search.subset))
        search.answer(broken(set(search.subset)))
    assert len(asked) == len(set(asked)), "a subset was tried twice"
    return search


class TestSearch:
    @pytest.mark.parametrize("size", [1, 2, 7, 40, 200])
    def test_one_culprit_is_found_in_few_steps(self, size):
        target = size // 3
        search = run_search(range(size), lambda applied: target in applied)
        assert (search.status, search.culprits) == ("found", [target])
        assert search.steps <= 3 + 2 * max(size, 2).bit_length()

    def test_rules_that_break_the_page_only_together(self):
        search = run_search(range(30), lambda applied: {4, 23} <= applied)
        assert (search.status, sorted(search.culprits)) == ("found", [4, 23])

    def test_rules_that_each_break_it_alone_are_all_found(self):
        search = run_search(range(30), lambda applied: bool({3, 17} & applied))
        assert (search.status, sorted(search.culprits)) == ("found", [3, 17])

    def test_broken_with_no_rule_is_not_filtering(self):
        search = run_search(range(10), lambda applied: True)
        assert (search.status, search.culprits, search.steps) == ("not_filtering", [], 1)

    def test_random_interactions(self):
        chooser = random.Random(19)
        for _ in range(30):
            size = chooser.randint(2, 60)
            pair = set(chooser.sample(range(size), 2))
            search = run_search(range(size), lambda applied: pair <= applied)
            assert set(search.culprits) == pair


@pytest.mark.parametrize("rule,exception", [
    (culprit.FiredRule("network", "||cdn.test/app.js^$script,third-party,domain=a.test|b.test", "l", 1),
     "@@||cdn.test/app.js^$script,third-party,domain=site.test"),
    (culprit.FiredRule("network", "/ads/*$redirect=noopjs", "l", 1), "@@/ads/*$domain=site.test"),
    (culprit.FiredRule("network", "0.0.0.0 cdn.test", "hosts", 3), "@@||cdn.test^$domain=site.test"),
    (culprit.FiredRule("network", "||cdn.test^$important", "l", 1), "||cdn.test^$important,badfilter"),
    (culprit.FiredRule("network", "||x.test^$replace=/a,b/c/", "l", 1), "@@||x.test^$replace=/a\\,b/c/,domain=site.test"),
    (culprit.FiredRule("cosmetic", "##.article", "l", 1), "site.test#@#.article"),
    (culprit.FiredRule("cosmetic", "a.test,site.test##^script:has-text(x)", "l", 1), "site.test#@#^script:has-text(x)"),
    (culprit.FiredRule("cosmetic", "site.test#?#div:has-text(x)", "l", 1), "site.test#@?#div:has-text(x)"),
    (culprit.FiredRule("scriptlet", "site.test##+js(set-constant, x, 1)", "l", 1), "site.test#@#+js(set-constant, x, 1)"),
])
def test_exceptions_undo_a_rule_on_one_site(rule, exception):
    assert culprit.exception_for(rule, "site.test") == exception


# --- corpus recordings with planted culprits -------------------------------------------------------------

# slate.com's article: its body is in `.article__content`, its title in `.article__hed`; "John M. Ford"
# is in both (and nowhere else shown), so the two rules below take it away only together.
PLANTED = {
    "text": "slate.com##.article__content",
    "script": "||slate.com/media/components/oil/oil.1.3.5-RELEASE.min.js",
    "title": "slate.com##.article__hed",
}
ARTICLE = "Three years ago, over breakfast"


@pytest.fixture(scope="module")
def planted(corpus, tmp_path_factory):
    return make_planted(corpus, tmp_path_factory.mktemp("culprit"))


def make_planted(corpus, folder) -> dict:
    """A recording of corpus page 1 with its subresources, and a copy of EasyList with the culprits planted."""
    pages, problems = recordings.read_pages_index(str(corpus / "pages"))
    assert not problems
    subresources, _ = recordings.read_subresources(str(corpus / "requests" / "page-subresources.jsonl"))
    page = pages[0]
    assert "slate.com" in page.url
    recording = folder / "slate.flows"
    wanted = [s for s in subresources if s.source_url == page.url]
    recordings.write_flows(recordings.make_page_flows([page], wanted), str(recording))
    easylist = (corpus / "lists" / "easylist.txt").read_text(encoding="utf-8")
    lines = easylist.rstrip("\n").split("\n")
    where = {}
    for name, rule in PLANTED.items():
        lines.append(rule)
        where[name] = len(lines)
    path = folder / "easylist.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = Engine.from_lists([str(path)])
    records = recordings.read_recording(str(recording), keep_pages=True).records
    return {"recording": recording, "list": path, "lines": where, "engine": engine, "records": records,
            "url": page.url, "folder": folder}


def search(planted, kind, value, engine=None):
    replay = culprit.Replay(engine or planted["engine"], planted["records"], culprit.Expectation(kind, value))
    result = culprit.find_culprits(replay)
    if result.culprits:
        result.verification = culprit.verify_with_lists(result, replay, [str(planted["list"])])
    return replay, result


def named(result):
    return sorted((c.rule.text, c.rule.list, c.rule.line) for c in result.culprits)


class TestPlanted:
    def test_a_cosmetic_rule_that_removes_the_article(self, planted):
        replay, result = search(planted, "text", ARTICLE)
        assert result.status == "found"
        assert named(result) == [(PLANTED["text"], "easylist.txt", planted["lines"]["text"])]
        assert [c.exception for c in result.culprits] == ["slate.com#@#.article__content"]
        # EasyList's own rules fired on the page too; only the planted one was named.
        assert len([r for r in replay.fired if r.line < planted["lines"]["text"]]) >= 3
        check = result.verification
        assert check.holds and check.stopped == [] and check.ok

    def test_the_exception_fixes_the_page_and_every_other_ad_stays_removed(self, planted):
        replay, result = search(planted, "text", ARTICLE)
        mine = planted["folder"] / "mine.txt"
        mine.write_text(result.culprits[0].exception + "\n")
        fixed = Engine.from_lists([str(planted["list"]), str(mine)])
        again = culprit.Replay(fixed, planted["records"], culprit.Expectation("text", ARTICLE))
        assert again.holds(again.fired) == (True, "")
        before = {r.place for r in replay.fired} - {c.rule.place for c in result.culprits}
        assert before <= {r.place for r in again.fired}

    def test_a_network_rule_that_blocks_a_script_the_page_needs(self, planted):
        _, result = search(planted, "allowed", "oil.1.3.5-RELEASE.min.js")
        assert named(result) == [(PLANTED["script"], "easylist.txt", planted["lines"]["script"])]
        assert result.culprits[0].exception == f"@@{PLANTED['script']}$domain=slate.com"
        assert result.verification.ok
        assert "oil.1.3.5-RELEASE.min.js is blocked by" in result.why

    def test_two_rules_that_break_the_page_only_together(self, planted):
        replay, result = search(planted, "text", "John M. Ford")
        assert named(result) == sorted([(PLANTED["text"], "easylist.txt", planted["lines"]["text"]),
                                        (PLANTED["title"], "easylist.txt", planted["lines"]["title"])])
        for rule in result.culprits:  # either one off, and the name is back
            assert replay.holds([r for r in replay.fired if r != rule.rule])[0] is True
        assert replay.holds([c.rule for c in result.culprits])[0] is False
        assert result.verification.ok

    def test_broken_with_no_rule_means_filtering_is_not_the_cause(self, planted):
        _, result = search(planted, "text", "a sentence this page never had")
        assert result.status == "not_filtering" and result.culprits == [] and result.steps == 1

    def test_already_fine_with_every_rule(self, planted):
        _, result = search(planted, "selector", "header.article__header")
        assert result.status == "holds" and result.steps == 0

    def test_a_page_blocked_outright(self, planted):
        mine = planted["folder"] / "block-page.txt"
        mine.write_text("||slate.com/culture/$document\n")
        engine = Engine.from_lists([str(planted["list"]), str(mine)])
        _, result = search(planted, "selector", "article", engine=engine)
        assert named(result) == [("||slate.com/culture/$document", "block-page.txt", 1)]
        assert "the page itself is blocked" in result.why

    def test_the_json_document(self, planted):
        _, result = search(planted, "text", ARTICLE)
        document = json.loads(json.dumps(result.to_dict()))
        assert document["culprits"] == [{"rule": PLANTED["text"], "list": "easylist.txt",
                                         "line": planted["lines"]["text"], "kind": "cosmetic",
                                         "exception": "slate.com#@#.article__content"}]
        assert document["steps"] == result.steps > 1 and document["status"] == "found"

    def test_a_har_recording(self, planted, tmp_path):
        entries = []
        for record in planted["records"]:
            content = {"mimeType": record.content_type, "size": record.size or 0}
            if record.page is not None:
                content["text"] = record.page.decode("utf-8")
            headers = [{"name": "Sec-Fetch-Dest", "value": recordings.FETCH_HEADERS[record.type][0]}]
            if record.request.source_url and record.type != "document":
                headers.append({"name": "Referer", "value": record.request.source_url})
            entries.append({"startedDateTime": "2026-01-01T00:00:00Z",
                            "request": {"method": "GET", "url": record.url, "headers": headers},
                            "response": {"status": 200, "headers": [{"name": "Content-Type",
                                                                     "value": record.content_type}],
                                         "content": content}})
        har = tmp_path / "page.har"
        har.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
        records = recordings.read_recording(str(har), keep_pages=True).records
        replay = culprit.Replay(planted["engine"], records, culprit.Expectation("text", ARTICLE))
        assert named(culprit.find_culprits(replay))[0][0] == PLANTED["text"]

    def test_what_the_recording_lacks_is_said(self, planted):
        with pytest.raises(culprit.CulpritError, match="no request in the recording"):
            culprit.Replay(planted["engine"], planted["records"], culprit.Expectation("allowed", "nowhere.test/x"))
        with pytest.raises(culprit.CulpritError, match="not in the recording"):
            culprit.Replay(planted["engine"], planted["records"], culprit.Expectation("text", "x"),
                           page_url="https://other.test/")
        with pytest.raises(ValueError, match="not a CSS selector"):
            culprit.Expectation("selector", "div[")


def test_a_page_recorded_as_dejunk_rewrote_it_is_refused_with_the_way_out(planted):
    page = next(r for r in planted["records"] if r.page is not None)
    rewritten = dataclasses.replace(page, action="rewritten", removed=4, selectors=("##.ad",))
    records = [rewritten if r is page else r for r in planted["records"]]
    with pytest.raises(culprit.CulpritError, match=r"as dejunk rewrote it \(4 elements .*dejunk.allow SITE"):
        culprit.Replay(planted["engine"], records, culprit.Expectation("text", ARTICLE))
    # A network expectation does not need the page's body.
    replay = culprit.Replay(planted["engine"], records, culprit.Expectation("allowed", "oil.1.3.5"))
    assert [r.text for r in replay.fired] == [PLANTED["script"]]


def test_live_bisection_tries_scriptlets_and_routes_only_the_site():
    engine = Engine.from_text("||ads.test^\nsite.test##+js(set-constant, adsOk, true)\nsite.test##+js(nowebrtc)\n"
                              "##.ad\n", name="l.txt")
    live = culprit.LiveBisect(engine, "Site.test")
    page = "https://www.site.test/a"
    ad = Request.from_strings("https://ads.test/a.js", page, "script")
    elsewhere = Request.from_strings("https://ads.test/a.js", "https://other.test/", "script")
    assert live.engine.check_request(ad).blocked
    assert len(live.engine.cosmetic(page).scriptlets) == 2  # the page loads with every rule: both noted
    live.note_page(page, ["##.ad"], [["l.txt", 4]])
    live.note_page("https://other.test/", ["##.ad"], [["l.txt", 4]])  # another site's page: not noted
    assert sorted(live.fired) == [("l.txt", 1), ("l.txt", 2), ("l.txt", 3), ("l.txt", 4)]

    def broken() -> bool:  # the page breaks when set-constant runs
        return any(call.name == "set-constant" for call in live.engine.cosmetic(page).scriptlets)

    said = live.answer(True)
    assert said.startswith("step 1: 0 of the 4 rules") and not live.engine.check_request(ad).blocked
    assert live.engine.check_request(elsewhere).blocked  # other sites keep every rule
    for _ in range(20):
        said = live.answer(broken())
        if live.phase == "done":
            break
    assert "site.test##+js(set-constant, adsOk, true) (l.txt:2)" in said
    assert "add to your filters: site.test#@#+js(set-constant, adsOk, true)" in said
    assert live.engine.check_request(ad).blocked and broken()  # over: every rule again


@pytest.mark.parametrize("rule,page,gone", [
    ("site.test##+js(set-constant, adsOk, true)", "https://www.site.test/", "scriptlets"),
    ("##.article", "https://www.site.test/", "generic"),
    ("site.test,other.test##.article", "https://www.site.test/", "specific"),
])
def test_the_exceptions_work_in_the_engine(rule, page, gone):
    exception = culprit.exception_for(culprit.FiredRule("cosmetic", rule, "l", 1), "site.test")
    before = Engine.from_text(rule).cosmetic(page)
    after = Engine.from_text(f"{rule}\n{exception}\n").cosmetic(page)
    elsewhere = Engine.from_text(f"{rule}\n{exception}\n").cosmetic("https://other.test/")
    if gone == "scriptlets":
        assert before.scriptlets and not after.scriptlets
    elif gone == "generic":
        assert len(after.disabled) == len(before.disabled) + 1 and not elsewhere.disabled
    else:
        assert before.specific and not after.specific and elsewhere.specific
