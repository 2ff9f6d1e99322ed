"""Every state store test runs on each backend: SQLite, and PostgreSQL on a server started here on loopback.

A test opens stores with `StateStore.open(folder)`; on PostgreSQL each folder stands for a fresh
database of its own (the same folder, the same database: reopening works as with the file), and a
test module's `rows(folder, sql)` (a look at the SQLite file) asks that database instead. Tests
of the SQLite file itself are SQLite's only. A module may name the backends it is about in
`STATE_BACKENDS`. Without PostgreSQL (Debian: apt-get install postgresql) or psycopg those runs
skip, saying so; in CI (which installs both) they fail instead.
"""

from __future__ import annotations

import os

import pytest

from filters.state.postgres import is_postgres
from filters.state.store import StateStore


BACKENDS = ("sqlite", "postgresql")
# Tests of the SQLite file (its bytes, its pages, its permissions): nothing of them applies to a server.
SQLITE_FILE_TESTS = {
    "test_garbage_in_the_file_is_moved_aside_with_a_warning_and_a_fresh_store_works",
    "test_a_damaged_page_inside_a_real_database_is_moved_aside",
    "test_an_unreadable_database_is_moved_aside",
    "test_a_folder_that_cannot_be_written_gives_a_store_in_memory_and_a_loud_warning",
}


def pytest_generate_tests(metafunc):
    if "state_backend" in metafunc.fixturenames:
        backends = getattr(metafunc.module, "STATE_BACKENDS", BACKENDS)
        if metafunc.function.__name__ in SQLITE_FILE_TESTS:
            backends = [b for b in backends if b == "sqlite"]  # no run made for a server, none skipped
        metafunc.parametrize("state_backend", backends, indirect=True)


def _pg_rows(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute(sql).fetchall()


@pytest.fixture(autouse=True)
def state_backend(request, monkeypatch):
    """The backend this run of a test uses ("sqlite" or "postgresql")."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        return backend
    server = request.getfixturevalue("postgres_server")
    databases: dict[str, str] = {}

    def url_for(folder) -> str:
        key = os.path.realpath(str(folder))
        if key not in databases:
            databases[key] = server.new_database()
        return databases[key]

    original = StateStore.open.__func__

    def open_on_postgres(cls, folder, **kwargs):
        return original(cls, folder if is_postgres(str(folder)) else url_for(folder), **kwargs)

    monkeypatch.setattr(StateStore, "open", classmethod(open_on_postgres))
    if hasattr(request.module, "rows"):
        monkeypatch.setattr(request.module, "rows", lambda folder, sql: _pg_rows(url_for(folder), sql))
    return backend
