"""The PostgreSQL backend's own cases: hidden passwords, an unreachable server, a lost connection, proxies starting at once."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from filters.state import postgres
from filters.state.postgres import PostgresUnavailable, shown, translate
from filters.state.store import StateStore

STATE_BACKENDS = ("postgresql",)  # the conftest runs these on PostgreSQL only


def test_placeholders_and_percent_signs_are_translated():
    assert translate("SELECT n FROM t WHERE a = ? AND b LIKE 'x%'") == "SELECT n FROM t WHERE a = %s AND b LIKE 'x%%'"


def test_a_password_never_shows():
    assert shown("postgresql://dejunk:s3cret@db.test:5432/state") == "postgresql://dejunk:***@db.test:5432/state"
    assert shown("postgresql://db.test/state") == "postgresql://db.test/state"


def test_an_unreachable_server_stops_the_start_saying_why_without_the_password(postgres_server):
    closed = postgres_server.url("postgres", password="s3cret").replace(f":{postgres_server.port}/", ":1/")
    with pytest.raises(PostgresUnavailable) as caught:
        StateStore.open(closed)
    message = str(caught.value)
    assert "cannot connect to the state database postgresql://postgres:***@127.0.0.1:1/postgres" in message
    assert "s3cret" not in message


def test_without_psycopg_it_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(PostgresUnavailable, match=r'pip install "psycopg\[binary\]"'):
        StateStore.open("postgresql://127.0.0.1:1/x")


def test_two_proxies_on_two_machines_share_config_and_sum_statistics(postgres_server):
    url = postgres_server.new_database()
    first, second = StateStore.open(url, worker="a", flush_interval=0), StateStore.open(url, worker="b", flush_interval=0)
    try:
        version = second.version()
        assert first.allow("news.test") and first.set_override("shop.test", "cookie", "accept")
        assert second.version() == version + 2
        assert second.allowed() == ["news.test"] and second.overrides() == {"shop.test": {"cookie": "accept"}}
        first.count(requests=4, blocked=1, blocked_host="ads.test", rule="||ads.test^")
        second.count(requests=6, blocked=2, blocked_host="ads.test", rule="||ads.test^")
        first.flush()
        second.flush()
        for store in (first, second):
            assert store.totals()["requests"] == 10 and store.top_blocked_hosts() == [["ads.test", 2]]
    finally:
        first.close()
        second.close()


def test_a_lost_connection_keeps_the_counts_and_is_opened_again(postgres_server, caplog):
    import psycopg

    url = postgres_server.new_database()
    store = StateStore.open(url, worker="a", flush_interval=0)
    try:
        store.count(requests=3)
        pid = store.backend._db.info.backend_pid
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # as a server restart does to a session
        with caplog.at_level(logging.WARNING, "dejunk"):
            store.flush()
        assert any("cannot write statistics" in r.getMessage() for r in caplog.records)
        store.flush()  # a new connection, and the counts kept
        assert store.totals()["requests"] == 3 and store.backend._db.info.backend_pid != pid
        with psycopg.connect(url) as look:
            assert look.execute("SELECT SUM(requests) FROM totals").fetchone()[0] == 3
    finally:
        store.close()


def test_proxies_starting_at_once_create_the_tables_once(postgres_server):
    url = postgres_server.new_database()
    stores, errors = [], []

    def start():
        try:
            stores.append(StateStore.open(url, flush_interval=0))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == [] and len(stores) == 6
        assert {store.version() for store in stores} == {0}
    finally:
        for store in stores:
            store.close()


def test_the_backend_seam_is_the_same_as_sqlites():
    from filters.state.sqlite import SqliteBackend

    for name in ("rows", "run", "run_many", "transaction", "add_sql", "insert_new_sql", "put_sql", "close"):
        assert callable(getattr(postgres.PostgresBackend, name)), name
        assert callable(getattr(SqliteBackend, name)), name
    assert postgres.PostgresBackend.add_sql("t", ("k",), ("n",)) == SqliteBackend.add_sql("t", ("k",), ("n",))


def test_the_tests_kept_to_sqlite_exist():
    # A renamed SQLite-file test must not slip onto PostgreSQL unnoticed (it would fail there, not skip).
    from tests.state import conftest, test_store

    assert all(callable(getattr(test_store, name, None)) for name in conftest.SQLITE_FILE_TESTS)
