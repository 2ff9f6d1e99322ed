"""The state store through a real mitmdump: a site allowed by command stays allowed after a restart; a damaged
database is moved aside and the proxy starts and filters."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from .harness import Proxy, fetch

CONTROL = Path(__file__).resolve().parent / "control.py"


@pytest.fixture(scope="module")
def state_dir(workdir) -> Path:
    # The default state folder: $XDG_DATA_HOME/dejunk, which the harness points into the workdir.
    return workdir / "xdg-data" / "dejunk"


def start(workdir, test_list, name: str) -> Proxy:
    return Proxy(workdir, name=name, options={"dejunk_lists": [test_list]}, scripts=[CONTROL])


def ad(proxy: Proxy, origin) -> int:
    return fetch(proxy, f"http://ads.test:{origin.port}/ad.js", headers={"Sec-Fetch-Dest": "script"},
                 max_time=10).status


def test_a_site_allowed_by_command_still_passes_after_a_restart(workdir, test_list, origin, state_dir):
    proxy = start(workdir, test_list, "first")
    try:
        assert ad(proxy, origin) == 403
        said = fetch(proxy, "http://dejunk-control.test/allow?ads.test", max_time=10)
        assert said.status == 200 and said.text().startswith("dejunk: stepping aside on ads.test"), said.text()
        assert ad(proxy, origin) == 200
    finally:
        proxy.stop()
    assert proxy.process.returncode == 0, proxy.log()
    # Written to the database; the statistics were written when the proxy stopped.
    with sqlite3.connect(state_dir / "state.db") as db:
        assert db.execute("SELECT site FROM allowed").fetchall() == [("ads.test",)]
        assert db.execute("SELECT SUM(requests), SUM(blocked) FROM totals").fetchone() == (3, 1)
        assert db.execute("SELECT name, n FROM top_hosts").fetchall() == [("ads.test", 1)]
    again = start(workdir, test_list, "again")
    try:
        assert ad(again, origin) == 200
        said = fetch(again, "http://dejunk-control.test/reload", max_time=10)
        assert said.status == 200 and ad(again, origin) == 200  # a reload keeps it too
        said = fetch(again, "http://dejunk-control.test/unallow?ads.test", max_time=10)
        assert said.text() == "dejunk: filtering ads.test again"
        assert ad(again, origin) == 403
    finally:
        again.stop()


def test_a_damaged_state_database_is_moved_aside_and_the_proxy_starts_and_filters(workdir, test_list, origin,
                                                                                   state_dir):
    state_dir.mkdir(parents=True, exist_ok=True)
    for leftover in state_dir.glob("state.db*"):
        leftover.unlink()
    (state_dir / "state.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    proxy = start(workdir, test_list, "damaged")
    try:
        assert re.search(r"dejunk: the state database .*state\.db could not be used .*: moved aside to .*"
                         r"state\.db\.corrupt-\d{8}T\d{6}; started a fresh one", proxy.log()), proxy.log()
        assert ad(proxy, origin) == 403
        said = fetch(proxy, "http://dejunk-control.test/allow?ads.test", max_time=10)
        assert said.status == 200 and ad(proxy, origin) == 200
        status = fetch(proxy, "http://dejunk-control.test/status", max_time=10).text()
        assert "moved aside" in status and status.startswith("dejunk: filtering")
    finally:
        proxy.stop()
    assert [p.name for p in state_dir.glob("state.db.corrupt-*")]
    with sqlite3.connect(state_dir / "state.db") as db:
        assert db.execute("SELECT site FROM allowed").fetchall() == [("ads.test",)]
