"""`scripts/serve.py`: two dejunk workers behind HAProxy serve as one proxy, survive a worker's death, stop cleanly.

One cluster for the module (it starts four processes and more); the last test stops it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from addons import serve
from .harness import REPO, RESOLVER
from .load import descendants, free_port
from tests.waiting import wait_until as _wait

SERVE = REPO / "scripts" / "serve.py"
HAPROXY = serve.find_haproxy(None) if (shutil.which("haproxy") or any(map(os.path.exists, serve.HAPROXY_PATHS))) else None

pytestmark = pytest.mark.skipif(HAPROXY is None, reason="HAProxy is not installed (Debian: apt-get install haproxy)")


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False




class Cluster:
    """scripts/serve.py as a user runs it, in a session of its own, its output in a file."""

    def __init__(self, workdir: Path, workers: int, extra: list[str]):
        self.workdir = workdir
        self.port = free_port()
        self.run_dir = workdir / f"run{workers}"
        self.output = workdir / f"serve{workers}.log"
        self._out = open(self.output, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(SERVE), "--workers", str(workers), "--listen", f"127.0.0.1:{self.port}",
             "--run-dir", str(self.run_dir), "--set", f"confdir={workdir / 'conf'}", "-s", str(RESOLVER), *extra],
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=workdir,
        )
        if not _wait(lambda: "HAProxy statistics" in self.log() or self.process.poll() is not None, 90, 0.1) \
                or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"serve.py did not start:\n{self.log()}")

    @property
    def socket(self) -> str:
        return str(self.run_dir / "haproxy.sock")

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def stats(self) -> dict[str, dict[str, str]]:
        return serve.server_stats(self.socket)

    def worker_proxy(self, number: int) -> str:
        """Worker `number`'s own address (past HAProxy), from the configuration serve.py wrote."""
        config = (self.run_dir / "haproxy.cfg").read_text()
        return "http://" + re.search(rf"^\s*server w{number} (\S+)", config, re.M).group(1)

    def worker_pid(self, number: int) -> int | None:
        """The process of worker `number` (a child of serve.py running mitmdump with dejunk_worker=number)."""
        for pid in descendants(self.process.pid):
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if serve.WORKER_FLAG.encode() in args and f"dejunk_worker={number}".encode() in args and _alive(pid):
                return pid
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._out.close()


def curl(cluster: Cluster, url: str, max_time: float = 15, *, background: bool = False):
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", cluster.proxy, "--noproxy", "",
            "--max-time", str(max_time), url]
    if background:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    done = subprocess.run(args, capture_output=True, timeout=max_time + 10)
    return int(done.stdout or 0)


@pytest.fixture(scope="module")
def cluster(workdir, test_list):
    instance = Cluster(workdir, 2, ["--set", f"dejunk_lists={test_list}", "--set", "flow_detail=0",
                                    "--set", f"dejunk_state={workdir / 'state'}"])
    yield instance
    instance.stop()


def test_requests_are_spread_over_both_workers_and_filtered_by_each(cluster, origin):
    def idle() -> bool:
        # Both workers up and holding no connection: HAProxy may close its side of the last one
        # a little after curl exits, and leastconn would then pick the other worker again.
        rows = cluster.stats().values()
        return len(rows) == 2 and all(r["status"].startswith("UP") and int(r["scur"]) == 0 for r in rows)

    def one(url: str) -> int:
        assert _wait(idle, 10), cluster.stats()
        return curl(cluster, url)

    before = {name: int(row["stot"]) for name, row in cluster.stats().items()}
    assert set(before) == {"w1", "w2"}
    answers = [one(f"http://127.0.0.1:{origin.port}/bytes?size=100") for _ in range(6)]
    blocked = [one(f"http://ads.test:{origin.port}/ad.js") for _ in range(4)]
    assert answers == [200] * 6 and blocked == [403] * 4
    after = {name: int(row["stot"]) for name, row in cluster.stats().items()}
    served = {name: after[name] - before[name] for name in after}
    # One connection per curl, none open before it: leastconn takes the workers in turn.
    assert served["w1"] >= 3 and served["w2"] >= 3, served
    assert not origin.requests_to("/ad.js"), "a blocked request reached the origin"


def test_a_killed_worker_loses_only_its_own_requests_and_comes_back(cluster, origin):
    hanging = [curl(cluster, f"http://127.0.0.1:{origin.port}/hang", 25, background=True) for _ in range(4)]
    try:
        # Two open connections on each worker (leastconn).
        assert _wait(lambda: all(int(row["scur"]) == 2 for row in cluster.stats().values()), 10), cluster.stats()
        old = cluster.worker_pid(2)
        assert old is not None
        os.kill(old, signal.SIGKILL)
        # The two requests the killed worker held fail at once; the other worker's stay open.
        assert _wait(lambda: sum(p.poll() is not None for p in hanging) == 2, 10)
        assert [int(p.stdout.read() or 0) for p in hanging if p.poll() is not None] == [0, 0]
        assert int(cluster.stats()["w1"]["scur"]) == 2
        # New requests meanwhile all go to the living worker.
        assert [curl(cluster, f"http://127.0.0.1:{origin.port}/bytes?size=10") for _ in range(5)] == [200] * 5
        assert _wait(lambda: re.search(r"w2 is back", cluster.log()), 30), cluster.log()[-3000:]
        new = cluster.worker_pid(2)
        assert new not in (None, old)
        assert "w2 exited (killed by SIGKILL)" in cluster.log()
        before = int(cluster.stats()["w2"]["stot"])
        assert [curl(cluster, f"http://ads.test:{origin.port}/ad.js") for _ in range(4)] == [403] * 4
        assert int(cluster.stats()["w2"]["stot"]) > before, "the restarted worker gets connections again"
    finally:
        for p in hanging:
            if p.poll() is None:
                p.kill()
            p.wait(5)


def _spread_answers(cluster: Cluster, url: str, count: int) -> tuple[list[int], dict[str, int]]:
    """`count` requests, each on a connection of its own; their statuses and how many each worker got."""
    before = {name: int(row["stot"]) for name, row in cluster.stats().items()}
    answers = [curl(cluster, url) for _ in range(count)]
    after = {name: int(row["stot"]) for name, row in cluster.stats().items()}
    return answers, {name: after[name] - before.get(name, 0) for name in after}


def test_a_site_allowed_by_one_worker_is_allowed_by_both_within_a_second_or_so(cluster, origin, workdir):
    from filters.state.store import StateStore

    url = f"http://ads.test:{origin.port}/ad.js"
    assert _spread_answers(cluster, url, 4)[0] == [403] * 4
    # What dejunk.allow (or the dashboard) does in whichever worker serves it: a write to the shared store.
    state = StateStore.open(str(workdir / "state"), worker="elsewhere", flush_interval=0)
    try:
        state.allow("ads.test")
        started = time.monotonic()
        assert _wait(lambda: _spread_answers(cluster, url, 4)[0] == [200] * 4, 15, 0.1)
        took = time.monotonic() - started
        answers, served = _spread_answers(cluster, url, 6)
        assert answers == [200] * 6 and served["w1"] >= 2 and served["w2"] >= 2, served
        assert took < 5, f"in force in both workers only after {took:.1f} s"
        state.unallow("ads.test")
        assert _wait(lambda: _spread_answers(cluster, url, 4)[0] == [403] * 4, 15, 0.1)
    finally:
        state.close()


def test_the_statistics_of_both_workers_add_up(cluster, origin, workdir):
    import sqlite3

    from filters.state.store import StateStore

    state = StateStore.open(str(workdir / "state"), worker="reader", flush_interval=0)
    try:
        before = state.totals()["requests"]
        answers, served = _spread_answers(cluster, f"http://127.0.0.1:{origin.port}/bytes?size=5", 10)
        assert answers == [200] * 10 and served["w1"] and served["w2"]
        # Each worker writes its counts every few seconds, as rows of its own; a read sums them.
        assert _wait(lambda: state.totals()["requests"] >= before + 10, 15, 0.2), state.totals()
        with sqlite3.connect(workdir / "state" / "state.db") as db:
            workers = {worker for (worker,) in db.execute("SELECT worker FROM totals WHERE requests > 0")}
        assert {"1", "2"} <= workers
    finally:
        state.close()


def dashboard(cluster: Cluster, method: str, path: str, data=None, token: str | None = None,
              worker: int | None = None) -> tuple[int, str]:
    """One dashboard request through the cluster (or to one worker), on a connection of its own: (status, body)."""
    proxy = cluster.proxy if worker is None else cluster.worker_proxy(worker)
    args = ["curl", "-s", "-w", "\n%{http_code}", "--proxy", proxy, "--noproxy", "", "--max-time", "15",
            "-X", method, f"http://dejunk.home.arpa{path}"]
    if data is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(data)]
    if token is not None:
        args += ["-H", f"X-Dejunk-Token: {token}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    body, _, status = done.stdout.rpartition("\n")
    return int(status or 0), body


def test_a_dashboard_toggle_in_one_worker_holds_in_both(cluster, origin):
    status, page = dashboard(cluster, "GET", "/")
    assert status == 200
    token = re.search(r'<meta name="dejunk-token" content="([^"]*)">', page).group(1)
    url = f"http://tracker.test:{origin.port}/t.js"
    assert _spread_answers(cluster, url, 4)[0] == [403] * 4
    # The page came from one worker; its token works in both (each request on a connection of its own).
    before = {name: int(row["stot"]) for name, row in cluster.stats().items()}
    changes = [dashboard(cluster, "POST", f"/api/sites/{verb}", {"site": "tracker.test"}, token)[0]
               for verb in ("allow", "unallow", "allow", "unallow", "allow")]
    after = {name: int(row["stot"]) for name, row in cluster.stats().items()}
    assert changes == [200] * 5 and all(after[name] - before[name] >= 2 for name in after), (before, after)
    try:
        assert _wait(lambda: _spread_answers(cluster, url, 4)[0] == [200] * 4, 15, 0.1)
        status, sites = dashboard(cluster, "GET", "/api/sites")
        assert status == 200 and "tracker.test" in json.loads(sites)["allowed"]
    finally:
        assert dashboard(cluster, "POST", "/api/sites/unallow", {"site": "tracker.test"}, token)[0] == 200


def test_a_list_subscribed_in_the_dashboard_is_fetched_once_and_used_by_both(cluster, origin):
    from tests.list_server import ListServer

    status, page = dashboard(cluster, "GET", "/")
    token = re.search(r'<meta name="dejunk-token" content="([^"]*)">', page).group(1)
    url = f"http://sub.test:{origin.port}/s.js"
    with ListServer() as lists:
        list_url = lists.serve("/shared-sub.txt", "[Adblock Plus 2.0]\n! Title: shared\n||sub.test^\n")
        assert _spread_answers(cluster, url, 2)[0] == [200, 200]
        assert dashboard(cluster, "POST", "/api/lists/add", {"url": list_url}, token)[0] == 200
        try:
            # Worker 1 downloads it; the other takes the engine worker 1 compiled from it.
            assert _wait(lambda: _spread_answers(cluster, url, 4)[0] == [403] * 4, 60, 0.2), cluster.log()[-4000:]
            answers, served = _spread_answers(cluster, url, 4)
            assert answers == [403] * 4 and served["w1"] and served["w2"]
            assert len(lists.requests_for("/shared-sub.txt")) == 1
            # An update asked of worker 2 (straight, not through HAProxy's choice) is worker 1's to do.
            assert dashboard(cluster, "POST", "/api/lists/update", {}, token, worker=2)[0] == 200
            assert _wait(lambda: re.search(r"\[w1\].*a proxy sharing the state asked for a list update", cluster.log()),
                         10, 0.2)
            assert _wait(lambda: len(lists.requests_for("/shared-sub.txt")) >= 2, 15, 0.2)
            assert len(lists.requests_for("/shared-sub.txt")) <= 3
        finally:
            dashboard(cluster, "POST", "/api/lists/remove", {"url": list_url}, token)


def test_a_killed_haproxy_is_started_again(cluster, origin):
    def command_name(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    haproxy = next(pid for pid in descendants(cluster.process.pid) if command_name(pid) == "haproxy" and _alive(pid))
    os.kill(haproxy, signal.SIGKILL)
    assert _wait(lambda: "haproxy exited (killed by SIGKILL)" in cluster.log(), 10)
    assert _wait(lambda: curl(cluster, f"http://127.0.0.1:{origin.port}/bytes?size=10", 3) == 200, 30, 0.2)
    assert set(cluster.stats()) == {"w1", "w2"}


def test_sigterm_stops_every_process_it_started(cluster):
    # Last in this module: it stops the cluster.
    started = descendants(cluster.process.pid)
    assert cluster.worker_pid(1) in started and cluster.worker_pid(2) in started and len(started) >= 3
    cluster.process.send_signal(signal.SIGTERM)
    assert cluster.process.wait(30) == 0
    assert _wait(lambda: not any(_alive(pid) for pid in started), 10), [pid for pid in started if _alive(pid)]
    assert curl(cluster, "http://127.0.0.1:1/", 3) == 0, "nothing listens on the proxy's port any more"


def test_a_killed_supervisor_takes_its_workers_and_haproxy_with_it(workdir, test_list):
    lone = Cluster(workdir, 1, ["--set", f"dejunk_lists={test_list}", "--set", "flow_detail=0",
                                "--set", "dejunk_cosmetic=off"])
    try:
        started = descendants(lone.process.pid)
        assert lone.worker_pid(1) in started
        os.kill(lone.process.pid, signal.SIGKILL)
        lone.process.wait(5)
        assert _wait(lambda: not any(_alive(pid) for pid in started), 15), [pid for pid in started if _alive(pid)]
    finally:
        lone.stop()


def test_ctrl_c_in_its_terminal_stops_everything(workdir, test_list):
    lone = Cluster(workdir, 1, ["--set", f"dejunk_lists={test_list}", "--set", "flow_detail=0"])
    try:
        started = descendants(lone.process.pid)
        assert lone.worker_pid(1) in started
        os.killpg(lone.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the foreground group
        assert lone.process.wait(30) == 0
        assert _wait(lambda: not any(_alive(pid) for pid in started), 10), [pid for pid in started if _alive(pid)]
        assert "dejunk serve: stopping" in lone.log()
    finally:
        lone.stop()


def test_without_haproxy_it_says_how_to_install_it(tmp_path):
    done = subprocess.run([sys.executable, str(SERVE), "--haproxy", str(tmp_path / "no-haproxy")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "apt-get install haproxy" in done.stderr and "no-haproxy" in done.stderr


def test_options_it_sets_itself_are_refused_with_a_hint(tmp_path):
    done = subprocess.run([sys.executable, str(SERVE), "--run-dir", str(tmp_path), "-p", "9000"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "-p: serve.py chooses this for its workers; use --listen" in done.stderr
    assert serve.refused_arguments(["--set", "listen_port=1", "--mode", "transparent", "--set", "dejunk_lists=x"]) == [
        "--mode: serve.py chooses this for its workers (workers run in regular mode behind HAProxy)",
        "--set listen_port: serve.py sets this for its workers; use --listen HOST:PORT",
    ]
