"""mitmdump with and without dejunk under load, side by side in one run (`python scripts/bench.py proxy`).

1. Small responses: N requests (default 10,000) at C concurrent keep-alive connections (default 50)
   to a local origin, through a bare mitmdump and through mitmdump with dejunk, same options
   otherwise, alternating, repeated; requests/s, p50/p99 latency, errors, proxy RSS before and
   after. dejunk runs with the corpus's EasyList and EasyPrivacy. Target: throughput ratio
   dejunk/bare >= 0.98 (the median of the ratios of each alternating bare/dejunk pair), 0 errors,
   RSS flat. Beside them (unless `--no-floor`), the same runs through an addon whose five per-flow
   hooks do nothing (scripts/bench_empty_addon.py): the share of the proxy that mitmproxy's hook
   dispatch alone takes from any script addon, and dejunk's ratio to that floor.
1b. With `--instructions N` (valgrind's callgrind): N small requests through each of the same proxies
   run under callgrind, 300 more before counting starts; the instructions each proxy's event loop
   (its main thread) runs per request, and their ratio bare/dejunk against the same 0.98. On a
   shared machine the throughput ratio of two runs of the same proxy spreads by 10 % and more;
   instruction counts repeat to within a fraction of a percent, which is what a 2 % target needs.
   About 2 minutes per proxy for 2000 requests. `--repeats 0` leaves out part 1.
2. The same small load through dejunk while HTML pages (the corpus's news pages) are fetched on
   other connections: with the page rewriter on, against rewriting off (or, while the rewriter is
   not there, against no page traffic at all). Target: p99 of the small requests <= 1.2x.
3. A large download (default 1 GiB) through dejunk: sha256 identical, proxy RSS growth <= 20 MB.

With `--workers 1,2,...` it measures scaling out instead (`scripts/serve.py`: N dejunk workers
behind HAProxy): for each N, small responses and then the corpus's HTML pages (rewritten) through
HAProxy, alternating the order of N in each repeat; requests/s and p99 latency per N, and the
ratio to one worker (the median of the ratios within each repeat). Target: 2 workers on 2 cores
>= 1.6x one worker for the small responses.

The origin is nginx (Debian's package) with a config written into a temporary folder, or a small
Python server when nginx is missing; the load generator is wrk (Debian's package) with a Lua
script that stops after exactly N responses per run, or an asyncio client when wrk is missing.
The output says which. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e import load  # noqa: E402
from tests.e2e.harness import ADDON, Proxy  # noqa: E402

SMALL_FILES = {  # name -> size in bytes: what a page pulls in besides itself
    "app.js": 1_500,
    "style.css": 4_000,
    "logo.png": 2_500,
    "pixel.gif": 43,
    "data.json": 800,
    "chunk.bin": 10_000,
}
FALLBACK_PAGE = REPO / "tests" / "e2e" / "site" / "news.test" / "index.html"
WARM_UP = 1_000
RATIO_TARGET, P99_TARGET, DOWNLOAD_RSS_TARGET_MB = 0.98, 1.2, 20
SCALE_TARGET = 1.6  # 2 workers / 1 worker on 2 cores, small responses
EMPTY = "empty hooks"  # the run kind measuring an addon whose hooks do nothing
EMPTY_ADDON = REPO / "scripts" / "bench_empty_addon.py"

WRK_SCRIPT = """-- Cycle through absolute-form request targets (a forward proxy's request line).
-- The thread stops after its quota of responses and says so; wrk itself would sleep out its -d
-- duration, so the caller times the run from "started" to "finished" and then stops wrk.
local targets = {%(targets)s}
local host = "%(host)s"
quota = %(quota)d
local delay_ms = %(delay_ms)d
local requests, index, answered = {}, 0, 0

function init(args)
  for i, target in ipairs(targets) do
    requests[i] = wrk.format("GET", target, {["Host"] = host, ["Accept"] = "*/*"})
  end
  io.write("started\\n")
  io.flush()
end

function request()
  index = index %% #requests + 1
  return requests[index]
end

if delay_ms > 0 then
  function delay() return delay_ms end
end

function response(status, headers, body)
  answered = answered + 1
  if quota > 0 and answered == quota then
    wrk.thread:stop()
    io.write("finished\\n")
    io.flush()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%%d duration_us=%%d bytes=%%d connect=%%d read=%%d write=%%d status=%%d timeout=%%d " ..
    "p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class Run:
    """One load run through one proxy."""

    label: str
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    rss_start_mb: float = 0.0  # right after start-up
    rss_before_mb: float = 0.0  # after the warm-up
    rss_after_mb: float = 0.0
    rss_tree_after_mb: float = 0.0  # with child processes (a rewriting pool)
    cpu_us_per_request: float = 0.0  # proxy CPU time (with child processes) per measured request
    extra: dict = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


# --- load generators ---------------------------------------------------------------------------


class Wrk:
    """wrk through a forward proxy: absolute-form targets, exact request counts via a Lua script."""

    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        version = subprocess.run([binary, "--version"], capture_output=True, text=True)
        self.version = (version.stdout + version.stderr).split("[")[0].replace("wrk", "").strip() or "?"

    def _script(self, name: str, urls: list[str], quota: int, delay_ms: int = 0) -> Path:
        host = urls[0].split("/")[2]
        targets = ", ".join(json.dumps(u) for u in urls)
        path = self.workdir / f"{name}.lua"
        path.write_text(WRK_SCRIPT % {"targets": targets, "host": host, "quota": quota, "delay_ms": delay_ms})
        return path

    def _args(self, proxy_port: int, script: Path, connections: int, seconds: int) -> list[str]:
        return [self.binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
                f"http://127.0.0.1:{proxy_port}/"]

    def run(self, proxy_port: int, urls: list[str], total: int, connections: int, label: str) -> Run:
        script = self._script("run", urls, quota=total)
        process = subprocess.Popen(self._args(proxy_port, script, connections, 600), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        output, started, finished = b"", None, None
        deadline = time.monotonic() + 600
        try:
            while finished is None and time.monotonic() < deadline:
                ready, _, _ = select.select([process.stdout], [], [], 1.0)
                if not ready:
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break  # wrk exited early; its output says why
                output += chunk
                if started is None and b"started\n" in output:
                    started = time.perf_counter()
                if b"finished\n" in output:
                    finished = time.perf_counter()
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # wrk stops and reports on SIGINT
            rest, _ = process.communicate(timeout=30)
        output = (output + rest).decode(errors="replace")
        run = self._parse(output, label)
        if started is None or finished is None:
            raise RuntimeError(f"wrk did not finish its {total} requests:\n{output}")
        run.seconds = finished - started
        run.per_second = run.requests / run.seconds
        return run

    def start_background(self, proxy_port: int, urls: list[str], connections: int, delay_ms: int) -> subprocess.Popen:
        script = self._script("background", urls, quota=0, delay_ms=delay_ms)
        return subprocess.Popen(self._args(proxy_port, script, connections, 3600), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def stop_background(self, process: subprocess.Popen, label: str) -> Run:
        process.send_signal(signal.SIGINT)  # wrk stops and reports on SIGINT
        output, _ = process.communicate(timeout=30)
        return self._parse(output, label)

    @staticmethod
    def _parse(output: str, label: str) -> Run:
        line = next((l for l in output.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"wrk gave no result:\n{output}")
        v = {k: int(n) for k, n in (item.split("=") for item in line.split()[1:])}
        seconds = v["duration_us"] / 1e6
        errors = {k: v[k] for k in ("connect", "read", "write", "status", "timeout") if v[k]}
        return Run(label, v["requests"], seconds, v["requests"] / seconds if seconds else 0.0,
                   v["p50_us"] / 1000, v["p99_us"] / 1000, errors)


class PythonClient:
    """The asyncio client of tests/e2e/load.py: exact counts, every body checked (slower than wrk)."""

    version = "asyncio client (tests/e2e/load.py)"

    def __init__(self, expected: dict[str, str]):
        self.expected = expected

    def run(self, proxy_port: int, urls: list[str], total: int, connections: int, label: str) -> Run:
        result = load.run_requests(proxy_port, urls, self.expected, total=total, connections=connections)
        return Run(label, len(result.latencies), result.seconds, result.per_second,
                   result.percentile(50) * 1000, result.percentile(99) * 1000, dict(result.errors))


# --- set-up -----------------------------------------------------------------------------------


def default_corpus() -> Path:
    return Path(os.environ.get("DEJUNK_CORPUS") or REPO.parent / "shared" / "corpus")


def prepare_files(root: Path, corpus: Path | None, download_bytes: int) -> dict:
    """Write the origin's files; returns names, expected digests and the HTML page names."""
    expected, html = {}, []
    for name, size in SMALL_FILES.items():
        data = os.urandom(size)
        (root / name).write_bytes(data)
        expected[name] = hashlib.sha256(data).hexdigest()
    pages_dir = corpus / "pages" if corpus else None
    if pages_dir and pages_dir.is_dir():
        for page in sorted(pages_dir.glob("*.html")):
            shutil.copyfile(page, root / page.name)  # into the temporary origin folder only
            html.append(page.name)
    else:
        (root / "page.html").write_bytes(FALLBACK_PAGE.read_bytes())
        html.append("page.html")
    big_sha = load.write_random_file(root / "big.bin", download_bytes) if download_bytes else None
    return {"expected": expected, "html": html, "big_sha256": big_sha}


def rewriter_state(addon: Path) -> tuple[bool, str]:
    """Whether the addon can rewrite pages, and how rewriting is switched off for the comparison run."""
    filters = addon.parent.parent / "filters"
    if not any((filters / where).is_file() for where in ("html/rewrite.py", "rewrite.py")):  # now, and before the layout
        return False, "the cosmetic rewriter (filters.html.rewrite) is not on this branch"
    if "dejunk_cosmetic" not in addon.read_text():
        return False, "filters.html.rewrite exists but the addon has no dejunk_cosmetic option yet"
    return True, "dejunk_cosmetic=remove against dejunk_cosmetic=off"


class ProxyFactory:
    def __init__(self, workdir: Path, lists: list[str], addon: Path):
        self.workdir = workdir
        self.lists = lists
        self.addon = addon
        self.count = 0

    def start(self, dejunk: bool, extra: dict | None = None, addon: Path | None = None, **proxy_args) -> Proxy:
        """A mitmdump, bare or with the addon measured (or `addon`, another script, in its place)."""
        self.count += 1
        # Identical options for both: no flow printing, and the connection strategy dejunk sets anyway.
        options: dict[str, object] = {"flow_detail": 0, "connection_strategy": "lazy"}
        if dejunk and addon is None:
            options["dejunk_lists"] = self.lists
        options.update(extra or {})
        name = f"{'bare' if not dejunk else 'dejunk' if addon is None else addon.stem}-{self.count}"
        return Proxy(self.workdir, dejunk=dejunk, name=name, options=options, addon=addon or self.addon, **proxy_args)


def mb(kb: int) -> float:
    return kb / 1024


def small_run(factory: ProxyFactory, client, urls: list[str], total: int, connections: int, dejunk: bool,
              label: str, options: dict | None = None, background=None, addon: Path | None = None) -> Run:
    proxy = factory.start(dejunk, options, addon)
    try:
        pid = proxy.process.pid
        rss_start = load.rss_kb(pid)
        client.run(proxy.port, urls, min(WARM_UP, total), connections, f"{label}-warm-up")
        rss_before = load.rss_kb(pid)
        events_before = len(proxy.events())
        started_background = background(proxy) if background else None
        cpu_before = load.tree_cpu_seconds(pid)
        run = client.run(proxy.port, urls, total, connections, label)
        cpu_used = load.tree_cpu_seconds(pid) - cpu_before
        if started_background is not None:
            run.extra["html"] = asdict(started_background())
        run.cpu_us_per_request = cpu_used / run.requests * 1e6 if run.requests else 0.0
        run.rss_start_mb, run.rss_before_mb = mb(rss_start), mb(rss_before)
        run.rss_after_mb, run.rss_tree_after_mb = mb(load.rss_kb(pid)), mb(load.tree_rss_kb(pid))
        events = proxy.events()[events_before:]
        run.extra["rewritten_pages"] = sum(1 for e in events if e.get("event") == "rewritten")
        run.extra["rewrite_errors"] = sum(1 for e in events if e.get("event") == "rewrite_error")
        run.extra["dejunk_errors"] = sum(1 for e in events if e.get("event") in ("addon_error", "upstream_error"))
        return run
    finally:
        proxy.stop()


# --- reporting ---------------------------------------------------------------------------------


def print_header() -> None:
    print(f"  {'run':<30}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/req':>11}"
          f"{'RSS MB: start':>15}{'warm':>7}{'after':>7}{'+pool':>7}")


def print_run(r: Run) -> None:
    print(f"  {r.label:<30}{r.requests:>9}{r.per_second:>9.0f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
          f"{r.error_count:>8}{r.cpu_us_per_request:>11.0f}{r.rss_start_mb:>15.1f}{r.rss_before_mb:>7.1f}{r.rss_after_mb:>7.1f}"
          f"{r.rss_tree_after_mb:>7.1f}", flush=True)


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "meets the target" if ok else "MISSES the target"


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus(),
                        help="shared corpus (news pages for the HTML load; EasyList/EasyPrivacy for dejunk)")
    parser.add_argument("--requests", type=int, default=10_000, help="small requests per run (default 10000)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent connections (default 50)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per configuration (alternating bare/dejunk "
                        "pairs); medians are reported")
    parser.add_argument("--html-connections", type=int, default=2,
                        help="connections fetching pages meanwhile (0: skip this part)")
    parser.add_argument("--html-delay-ms", type=int, default=100, help="pause between pages on each of them")
    parser.add_argument("--download-mb", type=int, default=1024, help="size of the download in MiB (0: skip)")
    parser.add_argument("--lists", action="append", help="dejunk_lists for the dejunk proxy "
                        "(default: the corpus's EasyList and EasyPrivacy, else builtin)")
    parser.add_argument("--addon", type=Path, default=ADDON, help="the addon to measure (default: addons/dejunk.py "
                        "of this checkout; another path compares a modified copy)")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="leave out the runs with an addon of empty hooks (the floor under any addon's cost)")
    parser.add_argument("--origin", choices=("nginx", "python"), default="nginx")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk")
    parser.add_argument("--instructions", type=int, default=0, metavar="N",
                        help="also count the instructions of N small requests through each proxy under callgrind "
                             "(valgrind's; slow: about 2 min per proxy for 2000): the ratio without the machine's noise")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--workers", help="measure scripts/serve.py instead: comma-separated worker counts, "
                        "e.g. 1,2 (the small and HTML loads through HAProxy for each)")
    parser.add_argument("--html-requests", type=int, default=600,
                        help="with --workers: HTML pages per run (default 600; 0: small responses only)")
    args = parser.parse_args(argv)
    if args.workers:
        try:
            args.worker_counts = sorted({int(n) for n in args.workers.split(",") if n.strip()})
        except ValueError:
            parser.error(f"--workers {args.workers!r}: give worker counts like 1,2")
        if not args.worker_counts or min(args.worker_counts) < 1:
            parser.error("--workers: counts of 1 or more")

    corpus = args.corpus if (args.corpus / "README.md").is_file() else None
    if args.lists:
        lists = args.lists
    elif corpus:
        lists = [str(corpus / "lists" / "easylist.txt"), str(corpus / "lists" / "easyprivacy.txt")]
    else:
        lists = ["builtin"]
        print(f"warning: no corpus at {args.corpus}: dejunk runs with its builtin list, not EasyList and EasyPrivacy "
              "as the target is measured (set DEJUNK_CORPUS or --corpus)", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="dejunk-bench-proxy-") as tmp:
        workdir = Path(tmp)
        root = workdir / "www"
        root.mkdir()
        print("preparing files ...", flush=True)
        files = prepare_files(root, corpus, args.download_mb * 1024 * 1024)
        origin = load.StaticOrigin(root, workdir, use_nginx=args.origin == "nginx")
        try:
            return _bench(args, workdir, origin, files, lists, corpus)
        finally:
            origin.stop()


@dataclass
class Bench:
    """What every part of the benchmark shares."""

    args: argparse.Namespace
    origin: load.StaticOrigin
    files: dict
    client: Wrk | PythonClient
    factory: ProxyFactory
    small_urls: list[str]
    expected: dict[str, str]
    corpus: Path | None


def _bench(args, workdir: Path, origin: load.StaticOrigin, files: dict, lists: list[str], corpus) -> int:
    small_urls = [origin.url(name) for name in SMALL_FILES]
    expected = {origin.url(name): digest for name, digest in files["expected"].items()}
    wrk_binary = shutil.which("wrk")
    client = Wrk(wrk_binary, workdir) if (args.client == "wrk" and wrk_binary) else PythonClient(expected)
    bench = Bench(args, origin, files, client, ProxyFactory(workdir, lists, args.addon.resolve()), small_urls,
                  expected, corpus)
    results: dict = {"origin": origin.description, "lists": lists}

    print(f"origin:   {origin.description}, on 127.0.0.1:{origin.port}")
    if isinstance(client, Wrk):
        print(f"client:   wrk {client.version}, 1 thread, {args.connections} connections; a Lua script stops each run "
              f"after {args.requests} responses (the count wrk reports is shown)")
    else:
        why = "requested" if args.client == "python" else "wrk is not installed"
        print(f"client:   {client.version} ({why}); it shares the CPU with the proxy, so rates are lower")
    print(f"proxies:  mitmdump (flow_detail=0, connection_strategy=lazy) bare and with -s {args.addon}; "
          f"dejunk lists: {', '.join(Path(p).name for p in lists)}")
    print(f"small responses: {len(SMALL_FILES)} files of {min(SMALL_FILES.values())} B to "
          f"{max(SMALL_FILES.values()) // 1000} KB (js, css, png, gif, json, bin); {WARM_UP} warm-up requests "
          f"before each measured run; {args.repeats} repeats, alternating order; CPUs: {os.cpu_count()}")
    # A proxy's first start compiles the lists and saves the engine; every later start loads it
    # (and never reads the generic cosmetic rules its page workers hold). Measure later starts.
    first = bench.factory.start(True)
    first.stop()
    print("compiled engine: saved by one unmeasured start first, so every measured proxy loads it, "
          "as a user's proxy does after its first start")
    said = re.search(r"network decisions: (.*)", first.log())
    results["hot_path"] = said.group(1).strip() if said else None
    print(f"network decisions: {results['hot_path'] or 'not said in the log'}")
    print()
    if args.workers:
        results.update(workers_part(bench, workdir, lists))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
            print(f"\nfigures written to {args.json}")
        return 0
    if args.repeats > 0:
        results.update(small_part(bench))
    if args.instructions > 0:
        results.update(instructions_part(bench, workdir))
    if args.html_connections > 0 and isinstance(client, Wrk):
        results.update(pages_part(bench))
    elif args.html_connections > 0:
        print("2. skipped: the page traffic alongside the small load needs wrk\n")
    if files["big_sha256"]:
        results.update(download_part(bench))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nfigures written to {args.json}")
    return 0


def small_part(bench: Bench) -> dict:
    """1. Small responses, bare against dejunk."""
    args = bench.args
    print(f"1. {args.requests} small requests at {args.connections} connections", flush=True)
    runs: dict[str, list[Run]] = {"bare": [], "dejunk": []}
    kinds = ["bare", "dejunk"]
    if args.floor:
        runs[EMPTY] = []
        kinds.insert(1, EMPTY)
    print_header()
    for repeat in range(args.repeats):
        order = kinds if repeat % 2 == 0 else kinds[::-1]
        for kind in order:
            run = small_run(bench.factory, bench.client, bench.small_urls, args.requests, args.connections,
                            kind != "bare", f"{kind} #{repeat + 1}", addon=EMPTY_ADDON if kind == EMPTY else None)
            runs[kind].append(run)
            print_run(run)
    bare_rate = median(r.per_second for r in runs["bare"])
    dejunk_rate = median(r.per_second for r in runs["dejunk"])
    # Each repeat runs bare and dejunk back to back (in alternating order): the ratio within a pair
    # is measured under the same load from whoever else shares the machine.
    pair_ratios = [d.per_second / b.per_second for b, d in zip(runs["bare"], runs["dejunk"]) if b.per_second]
    ratio = median(pair_ratios)
    errors = sum(r.error_count for rs in runs.values() for r in rs)
    bare_cpu = median(r.cpu_us_per_request for r in runs["bare"])
    dejunk_cpu = median(r.cpu_us_per_request for r in runs["dejunk"])
    print(f"  median req/s: bare {bare_rate:.0f}, dejunk {dejunk_rate:.0f}")
    print(f"  throughput ratio dejunk/bare per alternating pair: {', '.join(f'{r:.3f}' for r in pair_ratios)}")
    spread = f"{min(pair_ratios):.3f}-{max(pair_ratios):.3f}" if pair_ratios else "n/a"
    print(f"  THROUGHPUT RATIO dejunk/bare (median over {len(pair_ratios)} pairs): {ratio:.3f}, spread {spread}; "
          f"target >= {RATIO_TARGET}: {'met' if ratio >= RATIO_TARGET else 'MISSED'}")
    print(f"  median proxy CPU per request: bare {bare_cpu:.0f} us, dejunk {dejunk_cpu:.0f} us "
          f"(ratio bare/dejunk {bare_cpu / dejunk_cpu:.3f}: the throughput ratio a saturated proxy would show on a "
          f"quiet machine)")
    for kind in ("bare", "dejunk"):
        rs = runs[kind]
        print(f"  median {kind}: p50 {median(r.p50_ms for r in rs):.1f} ms, p99 {median(r.p99_ms for r in rs):.1f} ms, "
              f"RSS {median(r.rss_before_mb for r in rs):.1f} -> {median(r.rss_after_mb for r in rs):.1f} MB over "
              f"the run (growth {median(r.rss_after_mb - r.rss_before_mb for r in rs):+.1f} MB)")
    print(f"  errors: {errors} (target 0)")
    floor = {}
    if args.floor:
        # What mitmproxy's dispatch of five empty hooks costs: the ratio no script addon can pass.
        floor_ratios = [e.per_second / b.per_second for b, e in zip(runs["bare"], runs[EMPTY]) if b.per_second]
        over_floor = [d.per_second / e.per_second for e, d in zip(runs[EMPTY], runs["dejunk"]) if e.per_second]
        floor_cpu = median(r.cpu_us_per_request for r in runs[EMPTY])
        floor = {"empty_hooks_ratio": median(floor_ratios), "empty_hooks_cpu_us": floor_cpu,
                 "dejunk_over_empty_hooks_ratio": median(over_floor)}
        print(f"  the floor: an addon with dejunk's five per-flow hooks left empty (scripts/bench_empty_addon.py):"
              f" throughput ratio to bare {floor['empty_hooks_ratio']:.3f} (median over {len(floor_ratios)} runs),"
              f" CPU per request {floor_cpu:.0f} us")
        print(f"  dejunk against that floor: throughput ratio {floor['dejunk_over_empty_hooks_ratio']:.3f},"
              f" CPU per request bare/empty-hooks/dejunk {bare_cpu:.0f}/{floor_cpu:.0f}/{dejunk_cpu:.0f} us")
    print()
    return {
        "small": {k: [asdict(r) for r in v] for k, v in runs.items()},
        "small_summary": {"bare_rps": bare_rate, "dejunk_rps": dejunk_rate, "ratio": ratio,
                          "pair_ratios": pair_ratios, "ratio_target": RATIO_TARGET, "errors": errors,
                          "bare_cpu_us": bare_cpu, "dejunk_cpu_us": dejunk_cpu, **floor},
    }


def callgrind_totals(out: Path) -> dict[str, int]:
    """Thread number ("01" the main one) -> instructions, from callgrind's first dump (`OUT.1-NN` per thread)."""
    by_thread = {}
    for dump in sorted(out.parent.glob(out.name + ".1-*")):
        totals = [line for line in dump.read_text(errors="replace").splitlines() if line.startswith("totals:")]
        by_thread[dump.name.rsplit("-", 1)[1]] = int(totals[0].split()[1]) if totals else 0
    return by_thread


def count_instructions(bench: Bench, kind: str, workdir: Path) -> dict:
    """Instructions per small request through one proxy, counted by callgrind after a warm-up."""
    args = bench.args
    out = workdir / f"callgrind-{kind.replace(' ', '-')}.out"
    # Counting starts after the warm-up; each thread is counted apart (the event loop is the main one).
    prefix = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
              f"--callgrind-out-file={out}"]
    proxy = bench.factory.start(kind != "bare", None, EMPTY_ADDON if kind == EMPTY else None, prefix=prefix,
                                start_timeout=300)
    try:
        connections = min(args.connections, 10)  # a proxy under callgrind is some 50 times slower
        bench.client.run(proxy.port, bench.small_urls, 300, connections, f"{kind}-warm-up")
        subprocess.run(["callgrind_control", "--instr=on", str(proxy.process.pid)], check=True, capture_output=True)
        run = bench.client.run(proxy.port, bench.small_urls, args.instructions, connections, kind)
        subprocess.run(["callgrind_control", "--dump", str(proxy.process.pid)], check=True, capture_output=True)
    finally:
        proxy.stop()
    by_thread = callgrind_totals(out)
    if not by_thread:
        raise RuntimeError(f"callgrind wrote no counts for {kind} (see {out.parent})")
    main_thread = by_thread.get("01", 0) / run.requests
    return {"kind": kind, "requests": run.requests, "errors": run.error_count, "main_thread": main_thread,
            "all_threads": sum(by_thread.values()) / run.requests}


def instructions_part(bench: Bench, workdir: Path) -> dict:
    """1b. Instructions per small request under callgrind: the overhead without the machine's noise."""
    args = bench.args
    print(f"1b. instructions per small request ({args.instructions} requests through each proxy under callgrind, "
          f"after 300 unmeasured)", flush=True)
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("  skipped: valgrind is not installed (Debian's package valgrind)\n")
        return {}
    kinds = ["bare", EMPTY, "dejunk"] if args.floor else ["bare", "dejunk"]
    counts = {}
    print(f"  {'run':<14}{'requests':>9}{'errors':>8}{'Ir/request, event loop':>24}{'all threads':>13}")
    for kind in kinds:
        counts[kind] = count_instructions(bench, kind, workdir)
        c = counts[kind]
        print(f"  {kind:<14}{c['requests']:>9}{c['errors']:>8}{c['main_thread']:>24,.0f}{c['all_threads']:>13,.0f}",
              flush=True)
    bare, dejunk = counts["bare"]["main_thread"], counts["dejunk"]["main_thread"]
    summary = {"ratio": bare / dejunk, "ratio_target": RATIO_TARGET}
    print(f"  INSTRUCTION RATIO bare/dejunk on the event loop: {summary['ratio']:.3f} (dejunk adds "
          f"{dejunk - bare:,.0f} per request, {100 * (dejunk / bare - 1):.1f} %); target >= {RATIO_TARGET}: "
          f"{'met' if summary['ratio'] >= RATIO_TARGET else 'MISSED'}")
    if EMPTY in counts:
        empty = counts[EMPTY]["main_thread"]
        summary.update(empty_hooks_ratio=bare / empty, dejunk_over_empty_hooks_ratio=empty / dejunk)
        print(f"  the floor (five empty hooks): bare/empty-hooks {bare / empty:.3f} (adds {empty - bare:,.0f}); "
              f"dejunk against it: empty-hooks/dejunk {empty / dejunk:.3f} (adds {dejunk - empty:,.0f})")
    print()
    return {"instructions": counts, "instructions_summary": summary}


def pages_part(bench: Bench) -> dict:
    """2. Small responses through dejunk while pages are fetched (and rewritten, where the rewriter is)."""
    args, client = bench.args, bench.client
    assert isinstance(client, Wrk)
    rewriting, how = rewriter_state(args.addon.resolve())
    # Under a name, not 127.0.0.1: EasyList turns generic element hiding off for loopback addresses
    # (`@@://127.0.0.1$generichide`), which would leave the pages unrewritten. The proxies resolve
    # *.test to 127.0.0.1 through tests/e2e/resolver.py.
    html_urls = [bench.origin.url(name).replace("://127.0.0.1:", "://news.test:", 1) for name in bench.files["html"]]
    print(f"2. the same small load through dejunk while {args.html_connections} connections fetch "
          f"{len(html_urls)} HTML pages ({'corpus news pages' if bench.corpus else 'the test site page'}, "
          f"{args.html_delay_ms} ms pause between pages)", flush=True)
    if rewriting:
        print(f"  rewriter present: comparing {how}")
    else:
        print(f"  rewriter absent ({how}): pages pass through unrewritten; compared with no page traffic")

    def with_pages(proxy: Proxy):
        process = client.start_background(proxy.port, html_urls, args.html_connections, args.html_delay_ms)
        return lambda: client.stop_background(process, "html pages")

    runs: dict[str, list[Run]] = {"baseline": [], "pages": []}
    print_header()
    for repeat in range(args.repeats):
        if rewriting:
            baseline = small_run(bench.factory, client, bench.small_urls, args.requests, args.connections, True,
                                 f"pages, rewriting off #{repeat + 1}", {"dejunk_cosmetic": "off"}, with_pages)
        else:
            baseline = small_run(bench.factory, client, bench.small_urls, args.requests, args.connections, True,
                                 f"no pages #{repeat + 1}")
        pages = small_run(bench.factory, client, bench.small_urls, args.requests, args.connections, True,
                          f"pages{', rewriting' if rewriting else ''} #{repeat + 1}", None, with_pages)
        runs["baseline"].append(baseline)
        runs["pages"].append(pages)
        print_run(baseline)
        print_run(pages)
    for r in runs["baseline"] + runs["pages"]:
        page_run = r.extra.get("html")
        if page_run:
            print(f"  {r.label:<30} pages: {page_run['requests']} fetched ({page_run['per_second']:.1f}/s, "
                  f"p50 {page_run['p50_ms']:.0f} ms, p99 {page_run['p99_ms']:.0f} ms, errors "
                  f"{sum(page_run['errors'].values())}); rewritten {r.extra['rewritten_pages']}, "
                  f"rewrite errors {r.extra['rewrite_errors']}")
    base_p99 = median(r.p99_ms for r in runs["baseline"])
    pages_p99 = median(r.p99_ms for r in runs["pages"])
    p99_ratio = pages_p99 / base_p99 if base_p99 else float("nan")
    what = "rewriting on / off" if rewriting else "pages passing through / no pages"
    print(f"  median p99 of the small requests: {pages_p99:.1f} ms against {base_p99:.1f} ms, ratio {p99_ratio:.2f} "
          f"({what}; target <= {P99_TARGET}: {verdict(p99_ratio <= P99_TARGET)}"
          f"{'' if rewriting else ', to be re-measured once the rewriter is merged'})")
    print()
    return {
        "html": {k: [asdict(r) for r in v] for k, v in runs.items()},
        "html_summary": {"rewriter": rewriting, "comparison": what, "baseline_p99_ms": base_p99,
                         "pages_p99_ms": pages_p99, "ratio": p99_ratio},
    }


def download_part(bench: Bench) -> dict:
    """3. One large download through dejunk: identical bytes, bounded memory."""
    size_mb = bench.args.download_mb
    print(f"3. a {size_mb} MiB download through dejunk", flush=True)
    proxy = bench.factory.start(True)
    try:
        # A few small requests first, so that start-up allocations are not counted as growth.
        load.run_requests(proxy.port, bench.small_urls, bench.expected, total=200, connections=4)
        result = load.download(proxy.port, bench.origin.url("big.bin"), proxy.process.pid, timeout=60)
    finally:
        proxy.stop()
    same = result.sha256 == bench.files["big_sha256"] and result.size == size_mb * 1024 * 1024
    growth = mb(result.rss_growth_kb)
    print(f"  status {result.status}, {result.size} bytes in {result.seconds:.1f} s ({result.mb_per_second:.0f} MB/s)"
          f"{', error: ' + result.error if result.error else ''}")
    print(f"  sha256 identical: {'yes' if same else 'NO'}")
    print(f"  proxy RSS: {mb(result.rss_start_kb):.1f} MB before, peak {mb(result.rss_peak_kb):.1f} MB, "
          f"{mb(result.rss_end_kb):.1f} MB after: growth {growth:+.1f} MB "
          f"(target <= {DOWNLOAD_RSS_TARGET_MB} MB: {verdict(growth <= DOWNLOAD_RSS_TARGET_MB)})")
    return {"download": {**asdict(result), "identical": same, "rss_growth_mb": growth}}


# --- scaling out: scripts/serve.py ---------------------------------------------------------------


class ServeCluster:
    """scripts/serve.py with N workers behind HAProxy on a free loopback port, its output in a file."""

    def __init__(self, workdir: Path, workers: int, lists: list[str], addon_options: dict[str, object], number: int):
        from addons import serve
        from tests.e2e.harness import RESOLVER

        self.port = load.free_port()
        name = f"serve-{workers}w-{number}"
        self.run_dir = workdir / name
        self.output = workdir / f"{name}.log"
        self._out = open(self.output, "wb")
        args = [sys.executable, str(REPO / "scripts" / "serve.py"), "--workers", str(workers),
                "--listen", f"127.0.0.1:{self.port}", "--run-dir", str(self.run_dir),
                "--set", f"confdir={workdir / 'mitmproxy-conf'}", "-s", str(RESOLVER),
                "--set", "flow_detail=0", "--set", "connection_strategy=lazy"]
        for path in lists:
            args += ["--set", f"dejunk_lists={path}"]
        for key, value in addon_options.items():
            args += ["--set", f"{key}={value}"]
        env = {**os.environ, "XDG_CACHE_HOME": str(workdir / "xdg-cache"), "XDG_DATA_HOME": str(workdir / "xdg-data")}
        self.process = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, start_new_session=True, cwd=workdir)
        self.socket = str(self.run_dir / "haproxy.sock")
        self._serve = serve
        deadline = time.monotonic() + 600
        while "HAProxy statistics" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve.py did not start:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def connections(self) -> dict[str, int]:
        """Connections HAProxy handed each worker so far."""
        return {name: int(row.get("stot") or 0) for name, row in self._serve.server_stats(self.socket).items()}

    def cpu_seconds(self) -> float:
        return load.tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        load.stop_process(self.process, timeout=30)
        self._out.close()


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy, and in all (busy and idle), summed over its cores (/proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    idle = fields[3] + fields[4]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / ticks, sum(fields) / ticks / (os.cpu_count() or 1)


def workers_part(bench: Bench, workdir: Path, lists: list[str]) -> dict:
    """Scaling out: the small and the HTML load through HAProxy for each worker count, ratios to one worker."""
    args, client = bench.args, bench.client
    counts = args.worker_counts
    if not isinstance(client, Wrk):
        print("scaling out needs wrk (apt-get install wrk): the Python client would be the bottleneck")
        return {}
    from addons import serve

    try:
        serve.find_haproxy(None)
    except serve.ServeError as e:
        print(e)
        return {}
    html_urls = [bench.origin.url(name).replace("://127.0.0.1:", "://news.test:", 1) for name in bench.files["html"]]
    rewriting, how = rewriter_state(args.addon.resolve())
    print(f"scaling out: scripts/serve.py with {', '.join(map(str, counts))} workers behind HAProxy (TCP, leastconn) "
          f"on {os.cpu_count()} cores; per run: {args.requests} small requests at {args.connections} connections, then "
          f"{args.html_requests} HTML pages ({len(html_urls)} {'corpus news pages' if bench.corpus else 'test pages'}, "
          f"{'rewritten' if rewriting else 'not rewritten: ' + how}) at {max(2, args.html_connections)} connections per "
          f"worker; {args.repeats} repeats, the order of the worker counts alternating", flush=True)
    print("  (small: CPU ms per request of the proxies' processes, the cores they kept busy, and those of the whole "
          "machine, wrk and the origin and anyone else's included)")
    print(f"  {'run':<22}{'small req/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'CPU ms':>7}{'cores':>6}"
          f"{'machine':>8}{'pages/s':>9}{'p99 ms':>8}{'errors':>7}{'CPU s':>7}  connections per worker")
    runs: dict[int, list[dict]] = {n: [] for n in counts}
    for repeat in range(args.repeats):
        order = counts if repeat % 2 == 0 else list(reversed(counts))
        for n in order:
            cluster = ServeCluster(workdir, n, lists, {}, repeat)
            try:
                client.run(cluster.port, bench.small_urls, min(WARM_UP, args.requests), args.connections,
                           f"{n}w warm-up")
                if args.html_requests:
                    client.run(cluster.port, html_urls, min(len(html_urls) * 2, args.html_requests), 2 * n,
                               f"{n}w pages warm-up")
                cpu, machine = cluster.cpu_seconds(), machine_cpu()
                small = client.run(cluster.port, bench.small_urls, args.requests, args.connections, f"{n}w small")
                small_cpu = cluster.cpu_seconds() - cpu
                busy, elapsed = (after - before for after, before in zip(machine_cpu(), machine))
                # Cores the proxies (workers, HAProxy) kept busy during the small run, and the whole machine's.
                small.extra.update(cpu_ms_per_request=small_cpu / small.requests * 1000 if small.requests else 0.0,
                                   proxy_cores=small_cpu / small.seconds if small.seconds else 0.0,
                                   machine_cores=busy / elapsed if elapsed else 0.0)
                pages = client.run(cluster.port, html_urls, args.html_requests, max(2, args.html_connections) * n,
                                   f"{n}w pages") if args.html_requests else Run("no pages", 0, 0, 0, 0, 0, {})
                cpu = cluster.cpu_seconds() - cpu
                spread = cluster.connections()
            finally:
                cluster.stop()
            run = {"workers": n, "repeat": repeat + 1, "small": asdict(small), "pages": asdict(pages),
                   "cpu_seconds": cpu, "connections": spread}
            runs[n].append(run)
            print(f"  {f'{n} worker(s) #{repeat + 1}':<22}{small.per_second:>12.0f}{small.p50_ms:>8.1f}"
                  f"{small.p99_ms:>8.1f}{small.error_count:>7}{small.extra['cpu_ms_per_request']:>7.2f}"
                  f"{small.extra['proxy_cores']:>6.2f}{small.extra['machine_cores']:>8.2f}{pages.per_second:>9.1f}{pages.p99_ms:>8.0f}"
                  f"{pages.error_count:>7}{cpu:>7.1f}  {', '.join(f'{k} {v}' for k, v in sorted(spread.items()))}",
                  flush=True)
    base = counts[0]
    summary = {}
    print(f"  medians (ratios: to {base} worker{'s' if base != 1 else ''}, within each repeat, then the median):")
    print(f"  {'workers':<10}{'small req/s':>12}{'p99 ms':>8}{'ratio':>7}{'cores':>6}{'machine':>8}{'pages/s':>9}"
          f"{'p99 ms':>8}{'ratio':>7}")
    for n in counts:
        small_ratios = [r["small"]["per_second"] / b["small"]["per_second"] for r, b in zip(runs[n], runs[base])
                        if b["small"]["per_second"]]
        page_ratios = [r["pages"]["per_second"] / b["pages"]["per_second"] for r, b in zip(runs[n], runs[base])
                       if b["pages"]["per_second"]]
        row = {
            "small_rps": median(r["small"]["per_second"] for r in runs[n]),
            "small_p99_ms": median(r["small"]["p99_ms"] for r in runs[n]),
            "small_ratio": median(small_ratios),
            "pages_per_second": median(r["pages"]["per_second"] for r in runs[n]),
            "pages_p99_ms": median(r["pages"]["p99_ms"] for r in runs[n]),
            "pages_ratio": median(page_ratios),
            "proxy_cores": median(r["small"]["extra"]["proxy_cores"] for r in runs[n]),
            "machine_cores": median(r["small"]["extra"]["machine_cores"] for r in runs[n]),
            "errors": sum(r["small"]["errors"].get(k, 0) + r["pages"]["errors"].get(k, 0) for r in runs[n]
                          for k in ("connect", "read", "write", "status", "timeout")),
        }
        summary[n] = row
        print(f"  {n:<10}{row['small_rps']:>12.0f}{row['small_p99_ms']:>8.1f}{row['small_ratio']:>7.2f}"
              f"{row['proxy_cores']:>6.2f}{row['machine_cores']:>8.2f}{row['pages_per_second']:>9.1f}{row['pages_p99_ms']:>8.0f}{row['pages_ratio']:>7.2f}"
              + (f"   errors {row['errors']}" if row["errors"] else ""))
    # Other work on the machine takes cores from the proxies (see "cores"): per core they kept busy,
    # the throughput says whether the workers scale, whoever else shares the machine.
    for n in counts:
        per_core = [r["small"]["per_second"] / r["small"]["extra"]["proxy_cores"] for r in runs[n]
                    if r["small"]["extra"]["proxy_cores"]]
        summary[n]["small_rps_per_core"] = median(per_core)
    print("  small req/s per core the proxies kept busy: " + ", ".join(
        f"{n} worker{'s' if n != 1 else ''} {summary[n]['small_rps_per_core']:.0f}" for n in counts)
        + f" (ratio {summary[counts[-1]]['small_rps_per_core'] / summary[base]['small_rps_per_core']:.2f})")
    if base == 1 and 2 in summary:
        ratio = summary[2]["small_ratio"]
        print(f"  SCALING 2 workers / 1 worker, small responses: {ratio:.2f}x on {os.cpu_count()} cores (a machine busy "
              f"with other work leaves the proxies less: see the cores columns); target >= "
              f"{SCALE_TARGET} ({'met' if ratio >= SCALE_TARGET else 'MISSED'})")
    return {"workers": {str(n): v for n, v in runs.items()}, "workers_summary": {str(n): v for n, v in summary.items()}}
