"""Parsing network filter lines: patterns, anchors, every option, and the lines that must be refused."""

from __future__ import annotations

import pytest

from filters.network.rules import (
    ALL_TYPES,
    ANY_PARTY,
    DOCUMENT,
    FIRST_PARTY,
    NETWORK_TYPES,
    POPUP,
    THIRD_PARTY,
    TYPE_BITS,
    RuleError,
    options_start,
    parse_network_rule,
    pattern_bigrams,
    pattern_tokens,
    regex_tokens,
    rule_identity,
    split_options,
)


def types(rule) -> set[str]:
    return {name for name, bit in TYPE_BITS.items() if rule.mask & bit}


def refused(text: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_network_rule(text)
    return info.value


# --- patterns and anchors ------------------------------------------------------------------------


class TestPattern:
    def test_slashes_on_both_ends_make_a_regex(self):
        # ABP syntax: `/ads/` is a regex; lists write `/ads/*` for the path segment.
        assert parse_network_rule("/ads/").regex == "ads"
        assert parse_network_rule("/ads/*").pattern == "/ads/"

    def test_plain_substring(self):
        rule = parse_network_rule("/banner/ad.")
        assert (rule.pattern, rule.anchor_start, rule.anchor_end, rule.exception) == ("/banner/ad.", 0, False, False)
        assert rule.hostname is None and rule.regex is None

    def test_exception_prefix(self):
        rule = parse_network_rule("@@/banner/ad.")
        assert rule.exception and rule.pattern == "/banner/ad."

    def test_start_and_end_anchors(self):
        rule = parse_network_rule("|https://ads.|")
        assert (rule.anchor_start, rule.anchor_end, rule.pattern) == (1, True, "https://ads.")

    def test_host_anchor_with_separator_is_a_host_rule(self):
        rule = parse_network_rule("||ads.example.com^")
        assert rule.hostname == "ads.example.com" and rule.rest == "^"
        assert rule.host_only and rule.host_keyed

    def test_host_anchor_with_path_keeps_the_rest(self):
        rule = parse_network_rule("||example.com/ads/*.js")
        assert rule.hostname == "example.com" and rule.rest == "/ads/*.js"
        assert not rule.host_only

    def test_host_anchor_with_port_and_query(self):
        assert parse_network_rule("||example.com:8080/x").rest == ":8080/x"
        assert parse_network_rule("||example.com?ad=1").rest == "?ad=1"

    def test_host_anchor_without_delimiter_is_not_a_host(self):
        # `||ads.example` also covers ads.example.org: a label-aligned substring of the host.
        rule = parse_network_rule("||ads.example")
        assert rule.hostname is None and rule.anchor_start == 2 and rule.pattern == "ads.example"

    def test_host_anchor_with_wildcard_host_is_general(self):
        rule = parse_network_rule("||ads*.example.com^")
        assert rule.hostname is None and rule.pattern == "ads*.example.com^"

    def test_host_end_anchor_is_a_host_rule_without_documents(self):
        rule = parse_network_rule("||example.com|")
        assert rule.host_only and not rule.mask & DOCUMENT

    def test_bare_host_rule_also_covers_documents(self):
        assert parse_network_rule("||example.com^").mask & DOCUMENT
        assert not parse_network_rule("||example.com/ad").mask & DOCUMENT
        assert not parse_network_rule("||example.com^$script").mask & DOCUMENT

    def test_wildcards_collapse_and_trim(self):
        assert parse_network_rule("**ad***banner**").pattern == "ad*banner"
        rule = parse_network_rule("|*ad")
        assert rule.anchor_start == 0 and rule.pattern == "ad"
        rule = parse_network_rule("ad*|")
        assert not rule.anchor_end and rule.pattern == "ad"

    def test_lowercased_unless_match_case(self):
        assert parse_network_rule("/BannerAd.").pattern == "/bannerad."
        assert parse_network_rule("/BannerAd.$match-case").pattern == "/BannerAd."
        assert parse_network_rule("||Example.COM/Ad$match-case").hostname == "example.com"

    def test_idn_host_in_punycode(self):
        assert parse_network_rule("||bücher.example^").hostname == "xn--bcher-kva.example"

    def test_ipv6_host(self):
        rule = parse_network_rule("||[::1]^")
        assert rule.hostname == "::1" and rule.host_only

    def test_regex(self):
        rule = parse_network_rule(r"/^https?:\/\/ads\.[a-z]+\//$script")
        assert rule.regex == r"^https?:\/\/ads\.[a-z]+\/" and types(rule) == {"script"}

    def test_dollar_inside_regex_is_not_options(self):
        assert parse_network_rule(r"/ad\.js$/").regex == r"ad\.js$"
        assert parse_network_rule(r"/ad\.js$/$image").regex == r"ad\.js$"

    def test_regex_rejected_by_re2_is_unsupported(self):
        error = refused(r"/(ads)\1/")
        assert error.unsupported and "RE2" in error.reason

    def test_empty_rules_are_refused(self):
        assert not refused("*").unsupported
        assert not refused("@@").unsupported
        assert not refused("||").unsupported

    def test_empty_pattern_with_options_matches_everything(self):
        rule = parse_network_rule("$script,third-party,domain=example.com")
        assert rule.pattern == "" and types(rule) == {"script"}


# --- options -------------------------------------------------------------------------------------


class TestTypes:
    @pytest.mark.parametrize(
        "option, name",
        [
            ("script", "script"),
            ("image", "image"),
            ("stylesheet", "stylesheet"),
            ("css", "stylesheet"),
            ("object", "object"),
            ("object-subrequest", "object"),
            ("xmlhttprequest", "xmlhttprequest"),
            ("xhr", "xmlhttprequest"),
            ("subdocument", "subdocument"),
            ("frame", "subdocument"),
            ("ping", "ping"),
            ("beacon", "ping"),
            ("media", "media"),
            ("font", "font"),
            ("websocket", "websocket"),
            ("other", "other"),
            ("document", "document"),
            ("doc", "document"),
            ("popup", "popup"),
        ],
    )
    def test_each_type_and_alias(self, option, name):
        assert types(parse_network_rule(f"/ad.$${option}".replace("$$", "$"))) == {name}

    def test_negated_types_leave_the_other_subresources(self):
        rule = parse_network_rule("/ad.$~script,~image")
        assert types(rule) == {name for name, bit in TYPE_BITS.items() if bit & NETWORK_TYPES} - {"script", "image"}

    def test_default_is_every_subresource_but_not_pages_or_popups(self):
        rule = parse_network_rule("/ad.")
        assert rule.mask & ALL_TYPES == NETWORK_TYPES
        assert not rule.mask & (DOCUMENT | POPUP)

    def test_all_includes_documents_and_popups(self):
        assert parse_network_rule("||example.com^$all").mask & ALL_TYPES == ALL_TYPES

    def test_types_exclude_everything(self):
        assert not refused("/ad.$script,~script").unsupported

    def test_type_with_a_value_is_refused(self):
        refused("/ad.$script=1")


class TestParty:
    @pytest.mark.parametrize(
        "option, party",
        [
            ("third-party", THIRD_PARTY),
            ("3p", THIRD_PARTY),
            ("~first-party", THIRD_PARTY),
            ("~1p", THIRD_PARTY),
            ("first-party", FIRST_PARTY),
            ("1p", FIRST_PARTY),
            ("~third-party", FIRST_PARTY),
            ("~3p", FIRST_PARTY),
        ],
    )
    def test_party_options(self, option, party):
        assert parse_network_rule(f"/ad.${option}").mask & ANY_PARTY == party

    def test_no_party_option_means_both(self):
        assert parse_network_rule("/ad.").mask & ANY_PARTY == ANY_PARTY

    def test_both_excluded_is_refused(self):
        refused("/ad.$1p,3p")


class TestDomains:
    def test_domain_include_exclude(self):
        rule = parse_network_rule("/ad.$domain=example.com|~sub.example.com|Other.ORG")
        assert rule.domains.include == {"example.com", "other.org"}
        assert rule.domains.exclude == {"sub.example.com"}

    def test_from_is_domain(self):
        assert parse_network_rule("/ad.$from=example.com").domains.include == {"example.com"}

    def test_entity_wildcard(self):
        assert parse_network_rule("/ad.$domain=google.*|~google.de").domains.include == {"google.*"}

    def test_idn_domain_in_punycode(self):
        assert parse_network_rule("/ad.$domain=bücher.example").domains.include == {"xn--bcher-kva.example"}

    def test_domain_without_value_is_refused(self):
        refused("/ad.$domain=")
        refused("/ad.$domain=a.com||b.com")

    def test_regex_domain_is_unsupported(self):
        assert refused("/ad.$domain=/^ex.*/").unsupported

    def test_to(self):
        rule = parse_network_rule("*$script,to=ads.example|~good.ads.example")
        assert rule.to_domains.include == {"ads.example"} and rule.to_domains.exclude == {"good.ads.example"}

    def test_denyallow(self):
        rule = parse_network_rule("*$script,3p,denyallow=cdn.example|static.example,domain=site.example")
        assert rule.denyallow == {"cdn.example", "static.example"}

    def test_denyallow_negation_is_refused(self):
        refused("*$denyallow=~cdn.example")

    def test_generic(self):
        assert parse_network_rule("/ad.").is_generic
        assert parse_network_rule("/ad.$domain=~example.com").is_generic
        assert not parse_network_rule("/ad.$domain=example.com").is_generic


    def test_plain_values_are_read_as_the_general_way_reads_them(self, corpus, monkeypatch):
        import re

        from filters.network import rules as module

        values = {"a.com", "A.com", "a.com.", "a.com|", "|a.com", "a..com", "~a.com|b.*", "b.*|~c.*", "[::1]|a.com",
                  "xn--a.com", "b\u00fccher.example", "~", "a.com|~", " a.com", "a_b-c.d|~e.f.*", "/re/"}
        for name in ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt"):
            for line in (corpus / "lists" / name).read_text(encoding="utf-8").splitlines():
                found = re.search(r"[$,](?:domain|from|to|denyallow)=([^,]*)", line)
                if found and not line.startswith(("!", "#")) and "#" not in line[: found.start()]:
                    values.add(found.group(1))

        def read_all():
            answers = {}
            for value in values:
                try:
                    answers[value] = module._domain_set(value, "domain")
                except RuleError as error:
                    answers[value] = (error.reason, error.unsupported)
            return answers

        plain = read_all()
        assert sum(module.normal_domain_list(value, "|") is not None for value in values) > 1000
        monkeypatch.setattr(module, "normal_domain_list", lambda value, separator: None)
        assert read_all() == plain


class TestSimplePatterns:
    """The common `||host/path` and unanchored patterns are read without `_parse_pattern`: to the same fields."""

    EDGES = [
        "||a.example/x", "||A.Example/X?y=1", "||a.example^", "||a.example^x", "||a-.example/x", "||a.example./x",
        "||.a.example/x", "||a.example/*x", "||a.example/x*", "||a.example/x|", "||a.example", "||a.example:8080/x",
        "||a_b.example;x", "||bücher.example/x", "||a.example/x$script", "||a.example/X$match-case", "||ads-^",
        "||_ads.example^", "||ads_^$third-party", "/banner/", "/banner/x", "//", "/x/$image", "ad", "Ad-Banner.",
        "*ad", "ad*", "a**d", "a*d", "|ad", "ad|", "a|d", "a\\|", "ads/Ü", "@@||a.example/x", "@@banner.",
        "-ad-$~image", "||a.example/x^", "||a.example/&x",
    ]

    def _fields(self, texts):
        from filters.network.rules import parse_rule_fields

        found = {}
        for text in texts:
            try:
                rule = parse_rule_fields(text)
                found[text] = (rule.__dict__, rule.options_at)
            except RuleError as error:
                found[text] = (error.reason, error.unsupported)
        return found

    def test_the_same_fields_as_the_general_reading(self, corpus, monkeypatch):
        import re

        from filters.network import rules as module

        texts = set(self.EDGES)
        for name in ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt"):
            for line in (corpus / "lists" / name).read_text(encoding="utf-8").splitlines():
                if line and not line.startswith(("!", "[")) and "#" not in line:
                    texts.add(line.strip())
        quick = self._fields(texts)
        assert sum(bool(module._HOST_AND_REST.fullmatch(t.lower())) for t in texts) > 3000
        assert sum(bool(module._UNANCHORED.fullmatch(t.lower())) for t in texts) > 3000
        monkeypatch.setattr(module, "_HOST_AND_REST", re.compile("(?!)"))
        monkeypatch.setattr(module, "_UNANCHORED", re.compile("(?!)"))
        assert self._fields(texts) == quick


class TestOtherOptions:
    def test_method(self):
        rule = parse_network_rule("||example.com/track$method=post|Put")
        assert rule.methods.include == {"POST", "PUT"} and not rule.methods.exclude
        assert parse_network_rule("/x$method=~get").methods.exclude == {"GET"}

    def test_unknown_method_is_refused(self):
        refused("/x$method=fetch")

    def test_important_badfilter_match_case(self):
        rule = parse_network_rule("/ad.$important,match-case,badfilter")
        assert rule.important and rule.match_case and rule.badfilter

    def test_negating_a_flag_is_refused(self):
        refused("/ad.$~important")
        refused("/ad.$~badfilter")

    def test_redirect_and_redirect_rule(self):
        assert parse_network_rule("||ads.example/a.js$script,redirect=noopjs").redirect == "noopjs"
        rule = parse_network_rule("||ads.example/a.js$redirect-rule=noopjs:10")
        assert rule.redirect_rule == "noopjs:10" and rule.redirect is None

    def test_redirect_needs_a_name_except_on_exceptions(self):
        refused("||ads.example^$redirect=")
        assert parse_network_rule("@@||ads.example^$redirect-rule").redirect_rule == ""

    def test_abp_rewrite_becomes_a_redirect(self):
        assert parse_network_rule("||ads.example/a.js$rewrite=abp-resource:blank-js").redirect == "noop.js"
        assert refused("||ads.example/a.js$rewrite=https://x.example/").unsupported

    def test_removeparam(self):
        assert parse_network_rule("$removeparam=utm_source").removeparam == "utm_source"
        assert parse_network_rule("$removeparam=/^utm_/").removeparam == "/^utm_/"
        assert parse_network_rule("||example.com^$removeparam").removeparam == ""
        assert parse_network_rule("$queryprune=fbclid").removeparam == "fbclid"

    def test_removeparam_regex_with_dollar(self):
        assert parse_network_rule("$removeparam=/^utm_[a-z]+$/").removeparam == "/^utm_[a-z]+$/"

    def test_removeparam_keep_only_is_unsupported(self):
        assert refused("$removeparam=~keep").unsupported

    def test_removeparam_defaults_to_every_type(self):
        assert parse_network_rule("$removeparam=x").mask & DOCUMENT

    def test_csp(self):
        rule = parse_network_rule("||example.com^$csp=script-src 'self'")
        assert rule.csp == "script-src 'self'"
        assert types(rule) == {"document", "subdocument"}
        assert parse_network_rule("@@||example.com^$csp").csp == ""
        refused("||example.com^$csp")

    def test_escaped_comma_stays_in_the_value(self):
        assert parse_network_rule(r"||example.com^$csp=default-src 'self'\, img-src *").csp == "default-src 'self', img-src *"

    def test_one_modifier_per_rule(self):
        refused("||x.example^$redirect=noopjs,csp=script-src 'none'")

    def test_page_options_on_exceptions(self):
        rule = parse_network_rule("@@||example.com^$elemhide,generichide,genericblock")
        assert rule.elemhide and rule.generichide and rule.genericblock
        assert rule.mask & ALL_TYPES == 0  # lets no request through by itself
        assert parse_network_rule("@@||example.com^$ghide").generichide
        assert parse_network_rule("@@||example.com^$ehide").elemhide

    def test_page_options_only_on_exceptions(self):
        assert not refused("||example.com^$generichide").unsupported
        refused("||example.com^$elemhide")

    def test_document_exception_is_a_page_switch_and_a_document_exception(self):
        rule = parse_network_rule("@@||example.com^$document")
        assert rule.document and rule.mask & DOCUMENT and rule.page_flags
        assert not parse_network_rule("||example.com^$document").document

    def test_underscore_placeholder_and_ignored_options(self):
        assert types(parse_network_rule("/ad.$_,script,collapse")) == {"script"}

    @pytest.mark.parametrize(
        "option",
        ["urlskip=?url", "permissions=camera=()", "header=x-ad", "urltransform=/a/b/"],
    )
    def test_unsupported_options(self, option):
        error = refused(f"||example.com^${option}")
        assert error.unsupported and "unsupported option" in error.reason

    def test_unknown_option_is_malformed(self):
        error = refused("||example.com^$frobnicate")
        assert not error.unsupported and "frobnicate" in error.reason

    def test_empty_option_is_refused(self):
        refused("||example.com^$script,,image")
        refused("||example.com^$script,=x")


# --- option splitting and identity -----------------------------------------------------------------


class TestHelpers:
    def test_options_start(self):
        assert options_start("/ad.$script") == 4
        assert options_start(r"/ad\.js$/") == -1
        assert options_start("$removeparam=/^a$/") == 0

    def test_split_options(self):
        assert split_options("a,b=c") == ["a", "b=c"]
        assert split_options(r"csp=a\, b,script") == ["csp=a, b", "script"]

    def test_identity_ignores_option_order_and_badfilter(self):
        assert rule_identity("||a.com^$script,domain=x.com") == rule_identity("||a.com^$domain=x.com,script,badfilter")
        assert rule_identity("||a.com^$badfilter") == "||a.com^"
        assert rule_identity("@@||a.com^$script") != rule_identity("||a.com^$script")


class TestTokens:
    @pytest.mark.parametrize(
        "text, tokens",
        [
            ("/ads/banner.", ["ads", "banner"]),
            ("ads/banner", []),  # both runs may continue in the URL
            ("|https://ads.", ["https", "ads"]),
            ("||ads.example", ["ads", "example"]),  # adblock-rust wants whole labels here
            ("/ads/*banner/x", ["ads"]),
            ("/ad^", ["ad"]),
            ("-ad-$image", ["ad"]),
            ("%2Fevent.gif%3F", ["2fevent", "gif"]),
        ],
    )
    def test_pattern_tokens(self, text, tokens):
        assert pattern_tokens(parse_network_rule(text)) == tokens

    def test_host_rule_tokens_come_from_the_path(self):
        assert pattern_tokens(parse_network_rule("||example.com/adsense/search/ads.js")) == ["adsense", "search", "ads"]

    def test_pairs(self):
        assert pattern_bigrams(parse_network_rule("/ads/image/*")) == [("ads", "imag")]
        # A run bounded only on its left still gives a pair prefix when long enough.
        assert pattern_bigrams(parse_network_rule("/ads/vtracker*")) == [("ads", "vtra")]
        assert pattern_bigrams(parse_network_rule("/ads/vt*")) == []
        assert pattern_bigrams(parse_network_rule("/ads/*/image/*")) == []

    @pytest.mark.parametrize(
        "source, tokens",
        [
            (r"^https?:\/\/ads\.example\.com\/", ["ads", "example", "com"]),
            (r"\/banner[0-9]+\.", []),
            (r"(https?:\/\/)104\.154\..{100,}", ["154"]),
            (r"ads|banner", []),
            (r"\/ads?\/", []),
            (r"\/ad(vert)?s\/", []),
            (r"\.gsmarena\.com\/[0-9]+\.[a-z]+\?s?Search=", ["gsmarena", "com"]),
        ],
    )
    def test_regex_tokens_are_conservative(self, source, tokens):
        assert regex_tokens(source) == tokens
