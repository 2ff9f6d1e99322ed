"""Reading the pickles dejunk keeps on disk (the compiled engine, the generic cosmetic index)."""

from __future__ import annotations

import gc
import pickle


def read_pickle(f):
    """`pickle.load(f)` with the cyclic garbage collector paused."""
    # Unpickling allocates hundreds of thousands of objects; the collector would rescan them over
    # and over (three times slower).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return pickle.load(f)
    finally:
        if collecting:
            gc.enable()
