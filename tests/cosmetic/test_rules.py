"""Cosmetic rule lines, domain matching, the store and what `page_rules` returns for a page."""

from __future__ import annotations

import os
import pickle

import pytest

from filters.cosmetic.rules import (
    HIDE,
    HTML,
    CosmeticException,
    CosmeticRule,
    CosmeticStore,
    PageRules,
    RuleIndex,
    StoredIndex,
    _parse_domains,
    applies,
    domain_names,
    parse_domains,
    parse_rule,
)
from filters.lists.syntax import parse_list_text
from filters.cosmetic.selectors import SelectorError, Unsupported, compile_css


def store_of(text: str, name: str = "test.txt") -> CosmeticStore:
    return CosmeticStore.from_lists([parse_list_text(text, name=name)])


def selectors_on(store: CosmeticStore, url: str, **flags) -> set[str]:
    rules = store.page_rules(url, **flags)
    found = {rule.selector for rule in rules.specific}
    if rules.generic is not None:
        found |= {rule.selector for n, rule in enumerate(rules.generic.rules) if n not in rules.disabled}
    return found


# --- rule lines -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind", "selector", "domains", "excluded"),
    [
        ("##.ad", HIDE, ".ad", (), ()),
        ("example.com##.ad", HIDE, ".ad", ("example.com",), ()),
        ("example.com,~shop.example.com##.ad", HIDE, ".ad", ("example.com",), ("shop.example.com",)),
        ("~example.com##.ad", HIDE, ".ad", (), ("example.com",)),
        ("google.*##.ad", HIDE, ".ad", ("google.*",), ()),
        ("*##.ad", HIDE, ".ad", (), ()),
        ("EXAMPLE.com##.ad", HIDE, ".ad", ("example.com",), ()),
        ("bücher.de##.ad", HIDE, ".ad", ("xn--bcher-kva.de",), ()),
        ("example.com#?#div:has-text(Ad)", HIDE, "div:has-text(Ad)", ("example.com",), ()),
        ("example.com##^script:has-text(ads)", HTML, "script:has-text(ads)", ("example.com",), ()),
        ('example.org$$script[tag-content="banner"]', HTML, 'script[tag-content="banner"]', ("example.org",), ()),
    ],
)
def test_rule_lines(line, kind, selector, domains, excluded):
    rule = parse_rule(line)
    assert isinstance(rule, CosmeticRule)
    assert (rule.kind, rule.selector, rule.domains, rule.excluded) == (kind, selector, domains, excluded)
    assert rule.with_plan().plan is not None


@pytest.mark.parametrize(
    ("line", "key", "domains"),
    [
        ("example.com#@#.ad", (HIDE, ".ad"), ("example.com",)),
        ("#@#.ad", (HIDE, ".ad"), ()),
        ("example.com#@?#div:has-text(x)", (HIDE, "div:has-text(x)"), ("example.com",)),
        ("example.com#@#^script:has-text(x)", (HTML, "script:has-text(x)"), ("example.com",)),
        ('example.org$@$script[tag-content="x"]', (HTML, 'script[tag-content="x"]'), ("example.org",)),
    ],
)
def test_exception_lines(line, key, domains):
    exception = parse_rule(line)
    assert isinstance(exception, CosmeticException)
    assert (exception.key, exception.domains) == (key, domains)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("example.com##+js(no-such-scriptlet, x, 1)", "unknown scriptlet (no-such-scriptlet)"),
        ("example.com#%#window.x = 1;", "AdGuard scriptlet or script (#%#)"),
        ("example.com#$?#.ad { remove: true; }", "AdGuard extended CSS injection (#$?#)"),
        ("##.ad:style(color: red)", "generic :style() (only for named sites, as in uBO)"),
        ("example.com##^responseheader(x-ad)", "##^responseheader() is a response header filter"),
        ("##.x:matches-css(display: none)", "generic rule with :matches-css() (needs a browser)"),
        ("~example.com##.x:has(> p:matches-css-before(content: /Ad/))", "generic rule with :matches-css() (needs a browser)"),
        ("example.com##^div:matches-css(display: none)", "##^ HTML filter with :matches-css() (needs a browser)"),
        ("/ads\\d/##.ad", "regex domain in cosmetic rule"),
    ],
)
def test_unsupported_lines(line, reason):
    with pytest.raises(Unsupported) as raised:
        parse_rule(line)
    assert raised.value.reason == reason


@pytest.mark.parametrize("line", ["##", "example.com##", "exa mple.com##.ad", "##div[", "##.x:upward(0)", "ex!ample.com##.a"])
def test_bad_lines(line):
    with pytest.raises(SelectorError):
        parse_rule(line)


def test_domain_lists():
    assert parse_domains("") == ((), ())
    assert parse_domains("a.com, ~b.a.com ,*,example.*") == (("a.com", "example.*"), ("b.a.com",))


# --- domain matching ----------------------------------------------------------------------------------


def test_domain_names_with_entities():
    assert domain_names("a.b.example.co.uk") == (
        "a.b.example.co.uk", "b.example.co.uk", "example.co.uk", "co.uk", "uk",
        "a.b.example.*", "b.example.*", "example.*",
    )
    assert domain_names("127.0.0.1") == ("127.0.0.1", "0.0.1", "0.1", "1")
    assert domain_names("") == ()


@pytest.mark.parametrize(
    ("domains", "excluded", "host", "expected"),
    [
        (("example.com",), (), "example.com", True),
        (("example.com",), (), "www.example.com", True),
        (("example.com",), (), "notexample.com", False),
        (("example.com",), ("shop.example.com",), "shop.example.com", False),
        (("example.com",), ("shop.example.com",), "a.shop.example.com", False),
        (("example.com",), ("shop.example.com",), "www.example.com", True),
        (("a.shop.example.com",), ("example.com",), "a.shop.example.com", True),  # the more specific wins
        ((), ("example.com",), "example.com", False),
        ((), ("example.com",), "other.org", True),
        (("google.*",), (), "www.google.co.uk", True),
        (("google.*",), (), "google.com", True),
        (("google.*",), (), "notgoogle.com", False),
        (("google.*",), ("google.de",), "google.de", False),
        (("x.com",), ("x.com",), "x.com", False),
    ],
)
def test_applies(domains, excluded, host, expected):
    assert applies(domains, excluded, host, domain_names(host)) is expected


# --- the store ----------------------------------------------------------------------------------------


LIST = """[Adblock Plus 2.0]
! Title: test
##.ad
###banner
##a[href^="https://ads.example/"]
##div:has(> .sponsored)
~news.example.com##.promo
example.com##.site-ad
example.com,~shop.example.com##.shop-ad
google.*##.g-ad
news.example.com#@#.ad
example.com#@#.site-ad
example.com##+js(set-constant, x, true)
example.com##.x:matches-css(display: block)
example.com##.broken:has(
example.com##div:has-text(/sponsored/i)
example.com##:matches-path(/^\\/amp/) .amp-ad
example.com##^script:has-text(adsbygoogle)
example.org$$script[tag-content="banner"]
##.ad
"""


def test_store_counts_skipped_and_bad_lines():
    store = store_of(LIST)
    assert not any(reason.startswith("scriptlet") for reason in store.skipped)  # `##+js` rules are kept
    assert not any("matches-css" in reason for reason in store.skipped)  # the page runtime evaluates it
    assert store.skipped["duplicate cosmetic rule"] == 1
    assert store.skipped["bad cosmetic rule"] == 1
    [bad] = store.bad_lines
    assert (bad.list, bad.line, bad.text) == ("test.txt", 15, "example.com##.broken:has(")
    assert len(store) == 14  # the scriptlet rule and `:matches-css()` count
    assert len(store.generic) == 5


def test_a_build_keeps_none_of_its_parse_memos():
    # The domain lists and selectors a build parsed once each are dropped when it ends (page workers
    # compile their own): they would outweigh the rules of a big list set for nothing.
    store = store_of(LIST)
    assert (_parse_domains.cache_info().currsize, compile_css.cache_info().currsize) == (0, 0)
    assert selectors_on(store, "https://example.com/story") >= {".ad", "div:has(> .sponsored)"}


def test_page_rules_generic_and_specific():
    store = store_of(LIST)
    assert selectors_on(store, "https://example.com/story") == {
        ".ad", "#banner", 'a[href^="https://ads.example/"]', "div:has(> .sponsored)", ".promo",
        ".shop-ad", "div:has-text(/sponsored/i)", "script:has-text(adsbygoogle)", ".x:matches-css(display: block)",
    }  # `.site-ad` is excepted on example.com
    assert selectors_on(store, "https://shop.example.com/") >= {".ad"}
    assert ".shop-ad" not in selectors_on(store, "https://shop.example.com/")
    news = selectors_on(store, "https://news.example.com/")
    assert ".ad" not in news and ".promo" not in news and ".shop-ad" in news
    assert ".g-ad" in selectors_on(store, "https://www.google.co.uk/search?q=1")
    assert ".g-ad" not in selectors_on(store, "https://google.example.com/")
    assert selectors_on(store, "https://example.org/") == {
        ".ad", "#banner", 'a[href^="https://ads.example/"]', "div:has(> .sponsored)", ".promo",
        'script[tag-content="banner"]',
    }


def test_matches_path_is_decided_per_page():
    store = store_of(LIST)
    assert ":matches-path(/^\\/amp/) .amp-ad" in selectors_on(store, "https://example.com/amp/story")
    assert ":matches-path(/^\\/amp/) .amp-ad" not in selectors_on(store, "https://example.com/story?amp")


def test_elemhide_and_generichide():
    store = store_of(LIST)
    rules = store.page_rules("https://example.com/", elemhide=True)
    assert rules.empty and rules.elemhide and not rules.specific and rules.generic is None
    rules = store.page_rules("https://example.com/", generichide=True)
    assert rules.generic is None and rules.generichide
    assert {rule.selector for rule in rules.specific} >= {".shop-ad", "div:has-text(/sponsored/i)"}
    rules = store.page_rules("https://unrelated.org/", generichide=True)
    assert rules.empty


def test_exceptions_are_reported_and_global_ones_applied_at_build():
    store = store_of("##.ad\n##.keep\n#@#.keep\nexample.com#@#.ad\n")
    assert store.skipped["cosmetic rule excepted everywhere"] == 1
    rules = store.page_rules("https://example.com/")
    assert rules.exceptions == ("example.com#@#.ad",)
    assert selectors_on(store, "https://example.com/") == set()
    assert selectors_on(store, "https://other.com/") == {".ad"}


def test_site_specific_plans_are_made_on_first_use():
    store = store_of("example.com##.x:has(.y)\nexample.com##.ok\nexample.com##div:-soup-bogus(1)\n")
    assert store.bad_lines == []  # soupsieve has not looked at site-specific selectors yet
    rules = store.page_rules("https://example.com/")
    assert {rule.selector for rule in rules.specific} == {".x:has(.y)", ".ok"}
    assert all(rule.plan is not None for rule in rules.specific)
    [bad] = rules.bad_lines
    assert (bad.list, bad.line) == ("test.txt", 3)


def test_rules_from_several_lists_keep_their_origin():
    store = CosmeticStore.from_lists(
        [parse_list_text("##.a\n", name="one.txt"), parse_list_text("! c\nexample.com##.b\n", name="two.txt")]
    )
    rules = store.page_rules("https://example.com/")
    assert [(r.list, r.line) for r in rules.specific] == [("two.txt", 2)]
    assert [(r.list, r.line) for r in rules.generic.rules] == [("one.txt", 1)]


def test_store_and_page_rules_pickle():
    store = store_of(LIST)
    copy = pickle.loads(pickle.dumps(store))
    assert copy.generic.fingerprint == store.generic.fingerprint
    assert selectors_on(copy, "https://example.com/x") == selectors_on(store, "https://example.com/x")
    rules = store.page_rules("https://example.com/x")
    assert pickle.loads(pickle.dumps(rules)) == rules
    light = rules.without_generic()
    assert light.generic is None and light.generic_id == store.generic.fingerprint and not light.empty
    assert b"###banner" in pickle.dumps(rules) and b"###banner" not in pickle.dumps(light)


# --- the generic index kept on disk ------------------------------------------------------------------

STORED_LIST = """\
##.ad
##:matches-path(/^\\/amp/) .amp-ad
~news.example.com##.promo
news.example.com#@#.ad
##.other
"""


def test_a_store_with_its_generic_index_stored_decides_pages_alike(tmp_path):
    store = store_of(STORED_LIST)
    stored = StoredIndex.save(store.generic, str(tmp_path))
    assert (len(stored), stored.fingerprint) == (len(store.generic), store.generic.fingerprint)
    assert len(stored) == 4
    light = store.with_generic(stored)
    assert light.generic is stored and store.generic is not stored  # a copy: the store itself is unchanged
    for url in ("https://example.com/amp/x", "https://example.com/x", "https://news.example.com/amp/y"):
        full, kept = store.page_rules(url), light.page_rules(url)
        assert (kept.disabled, kept.generic_id, kept.specific) == (full.disabled, full.generic_id, full.specific)
        assert kept.generic is stored
    assert store.page_rules("https://news.example.com/x").disabled == {0, 1, 2}  # exception, path, ~domain


def test_stored_index_loads_back_and_checks_what_it_reads(tmp_path):
    index = store_of(STORED_LIST).generic
    stored = StoredIndex.save(index, str(tmp_path))
    assert oct(os.stat(stored.path).st_mode & 0o777) == "0o600"
    assert stored.load() == index and pickle.loads(pickle.dumps(stored)).load() == index
    other = StoredIndex.save(store_of("##.b\n").generic, str(tmp_path))
    os.replace(other.path, stored.path)
    with pytest.raises(ValueError, match="does not hold generic index"):
        stored.load()
    stored.remove()
    assert not os.path.exists(stored.path)
    stored.remove()  # gone already: no error


def test_with_generic_refuses_a_different_index(tmp_path):
    store = store_of(STORED_LIST)
    with pytest.raises(ValueError, match="different generic index"):
        store.with_generic(StoredIndex.save(store_of("##.b\n").generic, str(tmp_path)))


def test_fingerprint_follows_content():
    assert store_of("##.a\n").generic.fingerprint == store_of("##.a\n").generic.fingerprint
    assert store_of("##.a\n").generic.fingerprint != store_of("##.b\n").generic.fingerprint


def test_index_buckets():
    index = RuleIndex([parse_rule(line) for line in (
        "##.a", "###b", "##[data-ad]", '##a[href*="ads"]', "##amp-ad", "##:not(.x)", "##.c, #d",
    )])
    assert set(index.by_class) == {"a", "c"} and set(index.by_id) == {"b", "d"}
    assert set(index.by_attribute) == {"data-ad", "href"} and set(index.by_tag) == {"amp-ad"}
    assert index.anywhere == (5,)
    finder, by_literal, unfiltered = index.attribute_prefilter("href")
    assert set(by_literal) == {"ads"} and not unfiltered and finder.search("https://x/ads/1")
    assert index.attribute_prefilter("data-ad")[0] is None


def test_page_rules_is_plain_data():
    rules = PageRules("https://a.b/", "a.b")
    assert rules.empty
    with pytest.raises(Exception):
        rules.url = "x"  # frozen


@pytest.mark.corpus
def test_real_lists_build(corpus):
    from filters.lists.syntax import read_list

    lists = [read_list(str(corpus / "lists" / name)) for name in ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt")]
    store = CosmeticStore.from_lists(lists)
    assert len(store.generic) > 13000 and len(store.specific) > 7000
    scriptlets = sum(len(found) for found in store.injected.values())
    assert scriptlets > 50 and store.skipped[":style() is CSS injection"] == 0
    for bad in store.bad_lines:
        assert bad.list in ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt") and bad.line > 0
    # Every site-specific rule of EasyList gets a plan or a reason when its site is visited.
    seen = 0
    for domain in list(store.specific)[:400]:
        if domain.endswith(".*"):
            continue
        rules = store.page_rules(f"https://{domain}/")
        seen += len(rules.specific)
    assert seen > 300
    # What travels to a rewriting worker per page is small once the generic index is installed there.
    rules = store.page_rules("https://www.cnbc.com/2019/11/01/story.html")
    assert len(pickle.dumps(rules.without_generic())) < 20000 < len(pickle.dumps(rules))


# --- the store's compact form ---------------------------------------------------------------------------


def _many_rules(count: int) -> str:
    lines = []
    for n in range(count):
        lines += [f"site{n}.example,shop{n % 7}.example##.ad-{n}", f"##.banner-{n} > a", f"site{n}.example##+js(set, x{n}, 1)"]
    lines += ["shop3.example#@#.ad-3", "example.*##.entity-ad", "example.com,example.*##.both-ad"]
    return "\n".join(lines) + "\n"


def test_an_unpickled_store_holds_its_rules_as_lines_not_objects():
    # Thousands of rules used to come back from the compiled-engine cache as as many dataclasses,
    # tuples and plans (slow to load, megabytes kept); a page needs only a few of them.
    import gc
    import tracemalloc

    store = store_of(_many_rules(2000))
    data = pickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        loaded = pickle.loads(data)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    blocks = sum(stat.count_diff for stat in after.compare_to(before, "filename"))
    assert len(loaded) == 6000 + 2
    # Left: the keys of the tables (sites, classes) and their small entries; as objects, 6000 rules were ~70000.
    assert blocks < 2 * 6000, blocks


def test_a_compact_store_answers_pages_like_the_rules_it_was_built_from():
    store = store_of(_many_rules(50))
    loaded = pickle.loads(pickle.dumps(store))
    for url in ("https://site3.example/", "https://shop3.example/x", "https://www.example.com/", "https://example.de/",
                "https://a.site12.example/", "https://nowhere.example/"):
        assert loaded.page_rules(url) == store.page_rules(url)
    page = loaded.page_rules("https://shop3.example/")
    assert [r.selector for r in page.specific] == [f".ad-{n}" for n in range(10, 50, 7)]  # `.ad-3` is excepted
    # Filed under two of the page's names (`example.com`, `example.*`): listed once.
    assert [r.selector for r in loaded.page_rules("https://example.com/").specific] == [".entity-ad", ".both-ad"]
    assert [call.args for call in loaded.page_rules("https://site7.example/").scriptlets] == [("x7", "1")]
    assert sorted(loaded.specific["shop3.example"], key=lambda r: r.line)[0].selector == ".ad-3"
    assert len(loaded.generic.rules) == 50 and loaded.generic.rules[49].selector == ".banner-49 > a"


def test_plain_class_and_id_lines_are_the_rules_parse_rule_makes():
    # The store reads `domains##.class` and `###id` lines without the general parser: the same rules, or the
    # same reasons to skip.
    good = ["##.ad", "###top-banner", "example.com,~shop.example.com##.promo", "example.*##.-x_1", "##.\u00e9t\u00e9",
            "*##.everywhere", " a.example , b.example ##.spaced"]
    store = store_of("\n".join(good + ["/regex/##.x", "bad domain!##.y", "##.a.b", "##.a, .b"]) + "\n")
    rules = {rule.text: rule for rule in store.generic.rules}
    for domain in store.specific:
        rules.update((rule.text, rule) for rule in store.specific[domain])
    for line_no, text in enumerate(good, 1):
        text = text.strip()
        assert rules[text].with_plan() == parse_rule(text, "test.txt", line_no, with_plan=False).with_plan()
    assert store.skipped["regex domain in cosmetic rule"] == 1
    assert [(bad.line, bad.text) for bad in store.bad_lines] == [(len(good) + 2, "bad domain!##.y")]
    assert {".a.b", ".a, .b"} <= {rule.selector for rule in store.generic.rules}


def test_plain_domain_lists_are_read_as_the_general_way_reads_them(corpus, monkeypatch):
    from filters.cosmetic import rules as module

    parts = {"A.com", "a.com.", "a..com", ".a.com", "~a.com,b.*", "b.*,~c.*", "*", "a,*", "a,,b", " a.com , b.com ",
             "xn--a.com", "\u00e9.com", "~", "a.com,~", "a_b-c.d,~e.f.*"}
    for name in ("easylist.txt", "ublock-filters.txt"):
        for line in (corpus / "lists" / name).read_text(encoding="utf-8").splitlines():
            marker = module._MARKER.search(line)
            if marker is not None and marker.start() > 0:
                parts.add(line[: marker.start()])

    def read_all():
        module._parse_domains.cache_clear()
        found = {}
        for part in parts:
            try:
                found[part] = module._parse_domains(part)
            except (SelectorError, Unsupported) as error:
                found[part] = repr(error)
        return found

    plain = read_all()
    assert sum(module.normal_domain_list(part, ",") is not None for part in parts) > 5000  # the way most take
    monkeypatch.setattr(module, "normal_domain_list", lambda text, separator: None)
    assert read_all() == plain
    module._parse_domains.cache_clear()
