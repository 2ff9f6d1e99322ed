"""`dejunk serve`: several dejunk proxies on one machine behind HAProxy, as one proxy.

    dejunk serve [--workers N] [--listen HOST:PORT] [--allow-from CIDR ...] [mitmdump options]
    python scripts/serve.py ...          (the same, from the source tree)

mitmproxy runs on one core. This starts N mitmdump processes with the dejunk addon ("workers",
default: one per core) on loopback ports, and HAProxy (the system's package) in front of them in
TCP mode: each client connection goes to the worker with the fewest connections (`leastconn`).
Every mitmdump option given goes to every worker.

What the workers share, and how:
- mitmproxy's CA (one confdir): created here before any worker starts, so they never race to
  make two different ones.
- The compiled-engine cache and the list cache: worker 1 starts alone first and builds (or
  loads) the engine; the others start once it listens, and load what it saved.
- List downloads: only worker 1 fetches subscriptions (`dejunk_fetch_lists`); the others watch
  the cached copies and, when one changes, load the engine worker 1 compiles from it
  (`filters.proxy.engines`), so a list is downloaded and compiled once, not N times.
- The state folder (`dejunk_state`); each worker is told its number (`dejunk_worker`).

Supervision: a worker that exits is taken out of HAProxy at once (and HAProxy's own health
checks would notice within a second), restarted after a back-off (half a second, doubling up to
half a minute while it keeps failing), and put back once it listens. Only the connections it
held are lost; new ones go to the others meanwhile. HAProxy is restarted the same way. Ctrl-C or
SIGTERM stops HAProxy, then the workers (each stops its page workers), and waits for them all;
if this process is killed outright, the kernel sends every child SIGTERM (PR_SET_PDEATHSIG).

Behind HAProxy every client seems to come from 127.0.0.1, so mitmproxy's `block_global` cannot
protect an open proxy: HAProxy accepts only the networks `--allow-from` names (default: loopback
and private networks, what `block_global` allows).

The run folder (`<state folder>/serve`, or `--run-dir`) holds HAProxy's generated config, its
log, and its admin socket (`echo "show stat" | socat - UNIX:haproxy.sock`); the statistics page
is on `--stats` (default: a free loopback port, printed at start).
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import ipaddress
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

# From the source tree (scripts/serve.py, addons/cli.py run as a file) `filters` lies beside addons/.
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_REPO_ROOT, "filters")) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

ADDON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dejunk.py")
HAPROXY_PATHS = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
NO_HAPROXY = ("dejunk serve: HAProxy is not installed, and it is what spreads connections over the workers. "
              "Install it from your system's packages (Debian/Ubuntu: sudo apt-get install haproxy), or name "
              "the program with --haproxy PATH.")
# What mitmproxy's block_global lets in: loopback, private, link-local and shared address space.
LOCAL_NETWORKS = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                  "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10")
START_TIMEOUT = 600.0  # a first start may build the engine from large lists
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 30.0
STEADY = 30.0  # a worker that ran this long before it exited starts again after the shortest back-off
STOP_TIMEOUT = 15.0  # seconds the workers have to stop before they are killed
DASHBOARD_TOKEN_VARIABLE = "DEJUNK_DASHBOARD_TOKEN"  # read by the addon (addons/dejunk.py)
WORKER_FLAG = "--run-worker"  # `serve.py --run-worker SUPERVISOR_PID mitmdump-arguments...`: one worker
# Options serve.py sets for every worker; given on the command line they are refused with a hint.
OWN_FLAGS = {"-p": "--listen", "--listen-port": "--listen", "--listen-host": "--listen", "--mode": None, "-m": None}
OWN_SETTINGS = {"listen_host": "--listen", "listen_port": "--listen", "mode": None, "dejunk_worker": None,
                "dejunk_fetch_lists": None}


class ServeError(Exception):
    """The cluster cannot start; the message says why and what to do."""


def _set_values(args: Sequence[str], name: str) -> list[str]:
    """The values given to mitmproxy option `name` with `--set name=value` or `--set=name=value`."""
    values = []
    for i, arg in enumerate(args):
        if arg == "--set" and i + 1 < len(args):
            spec = args[i + 1]
        else:
            spec = arg[len("--set="):] if arg.startswith("--set=") else None
        if spec is not None:
            key, _, value = spec.partition("=")
            if key == name:
                values.append(value)
    return values


def refused_arguments(args: Sequence[str]) -> list[str]:
    """A line for each mitmdump argument serve.py must set itself (listening address, mode, worker role)."""
    problems = []
    for arg in args:
        flag = arg.partition("=")[0]
        if flag in OWN_FLAGS or (flag.startswith("--listen-") and len(flag) > 9):
            hint = OWN_FLAGS.get(flag, "--listen")
            problems.append(f"{arg}: serve.py chooses this for its workers" + (f"; use {hint} HOST:PORT" if hint else
                            " (workers run in regular mode behind HAProxy)"))
    for name, hint in OWN_SETTINGS.items():
        if _set_values(args, name):
            problems.append(f"--set {name}: serve.py sets this for its workers"
                            + (f"; use {hint} HOST:PORT" if hint else ""))
    return problems


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (or [IPv6]:PORT, or PORT alone for 127.0.0.1) → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "0.0.0.0"
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be 1 to 65535")
    return host, number


def parse_network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an address or network (e.g. 192.168.1.0/24)") from None


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dejunk serve", allow_abbrev=False,
        description="Several dejunk proxies behind HAProxy, as one proxy. Arguments not listed here go to "
                    "every worker's mitmdump (e.g. --set dejunk_lists=default).",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="mitmdump processes (default: the number of cores, here %(default)s)")
    parser.add_argument("--listen", type=parse_listen, default=("127.0.0.1", 8080), metavar="HOST:PORT",
                        help="where clients connect (default 127.0.0.1:8080; 0.0.0.0:8080 serves the network)")
    parser.add_argument("--allow-from", type=parse_network, action="append", metavar="CIDR",
                        help="client networks HAProxy accepts (repeatable; default: loopback and private networks, "
                             "as mitmproxy's block_global; 0.0.0.0/0 and ::/0 for everyone)")
    parser.add_argument("--stats", type=parse_listen, metavar="HOST:PORT",
                        help="HAProxy's statistics page (default: a free port on 127.0.0.1)")
    parser.add_argument("--run-dir", help="folder for HAProxy's config, log and admin socket "
                                          "(default: serve/ in the dejunk_state folder)")
    parser.add_argument("--haproxy", help="the HAProxy program (default: haproxy on PATH, else /usr/sbin/haproxy)")
    return parser


def find_haproxy(given: str | None) -> str:
    found = shutil.which(given) if given else shutil.which("haproxy") or next(
        (p for p in HAPROXY_PATHS if os.access(p, os.X_OK)), None)
    if not found:
        raise ServeError(f"dejunk serve: --haproxy {given}: no such program. " + NO_HAPROXY if given else NO_HAPROXY)
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_ca(confdir: str, key_size: int, passphrase: str | None) -> None:
    """Create mitmproxy's CA in `confdir` now (if missing): the workers load one CA instead of racing to make theirs."""
    from mitmproxy import certs
    from mitmproxy.options import CONF_BASENAME

    certs.CertStore.from_store(os.path.expanduser(confdir), CONF_BASENAME, key_size,
                               passphrase.encode() if passphrase else None)


def haproxy_maxconn() -> int:
    """Connections HAProxy may hold: two descriptors each, within this process's hard limit (which HAProxy inherits)."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return max(256, min(20_000, (hard - 200) // 2)) if hard != resource.RLIM_INFINITY else 20_000


def haproxy_config(listen: tuple[str, int], stats: tuple[str, int], workers: Sequence[int], allow: Sequence[str],
                   socket_path: str, maxconn: int = 2000) -> str:
    """HAProxy's config: TCP, leastconn over the workers, health checks, an admin socket and a stats page."""
    def address(host: str, port: int) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    servers = "\n".join(
        # A connect check every 2 s: two failed ones take a worker out (the supervisor takes out
        # one it saw exit at once), one good one puts it back.
        f"    server w{n} 127.0.0.1:{port} check inter 2s fall 2 rise 1"
        for n, port in enumerate(workers, 1))
    return f"""\
# Generated by dejunk serve; rewritten at every start.
global
    log stdout format raw local0 info
    stats socket {socket_path} mode 600 level admin
    maxconn {maxconn}

defaults
    mode tcp
    log global
    option tcplog
    option dontlognull
    timeout connect 5s
    # A proxy's client connections stay open for tunnels and keep-alive: long idle limits.
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    # A connection a dead worker refused is tried again on another one.
    retries 3
    option redispatch 1

frontend dejunk
    bind {address(*listen)}
    acl allowed src {' '.join(allow)}
    tcp-request connection reject unless allowed
    default_backend workers

backend workers
    balance leastconn
{servers}

listen stats
    mode http
    bind {address(*stats)}
    stats enable
    stats uri /
    stats refresh 5s
"""


def haproxy_command(socket_path: str, command: str, timeout: float = 2.0) -> str:
    """One command on HAProxy's admin socket; its answer ('' when the socket cannot be reached)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(socket_path)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def server_stats(socket_path: str) -> dict[str, dict[str, str]]:
    """HAProxy's `show stat` row of each worker ("w1" -> {"status", "scur" (connections now), "stot" (in all), ...})."""
    lines = haproxy_command(socket_path, "show stat").splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    rows = (dict(zip(header, line.split(","))) for line in lines[1:] if line)
    return {row["svname"]: row for row in rows
            if row.get("pxname") == "workers" and row.get("svname", "").startswith("w")}


def _die_with_parent() -> None:
    """In a child (a worker, or before it runs HAProxy): the kernel sends it SIGTERM when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    """One process the supervisor keeps running: a worker or HAProxy."""

    name: str
    command: list[str]
    port: int | None  # a worker's loopback port
    process: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0  # exits in a row without a steady run
    restart_at: float | None = None
    ready: bool = False
    partial: bytes = b""
    log: object = None
    restarts: int = 0


class Cluster:
    """The workers and HAProxy: start, watch, restart, stop."""

    def __init__(self, args: argparse.Namespace, mitmdump_args: list[str], *, out=None):
        self.args = args
        self.mitmdump_args = mitmdump_args
        self.out = out or sys.stdout
        self.haproxy = find_haproxy(args.haproxy)
        self.workers: list[Child] = []
        self.front: Child | None = None
        self.stopping = False
        self.run_dir = ""
        self._lock_file = None

    # --- messages -------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(f"dejunk serve: {text}", file=self.out, flush=True)

    # --- set-up ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        from filters.lists.listset import state_dir_for

        args = self.args
        if args.workers < 1:
            raise ServeError("dejunk serve: --workers must be 1 or more")
        problems = refused_arguments(self.mitmdump_args)
        if problems:
            raise ServeError("dejunk serve: " + "; ".join(problems))
        states = _set_values(self.mitmdump_args, "dejunk_state")
        local_state = states[-1] if states and not states[-1].startswith(("postgresql:", "postgres:")) else None
        self.run_dir = os.path.abspath(os.path.expanduser(args.run_dir or os.path.join(state_dir_for(local_state),
                                                                                        "serve")))
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        self._lock_file = open(os.path.join(self.run_dir, "serve.lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ServeError(f"dejunk serve: another dejunk serve uses {self.run_dir} (give this one --run-dir, or "
                             "another dejunk_state)") from None
        confdirs = _set_values(self.mitmdump_args, "confdir")
        self.confdir = os.path.expanduser(confdirs[-1] if confdirs else "~/.mitmproxy")
        key_sizes = _set_values(self.mitmdump_args, "key_size")
        passphrases = _set_values(self.mitmdump_args, "cert_passphrase")
        try:
            ensure_ca(self.confdir, int(key_sizes[-1]) if key_sizes else 2048, passphrases[-1] if passphrases else None)
        except (OSError, ValueError) as e:
            raise ServeError(f"dejunk serve: cannot make or read mitmproxy's CA in {self.confdir}: {e}") from None
        self.stats = args.stats or ("127.0.0.1", free_port())
        self.allow = args.allow_from or list(LOCAL_NETWORKS)
        self.socket_path = os.path.join(self.run_dir, "haproxy.sock")
        if len(self.socket_path.encode()) > 100:  # the limit of a Unix socket's path
            raise ServeError(f"dejunk serve: the run folder's path is too long for HAProxy's admin socket "
                             f"({self.socket_path}); give a shorter one with --run-dir")
        ports = set()
        for n in range(1, args.workers + 1):
            port = free_port()
            while port in ports:
                port = free_port()
            ports.add(port)
            self.workers.append(Child(f"w{n}", self._worker_command(n, port), port))
        config_path = os.path.join(self.run_dir, "haproxy.cfg")
        with open(config_path, "w") as f:
            f.write(haproxy_config(args.listen, self.stats, [w.port for w in self.workers], self.allow,
                                   self.socket_path, haproxy_maxconn()))
        checked = subprocess.run([self.haproxy, "-c", "-q", "-f", config_path], capture_output=True, text=True)
        if checked.returncode != 0:
            raise ServeError(f"dejunk serve: HAProxy refuses the generated config {config_path}:\n"
                             f"{checked.stdout}{checked.stderr}")
        self.front = Child("haproxy", [self.haproxy, "-db", "-f", config_path], None)
        # One dashboard token for all workers (this start's): a page from one works with the others.
        self.environment = {**os.environ, DASHBOARD_TOKEN_VARIABLE: secrets.token_urlsafe(32)}

    def _worker_command(self, number: int, port: int) -> list[str]:
        command = [sys.executable, os.path.abspath(__file__), WORKER_FLAG, str(os.getpid()), "-s", ADDON,
                   "--listen-host", "127.0.0.1", "-p", str(port), "--set", f"dejunk_worker={number}"]
        if not _set_values(self.mitmdump_args, "confdir"):  # mitmproxy refuses a scalar option given twice
            command += ["--set", f"confdir={self.confdir}"]
        if number > 1:
            command += ["--set", "dejunk_fetch_lists=false"]  # worker 1 downloads; the others take its copies
        return command + self.mitmdump_args

    # --- processes ------------------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        is_worker = child.port is not None
        if child.log is None:
            child.log = open(os.path.join(self.run_dir, f"{child.name}.log"), "ab")
        child.process = subprocess.Popen(
            child.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=self.environment if is_worker else None,
            # A session of its own: a terminal's Ctrl-C reaches this process only, which stops
            # the children in order; a worker's page processes share its group, for a clean kill.
            start_new_session=True, preexec_fn=None if is_worker else _die_with_parent,
        )
        os.set_blocking(child.process.stdout.fileno(), False)
        child.started = time.monotonic()
        child.ready = False
        child.restart_at = None

    def _pump(self, timeout: float) -> None:
        """Copy the children's output to ours (each line tagged) and to their log files, for up to `timeout` s."""
        streams = {c.process.stdout: c for c in self._children() if c.process and c.process.stdout
                   and not c.process.stdout.closed}
        if not streams:
            time.sleep(timeout)
            return
        try:
            ready, _, _ = select.select(list(streams), [], [], timeout)
        except InterruptedError:
            return
        for stream in ready:
            child = streams[stream]
            try:
                data = os.read(stream.fileno(), 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                stream.close()
                data, child.partial = child.partial + b"\n" if child.partial else b"", b""
                if not data:
                    continue
            child.log.write(data)
            child.log.flush()
            lines = (child.partial + data).split(b"\n")
            child.partial = lines.pop()
            for line in lines:
                print(f"[{child.name}] {line.decode(errors='replace')}", file=self.out)
        self.out.flush()

    def _children(self) -> list[Child]:
        return [*self.workers, *([self.front] if self.front else [])]

    def _wait_listening(self, children: list[Child], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(children)
        while waiting:
            if self.stopping:
                raise ServeError("dejunk serve: stopped while starting")
            for child in list(waiting):
                if child.process.poll() is not None:
                    self._pump(0.2)  # its last words
                    raise ServeError(f"dejunk serve: {child.name} exited ({self._how(child.process.returncode)}) while "
                                     f"starting; its log is {os.path.join(self.run_dir, child.name + '.log')}")
                host, port = ("127.0.0.1", child.port) if child.port else self.args.listen
                if listening("127.0.0.1" if host in ("0.0.0.0", "::") else host, port):
                    child.ready = True
                    waiting.remove(child)
            if time.monotonic() > deadline:
                names = ", ".join(c.name for c in waiting)
                raise ServeError(f"dejunk serve: {names} not listening after {timeout:.0f} s")
            self._pump(0.1)

    @staticmethod
    def _how(code: int | None) -> str:
        if code is None:
            return "running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def start(self) -> None:
        """Worker 1 alone (it builds or loads the engine), then the others, then HAProxy."""
        first, rest = self.workers[0], self.workers[1:]
        self.say(f"starting worker 1 of {len(self.workers)} (it builds the filters and saves them for the others)")
        self._spawn(first)
        self._wait_listening([first], START_TIMEOUT)
        for worker in rest:
            self._spawn(worker)
        self._wait_listening(rest, START_TIMEOUT)
        self._spawn(self.front)
        self._wait_listening([self.front], 30)
        host, port = self.args.listen
        self.say(f"{len(self.workers)} worker{'s' if len(self.workers) != 1 else ''} (ports "
                 f"{', '.join(str(w.port) for w in self.workers)}) behind HAProxy on {host}:{port}; "
                 f"clients from {', '.join(self.allow)}")
        self.say(f"HAProxy statistics: http://{self.stats[0]}:{self.stats[1]}/ ; config, logs and admin socket in "
                 f"{self.run_dir}")
        if host not in ("127.0.0.1", "::1", "localhost"):
            self.say(f"listening on {host}: every machine in {', '.join(self.allow)} can use this proxy")

    def supervise(self) -> None:
        """Until asked to stop: restart what exits (with back-off), and tell HAProxy which workers are out."""
        while not self.stopping:
            self._pump(0.2)
            now = time.monotonic()
            for child in self._children():
                if child.process is not None and child.restart_at is None and child.process.poll() is not None:
                    self._exited(child, now)
                elif child.restart_at is not None and now >= child.restart_at and not self.stopping:
                    self._spawn(child)
                    child.restarts += 1
                elif child.port and not child.ready and child.restart_at is None and listening("127.0.0.1", child.port):
                    child.ready = True
                    haproxy_command(self.socket_path, f"set server workers/{child.name} state ready")
                    self.say(f"{child.name} is back (restart {child.restarts})")

    def _exited(self, child: Child, now: float) -> None:
        self._pump(0)
        ran = now - child.started
        child.failures = 0 if ran >= STEADY else child.failures + 1
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(child.failures - 1, 0))
        child.restart_at = now + delay
        child.ready = False
        if child.port:
            # Out of HAProxy now (its health check would take up to a second): new connections go elsewhere.
            haproxy_command(self.socket_path, f"set server workers/{child.name} state maint")
            _kill_group(child.process.pid, signal.SIGKILL)  # its page workers, if any are left
        self.say(f"{child.name} exited ({self._how(child.process.returncode)}) after {ran:.1f} s; restarting it in "
                 f"{delay:.1f} s")

    def stop(self) -> None:
        """HAProxy first (no new connections), then the workers; kill what has not stopped in time."""
        self.stopping = True
        running = [c for c in self._children() if c.process is not None and c.process.poll() is None]
        if self.front in running:
            self.front.process.terminate()
        for child in running:
            if child is not self.front:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and any(c.process.poll() is None for c in running):
            self._pump(0.1)
        for child in running:
            if child.process.poll() is None:
                self.say(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s; killing it")
                _kill_group(child.process.pid, signal.SIGKILL)
                child.process.wait(5)
        for child in self._children():
            if child.process is not None:
                _kill_group(child.process.pid, signal.SIGKILL)  # anything its group left behind
        self._pump(0)
        for child in self._children():
            if child.log is not None:
                child.log.close()
        if self._lock_file is not None:
            self._lock_file.close()


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError as e:
        if e.errno not in (errno.ESRCH, errno.EPERM):
            raise


def run_worker(supervisor: int, mitmdump_args: list[str]) -> int:
    """In a worker process: die with the supervisor (the kernel sends SIGTERM), then be mitmdump."""
    _die_with_parent()
    if os.getppid() != supervisor:
        return 0  # the supervisor died before that took effect
    from mitmproxy.tools.main import mitmdump

    return mitmdump(mitmdump_args) or 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WORKER_FLAG]:
        return run_worker(int(argv[1]), argv[2:])
    args, mitmdump_args = argument_parser().parse_known_args(argv)
    try:
        cluster = Cluster(args, mitmdump_args)
    except ServeError as e:
        print(e, file=sys.stderr)
        return 2

    def stop(signum, frame):
        cluster.stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        cluster.prepare()
        cluster.start()
        cluster.supervise()
        cluster.say("stopping")
        return 0
    except ServeError as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
