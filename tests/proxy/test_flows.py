"""The request model read off a flow: URL as pretty_url gives it, type, source page."""

from __future__ import annotations

import pytest
from mitmproxy.test import tflow

from filters.proxy.flows import path_of, popup_view, request_from_flow, request_views


def test_request_type_from_sec_fetch_dest_then_accept_then_extension():
    flow = tflow.tflow()
    flow.request.url = "http://ads.test/pixel.gif"
    assert request_from_flow(flow).type == "image"
    flow.request.headers["accept"] = "text/css,*/*;q=0.1"
    assert request_from_flow(flow).type == "stylesheet"
    flow.request.headers["sec-fetch-dest"] = "script"
    assert request_from_flow(flow).type == "script"


def test_source_is_the_document_itself_or_the_referer_or_origin():
    flow = tflow.tflow()
    flow.request.url = "http://news.test/article"
    flow.request.headers["sec-fetch-dest"] = "document"
    flow.request.headers["referer"] = "http://search.test/"
    assert request_from_flow(flow).source_url == "http://news.test/article"
    flow.request.headers["sec-fetch-dest"] = "script"
    assert request_from_flow(flow).source_url == "http://search.test/"
    del flow.request.headers["referer"]
    flow.request.headers["origin"] = "http://app.test"
    request = request_from_flow(flow)
    assert request.source_url == "http://app.test" and request.third_party


@pytest.mark.parametrize("make", [
    lambda: tflow.tflow().request,
    lambda: _req("GET", "http://news.test/a?b=1", host="news.test"),
    lambda: _req("GET", "http://127.0.0.1:8080/x", host="site.test:8080"),       # transparent-like: Host wins
    lambda: _req("GET", "https://shop.test/p", host="shop.test:443"),
    lambda: _req("GET", "https://shop.test:8443/p", host=None),                     # no Host header
    lambda: _req("GET", "http://[::1]:81/v6", host="[::1]:81"),
    lambda: _req("GET", "http://xn--bcher-kva.test/", host="bücher.test"),
    lambda: _req("GET", "http://a.test/", host="bad host!"),                        # invalid: kept as given
    lambda: _req("CONNECT", "", authority="tunnel.test:443"),
    lambda: _with_path(_req("OPTIONS", "http://opt.test/", host="opt.test"), "*"),  # asterisk-form
    lambda: _with_path(_req("GET", "http://a.test/", host="a.test:80"), "/x?y=1#z"),
    lambda: _req("GET", "https://h2.test/x", host=None, http2=True, authority="h2.test"),
])
def test_flow_url_is_pretty_url(make):
    from filters.proxy.flows import _REQUEST_HEADERS, flow_url, header_values

    request = make()
    found = header_values(request.headers, _REQUEST_HEADERS)
    assert flow_url(request, found.get(b"host")) == (request.pretty_url, request.pretty_host)


def _with_path(request, path):
    request.path = path
    return request


def _req(method, url, host=None, http2=False, authority=None):
    from mitmproxy import http

    if method == "CONNECT":
        request = http.Request("tunnel.test", 443, b"CONNECT", b"", b"tunnel.test:443", b"", b"HTTP/1.1",
                               http.Headers(), b"", None, 0, 0)
        return request
    request = http.Request.make(method, url)
    if host is not None:
        request.headers["Host"] = host
    elif "Host" in request.headers:
        del request.headers["Host"]
    if http2:
        request.http_version = "HTTP/2.0"
        request.authority = authority or ""
    return request


def test_a_request_whose_host_header_names_another_host_has_two_views():
    flow = tflow.tflow()
    flow.request.url = "http://ads.test:8080/x.js?a=1"
    flow.request.headers["host"] = "news.test:8080"
    flow.request.headers["referer"] = "http://news.test/"
    named, connected = request_views(flow, request_from_flow(flow))
    assert (named.host, named.url) == ("news.test", "http://news.test:8080/x.js?a=1")
    assert (connected.host, connected.url) == ("ads.test", "http://ads.test:8080/x.js?a=1")
    assert connected.source_url == named.source_url and connected.type == named.type


@pytest.mark.parametrize("host_header", [None, "ads.test", "ADS.test.", "ads.test:80"])
def test_a_request_sent_where_it_says_has_one_view(host_header):
    flow = tflow.tflow()
    flow.request.url = "http://ads.test/x.js"
    if host_header:
        flow.request.headers["host"] = host_header
    assert len(request_views(flow, request_from_flow(flow))) == 1


@pytest.mark.parametrize("url,path", [
    ("http://a.test/p/q?x=1", "/p/q?x=1"),
    ("http://a.test:81?x=1", "/?x=1"),
    ("http://a.test", "/"),
    ("https://[::1]:8443/p?u=http://b.test/", "/p?u=http://b.test/"),
    ("http://a.test/p#frag", "/p"),
])
def test_path_of_an_absolute_url(url, path):
    assert path_of(url) == path


# --- navigations that may be popups --------------------------------------------------------------


def _navigation(url: str, **headers: str):
    flow = tflow.tflow()
    flow.request.url = url
    for name, value in headers.items():
        flow.request.headers[name.replace("_", "-")] = value
    return flow


@pytest.mark.parametrize("headers, opener", [
    # A new top-level navigation from another site: what opening a popup (or a popunder) sends.
    ({"sec_fetch_dest": "document", "sec_fetch_site": "cross-site", "referer": "https://news.test/a"},
     "https://news.test/a"),
    # No Referer (a `noreferrer` link or policy): still a navigation from another site, opener unknown.
    ({"sec_fetch_dest": "document", "sec_fetch_site": "cross-site"}, None),
    # A client without Fetch Metadata: the Referer names another site.
    ({"accept": "text/html,*/*", "referer": "https://news.test/a"}, "https://news.test/a"),
])
def test_popup_view_of_a_navigation_from_another_site(headers, opener):
    flow = _navigation("https://ads.example/landing?x=1", **headers)
    view = popup_view(flow, request_from_flow(flow))
    assert view is not None
    assert (view.url, view.type, view.source_url, view.host) == ("https://ads.example/landing?x=1", "popup", opener,
                                                                 "ads.example")


@pytest.mark.parametrize("headers", [
    {"sec_fetch_dest": "document", "sec_fetch_site": "same-origin", "referer": "https://ads.example/"},
    {"sec_fetch_dest": "document", "sec_fetch_site": "same-site", "referer": "https://www.ads.example/"},
    {"sec_fetch_dest": "document", "sec_fetch_site": "none"},  # typed in, a bookmark
    # Fetch Metadata says same-site: a Referer naming another site (an old redirect chain) does not count.
    {"sec_fetch_dest": "document", "sec_fetch_site": "same-site", "referer": "https://news.test/"},
    {"accept": "text/html,*/*", "referer": "https://www.ads.example/a"},  # no Fetch Metadata, same site
    {"accept": "text/html,*/*"},  # nothing says where it came from
    {"sec_fetch_dest": "iframe", "sec_fetch_site": "cross-site", "referer": "https://news.test/"},  # a frame
    {"sec_fetch_dest": "script", "sec_fetch_site": "cross-site", "referer": "https://news.test/"},
])
def test_no_popup_view_of_ordinary_requests(headers):
    flow = _navigation("https://ads.example/landing", **headers)
    assert popup_view(flow, request_from_flow(flow)) is None
