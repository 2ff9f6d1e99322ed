"""Many cases' probes in one browser, loaded side by side in batches (a page per tab)."""

from __future__ import annotations

from tests.e2e.chromium import BrowserError

from .cases import Case

BATCH = 12  # tabs at once: on two cores more only queue
# For the browser that loads the batches: a dozen tabs of a dozen sites share four renderer processes
# instead of starting one each per batch (a third of the time on two cores; each page is still its own).
BROWSER_FLAGS = ("--renderer-process-limit=4",)


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
                    found[key] = tab.evaluate(case.probe)
                except BrowserError as error:
                    found[key] = error
                finally:
                    tab.close()
    return found
