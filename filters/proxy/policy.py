"""The per-host policies (connect, image, cookie) from the dejunk TOML config file.

    [groups]
    good = ["*linuxjournal.com", "slashdot.org"]

    [policy.cookie]
    default = "reject"
    accept  = ["@good"]
    reject  = ["ads.*"]

Patterns are shell wildcards on the host name, case-insensitive; `@name` expands a group.
The reject list is checked first, then the accept list, then the default.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field

POLICY_NAMES = ("connect", "image", "cookie")
VERDICTS = ("accept", "reject")
# Tables the config may hold for other parts of dejunk; the policy reader leaves them alone.
OTHER_TABLES = ("lists",)


class ConfigError(ValueError):
    """A config file problem, naming the file, the key and what is wrong."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A policy's answer for one host: accepted or not, and the pattern that decided (None: the default)."""

    policy: str
    accepted: bool
    pattern: str | None


@dataclass(frozen=True)
class Policy:
    """One policy: compiled reject and accept patterns and a default."""

    name: str
    default_accept: bool = True
    accept: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    _accept_re: re.Pattern | None = field(default=None, repr=False, compare=False)
    _reject_re: re.Pattern | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, name: str, default_accept: bool, accept: tuple[str, ...], reject: tuple[str, ...]) -> Policy:
        return cls(name, default_accept, accept, reject, _compile(accept), _compile(reject))

    def check(self, host: str) -> Verdict:
        if self._reject_re is None and self._accept_re is None:
            return self._default_verdict()  # no patterns (the usual case): no need to normalize the host
        host = host.lower().rstrip(".")
        pattern = _first_match(self._reject_re, self.reject, host)
        if pattern is not None:
            return Verdict(self.name, False, pattern)
        pattern = _first_match(self._accept_re, self.accept, host)
        if pattern is not None:
            return Verdict(self.name, True, pattern)
        return self._default_verdict()

    def _default_verdict(self) -> Verdict:
        verdict = _DEFAULT_VERDICTS.get((self.name, self.default_accept))
        return verdict if verdict is not None else Verdict(self.name, self.default_accept, None)


_DEFAULT_VERDICTS = {
    (name, accepted): Verdict(name, accepted, None) for name in POLICY_NAMES for accepted in (True, False)
}


def _compile(patterns: tuple[str, ...]) -> re.Pattern | None:
    # One alternation of named groups, so a host is tested against all patterns in one match.
    if not patterns:
        return None
    parts = [f"(?P<p{i}>{fnmatch.translate(p.lower())})" for i, p in enumerate(patterns)]
    return re.compile("|".join(parts))


def _first_match(compiled: re.Pattern | None, patterns: tuple[str, ...], host: str) -> str | None:
    if compiled is None:
        return None
    match = compiled.match(host)
    if match is None:
        return None
    return patterns[int(match.lastgroup[1:])]


ACCEPT_ALL = {name: Policy.build(name, True, (), ()) for name in POLICY_NAMES}


@dataclass(frozen=True)
class Policies:
    """The three policies; a missing one accepts everything."""

    connect: Policy = ACCEPT_ALL["connect"]
    image: Policy = ACCEPT_ALL["image"]
    cookie: Policy = ACCEPT_ALL["cookie"]
    source: str | None = None

    def check(self, policy: str, host: str) -> Verdict:
        return getattr(self, policy).check(host)


@dataclass(frozen=True, eq=False)
class SiteOverrides:
    """A policy with per-site verdicts over it (the dashboard's site overrides): a site's verdict holds for
    it and its subdomains, the nearest site deciding; other hosts get the policy's own verdict."""

    base: Policy
    sites: Mapping[str, bool]  # site -> accepted

    @property
    def name(self) -> str:
        return self.base.name

    def check(self, host: str) -> Verdict:
        name = host.lower().rstrip(".")
        while True:
            accepted = self.sites.get(name)
            if accepted is not None:
                return Verdict(self.base.name, accepted, f"override for {name}")
            dot = name.find(".")
            if dot < 0:
                return self.base.check(host)
            name = name[dot + 1:]


def with_overrides(policies: Policies, overrides: Mapping[str, Mapping[str, str]]) -> Policies:
    """`policies` with per-site overrides ({site: {policy: "accept"|"reject"}}) over them; the same object if none."""
    sites: dict[str, dict[str, bool]] = {}
    for site, verdicts in overrides.items():
        for policy, value in verdicts.items():
            if policy in POLICY_NAMES and value in VERDICTS:
                sites.setdefault(policy, {})[site.lower().rstrip(".")] = value == "accept"
    if not sites:
        return policies
    return dataclasses.replace(policies, **{name: SiteOverrides(getattr(policies, name), found)
                                            for name, found in sites.items()})


def load_policies(path: str) -> Policies:
    """Read and validate a config file; ConfigError names the file, key and problem."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_policies(data, path)


def parse_policies(data: dict, path: str = "<config>") -> Policies:
    """Validate parsed TOML and build the policies."""
    for key in data:
        if key not in ("groups", "policy", *OTHER_TABLES):
            raise ConfigError(f"{path}: unknown table or key {key!r} (expected groups, policy, lists)")
    groups = _read_groups(data.get("groups", {}), path)
    policy_table = data.get("policy", {})
    if not isinstance(policy_table, dict):
        raise ConfigError(f"{path}: 'policy' must be a table ([policy.connect], ...)")
    built = {}
    for name, spec in policy_table.items():
        if name not in POLICY_NAMES:
            raise ConfigError(f"{path}: policy.{name}: unknown policy (known: {', '.join(POLICY_NAMES)})")
        built[name] = _read_policy(name, spec, groups, path)
    return Policies(**built, source=path)


def _read_groups(table: object, path: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'groups' must be a table of name = [patterns]")
    groups = {}
    for name, patterns in table.items():
        groups[name] = _pattern_list(patterns, f"groups.{name}", path)
    for name, patterns in groups.items():
        for pattern in patterns:
            if pattern.startswith("@"):
                raise ConfigError(f"{path}: groups.{name}: groups cannot contain groups ({pattern})")
    return groups


def _read_policy(name: str, spec: object, groups: dict[str, tuple[str, ...]], path: str) -> Policy:
    key = f"policy.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: {key} must be a table with default, accept, reject")
    for field_name in spec:
        if field_name not in ("default", "accept", "reject"):
            raise ConfigError(f"{path}: {key}.{field_name}: unknown key (expected default, accept, reject)")
    default = spec.get("default", "accept")
    if default not in VERDICTS:
        raise ConfigError(f"{path}: {key}.default: must be \"accept\" or \"reject\", not {default!r}")
    lists = {}
    for verdict in VERDICTS:
        patterns = _pattern_list(spec.get(verdict, []), f"{key}.{verdict}", path)
        lists[verdict] = _expand(patterns, groups, f"{key}.{verdict}", path)
    return Policy.build(name, default == "accept", lists["accept"], lists["reject"])


def _pattern_list(value: object, key: str, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key}: must be a list of host patterns (strings)")
    for pattern in value:
        if not pattern.strip():
            raise ConfigError(f"{path}: {key}: empty pattern")
    return tuple(p.strip() for p in value)


def _expand(patterns: tuple[str, ...], groups: dict[str, tuple[str, ...]], key: str, path: str) -> tuple[str, ...]:
    expanded: list[str] = []
    for pattern in patterns:
        if pattern.startswith("@"):
            group = pattern[1:]
            if group not in groups:
                raise ConfigError(f"{path}: {key}: unknown group {pattern!r}")
            expanded.extend(groups[group])
        else:
            expanded.append(pattern)
    return tuple(expanded)


def host_matches(patterns: tuple[str, ...], host: str) -> str | None:
    """The first wildcard pattern that matches `host`; a plain name also covers its subdomains."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        lowered = pattern.lower()
        if any(c in lowered for c in "*?["):
            if fnmatch.fnmatchcase(host, lowered):
                return pattern
        elif host == lowered or host.endswith("." + lowered):
            return pattern
    return None
