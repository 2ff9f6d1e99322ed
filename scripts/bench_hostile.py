"""Hostile pages through mitmdump with dejunk, side by side with an ordinary page (`python scripts/bench.py hostile`).

1. While each body goes through the proxy, a small request is sent through it every ~20 ms: the
   longest wait of those is how long the proxy stalled every other flow; the proxy's RSS is
   sampled meanwhile. Bodies: an ordinary page (the baseline), a gzip decompression bomb, a
   brotli decompression bomb (each inflating to --bomb-mb MiB; the bombs must pass as they came),
   and a big brotli page (--page-kb KiB decoded, with ad elements; it must be rewritten).
2. Pages/s of the ordinary page at C connections, before and after `dejunk.reload`. One list,
   of generated generic rules (--generic, default 30,000), is edited before the reload, as a
   user reloads after an edit: the new engine is then built afresh.

Each measurement is repeated (--repeats) and the medians printed. Figures are printed, never
asserted (tests/e2e/test_page_workers.py asserts the behaviour).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import brotli

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e import load  # noqa: E402
from tests.e2e.harness import Proxy  # noqa: E402
from tests.e2e.hostile import HostileOrigin, big_page, brotli_bomb, get, gzip_bomb, probe_while  # noqa: E402

CONTROL = REPO / "tests" / "e2e" / "control.py"
LIST = "[Adblock Plus 2.0]\n##.ad-slot\n||ads.test^\n"


def generic_list(count: int) -> str:
    """A list of `count` generic cosmetic rules that match nothing on the pages here."""
    return "[Adblock Plus 2.0]\n" + "".join(f"##.junk-{n}\n" if n % 2 else f"##div[data-slot-{n // 2}]\n" for n in range(count))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py hostile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bomb-mb", type=int, default=1024, help="MiB each decompression bomb inflates to (default 1024)")
    parser.add_argument("--page-kb", type=int, default=1024, help="KiB of the big brotli page, decoded (default 1024)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement (default 3)")
    parser.add_argument("--pages", type=int, default=1000, help="requests per pages/s run (default 1000)")
    parser.add_argument("--connections", type=int, default=8, help="connections per pages/s run (default 8)")
    parser.add_argument("--list", action="append", help="filter list for the proxy (repeatable; default: one ##.ad-slot rule)")
    parser.add_argument("--generic", type=int, default=30_000, help="generated generic rules in the list edited before the reload")
    args = parser.parse_args(argv)
    repeats = max(1, args.repeats)
    with tempfile.TemporaryDirectory(prefix="dejunk-bench-hostile-") as tmp:
        workdir = Path(tmp)
        lists = args.list
        if not lists:
            (workdir / "list.txt").write_text(LIST)
            lists = [str(workdir / "list.txt")]
        edited = workdir / "generated.txt"
        edited.write_text(generic_list(args.generic))
        lists = [*lists, str(edited)]
        page = big_page(args.page_kb * 1024)
        ordinary = big_page(20_000)
        print(f"making the bodies ({args.bomb_mb} MiB bombs) ...", flush=True)
        bodies = {
            "ordinary.html": (ordinary, None),
            "gzip-bomb.html": (gzip_bomb(args.bomb_mb << 20), "gzip"),
            "br-bomb.html": (brotli_bomb(args.bomb_mb << 20), "br"),
            "big-br.html": (brotli.compress(page, quality=11), "br"),
        }
        origin = HostileOrigin(bodies)
        proxy = Proxy(workdir, name="hostile", options={"dejunk_lists": lists}, scripts=[CONTROL])
        try:
            print(f"mitmdump + dejunk on Python {platform.python_version()}, {os.cpu_count()} cores; "
                  f"repeats {repeats}, medians\n")
            _bench_bodies(proxy, origin, bodies, len(page), args.bomb_mb, repeats)
            print()
            _bench_reload(proxy, origin, repeats, args.pages, args.connections, edited)
        finally:
            proxy.stop()
            origin.stop()
    return 0


def _bench_bodies(proxy: Proxy, origin: HostileOrigin, bodies: dict, page_size: int, bomb_mb: int, repeats: int) -> None:
    get(proxy.port, origin.url("ordinary.html"))  # workers up
    small = origin.url("small")
    labels = {
        "ordinary.html": f"ordinary page ({len(bodies['ordinary.html'][0]) / 1e3:.0f} KB)",
        "gzip-bomb.html": f"gzip bomb ({_size(bodies['gzip-bomb.html'][0])} to {bomb_mb} MiB)",
        "br-bomb.html": f"brotli bomb ({_size(bodies['br-bomb.html'][0])} to {bomb_mb} MiB)",
        "big-br.html": f"brotli page ({_size(bodies['big-br.html'][0])} to {page_size / 1e6:.1f} MB)",
    }
    figures = {name: {"stall": [], "median": [], "growth": [], "took": [], "outcomes": set()} for name in labels}
    # Round by round, each body once per round: mitmproxy keeps its last decoded body, so the same
    # bomb twice in a row would be decoded once (without dejunk's workers, the proxy decodes them).
    for _ in range(repeats):
        for name in labels:
            probe, fetched = probe_while(proxy.port, proxy.process.pid, small, lambda: get(proxy.port, origin.url(name)))
            found = figures[name]
            found["stall"].append(probe.longest)
            found["median"].append(probe.median)
            found["growth"].append(probe.rss_growth_mb)
            found["took"].append(fetched.seconds)
            found["outcomes"].add(_outcome(fetched, bodies[name]))
    print(f"{'body':<40} {'longest stall':>14} {'median small':>13} {'proxy RSS growth':>17} {'body took':>10}  outcome")
    for name, label in labels.items():
        found = figures[name]
        print(f"{label:<40} {_s(found['stall']):>14} {_s(found['median']):>13} "
              f"{statistics.median(found['growth']):>+14.1f} MB {_s(found['took']):>10}  {', '.join(sorted(found['outcomes']))}")


def _outcome(fetched, sent) -> str:
    raw, coding = sent
    if fetched.status != 200:
        return f"status {fetched.status}"
    if fetched.body == raw:
        return "passed as it came"
    body = brotli.decompress(fetched.body) if coding == "br" else fetched.body
    return "rewritten" if b"ad-slot" not in body else "changed, ads left"


def _bench_reload(proxy: Proxy, origin: HostileOrigin, repeats: int, pages: int, connections: int, edited: Path) -> None:
    url = origin.url("ordinary.html")

    def rate() -> float:
        result = load.run_requests(proxy.port, [url], {url: None}, total=pages, connections=connections, timeout=30)
        if result.errors:
            print(f"  errors: {result.errors}")
        return result.requests / result.seconds

    before = [rate() for _ in range(repeats)]
    edited.write_text(edited.read_text() + "##.one-more\n")
    said = get(proxy.port, "http://dejunk-control.test/reload")
    get(proxy.port, url)  # the new workers up
    after = [rate() for _ in range(repeats)]
    ratio = statistics.median(after) / statistics.median(before)
    print(f"pages/s of the ordinary page, {pages} requests at {connections} connections")
    print(f"  before dejunk.reload   {statistics.median(before):8.1f}")
    print(f"  after  dejunk.reload   {statistics.median(after):8.1f}   ratio {ratio:.2f}   ({said.body.decode(errors='replace').strip()})")


def _size(n: int | bytes) -> str:
    n = len(n) if isinstance(n, bytes) else n
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} KB"


def _s(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s"
