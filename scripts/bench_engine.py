"""Network engine benchmark: dejunk's engine against adblock-rust, uBO's and Ghostery's, side by side.

    python scripts/bench.py engine [--corpus DIR] [--repeats N] [--build-repeats N]
                                   [--no-node] [--node-dir DIR] [--no-hosts2m] [--quick]

The main figures are for the corpus' full list set, EasyList + EasyPrivacy + uBO filters + the
hosts list, over the corpus requests (matching-test-requests + page-subresources). Contenders:
dejunk (`Engine.check`), Brave's adblock-rust (PyPI `adblock`, in this process), and uBO's
(`@gorhill/ubo-core`) and Ghostery's (`@ghostery/adblocker`) engines in one Node process
(scripts/bench_node/driver.mjs; the npm packages, pinned in scripts/bench_node/package.json, are
installed at run time into `--node-dir`, by default $XDG_CACHE_HOME/dejunk/bench-node; without
Node or npm the run goes on with adblock-rust alone). Each contender's decisions are compared
with dejunk's (the count of disagreements shows the contender is driven right).

Printed: build time from text per contender (ours with the cosmetic store, as the proxy loads
it, each build the first in a new process), load time from the compiled-engine cache, memory held by the engine (tracemalloc, after
every request), mean / p50 / p99 µs per request, ratios ours / best of the others (the lowest
other on each figure, same run), a short EasyList + EasyPrivacy line against adblock-rust, a
2-million-line hosts list's first start (time and peak memory of a subprocess), and the issue's
targets, each `met` or `MISSED`; a target whose figure this run did not measure says so.
`ubo-same-work` is uBO's engine timed doing what our `check` also does for each request (the
redirect resource of a blocked one; `$removeparam`, `$csp`, `$replace` for one let through):
its ratio is printed for comparison, while the targets stay against `matchRequest` alone.
Ours runs the compiled network hot path where it is built (`python setup.py build_ext --inplace`;
the output says which runs), the plain Python one otherwise or with `DEJUNK_HOT_PATH=plain`.
Times are medians over the repeats; per-request figures take each request's median over the
passes, and the contenders run in alternating passes (the Node ones between ours and
adblock-rust's) so that machine noise hits them alike.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filters.cosmetic.rules import CosmeticStore  # noqa: E402
from filters.engine import Engine  # noqa: E402
from filters.lists.syntax import parse_list_text  # noqa: E402
from filters.network.speed import HOT_PATH, REBUILD  # noqa: E402

NODE_PACKAGES = REPO / "scripts" / "bench_node"
FULL_SET = ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt", "hosts.txt")
HOSTS_LINES = 2_000_000

# The targets: ratios are ours / the best of the other engines on the same figure, same run.
RATIO_TARGETS = {"mean": 1.0, "p50": 1.5, "p99": 1.0}
TARGETS = {
    "build from text s": 0.6,
    "load from cache s": 0.1,
    "engine memory MB": 60,
    "2M hosts first start s": 5,
    "2M hosts peak memory MB": 400,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py engine", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        default=os.environ.get("DEJUNK_CORPUS", str(REPO.parent / "shared" / "corpus")),
        help="the shared corpus folder (env DEJUNK_CORPUS; default ../shared/corpus)",
    )
    # Enough passes that a burst of load from elsewhere on a shared machine moves no request's median:
    # with 5, the p99 ratio swung by a fifth between runs here; with 15, by under a tenth.
    parser.add_argument("--repeats", type=int, default=15, help="timed passes over the requests (default 15)")
    parser.add_argument("--build-repeats", type=int, default=5, help="repeats of each build and load (default 5)")
    parser.add_argument("--no-node", action="store_true", help="leave out uBO's and Ghostery's engines (Node)")
    parser.add_argument("--node-dir", default=None,
                        help="where the npm packages are installed (default $XDG_CACHE_HOME/dejunk/bench-node)")
    parser.add_argument("--no-hosts2m", action="store_true", help="leave out the 2-million-line hosts list")
    parser.add_argument("--hosts-lines", type=int, default=HOSTS_LINES, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true",
                        help="adblock-rust alone, no 2M hosts list, 3 passes and 1 build each")
    args = parser.parse_args(argv)
    if args.quick:
        args.no_node = args.no_hosts2m = True
        args.repeats, args.build_repeats = min(args.repeats, 3), 1
    corpus = Path(args.corpus)
    lists_dir = corpus / "lists"
    if not all((lists_dir / name).is_file() for name in FULL_SET):
        print(f"bench engine: no corpus lists at {lists_dir} (use --corpus or DEJUNK_CORPUS)", file=sys.stderr)
        return 2
    try:
        import adblock
    except ImportError:
        print("bench engine: the reference engine is missing: pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    repeats = max(1, args.repeats)
    build_repeats = max(1, args.build_repeats)
    paths = [lists_dir / name for name in FULL_SET]
    texts = {p: p.read_text(encoding="utf-8") for p in paths}
    requests = _requests(corpus)
    with_source = [i for i, (_, source, _) in enumerate(requests) if source not in ("http://", "https://")]
    print(f"corpus: {corpus}")
    print(f"lists (full set): {' + '.join(FULL_SET)}")
    print(f"requests: {len(requests)} (matching-test-requests + page-subresources; {len(with_source)} name a"
          f" real source page), passes: {repeats}, build repeats: {build_repeats}")
    print()

    def build_ours(chosen, cosmetic=True):
        # With the cosmetic store, as the proxy loads it (adblock-rust's and Ghostery's engines hold cosmetic filters too).
        factory = CosmeticStore.from_lists if cosmetic else None
        return Engine([parse_list_text(texts[p], path=str(p), name=p.name) for p in chosen], cosmetic_factory=factory)

    def build_adblock(chosen):
        filter_set = adblock.FilterSet()
        for p in chosen:
            filter_set.add_filter_list(texts[p], format="hosts" if p.name == "hosts.txt" else "standard")
        return adblock.Engine(filter_set, True)

    # --- memory, build from text, load from cache: ours (and adblock-rust's build) ---
    # Memory first, from the first build of these lists in this process: a later build would share with the
    # earlier one what the parser keeps (option strings, compiled selectors), which tracemalloc would not count.
    Engine.from_text(_WARM_UP_LIST)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ours = build_ours(paths)
    gc.collect()
    built_bytes = tracemalloc.get_traced_memory()[0] - before
    ours_blocked = [ours.check(url, source, kind).blocked for url, source, kind in requests]
    gc.collect()
    warmed_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # Ours, each time as the first build of these lists in a process (`_first_build`), as at the proxy's first
    # start: a later build in the same process finds most of its selectors and option strings already compiled.
    builds = {
        "ours": _first_build(paths, build_repeats, cosmetic=True),
        "adblock-rust": _median_time(lambda: build_adblock(paths), build_repeats),
    }
    ours_network_build = _first_build(paths, build_repeats, cosmetic=False)
    with tempfile.TemporaryDirectory() as cache_dir:
        names = [str(p) for p in paths]
        Engine.from_lists(names, cache_dir=cache_dir)
        cache_load = _median_time(lambda: Engine.from_lists(names, cache_dir=cache_dir), max(3, build_repeats))
        cache_bytes = sum(f.stat().st_size for f in Path(cache_dir).glob("engine-*.pickle"))

    theirs = build_adblock(paths)
    blocked = {
        "ours": ours_blocked,
        "adblock-rust": [_adblock_blocked(theirs.check_network_urls(*r)) for r in requests],
    }
    notes = {"adblock-rust": f"adblock {adblock.__version__} (PyPI binding), hosts list read as hosts"}

    # --- uBO's and Ghostery's engines, in Node ---
    node = None
    variants = []  # the same engine timed doing more of the work ours does: shown, not a target's yardstick
    if args.no_node:
        print("Node contenders (uBO, Ghostery): left out (--no-node / --quick)")
    else:
        node = NodeContenders.start(args.node_dir, paths, requests, build_repeats)
    if node is not None:
        for name, info in node.engines.items():
            if "error" in info:
                print(f"  {name}: failed to load, left out: {info['error'].splitlines()[0]}")
                continue
            builds[name] = statistics.median(info["build_s"])
            blocked[name] = info["blocked"]
            if "variant_of" in info:
                variants.append(name)
            else:
                notes[name] = f"{NodeContenders.PACKAGES[name]} {info['version']}, {info['notes']}"
    print()

    # --- per request, every contender in alternating passes ---
    contenders = [("ours", ours.check), ("adblock-rust", theirs.check_network_urls)]
    node_names = [name for name in (node.engines if node else {}) if name in builds]
    times = _interleaved(contenders, requests, repeats, between=node.run_pass if node_names else None)
    per_request = dict(zip([name for name, _ in contenders], times))
    if node is not None:
        per_request.update({name: [ns / 1000 for ns in values] for name, values in node.finish().items()})

    print("Full set: EasyList + EasyPrivacy + uBO filters + hosts")
    for name, note in notes.items():
        print(f"  {name}: {note}")
    print(f"  ours: build includes the cosmetic store (network rules alone: {ours_network_build:.3f} s);"
          f" network hot path: {HOT_PATH}")
    if HOT_PATH != "compiled":
        print(f"        (the figures below are plain Python's; the compiled hot path's need a build: {REBUILD})")
    print()
    order = ["ours", "adblock-rust", *node_names]
    columns = (("build", "build s", 3), ("mean", "mean µs", 2), ("p50", "p50 µs", 2), ("p99", "p99 µs", 2))
    print(f"  {'':<14}" + "".join(f"{title:>13}" for _, title, _ in columns)
          + "   disagreements with ours (all / with a real source page)")
    figures = {}
    for name in order:
        values = per_request[name]
        figures[name] = {"build": builds[name], "mean": statistics.fmean(values),
                         "p50": _percentile(values, 50), "p99": _percentile(values, 99)}
        agreement = ""
        if name != "ours":
            differ = [i for i, (a, b) in enumerate(zip(blocked["ours"], blocked[name])) if a != b]
            agreement = f"   {len(differ)} / {len(set(differ).intersection(with_source))}"
        print(f"  {name:<14}" + "".join(f"{figures[name][key]:13.{digits}f}" for key, _, digits in columns) + agreement)
    others = [name for name in order if name != "ours" and name not in variants]
    best = {key: min(others, key=lambda name: figures[name][key]) for key, _, _ in columns}
    ratios = {key: figures["ours"][key] / figures[best[key]][key] for key in best}
    print(f"  {'ours / best':<14}" + "".join(f"{ratios[key]:13.2f}" for key, _, _ in columns))
    print(f"  {'(the best)':<14}" + "".join(f"{best[key]:>13}" for key, _, _ in columns))
    for name in variants:
        # No build column: the variant is the same build.
        print(f"  {'ours / ' + name:<27}" + "".join(f"{figures['ours'][key] / figures[name][key]:13.2f}"
                                                for key, _, _ in columns[1:]))
    print()
    print(f"  load from cache      ours {cache_load:7.3f} s    (file {cache_bytes / 1e6:.1f} MB, list hashing included)")
    print(f"  engine memory        ours {built_bytes / 1e6:.1f} MB after build, {warmed_bytes / 1e6:.1f} MB after"
          " all requests (tracemalloc: Python allocations a first build and the requests leave, the parser's memos"
          " included)")
    print()

    # --- EasyList + EasyPrivacy, the short line ---
    el_ep = paths[:2]
    ours_small, theirs_small = build_ours(el_ep), build_adblock(el_ep)
    small_ours, small_theirs = _interleaved(
        [("ours", ours_small.check), ("adblock-rust", theirs_small.check_network_urls)], requests, repeats
    )
    print("EasyList + EasyPrivacy (per request µs)   mean      p50      p99")
    _row("ours", small_ours, width=38)
    _row("adblock-rust", small_theirs, width=38)
    print(f"  {'ratio ours / adblock-rust':<38}{statistics.fmean(small_ours) / statistics.fmean(small_theirs):8.2f}"
          f" {_percentile(small_ours, 50) / _percentile(small_theirs, 50):8.2f}"
          f" {_percentile(small_ours, 99) / _percentile(small_theirs, 99):8.2f}")
    print()
    del ours_small, theirs_small

    # --- a 2-million-line hosts list: first start in a subprocess ---
    hosts2m = None
    if args.no_hosts2m:
        print("2M-line hosts list: left out (--no-hosts2m / --quick)")
    else:
        hosts2m = _hosts_first_start(lists_dir / "hosts.txt", args.hosts_lines)
    print()

    results = {
        "build from text s": builds["ours"],
        "load from cache s": cache_load,
        "engine memory MB": warmed_bytes / 1e6,
        "2M hosts first start s": hosts2m["seconds"] if hosts2m else None,
        "2M hosts peak memory MB": hosts2m["peak_mb"] if hosts2m else None,
    }
    print(f"targets (ratios: ours / best of {', '.join(others)}, each figure's best in this run)")
    for key, limit in RATIO_TARGETS.items():
        _target(f"per request {key} ratio", ratios[key], limit, f"x, vs {best[key]}")
    for name, limit in TARGETS.items():
        _target(name, results[name], limit, "")
    return 0


class NodeContenders:
    """uBO's and Ghostery's engines in one Node process (scripts/bench_node/driver.mjs), one pass at a time."""

    PACKAGES = {"ubo": "@gorhill/ubo-core", "ghostery": "@ghostery/adblocker"}

    def __init__(self, process, engines, spec_dir):
        self.process = process
        self.engines = engines
        self._spec_dir = spec_dir
        self._watchdog = threading.Timer(900, process.kill)  # a hung driver must not hang the benchmark
        self._watchdog.daemon = True
        self._watchdog.start()

    @classmethod
    def start(cls, node_dir, paths, requests, build_repeats):
        """Install the packages if needed, start the driver and wait for its builds; None (said why) if impossible."""
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            print("Node contenders (uBO, Ghostery): left out, `node` or `npm` is not installed; adblock-rust alone")
            return None
        folder = Path(node_dir) if node_dir else _default_node_dir()
        why = _install_node_packages(folder, npm)
        if why:
            print(f"Node contenders (uBO, Ghostery): left out, {why}; adblock-rust alone")
            return None
        import publicsuffixlist

        # The same public suffix list as dejunk's (ubo-core 0.1.30 does not load its own).
        psl = Path(publicsuffixlist.__file__).with_name("public_suffix_list.dat")
        spec_dir = tempfile.TemporaryDirectory(prefix="dejunk-bench-node-")
        requests_path = Path(spec_dir.name) / "requests.json"
        requests_path.write_text(json.dumps([list(r) for r in requests]), encoding="utf-8")
        spec = {
            "node_dir": str(folder),
            "psl": str(psl),
            "lists": [{"name": p.name, "path": str(p), "hosts": p.name == "hosts.txt"} for p in paths],
            "requests": str(requests_path),
            "engines": list(cls.PACKAGES),
            "build_repeats": build_repeats,
        }
        spec_path = Path(spec_dir.name) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        stderr = open(Path(spec_dir.name) / "stderr.txt", "w+", encoding="utf-8")
        process = subprocess.Popen([node, str(NODE_PACKAGES / "driver.mjs"), str(spec_path)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, encoding="utf-8")
        line = process.stdout.readline()
        if not line:
            process.wait()
            stderr.seek(0)
            print(f"Node contenders (uBO, Ghostery): left out, the driver stopped: {stderr.read().strip()[-500:]}")
            spec_dir.cleanup()
            return None
        print(f"Node contenders: node {subprocess.run([node, '--version'], capture_output=True, text=True).stdout.strip()},"
              f" packages in {folder}")
        return cls(process, json.loads(line)["engines"], spec_dir)

    def run_pass(self) -> None:
        self.process.stdin.write("pass\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError("the Node driver stopped during a pass")

    def finish(self) -> dict[str, list[float]]:
        """Each engine's per-request median ns over the passes."""
        self.process.stdin.write("done\n")
        self.process.stdin.flush()
        medians = json.loads(self.process.stdout.readline())["median_ns"]
        self.process.wait(timeout=60)
        self._watchdog.cancel()
        self._spec_dir.cleanup()
        return medians


def _default_node_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dejunk" / "bench-node"


def _install_node_packages(folder: Path, npm: str) -> str | None:
    """npm install the pinned packages into `folder` unless they are there; why not, or None."""
    wanted = json.loads((NODE_PACKAGES / "package.json").read_text(encoding="utf-8"))["dependencies"]

    def installed() -> bool:
        for name, version in wanted.items():
            manifest = folder / "node_modules" / name / "package.json"
            if not manifest.is_file() or json.loads(manifest.read_text(encoding="utf-8")).get("version") != version:
                return False
        return True

    if installed():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(NODE_PACKAGES / "package.json", folder / "package.json")
    print(f"installing {', '.join(f'{n}@{v}' for n, v in wanted.items())} into {folder} ...")
    try:
        # Few retries: an unreachable registry should cost seconds, not minutes.
        command = [npm, "install", "--no-audit", "--no-fund", "--no-package-lock",
                   "--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000"]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "npm install took over 300 s (registry unreachable?)"
    if done.returncode != 0 or not installed():
        said = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        why = [line for line in said if line.startswith("npm error code") or "request to" in line] or said[-1:]
        return f"npm install failed ({'; '.join(why[:2])})"
    return None


# Runs one measured child and reports the peak memory of its children (only that child).
_RSS_WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)
if done.returncode:
    sys.exit(done.stderr)
print(json.dumps({"child": json.loads(done.stdout), "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

_FIRST_START = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from filters.cosmetic.rules import CosmeticStore
from filters.engine import Engine
result = {}
if sys.argv[2] == "build":
    start = time.perf_counter()
    engine = Engine.from_lists([sys.argv[3]], cache_dir=sys.argv[4])
    result = {"seconds": time.perf_counter() - start, "rules": engine.rule_count}
print(json.dumps(result))
"""


# Built before a measured build, so that imports and the scriptlet catalog are loaded: a rule of each kind.
_WARM_UP_LIST = """||warm.test^
||warm.test/a/$script,domain=b.test
/warm-up/*$image
@@||warm.test/ok^
warm.test##.warm
##.warm-generic
##div.warm > span[id^=x]
warm.test##+js(set, warm, 1)
"""

# One build from text, timed, in a fresh process: the lists read and `_WARM_UP_LIST` built first, nothing
# else remembered.
_FIRST_BUILD = """
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
from filters.cosmetic.rules import CosmeticStore
from filters.engine import Engine
from filters.lists.syntax import parse_list_text
paths, cosmetic = json.loads(sys.argv[2]), sys.argv[3] == "cosmetic"
texts = [open(path, encoding="utf-8").read() for path in paths]
Engine.from_text(sys.argv[4])
gc.collect()
start = time.perf_counter()
Engine([parse_list_text(text, path=path, name=path.rsplit("/", 1)[-1]) for path, text in zip(paths, texts)],
       cosmetic_factory=CosmeticStore.from_lists if cosmetic else None)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _first_build(paths: list[Path], repeats: int, *, cosmetic: bool) -> float:
    """Median seconds of a build of `paths` from text, each the first one in a new process."""
    times = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", _FIRST_BUILD, str(REPO), json.dumps([str(p) for p in paths]),
                               "cosmetic" if cosmetic else "network", _WARM_UP_LIST],
                              capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"the build child failed: {done.stderr.strip()[-500:]}")
        times.append(json.loads(done.stdout)["seconds"])
    return statistics.median(times)


def _measured_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, _FIRST_START, str(REPO), *args],
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"the measured child failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def write_big_hosts(corpus_hosts: Path, target: Path, lines: int) -> None:
    """The corpus hosts list, then deterministic synthetic `0.0.0.0 NAME` lines up to `lines` lines."""
    tlds = ("com", "net", "org", "de", "io", "info", "co.uk", "fr", "ru", "xyz")
    head = corpus_hosts.read_text(encoding="utf-8").splitlines()[:lines]
    state = 17
    with open(target, "w", encoding="utf-8") as out:
        out.write("\n".join(head) + "\n")
        for _ in range(lines - len(head)):
            state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFF_FFFF_FFFF_FFFF  # 64-bit LCG
            h = state >> 24
            sub = "cdn." if h & 6 == 6 else ""
            out.write(f"0.0.0.0 {'ads' if h & 1 else 'trk'}-{h:010x}.{sub}example{h % 97}.{tlds[h % 10]}\n")


def _hosts_first_start(corpus_hosts: Path, lines: int) -> dict | None:
    with tempfile.TemporaryDirectory(prefix="dejunk-bench-hosts-") as folder:
        big = Path(folder) / "hosts-2m.txt"
        write_big_hosts(corpus_hosts, big, lines)
        cache_dir = Path(folder) / "cache"
        cache_dir.mkdir()
        print(f"{lines:,}-line hosts list ({big.stat().st_size / 1e6:.0f} MB): the corpus hosts list, then"
              " synthetic lines `0.0.0.0 ads|trk-<10 hex digits>[.cdn].example<0-96>.<tld>` from a 64-bit LCG")
        print("  (seed 17), made in a temp folder; Engine.from_lists with an empty cache_dir, in a subprocess")
        try:
            baseline = _measured_child("import")
            start = time.perf_counter()
            measured = _measured_child("build", str(big), str(cache_dir))
            wall = time.perf_counter() - start
        except (RuntimeError, subprocess.TimeoutExpired) as failure:
            print(f"  failed, not measured: {failure}")
            return None
        cache_bytes = sum(f.stat().st_size for f in cache_dir.glob("engine-*.pickle"))
    peak_mb = (measured["maxrss_kb"] - baseline["maxrss_kb"]) / 1024
    seconds = measured["child"]["seconds"]
    print(f"  first start          ours {seconds:7.2f} s  (Engine.from_lists, {measured['child']['rules']:,} rules;"
          f" the whole subprocess {wall:.2f} s)")
    print(f"  peak memory          ours {peak_mb:7.0f} MB (ru_maxrss {measured['maxrss_kb'] / 1024:.0f} MB minus"
          f" {baseline['maxrss_kb'] / 1024:.0f} MB for a subprocess that only imports); cache file"
          f" {cache_bytes / 1e6:.0f} MB")
    return {"seconds": seconds, "peak_mb": peak_mb}


def _target(name: str, value: float | None, limit: float, unit: str) -> None:
    if value is None:
        print(f"  {name:<26} {'-':>8}  (target <= {limit}{unit})  not measured in this run")
    else:
        print(f"  {name:<26} {value:8.3f}  (target <= {limit}{unit})  {'met' if value <= limit else 'MISSED'}")


def _adblock_blocked(result) -> bool:
    return result.important or (result.matched and result.exception is None)


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
    """Median seconds `fn()` takes to return its result (freeing the result is not part of making it)."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        made = fn()
        times.append(time.perf_counter() - start)
        del made
    return statistics.median(times)


def _interleaved(contenders, requests, repeats: int, between=None) -> list[list[float]]:
    """Per-request median µs for each contender, passes alternating between them (and `between()` after each round)."""
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
        if between is not None:
            between()
    return [[statistics.median(s) / 1000 for s in per_contender] for per_contender in samples]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def _row(name: str, values: list[float], width: int = 18) -> None:
    mean = statistics.fmean(values)
    print(f"  {name:<{width}}{mean:8.2f} {_percentile(values, 50):8.2f} {_percentile(values, 99):8.2f}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
