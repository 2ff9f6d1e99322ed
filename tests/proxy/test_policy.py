"""Host policies from the TOML config: parsing, validation errors and reject-accept-default order."""

from __future__ import annotations

import pytest

from filters.proxy.policy import ConfigError, Policies, Verdict, host_matches, load_policies, parse_policies

SEED = {
    "groups": {"good": ["*linuxjournal.com", "slashdot.org"], "bad": ["ads.*"]},
    "policy": {
        "connect": {"default": "accept", "accept": ["@good"], "reject": ["*microsoft.com"]},
        "image": {"default": "accept", "accept": ["@good"], "reject": ["@bad"]},
        "cookie": {"default": "reject", "accept": ["@good"], "reject": ["@bad"]},
    },
}


class TestSeedConfig:
    policies = parse_policies(SEED, "seed.toml")

    def test_reject_list_is_checked_first(self):
        verdict = self.policies.check("connect", "www.microsoft.com")
        assert not verdict.accepted and verdict.pattern == "*microsoft.com"

    def test_accept_list_before_default(self):
        verdict = self.policies.check("cookie", "www.linuxjournal.com")
        assert verdict.accepted and verdict.pattern == "*linuxjournal.com"

    def test_default_when_nothing_matches(self):
        verdict = self.policies.check("cookie", "example.com")
        assert not verdict.accepted and verdict.pattern is None
        assert self.policies.check("image", "example.com").accepted

    def test_groups_expand(self):
        assert not self.policies.check("image", "ads.example.com").accepted
        assert self.policies.check("image", "slashdot.org").accepted

    def test_matching_is_case_insensitive_and_ignores_a_trailing_dot(self):
        assert not self.policies.check("connect", "WWW.Microsoft.COM.").accepted

    def test_wildcards_are_whole_host_matches(self):
        # `ads.*` is a shell wildcard on the whole name, not a substring.
        assert self.policies.check("image", "downloads.example.com").accepted
        assert self.policies.check("cookie", "slashdot.org.evil.test").accepted is False
        assert self.policies.check("cookie", "slashdot.org.evil.test").pattern is None

    def test_reject_wins_when_both_match(self):
        policies = parse_policies({"policy": {"cookie": {"accept": ["*.example.com"], "reject": ["ads.example.com"]}}})
        assert not policies.check("cookie", "ads.example.com").accepted


def test_missing_policies_accept_everything():
    policies = Policies()
    for name in ("connect", "image", "cookie"):
        assert policies.check(name, "anything.test").accepted


def test_lists_table_is_left_for_subscriptions():
    policies = parse_policies({"lists": {"subscriptions": ["https://example.com/list.txt"]}})
    assert policies.check("connect", "x.test").accepted


@pytest.mark.parametrize(
    "data,message",
    [
        ({"policy": {"proxy": {}}}, "policy.proxy: unknown policy"),
        ({"policy": {"image": {"default": "maybe"}}}, "policy.image.default: must be \"accept\" or \"reject\""),
        ({"policy": {"image": {"accept": ["@nope"]}}}, "policy.image.accept: unknown group '@nope'"),
        ({"policy": {"image": {"reject": "ads.*"}}}, "policy.image.reject: must be a list"),
        ({"policy": {"image": {"allow": []}}}, "policy.image.allow: unknown key"),
        ({"groups": {"g": [1]}}, "groups.g: must be a list"),
        ({"groups": {"g": ["@h"]}, "policy": {}}, "groups cannot contain groups"),
        ({"polcy": {}}, "unknown table or key 'polcy'"),
        ({"policy": {"image": {"accept": [" "]}}}, "policy.image.accept: empty pattern"),
    ],
)
def test_bad_config_names_file_key_and_problem(data, message):
    with pytest.raises(ConfigError) as info:
        parse_policies(data, "conf.toml")
    assert str(info.value).startswith("conf.toml: ")
    assert message in str(info.value)


def test_load_reads_toml(tmp_path):
    path = tmp_path / "dejunk.toml"
    path.write_text('[policy.connect]\nreject = ["*.evil.test"]\n')
    assert not load_policies(str(path)).check("connect", "www.evil.test").accepted


def test_load_reports_bad_toml_with_its_position(tmp_path):
    path = tmp_path / "dejunk.toml"
    path.write_text('[policy.connect\nreject = [\n')
    with pytest.raises(ConfigError, match=r"dejunk.toml: not valid TOML: .*line 1"):
        load_policies(str(path))


def test_load_reports_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_policies(str(tmp_path / "nope.toml"))


class TestHostMatches:
    def test_plain_name_covers_subdomains(self):
        assert host_matches(("example.com",), "www.example.com") == "example.com"
        assert host_matches(("example.com",), "example.com") == "example.com"
        assert host_matches(("example.com",), "notexample.com") is None

    def test_wildcards(self):
        assert host_matches(("*.example.*",), "a.example.org") == "*.example.*"
        assert host_matches(("*.example.*",), "example.org") is None


def test_site_overrides_decide_for_the_site_and_its_subdomains_over_the_configured_policy():
    from filters.proxy.policy import with_overrides

    configured = parse_policies({"policy": {"cookie": {"default": "reject", "accept": ["friend.test"]},
                                            "image": {"reject": ["img.test"]}}})
    assert with_overrides(configured, {}) is configured
    overridden = with_overrides(configured, {
        "shop.test": {"cookie": "accept"}, "friend.test": {"cookie": "reject"}, "www.friend.test": {"cookie": "accept"},
        "img.test": {"image": "accept"}, "odd.test": {"nonsense": "accept", "image": "maybe"}})
    assert overridden.check("cookie", "Cart.Shop.Test.") == Verdict("cookie", True, "override for shop.test")
    assert overridden.check("cookie", "friend.test") == Verdict("cookie", False, "override for friend.test")
    assert overridden.check("cookie", "www.friend.test").accepted  # the nearest site decides
    assert overridden.check("cookie", "other.test") == configured.check("cookie", "other.test")
    assert overridden.check("cookie", "notshop.test").accepted is False  # not a subdomain
    assert overridden.check("image", "cdn.img.test").accepted and not configured.check("image", "img.test").accepted
    assert overridden.check("connect", "any.test") == configured.check("connect", "any.test")
    assert overridden.source == configured.source and configured.check("cookie", "shop.test").accepted is False
