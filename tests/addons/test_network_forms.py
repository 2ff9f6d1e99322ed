"""uBlock Origin's network-side forms through the addon's hooks: `$popup`/`$popunder`, `##^responseheader()`, `$replace`."""

from __future__ import annotations

import pytest
from mitmproxy.test import taddons, tflow, tutils

from tests.addons.test_dejunk import dejunk, events, run_response

LIST = """[Adblock Plus 2.0]
! Title: network forms
||adsession.test^$popup
*$popunder,domain=popunders.test
news.test##^responseheader(set-cookie)
www.news.test#@#^responseheader(set-cookie)
redir.test##^responseheader(location)
redir.test##^responseheader(refresh)
"""


@pytest.fixture
def forms_ctx(tmp_path, monkeypatch):
    import filters.proxy.pool

    monkeypatch.setattr(filters.proxy.pool, "default_workers", lambda: 0)  # a thread: no processes in unit tests
    (tmp_path / "forms.txt").write_text(LIST)
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(tmp_path / "forms.txt")], dejunk_events=str(tmp_path / "events.jsonl"))
        yield addon, tctx, tmp_path
        addon.done()


def navigation(url: str, site: str | None, referer: str | None = None):
    f = tflow.tflow()
    f.request.url = url
    f.request.headers["sec-fetch-dest"] = "document"
    f.request.headers["sec-fetch-mode"] = "navigate"
    if site is not None:
        f.request.headers["sec-fetch-site"] = site
    if referer is not None:
        f.request.headers["referer"] = referer
    return f


# --- $popup / $popunder ----------------------------------------------------------------------------


def test_a_navigation_from_another_site_to_a_popup_host_is_blocked(forms_ctx):
    addon, _, tmp = forms_ctx
    f = navigation("http://adsession.test/land?id=1", "cross-site", "http://news.test/story")
    addon.requestheaders(f)
    assert f.response is not None and f.response.status_code == 403
    assert b"||adsession.test^$popup" in f.response.content
    assert "as a popup" in f.comment
    event = [e for e in events(tmp) if e["event"] == "blocked"][-1]
    assert event["rule"] == "||adsession.test^$popup" and event["type"] == "popup"
    assert event["url"] == "http://adsession.test/land?id=1"


def test_server_replay_cannot_undo_a_popup_block(forms_ctx):
    addon, _, _ = forms_ctx
    f = navigation("http://adsession.test/land", "cross-site", "http://news.test/story")
    addon.request(f)
    f.response = tutils.tresp()  # what --server-replay does after scripts ran
    run_response(addon, f)
    assert f.response.status_code == 403 and "x-dejunk" in f.response.headers


def test_a_popunder_from_the_named_site_is_blocked(forms_ctx):
    addon, _, _ = forms_ctx
    f = navigation("http://ad.test/landing", "cross-site", "http://www.popunders.test/video")
    addon.requestheaders(f)
    assert f.response is not None and f.response.status_code == 403
    other = navigation("http://ad.test/landing", "cross-site", "http://news.test/")
    addon.requestheaders(other)
    assert other.response is None


@pytest.mark.parametrize("site, referer", [
    ("same-origin", "http://adsession.test/"),  # a link within the site
    ("same-site", "http://www.adsession.test/"),
    ("none", None),  # typed in or bookmarked
])
def test_ordinary_navigations_are_not_popups(forms_ctx, site, referer):
    addon, _, _ = forms_ctx
    f = navigation("http://adsession.test/land", site, referer)
    addon.requestheaders(f)
    addon.request(f)
    assert f.response is None


def test_a_subresource_of_a_popup_host_is_not_blocked(forms_ctx):
    addon, _, _ = forms_ctx
    f = tflow.tflow()
    f.request.url = "http://adsession.test/lib.js"
    f.request.headers["sec-fetch-dest"] = "script"
    f.request.headers["sec-fetch-site"] = "cross-site"
    f.request.headers["referer"] = "http://news.test/"
    addon.requestheaders(f)
    assert f.response is None


# --- ##^responseheader() ---------------------------------------------------------------------------


def respond(addon, url: str, dest: str, status: int = 200, **headers: str):
    f = tflow.tflow()
    f.request.url = url
    f.request.headers["sec-fetch-dest"] = dest
    addon.requestheaders(f)
    addon.request(f)
    f.response = tutils.tresp(status_code=status, content=b"<html><body>page</body></html>")
    f.response.headers["content-type"] = "text/html; charset=utf-8"
    for name, value in headers.items():
        f.response.headers[name.replace("_", "-")] = value
    addon.responseheaders(f)
    return f


def test_a_named_header_is_removed_from_a_document_of_the_site(forms_ctx):
    addon, _, tmp = forms_ctx
    f = respond(addon, "http://news.test/story", "document", set_cookie="track=1", x_other="kept")
    assert "set-cookie" not in f.response.headers and f.response.headers["x-other"] == "kept"
    assert "response header set-cookie removed by news.test##^responseheader(set-cookie)" in f.comment
    event = [e for e in events(tmp) if e["event"] == "header_removed"][-1]
    assert event == {**event, "url": "http://news.test/story", "header": "set-cookie",
                     "rule": "news.test##^responseheader(set-cookie)", "list": "forms.txt", "line": 5}
    assert addon.filtering.stats.counts["header_removed"] == 1


def test_every_field_of_a_repeated_header_goes(forms_ctx):
    addon, _, _ = forms_ctx
    f = tflow.tflow()
    f.request.url = "http://news.test/"
    f.request.headers["sec-fetch-dest"] = "iframe"
    addon.requestheaders(f)
    f.response = tutils.tresp()
    f.response.headers["content-type"] = "text/html"
    f.response.headers.add("Set-Cookie", "a=1")
    f.response.headers.add("Set-Cookie", "b=2")
    addon.responseheaders(f)
    assert f.response.headers.get_all("set-cookie") == []


def test_a_redirect_loses_its_location_and_refresh(forms_ctx):
    addon, _, _ = forms_ctx
    f = respond(addon, "http://redir.test/go", "document", status=302, location="http://ads.test/", refresh="0")
    assert "location" not in f.response.headers and "refresh" not in f.response.headers


def test_subresources_and_excepted_sites_keep_their_headers(forms_ctx):
    addon, _, tmp = forms_ctx
    script = respond(addon, "http://news.test/app.js", "script", set_cookie="a=1")
    assert script.response.headers["set-cookie"] == "a=1"
    excepted = respond(addon, "http://www.news.test/", "document", set_cookie="a=1")
    assert excepted.response.headers["set-cookie"] == "a=1"
    other = respond(addon, "http://other.test/", "document", set_cookie="a=1")
    assert other.response.headers["set-cookie"] == "a=1"
    assert not [e for e in events(tmp) if e["event"] == "header_removed"]
