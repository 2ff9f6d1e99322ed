"""The hostile-pages benchmark runs end to end at tiny sizes (its figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_bench_hostile_runs():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "hostile", "--bomb-mb", "8", "--page-kb", "64",
         "--repeats", "1", "--pages", "40", "--connections", "2"],
        capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for label, outcome in (("ordinary page", "rewritten"), ("gzip bomb", "passed as it came"),
                           ("brotli bomb", "passed as it came"), ("brotli page", "rewritten")):
        assert any(line.startswith(label) and line.endswith(outcome) for line in lines), (label, done.stdout)
    assert "before dejunk.reload" in done.stdout and "after  dejunk.reload" in done.stdout
