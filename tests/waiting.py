"""Waiting for something another process or thread does: polled, with a deadline."""

from __future__ import annotations

import time


def wait_until(predicate, seconds: float, step: float = 0.05):
    """The first true value `predicate()` gives within `seconds` (polled every `step`), else its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
