"""The default list set in a real mitmdump, its lists served by a loopback mirror; and the user's own filters.

A fresh start filters at once with the built-in list and fetches the `default` set in the
background (from DEJUNK_LIST_MIRROR, standing in for the list hosts), saying so in the log; the
new filters take over when they arrive; a second start uses the cache at once; a start with the
mirror down filters with the built-in list and warns once. Edits of the user's filters file take
effect while the proxy runs.
"""

from __future__ import annotations

import re
import time
import urllib.parse

from filters.lists import sets
from filters.lists.listset import MYFILTERS_HEADER

from ..list_server import ListServer
from .harness import Proxy, fetch
from tests.waiting import wait_until as _wait_until


def wait_until(condition, timeout: float):
    return _wait_until(condition, timeout, 0.2)

FETCH_ON = {sets.FETCH_ENV: "1"}


def standin(name: str, url: str) -> tuple[str, str]:
    """The mirror's path for a list URL, and a small list in that list's format blocking standin-NAME.test."""
    parts = urllib.parse.urlsplit(url)
    path = f"/{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    if name == "plowe-0":
        return path, f"# Peter Lowe stand-in\n127.0.0.1 standin-{name}.test\n127.0.0.1 other-{name}.test\n"
    return path, f"! Title: {name} stand-in\n! Expires: 4 days\n||standin-{name}.test^\n||other-{name}.test^\n"


def serve_default_set(server: ListServer, delay_first: float) -> None:
    for i, name in enumerate(sets.SETS[sets.DEFAULT_SET]):
        path, text = standin(name, sets.KNOWN_LISTS[name].url)
        server.serve(path, text, delay=delay_first if i == 0 else 0.0)


def blocked(proxy, url) -> bool:
    return fetch(proxy, url, headers={"Sec-Fetch-Dest": "script"}).status == 403




def test_first_start_fetches_the_default_set_in_the_background_then_uses_the_cache(tmp_path, origin):
    easyprivacy = f"http://standin-easyprivacy.test:{origin.port}/t.js"
    hosts_entry = f"http://standin-plowe-0.test:{origin.port}/t.js"
    with ListServer() as server:
        serve_default_set(server, delay_first=3.0)
        environ = {**FETCH_ON, sets.MIRROR_ENV: server.url("")}
        # No dejunk_lists: the default, `default`.
        proxy = Proxy(tmp_path, environ=environ)
        try:
            # At once: the built-in list filters, the set is still on its way.
            assert not blocked(proxy, easyprivacy), proxy.log()
            assert blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
            assert "fetching 9 lists in the background" in proxy.log()
            assert wait_until(lambda: "new filters in use" in proxy.log(), 60), proxy.log()
            assert blocked(proxy, easyprivacy) and blocked(proxy, hosts_entry)
            log = proxy.log()
            for name in sets.SETS[sets.DEFAULT_SET]:
                assert log.count(f"list {sets.KNOWN_LISTS[name].url}: updated (2 rules)") == 1, (name, log)
            assert "dejunk: lists updated, new filters in use: " in log and "from 10 lists" in log  # 9 and my filters
            # Every download went to the mirror, one request per list.
            assert len(server.requests) == 9
        finally:
            proxy.stop()
    # A second start, the mirror gone: the cached copies filter at once, from the compiled-engine cache.
    compiled = tmp_path / "xdg-cache" / "dejunk" / "lists" / "compiled"
    engines_before = sorted(compiled.glob("engine-*.pickle"))
    again = Proxy(tmp_path, name="again", environ={**FETCH_ON, sets.MIRROR_ENV: "http://127.0.0.1:9"})
    try:
        assert blocked(again, easyprivacy) and blocked(again, hosts_entry)
        assert "using the built-in list until" not in again.log()
        assert "fetching" not in again.log() and "cannot fetch" not in again.log()
        assert sorted(compiled.glob("engine-*.pickle")) == engines_before  # loaded, not built anew
    finally:
        again.stop()


def test_with_the_mirror_down_the_builtin_list_filters_and_it_is_said_once(tmp_path, origin):
    proxy = Proxy(tmp_path, environ={**FETCH_ON, sets.MIRROR_ENV: "http://127.0.0.1:9"},
                  options={"dejunk_lists": ["default", "builtin"]})
    try:
        assert blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
        assert wait_until(lambda: "cannot fetch" in proxy.log(), 30), proxy.log()
        time.sleep(1)
        log = proxy.log()
        [warning] = [line for line in log.splitlines() if "cannot fetch" in line]
        assert "cannot fetch 9 of 9 subscribed lists" in warning and "from the mirror http://127.0.0.1:9/" in warning
        assert re.search(r"next try in [1-6]?\d s, then less and less often", warning), warning  # about a minute
        assert blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
    finally:
        proxy.stop()


def test_in_the_test_suite_the_default_set_is_not_fetched(tmp_path, origin):
    with ListServer() as server:
        serve_default_set(server, delay_first=0.0)
        proxy = Proxy(tmp_path, environ={sets.MIRROR_ENV: server.url("")})  # the switch stays 0
        try:
            assert blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
            time.sleep(1)
            assert server.requests == []
            assert proxy.log().count("dejunk: not fetched: ") == 9
        finally:
            proxy.stop()


def test_an_edit_of_my_filters_blocks_within_seconds(tmp_path, origin):
    proxy = Proxy(tmp_path, options={"dejunk_lists": ["builtin"]})
    mine = tmp_path / "xdg-data" / "dejunk" / "my-filters.txt"
    url = f"http://mine.test:{origin.port}/x.js"
    try:
        assert mine.read_text().startswith("! Title: My filters")
        assert not blocked(proxy, url)
        with mine.open("a") as f:
            f.write("||mine.test^\n||mine.test^$nosuchoption\n")
        assert wait_until(lambda: blocked(proxy, url), 20), proxy.log()
        assert wait_until(lambda: f"my filters changed ({mine}), new filters in use" in proxy.log(), 10), proxy.log()
        bad_line = len(MYFILTERS_HEADER.splitlines()) + 2
        assert f"dejunk: my filters: my-filters.txt:{bad_line}: unknown option $nosuchoption" in proxy.log()
    finally:
        proxy.stop()
