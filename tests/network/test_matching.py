"""Pure match functions: wildcard and separator semantics, host anchoring, regexes, domain options."""

from __future__ import annotations

import random

import pytest

from filters.network.matching import (
    Glob,
    Origin,
    Target,
    compile_rule,
    new_target,
    host_keys,
    host_suffixes,
    required_literal,
)
from filters.network.hotpath import glob_match, rule_matches
from filters.network.regex import compile_regex
from filters.network.rules import FIRST_PARTY, THIRD_PARTY, TYPE_BITS, parse_network_rule
from filters.request import public_suffix, registrable_domain


def target(url: str, source: str | None = None, kind: str = "script", method: str = "GET") -> Target:
    """A Target built the long way (the engine has a faster path with caches)."""
    from filters.network.engine import _URL_HEAD

    lower = url.lower()
    head = _URL_HEAD.match(lower)
    host = head.group(2)
    origin = Origin(host, host_suffixes(host), registrable_domain(host), host_keys(host, public_suffix(host)), None, [], 8)
    source_keys = frozenset()
    party = THIRD_PARTY
    if source:
        source_host = _URL_HEAD.match(source.lower()).group(2)
        source_keys = host_keys(source_host, public_suffix(source_host))
        if registrable_domain(source_host) == registrable_domain(host):
            party = FIRST_PARTY
    bit = TYPE_BITS[kind]
    return new_target(lower, url, host, head.start(2), head.end(2), bit | party, bit, origin, source_keys, method)


def test_the_engine_lays_out_a_target_as_the_long_way_does():
    """The engine builds its targets in place: each position must hold what `new_target` puts there."""
    from filters import Engine
    from filters.network import matching

    network = Engine.from_text("||ads.example^\n/banner/ad-$image", cosmetic_factory=None).network
    cases = [
        ("https://Cdn.Example.com/banner/ad-1.png?x=Y", "https://news.example.com/a", "image", "POST"),
        ("http://a.b.example.org:8080/p", None, "script", "GET"),
        ("https://x.test/", "https://x.test/page", "xmlhttprequest", "GET"),
    ]
    for url, source, kind, method in cases:
        fast = network._target(url, source, kind, method)
        slow = target(url, source, kind, method)
        for name in ("URL", "RAW_URL", "HOST", "HOST_START", "HOST_END", "BITS", "TYPE_BIT", "SOURCE_KEYS", "METHOD"):
            at = getattr(matching, name)
            assert fast[at] == slow[at], (name, url)
        assert fast[matching.ORIGIN].host == slow[matching.HOST]
        assert len(fast) == len(slow) == 13


def matches(rule: str, url: str, source: str | None = None, kind: str = "script", method: str = "GET") -> bool:
    return rule_matches(parse_network_rule(rule), target(url, source, kind, method))


# --- wildcards and separators --------------------------------------------------------------------


class TestGlob:
    @pytest.mark.parametrize(
        "pattern, text, expected",
        [
            ("ad*banner", "x/ad/y/banner.png", True),
            ("ad*banner", "x/banner/ad", False),
            ("ad^", "x/ad/y", True),
            ("ad^", "x/ad", True),  # a final ^ matches the end
            ("ad^", "x/ads", False),
            ("ad^x", "x/ad", False),  # a middle ^ needs a character
            ("^ad^", "?ad&", True),
            ("ad^", "x/ad.js", False),  # . is not a separator
            ("ad^", "x/ad-x", False),
            ("ad^", "x/ad_x", False),
            ("ad^", "x/ad%20", False),
            ("ad^", "x/ad:80", True),
            ("a*b*c", "aXbXc", True),
            ("a*b*c", "aXcXb", False),
        ],
    )
    def test_unanchored(self, pattern, text, expected):
        assert Glob(pattern, False, False).match(text) is expected
        assert glob_match(Glob(pattern, False, False).plan, text, 0) is expected

    @pytest.mark.parametrize("anchored_start", [False, True])
    @pytest.mark.parametrize("anchored_end", [False, True])
    def test_hot_path_matcher_agrees_with_the_regex_beyond_ascii(self, anchored_start, anchored_end):
        # A letter outside ASCII is a separator to both (the regex is ASCII-only), upper case is itself.
        rng = random.Random(f"wide{anchored_start}{anchored_end}")
        for _ in range(3000):
            pattern = "".join(rng.choice("aB/^*é") for _ in range(rng.randint(1, 6)))
            text = "".join(rng.choice("aB/é_%-.Z9\ud800") for _ in range(rng.randint(0, 10)))
            pos = rng.randint(0, min(3, len(text)))
            glob = Glob(pattern, anchored_start, anchored_end)
            assert glob_match(glob.plan, text, pos) is glob.match(text, pos), (pattern, text, pos)

    def test_anchored_start_at_position(self):
        glob = Glob("/ads/*", True, False)
        assert glob.match("example.com/ads/x", 11)
        assert not glob.match("example.com/x/ads/", 11)

    def test_anchored_end(self):
        glob = Glob("*.js", False, True)
        assert glob.match("a/b.js")
        assert not glob.match("a/b.js?x")

    def test_anchored_end_with_final_separator(self):
        glob = Glob("x*ad^", False, True)
        assert glob.match("x/ad")
        assert glob.match("x/ad/")
        assert not glob.match("x/ad/y")

    def test_leftmost_choice_is_correct_with_repeats(self):
        # A greedy leftmost scan must still find the later, longer occurrence.
        assert Glob("ab*abc", False, False).match("ab ab abc")
        assert Glob("a^b*c", False, False).match("a-b a/b c")

    @pytest.mark.parametrize("anchored_start", [False, True])
    @pytest.mark.parametrize("anchored_end", [False, True])
    def test_agrees_with_a_segment_by_segment_scan(self, anchored_start, anchored_end):
        # The compiled regex must say what the plain definition says: each segment at its leftmost
        # occurrence after the previous one, the first at `pos` when anchored, the last ending the
        # text when anchored (a final `^` may match the end).
        rng = random.Random(f"{anchored_start}{anchored_end}")
        for _ in range(3000):
            pattern = "".join(rng.choice("ab/.^*") for _ in range(rng.randint(1, 7)))
            text = "".join(rng.choice("ab/.-?") for _ in range(rng.randint(0, 12)))
            pos = rng.randint(0, min(2, len(text)))
            expected = _scan_glob(pattern, anchored_start, anchored_end, text, pos)
            glob = Glob(pattern, anchored_start, anchored_end)
            assert glob.match(text, pos) is expected, (pattern, text, pos)
            # The hot path's own matcher, on the same plan: what the engine runs.
            assert glob_match(glob.plan, text, pos) is expected, (pattern, text, pos)

    def test_long_hostile_url_is_handled(self):
        hostile = "https://example.com/?" + "a/" * 4000 + "b"
        assert not Glob("a*a*a*a*c", False, False).match(hostile)
        assert Glob("a*a*a*a*b", False, False).match(hostile)


# --- hosts and anchors ---------------------------------------------------------------------------


class TestHostAnchor:
    @pytest.mark.parametrize(
        "url, expected",
        [
            ("https://example.com/ad.js", True),
            ("https://ads.example.com/ad.js", True),
            ("https://notexample.com/ad.js", False),
            ("https://example.com.evil.org/ad.js", False),
            ("https://example.com:8080/ad.js", True),  # ^ matches the port's colon
        ],
    )
    def test_host_rule(self, url, expected):
        assert matches("||example.com^", url) is expected

    def test_host_path_follows_the_host_directly(self):
        assert matches("||example.com/ads/", "https://www.example.com/ads/1.png")
        assert not matches("||example.com/ads/", "https://www.example.com/x/ads/1.png")
        assert not matches("||example.com/ads/", "https://example.com:8080/ads/1.png")
        assert matches("||example.com:8080/ads/", "https://example.com:8080/ads/1.png")

    def test_host_rule_does_not_match_in_the_query(self):
        assert not matches("||example.com/ads/", "https://other.org/?u=https://example.com/ads/")

    def test_label_substring_needs_whole_labels(self):
        assert matches("||ads.example", "https://ads.example.com/")
        assert matches("||ads.example", "https://x.ads.example/")
        assert not matches("||ads.example", "https://ads.examples.com/")
        assert not matches("||ads.example", "https://bads.example.com/")

    def test_wildcard_host(self):
        assert matches("||ads*.example.com^", "https://ads1.example.com/x")
        assert matches("||www.google.*/ads/", "https://www.google.co.uk/ads/x")
        assert not matches("||www.google.*/ads/", "https://www.notgoogle.com/x/ads/")

    def test_start_and_end_anchors(self):
        assert matches("|https://ads.", "https://ads.example.com/")
        assert not matches("|https://ads.", "http://x.com/?https://ads.")
        assert matches("/ad.js|", "https://x.com/ad.js")
        assert not matches("/ad.js|", "https://x.com/ad.js?x")
        assert matches("|https://x.com/|", "https://x.com/")

    def test_match_case(self):
        assert matches("/BannerAd.$match-case", "https://x.com/BannerAd.png")
        assert not matches("/BannerAd.$match-case", "https://x.com/bannerad.png")
        assert matches("/BannerAd.", "https://x.com/BANNERAD.png")

    def test_regex(self):
        assert matches(r"/\/ad[0-9]+\.js/", "https://x.com/ad12.js")
        assert not matches(r"/\/ad[0-9]+\.js/", "https://x.com/ad.js")
        assert matches(r"/\/AD[0-9]+\.js/", "https://x.com/ad1.js")  # case-insensitive
        assert not matches(r"/\/AD[0-9]+\.js/$match-case", "https://x.com/ad1.js")

    def test_regex_on_urls_with_non_ascii_text_and_lone_surrogates(self):
        # mitmproxy decodes a path's invalid UTF-8 bytes to lone surrogates; RE2 still sees the rest.
        assert matches(r"/\/stra\S+e[0-9]\//", "https://x.com/straße1/")
        assert matches(r"/\/ad[0-9]+\.js/", "https://x.com/\udcff/ad1.js")
        assert matches(r"/\/ad[0-9]+\.js/$match-case", "https://x.com/\ud800\udcff/ad1.js")
        assert not matches(r"/\/ad[0-9]+\.js/", "https://x.com/\udcff/ad.js")

    def test_regex_through_re2s_own_match_and_through_its_public_search_agree(self, monkeypatch):
        from filters.network import matching, regex

        assert regex.RAW_MATCH, "google-re2's RE2 object no longer answers as expected: regexes take the slow way"
        cases = [
            (r"/\/ad[0-9]+\.js/", "https://x.com/ad12.js"), (r"/\/ad[0-9]+\.js/", "https://x.com/ad.js"),
            (r"/\/AD[0-9]+\.js/$match-case", "https://x.com/ad1.js"), (r"/\/ad[0-9]+\.js/", "https://x.com/\udcff/ad1.js"),
            (r"/^https:\/\/x\.com\/$/", "https://x.com/"), (r"/stra\S+e/", "https://x.com/straße"),
        ]
        fast = [matches(rule, url) for rule, url in cases]
        assert matching.compile_pattern(parse_network_rule(cases[0][0]))[0] == matching.REGEX
        monkeypatch.setattr(regex, "RAW_MATCH", False)
        assert matching.compile_pattern(parse_network_rule(cases[0][0]))[0] == matching.REGEX_SEARCH
        assert [matches(rule, url) for rule, url in cases] == fast == [True, False, False, True, True, True]

    def test_a_changed_re2_internal_is_not_used(self, monkeypatch):
        from filters.network import regex

        class Moved:
            def __init__(self, real):
                self.search = real.search  # the public API as it is; `_regexp` is gone

        monkeypatch.setattr(regex, "compile_regex", lambda source, match_case: Moved(compile_regex(source, match_case)))
        assert regex._raw_match_works() is False

    def test_compile_regex_refuses_backreferences(self):
        with pytest.raises(ValueError):
            compile_regex(r"(a)\1", False)


# --- options -------------------------------------------------------------------------------------


class TestOptions:
    def test_type_and_party(self):
        assert matches("/ad.$image", "https://x.com/ad.png", kind="image")
        assert not matches("/ad.$image", "https://x.com/ad.png", kind="script")
        assert matches("/ad.$third-party", "https://x.com/ad.png", "https://y.org/")
        assert not matches("/ad.$third-party", "https://cdn.x.com/ad.png", "https://www.x.com/")
        assert matches("/ad.$first-party", "https://cdn.x.com/ad.png", "https://www.x.com/")

    def test_party_by_registrable_domain(self):
        assert not matches("/ad.$3p", "https://a.bbc.co.uk/ad.png", "https://b.bbc.co.uk/")
        assert matches("/ad.$3p", "https://a.bbc.co.uk/ad.png", "https://b.other.co.uk/")

    def test_no_source_counts_as_third_party(self):
        assert matches("/ad.$3p", "https://x.com/ad.png")
        assert not matches("/ad.$1p", "https://x.com/ad.png")

    def test_domain(self):
        rule = "/ad.$domain=example.com|~shop.example.com"
        assert matches(rule, "https://cdn.net/ad.js", "https://www.example.com/")
        assert not matches(rule, "https://cdn.net/ad.js", "https://shop.example.com/")
        assert not matches(rule, "https://cdn.net/ad.js", "https://a.shop.example.com/")
        assert not matches(rule, "https://cdn.net/ad.js", "https://other.org/")
        assert not matches(rule, "https://cdn.net/ad.js")  # a domain list needs a source page

    def test_excluded_domains_only_apply_without_source(self):
        assert matches("/ad.$domain=~example.com", "https://cdn.net/ad.js")

    def test_entity_wildcard(self):
        rule = "/ad.$domain=google.*"
        assert matches(rule, "https://cdn.net/ad.js", "https://www.google.co.uk/")
        assert matches(rule, "https://cdn.net/ad.js", "https://google.de/")
        assert not matches(rule, "https://cdn.net/ad.js", "https://google.example.com/")

    def test_to(self):
        assert matches("*$script,to=ads.example", "https://x.ads.example/a.js")
        assert not matches("*$script,to=ads.example", "https://ads.example.org/a.js")
        assert not matches("*$script,to=ads.example|~ok.ads.example", "https://ok.ads.example/a.js")

    def test_denyallow(self):
        rule = "*$script,denyallow=cdn.example,domain=site.example"
        assert matches(rule, "https://tracker.example/a.js", "https://site.example/")
        assert not matches(rule, "https://x.cdn.example/a.js", "https://site.example/")

    def test_method(self):
        assert matches("/collect$method=post", "https://x.com/collect", method="POST")
        assert not matches("/collect$method=post", "https://x.com/collect", method="GET")
        assert not matches("/collect$method=~get", "https://x.com/collect", method="GET")

    def test_popup_only_for_popups(self):
        assert not matches("||ads.example^$popup", "https://ads.example/", kind="document")
        assert matches("||ads.example^$popup", "https://ads.example/", kind="popup")


class TestKeys:
    def test_host_suffixes(self):
        assert host_suffixes("a.b.example.com") == ("a.b.example.com", "b.example.com", "example.com", "com")
        assert host_suffixes("") == ()

    def test_host_keys_with_entities(self):
        keys = host_keys("a.example.co.uk", "co.uk")
        assert {"a.example.co.uk", "example.co.uk", "co.uk", "uk", "a.example.*", "example.*"} == keys

    def test_required_literal(self):
        assert required_literal(parse_network_rule("/ads/*banner^x")) == "banner"
        assert required_literal(parse_network_rule("||example.com/adsense/x*y")) == "/adsense/x"
        assert required_literal(parse_network_rule(r"/\/ads\/[0-9]+\/banner/")) == "ads"
        assert required_literal(parse_network_rule("||example.com^")) is None

    def test_compile_rule_plain_substring_has_no_call(self):
        mask, literal, test, options = compile_rule(parse_network_rule("/banner/ad."))
        assert literal == "/banner/ad." and test is None and options is None
        assert compile_rule(parse_network_rule("/banner/*ad."))[2] is not None


def _scan_glob(pattern: str, anchored_start: bool, anchored_end: bool, text: str, pos: int) -> bool:
    """The reference: a `*`/`^` pattern matched one segment at a time, each at its leftmost place."""
    segments = pattern.split("*")

    def fits(segment: str, at: int, last: bool) -> bool:
        for offset, char in enumerate(segment):
            if at + offset == len(text):
                return last and char == "^" and offset == len(segment) - 1
            found = text[at + offset]
            if char == "^" and (found.isalnum() or found in "_.%-") or char != "^" and char != found:
                return False
        return True

    def width(segment: str, at: int) -> int:
        return min(len(segment), len(text) - at)

    first = 0
    if anchored_start:
        if not fits(segments[0], pos, len(segments) == 1):
            return False
        pos += width(segments[0], pos)
        first = 1
        if len(segments) == 1:
            return not anchored_end or pos == len(text)
    middle_end = len(segments) - 1 if anchored_end else len(segments)
    for i in range(first, middle_end):
        last = i == len(segments) - 1
        at = next((at for at in range(pos, len(text) + 1) if fits(segments[i], at, last)), None)
        if at is None:
            return False
        pos = at + width(segments[i], at)
    if not anchored_end:
        return True
    tail = segments[-1]
    return any(fits(tail, at, True) and at + width(tail, at) == len(text) for at in range(pos, len(text) + 1))
