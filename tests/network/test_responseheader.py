"""`##^responseheader(name)`: response headers removed from the documents of a site.

None of the four corpus lists uses the form; the lines here follow uBO's documentation and its
issue tracker (`medium.com##^responseheader(set-cookie)`, uBlockOrigin/uBlock-issues#2552).
"""

from __future__ import annotations

import pickle

from filters.cosmetic.headers import ALLOWED_HEADERS, HeaderRemoval, ResponseHeaderRules
from filters.engine import Engine
from filters.lists.syntax import parse_list_text


def engine(*lines: str) -> Engine:
    return Engine.from_text("[Adblock Plus 2.0]\n" + "\n".join(lines), "test.txt")


def names(removals) -> list[str]:
    return [r.name for r in removals]


def test_uBO_allows_four_headers():
    assert ALLOWED_HEADERS == {"location", "refresh", "report-to", "set-cookie"}


def test_a_site_rule_names_its_header_and_rule():
    e = engine("medium.com##^responseheader(set-cookie)")
    assert e.header_removals("https://medium.com/story") == (
        HeaderRemoval("set-cookie", "medium.com##^responseheader(set-cookie)", "test.txt", 2),)
    assert names(e.header_removals("https://www.medium.com/")) == ["set-cookie"]  # subdomains too
    assert e.header_removals("https://other.example/") == ()


def test_names_are_case_insensitive_and_several_rules_add_up():
    e = engine("example.com,example.org##^responseheader(Refresh)", "example.com##^responseheader(location)",
               "example.*##^responseheader(report-to)")
    assert names(e.header_removals("https://example.com/")) == ["refresh", "location", "report-to"]
    assert names(e.header_removals("https://example.org/")) == ["refresh", "report-to"]
    assert names(e.header_removals("https://example.co.uk/")) == ["report-to"]  # the entity form


def test_exceptions():
    e = engine(
        "example.com##^responseheader(set-cookie)",
        "example.com##^responseheader(location)",
        "~shop.example.com,example.com##^responseheader(refresh)",
        "www.example.com#@#^responseheader(set-cookie)",
        "#@#^responseheader(location)",  # an exception may be generic
        "api.example.com#@#^responseheader()",  # no name: every header on that site
    )
    assert names(e.header_removals("https://example.com/")) == ["set-cookie", "refresh"]
    assert names(e.header_removals("https://www.example.com/")) == ["refresh"]
    assert names(e.header_removals("https://shop.example.com/")) == ["set-cookie"]
    assert e.header_removals("https://api.example.com/") == ()


def test_an_allow_listed_page_keeps_its_headers():
    e = engine("example.com##^responseheader(set-cookie)", "@@||example.com^$document")
    assert e.header_removals("https://example.com/") == ()


def test_lines_uBO_refuses_are_bad_lines_with_their_place():
    text = "\n".join([
        "[Adblock Plus 2.0]",
        "example.com##^responseheader(content-security-policy)",  # not a header lists may remove
        "##^responseheader(set-cookie)",  # a generic removal
        "~example.com##^responseheader(set-cookie)",  # names no site
        "example.com##^responseheader()",  # no name
        "example.com##^responseheader(set-cookie)",
    ])
    rules = ResponseHeaderRules.from_lists([parse_list_text(text, "bad.txt", "bad.txt")])
    assert len(rules) == 1
    assert [(b.list, b.line) for b in rules.bad_lines] == [("bad.txt", 2), ("bad.txt", 3), ("bad.txt", 4),
                                                           ("bad.txt", 5)]
    assert "content-security-policy" in rules.bad_lines[0].reason
    assert sum(rules.skipped.values()) == 4


def test_the_cosmetic_store_leaves_these_lines_to_the_header_rules():
    e = engine("example.com##^responseheader(set-cookie)", "example.com#@#^responseheader(location)", "##.ad")
    assert not [reason for reason in e.skipped if "responseheader" in reason]
    assert e.cosmetic_store.rule_count == 1


def test_the_rules_survive_the_compiled_engine_cache(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("[Adblock Plus 2.0]\nmedium.com##^responseheader(set-cookie)\n")
    built = Engine.from_lists([str(path)], cache_dir=str(tmp_path / "cache"))
    loaded = Engine.from_lists([str(path)], cache_dir=str(tmp_path / "cache"))
    assert loaded is not built and names(loaded.header_removals("https://medium.com/")) == ["set-cookie"]
    assert names(pickle.loads(pickle.dumps(built)).header_removals("https://medium.com/")) == ["set-cookie"]
