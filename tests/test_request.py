"""The request model: types from headers, source pages, hosts and parties."""

from __future__ import annotations

import pytest

from filters.request import (
    RESOURCE_TYPES,
    TYPE_ALIASES,
    Request,
    host_of,
    infer_type,
    is_ip_address,
    is_third_party,
    normalize_host,
    normalize_type,
    public_suffix,
    registrable_domain,
    source_from_headers,
    type_by_name,
    type_from_extension,
    type_from_headers,
    urlsplit_safe,
)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("script", "script"),
        ("XHR", "xmlhttprequest"),
        ("fetch", "xmlhttprequest"),
        ("sub_frame", "subdocument"),
        ("main_frame", "document"),
        ("beacon", "ping"),
        ("imageset", "image"),
        (None, "other"),
        ("", "other"),
        ("nonsense", "other"),
    ],
)
def test_normalize_type(name, expected):
    assert normalize_type(name) == expected


class TestTypeFromHeaders:
    def test_sec_fetch_dest_first(self):
        assert type_from_headers("https://x/a.png", sec_fetch_dest="script", accept="image/*") == "script"
        assert type_from_headers("https://x/", sec_fetch_dest="iframe") == "subdocument"
        assert type_from_headers("https://x/", sec_fetch_dest="empty") == "xmlhttprequest"

    def test_then_accept(self):
        assert type_from_headers("https://x/a", accept="text/html,application/xhtml+xml") == "document"
        assert type_from_headers("https://x/a", accept="image/avif,image/webp,*/*") == "image"
        assert type_from_headers("https://x/a", accept="text/css,*/*;q=0.1") == "stylesheet"

    def test_then_extension(self):
        assert type_from_headers("https://x/a.js?v=1", accept="*/*") == "script"
        assert type_from_extension("https://x/a.woff2") == "font"
        assert type_from_extension("https://x/a") == "other"

    def test_websocket_upgrade(self):
        assert type_from_headers("https://x/ws", upgrade="websocket") == "websocket"

    def test_unknown_dest_falls_through(self):
        assert type_from_headers("https://x/a.css", sec_fetch_dest="nonsense") == "stylesheet"


def test_source_from_headers():
    assert source_from_headers("https://x/", "document", referer="https://y/") == "https://x/"
    assert source_from_headers("https://x/a.js", "script", referer="https://y/") == "https://y/"
    assert source_from_headers("https://x/a.js", "script", origin="https://z") == "https://z"
    assert source_from_headers("https://x/a.js", "script", origin="null") is None


class TestHosts:
    def test_host_of(self):
        assert host_of("https://User@WWW.Example.COM:8080/x") == "www.example.com"
        assert host_of("https://bücher.example/") == "xn--bcher-kva.example"
        assert host_of("http://[::1]:80/") == "::1"
        assert host_of("https://example.com./") == "example.com"
        assert host_of("not a url") == ""
        assert host_of("http://[::1/") == ""

    def test_normalize_host(self):
        assert normalize_host("[::1]") == "::1"
        assert normalize_host("Example.COM.") == "example.com"

    def test_urlsplit_safe(self):
        assert urlsplit_safe("http://[::1/") == ("", "", "", "", "")

    def test_registrable_domain(self):
        assert registrable_domain("news.bbc.co.uk") == "bbc.co.uk"
        assert registrable_domain("a.b.github.io") == "b.github.io"
        assert registrable_domain("192.0.2.1") == "192.0.2.1"
        assert registrable_domain("co.uk") == "co.uk"
        assert registrable_domain("") == ""

    def test_public_suffix(self):
        assert public_suffix("news.bbc.co.uk") == "co.uk"
        assert public_suffix("192.0.2.1") is None
        assert public_suffix("") is None

    def test_ip(self):
        assert is_ip_address("192.0.2.1") and is_ip_address("::1")
        assert not is_ip_address("example.com")

    def test_third_party(self):
        assert not is_third_party("cdn.example.com", "www.example.com")
        assert is_third_party("cdn.example.net", "www.example.com")
        assert is_third_party("cdn.example.com", None)
        assert is_third_party("a.github.io", "b.github.io")


def test_request_from_strings():
    request = Request.from_strings("https://CDN.example.com/a.js", "https://www.example.com/", "js", "post")
    assert (request.host, request.type, request.method, request.third_party) == ("cdn.example.com", "script", "POST", False)
    assert request.scheme == "https" and request.source_host == "www.example.com"
    bare = Request.from_strings("https://cdn.example.com/a.js")
    assert bare.source_url is None and bare.third_party and bare.type == "other"


@pytest.mark.parametrize("url,expected", [
    ("https://cdn.test/lib/app.min.js?v=3#x", "script"),
    ("https://cdn.test/a/b.CSS", "stylesheet"),
    ("https://cdn.test/img/photo.jpeg;jsessionid=1", "other"),
    ("https://cdn.test/pixel", "other"),
    ("https://cdn.example.js", "other"),          # a host that ends like a file, no path
    ("https://cdn.test/.well-known/x", "other"),
    ("https://cdn.test/dir.js/", "other"),
    ("https://cdn.test/x?file=a.js", "other"),   # the query does not count
    ("//cdn.test/v.mp4", "media"),
])
def test_type_from_extension_reads_only_the_path(url, expected):
    from filters.request import type_from_extension

    assert type_from_extension(url) == expected


@pytest.mark.parametrize(
    "url, source, expected",
    [
        ("https://a.example/", None, "document"),  # a page opened on its own
        ("https://a.example/story", None, "document"),
        ("https://a.example/feed.json", None, "document"),  # an extension that names no type
        ("https://a.example/story", "https://b.example/", "other"),  # a subresource without telling headers
        ("https://a.example/feed.json", "https://b.example/", "other"),
        ("https://a.example/a.js", None, "script"),  # the extension decides, with or without a source
        ("https://a.example/a.js", "https://b.example/", "script"),
        ("https://a.example/p.PNG?x=1", None, "image"),
        ("https://a.example/page.html", "https://b.example/", "document"),
    ],
)
def test_infer_type_without_headers(url, source, expected):
    assert infer_type(url, source) == expected


@pytest.mark.parametrize("url", ["https://a.example/", "https://a.example/a.js", "https://a.example/x.json"])
@pytest.mark.parametrize("source", [None, "https://b.example/"])
@pytest.mark.parametrize(
    "headers",
    [
        {"sec_fetch_dest": "image"},
        {"sec_fetch_dest": "document", "accept": "text/html"},
        {"sec_fetch_dest": "manifest"},
        {"accept": "*/*"},  # curl: says nothing, so the extension or `other`, as in the proxy
        {"accept": "text/css,*/*;q=0.1"},
        {"upgrade": "websocket"},
    ],
)
def test_infer_type_with_any_header_is_what_the_proxy_decides(url, source, headers):
    assert infer_type(url, source, **headers) == type_from_headers(url, **headers)


def test_infer_type_takes_empty_strings_for_unknown():
    """The addon's commands pass '' for what was not given."""
    assert infer_type("https://a.example/", "", "", "", "") == "document"
    assert infer_type("https://a.example/x", "https://b.example/", "", "*/*", "") == "other"


def test_type_by_name():
    assert type_by_name(" XHR ") == "xmlhttprequest"
    assert all(type_by_name(name) == name for name in RESOURCE_TYPES)
    assert all(type_by_name(alias) in RESOURCE_TYPES for alias in TYPE_ALIASES)
    assert type_by_name("scirpt") is None and type_by_name("") is None
