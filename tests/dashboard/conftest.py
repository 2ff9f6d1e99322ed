"""A dashboard over a real state store, engine, engines and Filtering."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from filters.dashboard.api import Api, Sources
from filters.dashboard.server import Dashboard
from filters.dashboard.static import Files
from filters.proxy.engines import Engines
from filters.proxy.filtering import Filtering
from filters.proxy.upstream import UpstreamWatch
from filters.reports.bisection import Bisection
from filters.state.store import StateStore

TOKEN = "test-token"
LIST = """! Title: dashboard test list
! Version: 7
||ads.test^
/adlib/*$script,redirect=noopjs
@@||ok.ads.test^
||bad.test^$unknownoption
"""


@pytest.fixture
def world(tmp_path):
    list_path = tmp_path / "list.txt"
    list_path.write_text(LIST)
    myfilters = tmp_path / "mine" / "my-filters.txt"
    myfilters.parent.mkdir()
    myfilters.write_text("! mine\n")
    filtering = Filtering(UpstreamWatch(lambda: None), rewrite_pool=lambda: None)
    engines = Engines(on_engine=lambda engine: setattr(filtering, "engine", engine))
    store = StateStore.open(str(tmp_path / "state"))
    configured = ["configured.test"]
    filtering.store, filtering.configured_allow = store, configured
    filtering.apply_state()
    arguments = lambda: ([str(list_path), *store.subscriptions()], None, str(tmp_path / "cache"), [], str(myfilters))  # noqa: E731
    engines.load(*arguments())
    changes = []

    def sites_changed():
        changes.append(store.allowed())
        filtering.apply_state()

    sources = Sources(filtering=filtering, engines=engines, store=lambda: store,
                      configured_allow=lambda: configured, sites_changed=sites_changed,
                      list_arguments=arguments, myfilters=lambda: str(myfilters),
                      bisection=Bisection(filtering, lambda: engines.engine))
    dashboard = Dashboard(Api(sources), token=TOKEN)
    dashboard.configure("dejunk.home.arpa", "")
    yield SimpleNamespace(dashboard=dashboard, api=dashboard.api, filtering=filtering, engines=engines, store=store,
                          bisection=sources.bisection,
                          changes=changes, myfilters=myfilters, list_path=list_path, tmp_path=tmp_path)
    engines.close()
    store.close()


def call(dashboard, method, target, body=b"", **headers):
    """`Dashboard.handle` run to its end; headers given as keyword arguments (x_dejunk_token=...)."""
    found = {name.replace("_", "-").lower(): [value] for name, value in headers.items()}
    return asyncio.run(dashboard.handle(method, target, found, body))


def pages(tmp_path) -> Files:
    (tmp_path / "ui").mkdir(exist_ok=True)
    (tmp_path / "ui" / "index.html").write_text('<meta name="dejunk-token" content="__DEJUNK_TOKEN__">')
    (tmp_path / "ui" / "app.js").write_text("console.log(1)")
    return Files(str(tmp_path / "ui"))
