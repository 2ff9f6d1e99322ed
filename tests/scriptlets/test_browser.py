"""Every scriptlet case in headless Chromium: with its script the probe reads `expect`, without it `control`."""

from __future__ import annotations

import pytest

from tests.e2e.chromium import BrowserError, Chromium, find_chromium

from .batch import BROWSER_FLAGS, probe_all
from .cases import all_cases
from .origin import CaseOrigin

CASES = all_cases()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case's probe, without and with its script, loaded straight from a loopback origin."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): scriptlets are checked in a browser")
    origin = CaseOrigin(CASES)
    # Each case and run on a site of its own (`ID.test`, `ID.with.test`, resolved to the origin by the browser), as through the
    # proxy: pages loaded side by side must not share storage or cookies.
    browser = Chromium(tmp_path_factory.mktemp("scriptlets"), "direct://", name="scriptlets",
                       extra_args=("--host-resolver-rules=MAP *.test 127.0.0.1", *BROWSER_FLAGS))
    try:
        def url(case, site, query=""):
            return f"http://{site}.test:{origin.port}/case/{case.id}{query}"

        pages = [((case.id, "without"), url(case, case.id), case) for case in CASES]
        pages += [((case.id, "with"), url(case, f"{case.id}.with", "?inject=1"), case) for case in CASES]
        yield probe_all(browser, pages)
    finally:
        browser.close()
        origin.stop()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_scriptlet_changes_what_the_page_does(case, results):
    assert case.expect != case.control, "a case must tell the two runs apart"
    without, with_it = results[(case.id, "without")], results[(case.id, "with")]
    for value in (without, with_it):
        if isinstance(value, BrowserError):
            pytest.fail(f"{case.id}: {value}")
    assert without == case.control, f"{case.id}: the page without the scriptlet did not behave as expected"
    assert with_it == case.expect, f"{case.id}: the scriptlet did not do its work"
