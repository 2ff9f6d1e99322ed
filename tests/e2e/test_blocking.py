"""Blocked requests through a real mitmdump: what each kind of request gets, and that upstream never sees it."""

from __future__ import annotations

import html
import json

from filters.proxy.pages import TRANSPARENT_GIF

from .harness import fetch


def test_allowed_page_passes_unchanged(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/page.html")
    assert result.status == 200
    assert b"The article text that must survive." in result.body
    assert "x-dejunk" not in result.headers


def test_blocked_document_gets_a_403_page_naming_url_rule_and_list(proxy, origin, test_list):
    url = f"http://ads.test:{origin.port}/landing?x=<script>"
    before = len(origin.seen)
    result = fetch(proxy, url, headers={"Sec-Fetch-Dest": "document"})
    assert result.status == 403
    assert result.headers["content-type"].startswith("text/html")
    page = result.text()
    assert "<title>Blocked</title>" in page
    assert html.escape(url) in page and "<script>" not in page.split("<body>")[1]
    assert "||ads.test^" in page and "test-list.txt:3" in page
    assert result.headers["x-dejunk"] == "blocked; rule=||ads.test^"
    assert len(origin.seen) == before, "a blocked request must not reach the upstream"
    event = proxy.wait_for_event(lambda e: e["event"] == "blocked" and e["url"] == url)
    assert event["rule"] == "||ads.test^" and event["list"] == "test-list.txt" and event["line"] == 3
    assert event["type"] == "document" and event["host"] == "ads.test"


def test_blocked_image_gets_a_transparent_gif(proxy, origin):
    result = fetch(proxy, f"http://ads.test:{origin.port}/banner.png", headers={"Sec-Fetch-Dest": "image"})
    assert result.status == 200
    assert result.headers["content-type"] == "image/gif"
    assert result.body == TRANSPARENT_GIF
    assert result.headers["x-dejunk"].startswith("blocked")


def test_image_type_comes_from_accept_then_extension(proxy, origin):
    by_accept = fetch(proxy, f"http://ads.test:{origin.port}/pixel", headers={"Accept": "image/avif,image/webp,*/*"})
    by_extension = fetch(proxy, f"http://ads.test:{origin.port}/pixel.gif")
    assert by_accept.body == TRANSPARENT_GIF and by_extension.body == TRANSPARENT_GIF


def test_blocked_iframe_gets_an_empty_page(proxy, origin):
    result = fetch(proxy, f"http://ads.test:{origin.port}/frame.html", headers={"Sec-Fetch-Dest": "iframe"})
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/html")
    assert b"<body></body>" in result.body


def test_blocked_script_gets_an_empty_403(proxy, origin):
    result = fetch(proxy, f"http://tracker.test:{origin.port}/t.js", headers={"Sec-Fetch-Dest": "script"})
    assert result.status == 403
    assert result.body == b""
    assert result.headers["x-dejunk"] == "blocked; rule=||tracker.test^"


def test_exception_rule_lets_a_request_through(proxy, origin):
    result = fetch(proxy, f"http://allowed.ads.test:{origin.port}/thing.js", headers={"Sec-Fetch-Dest": "script"})
    assert result.status == 200
    assert result.body == b"window.adLoaded = true;"


def test_https_and_http2_blocks_are_answered_inside_the_tunnel(proxy, tls_origin):
    for http2 in (False, True):
        result = fetch(proxy, f"https://ads.test:{tls_origin.port}/x", headers={"Sec-Fetch-Dest": "document"}, http2=http2)
        assert result.status == 403, result
        assert "<title>Blocked</title>" in result.text()
        assert result.http_version == ("2" if http2 else "1.1")
    assert not tls_origin.requests_to("/x")


def test_https_allowed_page_passes(proxy, tls_origin):
    result = fetch(proxy, f"https://site.test:{tls_origin.port}/page.html", http2=True)
    assert result.status == 200
    assert b"The article text that must survive." in result.body


def test_redirect_rule_serves_a_neutered_script(proxy, origin):
    result = fetch(proxy, f"http://ads.test:{origin.port}/adlib/loader.js", headers={"Sec-Fetch-Dest": "script"})
    assert result.status == 200
    assert result.headers["content-type"].startswith("application/javascript")
    assert result.headers["x-dejunk"].startswith("redirected to noop.js")
    assert b"adLoaded" not in result.body
    event = proxy.wait_for_event(lambda e: e["event"] == "blocked" and e["url"].endswith("/adlib/loader.js"))
    assert event["redirect"] == "noop.js"


def test_removeparam_strips_tracking_parameters_before_upstream(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/echo?id=1&utm_source=newsletter")
    echoed = json.loads(result.body)
    assert echoed["target"] == "/echo?id=1"
    proxy.wait_for_event(lambda e: e["event"] == "removeparam" and e["new_url"].endswith("/echo?id=1"))


def test_csp_rule_adds_a_policy_to_the_page(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/strict/page.html", headers={"Sec-Fetch-Dest": "document"})
    assert result.status == 200
    assert result.headers["content-security-policy"] == "script-src 'none'"
    plain = fetch(proxy, f"http://site.test:{origin.port}/page.html", headers={"Sec-Fetch-Dest": "document"})
    assert "content-security-policy" not in plain.headers
