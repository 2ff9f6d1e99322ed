"""The request decided on its headers, on every host it names or goes to, and refused connections (taddons/tflow)."""

from __future__ import annotations

import pytest
from mitmproxy import connection, flow
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import server_hooks
from mitmproxy.test import taddons, tflow, tutils

from filters.proxy import filtering as filtering_module
from filters.proxy import internals

from . import test_dejunk
from .test_dejunk import dejunk, events, make_flow

# The addon's fixtures, shared with its other tests.
addon_ctx, files = test_dejunk.addon_ctx, test_dejunk.files


def both_hooks(addon, f) -> None:
    """requestheaders, then request, as mitmproxy calls them."""
    addon.requestheaders(f)
    addon.request(f)


class TestDecidedOnTheHeaders:
    def test_a_block_is_answered_on_the_headers_and_not_decided_again(self, addon_ctx):
        addon, _, files = addon_ctx
        f = make_flow("http://ads.test/upload", dest="document")
        f.request.stream = True  # what mitmproxy chose on a large Content-Length, before the hook
        addon.requestheaders(f)
        assert f.response.status_code == 403 and f.metadata["dejunk"]["action"] == "blocked"
        assert f.request.stream is False  # mitmproxy reads the body (and dejunk drops it) instead of streaming it
        addon.request(f)
        assert f.comment == "blocked by ||ads.test^ (list.txt:2)"  # noted once
        assert addon.filtering.stats.counts["requests"] == 1
        assert [e["event"] for e in events(files)] == ["blocked"]

    def test_the_body_of_an_answered_request_is_dropped(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://www.forbidden.test/upload", dest="document")
        addon.requestheaders(f)
        assert f.response.status_code == 403
        assert getattr(f, "_dejunk_drop_request_body", False) is internals.body_size_check_installed()

    @pytest.mark.parametrize("length,killed", [("4096", True), ("0", False)])
    def test_without_the_body_drop_a_refused_request_with_a_body_is_killed(self, addon_ctx, monkeypatch, length, killed):
        # mitmproxy would stream the body (or fail doing so) before dejunk's answer could go out.
        monkeypatch.setattr(filtering_module, "drop_request_body", lambda f: False)
        addon, _, _ = addon_ctx
        f = make_flow("http://ads.test/upload", dest="document")
        f.request.headers["content-length"] = length
        addon.requestheaders(f)
        assert f.response.status_code == 403
        assert (f.error is not None and f.error.msg == flow.Error.KILLED_MESSAGE) is killed

    def test_a_passed_request_is_changed_on_the_headers(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://news.test/upload", dest="document")
        f.request.headers["cookie"] = "a=1"
        addon.requestheaders(f)
        assert f.response is None and "cookie" not in f.request.headers
        assert not getattr(f, "_dejunk_drop_request_body", False)
        addon.request(f)
        assert addon.filtering.stats.counts["requests"] == 1

    def test_a_request_another_addon_redirects_after_the_headers_is_decided_again(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://news.test/x.js", dest="script")
        addon.requestheaders(f)
        assert f.response is None
        f.request.host = "ads.test"  # as map_remote does in its request hook
        addon.request(f)
        assert f.response.status_code == 403 and f.metadata["dejunk"]["action"] == "blocked"

    def test_the_request_hook_alone_still_decides(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://ads.test/x", dest="document")
        addon.request(f)
        assert f.response.status_code == 403


def test_a_host_header_another_addon_changes_after_the_headers_is_decided_again(addon_ctx):
    addon, _, _ = addon_ctx
    f = make_flow("http://news.test/x.js", dest="script")
    addon.requestheaders(f)
    assert f.response is None
    addon.request(f)  # nothing changed: not decided again
    assert addon.filtering.stats.counts["requests"] == 1
    f.request.headers["host"] = "ads.test"  # another addon, between the two hooks
    addon.request(f)
    assert f.response.status_code == 403 and f.metadata["dejunk"]["action"] == "blocked"


class TestHostConnectedTo:
    @pytest.mark.parametrize("url,host_header", [
        ("http://ads.test/x.js", "news.test"),     # goes to a blocked host under another name
        ("http://news.test/x.js", "ads.test"),     # names a blocked host
    ])
    def test_blocked_if_either_host_is(self, addon_ctx, url, host_header):
        addon, _, files = addon_ctx
        f = make_flow(url, dest="script")
        f.request.headers["host"] = host_header
        both_hooks(addon, f)
        assert f.response.status_code == 403 and f.metadata["dejunk"]["action"] == "blocked"
        assert events(files)[0]["host"] == "ads.test"

    def test_rejected_if_the_connect_policy_rejects_the_host_connected_to(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://www.forbidden.test/", dest="document")
        f.request.headers["host"] = "news.test"
        both_hooks(addon, f)
        assert f.response.status_code == 403 and f.metadata["dejunk"]["action"] == "policy_connect"
        assert b"www.forbidden.test" in f.response.content

    def test_cookies_go_only_where_every_host_accepts_them(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://news.test/", dest="document")
        f.request.headers["host"] = "friend.test"  # the cookie policy accepts friend.test only
        f.request.headers["cookie"] = "a=1"
        both_hooks(addon, f)
        assert f.response is None and "cookie" not in f.request.headers

    @pytest.mark.parametrize("url,host_header", [
        ("http://noimg.test/p.jpg", "news.test"),  # an image from a rejected host under another name
        ("http://news.test/p.jpg", "noimg.test"),
    ])
    def test_the_image_policy_applies_if_either_host_is_rejected(self, addon_ctx, url, host_header):
        addon, _, files = addon_ctx
        f = make_flow(url, dest="image")
        f.request.headers["host"] = host_header
        both_hooks(addon, f)
        f.response = tutils.tresp()
        f.response.headers["content-type"] = "image/jpeg"
        addon.responseheaders(f)
        assert f.response.headers["content-type"] == "image/gif"
        assert [(e["policy"], e["host"]) for e in events(files)] == [("image", "noimg.test")]

    def test_cookies_set_by_a_response_go_only_if_every_host_accepts_them(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://news.test/", dest="document")
        f.request.headers["host"] = "friend.test"  # the cookie policy accepts friend.test only
        both_hooks(addon, f)
        f.response = tutils.tresp()
        f.response.headers["content-type"] = "text/plain"
        f.response.headers["set-cookie"] = "a=1"
        addon.responseheaders(f)
        assert "set-cookie" not in f.response.headers

    def test_removeparam_keeps_the_host_connected_to(self, files):
        (files / "list.txt").write_text("$removeparam=utm_source\n")
        addon = dejunk.Dejunk()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, dejunk_lists=[str(files / "list.txt")])
            f = make_flow("http://news.test/a?utm_source=x&id=1", dest="document")
            f.request.headers["host"] = "other.test"
            both_hooks(addon, f)
            assert (f.request.host, f.request.path) == ("news.test", "/a?id=1")
            assert f.request.headers["host"] == "other.test"

    def test_explain_names_both_hosts(self, addon_ctx):
        addon, _, _ = addon_ctx
        f = make_flow("http://ads.test/x.js", dest="script")
        f.request.headers["host"] = "news.test"
        request = filtering_module.request_from_flow(f)
        views = filtering_module.request_views(f, request)
        words = addon.filtering.outcome(*views)
        assert words.startswith("blocked by ||ads.test^") and "names news.test but goes to ads.test" in words


def connect_data(client: connection.Client, host: str, port: int = 443) -> server_hooks.ServerConnectionHookData:
    return server_hooks.ServerConnectionHookData(client=client, server=connection.Server(address=(host, port)))


class TestConnections:
    @pytest.mark.parametrize("host,refused", [
        ("www.forbidden.test", "the connect policy rejects www.forbidden.test (*.forbidden.test)"),
        ("ads.test", "ads.test is blocked by ||ads.test^ (list.txt:2)"),
        ("ok.ads.test", None),  # @@||ok.ads.test^
        ("news.test", None),
    ])
    def test_server_connections_to_refused_hosts_are_not_opened(self, addon_ctx, host, refused):
        addon, _, files = addon_ctx
        data = connect_data(tflow.tclient_conn(), host)
        addon.server_connect(data)
        assert data.server.error == (f"dejunk: {refused}" if refused else None)
        if refused:
            assert events(files)[0]["where"] == "connection" and events(files)[0]["host"] == host

    def test_a_rule_for_third_parties_alone_does_not_refuse_a_connection(self, files):
        (files / "list.txt").write_text("||social.test^$third-party\n")
        addon = dejunk.Dejunk()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, dejunk_lists=[str(files / "list.txt")])
            data = connect_data(tflow.tclient_conn(), "social.test")
            addon.server_connect(data)
            assert data.server.error is None

    def test_a_request_let_through_vouches_for_its_connection(self, addon_ctx):
        addon, tctx, _ = addon_ctx
        tctx.configure(addon, dejunk_allow=["ads.test"])
        f = make_flow("http://ads.test/x.js", dest="script")
        addon.requestheaders(f)  # a streamed body's connection opens right after this hook
        assert f.response is None and f.metadata["dejunk"]["action"] == "allowed_site"
        other_client = tflow.tclient_conn()
        tctx.configure(addon, dejunk_allow=[])
        mine, theirs = connect_data(f.client_conn, "ads.test", 80), connect_data(other_client, "ads.test", 80)
        addon.server_connect(mine)
        addon.server_connect(theirs)
        assert mine.server.error is None and theirs.server.error is not None

    @pytest.mark.parametrize("strategy,refused", [("eager", True), ("lazy", False)])
    def test_a_connect_is_refused_itself_only_when_its_connection_would_open_at_once(self, files, strategy, refused):
        # Lazily, the tunnel opens: requests inside it get the policy's page, other connections are refused.
        addon = dejunk.Dejunk()
        with taddons.context(addon, Proxyserver()) as tctx:
            tctx.configure(addon, dejunk_lists=[str(files / "list.txt")], dejunk_config=str(files / "dejunk.toml"),
                           connection_strategy=strategy, dejunk_error_pages=False)
            f = tflow.tflow()
            f.request.method, f.request.host, f.request.port = "CONNECT", "www.forbidden.test", 443
            addon.http_connect(f)
            if not refused:
                assert f.response is None
                return
            assert f.response.status_code == 403 and f.metadata["dejunk"]["action"] == "policy_connect"
            addon.http_connect_error(f)  # mitmproxy calls it for any CONNECT answered with an error
            assert f.metadata["dejunk"]["action"] == "policy_connect" and f.marked == filtering_module.MARK_POLICY


def test_connections_vouched_for_are_bounded_and_expire(addon_ctx, monkeypatch):
    addon, _, _ = addon_ctx
    filtering = addon.filtering
    now = [1000.0]
    monkeypatch.setattr(filtering_module.time, "monotonic", lambda: now[0])
    for i in range(filtering.PASSED_LIMIT + 500):
        f = make_flow(f"http://site{i}.test/", dest="document")
        filtering._vouch(f)
    assert len(filtering._passed) == filtering.PASSED_LIMIT
    assert (f.client_conn.id, f"site{filtering.PASSED_LIMIT + 499}.test", 80) in filtering._passed
    now[0] += filtering.PASSED_SECONDS
    late = make_flow("http://late.test/", dest="document")
    filtering._vouch(late)
    assert list(filtering._passed) == [(late.client_conn.id, "late.test", 80)]


def test_a_decision_stands_until_where_the_request_goes_changes():
    f = make_flow("http://news.test/a.js", dest="script")
    f.request.headers["host"] = "news.test"
    decided = filtering_module.decided_key(f)
    f.request.headers["x-other"] = "1"  # the headers change, where it goes does not
    assert not filtering_module.changed_since(f, decided)
    f.request.headers["HOST"] = "ads.test"
    assert filtering_module.changed_since(f, decided)


def test_a_connection_is_vouched_for_once_a_moment_not_on_every_request(addon_ctx, monkeypatch):
    addon, _, _ = addon_ctx
    filtering = addon.filtering
    now = [1000.0]
    monkeypatch.setattr(filtering_module.time, "monotonic", lambda: now[0])
    first, other = make_flow("http://a.test/", dest="document"), make_flow("http://b.test/", dest="document")
    other.client_conn = first.client_conn
    filtering._vouch(first)
    filtering._vouch(other)
    now[0] += filtering.PASSED_REFRESH / 2
    filtering._vouch(first)  # a moment later: kept as it was
    key = (first.client_conn.id, "a.test", 80)
    assert filtering._passed[key] == 1000.0 and list(filtering._passed)[0] == key
    now[0] += filtering.PASSED_REFRESH
    filtering._vouch(first)  # later: vouched for anew, newest last
    assert filtering._passed[key] == now[0] and list(filtering._passed)[-1] == key
