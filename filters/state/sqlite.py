"""The SQLite backend of the state store: the connection, its placeholders and upserts, and opening a damaged file.

Everything SQLite-specific sits here; `store` speaks to any backend with these methods:

    name, location, persistent, Error (the exception class its failures raise)
    rows(sql, params) -> list[tuple]          run(sql, params) -> rows changed
    run_many(sql, seq)                        transaction() (a context manager; commits or rolls back)
    add_sql(table, keys, counts)              INSERT that adds `counts` to an existing row's
    insert_new_sql(table, columns, keys)      INSERT that leaves an existing row alone
    put_sql(table, columns, keys)             INSERT that replaces an existing row's other columns
    close()

SQL given to `rows`/`run` uses `?` placeholders; a backend with another style translates them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time

from .upserts import PortableUpserts


# The addon's logger (it makes every message printable: paths may hold anything).
logger = logging.getLogger("dejunk")

DB_NAME = "state.db"
MEMORY = ":memory:"
# Another process holding the write lock is waited for this long (seconds) before a write fails.
BUSY_SECONDS = 2.0


class SqliteBackend(PortableUpserts):
    """One SQLite connection (WAL mode), shared by the store's threads under the store's lock."""

    name = "sqlite"
    Error = sqlite3.Error

    def __init__(self, location: str):
        self.location = location
        self.persistent = location != MEMORY
        # Autocommit: transactions are explicit (`transaction`), so a read never holds a lock.
        self._db = sqlite3.connect(location, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            if self.persistent:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise sqlite3.OperationalError(f"cannot use WAL mode (journal mode is {mode})")
                # In WAL mode a commit is durable at the next checkpoint: a power cut may lose the last
                # seconds of counts, never the file.
                self._db.execute("PRAGMA synchronous=NORMAL")
            found = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if found != "ok":
                raise sqlite3.DatabaseError(f"damaged: {found}")
        except BaseException:
            self._db.close()
            raise

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._db.execute(sql, params).fetchall()

    def run(self, sql: str, params: tuple = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def run_many(self, sql: str, seq) -> None:
        self._db.executemany(sql, seq)

    @contextlib.contextmanager
    def transaction(self):
        # IMMEDIATE: the write lock is taken at the start, so read-modify-write steps of two
        # processes sharing the file cannot interleave.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


    def close(self) -> None:
        self._db.close()


def open_sqlite(folder: str, prepare, clock=time.time) -> tuple[SqliteBackend, str | None]:
    """The backend for `<folder>/state.db`, with `prepare(backend)` (the schema) done; and a problem, if any.

    A file SQLite cannot use (not a database, damaged, from a failed write) is moved aside as
    `state.db.corrupt-<time>` and a fresh one started; if that fails too (a folder that cannot be
    written), the store lives in memory for this run. Either way it is said once, as a warning
    (an error logged while mitmproxy starts would stop the start), and never raised.
    """
    path = os.path.join(folder, DB_NAME)
    try:
        os.makedirs(folder, exist_ok=True)
        return _ready(SqliteBackend(path), prepare), None
    except (sqlite3.Error, OSError) as e:
        first = _reason(e)
    aside = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(clock()))}"
    try:
        moved = _move_aside(path, aside)
        backend = _ready(SqliteBackend(path), prepare)
    except (sqlite3.Error, OSError) as e:
        problem = (f"the state database {path} cannot be used ({first}), and no fresh one can be made there "
                   f"({_reason(e)}): KEEPING STATE IN MEMORY ONLY: site toggles, overrides and statistics made "
                   "now are LOST when the proxy stops (set dejunk_state to a folder dejunk can write)")
        logger.warning(f"dejunk: {problem}")
        return _ready(SqliteBackend(MEMORY), prepare), problem
    where = f"moved aside to {aside}" if moved else "nothing to move aside"
    problem = f"the state database {path} could not be used ({first}): {where}; started a fresh one"
    logger.warning(f"dejunk: {problem}")
    return backend, problem


def _ready(backend: SqliteBackend, prepare) -> SqliteBackend:
    try:
        prepare(backend)
    except BaseException:
        backend.close()
        raise
    return backend


def _move_aside(path: str, aside: str) -> bool:
    """Rename the database and its WAL files; whether there was a database to move."""
    moved = False
    for suffix in ("", "-wal", "-shm"):
        if os.path.lexists(path + suffix):
            os.replace(path + suffix, aside + suffix)
            moved = True
    return moved


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
