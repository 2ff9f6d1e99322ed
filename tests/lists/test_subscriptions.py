"""List subscriptions against a loopback server: download, conditional refresh, expiry, refusals, includes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import threading
from pathlib import Path

import pytest

from filters.lists import subscriptions as subs
from filters.engine import Engine
from filters.lists.syntax import read_list
from tests.list_server import ListServer

NOW = 1_800_000_000.0  # an injected clock: 2027-01-15
HOUR = 3600.0
DAY = 24 * HOUR
LAST_MODIFIED = "Wed, 13 Jan 2027 05:20:00 GMT"


def make_list(
    rules: int = 150,
    *,
    prefix: str = "ads",
    expires: str | None = "4 days (update frequency)",
    version: str = "202701130520",
    extra: str = "",
) -> str:
    """An ABP list of `rules` host rules with a header, and `extra` text at the end."""
    header = ["[Adblock Plus 2.0]", f"! Version: {version}", "! Title: Test list"]
    header.append("! Last modified: 13 Jan 2027 05:20 UTC")
    if expires is not None:
        header.append(f"! Expires: {expires}")
    body = [f"||{prefix}{i}.example.com^" for i in range(rules)]
    return "\n".join(header + body) + "\n" + extra


def with_checksum(text: str, checksum: str) -> str:
    first, rest = text.split("\n", 1)
    return f"{first}\n! Checksum: {checksum}\n{rest}"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Loopback requests must not be sent to a proxy named in the environment."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with ListServer() as running:
        yield running


@pytest.fixture
def cache(tmp_path) -> str:
    return str(tmp_path / "cache")


def update_one(url: str, cache: str, **options) -> subs.UpdateResult:
    options.setdefault("now", NOW)
    options.setdefault("timeout", 5.0)
    (result,) = subs.update([url], cache, **options)
    return result


def read_state(cache: str) -> dict:
    with open(os.path.join(cache, subs.STATE_FILE), encoding="utf-8") as f:
        return json.load(f)["lists"]


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("4 days (update frequency)", 4 * DAY),
        ("12 hours", 12 * HOUR),
        ("1 day", DAY),
        ("5", 5 * DAY),
        ("6h", 6 * HOUR),
        ("2 weeks", 14 * DAY),
        (None, subs.DEFAULT_INTERVAL),
        ("", subs.DEFAULT_INTERVAL),
        ("soon", subs.DEFAULT_INTERVAL),
        ("3 fortnights", subs.DEFAULT_INTERVAL),
        ("0 days", subs.MIN_INTERVAL),
        ("10 minutes", subs.MIN_INTERVAL),
        ("365 days", subs.MAX_INTERVAL),
    ],
)
def test_parse_expires(text, seconds):
    assert subs.parse_expires(text) == seconds


def test_abp_checksum_matches_its_description():
    text = "[Adblock Plus 2.0]\r\n! Checksum: whatever\r\n! Title: t\r\n\r\n\r\n||a.example^\r\n"
    normalized = "[Adblock Plus 2.0]\n! Title: t\n||a.example^\n"
    expected = base64.b64encode(hashlib.md5(normalized.encode()).digest()).decode().rstrip("=")
    assert subs.abp_checksum(text) == expected
    assert subs.checksum_problem(text.replace("whatever", expected)) is None
    assert "checksum mismatch" in subs.checksum_problem(text)


def test_checksum_is_optional():
    assert subs.checksum_problem(make_list()) is None


# --- names, paths and config -------------------------------------------------------------------


def test_cache_path_is_stable_readable_and_distinct(tmp_path):
    easylist = subs.cache_path("https://easylist.to/easylist/easylist.txt", str(tmp_path))
    assert easylist == subs.cache_path("  HTTPS://EasyList.to/easylist/easylist.txt#top ", str(tmp_path))
    assert os.path.basename(easylist) == "easylist.txt"
    assert os.path.dirname(os.path.dirname(easylist)) == str(tmp_path)
    peter_lowe = subs.cache_path(
        "https://pgl.yoyo.org/adservers/serverlist.php?hostformat=adblockplus&showintro=0&mimetype=plaintext",
        str(tmp_path),
    )
    assert os.path.basename(peter_lowe) == "serverlist.txt"
    other_query = subs.cache_path("https://pgl.yoyo.org/adservers/serverlist.php?hostformat=hosts", str(tmp_path))
    assert other_query != peter_lowe


@pytest.mark.parametrize("spec", ["ftp://example.com/list.txt", "file:///etc/hosts", "easylist.txt", "http://"])
def test_non_http_urls_are_refused(spec, tmp_path):
    assert not subs.is_subscription_url(spec)
    with pytest.raises(ValueError):
        subs.cache_path(spec, str(tmp_path))
    (result,) = subs.update([spec], str(tmp_path / "cache"), now=NOW)
    assert result.outcome == subs.FAILED and "http" in result.error
    assert not (tmp_path / "cache" / subs.STATE_FILE).exists()


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert subs.default_cache_dir() == str(tmp_path / "dejunk" / "lists")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert subs.default_cache_dir() == str(tmp_path / "home" / ".cache" / "dejunk" / "lists")


def test_read_subscription_config(tmp_path):
    config = tmp_path / "dejunk.toml"
    config.write_text(
        '[lists]\nsubscriptions = ["https://easylist.to/easylist/easylist.txt"]\ncache_dir = "lists-cache"\n'
    )
    result = subs.read_subscription_config(str(config))
    assert result.subscriptions == ("https://easylist.to/easylist/easylist.txt",)
    assert result.cache_dir == str(tmp_path / "lists-cache")
    config.write_text("[other]\nx = 1\n")
    assert subs.read_subscription_config(str(config)) == subs.SubscriptionConfig((), None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[lists\n", "not valid TOML"),
        ("lists = 3\n", "must be a table"),
        ('[lists]\nsubscriptions = "https://a.example/l.txt"\n', "list of URL strings"),
        ('[lists]\nsubscriptions = ["easylist.txt"]\n', "not an http(s) URL"),
        ('[lists]\nsubscriptions = []\ncache_dir = 5\n', "cache_dir"),
    ],
)
def test_bad_config_is_reported_with_its_file(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        subs.read_subscription_config(str(config))
    assert str(config) in str(raised.value)


# --- downloading ---------------------------------------------------------------------------------


def test_first_download(server, cache):
    text = make_list()
    url = server.serve("/easylist.txt", text, etag='"v1"', last_modified=LAST_MODIFIED)
    result = update_one(url, cache)
    assert result.outcome == subs.UPDATED and result.changed and result.ok
    assert result.path == subs.cache_path(url, cache)
    assert Path(result.path).read_bytes() == text.encode()
    assert result.rule_count == 150
    assert result.next_due == NOW + 4 * DAY
    state = read_state(cache)[url]
    assert state["source"]["etag"] == '"v1"'
    assert state["source"]["last_modified"] == LAST_MODIFIED
    assert state["version"] == "202701130520"
    assert state["list_date"] == "13 Jan 2027 05:20 UTC"
    assert state["rule_count"] == 150
    assert state["last_error"] is None
    assert subs.cached_paths([url], cache) == [result.path]
    assert not list(Path(cache).rglob("*.tmp"))


def test_list_not_due_is_not_fetched(server, cache):
    url = server.serve("/list.txt", make_list(), etag='"v1"')
    update_one(url, cache)
    result = update_one(url, cache, now=NOW + 4 * DAY - 1)
    assert result.outcome == subs.NOT_DUE and not result.changed
    assert result.path == subs.cache_path(url, cache) and result.rule_count == 150
    assert len(server.requests_for("/list.txt")) == 1


def test_expired_list_is_checked_conditionally_and_not_modified(server, cache):
    url = server.serve("/list.txt", make_list(), etag='"v1"', last_modified=LAST_MODIFIED)
    update_one(url, cache)
    before = Path(subs.cache_path(url, cache)).stat().st_mtime_ns
    result = update_one(url, cache, now=NOW + 4 * DAY)
    assert result.outcome == subs.NOT_MODIFIED and not result.changed
    assert result.next_due == NOW + 8 * DAY
    second = server.requests_for("/list.txt")[1]
    assert second.headers["if-none-match"] == '"v1"'
    assert second.headers["if-modified-since"] == LAST_MODIFIED
    assert Path(subs.cache_path(url, cache)).stat().st_mtime_ns == before
    state = read_state(cache)[url]
    assert state["last_update"] == subs._time_to_json(NOW)
    assert state["last_check"] == subs._time_to_json(NOW + 4 * DAY)


def test_last_modified_alone_is_used_as_validator(server, cache):
    url = server.serve("/list.txt", make_list(), last_modified=LAST_MODIFIED)
    update_one(url, cache)
    assert update_one(url, cache, now=NOW + 5 * DAY).outcome == subs.NOT_MODIFIED
    assert "if-none-match" not in server.requests_for("/list.txt")[1].headers


def test_same_body_without_validators_is_not_modified(server, cache):
    url = server.serve("/list.txt", make_list())
    update_one(url, cache)
    assert update_one(url, cache, now=NOW + 5 * DAY).outcome == subs.NOT_MODIFIED


@pytest.mark.parametrize(
    ("expires", "interval"),
    [("12 hours", 12 * HOUR), (None, subs.DEFAULT_INTERVAL), ("0 days", subs.MIN_INTERVAL), ("999 days", 14 * DAY)],
)
def test_next_due_follows_expires(server, cache, expires, interval):
    url = server.serve("/list.txt", make_list(expires=expires), etag='"v1"')
    assert update_one(url, cache).next_due == NOW + interval
    assert update_one(url, cache, now=NOW + interval - 1).outcome == subs.NOT_DUE
    assert update_one(url, cache, now=NOW + interval).outcome == subs.NOT_MODIFIED


def test_changed_list_replaces_the_copy(server, cache):
    url = server.serve("/list.txt", make_list(), etag='"v1"')
    update_one(url, cache)
    changed = make_list(160, version="202701170000", expires="12 hours")
    server.serve("/list.txt", changed, etag='"v2"')
    result = update_one(url, cache, now=NOW + 4 * DAY)
    assert result.outcome == subs.UPDATED and result.rule_count == 160
    assert Path(result.path).read_text() == changed
    state = read_state(cache)[url]
    assert state["source"]["etag"] == '"v2"' and state["version"] == "202701170000"
    assert result.next_due == NOW + 4 * DAY + 12 * HOUR


def test_force_downloads_unconditionally(server, cache):
    url = server.serve("/list.txt", make_list(), etag='"v1"')
    update_one(url, cache)
    result = update_one(url, cache, now=NOW + 60, force=True)
    assert result.outcome == subs.NOT_MODIFIED  # same bytes, fetched whole
    forced = server.requests_for("/list.txt")[1]
    assert "if-none-match" not in forced.headers


def test_gzip_body_is_unpacked(server, cache):
    text = make_list()
    url = server.serve("/list.txt", text, gzip=True)
    result = update_one(url, cache)
    assert result.outcome == subs.UPDATED
    assert server.requests_for("/list.txt")[0].headers["accept-encoding"] == "gzip"
    assert Path(result.path).read_text() == text


def test_hosts_list_is_accepted(server, cache):
    hosts = "# Title: hosts\n# Date: 17 January 2021\n127.0.0.1 localhost\n" + "".join(
        f"0.0.0.0 tracker{i}.example\n" for i in range(200)
    )
    result = update_one(server.serve("/hosts", hosts), cache)
    assert result.outcome == subs.UPDATED and result.rule_count == 200
    assert read_state(cache)[server.url("/hosts")]["list_date"] == "17 January 2021"


def test_right_checksum_is_accepted(server, cache):
    text = make_list()
    url = server.serve("/list.txt", with_checksum(text, subs.abp_checksum(text)))
    assert update_one(url, cache).outcome == subs.UPDATED


# --- refusals keep the last good copy ------------------------------------------------------------

GOOD = make_list()


def html_page(document):
    document.body = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Wi-Fi login</body></html>"
    document.content_type = "text/html"


def prose_page(document):
    document.body = b"Service Unavailable\nThe server is down for maintenance.\nPlease try again later.\n"


def wrong_checksum(document):
    document.body = with_checksum(make_list(151), "AAAAAAAAAAAAAAAAAAAAAA").encode()


def shrunk(document):
    document.body = make_list(40).encode()


def truncated(document):
    document.body = make_list(200).encode()
    document.truncate_to = len(document.body) // 3


def cut_chunked(document):
    document.body = make_list(200).encode()
    document.cut_chunked = True


def set_status(code):
    def change(document):
        document.status = code

    return change


def set_body(body):
    def change(document):
        document.body = body

    return change


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (set_status(500), "HTTP 500"),
        (set_status(404), "HTTP 404"),
        (truncated, "truncated body"),
        (cut_chunked, "truncated body"),
        (set_body(b""), "empty body"),
        (set_body(b"\n  \n"), "empty body"),
        (html_page, "HTML"),
        (set_body(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4), "binary"),
        (set_body("é".encode("latin-1") * 500), "binary"),
        (set_body(b"! only comments\n! nothing else\n"), "no rules"),
        (prose_page, "prose"),
        (wrong_checksum, "checksum mismatch"),
        (shrunk, "far fewer rules"),
    ],
)
def test_bad_download_keeps_the_last_good_copy(server, cache, break_it, reason):
    url = server.serve("/list.txt", GOOD, etag='"v1"')
    good = update_one(url, cache)
    server.documents["/list.txt"].etag = '"v2"'
    break_it(server.documents["/list.txt"])
    result = update_one(url, cache, now=NOW + 5 * DAY)
    assert result.outcome == subs.FAILED and not result.ok and not result.changed
    assert reason in result.error
    assert result.path == good.path and result.rule_count == 150
    assert Path(good.path).read_text() == GOOD
    assert subs.cached_paths([url], cache) == [good.path]
    state = read_state(cache)[url]
    assert reason in state["last_error"] and state["failures"] == 1
    assert state["source"]["etag"] == '"v1"' and state["rule_count"] == 150
    (listed,) = subs.status(cache, now=NOW + 5 * DAY).lists
    assert reason in listed.last_error and listed.path == good.path
    assert not list(Path(cache).rglob("*.tmp"))


@pytest.mark.parametrize(
    ("encoding", "reason"), [("gzip", "gzip stream is incomplete"), ("br", "unsupported Content-Encoding")]
)
def test_cut_or_unknown_compression_fails(server, cache, encoding, reason):
    # No Content-Length: only the unfinished gzip stream shows that the body was cut.
    packed = gzip.compress(make_list(300).encode())
    url = server.serve("/list.txt", packed[: len(packed) // 2], content_encoding=encoding, undeclared_length=True)
    result = update_one(url, cache)
    assert result.outcome == subs.FAILED and reason in result.error


def test_gzip_bomb_is_bounded(server, cache):
    url = server.serve("/bomb.txt", gzip.compress(b"||a.example^\n" * 200_000), content_encoding="gzip")
    result = update_one(url, cache, max_bytes=100_000)
    assert result.outcome == subs.FAILED and "once unpacked" in result.error


def test_too_large_and_too_slow_downloads_fail(server, cache):
    url = server.serve("/big.txt", make_list(2000))
    result = update_one(url, cache, max_bytes=10_000)
    assert result.outcome == subs.FAILED and "too large" in result.error
    slow = server.serve("/slow.txt", make_list(), delay=1.5)
    result = update_one(slow, cache, timeout=0.3)
    assert result.outcome == subs.FAILED and "timed out" in result.error


def test_unreachable_server_fails_and_backs_off(cache):
    with ListServer() as gone:
        url = gone.url("/list.txt")
    result = update_one(url, cache)
    assert result.outcome == subs.FAILED and "cannot fetch" in result.error
    assert result.path is None and subs.cached_paths([url], cache) == []
    assert result.next_due == NOW + subs.RETRY_DELAY
    assert update_one(url, cache, now=NOW + subs.RETRY_DELAY - 1).outcome == subs.NOT_DUE
    second = update_one(url, cache, now=NOW + subs.RETRY_DELAY)
    assert second.outcome == subs.FAILED
    assert second.next_due == NOW + subs.RETRY_DELAY + 2 * subs.RETRY_DELAY
    (listed,) = subs.status(cache).lists
    assert listed.path is None and "cannot fetch" in listed.last_error


def test_failure_then_success_clears_the_error(server, cache):
    url = server.serve("/list.txt", GOOD, status=503)
    assert update_one(url, cache).outcome == subs.FAILED
    server.documents["/list.txt"].status = 200
    result = update_one(url, cache, now=NOW + subs.RETRY_DELAY)
    assert result.outcome == subs.UPDATED
    state = read_state(cache)[url]
    assert state["last_error"] is None and state["failures"] == 0


def test_shrink_can_be_accepted_explicitly(server, cache):
    url = server.serve("/list.txt", GOOD, etag='"v1"')
    update_one(url, cache)
    server.serve("/list.txt", make_list(40), etag='"v2"')
    result = update_one(url, cache, now=NOW + 5 * DAY, allow_shrink=True)
    assert result.outcome == subs.UPDATED and result.rule_count == 40


def test_small_lists_may_shrink(server, cache):
    url = server.serve("/list.txt", make_list(20), etag='"v1"')
    update_one(url, cache)
    server.serve("/list.txt", make_list(5), etag='"v2"')
    assert update_one(url, cache, now=NOW + 5 * DAY).outcome == subs.UPDATED


def test_copy_removed_by_hand_is_fetched_again(server, cache):
    url = server.serve("/list.txt", GOOD, etag='"v1"')
    path = update_one(url, cache).path
    os.remove(path)
    result = update_one(url, cache, now=NOW + 60)
    assert result.outcome == subs.UPDATED and Path(path).read_text() == GOOD
    assert "if-none-match" not in server.requests_for("/list.txt")[1].headers


# --- includes --------------------------------------------------------------------------------------


def test_same_origin_include_is_inlined(server, cache):
    main = make_list(extra="!#include sub/extra.txt\n||after.example^\n")
    url = server.serve("/lists/main.txt", main, etag='"m1"')
    server.serve("/lists/sub/extra.txt", "! Title: extra\n||included.example^\n##.included-ad\n", etag='"e1"')
    result = update_one(url, cache)
    assert result.outcome == subs.UPDATED and result.warnings == ()
    assert result.rule_count == 150 + 1 + 2
    text = Path(result.path).read_text()
    assert "||included.example^" in text
    assert not [line for line in text.splitlines() if line.startswith("!#include")]
    assert text.index("||included.example^") < text.index("||after.example^")
    cached = read_list(result.path)
    assert cached.includes == [] and cached.rule_count == 153 and cached.title == "Test list"
    engine = Engine.from_lists(subs.cached_paths([url], cache))
    assert engine.check("https://included.example/x.js").blocked
    assert engine.check("https://ads7.example.com/").blocked
    state = read_state(cache)[url]
    assert [p["url"] for p in state["includes"]] == [server.url("/lists/sub/extra.txt")]


def test_other_origin_include_is_refused_and_reported(server, cache):
    with ListServer() as elsewhere:
        foreign = elsewhere.serve("/evil.txt", "@@||ads1.example.com^\n")
        url = server.serve("/main.txt", make_list(extra=f"!#include {foreign}\n"))
        result = update_one(url, cache)
        assert elsewhere.requests == []
    assert result.outcome == subs.UPDATED and result.rule_count == 150
    (warning,) = result.warnings
    assert "refused" in warning and foreign in warning and "origin" in warning
    text = Path(result.path).read_text()
    assert f"! dejunk: refused !#include {foreign}" in text
    assert read_list(result.path).includes == []
    (listed,) = subs.status(cache).lists
    assert listed.warnings == result.warnings
    # The refusal is reported again after a not-modified check: the raw list was kept for it.
    again = update_one(url, cache, now=NOW + 5 * DAY)
    assert again.outcome == subs.NOT_MODIFIED and again.warnings == result.warnings


def test_failing_include_fails_the_update_and_keeps_the_copy(server, cache):
    url = server.serve("/main.txt", make_list(extra="!#include extra.txt\n"), etag='"m1"')
    server.serve("/extra.txt", "||included.example^\n", etag='"e1"')
    good = update_one(url, cache)
    before = Path(good.path).read_text()
    server.documents["/extra.txt"].status = 404
    server.serve("/main.txt", make_list(extra="!#include extra.txt\n||new.example^\n"), etag='"m2"')
    result = update_one(url, cache, now=NOW + 5 * DAY)
    assert result.outcome == subs.FAILED
    assert result.error.startswith("!#include extra.txt: HTTP 404")
    assert Path(good.path).read_text() == before


def test_changed_include_is_refreshed_when_the_list_is_not_modified(server, cache):
    url = server.serve("/main.txt", make_list(extra="!#include extra.txt\n"), etag='"m1"')
    server.serve("/extra.txt", "||included.example^\n", etag='"e1"')
    update_one(url, cache)
    server.serve("/extra.txt", "||included.example^\n||also-included.example^\n", etag='"e2"')
    result = update_one(url, cache, now=NOW + 5 * DAY)
    assert result.outcome == subs.UPDATED and result.rule_count == 152
    assert "||also-included.example^" in Path(result.path).read_text()
    assert server.requests_for("/main.txt")[1].headers["if-none-match"] == '"m1"'
    assert server.requests_for("/extra.txt")[1].headers["if-none-match"] == '"e1"'
    # Nothing changed at all: both answer 304.
    assert update_one(url, cache, now=NOW + 10 * DAY).outcome == subs.NOT_MODIFIED


def test_nested_cyclic_and_conditional_includes(server, cache):
    main = make_list(extra="!#include a.txt\n!#if env_firefox\n!#include never.txt\n!#endif\n||tail.example^\n")
    url = server.serve("/main.txt", main)
    server.serve("/a.txt", "||a.example^\n!#include b.txt\n")
    server.serve("/b.txt", "||b.example^\n!#include a.txt\n!#if cap_html_filtering\n")
    server.serve("/never.txt", "||never.example^\n")
    result = update_one(url, cache)
    assert result.outcome == subs.UPDATED
    assert server.requests_for("/never.txt") == []
    assert any("includes itself" in w for w in result.warnings)
    cached = read_list(result.path)
    rules = {text for _, text in cached.network}
    assert {"||a.example^", "||b.example^", "||tail.example^"} <= rules
    assert "||never.example^" not in rules
    # b.txt's unclosed `!#if` is closed where b.txt ends, so it cannot swallow the includer's rules.
    assert not cached.bad


def test_include_without_validators_and_list_without_includes_afterwards(server, cache):
    url = server.serve("/main.txt", make_list(extra="!#include extra.txt\n"), etag='"m1"')
    server.serve("/extra.txt", "||included.example^\n")
    first = update_one(url, cache)
    parts = Path(first.path).parent / "parts"
    assert len(list(parts.iterdir())) == 2
    server.serve("/main.txt", make_list(151), etag='"m2"')
    result = update_one(url, cache, now=NOW + 5 * DAY)
    assert result.outcome == subs.UPDATED and result.rule_count == 151
    assert list(parts.iterdir()) == []
    assert read_state(cache)[url]["source"]["file"] == read_state(cache)[url]["file"]


# --- state, status and refresh ----------------------------------------------------------------------


def test_refresh_due_fetches_only_due_lists(server, cache):
    a = server.serve("/a.txt", make_list(expires="12 hours"), etag='"a"')
    b = server.serve("/b.txt", make_list(prefix="b"), etag='"b"')
    first = subs.refresh_due([a, b], cache, now=NOW)
    assert [r.outcome for r in first] == [subs.UPDATED, subs.UPDATED]
    later = subs.refresh_due([a, b], cache, now=NOW + 13 * HOUR)
    assert [r.outcome for r in later] == [subs.NOT_MODIFIED, subs.NOT_DUE]
    assert len(server.requests_for("/b.txt")) == 1
    assert subs.cached_paths([a, "not a url", b, a], cache) == [subs.cache_path(a, cache), subs.cache_path(b, cache)]


def test_status_reports_each_list(server, cache):
    a = server.serve("/a.txt", make_list(expires="12 hours"), etag='"a"')
    never = server.url("/missing.txt")
    subs.update([a], cache, now=NOW)
    report = subs.status(cache, now=NOW + HOUR)
    assert report.problem is None and report.cache_dir == cache
    (listed,) = report.lists
    assert listed.url == a and listed.title == "Test list" and listed.version == "202701130520"
    assert listed.list_date == "13 Jan 2027 05:20 UTC" and listed.expires == "12 hours"
    assert listed.rule_count == 150 and listed.last_update == NOW and listed.last_attempt == NOW
    assert listed.next_due == NOW + 12 * HOUR and not listed.due and listed.last_error is None
    assert listed.path == subs.cache_path(a, cache)
    subscribed = subs.status(cache, [never, a], now=NOW + 13 * HOUR).lists
    assert [s.url for s in subscribed] == [never, a]
    assert subscribed[0].path is None and subscribed[0].due and subscribed[0].rule_count is None
    assert subscribed[1].due


def test_unreadable_state_is_reported_and_replaced(server, cache):
    url = server.serve("/a.txt", GOOD, etag='"a"')
    os.makedirs(cache)
    Path(cache, subs.STATE_FILE).write_text("{ not json")
    assert "state.json" in subs.status(cache).problem
    result = update_one(url, cache)
    assert result.outcome == subs.UPDATED
    assert any("unreadable" in w for w in result.warnings)
    assert subs.status(cache).problem is None and read_state(cache)[url]["rule_count"] == 150


def test_state_entry_pointing_outside_the_cache_is_ignored(server, cache, tmp_path):
    url = server.serve("/a.txt", GOOD, etag='"a"')
    update_one(url, cache)
    document = json.loads(Path(cache, subs.STATE_FILE).read_text())
    document["lists"][url]["source"]["file"] = "../../outside.txt"
    Path(cache, subs.STATE_FILE).write_text(json.dumps(document))
    assert subs.status(cache).lists == ()
    result = update_one(url, cache, now=NOW + 60)  # the entry is gone, so the list is due again
    assert result.outcome == subs.NOT_MODIFIED
    assert "if-none-match" not in server.requests_for("/a.txt")[1].headers
    assert not (tmp_path / "outside.txt").exists()


def test_concurrent_updates_of_different_lists_keep_both_entries(server, cache):
    urls = [server.serve(f"/l{i}.txt", make_list(prefix=f"l{i}-"), etag=f'"{i}"') for i in range(6)]
    results: list[subs.UpdateResult] = []

    def worker(url):
        results.extend(subs.update([url], cache, now=NOW, timeout=5.0))

    threads = [threading.Thread(target=worker, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(not thread.is_alive() for thread in threads)
    assert sorted(r.outcome for r in results) == [subs.UPDATED] * 6
    assert sorted(read_state(cache)) == sorted(urls)


def test_describe_names_the_outcome_and_reason(server, cache):
    url = server.serve("/a.txt", GOOD, status=500)
    result = update_one(url, cache)
    assert result.describe() == f"{url}: failed: HTTP 500 Internal Server Error"
    server.documents["/a.txt"].status = 200
    assert update_one(url, cache, force=True).describe() == f"{url}: updated (150 rules)"
