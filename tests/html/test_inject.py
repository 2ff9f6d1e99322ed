"""What goes into a page, where, and how a page's Content-Security-Policy is adjusted for it (and only for it)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from filters.cosmetic.rules import CosmeticStore
from filters.html.inject import Policies, head_point, meta_nonce
from filters.html.rewrite import rewrite_page
from filters.lists.syntax import parse_list_text


def digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.parametrize(("page", "before"), [
    ("<!doctype html><html><head><title>x</title>", "<title>"),
    ("<!DOCTYPE html>\n<html lang=en>\n<HEAD class=a>\n<script>1</script>", "\n<script>"),
    ("<!doctype html><title>x</title><script>1</script>", "<title>"),  # no <head> written out
    ("<html><body><script>1</script>", "<body>"),
    ("<!-- a comment --><p>text", "<p>"),
    ("just text", ""),
])
def test_head_point_comes_before_any_script_of_the_page(page, before):
    point = head_point(page)
    assert page[point:].startswith(before) if before else point in (0, len(page))


def test_head_point_in_a_long_page_is_found_in_its_first_bytes():
    page = "<!doctype html><html><head>" + "<meta name=x content=y>" * 10000
    assert head_point(page) == len("<!doctype html><html><head>")


def test_a_page_without_a_policy_gets_no_policy():
    policies = Policies()
    assert policies.element("script", "run()") == '<script data-dejunk="">run()</script>'
    assert not policies.changed and policies.enforced == []


@pytest.mark.parametrize("policy", [
    "script-src 'self' 'unsafe-inline'",
    "default-src * 'unsafe-inline' 'unsafe-eval'",
    "img-src 'self'",  # says nothing about scripts
])
def test_a_policy_that_allows_inline_scripts_is_left_alone(policy):
    policies = Policies((policy,))
    assert policies.element("script", "run()").startswith("<script data-dejunk=\"\">")
    assert not policies.changed


def test_a_nonce_policy_lends_its_nonce_and_is_not_changed():
    policies = Policies(("default-src 'self'; script-src 'nonce-abc123' 'strict-dynamic'; object-src 'none'",))
    assert policies.element("script", "run()") == '<script data-dejunk="" nonce="abc123">run()</script>'
    assert not policies.changed


def test_a_hash_policy_gets_the_hash_of_dejunks_element_only():
    policy = "default-src 'self'; script-src 'self' 'sha256-AAAA'; style-src 'self'"
    policies = Policies((policy,))
    policies.element("script", "run()")
    [changed] = policies.enforced
    assert changed == f"default-src 'self'; script-src 'self' 'sha256-AAAA' {digest('run()')}; style-src 'self'"
    policies.element("style", ".ad{display:none!important}")
    [changed] = policies.enforced
    assert changed.endswith(f"style-src 'self' {digest('.ad{display:none!important}')}")


def test_default_src_is_where_the_hash_goes_without_a_script_directive():
    policies = Policies(("default-src 'self'",))
    policies.element("script", "run()")
    assert policies.enforced == [f"default-src 'self' {digest('run()')}"]


def test_strict_dynamic_with_unsafe_inline_still_needs_the_hash():
    # 'strict-dynamic' makes a browser ignore 'unsafe-inline': only a hash lets dejunk's script run.
    policies = Policies(("script-src 'strict-dynamic' 'unsafe-inline' https:",))
    policies.element("script", "run()")
    assert digest("run()") in policies.enforced[0]


def test_script_src_none_is_respected():
    policies = Policies(("script-src 'none'; style-src 'self'",))
    assert policies.element("script", "run()") == ""
    assert policies.left_out and not policies.changed
    assert policies.element("style", "a{b:c}")  # styles are another matter
    assert digest("a{b:c}") in policies.enforced[0]


def test_every_policy_of_a_page_is_satisfied():
    policies = Policies(("script-src 'nonce-one'", "script-src 'self', script-src 'sha256-BBBB'"),
                        ("script-src 'self'",))
    element = policies.element("script", "run()")
    assert 'nonce="one"' in element
    assert policies.enforced[0] == "script-src 'nonce-one'"
    assert policies.enforced[1] == f"script-src 'self' {digest('run()')}, script-src 'sha256-BBBB' {digest('run()')}"
    assert policies.report_only == [f"script-src 'self' {digest('run()')}"]


def test_meta_policy_nonce_is_found():
    page = '<html><head><meta http-equiv="Content-Security-Policy" content="script-src \'nonce-xyz\'"><title>'
    assert meta_nonce(page, head_point(page)) == "xyz"
    assert meta_nonce("<html><head><title>", 12) is None


def test_xhtml_text_is_escaped_and_hashed_as_the_browser_reads_it():
    policies = Policies(("script-src 'self'",), xml=True)
    element = policies.element("script", "if (a < b && c) {}")
    assert "if (a &lt; b &amp;&amp; c) {}" in element
    assert digest("if (a < b && c) {}") in policies.enforced[0]


PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body><div class="ad">ad</div><p>text</p></body></html>"""


def page_rules(text: str, url: str = "https://example.com/a"):
    return CosmeticStore.from_lists([parse_list_text(text, name="test.txt")]).page_rules(url)


def test_rewrite_puts_scriptlets_and_styles_first_in_the_head():
    rules = page_rules("example.com##+js(set, a.b, true)\nexample.com##p:style(color: red)\n")
    result = rewrite_page(PAGE, url="https://example.com/a", content_type="text/html", rules=rules)
    assert result.changed and result.injected == ["scriptlets", "styles"]
    text = result.body.decode()
    head = text.index("<head>") + len("<head>")
    assert text[head:].startswith('<script data-dejunk="">') and '"a.b"' in text
    assert '<style data-dejunk="">p{color: red !important}</style><meta charset="utf-8">' in text
    assert result.csp is None and "ad</div>" in text  # nothing removed: no hiding rule


def test_rewrite_of_a_page_with_a_policy_returns_the_new_policy():
    rules = page_rules("example.com##+js(set, a.b, true)\n##.ad\n")
    result = rewrite_page(PAGE, url="https://example.com/a", content_type="text/html", rules=rules,
                          csp=("script-src 'self'",))
    assert result.removed == 1 and result.injected == ["scriptlets"]
    text = result.body.decode()
    script = text[text.index('<script data-dejunk="">') + len('<script data-dejunk="">') : text.index("</script>")]
    assert result.csp == (f"script-src 'self' {digest(script)}",)


def test_a_page_whose_policy_refuses_scripts_is_left_without_and_says_why():
    rules = page_rules("example.com##+js(set, a.b, true)\n")
    result = rewrite_page(PAGE, url="https://example.com/a", content_type="text/html", rules=rules,
                          csp=("script-src 'none'",))
    assert not result.changed and result.body is PAGE
    assert result.not_injected == ["script: the page's Content-Security-Policy allows none"]


def test_hide_mode_style_follows_the_policy_too():
    rules = page_rules("##.ad\n")
    result = rewrite_page(PAGE, url="https://example.com/a", content_type="text/html", rules=rules, mode="hide",
                          csp=("default-src 'self'; style-src 'nonce-s1'",))
    assert result.hidden == 1 and result.csp is None
    assert b'<style id="dejunk-hide" nonce="s1">' in result.body  # the page's style nonce, its policy unchanged
    refused = rewrite_page(PAGE, url="https://example.com/a", content_type="text/html", rules=rules, mode="hide",
                           csp=("style-src 'none'",))
    assert refused.hidden == 0 and not refused.changed  # nothing marked that could not be hidden
