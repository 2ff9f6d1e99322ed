"""Shared test settings: the repository root on sys.path and the third-party corpus location."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def pytest_addoption(parser):
    parser.addoption(
        "--corpus",
        default=os.environ.get("DEJUNK_CORPUS", str(REPO.parent / "shared" / "corpus")),
        help="folder of the shared third-party test corpus (env DEJUNK_CORPUS; default ../shared/corpus)",
    )


@pytest.fixture(scope="session")
def corpus(request) -> Path:
    """The corpus folder; tests that need it skip when it is absent (a user's fresh clone).

    CI sets DEJUNK_REQUIRE_CORPUS=1 so that a missing corpus fails instead of skipping silently.
    """
    path = Path(request.config.getoption("--corpus"))
    if not (path / "README.md").is_file():
        message = f"the shared corpus is not at {path} (set DEJUNK_CORPUS or --corpus)"
        if os.environ.get("DEJUNK_REQUIRE_CORPUS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


# The folders of the user's home that dejunk or mitmproxy would write to.
_HOME_PLACES = (".cache/dejunk", ".mitmproxy", ".config/dejunk", ".local/share/dejunk")


def _snapshot(home: Path) -> dict[str, float]:
    """Every file under the watched folders of `home`, with its modification time."""
    found: dict[str, float] = {}
    for place in _HOME_PLACES:
        root = home / place
        if root.exists():
            found[str(root)] = root.stat().st_mtime
            for path in root.rglob("*"):
                found[str(path)] = path.lstat().st_mtime
    return found


def pytest_configure(config):
    """Point HOME and the XDG folders at a private folder for the whole session, before any fixture.

    Tests never touch the user's home: module- and session-scoped fixtures run before any
    function-scoped one could step in, so the whole process (and every program the tests start)
    gets a home of its own from the start. The real home is watched (see pytest_sessionfinish).
    """
    # (DEJUNK_REAL_HOME stands in for the real home in the test of this guard.)
    real_home = Path(os.environ.get("DEJUNK_REAL_HOME") or pwd.getpwuid(os.getuid()).pw_dir)
    private = Path(tempfile.mkdtemp(prefix="dejunk-test-home-"))
    config._dejunk_home = (real_home, _snapshot(real_home), private, dict(os.environ))
    os.environ["HOME"] = str(private)
    for name, folder in (("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")):
        os.environ[name] = str(private / folder)
    # The named lists (the `default` set) are never downloaded from their hosts in a test run: a
    # test that wants them sets DEJUNK_FETCH_DEFAULT_LISTS=1 and DEJUNK_LIST_MIRROR to a loopback server.
    os.environ["DEJUNK_FETCH_DEFAULT_LISTS"] = "0"
    os.environ.pop("DEJUNK_LIST_MIRROR", None)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if anything under the user's real home changed while the tests ran."""
    real_home, before, private, environ = session.config._dejunk_home
    after = _snapshot(real_home)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    os.environ.clear()
    os.environ.update(environ)
    shutil.rmtree(private, ignore_errors=True)
    if changed:
        print(f"\nThe tests changed the user's home ({real_home}): " + ", ".join(changed[:10]), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_TEST_NUMBERS = itertools.count(1)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """A list and compiled-engine cache in the session's temporary folder, and a state folder of each test's own.

    The state folder holds the state store (sites allowed, statistics): one test's must not reach another.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data" / str(next(_TEST_NUMBERS))))


# A PostgreSQL server on loopback for the session, started when a test first asks for it (tests/state).
from tests.state.postgres_server import postgres_server  # noqa: E402

__all__ = ["postgres_server"]


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """The system's Chromium for browser tests: they skip without it, and fail in CI, which installs it."""
    from tests.e2e.chromium import find_chromium

    binary = find_chromium()
    if binary is None:
        message = "Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install it (.ci/run)")
        pytest.skip(message)
    return binary
