"""Reading the pickles dejunk keeps on disk (the compiled engine, the generic cosmetic index), and the cyclic
collector around an engine's long-lived objects: paused while they are made, kept off them in a running proxy."""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator
from contextlib import contextmanager


# Set by `settle_heap`: what it froze on purpose stays frozen through later builds.
_heap_settled = False


@contextmanager
def making_long_lived() -> Iterator[None]:
    """The cyclic collector paused while many long-lived objects are made, then those put in its oldest generation."""
    # Hundreds of thousands of small objects, none of them in cycles: the collector would rescan them over and
    # over while they are made (three times slower), and once back on, its first young collection would walk
    # them all. Freezing then unfreezing moves every tracked object to the oldest generation at once; not once
    # `settle_heap` froze the engine in use, which unfreezing would put back in sight of every full collection.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if not _heap_settled:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def settle_heap() -> None:
    """After an engine is built or swapped in a long-running proxy: move what is alive out of the collector's sight.

    An engine holds a few hundred thousand long-lived objects; without this every full collection
    walks them all, while the proxy serves requests. Objects die by reference counting as before.
    """
    global _heap_settled
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _heap_settled = True


def read_pickle(f):
    """`pickle.load(f)` with the cyclic garbage collector paused."""
    with making_long_lived():
        return pickle.load(f)
