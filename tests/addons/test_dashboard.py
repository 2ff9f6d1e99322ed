"""The dashboard in the addon: its host's flows are answered by the proxy, never decided, counted or connected."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from mitmproxy import connection, exceptions
from mitmproxy.test import taddons, tflow

from filters.dashboard.server import MAX_BODY_BYTES

from .test_dejunk import dejunk, make_flow

LIST = "||ads.test^\n"


@pytest.fixture
def addon_ctx(tmp_path):
    (tmp_path / "list.txt").write_text(LIST)
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(tmp_path / "list.txt")], dejunk_state=str(tmp_path / "state"))
        yield addon, tctx


def settle(result) -> None:
    """Await what a hook returned, as mitmproxy does."""
    if result is not None:
        asyncio.run(result)


def dashboard_flow(path="/api/status", method="GET", body=b"", headers=(), host="dejunk.home.arpa"):
    f = make_flow(f"http://{host}{path}")
    f.request.method = method
    f.request.headers.clear()  # tflow's request has a body
    f.request.headers["host"] = host
    for name, value in headers:
        f.request.headers[name] = value
    f.request.content = None
    if body:
        f.request.headers["content-length"] = str(len(body))
    return f, body


def test_a_dashboard_request_is_answered_and_not_decided_or_counted(addon_ctx):
    addon, _ = addon_ctx
    f, _ = dashboard_flow()
    settle(addon.requestheaders(f))
    assert f.response is not None and f.response.status_code == 200
    assert json.loads(f.response.content)["filtering"] is True
    settle(addon.request(f))
    addon.responseheaders(f)
    settle(addon.response(f))
    assert "dejunk" not in f.metadata and f.metadata["dejunk_dashboard"] is True
    assert addon.filtering.stats.counts.get("requests", 0) == 0
    blocked = make_flow("http://ads.test/x.js")
    addon.requestheaders(blocked)
    assert addon.filtering.stats.counts["requests"] == 1  # the same addon counts other requests


def test_a_request_with_a_body_is_answered_once_the_body_is_in(addon_ctx):
    addon, _ = addon_ctx
    token = addon.dashboard.dashboard.token
    body = json.dumps({"site": "body.test"}).encode()
    f, body = dashboard_flow("/api/sites/allow", "POST", body,
                             [("content-type", "application/json"), ("x-dejunk-token", token)])
    assert addon.requestheaders(f) is None and f.response is None and not f.request.stream
    f.request.content = body
    settle(addon.request(f))
    assert f.response.status_code == 200 and json.loads(f.response.content)["allowed"] == ["body.test"]
    assert addon.store.allowed() == ["body.test"] and "body.test" in addon.filtering.allow  # in force at once


def test_a_body_larger_than_the_cap_is_refused_on_its_headers(addon_ctx):
    addon, _ = addon_ctx
    f, _ = dashboard_flow("/api/myfilters", "PUT", headers=[("content-length", str(MAX_BODY_BYTES + 1)),
                                                            ("x-dejunk-token", addon.dashboard.dashboard.token)])
    settle(addon.requestheaders(f))
    assert f.response.status_code == 413 and not f.request.stream


def test_a_connect_to_the_dashboard_opens_without_a_server_and_no_server_connection_is_made(addon_ctx):
    addon, _ = addon_ctx
    f = tflow.tflow()
    f.request.method, f.request.host, f.request.port = "CONNECT", "dejunk.home.arpa", 443
    addon.http_connect(f)
    assert f.response.status_code == 200 and not f.response.headers
    server = SimpleNamespace(address=("DeJunk.Home.Arpa.", 443), error=None)
    addon.server_connect(SimpleNamespace(client=f.client_conn, server=server))
    assert "dashboard" in server.error
    other = connection.Server(address=("news.test", 443))
    addon.server_connect(SimpleNamespace(client=f.client_conn, server=other))
    assert other.error is None


def test_tls_with_the_client_does_not_wait_for_a_server(addon_ctx):
    addon, _ = addon_ctx
    last = dejunk.LastWordOnTls(addon.dashboard)
    for address, sni, expected in ((("dejunk.home.arpa", 443), None, False), (None, "dejunk.home.arpa", False),
                                   (("news.test", 443), "news.test", True)):
        data = SimpleNamespace(context=SimpleNamespace(server=SimpleNamespace(address=address)),
                               client_hello=SimpleNamespace(sni=sni), establish_server_tls_first=True)
        last.tls_clienthello(data)
        assert data.establish_server_tls_first is expected


def test_it_goes_last_in_the_addon_chain_once(addon_ctx):
    addon, tctx = addon_ctx
    first = dejunk.LastWordOnTls.install(tctx.master.addons, addon.dashboard)
    again = dejunk.LastWordOnTls.install(tctx.master.addons, addon.dashboard)
    chain = tctx.master.addons.chain
    assert chain[-1] is again and first not in chain


def test_an_empty_name_turns_the_dashboard_off(addon_ctx):
    addon, tctx = addon_ctx
    tctx.configure(addon, dejunk_dashboard="")
    f, _ = dashboard_flow()
    settle(addon.requestheaders(f))
    assert f.response is None and "dejunk_dashboard" not in f.metadata
    assert addon.filtering.stats.counts["requests"] == 1
    connect = tflow.tflow()
    connect.request.method, connect.request.host, connect.request.port = "CONNECT", "dejunk.home.arpa", 443
    addon.http_connect(connect)
    assert connect.response is None


def test_another_name_and_a_bad_name(addon_ctx):
    addon, tctx = addon_ctx
    tctx.configure(addon, dejunk_dashboard="Admin.Lan")
    f, _ = dashboard_flow()
    settle(addon.requestheaders(f))
    assert f.response is None  # dejunk.home.arpa is an ordinary host now
    g, _ = dashboard_flow(host="admin.lan")
    settle(addon.requestheaders(g))
    assert g.response.status_code == 200
    with pytest.raises(exceptions.OptionsError, match="dejunk_dashboard"):
        tctx.configure(addon, dejunk_dashboard="not a host")
    assert addon.dashboard.name == "admin.lan"


def test_lists_added_in_the_dashboard_are_loaded_again_when_the_store_is_opened_again(addon_ctx, tmp_path):
    addon, tctx = addon_ctx
    url = "http://127.0.0.1:1/added.txt"  # loopback, where nothing listens: a fetch fails at once
    assert addon.engines.plan.subscriptions == ()
    addon.store.add_subscription(url)
    tctx.configure(addon, dejunk_state=str(tmp_path / "other-state"))
    assert addon.engines.plan.subscriptions == ()
    tctx.configure(addon, dejunk_state=str(tmp_path / "state"))  # read again from its file, as at a start
    assert addon.engines.plan.subscriptions == (url,)

def test_the_dashboard_answers_while_dejunk_is_disabled_and_says_so(addon_ctx):
    addon, tctx = addon_ctx
    tctx.configure(addon, dejunk_enabled=False)
    f, _ = dashboard_flow()
    settle(addon.requestheaders(f))
    status = json.loads(f.response.content)
    assert status["filtering"] is False and "disabled" in status["problems"][0]


def test_the_last_word_on_tls_is_in_the_chain_only_with_eager_connections(tmp_path):
    # With lazy connections mitmproxy never asks a server before TLS with the client: an addon at the
    # end of the chain would only cost every hook of every flow its dispatch.
    from mitmproxy.addons.proxyserver import Proxyserver

    (tmp_path / "list.txt").write_text(LIST)
    addon = dejunk.Dejunk()
    with taddons.context(addon, Proxyserver()) as tctx:
        tctx.configure(addon, dejunk_lists=[str(tmp_path / "list.txt")], dejunk_state=str(tmp_path / "state"),
                       dejunk_error_pages=False, dejunk_cosmetic="off", connection_strategy="lazy")
        addon.running()
        try:
            assert tctx.master.addons.get(dejunk.LastWordOnTls.name) is None
            tctx.configure(addon, connection_strategy="eager")
            assert isinstance(tctx.master.addons.chain[-1], dejunk.LastWordOnTls)
            tctx.configure(addon, dejunk_dashboard="")  # no dashboard: nothing to say about TLS
            assert tctx.master.addons.get(dejunk.LastWordOnTls.name) is None
            tctx.configure(addon, dejunk_dashboard="dejunk.home.arpa")
            assert isinstance(tctx.master.addons.chain[-1], dejunk.LastWordOnTls)
            tctx.configure(addon, connection_strategy="lazy")
            assert tctx.master.addons.get(dejunk.LastWordOnTls.name) is None
        finally:
            addon.done()
