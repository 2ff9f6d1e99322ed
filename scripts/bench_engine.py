"""Network engine benchmark: dejunk's engine against Brave's adblock-rust (PyPI `adblock`), side by side.

    python scripts/bench.py engine [--corpus DIR] [--repeats N]

Prints, for EasyList + EasyPrivacy: build time from text (with the cosmetic store, as the proxy
loads it, and for the network rules alone), load time from the compiled-engine cache, memory
held by the engine with its cosmetic store (tracemalloc: Python allocations made by the build and kept by
the engine, then again after every rule a request reached was compiled), and mean / p50 / p99 µs
per request over the corpus requests (matching-test-requests + page-subresources) for both
engines, with the ratios ours / theirs. Then the per-request time with EasyList + EasyPrivacy +
the hosts list against EasyList alone and against EasyList + EasyPrivacy (what the hosts list
itself adds). Times are medians over the repeats; per-request figures
take each request's median over the repeats, and both engines run in alternating passes so that
machine noise hits them alike.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filters.cosmetic.rules import CosmeticStore  # noqa: E402
from filters.engine import Engine  # noqa: E402
from filters.lists.syntax import parse_list_text  # noqa: E402

TARGETS = {
    "decision ratio": 1.5,
    "build s": 1.5,
    "cache load s": 0.3,
    "memory MB": 80,
    "hosts cost ratio": 1.2,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py engine", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        default=os.environ.get("DEJUNK_CORPUS", str(REPO.parent / "shared" / "corpus")),
        help="the shared corpus folder (env DEJUNK_CORPUS; default ../shared/corpus)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement (default 5)")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    lists_dir = corpus / "lists"
    if not (lists_dir / "easylist.txt").is_file():
        print(f"bench engine: no corpus at {corpus} (use --corpus or DEJUNK_CORPUS)", file=sys.stderr)
        return 2
    try:
        import adblock
    except ImportError:
        print("bench engine: the reference engine is missing: pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    repeats = max(1, args.repeats)
    easylist = lists_dir / "easylist.txt"
    easyprivacy = lists_dir / "easyprivacy.txt"
    hosts = lists_dir / "hosts.txt"
    texts = {p: p.read_text(encoding="utf-8") for p in (easylist, easyprivacy, hosts)}
    requests = _requests(corpus)
    pages_from = sum(1 for _ in _matching_requests(corpus))
    print(f"corpus: {corpus}")
    print(f"requests: {len(requests)} (matching-test-requests + page-subresources), repeats: {repeats}")
    print()

    # --- build from text ---
    def build_ours(paths, cosmetic=True):
        # With the cosmetic store, as the proxy loads it (adblock-rust's engine holds cosmetic filters too).
        factory = CosmeticStore.from_lists if cosmetic else None
        return Engine([parse_list_text(texts[p], path=str(p), name=p.name) for p in paths], cosmetic_factory=factory)

    def build_theirs(paths):
        filter_set = adblock.FilterSet()
        for p in paths:
            filter_set.add_filter_list(texts[p])
        return adblock.Engine(filter_set, True)

    el_ep = [easylist, easyprivacy]
    ours_build = _median_time(lambda: build_ours(el_ep), repeats)
    ours_network_build = _median_time(lambda: build_ours(el_ep, cosmetic=False), repeats)
    theirs_build = _median_time(lambda: build_theirs(el_ep), repeats)

    # --- load from the compiled cache ---
    with tempfile.TemporaryDirectory() as cache_dir:
        paths = [str(p) for p in el_ep]
        Engine.from_lists(paths, cache_dir=cache_dir)
        cache_load = _median_time(lambda: Engine.from_lists(paths, cache_dir=cache_dir), repeats)
        cache_bytes = sum(f.stat().st_size for f in Path(cache_dir).glob("engine-*.pickle"))

    # --- memory ---
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ours = build_ours(el_ep)
    gc.collect()
    built = tracemalloc.get_traced_memory()[0] - before
    for url, source, kind in requests:
        ours.check(url, source, kind)
    gc.collect()
    warmed = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()

    theirs = build_theirs(el_ep)
    ours_times, theirs_times = _interleaved(
        [("ours", ours.check), ("theirs", theirs.check_network_urls)], requests, repeats
    )

    print("EasyList + EasyPrivacy")
    build_ratio = ours_build / theirs_build
    print(f"  build from text      ours {ours_build:7.3f} s    adblock-rust {theirs_build:7.3f} s    ratio {build_ratio:5.2f}")
    print(f"                       (network rules alone: ours {ours_network_build:.3f} s; every figure here includes"
          " the cosmetic store unless it says otherwise)")
    print(f"  load from cache      ours {cache_load:7.3f} s    (file {cache_bytes / 1e6:.1f} MB, list hashing included)")
    print(f"  engine memory        {built / 1e6:.1f} MB after build, {warmed / 1e6:.1f} MB after all requests")
    print("                       (tracemalloc: Python allocations the engine keeps)")
    print()
    print("  per request (µs)        mean      p50      p99")
    _row("ours", ours_times)
    _row("adblock-rust", theirs_times)
    ratio_mean = statistics.fmean(ours_times) / statistics.fmean(theirs_times)
    ratio_p50 = _percentile(ours_times, 50) / _percentile(theirs_times, 50)
    ratio_p99 = _percentile(ours_times, 99) / _percentile(theirs_times, 99)
    print(f"  {'ratio ours/theirs':<18}{ratio_mean:8.2f} {ratio_p50:8.2f} {ratio_p99:8.2f}")
    pages = len(requests) - pages_from
    ours_pages = statistics.fmean(ours_times[pages_from:])
    theirs_pages = statistics.fmean(theirs_times[pages_from:])
    print(
        f"  page-subresources alone ({pages}): ours {ours_pages:.2f}, adblock-rust {theirs_pages:.2f}, "
        f"ratio {ours_pages / theirs_pages:.2f}"
    )
    print()

    # --- the hosts list's cost per request ---
    easylist_only = build_ours([easylist])
    with_hosts = build_ours([easylist, easyprivacy, hosts])
    el_times, el_ep_times, full_times = _interleaved(
        [("EasyList", easylist_only.check), ("EL+EP", ours.check), ("EL+EP+hosts", with_hosts.check)],
        requests,
        repeats,
    )
    hosts_ratio = statistics.fmean(full_times) / statistics.fmean(el_ep_times)
    print("Lists and cost per request (ours, µs)   mean      p50      p99")
    _row("EasyList alone", el_times, width=38)
    _row("EasyList + EasyPrivacy", el_ep_times, width=38)
    _row("EasyList + EasyPrivacy + hosts", full_times, width=38)
    print(f"  {'ratio EL+EP+hosts / EL alone':<38}{statistics.fmean(full_times) / statistics.fmean(el_times):8.2f}")
    print(f"  {'ratio EL+EP+hosts / EL+EP (hosts cost)':<38}{hosts_ratio:8.2f}")
    print()

    results = {
        "decision ratio": ratio_mean,
        "build s": ours_build,
        "cache load s": cache_load,
        "memory MB": warmed / 1e6,
        "hosts cost ratio": hosts_ratio,
    }
    print("targets")
    for name, limit in TARGETS.items():
        value = results[name]
        print(f"  {name:<18} {value:8.3f}  (target <= {limit})  {'met' if value <= limit else 'MISSED'}")
    return 0


def _matching_requests(corpus: Path):
    with open(corpus / "requests" / "matching-test-requests.json", encoding="utf-8") as f:
        for item in json.load(f):
            yield item["url"], item["sourceUrl"], item["type"]


def _requests(corpus: Path) -> list[tuple[str, str, str]]:
    """matching-test-requests, then page-subresources, as (url, source, type)."""
    found = list(_matching_requests(corpus))
    with open(corpus / "requests" / "page-subresources.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                item = json.loads(line)
                found.append((item["url"], item["source_url"], item["type"]))
    return found


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _interleaved(contenders, requests, repeats: int) -> list[list[float]]:
    """Per-request median µs for each contender, passes alternating between them."""
    for _, check in contenders:  # warm-up: lazy compilation, caches
        for url, source, kind in requests:
            check(url, source, kind)
    samples = [[[] for _ in requests] for _ in contenders]
    clock = time.perf_counter_ns
    for _ in range(repeats):
        for slot, (_, check) in enumerate(contenders):
            per_request = samples[slot]
            gc.disable()
            try:
                for i, (url, source, kind) in enumerate(requests):
                    start = clock()
                    check(url, source, kind)
                    per_request[i].append(clock() - start)
            finally:
                gc.enable()
    return [[statistics.median(s) / 1000 for s in per_contender] for per_contender in samples]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def _row(name: str, values: list[float], width: int = 18) -> None:
    mean = statistics.fmean(values)
    print(f"  {name:<{width}}{mean:8.2f} {_percentile(values, 50):8.2f} {_percentile(values, 99):8.2f}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
