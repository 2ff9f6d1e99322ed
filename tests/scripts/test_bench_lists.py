"""The start-up benchmark runs end to end (its figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_lists_runs(corpus):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "lists", "--corpus", str(corpus), "--repeats", "1", "--no-proxy"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for line in ("first download of all lists", "refresh, due but unchanged (304)", "load the compiled-engine cache"):
        assert line in done.stdout
