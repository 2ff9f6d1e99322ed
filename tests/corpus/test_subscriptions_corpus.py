"""Real lists from the corpus through the subscription cache: none of them may look implausible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from filters.lists import subscriptions as subs
from filters.lists.syntax import read_list
from tests.list_server import ListServer

pytestmark = pytest.mark.corpus

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("name", "interval"),
    [
        ("easylist.txt", 4 * subs.DAY),
        ("easyprivacy.txt", 4 * subs.DAY),
        ("hosts.txt", subs.DEFAULT_INTERVAL),
    ],
)
def test_real_list_is_accepted_and_cached_unchanged(corpus, tmp_path, name, interval):
    data = (corpus / "lists" / name).read_bytes()
    with ListServer() as server:
        url = server.serve(f"/{name}", data, etag='"1"', gzip=True)
        result = subs.update([url], str(tmp_path), now=NOW)[0]
        assert result.outcome == subs.UPDATED, result.error
        assert result.next_due == NOW + interval
        assert Path(result.path).read_bytes() == data
        assert result.rule_count == read_list(str(corpus / "lists" / name)).rule_count
        again = subs.update([url], str(tmp_path), now=NOW + interval)[0]
        assert again.outcome == subs.NOT_MODIFIED


def test_ublock_filters_with_its_includes(corpus, tmp_path):
    text = (corpus / "lists" / "ublock-filters.txt").read_text(encoding="utf-8")
    named = re.findall(r"^!#include (\S+)$", text, re.MULTILINE)
    assert "filters-mobile.txt" in named and len(named) >= 5
    with ListServer() as server:
        url = server.serve("/filters/filters.txt", text, etag='"main"')
        for index, include in enumerate(named):
            server.serve(f"/filters/{include}", f"! Title: {include}\n||included-{index}.example^\n", etag=f'"{index}"')
        result = subs.update([url], str(tmp_path), now=NOW)[0]
        assert result.outcome == subs.UPDATED, result.error
        # filters-mobile.txt sits inside `!#if env_mobile`, which is false for a proxy.
        assert server.requests_for("/filters/filters-mobile.txt") == []
        fetched = [name for name in named if server.requests_for(f"/filters/{name}")]
        assert fetched == [name for name in named if name != "filters-mobile.txt"]
        assert result.next_due == NOW + 5 * subs.DAY
    cached = read_list(result.path)
    hosts = {line for _, line in cached.network}
    assert {f"||included-{named.index(name)}.example^" for name in fetched} <= hosts
    assert cached.includes == [] and cached.title == "uBlock filters"
    assert result.rule_count == read_list(str(corpus / "lists" / "ublock-filters.txt")).rule_count + len(fetched)
