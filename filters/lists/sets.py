"""Named lists and list sets: the public lists dejunk knows by name, and `default`, the set a new user gets.

`dejunk_lists` entries may name a set (`default`) or one known list (`easylist`); each expands to
its subscription URLs, in order. The URLs are those uBlock Origin itself subscribes to
(`assets/assets.json` in uBO's repository); this table is the only place they are written.

Two environment variables change how the lists on these hosts are downloaded (also their
`!#include`d parts), never which URL a subscription is known by (its cache entry and its trust):

- `DEJUNK_LIST_MIRROR=http://host:port` downloads `https://H/P?Q` from `<mirror>/H/P?Q` instead,
  for a user with a mirror, or a test with a loopback server standing in for the list hosts.
- `DEJUNK_FETCH_DEFAULT_LISTS=0` downloads none of them (the test suite sets it): the proxy says
  "not fetched" and filters with what it has (the built-in list, or copies already cached).
"""

from __future__ import annotations

import difflib
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

MIRROR_ENV = "DEJUNK_LIST_MIRROR"
FETCH_ENV = "DEJUNK_FETCH_DEFAULT_LISTS"
DEFAULT_SET = "default"


@dataclass(frozen=True, slots=True)
class KnownList:
    """A public list dejunk knows by name."""

    name: str
    title: str
    url: str


_UBO = "https://ublockorigin.github.io/uAssets"

# uBO's stock selection (its `assets.json`: the lists on by default), under uBO's asset keys.
KNOWN_LISTS: dict[str, KnownList] = {
    known.name: known
    for known in (
        KnownList("ublock-filters", "uBlock filters – Ads", f"{_UBO}/filters/filters.txt"),
        KnownList("ublock-badware", "uBlock filters – Badware risks", f"{_UBO}/filters/badware.txt"),
        KnownList("ublock-privacy", "uBlock filters – Privacy", f"{_UBO}/filters/privacy.txt"),
        KnownList("ublock-quick-fixes", "uBlock filters – Quick fixes", f"{_UBO}/filters/quick-fixes.txt"),
        KnownList("ublock-unbreak", "uBlock filters – Unbreak", f"{_UBO}/filters/unbreak.txt"),
        KnownList("easylist", "EasyList", f"{_UBO}/thirdparties/easylist.txt"),
        KnownList("easyprivacy", "EasyPrivacy", f"{_UBO}/thirdparties/easyprivacy.txt"),
        KnownList("plowe-0", "Peter Lowe’s Ad and tracking server list",
                  "https://pgl.yoyo.org/adservers/serverlist.php?hostformat=hosts&showintro=1&mimetype=plaintext"),
        KnownList("urlhaus-1", "Online Malicious URL Blocklist",
                  "https://malware-filter.gitlab.io/urlhaus-filter/urlhaus-filter-ag-online.txt"),
    )
}

SETS: dict[str, tuple[str, ...]] = {
    DEFAULT_SET: tuple(KNOWN_LISTS),
}

_HOSTS = frozenset(urllib.parse.urlsplit(known.url).hostname for known in KNOWN_LISTS.values())


def names() -> list[str]:
    """Every name an entry may use: the sets first, then the single lists."""
    return [*SETS, *KNOWN_LISTS]


def expand(spec: str) -> list[str] | None:
    """The URLs a set or list name stands for, in order; None when `spec` is no such name."""
    name = spec.strip().lower()
    if name in SETS:
        return [KNOWN_LISTS[member].url for member in SETS[name]]
    if name in KNOWN_LISTS:
        return [KNOWN_LISTS[name].url]
    return None


def title_of(url: str) -> str | None:
    """The title of a known list's URL, for log lines."""
    for known in KNOWN_LISTS.values():
        if known.url == url:
            return known.title
    return None


def suggestion(spec: str) -> str | None:
    """The set or list name closest to a misspelt entry (`defualt` → `default`), if any is close."""
    if os.sep in spec or "/" in spec:
        return None
    close = difflib.get_close_matches(spec.strip().lower(), names(), n=1, cutoff=0.75)
    return close[0] if close else None


def _on_known_host(url: str) -> bool:
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and host.lower() in _HOSTS


def mirror_url(url: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """Where to download `url` from under DEJUNK_LIST_MIRROR, or None to download it from `url` itself."""
    mirror = environ.get(MIRROR_ENV, "").strip().rstrip("/")
    if not mirror or not _on_known_host(url):
        return None
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    return f"{mirror}/{parts.hostname.lower()}{path}" + (f"?{parts.query}" if parts.query else "")


def not_fetched_reason(url: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why `url` must not be downloaded (DEJUNK_FETCH_DEFAULT_LISTS is off for the named lists' hosts), or None."""
    value = environ.get(FETCH_ENV, "").strip().lower()
    if value in ("0", "false", "no", "off") and _on_known_host(url):
        return f"{FETCH_ENV}={environ[FETCH_ENV].strip()} turns off downloads of the named lists"
    return None
