"""Which `hotpath` the engine runs: the compiled extension when it was built from the source beside
it, else that source as plain Python (slower, deciding the same way).

setup.py compiles `hotpath.py` (with the C types of `hotpath.pxd`) and writes the SHA-256 of the
two files into `hotpath.built-from` beside the extension. A compiled module whose digest differs
from its source's (the source was edited or updated after the build) is not used: it would run
the old code. `DEJUNK_HOT_PATH=plain` in the environment chooses the source whatever was built (to
compare the two). `HOT_PATH` says what was chosen and why, for the log, `dejunk --version` and the bench.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

_HERE = Path(__file__).parent
SOURCES = ("hotpath.py", "hotpath.pxd")  # what setup.py hashes, in this order
DIGEST_FILE = "hotpath.built-from"
REBUILD = "python setup.py build_ext --inplace"


def source_digest() -> str:
    """SHA-256 of the hot path's source files, as setup.py computes it."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((_HERE / name).read_bytes())
    return digest.hexdigest()


def _load():
    """(module, status, whether a compiled module is there but unusable): the compiled hot path if it
    matches its source, else the source."""
    from . import hotpath

    if not hotpath.COMPILED:
        return hotpath, "plain Python (not compiled)", False
    if os.environ.get("DEJUNK_HOT_PATH") == "plain":
        return _source_module(hotpath.__name__), "plain Python (chosen by DEJUNK_HOT_PATH=plain)", False
    try:
        built_from = (_HERE / DIGEST_FILE).read_text(encoding="ascii").strip()
        current = source_digest()
    except OSError as error:
        reason = f"cannot tell what the compiled module was built from: {error}"
    else:
        if built_from == current:
            return hotpath, "compiled", False
        reason = f"the compiled module was built from another hotpath.py; rebuild it: {REBUILD}"
    return _source_module(hotpath.__name__), f"plain Python ({reason})", True


def _source_module(name: str):
    """hotpath.py loaded under `name`, in place of the compiled extension."""
    spec = importlib.util.spec_from_file_location(name, _HERE / "hotpath.py")
    plain = importlib.util.module_from_spec(spec)
    sys.modules[name] = plain
    spec.loader.exec_module(plain)
    setattr(sys.modules[__package__], "hotpath", plain)
    return plain


# UNUSED_BUILD: a compiled module is there but not used, worth a warning (it is not the speed built for).
hotpath, HOT_PATH, UNUSED_BUILD = _load()
