"""Proxies on several machines sharing one state in PostgreSQL (`dejunk_state=postgresql://...`).

Two mitmdumps stand for two machines; the PostgreSQL server is the session's (tests/conftest.py).
"""

from __future__ import annotations

import time

import pytest

from filters.state.store import StateStore

from .harness import Proxy, fetch
from tests.waiting import wait_until


def _wait(predicate, seconds: float, step: float = 0.1):
    return wait_until(predicate, seconds, step)




@pytest.fixture(scope="module")
def database(postgres_server):
    return postgres_server.new_database()


@pytest.fixture(scope="module")
def machines(workdir, test_list, database):
    started = []
    try:
        for name in ("a", "b"):
            started.append(Proxy(workdir, name=f"machine-{name}", options={
                "dejunk_lists": [test_list], "dejunk_state": database, "dejunk_worker": name}))
        yield started
    finally:
        for proxy in started:
            proxy.stop()


def test_a_site_allowed_on_one_machine_is_allowed_on_the_other_and_counts_add_up(machines, origin, database):
    url = f"http://ads.test:{origin.port}/ad.js"
    assert [fetch(proxy, url).status for proxy in machines] == [403, 403]
    # What dejunk.allow (or the dashboard) on some machine does: a write to the shared store.
    store = StateStore.open(database, worker="admin", flush_interval=0)
    try:
        store.allow("ads.test")
        started = time.monotonic()
        assert _wait(lambda: [fetch(proxy, url).status for proxy in machines] == [200, 200], 15)
        assert time.monotonic() - started < 5
        # Each machine writes its counts under its own name (every few seconds); reads sum them.
        assert _wait(lambda: {w for w, n in store.backend.rows("SELECT worker, requests FROM totals") if n} >= {"a", "b"}
                     and store.totals()["requests"] >= 4, 15, 0.2), store.totals()
    finally:
        store.unallow("ads.test")
        store.close()


def test_an_unreachable_state_database_stops_the_start_saying_so(workdir, test_list, postgres_server):
    closed = postgres_server.url("dejunk", password="s3cret").replace(f":{postgres_server.port}/", ":1/")
    with pytest.raises(RuntimeError) as caught:
        Proxy(workdir, name="no-database", options={"dejunk_lists": [test_list], "dejunk_state": closed})
    log = str(caught.value)
    assert "dejunk_state: cannot connect to the state database postgresql://postgres:***@127.0.0.1:1/dejunk" in log
    assert "s3cret" not in log
