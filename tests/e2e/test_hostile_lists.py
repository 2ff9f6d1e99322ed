"""A real mitmdump given hostile list lines: it starts, filters with the rest, and shows them escaped."""

from __future__ import annotations

import time

import pytest

from ..list_server import ListServer
from .harness import Proxy, fetch

DEEP_DESCENDANTS = "##" + " ".join(["div"] * 1000)
DEEP_CHILDREN = "example.com##" + " > ".join(["div"] * 1000)
DEEP_HAS = "##" + "div:has(" * 200 + "a" + ")" * 200
ESCAPES = "##.ad\x1b[2J\x1b[31mCLEARED\x1b[0m\u202eevil\x07"  # a bad selector: terminal escapes, a bidi override
HOSTILE = "\n".join(["||ads.test^", DEEP_DESCENDANTS, DEEP_CHILDREN, DEEP_HAS, ESCAPES, "##.banner", ""])


def blocked(proxy, url) -> bool:
    return fetch(proxy, url, headers={"Sec-Fetch-Dest": "script"}).status == 403


def raw_controls(text: str) -> list[str]:
    return sorted({c for c in text if (ord(c) < 32 and c not in "\n\t") or c in "\x7f\u202e\x07"})


@pytest.fixture(scope="module")
def hostile_proxy(workdir, origin):
    """dejunk started with a local list holding the hostile lines; it must start all the same."""
    path = workdir / "hostile.txt"
    path.write_text(HOSTILE, encoding="utf-8")
    proxy = Proxy(workdir, options={"dejunk_lists": [path]})
    yield proxy
    proxy.stop()


def test_a_local_list_with_over_deep_selectors_starts_and_reports_each_line(hostile_proxy, origin):
    assert blocked(hostile_proxy, f"http://ads.test:{origin.port}/x.js")
    log = hostile_proxy.log()
    for line in (2, 3, 4):
        assert f"hostile.txt:{line}: selector " in log, log
    assert "bad cosmetic rule 4" in log


def test_terminal_escapes_in_list_lines_reach_the_log_as_escapes(hostile_proxy, origin):
    assert blocked(hostile_proxy, f"http://ads.test:{origin.port}/x.js")
    log = hostile_proxy.log()
    assert "hostile.txt:5:" in log
    assert "\\x1b[2J\\x1b[31mCLEARED\\x1b[0m\\u202eevil\\x07" in log
    assert raw_controls(log) == [], [hex(ord(c)) for c in raw_controls(log)]


def test_a_subscribed_list_with_over_deep_selectors_cannot_stop_later_starts(tmp_path, origin):
    with ListServer() as server:
        url = server.serve("/hostile.txt", "[Adblock Plus 2.0]\n! Title: hostile\n" + HOSTILE)
        options = {"dejunk_lists": [url], "dejunk_cache": tmp_path / "cache"}
        proxy = Proxy(tmp_path, options=options)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not blocked(proxy, f"http://ads.test:{origin.port}/x.js"):
                time.sleep(0.2)
            assert blocked(proxy, f"http://ads.test:{origin.port}/x.js"), proxy.log()
        finally:
            proxy.stop()
    # The next start reads the cached copy, hostile lines included, and still starts.
    again = Proxy(tmp_path, name="again", options=options)
    try:
        assert blocked(again, f"http://ads.test:{origin.port}/x.js")
        assert "selector chains more than 256 compound selectors" in again.log()
    finally:
        again.stop()
