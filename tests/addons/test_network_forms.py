"""uBlock Origin's network-side forms through the addon's hooks: `$popup`/`$popunder`, `##^responseheader()`, `$replace`."""

from __future__ import annotations

import logging

import pytest
from mitmproxy.test import taddons, tflow, tutils

from filters.html import compression

from tests.addons.test_dejunk import dejunk, events, run_response

LIST = r"""[Adblock Plus 2.0]
! Title: network forms
||adsession.test^$popup
*$popunder,domain=popunders.test
news.test##^responseheader(set-cookie)
www.news.test#@#^responseheader(set-cookie)
redir.test##^responseheader(location)
redir.test##^responseheader(refresh)
||scripts.test/player.js$script,replace=/adsEnabled:\s*true/adsEnabled:false/g
||api.test/config$xhr,replace=/"ads":\[[^\]]*\]/"ads":[]/
||shop.test^$doc,replace=/class="xad"/class="ad"/
##.ad
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


# --- $replace ----------------------------------------------------------------------------------------

SCRIPT = b"var config = {adsEnabled: true, x: 1}; var other = {adsEnabled:true};"
SCRIPT_REPLACED = b"var config = {adsEnabled:false, x: 1}; var other = {adsEnabled:false};"
JSON = b'{"ads":[{"id":1},{"id":2}],"items":[1,2]}'
JSON_REPLACED = b'{"ads":[],"items":[1,2]}'
SCRIPT_RULE = "||scripts.test/player.js$script,replace=/adsEnabled:\\s*true/adsEnabled:false/g"


def fetch(addon, url: str, dest: str, body: bytes, content_type: str, *, encoding: str | None = None,
          length: bool = True, status: int = 200):
    """A request and its response through the hooks, the body arriving after the headers."""
    f = tflow.tflow()
    f.request.url = url
    f.request.headers["sec-fetch-dest"] = dest
    addon.requestheaders(f)
    addon.request(f)
    raw = compression.encode(body, encoding) if encoding else body
    f.response = tutils.tresp(status_code=status, content=b"")
    f.response.headers["content-type"] = content_type
    if encoding:
        f.response.headers["content-encoding"] = encoding
    if length:
        f.response.headers["content-length"] = str(len(raw))
    else:
        f.response.headers["transfer-encoding"] = "chunked"
        del f.response.headers["content-length"]
    addon.responseheaders(f)
    held = not f.response.stream
    f.response.raw_content = raw
    if held:
        run_response(addon, f)
    return f, held


def test_a_script_is_held_and_changed(forms_ctx):
    addon, _, tmp = forms_ctx
    f, held = fetch(addon, "http://scripts.test/player.js?v=2", "script", SCRIPT, "application/javascript")
    assert held and f.response.raw_content == SCRIPT_REPLACED
    assert f.response.headers["content-length"] == str(len(SCRIPT_REPLACED))
    assert f"body changed by {SCRIPT_RULE} (forms.txt:" in f.comment
    event = [e for e in events(tmp) if e["event"] == "replaced"][-1]
    assert event == {**event, "url": "http://scripts.test/player.js?v=2", "rules": [f"{SCRIPT_RULE} (forms.txt:9)"],
                     "bytes_before": len(SCRIPT), "bytes_after": len(SCRIPT_REPLACED)}
    assert addon.filtering.stats.counts["replaced"] == 1


@pytest.mark.parametrize("encoding", [None, "gzip", "br", "zstd", "deflate"])
def test_a_json_response_is_changed_and_encoded_again(forms_ctx, encoding):
    addon, _, _ = forms_ctx
    f, held = fetch(addon, "http://api.test/config?x=1", "empty", JSON, "application/json", encoding=encoding)
    assert held
    assert f.response.content == JSON_REPLACED  # decoded by mitmproxy from what dejunk encoded
    if encoding:
        assert f.response.headers["content-encoding"] == encoding and f.response.raw_content != JSON_REPLACED


def test_a_chunked_response_keeps_no_content_length(forms_ctx):
    addon, _, _ = forms_ctx
    f, held = fetch(addon, "http://api.test/config", "empty", JSON, "application/json", length=False)
    assert held and f.response.raw_content == JSON_REPLACED and "content-length" not in f.response.headers


def test_a_body_nothing_matches_stays_byte_identical(forms_ctx):
    addon, _, tmp = forms_ctx
    f, held = fetch(addon, "http://api.test/config", "empty", b'{"items":[]}', "application/json", encoding="br")
    assert held and f.response.raw_content == compression.encode(b'{"items":[]}', "br")  # as it was sent
    assert not [e for e in events(tmp) if e["event"] == "replaced"] and not f.marked


@pytest.mark.parametrize("url, dest, content_type, status", [
    ("http://scripts.test/other.js", "script", "application/javascript", 200),  # no rule for it
    ("http://scripts.test/player.js", "image", "image/png", 200),  # not text
    ("http://scripts.test/player.js", "script", "application/javascript", 206),  # a part of a body
])
def test_only_matching_text_responses_are_held(forms_ctx, url, dest, content_type, status):
    addon, _, _ = forms_ctx
    # Without a length: a small body of known length is held whatever rules apply (see test_dejunk).
    f, held = fetch(addon, url, dest, SCRIPT, content_type, status=status, length=False)
    assert not held and f.response.raw_content == SCRIPT
    assert "replace_held" not in f.metadata.get("dejunk", {})


def test_over_the_hold_limit_streams_unchanged_and_says_so(forms_ctx, caplog):
    addon, tctx, tmp = forms_ctx
    tctx.configure(addon, dejunk_max_rewrite_bytes=1000)
    big = SCRIPT + b" " * 5000
    with caplog.at_level(logging.WARNING, logger="dejunk"):
        f, held = fetch(addon, "http://scripts.test/player.js", "script", big, "application/javascript")
    assert not held and f.response.raw_content == big
    event = [e for e in events(tmp) if e["event"] == "not_replaced"][-1]
    assert event["url"] == "http://scripts.test/player.js" and "1000 bytes" in event["reason"]
    assert addon.filtering.stats.counts["not_replaced"] == 1
    assert "not changed by $replace" in caplog.text and "not changed by $replace" in f.comment


def test_over_the_cap_once_arrived_is_delivered_whole(forms_ctx):
    addon, tctx, tmp = forms_ctx
    tctx.configure(addon, dejunk_max_rewrite_bytes=1000)
    big = SCRIPT + b" " * 5000
    f, held = fetch(addon, "http://scripts.test/player.js", "script", big, "application/javascript", length=False)
    assert held and f.response.raw_content == big
    assert [e for e in events(tmp) if e["event"] == "not_replaced"][-1]["reason"].startswith("larger than")


def test_over_the_cap_once_decoded_is_delivered_whole(forms_ctx):
    addon, tctx, tmp = forms_ctx
    tctx.configure(addon, dejunk_max_rewrite_bytes=10_000)
    bomb_body = SCRIPT + b" " * 1_000_000
    f, held = fetch(addon, "http://scripts.test/player.js", "script", bomb_body, "application/javascript",
                    encoding="gzip")
    assert held and f.response.raw_content == compression.encode(bomb_body, "gzip")  # as it was sent
    event = [e for e in events(tmp) if e["event"] == "not_replaced"][-1]
    assert "once decoded" in event["reason"]


def test_a_page_is_replaced_then_rewritten_in_one_job(forms_ctx):
    addon, _, tmp = forms_ctx
    page = b'<html><body><p>story</p><div class="xad">buy</div></body></html>'
    f, held = fetch(addon, "http://shop.test/", "document", page, "text/html; charset=utf-8", encoding="gzip")
    # The replacement made the element an ad; the cosmetic rule, run after it, removed it.
    assert held and f.response.content == b"<html><body><p>story</p></body></html>"
    kinds = [e["event"] for e in events(tmp) if e["event"] in ("replaced", "rewritten")]
    assert kinds == ["replaced", "rewritten"]


def test_replacements_run_off_the_event_loop(forms_ctx, monkeypatch):
    addon, _, _ = forms_ctx
    import threading

    from filters.html import replace as replace_module

    seen = []
    original = replace_module.replace_body

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr("filters.proxy.pool.replace_body", spy)
    f, held = fetch(addon, "http://scripts.test/player.js", "script", SCRIPT, "application/javascript")
    assert f.response.raw_content == SCRIPT_REPLACED
    assert seen and all(name.startswith("dejunk-pages") for name in seen)
