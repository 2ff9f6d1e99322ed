"""Scriptlet and `:style()` rules: parsing, trust, exceptions, scoping, and what a page gets."""

from __future__ import annotations

import json

import pytest

from filters.cosmetic.injected import SCRIPTLET, STYLE, InjectedException, InjectedRule
from filters.cosmetic.rules import CosmeticStore, parse_rule
from filters.cosmetic.selectors import SelectorError, Unsupported
from filters.lists.syntax import parse_list_text
from filters.scriptlets.calls import ScriptletCall


def store(text: str, *, trusted: bool = True) -> CosmeticStore:
    return CosmeticStore.from_lists([parse_list_text(text, name="test.txt", trusted=trusted)])


def test_a_scriptlet_rule_is_read_under_its_canonical_name():
    rule = parse_rule("example.com,~shop.example.com##+js(aopr, adsbygoogle)", "l.txt", 3)
    assert isinstance(rule, InjectedRule) and rule.kind == SCRIPTLET
    assert rule.call == ScriptletCall("abort-on-property-read", ("adsbygoogle",))
    assert rule.domains == ("example.com",) and rule.excluded == ("shop.example.com",) and rule.where() == "l.txt:3"


@pytest.mark.parametrize(("line", "reason"), [
    ("example.com##+js(no-such-scriptlet)", "unknown scriptlet (no-such-scriptlet)"),
    ("~example.com##+js(nowebrtc)", "scriptlet rule for every site but some"),
    ("~example.com#@#+js(nowebrtc)", "scriptlet exception with ~domain"),
])
def test_scriptlet_lines_that_are_skipped(line, reason):
    with pytest.raises(Unsupported) as caught:
        parse_rule(line)
    assert caught.value.reason == reason


def test_a_malformed_scriptlet_line_is_a_bad_line():
    with pytest.raises(SelectorError):
        parse_rule("example.com##+js()")
    with pytest.raises(SelectorError):
        parse_rule("example.com##+jsnowebrtc")


def test_trusted_only_scriptlets_need_a_trusted_list():
    line = "example.com##+js(trusted-replace-argument, a.b, 0, x)\n"
    assert store(line, trusted=True).page_rules("https://example.com/").scriptlets
    untrusted = store(line, trusted=False)
    assert not untrusted.page_rules("https://example.com/").scriptlets
    assert untrusted.skipped["trusted-only scriptlet (trusted-replace-argument) in an untrusted list"] == 1
    # An ordinary scriptlet is fine from any list.
    assert store("example.com##+js(nowebrtc)\n", trusted=False).page_rules("https://example.com/").scriptlets


LIST = """\
example.com##+js(set, a, true)
example.com##+js(nowebrtc)
example.com#@#+js(set-constant, a, true)
example.*##+js(noeval)
##+js(nobab)
nobab.example.org#@#+js(prevent-bab)
quiet.example.net#@#+js()
quiet.example.net##+js(noeval)
example.com##p.note:style(color: red)
example.com##.card:has-text(Sponsored):style(height: 0)
example.com##:matches-path(/only) .x:has-text(y):style(height: 1px)
"""


def test_what_a_page_gets():
    rules = store(LIST).page_rules("https://www.example.com/story")
    # `set, a, true` is excepted under its other name; list order is kept.
    assert rules.scriptlets == (ScriptletCall("nowebrtc"), ScriptletCall("noeval"), ScriptletCall("prevent-bab"))
    assert rules.styles == ("p.note{color: red !important}",)
    live = json.loads(rules.live)["rules"]
    assert [entry[2] for entry in live] == [["style", [["height", "0"]]]]  # `:matches-path(/only)` does not apply
    assert "example.com#@#+js(set-constant, a, true)" in rules.exceptions
    assert len(rules.injected_rules) == 5 and rules.injects


def test_exceptions_and_generichide():
    s = store(LIST)
    assert ScriptletCall("prevent-bab") not in s.page_rules("https://nobab.example.org/").scriptlets
    assert s.page_rules("https://quiet.example.net/").scriptlets == ()  # `#@#+js()`: none at all
    assert s.page_rules("https://other.org/").scriptlets == (ScriptletCall("prevent-bab"),)
    assert s.page_rules("https://other.org/", generichide=True).scriptlets == ()  # generic ones only
    assert s.page_rules("https://example.org/", generichide=True).scriptlets == (ScriptletCall("noeval"),)
    assert s.page_rules("https://example.com/", generichide=True).scriptlets  # site-specific ones stay
    shide = s.page_rules("https://example.com/", specifichide=True)
    assert shide.scriptlets and not shide.styles and not shide.live  # $specifichide: hiding and styling off
    assert s.page_rules("https://example.com/", elemhide=True).scriptlets == ()


def test_path_scoped_procedural_style():
    rules = store(LIST).page_rules("https://example.com/only/here")
    assert len(json.loads(rules.live)["rules"]) == 2


@pytest.mark.parametrize("line", [
    "example.com##p:style(background: url(https://tracker.example/x.png))",
    "example.com##p:style(color: red; } body { display: none)",
    "example.com##p:style(nothing)",
])
def test_styles_that_could_load_or_break_out_are_bad_lines(line):
    with pytest.raises(SelectorError):
        parse_rule(line)


def test_adguard_css_injection_and_style_exceptions():
    rule = parse_rule("example.com#$#.ad { display: none !important; }")
    assert isinstance(rule, InjectedRule) and rule.kind == STYLE and rule.css == ".ad{display: none !important}"
    exception = parse_rule("example.com#@#p.note:style(color: red)")
    assert isinstance(exception, InjectedException)
    s = store("example.com##p.note:style(color: red)\nwww.example.com#@#p.note:style(color: red)\n")
    assert s.page_rules("https://example.com/").styles and not s.page_rules("https://www.example.com/").styles


def test_ublock_filters_leave_nothing_unsupported(corpus):
    from filters.engine import Engine

    path = corpus / "lists" / "ublock-filters.txt"
    engine = Engine.from_lists([str(path)])
    [summary] = engine.lists
    rule_lines = summary.network + summary.hosts + sum(1 for _ in parse_list_text(path.read_text()).cosmetic)
    not_rules = ("comment", "preprocessor", "preprocessor excluded", "!#include (resolved by list subscriptions)")
    unsupported = {reason: n for reason, n in engine.skipped.items() if reason not in not_rules}
    assert sum(unsupported.values()) < 0.01 * rule_lines, unsupported
    assert not engine.bad_lines


class TestScriptletCallsReadOnce:
    """A call repeated for many sites is read once; every rule still gets the answer (or the error) of its own line."""

    @pytest.mark.parametrize("body, exception, trusted", [
        ("set-constant, ads, false", False, True), ("trusted-set-cookie, a, b", False, False),
        ("trusted-set-cookie, a, b", False, True), ("no-such-scriptlet, x", False, True),
        ("no-such-scriptlet, x", True, True), ("'unclosed, x", False, True), ("", True, True), ("", False, True),
    ])
    def test_same_answer_cold_and_warm(self, body, exception, trusted):
        from filters.cosmetic import injected

        def answer():
            try:
                return injected.parse_scriptlet(body, exception=exception, trusted=trusted)
            except (Unsupported, SelectorError) as error:
                return type(error), str(error)

        injected._SCRIPTLETS.clear()
        cold = answer()
        assert answer() == cold and answer() == cold
        assert (body, exception, trusted) in injected._SCRIPTLETS

    def test_rules_for_many_sites_share_nothing_but_the_call(self):
        rules = [parse_rule(f"site{n}.example##+js(set-constant, ads, false)", "l", n) for n in range(3)]
        assert [rule.domains for rule in rules] == [("site0.example",), ("site1.example",), ("site2.example",)]
        assert {rule.call for rule in rules} == {ScriptletCall("set-constant", ("ads", "false"))}
        with pytest.raises(Unsupported):
            parse_rule("a.example##+js(no-such-scriptlet)", "l", 1)
        with pytest.raises(Unsupported):
            parse_rule("b.example##+js(no-such-scriptlet)", "l", 2)
