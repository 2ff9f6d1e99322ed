"""Pieces of the proxy benchmark that a run under load rests on (its figures are printed, never asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.e2e.harness import Proxy

REPO = Path(__file__).resolve().parents[2]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_proxy_under_test", REPO / "scripts" / "bench_proxy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_instructions_are_read_per_thread_from_the_first_dump_only(tmp_path):
    out = tmp_path / "callgrind-dejunk.out"
    for name, text in {
        "callgrind-dejunk.out.1-01": "events: Ir\nfn=(1) main\n16 5\ntotals: 16667912278\n",
        "callgrind-dejunk.out.1-02": "events: Ir\ntotals: 1250\n",
        "callgrind-dejunk.out.2-01": "totals: 99\n",  # a later dump
        "callgrind-dejunk.out-01": "totals: 7\n",  # what the process wrote at its exit
        "callgrind-bare.out.1-01": "totals: 5\n",  # another proxy's
    }.items():
        (tmp_path / name).write_text(text)
    assert _bench_module().callgrind_totals(out) == {"01": 16667912278, "02": 1250}
    assert _bench_module().callgrind_totals(tmp_path / "callgrind-empty.out") == {}


def test_a_proxy_started_through_a_prefix_runs_mitmdump_as_a_python_script(tmp_path):
    # How the benchmark starts a proxy under callgrind; `env` stands in for valgrind here.
    proxy = Proxy(tmp_path, dejunk=False, name="prefixed", prefix=["env"])
    try:
        assert proxy.args[:3] == ["env", sys.executable, Proxy.program]
        assert proxy.port > 0 and proxy.process.poll() is None
    finally:
        proxy.stop()
