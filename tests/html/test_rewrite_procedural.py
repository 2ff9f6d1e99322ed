"""The rewriter with uBO's procedural operators: `:remove-attr()`, `:remove-class()`, `:xpath()`,
`:matches-attr()`, `:others()`, procedural `:has()`/`:not()`, and `:matches-css()` left to the page runtime."""

from __future__ import annotations

import dataclasses

import time

import pytest

from filters.cosmetic import selectors
from filters.cosmetic.rules import CosmeticStore
from filters.html.rewrite import HIDDEN_ATTRIBUTE, PageTimeout, parse, rewrite_page
from filters.lists.syntax import parse_list_text
from tests.html_events import events

URL = "https://www.example.com/watch/1"


def run(body: str | bytes, rules: str, *, mode="remove", content_type="text/html; charset=utf-8", url=URL):
    if isinstance(body, str):
        body = body.encode("utf-8")
    store = CosmeticStore.from_lists([parse_list_text(rules, name="test.txt")])
    # What the server does to the bytes (the page runtime that goes in too is tested in tests/html/test_inject.py).
    page_rules = dataclasses.replace(store.page_rules(url), live="")
    return rewrite_page(body, url=url, content_type=content_type, rules=page_rules, mode=mode)


# --- :remove-attr() / :remove-class() -----------------------------------------------------------------

PLAYER = """<!DOCTYPE html><html><head><title>Video</title></head><body>
<a id="clickfakeplayer" href="https://ads.example/pop" class="player big" onclick="pop()">Play</a>
<p>Story text.</p>
</body></html>"""


def test_remove_attr_takes_the_attribute_off_and_keeps_the_element():
    # ublock-filters.txt: dvdgayonline.com###clickfakeplayer:remove-attr(href), here for example.com
    result = run(PLAYER, "example.com###clickfakeplayer:remove-attr(href)")
    assert result.body.decode() == PLAYER.replace(' href="https://ads.example/pop"', "")
    assert result.changed and result.edited == 1 and result.removed == result.hidden == 0
    assert [(hit.rule, hit.count) for hit in result.rule_hits] == [("example.com###clickfakeplayer:remove-attr(href)", 1)]
    assert result.selectors == ["example.com###clickfakeplayer:remove-attr(href)"]
    assert result.summary() == "took attributes off 1 element"
    assert result.edits == [(PLAYER.index(' href='), PLAYER.index(' class='))]


def test_remove_attr_in_hide_mode_and_with_a_regex():
    result = run(PLAYER, "example.com##a:remove-attr(/^(on|href)/)", mode="hide")
    assert result.body.decode() == PLAYER.replace(' href="https://ads.example/pop"', "").replace(' onclick="pop()"', "")
    assert result.edited == 1 and result.hidden == 0


@pytest.mark.parametrize(
    ("tag", "rule", "expected"),
    [
        ('<a href=x href=y id=t>', "##a:remove-attr(href)", "<a id=t>"),  # every copy: browsers read the first
        ('<a class="x"href=y>', "##a:remove-attr(class)", "<a href=y>"),  # a space keeps the next one apart
        ('<a href="x"class=y>', "##a:remove-attr(href)", "<a class=y>"),
        ("<a\nhref='x'\n>", "##a:remove-attr(HREF)", "<a\n>"),
        ('<img src=x.png alt="a"/>', "##img:remove-attr(alt)", "<img src=x.png/>"),
        ('<a class="ad-top story ad-x">', "##a:remove-class(/^ad-/)", '<a class="story">'),
        ('<a class="ad">', "##a:remove-class(ad)", '<a class="">'),  # as classList.remove leaves it
        ("<a class=ad-1 id=z>", "##a:remove-class(ad-1)", '<a class="" id=z>'),
        ('<a class="AD ad">', "##a:remove-class(ad)", '<a class="AD">'),  # class names keep their case
        ('<a class="x &amp; y">', "##a:remove-class(x)", '<a class="&amp; y">'),
        ('<a class="x" class="y">', "##a:remove-class(y)", None),  # browsers read the first class only
        ('<a class="x">', "##a:remove-class(x)\n##a:remove-attr(class)", "<a>"),
    ],
)
def test_start_tag_edits(tag, rule, expected):
    page = f"<html><body><p>a</p>{tag}link</a><p>b</p></body></html>"
    result = run(page, rule)
    if expected is None:
        assert not result.changed
        return
    assert result.body.decode() == page.replace(tag, expected)
    # What a browser sees is the original tree minus those attributes: parse both and compare.
    original, rewritten = parse(page), parse(result.body.decode())
    assert [e.name for e in original.created] == [e.name for e in rewritten.created]


def test_edits_inside_a_removed_element_are_dropped_and_hidden_ones_are_edited():
    page = '<html><body><div class="ad"><a href="x">in ad</a></div><div class="box"><a href="y">in box</a></div></body></html>'
    rules = "##.ad\n##.box\n##a:remove-attr(href)"
    removed = run(page, rules)
    assert removed.body.decode() == "<html><body></body></html>"
    assert removed.edited == 0 and removed.removed == 2
    hidden = run(page, rules, mode="hide")
    body = hidden.body.decode()
    assert body.count(f"<div {HIDDEN_ATTRIBUTE} class=") == 2 and "href" not in body and hidden.edited == 2


def test_edits_keep_xhtml_well_formed():
    from xml.dom import minidom

    page = ('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
            '<body><a class="ad x" href="y">l</a></body></html>')
    result = run(page, "##a:remove-class(ad)\n##a:remove-attr(href)", content_type="application/xhtml+xml")
    minidom.parseString(result.body)
    assert b'<a class="x">' in result.body


# --- :xpath() -------------------------------------------------------------------------------------------

NEWS = """<!DOCTYPE html><html><head><title>News</title></head><body>
<div class="story" onclick="open()"><div><div><p>Ad promoted</p></div></div></div>
<div class="story"><div><div><p>Real news</p></div></div></div>
<div class="card"><div><div><span>Ad</span></div></div></div>
<p>Article text that stays.</p>
</body></html>"""


@pytest.mark.parametrize("mode", ["remove", "hide"])
def test_xpath_rules_remove_what_they_select(mode):
    rules = ("example.com##[onclick] p:has-text(/Ad/):xpath(../../..)\n"  # ublock-filters.txt (indiatimes.com)
             "example.com##:xpath(//span[(text()='Ad')]/../../..)")  # ublock-filters.txt (samayam.com)
    result = run(NEWS, rules, mode=mode)
    assert {hit.rule for hit in result.rule_hits} == set(rules.splitlines())
    body = result.body.decode()
    if mode == "remove":
        assert result.removed == 2
        assert "Ad promoted" not in body and "<span>Ad</span>" not in body and "Real news" in body
        original = parse(NEWS)
        gone = [e for e in original.created if e.get("onclick") or e.get("class") == ["card"]]
        assert events(parse(body)) == events(original, skip=gone)
    else:
        assert result.hidden == 2 and body.count(HIDDEN_ATTRIBUTE) == 2 + 1  # two marks and the style


def test_xpath_tree_building_stops_at_the_deadline():
    page = "<html><body>" + "<div><p>x</p></div>" * 3000 + "<span>Ad</span></body></html>"
    document = parse(page)
    calls = []

    def tick():
        calls.append(1)
        if len(calls) > 2:
            raise PageTimeout("past the deadline")

    with pytest.raises(PageTimeout):
        selectors.xpath_tree(document.created[0], tick)
    # And through the rewriter: a deadline already past stops the page.
    with pytest.raises(PageTimeout):
        run_deadline = time.monotonic() - 1
        store = CosmeticStore.from_lists([parse_list_text("example.com##:xpath(//span)", name="t")])
        rewrite_page(page.encode(), url=URL, content_type="text/html", rules=store.page_rules(URL), deadline=run_deadline)


# --- :matches-attr(), procedural :has(), :others() ----------------------------------------------------------

FEED = """<!DOCTYPE html><html><head><title>Feed</title><script>var feed = 1;</script></head><body>
<div id="nav">menu</div>
<div class="pagelet-group"><div class="pagelet"><a>Sponsored</a></div><div class="pagelet"><a>Friends</a></div></div>
<a onmouseover="track_event()" href="/x">tracked</a><a href="/y">plain</a>
<div id="video_content"><video></video><p>caption</p></div>
<script>var late = 1;</script><footer>bottom</footer>
</body></html>"""


def test_matches_attr_and_procedural_has():
    rules = ("example.com#?#.pagelet-group .pagelet:has(a:has-text(/Sponsored|Create ad/))\n"  # ublock-filters.txt
             "example.com##a:matches-attr(/^on/=/event/)")  # ublock-filters.txt (pussyspace.com)
    result = run(FEED, rules)
    body = result.body.decode()
    assert result.removed == 2 and "Sponsored" not in body and "tracked" not in body
    assert "Friends" in body and "plain" in body


@pytest.mark.parametrize("mode", ["remove", "hide"])
def test_others_hides_the_rest_of_the_page_in_both_modes(mode):
    # ublock-filters.txt (pussyspace.com): ...#video_content, ... [href^="/webcams.php"]:others()
    result = run(FEED, 'example.com###video_content, [href^="/y"]:others()', mode=mode)
    assert result.removed == 0 and result.hidden == 4  # nav, the pagelets, the first link, the footer
    hidden = [e for e in parse(result.body.decode()).created if e.has_attr(HIDDEN_ATTRIBUTE)]
    assert sorted(e.name for e in hidden) == ["a", "div", "div", "footer"]
    assert "var late = 1;" in result.body.decode()  # scripts are neither removed nor marked


def test_matches_css_rules_are_left_to_the_page_runtime():
    rules = "example.com##p:matches-css(display: none)\nexample.com##.card"
    result = run(NEWS, rules)
    assert [hit.rule for hit in result.rule_hits] == ["example.com##.card"]
    store = CosmeticStore.from_lists([parse_list_text(rules, name="t")])
    assert "matches-css" not in " ".join(r.text for r in store.page_rules(URL).specific if r.plan.server)
    assert '"css"' in store.page_rules(URL).live
