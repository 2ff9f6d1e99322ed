"""The PostgreSQL backend of the state store, for proxies on several machines sharing one state.

    dejunk_state=postgresql://user:password@db.example:5432/dejunk     (needs psycopg: pip install "psycopg[binary]")

It has the SQLite backend's methods (see `filters.state.sqlite`) and takes the same SQL: `?`
placeholders become psycopg's `%s`, the upserts are the same `ON CONFLICT` statements (PostgreSQL
has had them since 9.5), and the schema is the store's portable one. One connection per store,
used under the store's lock, in autocommit with explicit transactions. A connection that broke
(the server restarted, the network went away) is opened again at the next call; the call that
found it broken raises `Error`, which the store handles as it handles a failed SQLite write
(statistics kept in memory and retried).

Unlike a damaged SQLite file, a server that cannot be reached when the proxy starts is not worked
around: `open_postgres` raises `PostgresUnavailable` saying why, and the proxy does not start
(several proxies each keeping a state of their own would silently disagree).
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urlsplit, urlunsplit

from .upserts import PortableUpserts

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT = 10  # seconds
INSTALL_HINT = 'the PostgreSQL state backend needs psycopg: pip install "psycopg[binary]"'


class PostgresUnavailable(Exception):
    """The database cannot be used; the message says which (password hidden) and why."""


def is_postgres(location: str) -> bool:
    return location.startswith(SCHEMES)


def shown(url: str) -> str:
    """The URL with any password replaced by ***, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


_PLACEHOLDER = re.compile(r"\?")


def translate(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (a literal % doubled). The store's SQL has no `?` inside strings."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class PostgresBackend(PortableUpserts):
    """One psycopg connection, shared by the store's threads under the store's lock."""

    name = "postgresql"
    persistent = True

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise PostgresUnavailable(INSTALL_HINT) from None
        self._psycopg = psycopg
        self.Error = psycopg.Error
        self.url = url
        self.location = shown(url)
        self._sql: dict[str, str] = {}
        self._db = self._connect()

    def _connect(self):
        return self._psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                     application_name="dejunk")

    def _connection(self):
        if self._db.closed or self._db.broken:
            self._db = self._connect()
        return self._db

    def _translated(self, sql: str) -> str:
        found = self._sql.get(sql)
        if found is None:
            found = self._sql[sql] = translate(sql)
        return found

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._connection().cursor() as cursor:
            cursor.execute(self._translated(sql), params)
            return cursor.fetchall() if cursor.description is not None else []

    def run(self, sql: str, params: tuple = ()) -> int:
        with self._connection().cursor() as cursor:
            cursor.execute(self._translated(sql), params)
            return cursor.rowcount

    def run_many(self, sql: str, seq) -> None:
        with self._connection().cursor() as cursor:
            cursor.executemany(self._translated(sql), list(seq))

    @contextlib.contextmanager
    def transaction(self):
        # READ COMMITTED, as PostgreSQL defaults: each upsert and each version bump locks its row,
        # so two proxies' read-modify-write steps on one row do not interleave.
        with self._connection().transaction():
            yield


    def close(self) -> None:
        self._db.close()


def open_postgres(url: str, prepare) -> tuple[PostgresBackend, None]:
    """The backend for `url`, with `prepare(backend)` (the schema) done. PostgresUnavailable when it cannot be used."""
    try:
        backend = PostgresBackend(url)
    except PostgresUnavailable:
        raise
    except Exception as e:  # psycopg's OperationalError, or a URL it cannot parse
        raise PostgresUnavailable(f"cannot connect to the state database {shown(url)}: {_reason(e)}") from None
    try:
        # Two proxies starting at once create the tables at once: serialise that on a lock of the database's.
        with backend.transaction():
            backend.run("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            prepare(backend)  # its own transaction() nests as a savepoint
    except Exception as e:
        backend.close()
        raise PostgresUnavailable(f"cannot prepare the state database {shown(url)}: {_reason(e)}") from None
    return backend, None


_SCHEMA_LOCK = 0x64656A756E6B  # "dejunk": the advisory lock taken while the tables are created


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
