"""The engine benchmark runs end to end, and says `not measured` of every target it did not measure."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_engine.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_engine_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_marks_what_it_left_out(corpus):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "engine", "--corpus", str(corpus), "--quick",
         "--repeats", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "EasyList + EasyPrivacy + uBO filters + hosts" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ours ") or line.startswith("  adblock-rust ")}
    assert set(rows) == {"ours", "adblock-rust"}
    assert "Node contenders (uBO, Ghostery): left out" in out
    targets = out[out.index("\ntargets") + 1:].splitlines()[1:]
    assert len(targets) == 8
    for line in targets:
        if line.lstrip().startswith("2M hosts"):
            assert line.endswith("not measured in this run"), line
        else:
            assert line.endswith(" met") or line.endswith(" MISSED"), line


def test_big_hosts_list_is_deterministic(tmp_path):
    bench = _bench_module()
    corpus_hosts = tmp_path / "hosts.txt"
    corpus_hosts.write_text("# a hosts list\n0.0.0.0 ads.example.com\n", encoding="utf-8")
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    bench.write_big_hosts(corpus_hosts, first, 5000)
    bench.write_big_hosts(corpus_hosts, second, 5000)
    lines = first.read_text(encoding="utf-8").splitlines()
    assert first.read_bytes() == second.read_bytes()
    assert len(lines) == 5000
    assert lines[:2] == ["# a hosts list", "0.0.0.0 ads.example.com"]
    names = [line.split()[1] for line in lines[2:]]
    assert all(line.startswith("0.0.0.0 ") for line in lines[2:])
    assert len(set(names)) == len(names)
