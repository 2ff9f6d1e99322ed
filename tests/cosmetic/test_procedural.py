"""uBO's remaining procedural operators: `:xpath()`, `:matches-attr()`, `:others()`, `:remove-attr()`,
`:remove-class()`, procedural `:has()`/`:not()`, `:matches-css()` (page runtime only), with real list lines."""

from __future__ import annotations

import pickle
import re

import pytest
from bs4 import BeautifulSoup

from filters.cosmetic import selectors
from filters.cosmetic.rules import CosmeticStore, parse_rule
from filters.cosmetic.selectors import SelectorError, Unsupported, browser_plan, plan_for
from filters.lists.syntax import parse_list_text


def soup(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "lxml")


def selected(selector: str, markup: str) -> list:
    plan = plan_for(selector)
    assert plan.server
    return selectors.run_steps(plan, selectors.select_all(plan, soup(markup)))


def ids(elements) -> list[str]:
    return [element.get("id") for element in elements]


# --- :xpath() ------------------------------------------------------------------------------------

NEWS = """<html><body>
<div id="story1" onclick="go()"><div id="w1"><div id="v1"><p id="p1">Ad by partner</p></div></div></div>
<div id="story2" onclick="go()"><div id="w2"><div id="v2"><p id="p2">Local news</p></div></div></div>
<div id="card"><div id="c1"><div id="c2"><span id="label">Ad</span></div></div></div>
<div id="card2"><div><div><span>Ads</span></div></div></div>
<table id="t"><tbody id="tb"><tr id="tr"><td id="td"><strong id="s">Get a VPN</strong></td></tr></tbody></table>
<div id="hide-ip"><p id="hp">Hide your IP now</p></div>
<div id="box"><div id="inner" class="InfoPcBolsaAdBlock">x</div></div>
</body></html>"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # ublock-filters.txt, as written
        ("indiatimes.com##[onclick] p:has-text(/Ad/):xpath(../../..)", ["story1"]),
        ("samayam.com##:xpath(//span[(text()='Ad')]/../../..)", ["card"]),
        ('torlock.*##:xpath(//strong[contains(text(),"VPN")]/../../..)', ["tb"]),
        ("""1337x.*##:xpath('//*[contains(text(),"Hide your IP")]/..')""", ["hide-ip"]),
        ("""ettv.*##:xpath('//*[contains(text(),"VPN")]'):upward(2)""", ["tr"]),
        ("pcbolsa.com##.InfoPcBolsaAdBlock:xpath(..)", ["box"]),
        ('ndtv.com##:xpath(//div[contains(text(),"Advert")])', []),
    ],
)
def test_xpath_alone_and_after_a_selector(line, expected):
    rule = parse_rule(line, with_plan=True)
    assert rule.plan.server
    found = selectors.run_steps(rule.plan, selectors.select_all(rule.plan, soup(NEWS)))
    assert ids(found) == expected


def test_xpath_steps():
    assert plan_for("p:xpath(../..)").steps == (("xpath", "../.."),)
    plan = plan_for(":xpath(//span)")
    assert (plan.css, plan.steps) == ("html", (("xpath_root", "//span"),))  # once per page, not per element
    assert plan_for(":xpath('//a[@x=\"y\"]')").steps == (("xpath_root", '//a[@x="y"]'),)


def test_xpath_selects_elements_only_and_never_template_contents():
    markup = "<div id=a>text<!-- c --><b id=b>x</b></div><template><i id=t>x</i></template>"
    assert ids(selected(":xpath(//div/node())", markup)) == ["b"]
    assert ids(selected(":xpath(//i)", markup)) == []
    assert ids(selected(":xpath(//*[@id='a']/@id/..)", markup)) == ["a"]


def test_xpath_sees_text_as_a_browser_does():
    # Entities decoded, adjacent text one node, a comment splitting text into two nodes.
    markup = "<p id=a>Fish &amp; chips</p><p id=b>Ad<!-- x -->vert</p><p id=c>\x01odd</p>"
    assert ids(selected(":xpath(//p[text()='Fish & chips'])", markup)) == ["a"]
    assert ids(selected(":xpath(//p[text()='Ad'])", markup)) == ["b"]
    assert ids(selected(":xpath(//p[contains(., 'odd')])", markup)) == ["c"]


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (":xpath(//span[(text()='Ad')/../..)", "at column"),
        (":xpath(//a[)", "at column"),
        (":xpath(count(//a))", "does not select nodes"),
        (":xpath(//foo:bar)", "Undefined namespace prefix"),
        (":xpath(nosuch(1))", "Unregistered function"),
        (":xpath()", "needs an expression"),
    ],
)
def test_bad_xpath_is_a_bad_line(selector, message):
    with pytest.raises(SelectorError) as raised:
        plan_for(selector)
    assert message in str(raised.value)


def test_bad_xpath_in_a_list_is_counted_with_its_line():
    # Found when the list is read, site-specific rules too (the expression is compiled then).
    store = CosmeticStore.from_lists([parse_list_text("example.com##:xpath(//a[)\n##:xpath(//a[)", name="x.txt")])
    assert [(bad.line, "at column 5" in bad.reason) for bad in store.bad_lines] == [(1, True), (2, True)]
    assert store.skipped["bad cosmetic rule"] == 2


# --- :matches-attr() -------------------------------------------------------------------------------

LINKS = """<a id=a1 onmouseover="track_event()">x</a><a id=a2 onclick="go()">x</a><a id=a3 data-href="/x">x</a>
<a id=a4 href="/__cft__[0]={long}">x</a><a id=a5 href="/__cft__[0]=short">x</a><a id=a6 class="promo box">x</a>"""
LINKS = LINKS.replace("{long}", "A-b_" * 80)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("a:matches-attr(/^on/=/event/)", ["a1"]),  # ublock-filters.txt (pussyspace.com)
        ("a:matches-attr(/-h?ref/)", ["a3"]),  # ublock-filters.txt (pussyspace.com)
        ('a:matches-attr(href="/__cft__\\[0\\]=[-\\w]{290,}/")', ["a4"]),  # ublock-filters.txt (facebook.com)
        ("a:matches-attr(onclick)", ["a2"]),
        ('a:matches-attr("class"="promo box")', ["a6"]),
        ("a:matches-attr(class=promo)", []),  # a text value is the whole value
        ("a:matches-attr(class=/promo/)", ["a6"]),
        ("a:matches-attr(CLASS=/promo/)", ["a6"]),  # attribute names are case-insensitive in HTML
        ("a:matches-attr('/^data-/')", ["a3"]),
    ],
)
def test_matches_attr(selector, expected):
    assert ids(selected(selector, LINKS)) == expected


@pytest.mark.parametrize("selector", ["a:matches-attr()", "a:matches-attr(/[/)", "a:matches-attr(/x/ y)", "a:matches-attr(x=/(/)"])
def test_bad_matches_attr(selector):
    with pytest.raises(SelectorError):
        plan_for(selector)


# --- :others() -------------------------------------------------------------------------------------

LAYOUT = """<html><head><title>t</title></head><body>
<header id=h>top</header><script id=js>var x;</script>
<div id=main><nav id=nav>menu</nav><div id=player><video id=v></video><p id=cap>c</p></div><aside id=side>ad</aside></div>
<div id=link-box><a id=cam href="/webcams.php?x">cams</a><span id=other>o</span></div>
<footer id=f>bottom</footer></body></html>"""


def test_others_takes_everything_but_the_matches_their_ancestors_and_descendants():
    # ufacw.com###wpsafe-generate, #wpsafe-link:others() (ublock-filters.txt), on this page's ids.
    assert sorted(ids(selected("#player, #cam:others()", LAYOUT))) == ["f", "h", "nav", "other", "side"]
    assert selected("#nothing:others()", LAYOUT) == []


def test_others_plan_is_hidden_even_when_removing():
    plan = plan_for('#video_content, [href^="/webcams.php"]:others()')
    assert plan.steps == (("others",),) and plan.hide_only and plan.css == '#video_content, [href^="/webcams.php"]'
    with pytest.raises(SelectorError):
        plan_for(".a:others(x)")


# --- :remove-attr() / :remove-class() --------------------------------------------------------------


def test_remove_attr_and_remove_class_are_edits():
    plan = plan_for("#clickfakeplayer:remove-attr(href)")  # ublock-filters.txt (dvdgayonline.com)
    assert (plan.css, plan.steps, plan.edit, plan.remove) == ("#clickfakeplayer", (), ("attr", ("text", "href")), False)
    assert plan_for('a:remove-attr("/^on/")').edit == ("attr", ("regex", "^on", 0))
    assert plan_for(".x:has-text(/y/):remove-class(ad)").edit == ("class", ("text", "ad"))
    assert plan_for(".x:has-text(/y/):remove-class(ad)").steps == (("text", "y", 0),)
    assert not plan_for("#a:remove-attr(href)").plain_css


@pytest.mark.parametrize(
    "selector",
    ["a:remove-attr(href):has-text(x)", "a:remove-attr()", "a:remove-class(/[/)", ".a:has(.b:remove-attr(x))",
     "a:remove-attr(x):remove()"],
)
def test_bad_edit_rules(selector):
    with pytest.raises(SelectorError):
        plan_for(selector)


# --- procedural :has() / :not() ----------------------------------------------------------------------

FEED = """<div class=pagelet-group>
<div class=pagelet id=p1><a>Sponsored</a></div><div class=pagelet id=p2><a>News</a></div>
<div class=pagelet id=p3>Sponsored <b>text</b></div></div>
<div id=watch_feed><span aria-labelledby=x id=sp><span style="display: flex;"><span class=k>S</span></span>
<span style="display: flex;"><span class=k>p</span></span><span style="display: flex;"><span class=k>d</span></span></span></div>
<div class=suppress-rss id=r1>Supported by X</div><div class=suppress-rss id=r2><b>Other</b></div>
<div id=f1 onclick=x><div><p>Ad MAHA</p></div></div><div id=f2 onclick=x><div><p>Ad here</p></div></div>"""


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        # ublock-filters.txt (facebook.com), as written
        (".pagelet-group .pagelet:has(a:has-text(/Sponsored|Create ad|Crear un anuncio|Publicidad/))", ["p1"]),
        # ublock-filters.txt (facebook.com), without its trailing :style()
        ("span[aria-labelledby]:has(> span[style=\"display: flex;\"] > span[class]:has-text(/^S$/))"
         ":has(> span[style=\"display: flex;\"] > span[class]:has-text(/^p$/))"
         ":has(> span[style=\"display: flex;\"] > span[class]:has-text(/^d$/))", ["sp"]),
        # easylist.txt (semafor.com): an argument that starts with an operator tests the element itself
        (".suppress-rss:has(:has-text(Supported by))", ["r1"]),
        (".pagelet:has(:has-text(/^Sponsored/))", ["p1", "p3"]),
        # uBO's procedural :not() is :if-not(): its CSS selects descendants
        ("[onclick]:not(p:has-text(/MAHA/i))", ["f2"]),
        ("[onclick]:if-not(p:has-text(MAHA))", ["f2"]),
        (".pagelet:not(:has-text(/News/))", ["p1", "p3"]),
        (".pagelet:not(a:has-text(News))", ["p1", "p3"]),
        (".pagelet:has(+ .pagelet:has-text(/News/))", ["p1"]),
        (".pagelet:has(~ .pagelet > b:has-text(/text/))", ["p1", "p2"]),
        (".pagelet:has(:has-text(/Spon/) > b)", ["p3"]),
        (".pagelet-group:has(.pagelet:has(a:has-text(/News/)))", [None]),
    ],
)
def test_procedural_has_and_not(selector, expected):
    assert ids(selected(selector, FEED)) == expected


def test_has_text_inside_has_is_a_step_only_when_soupsieve_cannot_do_it():
    assert plan_for("a:has(p:has-text(Sponsored))").css == 'a:has(p:-soup-contains("Sponsored"))'
    assert plan_for("a:not(:has-text(keep))").css == 'a:not(:-soup-contains("keep"))'
    assert plan_for("a:not(p:has-text(keep))").css == 'a:not(:has(p:-soup-contains("keep")))'
    plan = plan_for(".pagelet:has(a:has-text(/Sponsored/))")
    assert plan.steps == (("if", "select", "a", (("text", "Sponsored", 0),), True),)


# --- a step after a combinator ---------------------------------------------------------------------


def test_a_step_after_a_combinator_applies_to_any_element_there():
    # easylist.txt: 4wank.com#?#.video-holder > center > :has-text(/^Advertisement$/)
    plan = plan_for(".video-holder > center > :has-text(/^Advertisement$/)")
    assert (plan.css, plan.steps) == (".video-holder > center > *", (("text", "^Advertisement$", 0),))
    markup = "<div class=video-holder id=v><center id=c><div id=ad>Advertisement</div><p>Advertisement x</p></center></div>"
    assert ids(selected(".video-holder > center > :has-text(/^Advertisement$/)", markup)) == ["ad"]
    assert ids(selected(".video-holder :has-text(/^Advertisement$/)", markup)) == ["ad"]
    assert ids(selected("#c:upward(1) :has-text(/^Advertisement/)", markup)) == ["c", "ad", None]


# --- :min-text-length() ------------------------------------------------------------------------------


def test_min_text_length():
    markup = "<p id=a>short</p><p id=b>a longer paragraph</p>"
    assert ids(selected("p:min-text-length(10)", markup)) == ["b"]


# --- :matches-css() and the page runtime's form ---------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "bild.de##div:matches-css-before(content:/Anzeige/i)",
        "golem.de##.list-articles>li:has(.icon-addy:matches-css-before(content: \"Anzeige\"))",
        "indiatimes.com,samayam.com##[onclick] p:matches-css-before(content:/Ad /):xpath(../..)"
        ":not(p:has-text(/MAHA/i)):not(p:has-text(/Times/i))",
        "plagiarismchecker.co##body *:matches-css(margin: /auto/):matches-css(width: /^[2-3]{1}[0-9]{2}(\\.[0-9]+)?px$/)"
        ":matches-css(display: /block|table/):remove()",
    ],
)
def test_matches_css_rules_are_kept_for_the_page_runtime(line):
    rule = parse_rule(line, with_plan=True)
    assert not rule.plan.server
    css, steps, _, _ = browser_plan(rule.selector)
    assert any(step[0] == "css" or step[0] == "if" and any(s[0] == "css" for s in step[3]) for step in steps)


def test_browser_plan_keeps_native_css_and_javascript_regexes():
    assert browser_plan("div:matches-css-before(content:/Anzeige/i)") == (
        "div", (("css", "::before", "content", ("r", "Anzeige", "i")),), False, None)
    assert browser_plan("div:matches-css(after, content: \"Ad\")")[1] == (("css", "::after", "content", ("s", '"Ad"')),)
    assert browser_plan("a:has-text(Sponsored)") == ("a", (("text", ("s", "Sponsored")),), False, None)
    assert browser_plan("div:-abp-has(.ad):if-not(.content)") == ("div:has(.ad):not(:has(.content))", (), False, None)
    assert browser_plan(".x:has-text(/(?<y>a)\\/b/)")[1] == (("text", ("r", "(?<y>a)\\/b", "")),)
    assert browser_plan(":matches-path(/a) .b:watch-attr(class, ID):remove()") == (".b", (("watch", ("class", "id")),), True, None)
    assert browser_plan(":xpath(//a)") == ("", (("xpath_root", "//a"),), False, None)


@pytest.mark.parametrize("selector", ["div:matches-css(display)", "div:matches-css(: x)", "div:matches-css(a: /[/)"])
def test_bad_matches_css(selector):
    with pytest.raises(SelectorError):
        plan_for(selector)


def test_new_plans_are_plain_data():
    for selector in (":xpath(//a)", ".a:has(p:has-text(/x/))", "a:matches-attr(/x/=y)", "#a:others()",
                     "a:remove-class(/x/)", "a:matches-css(color: red)"):
        plan = plan_for(selector)
        assert pickle.loads(pickle.dumps(plan)) == plan


def test_unsupported_operators_inside_procedural_arguments_keep_their_reason():
    with pytest.raises(Unsupported) as raised:
        plan_for(".a:has(.b:matches-prop(x))")
    assert "matches-prop" in raised.value.reason
    assert re.search("procedural", str(pytest.raises(Unsupported, plan_for, ":is(.a:has-text(/x/))").value))


# --- the real list -----------------------------------------------------------------------------------------


@pytest.mark.corpus
def test_every_procedural_line_of_ublock_filters_parses(corpus):
    from filters.lists.syntax import read_list

    store = CosmeticStore.from_lists([read_list(str(corpus / "lists" / "ublock-filters.txt"))])
    reasons = set(store.skipped)
    for gone in (":xpath() not supported", ":matches-css() needs computed styles", ":matches-attr() not supported",
                 ":has-text() inside another pseudo-class", ":others() not supported", ":remove-attr() not supported"):
        assert gone not in reasons
    assert store.bad_lines == []
    planned = live_only = 0
    for rules in store.specific.values():
        for rule in rules:
            rule = rule.with_plan()  # SelectorError would be a bad line found on the site
            planned += 1
            live_only += not rule.plan.server
            if rule.plan.steps or rule.plan.edit or rule.plan.remove:
                browser_plan(rule.selector)
    assert planned > 1500 and live_only >= 14
