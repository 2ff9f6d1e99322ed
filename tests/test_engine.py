"""The engine end to end: decisions, exceptions, page-level switches, modifiers, lists, cache."""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from filters import Engine, Request
from filters.network.decision import ALLOWED
from filters.cosmetic.rules import RuleIndex, StoredIndex
from filters.engine import ENGINE_VERSION, PageExceptions
from filters.network import index as index_module

PAGE = "https://news.example/article"


def engine(*lines: str, **kwargs) -> Engine:
    return Engine.from_text("[Adblock Plus 2.0]\n" + "\n".join(lines), "test.txt", **kwargs)


# --- blocking and exceptions ---------------------------------------------------------------------


class TestBlocking:
    def test_host_rule_blocks_with_location(self):
        decision = engine("! comment", "||ads.example^").check("https://x.ads.example/a.js", PAGE, "script")
        assert decision.blocked
        assert (decision.filter, decision.list, decision.line) == ("||ads.example^", "test.txt", 3)

    def test_nothing_matches(self):
        assert engine("||ads.example^").check("https://cdn.example/a.js", PAGE, "script") is ALLOWED

    def test_exception_overrides_and_keeps_the_block(self):
        e = engine("||ads.example^", "@@||ads.example/ok/$script")
        decision = e.check("https://ads.example/ok/a.js", PAGE, "script")
        assert not decision.blocked
        assert decision.filter == "||ads.example^" and decision.line == 2
        assert decision.exception == "@@||ads.example/ok/$script" and decision.exception_line == 3
        assert e.check("https://ads.example/ok/a.png", PAGE, "image").blocked

    def test_important_ignores_exceptions(self):
        e = engine("||ads.example^$important", "@@||ads.example^")
        decision = e.check("https://ads.example/a.js", PAGE, "script")
        assert decision.blocked and decision.important and decision.exception is None

    def test_important_found_after_a_plain_block(self):
        e = engine("/banner/*", "||ads.example/banner/$important", "@@/banner/*")
        decision = e.check("https://ads.example/banner/1.png", PAGE, "image")
        assert decision.blocked and decision.important and decision.filter == "||ads.example/banner/$important"

    def test_types(self):
        e = engine("/ad.$image")
        assert e.check("https://x.example/ad.png", PAGE, "image").blocked
        assert not e.check("https://x.example/ad.png", PAGE, "script").blocked
        assert e.check("https://x.example/ad.png", PAGE, "img").blocked  # aliases work

    def test_documents_only_by_host_rules_or_explicit_type(self):
        e = engine("||ads.example^", "/ad.", "||bad.example^$document")
        assert e.check("https://ads.example/", None, "document").blocked
        assert not e.check("https://x.example/ad.html", None, "document").blocked
        assert e.check("https://bad.example/", None, "document").blocked
        assert not e.check("https://bad.example/a.js", PAGE, "script").blocked

    def test_popup_only_when_asked(self):
        e = engine("||pop.example^$popup", "||ads.example^")
        assert not e.check("https://pop.example/", PAGE, "document").blocked
        assert e.check("https://pop.example/", PAGE, "popup").blocked
        assert not e.check("https://ads.example/", PAGE, "popup").blocked

    def test_all(self):
        e = engine("||ads.example^$all")
        for kind in ("document", "popup", "script", "image", "other"):
            assert e.check("https://ads.example/", PAGE, kind).blocked

    def test_third_party_by_registrable_domain(self):
        e = engine("||cdn.example.co.uk^$third-party")
        assert not e.check("https://cdn.example.co.uk/a.js", "https://www.example.co.uk/", "script").blocked
        assert e.check("https://cdn.example.co.uk/a.js", "https://www.other.co.uk/", "script").blocked
        assert e.check("https://cdn.example.co.uk/a.js", None, "script").blocked

    def test_first_party_negation(self):
        e = engine("/track.$~third-party")
        assert e.check("https://www.news.example/track.js", PAGE, "script").blocked
        assert not e.check("https://cdn.example/track.js", PAGE, "script").blocked

    def test_ip_hosts(self):
        e = engine("||203.0.113.5^")
        assert e.check("http://203.0.113.5:8080/x", PAGE, "image").blocked
        assert not e.check("http://203.0.113.55/x", PAGE, "image").blocked

    def test_idn_host(self):
        e = engine("||xn--bcher-kva.example^")
        assert e.check("https://bücher.example/ad.js", PAGE, "script").blocked
        assert e.check("https://BÜCHER.example/ad.js", PAGE, "script").blocked

    def test_websocket_scheme_is_a_websocket(self):
        e = engine("||ws.example^$websocket")
        assert e.check("wss://ws.example/socket", PAGE, "other").blocked
        assert not e.check("https://ws.example/socket", PAGE, "other").blocked

    def test_unfiltered_schemes_and_bad_urls(self):
        e = engine("*$image", "||ads.example^")
        odd = ("data:image/png;base64,AAAA", "about:blank", "blob:https://x/1", "", "http://", "not a url")
        for url in odd + ("http://[::1", "https://ads.example:99999/", "https://a..b/", "//ads.example/x"):
            assert isinstance(e.check(url, PAGE, "image").blocked, bool)
        assert not e.check("data:image/png;base64,AAAA", PAGE, "image").blocked

    def test_long_urls_do_not_hang(self):
        e = engine("/a*a*a*a*c", "||ads.example^")
        url = "https://x.example/_ylh=X3oDMTEwdnZjMjFhBF9TAzI3MTYx?" + "a=b&" * 2000
        assert not e.check(url, PAGE, "script").blocked
        assert e.check("https://ads.example/?" + "x" * 8192, PAGE, "script").blocked

    def test_method(self):
        e = engine("||t.example/collect$method=post")
        assert e.check("https://t.example/collect", PAGE, "xhr", "POST").blocked
        assert not e.check("https://t.example/collect", PAGE, "xhr", "get").blocked

    def test_check_request(self):
        e = engine("||ads.example^$third-party")
        request = Request.from_strings("https://ads.example/a.js", PAGE, "script", "GET")
        assert e.check_request(request) == e.check("https://ads.example/a.js", PAGE, "script")

    def test_same_decision_object_for_repeated_blocks(self):
        e = engine("||ads.example^")
        assert e.check("https://ads.example/1", PAGE) is e.check("https://ads.example/2", PAGE)


class TestBadfilter:
    def test_badfilter_before_or_after(self):
        e = engine("||ads.example^$badfilter", "||ads.example^", "/banner.$script", "/banner.$script,badfilter")
        assert not e.check("https://ads.example/a.js", PAGE, "script").blocked
        assert not e.check("https://x.example/banner.js", PAGE, "script").blocked
        assert e.skipped["removed by $badfilter"] == 2

    def test_badfilter_needs_the_same_options(self):
        e = engine("/banner.$script", "/banner.$image,badfilter")
        assert e.check("https://x.example/banner.js", PAGE, "script").blocked

    def test_badfilter_across_lists_and_hosts_files(self, tmp_path):
        hosts = tmp_path / "hosts.txt"
        hosts.write_text("0.0.0.0 ads.example\n0.0.0.0 other.example\n")
        bad = tmp_path / "bad.txt"
        bad.write_text("[Adblock Plus 2.0]\n||ads.example^$badfilter\n")
        e = Engine.from_lists([str(hosts), str(bad)])
        assert not e.check("https://ads.example/", PAGE).blocked
        assert e.check("https://other.example/", PAGE).blocked


class TestPlainHostRuns:
    def test_runs_keep_ids_lines_and_badfilter_as_one_by_one(self):
        # Plain `||host^` lines between other rules are filed as runs: each keeps its own line and rule.
        lines = ["||a.example^", "||b.example^", "/ad.$script", "||c.example^", "@@||d.example^", "||d.example^",
                 "||e.example^", "||b.example^$badfilter"] + [f"||r{i}.example^" for i in range(20)]
        e = engine(*lines)
        network = e.network
        where = {network.rule_text(rid): network.rule_origin(rid)[1] for rid in range(network.rule_count)}
        assert "||b.example^" not in where and e.skipped["removed by $badfilter"] == 1
        assert where["||a.example^"] == 2 and where["||e.example^"] == 8 and where["||r19.example^"] == 29
        assert e.check("https://r7.example/x.js", PAGE, "script").line == 17
        assert not e.check("https://d.example/x.js", PAGE, "script").blocked

    def test_a_text_with_a_newline_is_filed_line_by_line(self):
        from filters.lists.syntax import FilterList
        from filters.network.engine import NetworkEngine

        weird = FilterList(path="api", name="api", network=[(1, "/ad\nx/"), (2, "||c.example^"), (3, "||d.example^")])
        network = NetworkEngine([weird])
        origins = {network.rule_text(rid): network.rule_origin(rid) for rid in range(network.rule_count)}
        assert origins["||c.example^"] == ("api", 2) and origins["||d.example^"] == ("api", 3)


def index_contents(network) -> dict:
    """What each index of a network engine holds, in a form that compares whatever the insertion order."""
    from filters.network.index import INDEXES

    contents = {}
    for name in INDEXES:
        index = getattr(network, name)
        contents[name] = (dict(index.by_host), dict(index.by_token), dict(index.by_domain), dict(index.always),
                          index.hot, index.size, [dict(table.items()) for table in index.plain_hosts])
    return contents


class TestHostRulesWithOptions:
    LINES = ["||a.example^$third-party", "||b.example^$popup", "@@||c.example^$document", "@@||d.example^$generichide",
             "||e.example^$script,important", "||f.example^$script,redirect=noopjs", "||g.example^$csp=script-src 'none'",
             "||h.example^$removeparam=utm", "||i.example^$replace=/a/b/", "||j.example^$nosuchoption",
             "||k.example^$domain=", "||l.example^$third-party,badfilter", "||a.example^$third-party,badfilter",
             "||m.example^$third-party", "||m.example^$3p", "||n.example^$~third-party", "@@||o.example^$third-party",
             "||p.example^$ping", "||q.example^$Third-Party", "||r.example^$image,domain=s.example|~t.s.example",
             "||u.example^$removeparam=~keep"]

    def _both(self, monkeypatch, trusted: bool):
        import re

        from filters.lists.syntax import parse_list_text
        from filters.network import engine as engine_module

        text = "[Adblock Plus 2.0]\n" + "\n".join(self.LINES) + "\n"
        built = engine_module.NetworkEngine([parse_list_text(text, "opts.txt", trusted=trusted)])
        monkeypatch.setattr(engine_module, "_HOST_WITH_OPTIONS", re.compile("(?!)"))
        full_way = engine_module.NetworkEngine([parse_list_text(text, "opts.txt", trusted=trusted)])
        return built, full_way

    @pytest.mark.parametrize("trusted", [True, False])
    def test_filed_as_the_full_parse_files_them(self, monkeypatch, trusted):
        from filters.network.engine import TRUSTED_ONLY_REPLACE

        # `||host^$options` lines skip the full parse (their options are read once per option string).
        built, full_way = self._both(monkeypatch, trusted)
        assert built.skipped == full_way.skipped and built.bad_lines == full_way.bad_lines
        assert built.rule_count == full_way.rule_count
        assert [(built.rule_text(r), built.rule_origin(r)) for r in range(built.rule_count)] == \
            [(full_way.rule_text(r), full_way.rule_origin(r)) for r in range(full_way.rule_count)]
        assert index_contents(built) == index_contents(full_way)
        for host in "abcdefghijklmnopqr":
            for kind in ("script", "document", "image", "popup", "ping"):
                for source in (PAGE, f"https://{host}.example/", "https://s.example/"):
                    url = f"https://{host}.example/x?utm=1&k=2"
                    assert built.check(url, source, kind) == full_way.check(url, source, kind), (host, kind, source)
        assert built.skipped["removed by $badfilter"] == 1 and built.skipped["$badfilter (applied)"] == 2
        assert built.skipped["$removeparam=~ (keep-only) is not supported"] == 1
        assert [(bad.line, bad.reason) for bad in built.bad_lines] == [
            (11, "unknown option $nosuchoption"), (12, "$domain= without a value")]
        assert built.skipped[TRUSTED_ONLY_REPLACE] == (0 if trusted else 1)


# --- page-level switches -------------------------------------------------------------------------


class TestPageExceptions:
    def test_flags_and_rules(self):
        e = engine(
            "@@||news.example^$elemhide",
            "@@||news.example/sport/$generichide",
            "@@||news.example^$genericblock",
            "@@||shop.example^$document",
        )
        page = e.page_exceptions("https://news.example/sport/x")
        assert page == PageExceptions(
            elemhide=True,
            generichide=True,
            genericblock=True,
            elemhide_rule="@@||news.example^$elemhide",
            generichide_rule="@@||news.example/sport/$generichide",
            genericblock_rule="@@||news.example^$genericblock",
        )
        assert not e.page_exceptions("https://news.example/politics").generichide
        shop = e.page_exceptions("https://www.shop.example/")
        assert shop.document and shop.elemhide and shop.document_rule == "@@||shop.example^$document"
        assert e.page_exceptions("https://other.example/") == PageExceptions()

    def test_page_switches_let_no_request_through_by_themselves(self):
        e = engine("||ads.example^", "@@||ads.example^$generichide")
        assert e.check("https://ads.example/a.js", "https://ads.example/", "script").blocked

    def test_document_exception_allows_everything_on_the_page(self):
        e = engine("||ads.example^", "@@||shop.example^$document")
        decision = e.check("https://ads.example/a.js", "https://shop.example/cart", "script")
        assert not decision.blocked and decision.exception == "@@||shop.example^$document"
        assert e.check("https://ads.example/a.js", PAGE, "script").blocked

    def test_document_exception_allows_the_page_itself(self):
        e = engine("||shop.example^", "@@||shop.example^$document")
        assert not e.check("https://shop.example/", None, "document").blocked

    def test_genericblock_keeps_site_specific_rules(self):
        e = engine("/generic-ad.", "/site-ad.$domain=news.example", "@@||news.example^$genericblock")
        assert not e.check("https://cdn.example/generic-ad.js", PAGE, "script").blocked
        assert e.check("https://cdn.example/site-ad.js", PAGE, "script").blocked
        assert e.check("https://cdn.example/generic-ad.js", "https://other.example/", "script").blocked

    def test_page_exceptions_with_domain_option(self):
        e = engine("@@$generichide,domain=news.example")
        assert e.page_exceptions("https://www.news.example/").generichide
        assert not e.page_exceptions("https://other.example/").generichide


# --- modifiers -----------------------------------------------------------------------------------


class TestRedirect:
    def test_redirect_blocks_and_redirects(self):
        e = engine("||ads.example/a.js$script,redirect=noopjs")
        decision = e.check("https://ads.example/a.js", PAGE, "script")
        assert decision.blocked and decision.redirect == "noop.js"

    def test_redirect_rule_only_when_something_else_blocks(self):
        e = engine("||ads.example/*.js$redirect-rule=noopjs", "||ads.example/blocked.js")
        assert e.check("https://ads.example/free.js", PAGE, "script") is ALLOWED
        decision = e.check("https://ads.example/blocked.js", PAGE, "script")
        assert decision.blocked and decision.redirect == "noop.js" and decision.filter == "||ads.example/blocked.js"

    def test_priority(self):
        e = engine("||ads.example^$redirect=noopjs:5", "||ads.example^$redirect=nooptext:10", "||ads.example^$redirect=noopcss")
        assert e.check("https://ads.example/a", PAGE, "script").redirect == "noop.txt"

    def test_redirect_exceptions(self):
        e = engine("||ads.example^$redirect=noopjs", "@@||ads.example/keep/$redirect=noopjs", "@@||ads.example/none/$redirect-rule")
        assert e.check("https://ads.example/a.js", PAGE, "script").redirect == "noop.js"
        keep = e.check("https://ads.example/keep/a.js", PAGE, "script")
        assert keep.blocked and keep.redirect is None
        none = e.check("https://ads.example/none/a.js", PAGE, "script")
        assert none.blocked and none.redirect is None

    def test_unknown_resource_blocks_without_redirect(self):
        decision = engine("||ads.example^$redirect=no-such-thing.js").check("https://ads.example/a.js", PAGE, "script")
        assert decision.blocked and decision.redirect is None

    def test_excepted_request_is_not_redirected(self):
        e = engine("||ads.example^$redirect=noopjs", "@@||ads.example/ok/")
        decision = e.check("https://ads.example/ok/a.js", PAGE, "script")
        assert not decision.blocked and decision.redirect is None


class TestRemoveparam:
    def test_names_regex_and_order(self):
        e = engine("$removeparam=utm_source", "$removeparam=/^utm_/", "||shop.example^$removeparam=ref")
        decision = e.check("https://shop.example/p?id=1&utm_source=x&ref=y&utm_medium=z#top", PAGE, "document")
        assert not decision.blocked
        assert decision.removeparam_url == "https://shop.example/p?id=1#top"

    def test_all_parameters(self):
        e = engine("||track.example^$removeparam")
        assert e.check("https://track.example/p?a=1&b=2", PAGE, "image").removeparam_url == "https://track.example/p"

    def test_nothing_to_remove(self):
        e = engine("$removeparam=utm_source")
        assert e.check("https://shop.example/p?id=1", PAGE) is ALLOWED
        assert e.check("https://shop.example/p", PAGE) is ALLOWED

    def test_exceptions(self):
        e = engine(
            "$removeparam=utm_source",
            "$removeparam=fbclid",
            "@@||shop.example^$removeparam=utm_source",
            "@@||all.example^$removeparam",
        )
        kept = e.check("https://shop.example/?utm_source=a&fbclid=b", PAGE)
        assert kept.removeparam_url == "https://shop.example/?utm_source=a"
        assert e.check("https://all.example/?utm_source=a&fbclid=b", PAGE) is ALLOWED

    def test_kept_on_an_excepted_request(self):
        e = engine("||ads.example^", "@@||ads.example/ok/", "$removeparam=utm_source")
        decision = e.check("https://ads.example/ok/?utm_source=1", PAGE)
        assert not decision.blocked and decision.exception and decision.removeparam_url == "https://ads.example/ok/"


class TestCsp:
    def test_documents_and_frames_only(self):
        e = engine("||news.example^$csp=script-src 'self'")
        assert e.check(PAGE, PAGE, "document").csp == "script-src 'self'"
        assert e.check(PAGE, PAGE, "subdocument").csp == "script-src 'self'"
        assert e.check("https://news.example/a.js", PAGE, "script") is ALLOWED

    def test_merged_and_excepted(self):
        e = engine(
            "$csp=worker-src 'none',domain=news.example",
            "||news.example^$csp=script-src 'self'",
            "@@||news.example/live/$csp=worker-src 'none'",
        )
        assert e.check(PAGE, PAGE, "document").csp == "script-src 'self', worker-src 'none'"
        assert e.check("https://news.example/live/1", "https://news.example/live/1", "document").csp == "script-src 'self'"

    def test_exception_without_value_drops_all(self):
        e = engine("||news.example^$csp=script-src 'self'", "@@||news.example^$csp")
        assert e.check(PAGE, PAGE, "document") is ALLOWED

    def test_allow_listed_page_gets_nothing(self):
        e = engine("||news.example^$csp=script-src 'self'", "@@||news.example^$document")
        assert e.check(PAGE, PAGE, "document") is ALLOWED


# --- lists ---------------------------------------------------------------------------------------


class TestLists:
    def test_summaries_skipped_and_bad_lines(self):
        e = engine("||ads.example^", "||x.example^$urlskip=?url", "||y.example^$frobnicate", "example.com##.ad",
                   cosmetic_factory=None)
        (summary,) = e.lists
        assert summary.name == "test.txt" and summary.network == 3 and summary.cosmetic == 1
        assert summary.rules == 1 and summary.refused == 2
        assert e.skipped["unsupported option $urlskip"] == 1
        assert e.skipped["malformed network rule"] == 1
        assert e.skipped["cosmetic rule (no cosmetic store attached)"] == 1
        (bad,) = e.bad_lines
        assert (bad.list, bad.line, bad.text) == ("test.txt", 4, "||y.example^$frobnicate")

    def test_plain_host_rules_between_others_keep_their_ids_lines_and_texts(self):
        lines = ["||a.example^", "||b.example^", "/banner/*", "||c.example^", "@@||c.example^", "||d.example^",
                 "||a.example^", "||e.example^$script", "||f.example^"]
        e = engine(*lines, cosmetic_factory=None)
        assert e.rule_count == len(lines)
        for rid, text in enumerate(lines):
            assert (e.rule_text(rid), e.rule_origin(rid)) == (text, ("test.txt", rid + 2))
        assert e.check("https://d.example/x", PAGE, "image").line == 7
        assert e.check("https://a.example/x", PAGE, "image").line == 2  # the first of two equal rules
        assert e.check("https://c.example/x", PAGE, "image").exception == "@@||c.example^"
        assert e.check("https://f.example/x", PAGE, "image").filter == "||f.example^"

    def test_hosts_list(self, tmp_path):
        path = tmp_path / "hosts"
        path.write_text("# hosts\n127.0.0.1 localhost\n0.0.0.0 ads.example\n0.0.0.0 t.example # tracker\n")
        e = Engine.from_lists([str(path)])
        decision = e.check("https://cdn.ads.example/a.js", PAGE, "script")
        assert decision.blocked and decision.filter == "0.0.0.0 ads.example" and decision.line == 3
        assert e.check("https://t.example/", None, "document").blocked
        assert not e.check("http://localhost/", PAGE).blocked
        assert not e.check("https://ads.example/", PAGE, "popup").blocked

    def test_a_big_hosts_file_in_a_table_decides_as_a_small_one(self, tmp_path, monkeypatch):
        before = tmp_path / "before.txt"
        before.write_text("[Adblock Plus 2.0]\n||t.example^\n||x.example^$script\n@@||cdn.x.example^$image\n")
        hosts = tmp_path / "hosts"
        hosts.write_text("# hosts\n0.0.0.0 ads.example\n0.0.0.0 t.example\n0.0.0.0 x.example\n0.0.0.0 ads.example\n"
                         "0.0.0.0 cdn.x.example\n0.0.0.0 w.example\n")
        after = tmp_path / "after.txt"
        after.write_text("[Adblock Plus 2.0]\n||w.example^\n||ads.example^$image\n@@||w.example/ok/\n")
        paths = [str(before), str(hosts), str(after)]
        small = Engine.from_lists(paths, cosmetic_factory=None)
        monkeypatch.setattr(index_module, "PLAIN_TABLE_FROM", 3)
        built = Engine.from_lists(paths, cosmetic_factory=None, cache_dir=str(tmp_path / "cache"))
        loaded = Engine.from_lists(paths, cosmetic_factory=None, cache_dir=str(tmp_path / "cache"))
        assert built.network._blocks.plain_hosts and loaded.network._blocks.plain_hosts
        urls = [f"https://{host}/{path}" for host in ("ads.example", "a.ads.example", "t.example", "x.example",
                                                       "cdn.x.example", "w.example", "other.example")
                for path in ("a.js", "ok/b.png")]
        for e in (built, loaded):
            assert e.rule_count == small.rule_count
            assert [(e.rule_text(r), e.rule_origin(r)) for r in range(e.rule_count)] == [
                (small.rule_text(r), small.rule_origin(r)) for r in range(small.rule_count)]
            for url in urls:
                for kind in ("script", "image", "document"):
                    assert e.check(url, PAGE, kind) == small.check(url, PAGE, kind), (url, kind)

    def test_builtin(self):
        e = Engine.from_lists(["builtin"])
        assert e.lists[0].name == "builtin.txt"
        assert e.check("https://www.google-analytics.com/analytics.js", PAGE, "script").blocked

    def test_unreadable_list_raises_oserror(self, tmp_path):
        with pytest.raises(OSError):
            Engine.from_lists([str(tmp_path / "missing.txt")])

    def test_rule_count(self):
        assert engine("||a.example^", "/b.", "c.example##.ad").rule_count == 2


# --- pickling and the cache ----------------------------------------------------------------------

RULES = [
    "||ads.example^",
    "@@||ads.example/ok/",
    "/banner/*$image",
    "||t.example^$removeparam=utm_source",
    "@@||news.example^$generichide",
]
QUERIES = [
    ("https://ads.example/a.js", PAGE, "script"),
    ("https://ads.example/ok/a.js", PAGE, "script"),
    ("https://cdn.example/banner/1.png", PAGE, "image"),
    ("https://t.example/?utm_source=1", PAGE, "image"),
]


class FakeCosmeticStore:
    """Stands in for the cosmetic store: built from the lists' cosmetic lines."""

    def __init__(self, lists):
        self.selectors = [text for filter_list in lists for _, text in filter_list.cosmetic]
        self.skipped = Counter({"fake cosmetic skip": 1})
        self.bad_lines = []

    def page_rules(self, url, *, elemhide=False, generichide=False, specifichide=False):
        return ("rules", url, elemhide, generichide, tuple(self.selectors))


def made_a_second_earlier(paths) -> None:
    """Move files' times back a second, so that the next file saved is the newest by far."""
    for path in paths:
        earlier = path.stat().st_mtime_ns - 10**9
        os.utime(path, ns=(earlier, earlier))


class TestPersistence:
    def test_pickle_round_trip_decides_the_same(self):
        e = engine(*RULES)
        copy = pickle.loads(pickle.dumps(e))
        for query in QUERIES:
            assert copy.check(*query) == e.check(*query)
        assert copy.page_exceptions(PAGE) == e.page_exceptions(PAGE)
        assert copy.skipped == e.skipped and copy.lists == e.lists

    def test_cache_saves_then_loads(self, tmp_path):
        path = tmp_path / "rules.txt"
        path.write_text("[Adblock Plus 2.0]\n" + "\n".join(RULES) + "\n")
        cache = tmp_path / "cache"
        first = Engine.from_lists([str(path)], cache_dir=str(cache))
        files = list(cache.glob("engine-*.pickle"))
        assert len(files) == 1 and not list(cache.glob(".engine-*"))
        marker = files[0].stat().st_mtime_ns
        second = Engine.from_lists([str(path)], cache_dir=str(cache))
        assert files[0].stat().st_mtime_ns == marker  # loaded, not rebuilt
        for query in QUERIES:
            assert second.check(*query) == first.check(*query)

    def test_cache_key_follows_content(self, tmp_path):
        path = tmp_path / "rules.txt"
        path.write_text("||ads.example^\n")
        cache = tmp_path / "cache"
        assert Engine.from_lists([str(path)], cache_dir=str(cache)).check("https://ads.example/").blocked
        path.write_text("||other.example^\n")
        changed = Engine.from_lists([str(path)], cache_dir=str(cache))
        assert not changed.check("https://ads.example/").blocked
        assert changed.check("https://other.example/").blocked

    def test_corrupt_cache_is_rebuilt(self, tmp_path):
        path = tmp_path / "rules.txt"
        path.write_text("||ads.example^\n")
        cache = tmp_path / "cache"
        Engine.from_lists([str(path)], cache_dir=str(cache))
        (cached,) = cache.glob("engine-*.pickle")
        cached.write_bytes(cached.read_bytes()[:100])
        assert Engine.from_lists([str(path)], cache_dir=str(cache)).check("https://ads.example/").blocked

    def test_engine_version_is_in_the_key(self):
        from filters import cache

        files = [("a.txt", b"||ads.example^\n")]
        assert cache.cache_key(files, ENGINE_VERSION) != cache.cache_key(files, ENGINE_VERSION + ".x")
        assert cache.cache_key(files, ENGINE_VERSION) != cache.cache_key(files, ENGINE_VERSION, FakeCosmeticStore)

    def test_cosmetic_store_version_is_in_the_key(self):
        from filters import cache

        class Store:
            cache_version = "1"

            @classmethod
            def from_lists(cls, lists):
                return cls()

        files = [("a.txt", b"##.ad\n")]
        first = cache.cache_key(files, ENGINE_VERSION, Store.from_lists)
        assert first == cache.cache_key(files, ENGINE_VERSION, Store.from_lists)
        Store.cache_version = "2"
        assert first != cache.cache_key(files, ENGINE_VERSION, Store.from_lists)

    def test_unwritable_cache_dir_still_builds(self, tmp_path):
        path = tmp_path / "rules.txt"
        path.write_text("||ads.example^\n")
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        assert Engine.from_lists([str(path)], cache_dir=str(blocker / "cache")).check("https://ads.example/").blocked

    @pytest.mark.parametrize("rules, generic", [("||ads{n}.example^\n", False), ("##.ad{n}\n||ads.example^\n", True)])
    def test_old_cache_files_are_pruned(self, tmp_path, rules, generic):
        path = tmp_path / "rules.txt"
        cache = tmp_path / "cache"
        for n in range(6):
            path.write_text(rules.format(n=n))
            Engine.from_lists([str(path)], cache_dir=str(cache))
            made_a_second_earlier([*cache.glob("engine-*.pickle"), *cache.glob("generic-*.pickle")])
        engines = sorted(p.name.removeprefix("engine-") for p in cache.glob("engine-*.pickle"))
        assert len(engines) == 3
        # A generic cosmetic index is saved apart (only with generic rules) and pruned with its engine.
        generics = sorted(p.name.removeprefix("generic-") for p in cache.glob("generic-*.pickle"))
        assert generics == (engines if generic else [])


class TestGenericOnDisk:
    LIST = "[Adblock Plus 2.0]\n##.ad\n###banner\nnews.example##.promo\nnews.example#@#.ad\n||ads.example^\n"

    @pytest.fixture
    def cached(self, tmp_path):
        path = tmp_path / "rules.txt"
        path.write_text(self.LIST)
        built = Engine.from_lists([str(path)], cache_dir=str(tmp_path / "cache"))
        return path, tmp_path / "cache", built

    def test_loaded_into_memory_by_default(self, cached):
        path, cache, built = cached
        (saved,) = cache.glob("generic-*.pickle")
        assert b"banner" not in next(cache.glob("engine-*.pickle")).read_bytes()  # the rules are in their own file
        assert b"banner" in saved.read_bytes()
        loaded = Engine.from_lists([str(path)], cache_dir=str(cache))
        assert isinstance(loaded.cosmetic_store.generic, RuleIndex)
        assert loaded.cosmetic_store.generic == built.cosmetic_store.generic
        assert loaded.cosmetic(PAGE) == built.cosmetic(PAGE)

    def test_left_on_disk_in_a_private_link_owned_by_the_engine(self, cached):
        path, cache, built = cached
        loaded = Engine.from_lists([str(path)], cache_dir=str(cache), generic_on_disk=True)
        generic = loaded.cosmetic_store.generic
        assert isinstance(generic, StoredIndex) and len(generic) == 2
        (saved,) = cache.glob("generic-*.pickle")
        own = Path(generic.path)
        assert own.parent == cache and own != saved and own.stat().st_ino == saved.stat().st_ino  # a hard link
        assert generic.load() == built.cosmetic_store.generic
        rules, expected = loaded.cosmetic(PAGE), built.cosmetic(PAGE)
        assert rules.generic is generic
        assert (rules.disabled, rules.generic_id) == (expected.disabled, expected.generic_id)
        assert loaded.check("https://ads.example/x.js").blocked
        saved.unlink()  # pruned by another process: this engine's link still holds the index
        assert generic.load() == built.cosmetic_store.generic
        del loaded, generic, rules
        gc.collect()
        assert not own.exists()  # gone with the engine that held it

    def test_a_missing_generic_file_means_a_rebuild(self, cached):
        path, cache, _ = cached
        (saved,) = cache.glob("generic-*.pickle")
        saved.unlink()
        loaded = Engine.from_lists([str(path)], cache_dir=str(cache), generic_on_disk=True)
        assert isinstance(loaded.cosmetic_store.generic, RuleIndex) and len(loaded.cosmetic_store.generic) == 2
        assert list(cache.glob("generic-*.pickle"))  # saved again

    def test_files_of_killed_processes_are_removed_at_the_next_load(self, cached):
        path, cache, _ = cached
        code = "import os; print(os.getpid())"
        finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        orphan = cache / f"dejunk-generic-{int(finished.stdout)}-abc.pickle"  # its process has ended
        orphan.write_bytes(b"x")
        alive = cache / f"dejunk-generic-{os.getppid()}-abc.pickle"  # a running process's: kept
        alive.write_bytes(b"x")
        Engine.from_lists([str(path)], cache_dir=str(cache), generic_on_disk=True)
        assert not orphan.exists() and alive.exists()

    def test_the_cache_folder_may_move(self, cached, tmp_path):
        path, cache, built = cached
        moved = tmp_path / "moved"
        cache.rename(moved)
        loaded = Engine.from_lists([str(path)], cache_dir=str(moved), generic_on_disk=True)
        assert Path(loaded.cosmetic_store.generic.path).parent == moved  # loaded, not rebuilt


class TestCosmeticPlugin:
    def test_factory_builds_the_store_and_merges_counts(self):
        e = engine("||ads.example^", "news.example##.ad", cosmetic_factory=FakeCosmeticStore)
        assert e.cosmetic_store.selectors == ["news.example##.ad"]
        assert e.skipped["fake cosmetic skip"] == 1
        assert "cosmetic rule (no cosmetic store attached)" not in e.skipped

    def test_cosmetic_passes_page_exceptions(self):
        e = engine("@@||news.example^$generichide", "##.ad", cosmetic_factory=FakeCosmeticStore)
        assert e.cosmetic(PAGE) == ("rules", PAGE, False, True, ("##.ad",))
        assert engine("##.ad", cosmetic_factory=None).cosmetic(PAGE) is None
        # By default the engine carries dejunk's own store.
        assert engine("##.ad").cosmetic(PAGE).host == "news.example"

    def test_store_goes_into_the_cache(self, tmp_path):
        path = tmp_path / "rules.txt"
        path.write_text("[Adblock Plus 2.0]\n##.ad\n")
        cache = tmp_path / "cache"
        Engine.from_lists([str(path)], cache_dir=str(cache), cosmetic_factory=FakeCosmeticStore)
        loaded = Engine.from_lists([str(path)], cache_dir=str(cache), cosmetic_factory=FakeCosmeticStore)
        assert loaded.cosmetic_store.selectors == ["##.ad"]
        assert Engine.from_lists([str(path)], cache_dir=str(cache), cosmetic_factory=None).cosmetic_store is None
        assert type(Engine.from_lists([str(path)], cache_dir=str(cache)).cosmetic_store).__name__ == "CosmeticStore"


class TestCollectorDuringBuild:
    """The build runs without the cyclic collector (nothing it makes is in a cycle), and gives it back as it was."""

    def test_collector_off_while_building_and_on_after(self):
        seen = []

        def store(lists):
            seen.append(gc.isenabled())
            return FakeCosmeticStore(lists)

        assert gc.isenabled()
        engine("||ads.example^", "##.ad", cosmetic_factory=store)
        assert seen == [False] and gc.isenabled()

    def test_what_the_build_made_is_in_the_oldest_generation(self, monkeypatch):
        from filters import storage

        monkeypatch.setattr(storage, "_heap_settled", False)  # (a proxy test in this process may have settled it)
        text = "\n".join(f"||h{i}.example^$script" for i in range(3000)) + "\n"
        gc.collect()
        built = Engine.from_text(text)
        # Thousands of long-lived objects: not left for the young collections to walk (and not frozen either).
        oldest = {id(found) for found in gc.get_objects(generation=2)}
        assert id(built.network) in oldest and gc.get_freeze_count() == 0
        assert built.network.rule_count == 3000

    def test_what_the_proxy_froze_stays_frozen(self, monkeypatch):
        # The proxy freezes its engine (`storage.settle_heap`); a later build must not put it back before the
        # collector. (As `settle_heap` leaves it, without its full collection.)
        from filters import storage

        monkeypatch.setattr(storage, "_heap_settled", True)
        held = [["frozen before the build"]]
        gc.freeze()
        try:
            built = Engine.from_text("||ads.example^\n")
            # (Frozen objects are in no generation: the collector does not see them.)
            assert built.network.rule_count == 1
            assert id(held[0]) not in {id(found) for found in gc.get_objects()}
        finally:
            gc.unfreeze()
        assert id(held[0]) in {id(found) for found in gc.get_objects()}

    def test_collector_back_on_when_the_build_fails(self):
        def broken(lists):
            raise RuntimeError("no store")

        with pytest.raises(RuntimeError):
            engine("##.ad", cosmetic_factory=broken)
        assert gc.isenabled()

    def test_collector_left_off_when_it_was_off(self):
        gc.disable()
        try:
            engine("||ads.example^")
            assert not gc.isenabled()
        finally:
            gc.enable()
