"""Reading the pickles dejunk keeps on disk (the compiled engine, the generic cosmetic index), and making the
long-lived objects of an engine without the cyclic collector's rescans."""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def making_long_lived() -> Iterator[None]:
    """The cyclic collector paused while many long-lived objects are made, then those put in its oldest generation."""
    # Hundreds of thousands of small objects, none of them in cycles: the collector would rescan them over and
    # over while they are made (three times slower), and once back on, its first young collection would walk
    # them all. Freezing then unfreezing moves every tracked object to the oldest generation at once.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def read_pickle(f):
    """`pickle.load(f)` with the cyclic garbage collector paused."""
    with making_long_lived():
        return pickle.load(f)
