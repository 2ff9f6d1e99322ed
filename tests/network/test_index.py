"""Rule indexes: where each kind of rule is filed, and that a request finds it there."""

from __future__ import annotations

import pickle

from filters.network.index import COMMON_TOKENS, IndexBuilder, RuleIndex
from filters.network.rules import DOCUMENT, TYPE_BITS, parse_network_rule

SCRIPT = TYPE_BITS["script"]
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
