"""Start-up benchmark: how fast dejunk is ready from its caches, against building from the lists.

    python scripts/bench.py lists [--corpus DIR] [--repeats N] [--no-proxy]

The corpus lists (EasyList, EasyPrivacy, uBlock filters, the hosts list) are served as
subscriptions from a loopback HTTP server into a fresh cache, as `scripts/lists.py update` would.
Printed, each a median over the repeats, measured side by side in this run:

- subscriptions: first download of all lists, a refresh when they are due and unchanged (304),
  and a refresh when nothing is due;
- engine: build from the cached lists (network rules and cosmetic store) against loading the
  compiled-engine cache, and the ratio;
- proxy: a real `mitmdump -s addons/dejunk.py` subscribed to those lists, from its start until it
  listens, with no compiled engine yet against with one (skipped with --no-proxy).
"""

from __future__ import annotations

import argparse
import http.server
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filters.lists import subscriptions as subs  # noqa: E402
from filters.engine import Engine  # noqa: E402
from filters.lists.listset import plan_lists  # noqa: E402

LISTS = ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt", "hosts.txt")
LISTENING = re.compile(rb"proxy listening at [^:]+:(\d+)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py lists", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=os.environ.get("DEJUNK_CORPUS", str(REPO.parent / "shared" / "corpus")),
                        help="the shared corpus folder (env DEJUNK_CORPUS; default ../shared/corpus)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement (default 5)")
    parser.add_argument("--no-proxy", action="store_true", help="skip the mitmdump start-up measurement")
    args = parser.parse_args(argv)
    lists_dir = Path(args.corpus) / "lists"
    if not all((lists_dir / name).is_file() for name in LISTS):
        print(f"bench lists: no corpus lists in {lists_dir} (use --corpus or DEJUNK_CORPUS)", file=sys.stderr)
        return 2
    repeats = max(1, args.repeats)
    with tempfile.TemporaryDirectory(prefix="dejunk-bench-lists-") as tmp:
        served = _served_lists(lists_dir, Path(tmp) / "served")
        with _serve(served) as base:
            return _run(base, Path(tmp), repeats, args.no_proxy, lists_dir)


def _served_lists(lists_dir: Path, folder: Path) -> Path:
    """The corpus lists, plus a stand-in for each file uBO's list includes (not in the corpus)."""
    folder.mkdir()
    for name in LISTS:
        shutil.copyfile(lists_dir / name, folder / name)
    for line in (lists_dir / "ublock-filters.txt").read_text(errors="replace").splitlines():
        if line.startswith("!#include "):
            included = folder / line.split(None, 1)[1].strip()
            included.write_text(f"! {included.name}: a stand-in; the corpus holds only filters.txt itself\n")
    return folder


def _run(base: str, tmp: Path, repeats: int, no_proxy: bool, lists_dir: Path) -> int:
    urls = [f"{base}/{name}" for name in LISTS]
    print(f"lists: {', '.join(LISTS)} ({sum((lists_dir / n).stat().st_size for n in LISTS) / 1e6:.1f} MB; "
          f"uBO's !#include files served as stand-ins), repeats: {repeats}\n")
    cache_dir = _bench_subscriptions(urls, tmp, repeats)
    _bench_engine(urls, cache_dir, repeats)
    if not no_proxy:
        _bench_proxy(urls, cache_dir, tmp, repeats)
    return 0


def _bench_subscriptions(urls: list[str], tmp: Path, repeats: int) -> str:
    first, not_modified, not_due = [], [], []
    cache_dir = str(tmp / "cache-0")
    for i in range(repeats):
        cache_dir = str(tmp / f"cache-{i}")
        first.append(_timed(lambda: _check(subs.update(urls, cache_dir))))
        later = time.time() + 30 * 24 * 3600  # every list due again; the server answers 304
        not_modified.append(_timed(lambda: _check(subs.update(urls, cache_dir, now=later))))
        not_due.append(_timed(lambda: subs.refresh_due(urls, cache_dir, now=later)))
    print("subscriptions (loopback server)         median")
    print(f"  first download of all lists          {_s(first)}")
    print(f"  refresh, due but unchanged (304)     {_s(not_modified)}   {statistics.median(not_modified) / statistics.median(first):.2f} of a first download")
    print(f"  refresh, nothing due                 {_ms(not_due)}")
    print()
    return cache_dir


def _bench_engine(urls: list[str], cache_dir: str, repeats: int) -> None:
    paths = list(plan_lists(urls, [], cache_dir).paths)
    built, loaded = [], []
    for i in range(repeats):
        compiled = os.path.join(cache_dir, f"compiled-{i}")
        built.append(_timed(lambda: Engine.from_lists(paths)))
        Engine.from_lists(paths, cache_dir=compiled)  # writes the compiled engine
        loaded.append(_timed(lambda: Engine.from_lists(paths, cache_dir=compiled)))
    ratio = statistics.median(loaded) / statistics.median(built)
    print("engine (network rules + cosmetic store)  median")
    print(f"  build from the cached lists          {_s(built)}")
    print(f"  load the compiled-engine cache       {_s(loaded)}   ratio {ratio:.3f} of a build")
    print()


def _bench_proxy(urls: list[str], cache_dir: str, tmp: Path, repeats: int) -> None:
    mitmdump = shutil.which("mitmdump", path=str(Path(sys.executable).parent)) or shutil.which("mitmdump")
    if mitmdump is None:
        print("proxy: skipped (no mitmdump next to this Python)")
        return
    cold, warm = [], []
    for i in range(repeats):
        compiled = Path(cache_dir) / "compiled"
        shutil.rmtree(compiled, ignore_errors=True)
        cold.append(_start_proxy(mitmdump, urls, cache_dir, tmp / f"conf-{i}"))
        warm.append(_start_proxy(mitmdump, urls, cache_dir, tmp / f"conf-{i}"))
    print("proxy: mitmdump -s addons/dejunk.py, start until listening   median")
    print(f"  no compiled engine (builds it)       {_s(cold)}")
    print(f"  compiled engine cached               {_s(warm)}   ratio {statistics.median(warm) / statistics.median(cold):.2f}")


def _start_proxy(mitmdump: str, urls: list[str], cache_dir: str, confdir: Path) -> float:
    args = [mitmdump, "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={confdir}",
            "-s", str(REPO / "addons" / "dejunk.py"), "--set", f"dejunk_cache={cache_dir}"]
    for url in urls:
        args += ["--set", f"dejunk_lists={url}"]
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    output = b""
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"mitmdump exited:\n{output.decode(errors='replace')}")
            output += line
            if LISTENING.search(line):
                return time.perf_counter() - started
        raise RuntimeError("mitmdump did not listen within 60 s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _serve:
    """Serve a folder on a free loopback port for the duration of a with-block."""

    def __init__(self, folder: Path):
        handler = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(folder)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _check(results) -> None:
    for result in results:
        if not result.ok:
            raise RuntimeError(result.describe())


def _timed(job) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def _s(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} s"


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.2f} ms"
