"""Selector plans: procedural syntax translated for soupsieve, index keys and gates, step evaluation."""

from __future__ import annotations

import re

import pytest
import soupsieve
from bs4 import BeautifulSoup

from filters.cosmetic import selectors
from filters.cosmetic.selectors import Plan, SelectorError, Unsupported, plan_for, plan_for_adguard_html, plan_for_html_filter


def soup(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "lxml")


def evaluate(plan: Plan, document: BeautifulSoup) -> list:
    return selectors.run_steps(plan, selectors.select_all(plan, document))


# --- simple selectors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "key", "gate"),
    [
        (".ad-slot", ("class", "ad-slot"), {".ad-slot"}),
        ("#div-gpt-ad", ("id", "div-gpt-ad"), {"#div-gpt-ad"}),
        (".Ad_300x250", ("class", "Ad_300x250"), {".Ad_300x250"}),
        (".rekláma", ("class", "rekláma"), {".rekláma"}),
    ],
)
def test_lone_class_or_id_needs_no_soupsieve(selector, key, gate):
    plan = plan_for(selector)
    assert plan.simple and plan.element_keys == (key,) and plan.gate == frozenset(gate) and not plan.steps


@pytest.mark.parametrize("selector", [".300x250", ".a.b", "div.ad", ".md\\:block", "#a b", ".-"])
def test_anything_else_goes_through_soupsieve(selector):
    try:
        plan = plan_for(selector)
    except SelectorError:
        return  # `.300x250` is not CSS: soupsieve says so, and so do we
    assert not plan.simple


def test_simple_matching_agrees_with_soupsieve():
    document = soup('<div class="ad  x">1</div><div class="x ad-2">2</div><p id="ad">3</p><p id="ad x">4</p>')
    for selector in (".ad", ".x", ".ad-2", "#ad"):
        plan = plan_for(selector)
        fast = [e for e in document.find_all(True) if selectors.matches_element(plan, e)]
        assert fast == soupsieve.select(selector, document), selector


# --- procedural translation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "css"),
    [
        ("div.md\\:block:has-text(Advertisement)", 'div.md\\:block:-soup-contains("Advertisement")'),
        ('a:has-text(say "hi")', 'a:-soup-contains("say \\"hi\\"")'),
        ("a:has(p:has-text(Sponsored))", 'a:has(p:-soup-contains("Sponsored"))'),
        ("div:-abp-has(.ad)", "div:has(.ad)"),
        ("div:-abp-contains(Promoted)", 'div:-soup-contains("Promoted")'),
        ("div:contains(Promoted)", 'div:-soup-contains("Promoted")'),
        ("div:if(.ad)", "div:has(.ad)"),
        ("div:if-not(.content)", "div:not(:has(.content))"),
        ("div:not(:has-text(keep))", 'div:not(:-soup-contains("keep"))'),
        ("li:nth-child(2n+1)", "li:nth-child(2n+1)"),
        (".a:matches(.b, .c)", ".a:is(.b, .c)"),
        ("div:has(> .x .y)", "div:has(> .x .y)"),
        (".banner:watch-attr(class)", ".banner"),
    ],
)
def test_translation_to_soupsieve(selector, css):
    plan = plan_for(selector)
    assert plan.css == css and plan.steps == () and not plan.remove
    soupsieve.compile(plan.css, flags=selectors.SOUPSIEVE_FLAGS)


@pytest.mark.parametrize(
    ("selector", "css", "steps"),
    [
        (".a:has-text(/Spon(sored)?/i)", ".a", (("text", "Spon(sored)?", re.IGNORECASE),)),
        (".a:has-text(/\\d+ ads?/)", ".a", (("text", "\\d+ ads?", 0),)),
        (".x:upward(2)", ".x", (("upward", 2),)),
        (".x:nth-ancestor(3)", ".x", (("upward", 3),)),
        (".x:upward(.box > div)", ".x", (("upward_css", ".box > div"),)),
        (".x:upward(2) > .y", ".x", (("upward", 2), ("select", ":scope > .y"))),
        (".x:upward(2) .y", ".x", (("upward", 2), ("select", ":scope .y"))),
        (".x:upward(2) + .y", ".x", (("upward", 2), ("siblings", "+", ".y"))),
        (".x:has-text(/a/).y", ".x", (("text", "a", 0), ("filter", ".y"))),
        ("p:min-text-length(20)", "p", (("min_text", 20),)),
        (":has-text(/^Ad$/)", "*", (("text", "^Ad$", 0),)),
    ],
)
def test_procedural_steps(selector, css, steps):
    plan = plan_for(selector)
    assert (plan.css, plan.steps) == (css, steps)
    assert not plan.plain_css


def test_remove_is_a_flag():
    plan = plan_for(".banner:remove()")
    assert plan.css == ".banner" and plan.steps == () and plan.remove
    assert plan_for(".a:has-text(/x/):remove()").steps == (("text", "x", 0),)


def test_matches_path_becomes_a_page_test():
    plan = plan_for(":matches-path(/^\\/news/) .ad")
    assert plan.css == ".ad" and plan.path == ("regex", "^\\/news", 0)
    assert selectors.path_matches(plan.path, "/news/today?x=1")
    assert not selectors.path_matches(plan.path, "/sport/news")
    plan = plan_for(".ad:matches-path(/amp)")
    assert plan.path == ("text", "/amp") and selectors.path_matches(plan.path, "/x/amp/")


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        ("body:style(margin: 0)", ":style()"),
        ("a:matches-prop(x)", ":matches-prop()"),
        (":-abp-properties(base64)", ":-abp-properties()"),
        (".ads-box::before", "pseudo-element"),
        ('[role="banner"] {top:0 !important}', "CSS style injection"),
        (".a:is(.b:has-text(/x/))", "procedural selector inside :is()"),
        (".a:upward(.b:has-text(/x/))", "procedural selector inside :upward()"),
        (".a:has(:matches-path(/x/))", ":matches-path() inside another pseudo-class"),
    ],
)
def test_unsupported_selectors_have_a_reason(selector, reason):
    with pytest.raises(Unsupported) as raised:
        plan_for(selector)
    assert reason in raised.value.reason


@pytest.mark.parametrize(
    "selector",
    ["", "div:has(.a", ".x:has-text(/[/)", ".a >", ".x:upward(0)", ".x:upward(300)", "p:min-text-length(x)",
     "div[", ":matches-path(/x/)", "a[href=x]]]:not("],
)
def test_bad_selectors(selector):
    with pytest.raises(SelectorError):
        plan_for(selector)


def test_parentheses_and_brackets_inside_arguments():
    plan = plan_for('div:has-text(/(a|b)\\)c/):upward(1)')
    assert plan.steps[0] == ("text", "(a|b)\\)c", 0)
    plan = plan_for('a[title="x:has-text(y)"]:has-text(z)')
    assert plan.css == 'a[title="x:has-text(y)"]:-soup-contains("z")'


def test_html_filters():
    assert plan_for_html_filter("script:has-text(ads)").css == 'script:-soup-contains("ads")'
    with pytest.raises(Unsupported, match="responseheader"):
        plan_for_html_filter("responseheader(x-ads)")


def test_adguard_html_filter():
    plan = plan_for_adguard_html('script[tag-content="banner"][max-length="500"]')
    assert plan.css == "script" and plan.steps == (("tag_content", "banner"), ("max_length", 500))
    plan = plan_for_adguard_html('div[id="ad_text"][wildcard="*Ad*te""xt*"][min-length="3"]')
    assert plan.css == 'div[id*="ad_text"]'
    assert plan.steps[0] == ("wildcard", '.*Ad.*te"xt.*') and plan.steps[1] == ("min_length", 3)
    with pytest.raises(Unsupported):
        plan_for_adguard_html('div[parent-elements="td,table"]')
    for bad in ("[id=x]", 'div[max-length="a"]', "div[id=x]"):
        with pytest.raises(SelectorError):
            plan_for_adguard_html(bad)


# --- keys and gates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "keys"),
    [
        ("div#main.ad.banner-top", (("id", "main"),)),
        ("div.ad.banner-top", (("class", "banner-top"),)),
        ('a[href^="https://Ads.example/"]', (("attr", "href", "^https://Ads\\.example/", re.DOTALL | re.UNICODE, False, "https://ads.example/"),)),
        ('input[type="Hidden"]', (("attr", "type", "^hidden\\Z", re.DOTALL | re.UNICODE, True, "hidden"),)),
        ('a[title="x" i]', (("attr", "title", "^x\\Z", re.DOTALL | re.UNICODE, True, "x"),)),
        ("[data-ad-slot]", (("attr", "data-ad-slot", None, 0, False, None),)),
        ('[data-x!="y"]', (("any",),)),
        ("AMP-AD", (("tag", "amp-ad"),)),
        ("*:not(.a)", (("any",),)),
        (".a, #b span, i", (("class", "a"), ("tag", "span"), ("tag", "i"))),
        (".box > .ad:has(.x)", (("class", "ad"),)),
    ],
)
def test_element_keys(selector, keys):
    assert plan_for(selector).element_keys == keys


@pytest.mark.parametrize(
    ("selector", "gate"),
    [
        (".box > .ad", {".box", ".ad"}),
        ("div:has(> .x #y)", {".x", "#y"}),
        ("div:not(.x)", set()),
        ("div:is(.a, .b)", set()),
        ('[href^="https://X.com/"] > img', {"@href\0https://x.com/"}),
        ('.x a[href*="ad"] img', {".x", "@href\0ad"}),
        ('a[href*="ad"]', set()),  # the matched element's own attribute is its key
        (".a .c, .b .c", {".c"}),
    ],
)
def test_gates(selector, gate):
    assert plan_for(selector).gate == frozenset(gate)


@pytest.mark.parametrize(
    ("selector", "literal"),
    [
        ('[a="Ab.c/d"]', "ab.c/d"),
        ('[a^="Ab.c/d"]', "ab.c/d"),
        ('[a$="Ab.c/d"]', "ab.c/d"),
        ('[a*="Ab.c/d"]', "ab.c/d"),
        ('[a~="Ab.c/d"]', "ab.c/d"),
        ('[a|="Ab.c/d"]', "ab.c/d"),
        ('[a^=""]', "\0"),
        ('[a="x\\"y"]', 'x"y'),
    ],
)
def test_attribute_literals(selector, literal):
    attribute = soupsieve.compile(selector).selectors[0].attributes[0]
    assert selectors.attribute_literal(attribute.pattern.pattern) == literal


def test_literal_is_contained_in_every_value_the_pattern_matches():
    values = ["x Ab.c/d y", "Ab.c/d", "Ab.c/d-en", "ab.c/d", "zz"]
    for op in ("=", "^=", "$=", "*=", "~=", "|="):
        for flag in ("", " i"):
            attribute = soupsieve.compile(f'[a{op}"Ab.c/d"{flag}]').selectors[0].attributes[0]
            literal = selectors.attribute_literal(attribute.pattern.pattern)
            for value in values:
                tested = value.lower() if attribute.ignore_case else value
                if attribute.pattern.search(tested):
                    assert literal in value.lower(), (op, flag, value)


# --- evaluation -------------------------------------------------------------------------------------


PAGE = """<div class="box"><div class="card"><span class="label">Sponsored</span><p>Buy now</p></div>
<div class="card"><span class="label">News</span><p>Real story text here</p></div></div>
<ul><li class="first">a</li><li>b</li><li class="x">c</li></ul>
<script>var ads = "banner";</script><script>var ok = 1;</script><!-- Sponsored comment -->"""


@pytest.mark.parametrize(
    ("selector", "texts"),
    [
        (".label:has-text(Sponsored):upward(1)", ["SponsoredBuy now"]),
        (".label:has-text(/^spon/i):upward(.box)", ["SponsoredBuy now\nNewsReal story text here"]),
        (".card:has(.label:has-text(News)) p", ["Real story text here"]),
        (".card:-abp-has(.label):not(:has-text(Sponsored)) > p", ["Real story text here"]),
        (".label:upward(1) > p", ["Buy now", "Real story text here"]),
        ("li.first:upward(1) > li:not(.first)", ["b", "c"]),
        ("li.first:has-text(/a/) + li", ["b"]),
        ("li.first:has-text(/a/) ~ li", ["b", "c"]),
        ("p:min-text-length(10)", ["Real story text here"]),
        (".card:has-text(/story/).card", ["NewsReal story text here"]),
        ("script:has-text(ads)", ['var ads = "banner";']),
        (".box:has-text(comment)", []),  # comments are not text
    ],
)
def test_evaluation(selector, texts):
    document = soup(PAGE)
    assert [e.get_text() for e in evaluate(plan_for(selector), document)] == texts


def test_adguard_steps_evaluate_on_html():
    document = soup('<script>var banner = 1;</script><script>x()</script><div id="x_ad_text_1"><b>Ad</b> text</div>')
    assert [e.string for e in evaluate(plan_for_adguard_html('script[tag-content="banner"]'), document)] == ["var banner = 1;"]
    assert len(evaluate(plan_for_adguard_html('script[max-length="3"]'), document)) == 1
    found = evaluate(plan_for_adguard_html('div[id="ad_text"][tag-content="<b>Ad</b>"][wildcard="*<div*Ad*text*"]'), document)
    assert len(found) == 1


def test_element_text_is_text_content():
    document = soup("<div>a<script>b</script><!--c--><style>d</style><span>e</span></div>")
    assert selectors.element_text(document.div) == "abde"


def test_plans_are_plain_data():
    import pickle

    for selector in (".a", ".x:has-text(/y/i):upward(2) > .z", ':matches-path(/a) [href^="x"]'):
        plan = plan_for(selector)
        assert pickle.loads(pickle.dumps(plan)) == plan


def test_compiled_selectors_are_cached():
    selectors.compile_css.cache_clear()
    plan_for("div.one > .two:nth-child(2)")  # outside `plain`'s grammar: compiled by soupsieve
    plan_for("div.one > .two:nth-child(2)")
    assert selectors.compile_css.cache_info().hits >= 1


@pytest.mark.parametrize(
    ("pattern", "sample", "engine"),
    [
        ("spon(sored)?", "SPONSORED", "re2"),
        ("(?P<x>a)b", "AB", "re2"),
        ("(?<=a)b", "AB", "re"),
        ("(a)\\1", "AA", "re"),
        ("a\\Z", "bA", "re"),
        ("a++b", "AAB", "re"),
    ],
)
def test_list_regexes_use_re2_when_they_can(pattern, sample, engine):
    compiled = selectors.list_regex(pattern, re.IGNORECASE)
    assert type(compiled).__module__.startswith("re2") is (engine == "re2")
    assert compiled.search(sample) is not None


@pytest.mark.timeout(10)
def test_a_hostile_text_regex_does_not_stall():
    plan = plan_for(".x:has-text(/(a+)+$/)")
    document = soup('<p class="x">' + "a" * 5000 + "!</p>")
    assert evaluate(plan, document) == []


# --- selectors beyond any real list's shape are bad lines, never a crash ------------------------


@pytest.mark.parametrize("selector", [
    " ".join(["div"] * 1000),
    " > ".join(["div"] * 300),
    "~".join(["p"] * 300),
    "div:has(" * 40 + "a" + ")" * 40,
    "[" * 40 + "x" + "]" * 40,
])
def test_over_deep_selectors_are_selector_errors(selector):
    with pytest.raises(SelectorError, match="selector (chains|nested)"):
        plan_for(selector)


@pytest.mark.parametrize("selector", [
    " ".join(["div"] * 200),
    "div:has-text(" + " ".join(["word"] * 400) + ")",
    ", ".join(f"#slot-{i} > .ad" for i in range(400)),
    'a[title="' + " > ".join(["x"] * 400) + '"]',
    "div:has(" * 8 + "a" + ")" * 8,
])
def test_long_but_shallow_selectors_are_fine(selector):
    assert plan_for(selector).css


def test_a_recursion_in_parsing_is_a_selector_error(monkeypatch):
    # Where the shape limits are not enough (a deep stack already), the index-key walk recursing
    # too deep is still a bad line.
    def too_deep(compiled):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(selectors, "_gate", too_deep)
    with pytest.raises(SelectorError, match="nested too deeply"):
        plan_for("div:has(> p span):nth-child(2)")  # read by soupsieve
    monkeypatch.setattr(selectors.plain, "_parse_list", too_deep_plain)
    with pytest.raises(SelectorError, match="nested too deeply"):
        plan_for("div:has(> p span)")  # read by `plain`


def too_deep_plain(*args):
    raise RecursionError("maximum recursion depth exceeded")


def test_real_selectors_stay_within_the_shape_limits(corpus):
    from filters.cosmetic.rules import _MARKER

    checked = 0
    for name in ("easylist.txt", "ublock-filters.txt"):
        for line in (corpus / "lists" / name).read_text(encoding="utf-8").splitlines():
            marker = _MARKER.search(line)
            if marker is None or line.startswith("!"):
                continue
            selectors.check_shape(line[marker.end():].strip())
            checked += 1
    assert checked > 10_000


def _string_end_by_chars(text: str, position: int, quote: str):
    """Where a quoted string ends, one character at a time (what `_string_end` finds with a regex)."""
    while position < len(text):
        if text[position] == "\\":
            position += 2
        elif text[position] == quote:
            return position + 1
        else:
            position += 1
    return "unclosed"


def _paren_end_by_chars(text: str, position: int):
    """Where an argument's `)` is, one character at a time (what `_paren_end` finds jumping between specials)."""
    depth, start = 1, position
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char in "\"'":
            position = _string_end_by_chars(text, position + 1, char)
            if position == "unclosed":
                return position
            continue
        if char == "/" and not text[start:position].strip():
            closing = selectors._regex_end(text, position + 1)
            if closing > 0:
                position = closing
                continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return position
        position += 1
    return -1


def test_string_and_argument_ends_match_a_character_scan():
    import random

    def found(function, *args):
        try:
            return function(*args)
        except SelectorError:
            return "unclosed"

    generator = random.Random(5)
    alphabet = 'ab ()"\'\\/[]\n.'
    for _ in range(20_000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 14)))
        position = generator.randint(0, len(text) + 1)
        quote = generator.choice("\"'")
        assert found(selectors._string_end, text, position, quote) == _string_end_by_chars(text, position, quote), text
        assert found(selectors._paren_end, text, position) == _paren_end_by_chars(text, position), text
