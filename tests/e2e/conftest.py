"""Fixtures for end-to-end tests: origins on loopback, a filter list, dejunk in a real mitmdump."""

from __future__ import annotations

import shutil

import pytest

from .harness import Proxy
from .origin import Backlogged, H2Origin, PlainHttpOnly, Silent, make_tls_context, start_origin

pytestmark = pytest.mark.e2e

TEST_LIST = """[Adblock Plus 2.0]
! Title: dejunk end-to-end test list
||ads.test^
||tracker.test^
@@||allowed.ads.test^
/adlib/*$script,redirect=noopjs
$removeparam=utm_source
/strict/$csp=script-src 'none'
##.ad-slot
"""

TEST_CONFIG = """
[groups]
good = ["good.test", "*.good.test"]
bad  = ["ads.*", "pixels.test"]

[policy.connect]
default = "accept"
reject  = ["*.forbidden.test", "forbidden.test"]

[policy.image]
default = "accept"
accept  = ["@good"]
reject  = ["@bad", "noimages.test"]

[policy.cookie]
default = "reject"
accept  = ["@good"]
reject  = ["@bad"]
"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def _curl_available():
    if shutil.which("curl") is None:
        pytest.fail("curl is required for the end-to-end tests (apt-get install curl)")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def origin():
    server = start_origin()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_origin(workdir):
    server = start_origin(make_tls_context(workdir))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def h2_origin(workdir):
    server = H2Origin(workdir)
    yield server
    server.close()


@pytest.fixture(scope="module")
def backlogged():
    port = Backlogged()
    yield port
    port.close()


@pytest.fixture(scope="module")
def silent():
    server = Silent()
    yield server
    server.close()


@pytest.fixture(scope="module")
def plain_http_only():
    server = PlainHttpOnly()
    yield server
    server.close()


@pytest.fixture(scope="module")
def test_list(workdir):
    path = workdir / "test-list.txt"
    path.write_text(TEST_LIST)
    return path


@pytest.fixture(scope="module")
def test_config(workdir):
    path = workdir / "dejunk.toml"
    path.write_text(TEST_CONFIG)
    return path


@pytest.fixture(scope="module")
def proxy(workdir, test_list, test_config):
    """dejunk with the test list and config, short timeouts, trusting the test origin's certificate."""
    instance = Proxy(
        workdir,
        options={
            "dejunk_lists": [test_list],
            "dejunk_config": test_config,
            "dejunk_connect_timeout": 2,
            "dejunk_response_timeout": 3,
            "ssl_insecure": True,
        },
    )
    yield instance
    instance.stop()
