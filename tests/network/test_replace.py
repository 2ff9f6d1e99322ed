"""`$replace=/regex/replacement/flags`: parsing, JavaScript regexes in Python, the engine's decision.

The regexes of filter lists are JavaScript regexes, applied as `String.prototype.replace` applies
them; `filters.network.replace` translates them for Python's `re` (or refuses the line). The
expected results below are what JavaScript gives for the same pattern, replacement and text.
"""

from __future__ import annotations

import pytest

from filters.engine import Engine
from filters.lists.syntax import parse_list_text, read_list
from filters.network.engine import NetworkEngine
from filters.network.replace import ReplaceError, Replacement, parse_replace_value
from filters.network.rules import ALL_TYPES, POPUP, TYPE_BITS, RuleError, parse_network_rule, rule_identity

# The `$replace` lines of uBlock filters (ublock-filters.txt) in effect (not commented out), by line number.
CORPUS = {
    311: r'||facebook.com/api/graphql/$xhr,replace=/\{"node":\{"role":"SEARCH_ADS"[^\n]+?cursor":[^}]+\}/{}/g,'
         r'domain=web.facebook.com|www.facebook.com',
    312: r'||facebook.com/api/graphql/$xhr,replace=/\{"node":\{"__typename":"MarketplaceFeedAdStory"[^\n]+?"cursor":'
         r'(?:null|"\{[^\n]+?\}"|[^\n]+?MarketplaceSearchFeedStoriesEdge")\}/{}/g,domain=web.facebook.com|www.facebook.com',
    313: r'||facebook.com/api/graphql/$xhr,replace=/\{"node":\{"__typename":"VideoHomeFeedUnitSectionComponent"[^\n]+?'
         r'"sponsored_data":\{"ad_id"[^\n]+?"cursor":null\}/{}/,domain=web.facebook.com|www.facebook.com',
    314: r'||static.xx.fbcdn.net/rsrc.php/v*.js$script,replace=/"__typename":"SponsoredData"/"__typename":"SponsorData"/g',
    315: r'||static.xx.fbcdn.net/rsrc.php/v*.js$script,replace=/if\(i\)\{var C=document\.createRange\(\)/'
         r'if(false){var C=document.createRange()/',
    426: r'||bild.de^$doc,replace=/"adBlockWallEnabled":true/"adBlockWallEnabled":false/',
    7281: r'||welt.de/homadConfigEnabled.json$xhr,replace=/"enabled":true/"enabled":false/',
    7282: r"||golem.de/staticrl/scripts/radiant/rmp-rl_$script,1p,replace=/var conf = \{.*?'postrollAdTag': "
          r"'response\.empty'\s\}\;/var conf = {}/s",
    7283: r"||cinema.de/sites/default/files/js/js_$script,1p,replace=/var conf=\{'globalConfig'.*?'vpaid':'true'\};"
          r"var exportz=/var conf={}; var exportz=/",
    7284: r'||svonm.com^$xhr,replace=/"enabled":\s*true/"enabled":false/,domain=desired.de|giga.de|toggo.de',
    7285: r"||cdn.greenvideo.io/adapter/player/$script,replace=/window\.__gv_org_tfa.*?templateData\:\{embedId\:"
          r"[a-z0-9]{1,3}\}\}\)\}\)\}\}//",
    7286: r"||cdn.player.foundation/cdn-modules/$script,replace=/\.homad\.enabled\)if\(/.homad.enabled && false)if(/",
}


def replace(value: str, text: str) -> str:
    return parse_replace_value(value).apply(text)[0]


def engine(*lines: str, trusted: bool = True) -> NetworkEngine:
    return NetworkEngine([parse_list_text("[Adblock Plus 2.0]\n" + "\n".join(lines), "t.txt", "t.txt", trusted=trusted)])


# --- the corpus lines ------------------------------------------------------------------------------


def test_corpus_lines_are_the_lists_own(corpus):
    lines = (corpus / "lists" / "ublock-filters.txt").read_text(encoding="utf-8").splitlines()
    assert {number: lines[number - 1] for number in CORPUS} == CORPUS


@pytest.mark.parametrize("number", sorted(CORPUS))
def test_corpus_lines_parse(number):
    rule = parse_network_rule(CORPUS[number])
    assert rule.replace is not None and rule.replace.startswith("/") and rule.modifier == "replace"
    parse_replace_value(rule.replace)


def test_a_comma_inside_the_regex_stays_in_the_value():
    rule = parse_network_rule(CORPUS[7285])
    assert rule.replace == r"/window\.__gv_org_tfa.*?templateData\:\{embedId\:[a-z0-9]{1,3}\}\}\)\}\)\}\}//"
    assert types(rule) == {"script"}
    assert rule_identity(CORPUS[7285] + ",badfilter") == rule_identity(CORPUS[7285])
    with_domain = parse_network_rule(CORPUS[7284])
    assert with_domain.replace == r'/"enabled":\s*true/"enabled":false/'
    assert with_domain.domains.include == {"desired.de", "giga.de", "toggo.de"}


def types(rule) -> set[str]:
    return {name for name, bit in TYPE_BITS.items() if rule.mask & bit}


def test_corpus_replacements_do_what_javascript_does():
    facebook = '[{"node":{"role":"SEARCH_ADS","x":1},"cursor":"abc"},{"node":{"role":"NEWS"},"cursor":"d"}]'
    assert replace(parse_network_rule(CORPUS[311]).replace, facebook) == '[{},{"node":{"role":"NEWS"},"cursor":"d"}]'
    script = 'a={"__typename":"SponsoredData"};b={"__typename":"SponsoredData"}'
    assert replace(parse_network_rule(CORPUS[314]).replace, script) == \
        'a={"__typename":"SponsorData"};b={"__typename":"SponsorData"}'
    once = "if(i){var C=document.createRange()}if(i){var C=document.createRange()}"
    assert replace(parse_network_rule(CORPUS[315]).replace, once) == \
        "if(false){var C=document.createRange()}if(i){var C=document.createRange()}"  # no `g`: the first only
    golem = "x;var conf = {\n  'a': 1,\n  'postrollAdTag': 'response.empty' };go(conf)"
    assert replace(parse_network_rule(CORPUS[7282]).replace, golem) == "x;var conf = {}go(conf)"  # `s`: `.` spans lines
    assert replace(parse_network_rule(CORPUS[7282]).replace.removesuffix("s"), golem) == golem
    assert replace(parse_network_rule(CORPUS[7284]).replace, '{"enabled": \n true}') == '{"enabled":false}'
    player = "A;window.__gv_org_tfa=1;f({templateData:{embedId:a1}})})}}B"
    assert replace(parse_network_rule(CORPUS[7285]).replace, player) == "A;B"
    homad = "if(x.homad.enabled)if(y)"
    assert replace(parse_network_rule(CORPUS[7286]).replace, homad) == "if(x.homad.enabled && false)if(y)"


# --- JavaScript regexes in Python ------------------------------------------------------------------


@pytest.mark.parametrize("value, text, expected", [
    # Replacement patterns.
    ("/(a)(b)?/[$1|$2|$&|$$|$0]/", "xa", "x[a||a|$|$0]"),
    ("/b/[$`|$']/", "abc", "a[a|c]c"),
    ("/(?<word>o+)/<$<word>>/g", "foo boo", "f<oo> b<oo>"),
    ("/(o)/$<word>/", "foo", "f$<word>o"),  # no named groups: `$<` is literal
    ("/(a)/$12/", "a", "a2"),  # one group: `$12` is group 1, then "2"
    ("/a/\\n/", "a", "\\n"),  # backslashes are literal in a replacement
    ("/a\\/b/c\\/d/", "xa/by", "xc/dy"),  # `\/` is the separator, escaped
    # `.`, `^` and `$` as JavaScript reads them.
    ("/a.b/X/g", "a\rb a\u2028b a\nb a-b", "a\rb a\u2028b a\nb X"),
    ("/a.b/X/gs", "a\rb a\nb", "X X"),
    ("/b$/X/", "ab\n", "ab\n"),  # `$` is the very end only (Python's would match before the newline)
    ("/^b$/X/gm", "a\r\nb\r\nc", "a\r\nX\r\nc"),
    ("/^/>/gm", "a\u2028b", ">a\u2028>b"),
    # Character classes and escapes.
    ("/\\d+/N/g", "12 \u0661\u0662", "N \u0661\u0662"),  # ASCII digits only
    ("/\\w+/W/g", "ab é", "W é"),
    ("/\\bé/X/", "aé é", "aX é"),  # `é` is not a word character: the boundary is after `a`, not after the space
    ("/\\s/_/g", "a\u00a0b\ufeffc\u3000d", "a_b_c_d"),  # JavaScript's white space includes these
    ("/[\\s\\S]+/X/", "a\nb", "X"),
    ("/[^\\S\\n]/_/g", "a b\nc\td", "a_b\nc_d"),  # white space but not a newline
    ("/[\\w-.]+/X/", "a-b.c!", "X!"),  # `-` after a class escape is a literal dash
    ("/[^]/X/g", "a\n", "XX"),
    ("/a[]/X/", "a", "a"),
    ("/\\a\\e\\cJ/X/", "ae\n", "X"),  # identity escapes, `\cJ` is a newline
    ("/x{/X/", "x{", "X"),  # a brace that starts no quantifier is literal
    ("/(a)\\1/X/", "aa", "X"),
    ("/\\8\\101/X/", "8A", "X"),  # no such groups: `\8` is "8", `\101` an octal escape ("A")
    ("/\\k<n>(?<n>b)/X/", "k<n>b", "k<n>X"),  # with a named group `\k<n>` is a back reference (to nothing yet)
    ("/(a)?\\1b/X/", "xb", "xX"),  # a back reference to a group that matched nothing matches the empty string
    ("/A/x/gi", "aA", "xx"),
    ("/\\u0041/x/", "A", "x"),
    ("/\\u{41}/x/", "u" * 41, "x"),  # without `u`, `\u{41}` is "u" repeated 41 times
    ("/\\u{41}/x/u", "A", "x"),
    ("/(?=a)/>/g", "aba", ">ab>a"),
    ("/x*/-/g", "abc", "-a-b-c-"),
])
def test_javascript_semantics(value, text, expected):
    assert replace(value, text) == expected


@pytest.mark.parametrize("value", [
    "/(?<=a+)b/c/",  # a lookbehind of variable width: Python's re has none
    "/a/b/y",  # sticky
    "/a/b/gg",  # a flag twice
    "/a/b/x",  # not a JavaScript flag
    "/(a/b/",  # unbalanced
    "/(?i)a/b/",  # inline flags are not JavaScript
    "/(?<a$>x)/b/",  # a group name Python cannot take
    "/a**/b/",
    "/a/b",  # no closing separator
    "//b/",  # no regex
    "a/b/",
    "/\\p{L}/x/u",
])
def test_what_cannot_be_translated_is_refused(value):
    with pytest.raises(ReplaceError):
        parse_replace_value(value)


def test_untranslatable_regex_is_a_bad_line_not_a_skip():
    e = engine("||example.com^$script,replace=/(?<=a+)b/c/")
    assert e.skipped["malformed network rule"] == 1
    (bad,) = e.bad_lines
    assert (bad.list, bad.line) == ("t.txt", 2) and "lookbehind" in bad.reason


def test_apply_counts_and_leaves_unmatched_text_alone():
    replacement = parse_replace_value("/ad/xx/g")
    assert isinstance(replacement, Replacement)
    assert replacement.apply("bad ad") == ("bxx xx", 2)
    assert replacement.apply("none") == ("none", 0)


# --- rules and the engine --------------------------------------------------------------------------


def test_options():
    rule = parse_network_rule("||example.com^$replace=/a/b/")
    assert rule.mask & ALL_TYPES == ALL_TYPES & ~POPUP  # without type options: any response, pages included
    with pytest.raises(RuleError) as info:
        parse_network_rule("||example.com^$replace=")
    assert not info.value.unsupported
    with pytest.raises(RuleError):
        parse_network_rule("||example.com^$replace=/a/b/,redirect=noopjs")  # one modifier per rule
    assert parse_network_rule("@@||example.com^$replace").replace == ""
    assert parse_network_rule("@@||example.com^$replace=").replace == ""
    assert parse_network_rule("@@||example.com^$replace=/a/b/").replace == "/a/b/"


def test_the_decision_carries_the_replacements_in_list_order():
    e = engine(CORPUS[314], "||static.xx.fbcdn.net^$script,replace=/a/b/")
    decision = e.check("https://static.xx.fbcdn.net/rsrc.php/v3/x.js", "https://www.facebook.com/", "script")
    assert not decision.blocked
    assert [value for value, _ in decision.replace] == [parse_network_rule(CORPUS[314]).replace, "/a/b/"]
    assert decision.replace[0][1] == f"{CORPUS[314]} (t.txt:2)"
    assert "$replace" in decision.describe()
    assert e.check("https://static.xx.fbcdn.net/rsrc.php/v3/x.css", "https://www.facebook.com/", "stylesheet").replace == ()


def test_replace_follows_domain_and_type_options():
    e = engine(CORPUS[7284])
    assert e.check("https://svonm.com/config", "https://www.giga.de/", "xmlhttprequest").replace
    assert not e.check("https://svonm.com/config", "https://other.de/", "xmlhttprequest").replace
    assert not e.check("https://svonm.com/config.js", "https://www.giga.de/", "script").replace


def test_a_document_rule():
    e = engine(CORPUS[426])
    assert e.check("https://www.bild.de/", None, "document").replace


@pytest.mark.parametrize("exception", ["@@||bild.de^$replace", "@@||bild.de^$doc,replace=",
                                       '@@||bild.de^$replace=/"adBlockWallEnabled":true/"adBlockWallEnabled":false/',
                                       "@@||bild.de^$document"])
def test_exceptions_cancel(exception):
    e = engine(CORPUS[426], "||bild.de^$doc,replace=/x/y/", exception)
    values = [value for value, _ in e.check("https://www.bild.de/", None, "document").replace]
    if exception.endswith("false/"):
        assert values == ["/x/y/"]  # only the rule with that value
    else:
        assert values == []


def test_a_blocked_request_gets_no_replacement():
    e = engine("||welt.de^", CORPUS[7281])
    decision = e.check("https://www.welt.de/homadConfigEnabled.json", "https://www.welt.de/", "xmlhttprequest")
    assert decision.blocked and decision.replace == ()


def test_untrusted_lists_may_not_replace():
    e = engine(CORPUS[7281], "@@||welt.de^$replace", trusted=False)
    assert e.skipped["trusted-only ($replace) in an untrusted list"] == 2
    assert not e.check("https://www.welt.de/homadConfigEnabled.json", None, "xmlhttprequest").replace


def test_the_corpus_lines_are_no_longer_skipped(corpus):
    filter_list = read_list(str(corpus / "lists" / "ublock-filters.txt"))
    network = NetworkEngine([filter_list])
    assert not [reason for reason in network.skipped if "replace" in reason]
    assert network.bad_lines == filter_list.bad


def test_engine_facade_round_trip():
    e = Engine.from_text("[Adblock Plus 2.0]\n" + CORPUS[7281], "t.txt")
    assert e.check("https://www.welt.de/homadConfigEnabled.json", None, "xmlhttprequest").replace
