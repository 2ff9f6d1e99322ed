"""Shared test settings: the repository root on sys.path and the third-party corpus location."""

from __future__ import annotations

import os
import sys
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


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Keep every test's list and compiled-engine caches out of the user's real cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
