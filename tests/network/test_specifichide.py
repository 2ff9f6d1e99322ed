"""`$specifichide` and its alias `$shide`: no site-specific cosmetic rule on the pages an exception names."""

from __future__ import annotations

import pytest

from filters.engine import Engine
from filters.lists.syntax import read_list
from filters.network.engine import NetworkEngine
from filters.network.rules import ALL_TYPES, RuleError, parse_network_rule

# The line of uBlock filters (ublock-filters.txt) that uses the alias.
REAL_LINE = "@@||magyarhang.org^$shide"


def engine(*lines: str) -> Engine:
    return Engine.from_text("[Adblock Plus 2.0]\n" + "\n".join(lines), "test.txt")


def test_alias_and_full_name_parse_as_a_page_switch():
    for text in (REAL_LINE, "@@||magyarhang.org^$specifichide"):
        rule = parse_network_rule(text)
        assert rule.specifichide and rule.page_flags
        assert rule.mask & ALL_TYPES == 0  # it lets no request through by itself


def test_only_valid_on_exceptions():
    with pytest.raises(RuleError) as info:
        parse_network_rule("||magyarhang.org^$shide")
    assert not info.value.unsupported


def test_page_exception_names_the_rule():
    e = engine(REAL_LINE)
    page = e.page_exceptions("https://www.magyarhang.org/cikk")
    assert page.specifichide and page.specifichide_rule == REAL_LINE
    assert not page.elemhide and not page.generichide
    assert not e.page_exceptions("https://other.example/").specifichide


def test_site_specific_cosmetic_rules_are_off_generic_ones_stay():
    e = engine(REAL_LINE, "magyarhang.org##.site-ad", "##.generic-ad", "other.example##.site-ad")
    rules = e.cosmetic("https://magyarhang.org/")
    assert rules.specific == ()
    assert rules.generic is not None and len(rules.generic) == 1 and not rules.disabled
    # Elsewhere the site's own rules apply as usual.
    assert [r.selector for r in e.cosmetic("https://other.example/").specific] == [".site-ad"]


def test_the_corpus_line_is_no_longer_skipped(corpus):
    filter_list = read_list(str(corpus / "lists" / "ublock-filters.txt"))
    network = NetworkEngine([filter_list])
    assert not [reason for reason in network.skipped if "shide" in reason or "specifichide" in reason]
