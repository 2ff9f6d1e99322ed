"""Every scriptlet case in headless Chromium: with its script the probe reads `expect`, without it `control`."""

from __future__ import annotations

import pytest

from tests.e2e.chromium import BrowserError, Chromium, find_chromium

from .cases import all_cases
from .origin import CaseOrigin

CASES = all_cases()


@pytest.fixture(scope="module")
def origin():
    served = CaseOrigin(CASES)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): scriptlets are checked in a browser")
    started = Chromium(tmp_path_factory.mktemp("scriptlets"), "direct://", name="scriptlets")
    yield started
    started.close()


def probe(browser, url: str, case):
    tab = browser.open("about:blank")
    try:
        tab.load(url, settle=case.settle)
        return tab.evaluate(case.probe)
    finally:
        tab.close()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_scriptlet_changes_what_the_page_does(case, origin, browser):
    assert case.expect != case.control, "a case must tell the two runs apart"
    base = f"http://127.0.0.1:{origin.port}/case/{case.id}"
    try:
        without = probe(browser, base, case)
        with_it = probe(browser, base + "?inject=1", case)
    except BrowserError as error:
        pytest.fail(f"{case.id}: {error}")
    assert without == case.control, f"{case.id}: the page without the scriptlet did not behave as expected"
    assert with_it == case.expect, f"{case.id}: the scriptlet did not do its work"
