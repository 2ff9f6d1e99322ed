"""Hostile but legal requests and a failure inside dejunk: the proxy neither hangs nor changes flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import Proxy, fetch

URLS = {
    "hash-like path": "/_ylh=X3oDMTEwdnZjMjFhBF9TAzI3MTYxNDkEdGVzdAMwBHRtcG" * 20 + "/echo",
    "8 KB query": "/echo?q=" + "a1b2c3d4" * 1024,
    "percent-encoded": "/echo?u=https%3A%2F%2Fexample.com%2F%3Fa%3D1%26b%3D%E2%9C%93&x=%00%ff",
    "semicolon parameters": "/echo;jsessionid=0123ABCD;v=2?a=1;b=2",
}


@pytest.mark.parametrize("path", URLS.values(), ids=URLS.keys())
def test_awkward_urls_pass_through(proxy, origin, path):
    result = fetch(proxy, f"http://site.test:{origin.port}{path}", max_time=10)
    assert result.status == 200
    assert json.loads(result.body)["target"] == path
    assert not [e for e in proxy.events() if e["event"] == "addon_error"]


def test_idn_host(proxy, origin):
    result = fetch(proxy, f"http://bücher.test:{origin.port}/echo", max_time=10)
    assert result.status == 200
    assert json.loads(result.body)["headers"]["host"] == f"xn--bcher-kva.test:{origin.port}"


def test_idn_host_can_be_blocked(proxy, origin):
    result = fetch(proxy, f"http://werbung.ads.test:{origin.port}/x.js", max_time=10)
    assert result.status == 403


@pytest.fixture(scope="module")
def broken_proxy(workdir, test_list):
    instance = Proxy(workdir, name="broken", options={"dejunk_lists": [test_list]},
                     scripts=[Path(__file__).with_name("break_engine.py")])
    yield instance
    instance.stop()


def test_a_failure_inside_dejunk_lets_the_flow_continue_unfiltered(broken_proxy, origin):
    for _ in range(3):
        result = fetch(broken_proxy, f"http://ads.test:{origin.port}/explode.js")
        # dejunk failed before deciding: the request goes on as if dejunk were absent.
        assert result.status == 200 and result.body == b"window.adLoaded = true;"
    errors = [e for e in broken_proxy.events() if e["event"] == "addon_error"]
    assert len(errors) == 3 and errors[0]["where"] == "request"
    assert "engine exploded" in errors[0]["message"]
    log = broken_proxy.log()
    assert log.count("dejunk: error in request (RuntimeError: engine exploded (test fault))") == 1, log
    assert "that flow passed through unfiltered; further failures like it are counted" in log
    normal = fetch(broken_proxy, f"http://ads.test:{origin.port}/ad.js")
    assert normal.status == 403
