"""`plain` reads a plain selector's keys without soupsieve: the same keys soupsieve's parse gives, and only
for CSS soupsieve accepts."""

import pytest

from filters.cosmetic import plain, selectors
from filters.cosmetic.rules import CosmeticStore, _MARKER
from filters.lists.syntax import read_list


def soupsieve_keys(selector: str) -> tuple:
    compiled = selectors.compile_css(selector)
    return selectors._element_keys(compiled), selectors._gate(compiled)


# Each is inside the grammar; its keys must be soupsieve's.
PLAIN = [
    "div", "*", "* > *", "DIV.Ad", "a,b", "a , b", "a >b", ".a.bb.cc", "#a#b", ".a.a", "-x",
    "A.B#C[D=\"E\"] > F ~ G + H",
    '[a~=""]', '[a~="b c"]', '[a|=""]', '[a=""]', '[a^=""]', '[a$=""]', '[a*=""]', "[a|=x]", "[a=b][c~=d]",
    '[x="a]"]', "[x='q\"']", 'div[a="b"][c]', '[data-x="a,b"] , .y',
    # attributes HTML compares ignoring case, and the case flags
    "[TYPE=x]", '[type="AbC"]', "[Target^='_BLANK' s]", '[href*="AbC" i]', "[href*=AbC i]",
    "div:not(.a,.b) .c", "div:not(.a, .b) .c", "div:not(:not(.a))", ".a:not(:empty)", "div:not([class]) > div",
    ".a:has(.b)", '.a:has(> .b .c[d="e"])', ".a:has(+ .b)", ".a:has(~ .b, .c)", ".a:has(.b, .c)",
    '.a:has(.b:has(.c[x^="y"]))', ".a:has(>.b)", ".a:not(.b:has(.c))", ".a > :has(.b)", ".a:has(.b, > .c)",
    'div:has(a[href^="http"] img)', '[x="1"] > .a:has([y$="2"] + [z~="3"])',
    ":root .a", "p:first-child", "p:last-of-type:only-child", ":scope > .a", ".a:scope", "div:empty",
    '.a:-soup-contains("x")', ".a:has(:-soup-contains('x y'))",
    # escapes of characters other than hex digits
    ".md\\:flex", ".min-h-\\[66px\\].x", "#a\\.b > c\\ d", "[data-\\[x\\]=y\\:z]",
]

# Each is outside the grammar (soupsieve reads it, or rejects it).
NOT_PLAIN = [
    "", ".a, ", ", .a", ".a >", "> .a", ".a,,.b", "a:not(b)c", "div:not()", "div:not(,a)",
    ".a:has( .b)", ".a:has(.b )", ".a:has(> > .b)", ".a:not(> .b)", ".a::before", ".a:hover", ".a:nth-child(2)",
    "x|y", "[x|y=z]", '[a="b\\"c"]', ".\\31 23", "a\\", ".a\\", '[data-x="Q" S]', ".a:has-text(x)",
    ".a\t.b", '.a:-soup-contains("x\\"")',
]


@pytest.mark.parametrize("selector", PLAIN)
def test_a_plain_selector_has_soupsieves_keys(selector):
    assert plain.plain_keys(selector) == soupsieve_keys(selector)


@pytest.mark.parametrize("selector", NOT_PLAIN)
def test_what_is_outside_the_grammar_is_left_to_soupsieve(selector):
    assert plain.parse(selector) is None
    assert plain.plain_keys(selector) is None


@pytest.mark.parametrize("selector", PLAIN + NOT_PLAIN)
def test_the_one_regex_accepts_what_the_parser_reads(selector):
    if plain.accepts(selector):
        assert plain.parse(selector) is not None
    elif plain.parse(selector) is not None:
        assert selector.count(":has(") + selector.count(":not(") > 1  # nested in one another


def test_the_one_regex_leaves_deeper_nesting_to_the_parser():
    for selector in (".a:has(.b:has(.c))", ".a:not(.b:has(.c))", "div:not(:not(.a))"):
        assert plain.parse(selector) is not None and not plain.accepts(selector)


def test_a_plain_selectors_plan_is_the_one_soupsieve_gives(monkeypatch):
    made = {selector: selectors.plan_for(selector) for selector in PLAIN}
    monkeypatch.setattr(plain, "plain_keys", lambda selector: None)
    for selector, plan in made.items():
        assert plan == selectors.plan_for(selector), selector


def test_one_compound_is_read_as_soupsieve_reads_it():
    for selector in PLAIN:
        expected = all(not alternative.relation.selectors for alternative in selectors.compile_css(selector).selectors)
        assert plain.one_compound(selector) is expected, selector


def corpus_selectors(corpus) -> set[str]:
    found = set()
    for name in ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt"):
        for line in (corpus / "lists" / name).read_text(encoding="utf-8").splitlines():
            marker = _MARKER.search(line)
            if marker and marker.group(0) in ("##", "#?#", "#@#"):
                body = line[marker.end() :].strip()
                if body and not body.startswith(("+js", "^")):
                    found.add(body)
    return found


def test_every_plain_selector_of_the_corpus_lists_is_keyed_as_soupsieve_keys_it(corpus):
    checked = 0
    for selector in corpus_selectors(corpus):
        keys = plain.plain_keys(selector)
        assert not plain.accepts(selector) or keys is not None, selector
        if keys is None:
            continue
        assert keys == soupsieve_keys(selector), selector  # soupsieve raises if it does not accept it
        checked += 1
    assert checked > 20000  # most of the lists' selectors (24,700 of 25,200 when written)


def test_building_the_corpus_lists_compiles_no_selector_with_soupsieve(corpus, monkeypatch):
    # A first build would otherwise also compile soupsieve's own patterns (0.1 s); the lists' few selectors
    # outside the grammar are site-specific, and compiled when a page of their site comes.
    compiled = []
    real = selectors.compile_css

    def counting(css):
        compiled.append(css)
        return real(css)

    counting.cache_clear = real.cache_clear
    monkeypatch.setattr(selectors, "compile_css", counting)
    names = ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt")
    lists = [read_list(str(corpus / "lists" / name)) for name in names]
    store = CosmeticStore.from_lists(lists)
    assert len(store.generic) > 5000 and not store.bad_lines
    assert compiled == []
