"""Fixtures for the command-line tools' tests: a loopback list server and the children's environment."""

from __future__ import annotations

import os

import pytest

from tests.list_server import ListServer


@pytest.fixture
def server():
    with ListServer() as running:
        yield running


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A child process's environment: no proxies (loopback only), a private home and user cache folder."""
    child = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    child["HOME"] = str(tmp_path / "home")
    child["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    return child
