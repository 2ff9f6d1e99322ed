"""The rewriter on the 30 real pages of the shared corpus, with the real lists.

- the indexed fast path selects exactly what soupsieve selects running every applicable rule;
- the rewritten page is the original with exactly the removed elements' source ranges deleted
  (checked by re-parsing: the tree equals the original tree minus those elements);
- hide mode changes nothing but the added attribute and one style;
- the human-judged article text survives (breakage measure, printed per page).
"""

from __future__ import annotations

import dataclasses

import html
import json
import re
from difflib import SequenceMatcher
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Comment

from filters.html import charset
from filters.cosmetic.rules import CosmeticStore
from filters.html.source import PARSER_VOID, VOID, SourceMap
from filters.lists.syntax import parse_list_text, read_list
from filters.html.rewrite import HIDDEN_ATTRIBUTE, _indexes, find_matches, parse, reference_matches, rewrite_page
from tests.html_events import events

pytestmark = pytest.mark.corpus

PAGE_COUNT = 30
PAGES = range(PAGE_COUNT)


@pytest.fixture(scope="module")
def pages(corpus: Path) -> list[dict]:
    listing = json.loads((corpus / "pages" / "pages.json").read_text())
    texts = {item["file"]: item["article_body"] for item in json.loads((corpus / "pages" / "article-text.json").read_text())}
    for page in listing:
        page["body"] = (corpus / "pages" / page["file"]).read_bytes()
        page["article"] = texts.get(page["file"], "")
    return listing


@pytest.fixture(scope="module")
def easylist(corpus: Path) -> CosmeticStore:
    return CosmeticStore.from_lists([read_list(str(corpus / "lists" / "easylist.txt"))])


@pytest.fixture(scope="module")
def all_lists(corpus: Path) -> CosmeticStore:
    names = ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt")
    return CosmeticStore.from_lists([read_list(str(corpus / "lists" / name)) for name in names])


@pytest.fixture(scope="module")
def rewritten(pages):
    """`rewritten(number, store, mode)`: rewrite_page's result for a corpus page, made once per page, store
    and mode for the tests that read it (none changes a result)."""
    done = {}

    def rewrite(number: int, store: CosmeticStore, mode: str = "remove"):
        key = (number, id(store), mode)  # (the stores are the module's own: they live as long as this)
        if key not in done:
            page = pages[number]
            done[key] = rewrite_page(page["body"], url=page["url"], content_type="text/html",
                                     rules=store.page_rules(page["url"]), mode=mode)
        return done[key]

    return rewrite


def test_corpus_has_the_expected_pages(pages):
    assert len(pages) == PAGE_COUNT


def decoded(page: dict) -> tuple[str, charset.PageEncoding]:
    encoding = charset.detect(page["body"], "text/html")
    return charset.decode(page["body"], encoding), encoding


# --- fast path vs reference ---------------------------------------------------------------------------


class PageText(str):
    """A page's text whose `in` first rules out, by its 4-character pieces, a name the page cannot hold.

    The reference skips a lone `.class` or `#id` whose name is not in the page's text: on a page of
    half a megabyte, thousands of such scans took half of its time. The answers are exactly str's:
    a name that passes the pieces' test is still looked for in the text.
    """

    PIECE = 4

    def __new__(cls, text: str):
        made = super().__new__(cls, text)
        made.pieces = {text[at : at + cls.PIECE] for at in range(len(text) - cls.PIECE + 1)}
        return made

    def __contains__(self, name: str) -> bool:
        piece = self.PIECE
        if len(name) >= piece and any(name[at : at + piece] not in self.pieces for at in range(len(name) - piece + 1)):
            return False
        return str.__contains__(self, name)


def test_page_text_answers_as_str_does():
    text = PageText("<div class='top-ad banner'>x</div>")
    for name in ("top-ad", "banner", "ad", "x", "", "top-ads", "nner'", "anner", "class='top-ad banner'>x</div>", "bannerx"):
        assert (name in text) == (name in str(text)), name
    assert "top-ad" in text and "top-ads" not in text and "ad b" in text
    split = PageText("abcde bcdef")  # every 4 characters of "abcdef" are there, but not "abcdef" itself
    assert all(piece in split.pieces for piece in ("abcd", "bcde", "cdef")) and "abcdef" not in split


def compare_with_reference(page: dict, store: CosmeticStore) -> int:
    text, _ = decoded(page)
    rules = store.page_rules(page["url"])
    soup = parse(text)
    fast = find_matches(soup.created, _indexes(rules, rules.generic))
    slow = reference_matches(soup, rules, page_text=PageText(html.unescape(text)))
    fast_pairs = {(rule.text, id(element)) for rule, found in fast for element in found}
    slow_pairs = {(rule.text, id(element)) for rule, found in slow for element in found}
    assert fast_pairs == slow_pairs, (
        f"only in the fast path: {sorted({t for t, _ in fast_pairs - slow_pairs})[:10]}; "
        f"only in the reference: {sorted({t for t, _ in slow_pairs - fast_pairs})[:10]}"
    )
    return len(fast_pairs)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("number", PAGES)
def test_fast_path_selects_what_soupsieve_selects(number, pages, easylist):
    compare_with_reference(pages[number], easylist)


@pytest.fixture(scope="module")
def site_selectors_as_generic(corpus: Path) -> CosmeticStore:
    """EasyList's and uBO's site-specific selectors, applied everywhere: many more complex and procedural
    selectors than the generic ones, run against real markup."""
    seen: set[str] = set()
    lines = []
    for name in ("easylist.txt", "ublock-filters.txt"):
        for _, text in read_list(str(corpus / "lists" / name)).cosmetic:
            marker = re.search(r"#\??#\^?", text)
            if marker is None or text.startswith("#") or "+js" in text[marker.end() : marker.end() + 4]:
                continue
            selector = text[marker.end() :]
            if selector not in seen:
                seen.add(selector)
                lines.append(("##^" if marker.group(0).endswith("^") else "##") + selector)
    store = CosmeticStore.from_lists([parse_list_text("\n".join(lines), name="site-selectors")])
    assert len(store.generic) > 9000
    return store


@pytest.mark.timeout(600)
@pytest.mark.parametrize("number", [0, 7, 13, 19, 22])
def test_fast_path_selects_what_soupsieve_selects_for_site_selectors(number, pages, site_selectors_as_generic):
    compare_with_reference(pages[number], site_selectors_as_generic)


# --- exact cuts -----------------------------------------------------------------------------------------


def removed_elements(page: dict, result) -> tuple[list, list, BeautifulSoup]:
    """The original elements whose source starts where each cut starts (and the cut texts)."""
    text, encoding = decoded(page)
    soup = parse(text)
    source = SourceMap(text, soup.created)
    by_start = {}
    for number, token in enumerate(source.pairs):
        if token >= 0:
            by_start[source.tokens.starts[token]] = number
    body = page["body"]
    elements, pieces = [], []
    for start, end in result.cuts:
        char_start = len(body[encoding.bom_length : start].decode(encoding.codec, "surrogateescape"))
        char_end = char_start + len(body[start:end].decode(encoding.codec, "surrogateescape"))
        assert char_start in by_start, f"cut at byte {start} is not at a start tag"
        element = soup.created[by_start[char_start]]
        elements.append(element)
        pieces.append(text[char_start:char_end])
    return elements, pieces, soup


_INJECTED = re.compile(rb'<(script|style) data-dejunk=""[^>]*>.*?</\1>', re.S)


def without_injection(result):
    """The result as if only elements were cut: dejunk's own `<script>`/`<style>` out, insertions out of `cuts`."""
    if not result.injected:
        return result
    inserted = [start for start, end in result.cuts if start == end]
    assert len(inserted) == 1 and len(_INJECTED.findall(result.body)) == len(result.injected)
    body = _INJECTED.sub(b"", result.body)
    return dataclasses.replace(result, body=body, cuts=[cut for cut in result.cuts if cut[0] != cut[1]],
                               changed=bool(result.removed), injected=[])


def check_exact_cuts(page: dict, result) -> object:
    """`result`: the page rewritten in remove mode."""
    body = page["body"]
    result = without_injection(result)  # (what goes in is checked in tests/html/test_inject.py)
    # 1. The output is the original minus the reported byte ranges, nothing else.
    rebuilt, previous = [], 0
    for start, end in result.cuts:
        assert start >= previous
        rebuilt.append(body[previous:start])
        previous = end
    rebuilt.append(body[previous:])
    assert b"".join(rebuilt) == result.body
    assert len(result.cuts) == result.removed
    if not result.changed:
        assert result.body == body
        return result
    # 2. Each range is one element's source, from its start tag, and the parser sees exactly
    #    the original tree without those elements.
    elements, pieces, original = removed_elements(page, result)
    for element, piece in zip(elements, pieces):
        assert piece.lower().startswith("<" + element.name)
    unwrap = [e for e in elements if e.name in VOID and e.name not in PARSER_VOID]
    skip = [e for e in elements if e not in unwrap]
    new_text = charset.decode(result.body, charset.detect(result.body, "text/html"))
    assert events(parse(new_text)) == events(original, skip=skip, unwrap=unwrap)
    return result


@pytest.mark.timeout(120)
@pytest.mark.parametrize("number", PAGES)
def test_rewritten_page_is_the_original_minus_exactly_the_removed_elements(number, pages, easylist, rewritten):
    result = check_exact_cuts(pages[number], rewritten(number, easylist))
    assert result.removed > 0 and not result.kept  # every corpus page has ads EasyList finds


@pytest.mark.timeout(120)
@pytest.mark.parametrize("number", PAGES)
def test_exact_cuts_with_all_lists(number, pages, all_lists, rewritten):
    check_exact_cuts(pages[number], rewritten(number, all_lists))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("number", PAGES)
def test_hide_mode_only_adds_the_attribute_and_one_style(number, pages, easylist, rewritten):
    body = pages[number]["body"]
    removing = rewritten(number, easylist)
    result = rewritten(number, easylist, "hide")
    assert result.hidden >= removing.removed and result.selectors
    marker = f" {HIDDEN_ATTRIBUTE}".encode()
    hidden_body = _INJECTED.sub(b"", result.body)  # (the page runtime, where the site has procedural rules)
    style_start = hidden_body.index(b'<style id="dejunk-hide">')
    style_end = hidden_body.index(b"</style>", style_start) + len(b"</style>")
    restored = (hidden_body[:style_start] + hidden_body[style_end:]).replace(marker, b"")
    assert restored == body
    new_text = hidden_body.decode("utf-8", "surrogateescape")
    marked = parse(new_text).find_all(attrs={HIDDEN_ATTRIBUTE: True})
    assert len(marked) == result.hidden


# --- breakage -------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def visible_words(body: bytes) -> list[str]:
    soup = BeautifulSoup(body, "lxml")
    for hidden in soup(["script", "style", "noscript", "template", "head"]):
        hidden.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    return _WORD.findall(soup.get_text(" ").lower())


def words_in_order(article: list[str], page: list[str]) -> int:
    """How many of the article's words appear in the page in the same order (matching blocks)."""
    return sum(block.size for block in SequenceMatcher(None, article, page, autojunk=False).get_matching_blocks())


@pytest.fixture(scope="module")
def words_before(pages):
    """`words_before(number)`: how many of the article's words the original page shows in order (counted once)."""
    done = {}

    def count(number: int) -> int:
        if number not in done:
            page = pages[number]
            done[number] = words_in_order(_WORD.findall(page["article"].lower()), visible_words(page["body"]))
        return done[number]

    return count


def breakage_table(pages, store: CosmeticStore, capsys, title: str, rewritten, words_before) -> float:
    rows = []
    kept_total = present_total = 0
    for number, page in enumerate(pages):
        article = _WORD.findall(page["article"].lower())
        result = rewritten(number, store)
        before = words_before(number)
        after = words_in_order(article, visible_words(result.body))
        kept_total += after
        present_total += before
        rows.append((page["file"], len(article), before, after, result.removed))
    with capsys.disabled():
        print(f"\n{title}: article words present in order (original -> rewritten)")
        for name, total, before, after, removed in rows:
            share = after / before if before else 1.0
            print(f"  {name:40s} {total:5d} words  {before:5d} -> {after:5d}  kept {share:7.2%}  removed {removed}")
        print(f"  corpus: {kept_total}/{present_total} = {kept_total / present_total:.3%}")
    return kept_total / present_total


@pytest.mark.timeout(300)
def test_article_text_survives_easylist(pages, easylist, capsys, rewritten, words_before):
    assert breakage_table(pages, easylist, capsys, "EasyList", rewritten, words_before) >= 0.995


@pytest.mark.timeout(300)
def test_article_text_survives_all_lists(pages, all_lists, capsys, rewritten, words_before):
    title = "EasyList + EasyPrivacy + uBlock filters"
    assert breakage_table(pages, all_lists, capsys, title, rewritten, words_before) >= 0.995


def test_breakage_measure_detects_breakage(pages, words_before):
    """The measure has teeth: removing every paragraph loses most of the article text."""
    store = CosmeticStore.from_lists([parse_list_text("##p\n##article", name="breaker")])
    losses = 0
    for number, page in enumerate(pages[:8]):
        article = _WORD.findall(page["article"].lower())
        result = rewrite_page(page["body"], url=page["url"], content_type="text/html", rules=store.page_rules(page["url"]))
        before = words_before(number)
        after = words_in_order(article, visible_words(result.body))
        losses += after < 0.5 * before
    assert losses >= 6
