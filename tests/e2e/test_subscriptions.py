"""Subscriptions in a real mitmdump: the built-in list stands in, then the list arrives in the background."""

from __future__ import annotations

import time

from ..list_server import ListServer
from .harness import Proxy, fetch

LIST = "[Adblock Plus 2.0]\n! Title: subscribed test list\n! Expires: 1 day\n||ads.test^\n" + "".join(
    f"||filler{i}.test^\n" for i in range(20)
)


def blocked(proxy, url) -> bool:
    return fetch(proxy, url, headers={"Sec-Fetch-Dest": "script"}).status == 403


def test_first_start_without_a_copy_uses_builtin_then_swaps_in_the_download(tmp_path, origin):
    with ListServer() as server:
        url = server.serve("/list.txt", LIST, delay=1.0)
        proxy = Proxy(tmp_path, options={"dejunk_lists": [url], "dejunk_cache": tmp_path / "cache"})
        try:
            assert "using the built-in list until the subscriptions arrive" in proxy.log()
            assert blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not blocked(proxy, f"http://ads.test:{origin.port}/ad.js"):
                time.sleep(0.2)
            assert blocked(proxy, f"http://ads.test:{origin.port}/ad.js"), proxy.log()
            assert "lists updated, new filters in use" in proxy.log()
            # The subscription replaced the stand-in.
            assert not blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
        finally:
            proxy.stop()
        # A second start reads the cached copy at once, without waiting for the network.
        server.documents.clear()
        again = Proxy(tmp_path, name="again", options={"dejunk_lists": [url], "dejunk_cache": tmp_path / "cache"})
        try:
            assert blocked(again, f"http://ads.test:{origin.port}/ad.js")
            assert "built-in list until" not in again.log()
        finally:
            again.stop()


def test_no_network_and_no_cache_still_blocks_with_the_builtin_list(tmp_path, origin):
    url = "http://127.0.0.1:9/unreachable-list.txt"
    proxy = Proxy(tmp_path, options={"dejunk_lists": [url], "dejunk_cache": tmp_path / "cache"})
    try:
        assert blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "unreachable-list.txt: failed" not in proxy.log():
            time.sleep(0.1)
        assert "unreachable-list.txt: failed" in proxy.log()
        assert blocked(proxy, f"http://www.doubleclick.net:{origin.port}/ad.js")
    finally:
        proxy.stop()
