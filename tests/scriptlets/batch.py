"""Many cases' probes in one browser, loaded side by side in batches (a page per tab)."""

from __future__ import annotations

import time

from tests.e2e.chromium import BrowserError

from .cases import Case

BATCH = 12  # tabs at once: on two cores more only queue
# For the browser that loads the batches: a dozen tabs of a dozen sites share four renderer processes
# instead of starting one each per batch (a third of the time on two cores; each page is still its own).
BROWSER_FLAGS = ("--renderer-process-limit=4",)
# How long a probe that reads nothing yet, where either run should read something, is read again:
# a page's chained requests can outlast its settle time on a busy machine.
LATE_RESULT_WAIT = 10.0


def probe_all(browser, pages: list[tuple[object, str, Case]]) -> dict[object, object]:
    """For each (key, url, case): the value of the case's probe after its page loaded and settled, or the
    BrowserError. Pages that settle alike are loaded together."""
    found: dict[object, object] = {}
    by_settle: dict[tuple[bool, float], list[tuple[object, str, Case]]] = {}
    for page in pages:
        by_settle.setdefault((page[2].alone, page[2].settle), []).append(page)
    for (alone, settle), group in sorted(by_settle.items()):
        size = 1 if alone else BATCH
        for start in range(0, len(group), size):
            batch = group[start:start + size]
            tabs = browser.load_all([url for _, url, _ in batch], settle=settle)
            for (key, _, case), tab in zip(batch, tabs):
                if isinstance(tab, BrowserError):
                    found[key] = tab
                    continue
                try:
                    found[key] = _read_probe(tab, case)
                except BrowserError as error:
                    found[key] = error
                finally:
                    tab.close()
    return found


def _read_probe(tab, case: Case):
    """The probe's value; read again for a while when it is still None but neither outcome is None."""
    value = tab.evaluate(case.probe)
    if case.expect is None or case.control is None:
        return value
    deadline = time.monotonic() + LATE_RESULT_WAIT
    while value is None and time.monotonic() < deadline:
        time.sleep(0.1)
        value = tab.evaluate(case.probe)
    return value
