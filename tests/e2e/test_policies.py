"""The seed's host policies (connect, image, cookie) and the allow list, through a real mitmdump."""

from __future__ import annotations

import json

import pytest

from filters.proxy.pages import TRANSPARENT_GIF
from .origin import PNG

from .harness import Proxy, fetch


@pytest.mark.parametrize("host,pattern", [("forbidden.test", "forbidden.test"), ("www.forbidden.test", "*.forbidden.test")])
def test_connect_policy_rejects_without_contacting_the_host(proxy, origin, host, pattern):
    before = len(origin.seen)
    result = fetch(proxy, f"http://{host}:{origin.port}/page.html")
    assert result.status == 403
    assert "the connect policy rejects it" in result.text() and pattern in result.text()
    assert len(origin.seen) == before
    proxy.wait_for_event(lambda e: e == {**e, "event": "policy", "policy": "connect", "host": host, "pattern": pattern})


def test_connect_policy_applies_inside_https(proxy, tls_origin):
    result = fetch(proxy, f"https://forbidden.test:{tls_origin.port}/page.html", http2=True)
    assert result.status == 403 and "connect policy" in result.text()
    assert not [s for s in tls_origin.seen if s.host.startswith("forbidden.test")]


def test_image_policy_replaces_images_with_a_gif(proxy, origin):
    result = fetch(proxy, f"http://noimages.test:{origin.port}/photo.png")
    assert result.status == 200
    assert result.headers["content-type"] == "image/gif"
    assert result.body == TRANSPARENT_GIF
    assert result.headers["content-length"] == str(len(TRANSPARENT_GIF))
    assert "set-cookie" not in result.headers  # the cookie policy's default is reject
    proxy.wait_for_event(lambda e: e["event"] == "policy" and e["policy"] == "image" and e["host"] == "noimages.test")


def test_image_policy_accepts_listed_hosts(proxy, origin):
    result = fetch(proxy, f"http://www.good.test:{origin.port}/photo.png")
    assert result.body == PNG and result.headers["content-type"] == "image/png"


def test_image_policy_leaves_non_images_alone(proxy, origin):
    result = fetch(proxy, f"http://noimages.test:{origin.port}/page.html")
    assert b"The article text that must survive." in result.body


def test_cookie_policy_strips_cookies_both_ways(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/echo", headers={"Cookie": "id=42"})
    echoed = json.loads(result.body)
    assert "cookie" not in echoed["headers"]
    assert "set-cookie" not in result.headers
    proxy.wait_for_event(lambda e: e["event"] == "policy" and e["policy"] == "cookie" and e["host"] == "site.test")


def test_cookie_policy_accepts_good_hosts(proxy, origin):
    result = fetch(proxy, f"http://good.test:{origin.port}/echo", headers={"Cookie": "id=42"})
    assert json.loads(result.body)["headers"]["cookie"] == "id=42"
    assert result.headers["set-cookie"].startswith("echo=1")


@pytest.fixture(scope="module")
def allowing_proxy(workdir, test_list):
    instance = Proxy(workdir, name="allowing", options={"dejunk_lists": [test_list], "dejunk_allow": ["friendly.test"]})
    yield instance
    instance.stop()


def test_allowed_site_and_the_requests_its_pages_make_pass_untouched(allowing_proxy, origin):
    page = fetch(allowing_proxy, f"http://www.friendly.test:{origin.port}/page.html", headers={"Sec-Fetch-Dest": "document"})
    assert page.status == 200
    ad = fetch(
        allowing_proxy,
        f"http://ads.test:{origin.port}/ad.js",
        headers={"Sec-Fetch-Dest": "script", "Referer": f"http://www.friendly.test:{origin.port}/page.html"},
    )
    assert ad.status == 200 and ad.body == b"window.adLoaded = true;"
    elsewhere = fetch(
        allowing_proxy,
        f"http://ads.test:{origin.port}/ad.js",
        headers={"Sec-Fetch-Dest": "script", "Referer": f"http://other.test:{origin.port}/"},
    )
    assert elsewhere.status == 403
