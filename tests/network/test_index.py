"""Rule indexes: where each kind of rule is filed, and that a request finds it there."""

from __future__ import annotations

import pickle
import random

from filters.network import index as index_module
from filters.network.index import COMMON_TOKENS, IndexBuilder, PlainHosts, RuleIndex, merge_indexes
from filters.network.rules import DOCUMENT, TYPE_BITS, parse_network_rule
from filters.network.speed import hotpath

SCRIPT = TYPE_BITS["script"]
inverse_permutation = hotpath.inverse_permutation
PING = TYPE_BITS["ping"]


def build(*rules: str) -> tuple[RuleIndex, list]:
    builder = IndexBuilder()
    parsed = [parse_network_rule(text) for text in rules]
    for rid, rule in enumerate(parsed):
        builder.add(rid, rule)
    return builder.finish(), parsed


def candidates(index: RuleIndex, suffixes=(), tokens=(), source_keys=(), type_bit=SCRIPT) -> list[int]:
    return list(index.candidates(suffixes, list(tokens), frozenset(source_keys), type_bit))


class TestFiling:
    def test_plain_host_rule_is_a_bare_id(self):
        builder = IndexBuilder()
        builder.add_simple_host("ads.example", 7)
        builder.add_simple_host("ads.example", 8)  # a second plain rule adds nothing
        index = builder.finish()
        assert index.by_host == {"ads.example": 7}
        assert index.size == 2

    def test_host_rule_with_options_is_a_bucket(self):
        index, _ = build("||ads.example^$third-party")
        assert index.by_host == {"ads.example": (0,)}

    def test_plain_and_optioned_rules_share_a_host(self):
        builder = IndexBuilder()
        builder.add_simple_host("ads.example", 0)
        builder.add(1, parse_network_rule("||ads.example^$script"))
        assert builder.finish().by_host == {"ads.example": (0, 1)}

    def test_host_path_rule_with_a_rare_token_is_filed_by_token(self):
        index, _ = build("||google.com/adsense/x.js", "||google.com/pagead/y.js", "||google.com/ads^")
        assert "adsense" in index.by_token and "pagead" in index.by_token

    def test_host_path_rule_without_a_good_token_stays_with_its_host(self):
        index, _ = build("||example.com/js/x")
        assert index.by_host == {"example.com": (0,)}

    def test_rarest_token_wins(self):
        index, _ = build("/ads/banner.", "/ads/popup.", "/ads/skyscraper.")
        assert set(index.by_token) == {"banner", "popup", "skyscraper"}

    def test_common_tokens_are_avoided(self):
        index, _ = build("/js/adframe.")
        assert "js" in COMMON_TOKENS and list(index.by_token) == ["adframe"]

    def test_crowded_token_goes_under_a_pair(self):
        rules = [f"/ads/{name}/*" for name in ("image", "media", "public", "content", "assets", "banners", "widgets", "static")]
        index, _ = build(*rules)
        assert "ads" in index.hot
        assert "ads imag" in index.by_token and "ads medi" in index.by_token

    def test_no_token_but_domains_goes_by_domain(self):
        index, _ = build("$script,third-party,domain=site.example|other.example")
        assert set(index.by_domain) == {"site.example", "other.example"}

    def test_the_rest_is_filed_by_type(self):
        index, _ = build("$ping,third-party", "@@$generichide")
        assert index.always == {PING: (0,), DOCUMENT: (1,)}


class TestLookup:
    def test_candidates_follow_host_token_domain_and_type(self):
        index, _ = build("||ads.example^$script", "/banner.", "$script,domain=site.example", "$ping")
        assert candidates(index, suffixes=("x.ads.example", "ads.example", "example")) == [0]
        assert candidates(index, tokens=["cdn", "banner", "png"]) == [1]
        assert candidates(index, source_keys={"site.example", "example"}) == [2]
        assert candidates(index, type_bit=PING) == [3]

    def test_pair_lookup_needs_the_neighbour(self):
        rules = [f"/ads/{name}/*" for name in ("image", "media", "public", "content", "assets", "banners", "widgets", "static")]
        index, _ = build(*rules)
        assert candidates(index, tokens=["x", "ads", "image", "png"]) == [0]
        assert candidates(index, tokens=["x", "image", "ads", "png"]) == []

    def test_index_pickles(self):
        index, _ = build("||ads.example^$script", "/banner.", "$script,domain=site.example", "$ping")
        assert pickle.loads(pickle.dumps(index)) == index

    def test_empty_index_is_false(self):
        assert not IndexBuilder().finish()
        assert build("/ad.")[0]


class TestCrowdedSiteRules:
    """Dozens of `$domain=` twins under one host go under their sites: other sites never test them."""

    TWINS = [f"||cdn.example/player.js$script,domain=site{i}.test" for i in range(12)]

    def test_filed_under_their_sites(self):
        index, _ = build(*self.TWINS)
        assert "cdn.example" not in index.by_host
        assert index.by_domain["site3.test"] == (3,)

    def test_a_few_twins_stay_under_the_host(self):
        index, _ = build(*self.TWINS[:3])
        assert index.by_host == {"cdn.example": (0, 1, 2)}

    def test_engine_still_applies_them_to_their_sites_only(self):
        from filters import Engine

        engine = Engine.from_text("\n".join(self.TWINS), cosmetic_factory=None)
        url = "https://cdn.example/player.js"
        assert engine.check(url, "https://www.site7.test/", "script").filter == self.TWINS[7]
        assert not engine.check(url, "https://other.test/", "script").blocked
        assert not engine.check(url, None, "script").blocked


class TestMergedIndexes:
    def test_a_request_finds_a_rule_in_the_merge_iff_in_a_part(self):
        from filters.network.index import merge_indexes

        first, _ = build("||ads.example/x.js", "/banner/*$image")
        builder = IndexBuilder()
        builder.add_simple_host("ads.example", 5)
        builder.add_simple_host("track.example", 6)
        second = builder.finish()
        merged = merge_indexes(first, second)
        assert merged.size == first.size + second.size
        # A host with a plain rule and a bucket becomes one bucket; a plain rule alone stays whole.
        assert sorted(merged.by_host["ads.example"]) == [0, 5]
        assert merged.by_host["track.example"] == 6
        assert merged.by_token == first.by_token
        assert candidates(merged, tokens=["banner"], type_bit=TYPE_BITS["image"]) == [1]

    def test_engine_answers_are_those_of_the_separate_indexes(self):
        from filters import Engine

        engine = Engine.from_text(
            "||ads.example^\n@@||ads.example/ok.js\n||ads.example/v.js$redirect=noopjs\n"
            "||ads.example/i.js$important\n@@||ads.example/i.js\n||site.example^$removeparam=utm_source\n",
            cosmetic_factory=None,
        )
        assert engine.check("https://ads.example/ok.js", "https://a.test/", "script").exception
        assert engine.check("https://ads.example/v.js", "https://a.test/", "script").redirect == "noop.js"
        assert engine.check("https://ads.example/i.js", "https://a.test/", "script").important
        assert engine.check("https://ads.example/other.js", "https://a.test/", "script").blocked
        assert engine.check("https://site.example/?utm_source=x&a=1", None, "document").removeparam_url == (
            "https://site.example/?a=1")
        assert engine.check("https://plain.example/?utm_source=x", None, "document").removeparam_url is None


def test_redirects_of_equal_priority_go_by_list_order_however_filed():
    from filters import Engine

    twins = [f"||cdn.example/ads.js$script,redirect=noopjs,domain=site{i}.test" for i in range(10)]
    rules = ["||cdn.example^", "||cdn.example/ads.js$script,redirect=noop.txt,domain=site4.test", *twins]
    engine = Engine.from_text("\n".join(rules), cosmetic_factory=None)
    assert engine.check("https://cdn.example/ads.js", "https://site4.test/", "script").redirect == "noop.txt"
    assert engine.check("https://cdn.example/ads.js", "https://site5.test/", "script").redirect == "noop.js"


def reference_path_keys(token_flags: dict, t: tuple) -> list[str]:
    """The token-table keys a target's path gives, worked out the long way from TOKEN_RE's tokens: the
    tokens that are keys, each once, in URL order; then each pair of neighbours (the host's last token
    and the path's first included) whose first starts pairs, where the pair is a key."""
    from filters.network.index import IS_KEY, STARTS_PAIR
    from filters.network.matching import HOST_END, ORIGIN, TOKEN_RE, URL
    from filters.network.rules import PAIR_PREFIX

    origin = t[ORIGIN]
    tokens = TOKEN_RE.findall(t[URL], t[HOST_END])
    keys = list(dict.fromkeys(token for token in tokens if token_flags.get(token, 0) & IS_KEY))
    before = [origin.tokens[-1] if origin.ends_pair else None, *tokens[:-1]]
    for first, second in zip(before, tokens):
        starts = first is not None and (first is before[0] and origin.ends_pair or token_flags.get(first, 0) & STARTS_PAIR)
        pair = f"{first} {second[:PAIR_PREFIX]}"
        if starts and pair in token_flags:
            keys.append(pair)
    return keys


PAIRED_RULES = [f"/banner/{common}/ad$image" for common in ("js", "css", "img", "images", "api", "static", "cdn", "min")]
PAIRED_RULES += [f".test/{common}/ad$image" for common in ("js", "css", "img", "images", "api", "static", "cdn", "min")]


def test_path_keys_are_those_of_the_token_regex():
    from filters import Engine
    from filters.network.matching import PATH_KEYS

    network = Engine.from_text("\n".join(["||ads.example^", "/banner/ad-$image", *PAIRED_RULES]),
                               cosmetic_factory=None).network
    urls = [
        "https://a.example/wp-content/ads/banner_728x90.gif?x=1&utm_source=Feed#top",
        "https://a.example:8080/Pfad/straße/ÄÖÜ-anzeige/ad-1.png",
        "https://a.example/%E2%82%AC/a%20b/\ud800x/İstanbul/K",
        "https://a.example",
        "https://a.example/",
        "https://a.example/___/---/...",
        "https://a.example/banner/api/ad/banner/cdn/banner/js/banner",
        "https://a.test/api/ad.gif?banner=1&banner/css",
        "https://b.a.test/static/x/test/min",
    ]
    for url in urls:
        target = network._target(url, None, "image", "GET")
        assert target[PATH_KEYS] == reference_path_keys(network._token_flags, target), url
    # Every `/banner/...` rule is filed under a pair: "banner" alone is no key, its pairs are.
    assert network._target(urls[6], None, "image", "GET")[PATH_KEYS] == ["banner api", "banner cdn", "banner js"]
    assert network._target(urls[7], None, "image", "GET")[PATH_KEYS] == ["test api", "banner css"]


def test_pairs_of_tokens_are_found_wherever_and_however_often_they_occur():
    from filters import Engine

    # A token many rules share, followed by common ones: each rule is filed under its pair.
    rules = [f"/banner/{common}/ad$image" for common in ("js", "css", "img", "images", "api", "static", "cdn", "min")]
    engine = Engine.from_text("\n".join(rules), cosmetic_factory=None)
    assert "banner api" in engine.network._indexes[0].by_token
    check = engine.check
    assert check("https://a.example/banner/ok/banner/api/ad.gif", None, "image").filter == "/banner/api/ad$image"
    assert check("https://a.example/banner/cdn/ad/banner/api/ad", None, "image").filter == "/banner/cdn/ad$image"
    assert check("https://banner.example/api/ad.gif", None, "image").blocked is False  # a host's end is no `/`
    assert not check("https://a.example/banner/ok/api/ad.gif", None, "image").blocked


def test_a_pair_across_the_hosts_end_is_found():
    from filters import Engine

    rules = [f".test/{common}/ad$image" for common in ("js", "css", "img", "images", "api", "static", "cdn", "min")]
    engine = Engine.from_text("\n".join(rules), cosmetic_factory=None)
    assert "test api" in engine.network._indexes[0].by_token
    assert engine.check("https://a.test/api/ad.gif", None, "image").filter == ".test/api/ad$image"
    assert not engine.check("https://a.test/apx/ad.gif", None, "image").blocked


class TestPlainHostsTable:
    """A big hosts file's entries in a sorted table: the same answers as `by_host` would give."""

    def test_every_name_is_found_with_its_first_entry(self):
        names = [f"h{n % 97}.example" for n in range(500)]  # each name listed five or six times
        table = PlainHosts.build(names, 1000, inverse_permutation)
        for name in set(names):
            assert table.get(name) == 1000 + names.index(name)
        assert table.get("h97.example") is None and table.get("a.example") is None and table.get("zz") is None
        assert table.get("h1.example\nh2.example") is None

    def test_a_name_repeated_across_a_block_boundary_keeps_its_first_entry(self):
        block = PlainHosts.BLOCK
        names = ["a.example"] * (block - 1) + ["b.example"] * (2 * block + 3) + ["c.example"]
        table = PlainHosts.build(list(reversed(names)), 0, inverse_permutation)
        assert table.get("b.example") == names[::-1].index("b.example")
        assert table.get("a.example") == names[::-1].index("a.example")

    def test_names_of_entries(self):
        names = ["z.example", "a.example", "m.example", "a.example"]
        table = PlainHosts.build(names, 10, inverse_permutation)
        assert [table.name_of(rid) for rid in range(10, 14)] == names
        assert table.name_of(9) is None and table.name_of(14) is None
        assert list(table.items()) == [("a.example", 11), ("m.example", 12), ("z.example", 10)]

    def test_every_entry_of_many_blocks_is_found_and_named(self):
        # Names in a shuffled order over many blocks, some twice: each lookup gives the first entry, each
        # rule id its own name, whichever block (and place in it) the name was sorted into.
        order = random.Random(5).sample(range(1000), 1000)
        names = [f"n{k:04d}.example" for k in order] + [f"n{k:04d}.example" for k in order[:40]]
        table = PlainHosts.build(names, 7, inverse_permutation)
        assert len(table.samples) == -(-len(names) // PlainHosts.BLOCK)
        for entry, name in enumerate(names):
            assert table.name_of(7 + entry) == name
            assert table.get(name) == 7 + names.index(name)
        for missing in ("n0000.exampl", "n0999.examplf", "a", "n0500.example.", "zzz"):
            assert table.get(missing) is None
        assert [host for host, _ in table.items()] == sorted(set(names))

    def test_pickles(self):
        table = PlainHosts.build(["b.example", "a.example"], 3, inverse_permutation)
        copy = pickle.loads(pickle.dumps(table))
        assert (copy.get("a.example"), copy.get("b.example"), copy.name_of(3)) == (4, 3, "b.example")


class TestPlainHostsFiling:
    """With a table, the first plain rule for a host still decides, and other rules still join it."""

    def builder(self, monkeypatch) -> IndexBuilder:
        monkeypatch.setattr(index_module, "PLAIN_TABLE_FROM", 3)
        return IndexBuilder(inverse_permutation)

    def test_a_big_run_becomes_a_table(self, monkeypatch):
        builder = self.builder(monkeypatch)
        builder.add_simple_hosts(["a.example", "b.example", "a.example"], 0)
        index = builder.finish()
        assert index.by_host == {} and len(index.plain_hosts) == 1 and index.size == 3
        assert (index.host_hit("a.example"), index.host_hit("b.example"), index.host_hit("c.example")) == (0, 1, None)

    def test_an_earlier_plain_rule_keeps_its_host(self, monkeypatch):
        builder = self.builder(monkeypatch)
        builder.add_simple_host("b.example", 0)
        builder.add_simple_hosts(["a.example", "b.example", "c.example"], 1)
        builder.add_simple_host("c.example", 4)  # later: the table's entry decides
        builder.add_simple_hosts(["c.example", "d.example"], 5)  # a small run after the table
        index = builder.finish()
        assert [index.host_hit(h) for h in ("a.example", "b.example", "c.example", "d.example")] == [1, 0, 3, 6]

    def test_rules_with_options_join_a_table_entry(self, monkeypatch):
        builder = self.builder(monkeypatch)
        builder.add(0, parse_network_rule("||a.example^$script"))
        builder.add_simple_hosts(["a.example", "b.example", "a.example"], 1)
        builder.add(4, parse_network_rule("||b.example^$image"))
        index = builder.finish()
        assert index.host_hit("a.example") == (0, 1, 3)  # as `add_simple_host` files each entry
        assert index.host_hit("b.example") == (2, 4)
        assert dict(index.host_items()) == {"a.example": (0, 1, 3), "b.example": (2, 4)}

    def test_merged_with_a_table(self, monkeypatch):
        builder = self.builder(monkeypatch)
        builder.add_simple_hosts(["a.example", "b.example", "c.example"], 0)
        other = IndexBuilder()
        other.add(3, parse_network_rule("||b.example^$script"))
        merged = merge_indexes(builder.finish(), other.finish())
        assert merged.by_host == {"a.example": 0, "b.example": (1, 3), "c.example": 2}
