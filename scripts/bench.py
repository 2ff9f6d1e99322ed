#!/usr/bin/env python3
"""Benchmarks, each printing figures measured side by side in one run (medians and ratios).

    python scripts/bench.py engine   [options]   network engine vs adblock-rust, uBO's and Ghostery's engines
    python scripts/bench.py rewrite  [options]   page rewriting vs a bare BeautifulSoup parse
    python scripts/bench.py proxy    [options]   mitmdump with and without dejunk under load (--instructions N: counted by callgrind; --workers 1,2: serve.py scaling)
    python scripts/bench.py lists    [options]   start-up from the list and engine caches
    python scripts/bench.py hostile  [options]   decompression bombs, a big brotli page, a reload: stalls, memory, pages/s

`python scripts/bench.py NAME --help` lists a benchmark's options.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

BENCHMARKS = ("engine", "rewrite", "proxy", "lists", "hostile")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here.parent), str(here)]
    module = importlib.import_module(f"bench_{argv[0]}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
