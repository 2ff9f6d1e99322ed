"""Building reports from records: counts, bytes, failures over time, deciding anew, the list-update comparison, HTML."""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from filters.reports import report as reports
from filters.engine import Engine
from filters.reports.recordings import Record
from filters.reports.report import bucket_width, build_report, compare, decide_records, report_to_dict
from filters.reports.report_html import render_html
from filters.request import Request

REPO = Path(__file__).resolve().parents[2]
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def exchange(url: str, *, type: str = "script", size: int | None = 1000, action: str | None = None,
             source: str = "https://news.example/", **fields) -> Record:
    request = Request.from_strings(url, source if type != "document" else url, type)
    return Record(source="flow", origin="test", url=url, host=request.host, type=type, request=request,
                  size=size, status=200, action=action, time=fields.pop("time", T0), **fields)


def event(action: str, **fields) -> Record:
    return Record(source="event", origin="test", action=action, **fields)


@pytest.fixture
def session() -> list[Record]:
    """A small session: a page, allowed and blocked subresources, policies, failures, a rewrite."""
    return [
        exchange("https://news.example/", type="document", size=50_000, action="rewritten", removed=3,
                 selectors=("##.ad",), bytes_before=50_000, bytes_after=48_000),
        exchange("https://news.example/app.js", size=20_000),
        exchange("https://cdn.example/lib.js", size=30_000),
        exchange("https://ads.example/a.js", size=10_000, action="blocked", rule="||ads.example^", list="easylist.txt", line=5),
        exchange("https://ads.example/b.png", type="image", size=4_000, action="blocked", rule="||ads.example^",
                 list="easylist.txt", line=5),
        exchange("https://px.tracker.example/p", type="image", size=None, action="blocked", rule="||tracker.example^",
                 list="easyprivacy.txt", line=9),
        exchange("https://allowed.ads.example/ok.js", size=2_000, exception="@@||allowed.ads.example^"),
        exchange("https://img.example/x.jpg", type="image", size=6_000, action="policy_image", pattern="@bad"),
        exchange("https://down.example/", type="script", size=0, action="upstream_error", failure="dns",
                 time=T0 + 10),
        exchange("https://slow.example/", type="script", size=0, action="upstream_error", failure="response_timeout",
                 time=T0 + 130),
        exchange("https://site.example/", type="document", size=7_000, action="allowed_site", pattern="site.example"),
        event("upstream_error", host="down.example", failure="dns", time=T0 + 15),
        event("blocked", host="ads.example", url="https://ads.example/c.js", type="script", rule="||ads.example^",
              list="easylist.txt", line=5),
        event("policy_cookie", host="cookies.example", pattern=None),
        event("rewritten", url="https://blog.example/", removed=2, selectors=("##.ad", "###promo"),
              bytes_before=9_000, bytes_after=8_500),
        event("rewrite_error", url="https://bad.example/"),
        event("addon_error", url="https://x.example/"),
    ]


class TestBuildReport:
    def test_totals(self, session):
        t = build_report(session).totals
        assert t.requests == 11 and t.events == 6
        assert t.bytes == 50_000 + 20_000 + 30_000 + 10_000 + 4_000 + 2_000 + 6_000 + 7_000
        assert t.bytes_unknown == 1
        assert (t.blocked, t.blocked_bytes, t.blocked_bytes_unknown) == (4, 14_000, 2)
        assert t.allowed == 8 and t.allowed_bytes == t.bytes - 14_000
        assert t.saved_share == pytest.approx(14_000 / t.bytes)
        assert (t.pages_rewritten, t.elements_removed, t.rewrite_bytes_saved) == (2, 5, 2_500)
        assert (t.policy_actions, t.allowed_site, t.exceptions) == (2, 1, 1)
        assert (t.upstream_failures, t.addon_errors, t.rewrite_errors) == (3, 1, 1)

    def test_per_list_counts_requests_and_bytes_saved(self, session):
        rows = {r.list: r for r in build_report(session).per_list}
        assert (rows["easylist.txt"].blocked, rows["easylist.txt"].bytes, rows["easylist.txt"].bytes_unknown) == (3, 14_000, 1)
        assert (rows["easyprivacy.txt"].blocked, rows["easyprivacy.txt"].bytes, rows["easyprivacy.txt"].bytes_unknown) == (1, 0, 1)
        assert rows["easylist.txt"].rules == 1
        assert [r.list for r in build_report(session).per_list] == ["easylist.txt", "easyprivacy.txt"]

    def test_hosts_rules_and_types(self, session):
        report = build_report(session)
        top = report.top_blocked_hosts[0]
        assert (top.host, top.blocked, top.requests, top.blocked_bytes) == ("ads.example", 3, 2, 14_000)
        assert report.hosts[0].host == "news.example" and report.hosts[0].bytes == 70_000
        rule = report.rules[0]
        assert (rule.rule, rule.list, rule.line, rule.kind, rule.hits, rule.bytes) == (
            "||ads.example^", "easylist.txt", 5, "block", 3, 14_000)
        assert any(r.kind == "exception" and r.rule == "@@||allowed.ads.example^" for r in report.rules)
        by_type = {t.type: t for t in report.types}
        assert (by_type["image"].requests, by_type["image"].blocked, by_type["image"].blocked_bytes) == (3, 2, 4_000)
        assert (by_type["script"].requests, by_type["script"].blocked) == (6, 2)  # one blocked is an event

    def test_policies(self, session):
        rows = [(p.policy, p.host, p.pattern, p.count) for p in build_report(session).policies]
        assert sorted(rows) == [("cookie", "cookies.example", None, 1), ("image", "img.example", "@bad", 1)]

    def test_failures_by_kind_host_and_time(self, session):
        failures = build_report(session).failures
        assert failures.total == 3 and failures.by_kind == {"dns": 2, "response_timeout": 1}
        assert [(h.host, h.count, h.kinds) for h in failures.by_host] == [
            ("down.example", 2, {"dns": 2}), ("slow.example", 1, {"response_timeout": 1})]
        assert failures.bucket_seconds == 5  # 120 s in at most 60 buckets
        assert failures.over_time[0].start == "2026-01-01T00:00:10Z"
        assert [b.count for b in failures.over_time if b.count] == [1, 1, 1]
        assert failures.over_time[-1].kinds == {"response_timeout": 1}
        assert sum(b.count for b in failures.over_time) == 3

    def test_rewrites(self, session):
        rewrites = build_report(session).rewrites
        assert rewrites.selectors == {"##.ad": 2, "###promo": 1}
        assert [(p.url, p.removed) for p in rewrites.top_pages] == [("https://news.example/", 3), ("https://blog.example/", 2)]

    def test_empty_input(self):
        report = build_report([])
        assert report.totals.requests == 0 and report.totals.saved_share is None
        assert report.failures.over_time == []

    @pytest.mark.parametrize("span, width", [(0, 1), (59, 1), (60, 5), (3000, 60), (86400, 3600), (10**8, 1694916)])
    def test_bucket_width(self, span, width):
        assert bucket_width(span) == width
        assert span / width < reports.MAX_BUCKETS


class TestDecideAnew:
    def test_lists_decide_every_exchange_and_blocked_events_are_left_out(self, session):
        engine = Engine.from_text("||cdn.example^\n@@||allowed.ads.example^\n||ads.example^\n", "new.txt")
        records, notes = decide_records(session, engine)
        by_url = {r.url: r for r in records if r.is_exchange}
        assert by_url["https://cdn.example/lib.js"].action == "blocked"
        assert (by_url["https://cdn.example/lib.js"].list, by_url["https://cdn.example/lib.js"].line) == ("new.txt", 1)
        assert by_url["https://px.tracker.example/p"].action is None
        assert by_url["https://ads.example/a.js"].rule == "||ads.example^" and by_url["https://ads.example/a.js"].list == "new.txt"
        assert by_url["https://allowed.ads.example/ok.js"].exception == "@@||allowed.ads.example^"
        assert by_url["https://site.example/"].action == "allowed_site", "the lists never see an allowed site"
        assert by_url["https://down.example/"].action == "upstream_error"
        assert by_url["https://news.example/"].action == "rewritten"
        assert not any(r.action == "blocked" and not r.is_exchange for r in records)
        assert len(notes) == 1 and notes[0].startswith("1 blocked event from event logs was left out")
        assert build_report(records).totals.blocked == 3


OLD_LIST = """! old
||ads.example^
||tracker.example^
||retired.example^
@@||ok.tracker.example^
"""
NEW_LIST = """! new
||ads.example^
||tracker.example^
||fresh.example^
||cdn.example^
@@||cdn.example^
"""


@pytest.fixture
def engines():
    return Engine.from_text(OLD_LIST, "old.txt"), Engine.from_text(NEW_LIST, "new.txt")


class TestCompare:
    def traffic(self) -> list[Record]:
        return [
            exchange("https://news.example/", type="document", size=40_000, page=b"<html>a</html>"),
            exchange("https://ads.example/a.js", size=1_000),  # blocked before and after
            exchange("https://retired.example/r.js", size=2_000),  # only the old list blocks it
            exchange("https://fresh.example/f.js", size=3_000),  # only the new list blocks it
            exchange("https://fresh.example/g.js", size=None),
            exchange("https://ok.tracker.example/t.js", size=500),  # old: exception; new: blocked
            exchange("https://cdn.example/lib.js", size=700),  # new: blocked but excepted
            exchange("https://plain.example/x.js", size=100),
            event("blocked", url="https://ads.example/z.js", host="ads.example"),  # events are not decided
        ]

    def test_newly_blocked_and_allowed_with_the_rules_on_each_side(self, engines):
        result = compare(self.traffic(), *engines, lists_before=["old.txt"], lists_after=["new.txt"])
        assert result.requests == 8
        assert (result.blocked_before, result.blocked_after) == (2, 4)
        assert (result.blocked_bytes_before, result.blocked_bytes_after) == (3_000, 4_500)
        assert sorted(c.url for c in result.newly_blocked) == [
            "https://fresh.example/f.js", "https://fresh.example/g.js", "https://ok.tracker.example/t.js"]
        assert [c.url for c in result.newly_allowed] == ["https://retired.example/r.js"]
        assert (result.newly_blocked_count, result.newly_allowed_count) == (3, 1)
        assert (result.newly_blocked_bytes, result.newly_allowed_bytes) == (3_500, 2_000)
        tracker = next(c for c in result.newly_blocked if c.host == "ok.tracker.example")
        assert (tracker.before.blocked, tracker.before.exception, tracker.before.exception_line) == (
            False, "@@||ok.tracker.example^", 5)
        assert (tracker.after.blocked, tracker.after.rule, tracker.after.list, tracker.after.line) == (
            True, "||tracker.example^", "new.txt", 3)
        retired = result.newly_allowed[0]
        assert (retired.before.rule, retired.before.line) == ("||retired.example^", 4)
        assert retired.after.text == "allowed: no rule matched"
        assert [(r.rule, r.requests, r.bytes) for r in result.rules_newly_blocking] == [
            ("||fresh.example^", 2, 3_000), ("||tracker.example^", 1, 500)]
        assert [(r.rule, r.list, r.line) for r in result.rules_no_longer_blocking] == [("||retired.example^", "old.txt", 4)]
        assert result.rule_changed == 1  # ads.example: the same rule text, but from another list
        assert result.blocked_after - result.blocked_before == result.newly_blocked_count - result.newly_allowed_count

    def test_pages_need_a_rewriter(self, engines):
        result = compare(self.traffic(), *engines, lists_before=["old.txt"], lists_after=["new.txt"],
                         pages_unavailable="no rewriter here")
        assert not result.pages.available and result.pages.reason == "no rewriter here"

    def test_pages_whose_removed_elements_changed(self, engines):
        traffic = self.traffic() + [exchange("https://same.example/", type="document", page=b"<html>b</html>")]

        def old(body, url, content_type):
            return (2, ["##.ad"]) if url == "https://news.example/" else (1, ["##.x"])

        def new(body, url, content_type):
            assert content_type and body.startswith(b"<html>")
            return (3, ["##.ad", "##.promo"]) if url == "https://news.example/" else (1, ["##.x"])

        result = compare(traffic, *engines, lists_before=["old.txt"], lists_after=["new.txt"], rewriters=(old, new))
        pages = result.pages
        assert pages.available and pages.pages == 2
        assert (pages.removed_before, pages.removed_after) == (3, 4)
        (change,) = pages.changed
        assert (change.url, change.removed_before, change.removed_after) == ("https://news.example/", 2, 3)
        assert (change.selectors_added, change.selectors_dropped) == (["##.promo"], [])

    def test_a_page_the_rewriter_fails_on_is_named_not_fatal(self, engines):
        def broken(body, url, content_type):
            raise RuntimeError("cannot parse")

        result = compare(self.traffic(), *engines, lists_before=[], lists_after=[], rewriters=(broken, broken))
        assert result.pages.pages == 0 and result.pages.errors == ["https://news.example/: RuntimeError: cannot parse"]


class TestPageRewriter:
    def test_the_rewriter_runs_with_the_lists_cosmetic_rules(self, monkeypatch):
        calls = []

        @dataclass
        class FakeResult:
            removed: int
            selectors: list = field(default_factory=list)

        class FakeStore:
            @classmethod
            def from_lists(cls, lists):
                store = cls()
                store.names = [filter_list.name for filter_list in lists]
                return store

            def page_rules(self, url):
                return ("rules", tuple(self.names), url)

        def rewrite_page(body, *, url, content_type, rules, mode="remove"):
            calls.append((body, url, content_type, rules))
            return FakeResult(2, ["##.ad"])

        monkeypatch.setattr(reports, "rewrite_page", rewrite_page)
        monkeypatch.setattr(reports, "CosmeticStore", FakeStore)
        rewriter = reports.page_rewriter(["builtin"])
        assert rewriter(b"<html>", "https://news.example/", "text/html") == (2, ["##.ad"])
        assert calls == [(b"<html>", "https://news.example/", "text/html", ("rules", ("builtin.txt",), "https://news.example/"))]

    def test_an_engine_with_cosmetic_rules_is_asked_directly(self, monkeypatch):
        seen = []

        class CosmeticEngine:
            def cosmetic(self, url):
                seen.append(url)
                return "engine rules"

        def rewrite_page(body, *, url, content_type, rules, mode="remove"):
            return types.SimpleNamespace(removed=1 if rules == "engine rules" else 0, selectors=[])

        monkeypatch.setattr(reports, "rewrite_page", rewrite_page)
        rewriter = reports.page_rewriter(["builtin"], CosmeticEngine())
        assert rewriter(b"", "https://a.example/", "text/html") == (1, []) and seen == ["https://a.example/"]


class TestOutput:
    def test_json_document_and_its_documentation(self, session):
        report = build_report(session, inputs=[reports.InputSummary("x.flows", "input", "flows", 11, 0)])
        document = json.loads(json.dumps(report_to_dict(report)))
        assert document["dejunk_report"] == reports.REPORT_VERSION
        assert document["totals"]["blocked"] == 4 and document["totals"]["saved_share"] > 0
        readme = (REPO / "README.md").read_text()
        docs = readme.split("## Replaying traffic and reports", 1)[1].split("\n## ", 1)[0]
        documented = set(re.findall(r"^\| `([a-z_]+)` \|", docs, re.M))
        missing = [k for k in list(document) + list(document["totals"]) if k not in documented]
        assert not missing, f"keys not documented in the README's report section: {missing}"

    def test_text_summary(self, session):
        text = reports.render_text(build_report(session))
        assert "blocked: 4 requests, 14.0 kB saved" in text and "2 blocked of unknown size" in text
        assert "easylist.txt: 3 blocked" in text and "upstream failures: dns 2, response_timeout 1" in text


class TestHtml:
    def parse(self, report) -> BeautifulSoup:
        return BeautifulSoup(render_html(report), "html.parser")

    def test_tables_and_plots(self, session):
        soup = self.parse(build_report(session))
        for table_id in ("totals", "per-list", "top-blocked-hosts", "rules", "types", "policies", "failures-by-host",
                         "rewritten-pages"):
            assert soup.find("table", id=table_id) is not None, table_id
        per_list = [[td.get_text() for td in tr.find_all("td")] for tr in soup.find("table", id="per-list").tbody.find_all("tr")]
        assert per_list[0][:2] == ["easylist.txt", "3"]

        plot = soup.find("svg", id="plot-bytes-by-host")
        blocked = {r.find("title").get_text().split(":")[0]: float(r["width"]) for r in plot.find_all("rect", class_="blocked")}
        allowed = {r.find("title").get_text().split(":")[0]: float(r["width"]) for r in plot.find_all("rect", class_="allowed")}
        assert blocked["ads.example"] > 0 and allowed["ads.example"] == 0
        assert blocked["news.example"] == 0 and allowed["news.example"] == 400.0  # the largest host fills the bar
        assert allowed["cdn.example"] == pytest.approx(400 * 30_000 / 70_000, abs=0.1)

        failures = soup.find("svg", id="plot-failures-over-time")
        bars = failures.find_all("rect", class_="failures")
        assert sorted(b["data-kind"] for b in bars) == ["dns", "dns", "response_timeout"]
        assert "2026-01-01T00:00:10Z" in failures.get_text()

    def test_bytes_plot_shows_blocked_hosts_next_to_the_largest(self):
        big = [exchange(f"https://site{i}.example/", type="document", size=100_000 + i) for i in range(30)]
        small_ad = exchange("https://ads.example/a.js", size=500, action="blocked", rule="||ads.example^")
        plot = self.parse(build_report(big + [small_ad])).find("svg", id="plot-bytes-by-host")
        labels = [t.get_text() for t in plot.find_all("text") if t.get("text-anchor") == "end"]
        assert len(labels) == 20 and "ads.example" in labels and labels[0] == "site29.example"

    def test_self_contained(self, session):
        page = render_html(build_report(session))
        soup = BeautifulSoup(page, "html.parser")
        assert soup.find("script") is None and soup.find("link") is None and soup.find("img") is None
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
        assert "@import" not in page and "url(" not in page

    def test_recorded_text_is_escaped(self):
        hostile = [
            exchange("https://ads.example/x", action="blocked", rule="||ads.example^<script>", list="<i>list</i>", line=1),
            event("rewritten", url='https://news.example/"><script>alert(1)</script>', removed=1,
                  selectors=("##<b>",)),
        ]
        page = render_html(build_report(hostile))
        assert "<script>" not in page and "<b>" not in page and "<i>" not in page
        assert "||ads.example^&lt;script&gt;" in page and "&lt;i&gt;list&lt;/i&gt;" in page
        assert "https://news.example/&quot;&gt;&lt;script&gt;" in page and "##&lt;b&gt;" in page

    def test_empty_report_says_so(self):
        soup = self.parse(build_report([]))
        assert soup.find(id="plot-bytes-by-host-empty") and soup.find(id="failures-empty")
        # Each empty section says what it lacks, once: no "None." under several headings.
        messages = [p.get_text() for p in soup.find_all("p", class_="muted")]
        assert "No upstream failures." in messages and "No policy actions." in messages
        assert len(messages) == len(set(messages))

    def test_comparison_section(self, engines):
        traffic = TestCompare().traffic()
        report = build_report(traffic)
        report.compare = compare(traffic, *engines, lists_before=["old.txt"], lists_after=["new.txt"],
                                 pages_unavailable="no rewriter here")
        soup = self.parse(report)
        rows = soup.find("table", id="newly-blocked").tbody.find_all("tr")
        assert len(rows) == 3
        allowed = soup.find("table", id="newly-allowed").tbody.find("tr").find_all("td")
        assert allowed[0].get_text() == "https://retired.example/r.js"
        assert "||retired.example^ (old.txt:4)" in allowed[2].get_text()
        assert soup.find(id="pages-not-compared").get_text() == "no rewriter here"


# --- what a reader sees: no None, counts in the right number, unknown sizes, aligned numbers ------

NUMBER = re.compile(r"^(≥ )?[\d,]+(\.\d)?( (B|kB|MB|GB))?$|^–$")


def one_of_each() -> list[Record]:
    """Exactly one of everything a sentence counts: a page, an element, an error, a blocked request."""
    return [
        event("rewritten", url="https://blog.example/", removed=1, selectors=("##.ad",), bytes_before=900, bytes_after=800),
        event("rewrite_error", url="https://bad.example/"),
        exchange("https://ads.example/a.js", size=None, action="blocked", rule="||ads.example^", list="l.txt", line=1),
        exchange("https://down.example/", size=0, action="upstream_error", failure="dns"),
    ]


def events_only() -> list[Record]:
    """An event log: blocked requests without sizes, and no record of the requests that were allowed."""
    return [
        event("blocked", host="ads.example", url="https://ads.example/a.js", type="script", rule="||ads.example^",
              list="easylist.txt", line=5),
        event("blocked", host="ads.example", url="https://ads.example/b.js", type="script", rule="||ads.example^",
              list="easylist.txt", line=5),
    ]


def compared(engines, rewriters=None):
    traffic = TestCompare().traffic()
    report = build_report(traffic)
    report.compare = compare(traffic, *engines, lists_before=["old.txt"], lists_after=["new.txt"],
                             rewriters=rewriters, pages_unavailable="no rewriter here")
    return report


def cells(soup: BeautifulSoup, table_id: str) -> list[list]:
    return [tr.find_all("td") for tr in soup.find("table", id=table_id).tbody.find_all("tr")]


class TestReadable:
    def reports(self, session, engines) -> dict:
        return {
            "session": build_report(session),
            "empty": build_report([]),
            "one of each": build_report(one_of_each()),
            "events only": build_report(events_only()),
            "compared": compared(engines),
        }

    def test_nothing_shows_none_null_or_na(self, session, engines):
        for name, report in self.reports(session, engines).items():
            page = render_html(report)
            visible = BeautifulSoup(page, "html.parser").get_text(" ")
            assert ">None<" not in page and ">null<" not in page, name
            shown = re.findall(r".{0,30}\b(?:None|null|n/a)\b.{0,30}", visible)
            assert not shown, (name, shown)
            assert not re.search(r"\b(None|null|n/a)\b", reports.render_text(report)), name

    def test_counts_agree_with_their_nouns(self, session, engines):
        one = build_report(one_of_each())
        soup = BeautifulSoup(render_html(one), "html.parser")
        text = " ".join(element.get_text(" ") for element in soup.find_all(["p", "li", "h2", "h3"]))
        assert "1 page, 1 element removed, 1 rewrite error." in text
        summary = reports.render_text(one)
        assert "blocked: 1 request (size unknown)" in summary
        singular_as_plural = re.compile(r"(?<![\d,.])1 (pages|elements|requests|errors|events|failures|rules)\b")
        assert not singular_as_plural.search(text) and not singular_as_plural.search(summary)
        many = BeautifulSoup(render_html(build_report(session)), "html.parser").get_text(" ")
        assert "2 pages, 5 elements removed, 1 rewrite error." in many
        assert "blocked: 4 requests" in reports.render_text(build_report(session))
        fake = (lambda body, url, ctype: (1, ["##.a"]), lambda body, url, ctype: (2, ["##.a", "##.b"]))
        pages = BeautifulSoup(render_html(compared(engines, fake)), "html.parser").get_text(" ")
        assert "1 page compared; elements removed 1 → 2." in pages

    def test_plural(self):
        assert reports.plural(1, "page") == "1 page" and reports.plural(0, "page") == "0 pages"
        assert reports.plural(1200, "rewrite error") == "1,200 rewrite errors"
        assert reports.plural(2, "entry", "entries") == "2 entries"

    def test_unknown_sizes_are_a_dash_not_zero_bytes(self, session):
        soup = BeautifulSoup(render_html(build_report(events_only())), "html.parser")
        host = cells(soup, "top-blocked-hosts")[0]
        assert [td.get_text() for td in host] == ["ads.example", "2", "–", "–"]
        assert host[3]["title"] == "size unknown" and "not recorded" in host[2]["title"]
        assert cells(soup, "per-list")[0][2].get_text() == "–"
        assert cells(soup, "rules")[0][4].get_text() == "–"
        assert cells(soup, "types")[0][4].get_text() == "–"
        totals = {tds[0].get_text(): tds[2].get_text() for tds in cells(soup, "totals")}
        assert totals["blocked"] == "size unknown" and totals["requests"] == ""
        summary = reports.render_text(build_report(events_only()))
        assert "blocked: 2 requests (size unknown)" in summary and "ads.example: 2 (size unknown)" in summary
        assert "easylist.txt: 2 blocked, size unknown" in summary and "0 B" not in summary
        # Some sizes known: the known part, marked as a lower bound.
        partial = BeautifulSoup(render_html(build_report(session)), "html.parser")
        ads = next(tds for tds in cells(partial, "top-blocked-hosts") if tds[0].get_text() == "ads.example")
        assert ads[3].get_text() == "≥ 14.0 kB" and "1 request of unknown size" in ads[3]["title"]

    def test_host_rows_count_unknown_sizes(self, session):
        report = build_report(session + events_only())
        ads = next(h for h in report.hosts if h.host == "ads.example")
        assert (ads.blocked, ads.blocked_bytes, ads.blocked_bytes_unknown) == (5, 14_000, 3)
        rule = next(r for r in report.rules if r.rule == "||ads.example^")
        assert (rule.hits, rule.bytes, rule.bytes_unknown) == (5, 14_000, 3)
        script = next(t for t in report.types if t.type == "script")
        assert (script.blocked, script.blocked_bytes_unknown, script.bytes_unknown) == (4, 3, 0)
        exception = next(r for r in report.rules if r.kind == "exception")
        assert exception.bytes_unknown == exception.hits  # nothing is sized for an exception hit

    def test_numbers_are_right_aligned_and_only_numbers(self, session, engines):
        for name, report in self.reports(session, engines).items():
            soup = BeautifulSoup(render_html(report), "html.parser")
            for table in soup.find_all("table"):
                headers = table.thead.find_all("th")
                rows = [tr.find_all("td") for tr in table.tbody.find_all("tr")]
                for i, th in enumerate(headers):
                    column = [row[i] for row in rows]
                    if all(td.get_text() == "–" for td in column):
                        continue  # nothing known in this column: it cannot say what it holds
                    numeric = all(NUMBER.match(td.get_text()) for td in column)
                    aligned = "n" in (th.get("class") or []) and all("n" in (td.get("class") or []) for td in column)
                    assert numeric == aligned, (name, table["id"], th.get_text(), [td.get_text() for td in column])

    def test_long_urls_and_rules_are_shortened_with_the_whole_text_as_title(self):
        from filters.reports.report_html import LONG_TEXT

        rule = "||ads.example^$domain=" + "|".join(f"site{i}.example" for i in range(40))
        url = "https://ads.example/track?" + "&".join(f"k{i}=v{i}" for i in range(60))
        soup = BeautifulSoup(render_html(build_report([
            exchange(url, action="blocked", rule=rule, list="easylist.txt", line=7),
            exchange("https://ads.example/x.js", action="blocked", rule="||ads.example^", list="easylist.txt", line=8),
        ])), "html.parser")
        by_title = {bool(tds[0].get("title")): tds[0] for tds in cells(soup, "rules")}
        long_cell, short_cell = by_title[True], by_title[False]
        assert long_cell.get_text().endswith("…") and len(long_cell.get_text()) == LONG_TEXT
        assert long_cell["title"] == rule and rule.startswith(long_cell.get_text()[:-1])
        assert short_cell.get_text() == "||ads.example^" and not short_cell.get("title")

    def test_every_table_can_scroll_sideways_instead_of_squeezing(self, session):
        soup = BeautifulSoup(render_html(build_report(session)), "html.parser")
        for table in soup.find_all("table"):
            assert "wide" in table.parent.get("class", []), table["id"]
        for svg in soup.find_all("svg"):
            assert "wide" in svg.parent.get("class", []), svg["id"]
