"""Load through a proxy on loopback: a static origin, an exact-count client, a checked download.

Shared by the CI-sized load tests (tests/e2e/test_load.py) and the full-size benchmark
(`python scripts/bench.py proxy`).

- `StaticOrigin` serves a folder on a loopback port with nginx (Debian's package) and a config
  written into a temporary folder, or, without nginx, with a small asyncio server run in its own
  process (so that it never competes with the client for one interpreter).
- `run_requests` sends exactly N GET requests through the proxy over C keep-alive connections
  and checks every body against the file's sha256.
- `download` streams one URL through the proxy into sha256 while sampling the proxy's memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".gif": "image/gif",
    ".json": "application/json",
    ".bin": "application/octet-stream",
}


# --- memory -----------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    """Resident memory of one process in KiB (VmRSS), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the command name: state is field 3 of the line, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its living descendants (e.g. a worker pool)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in descendants(pid))


def descendants(pid: int) -> list[int]:
    """The process ids of a process's children, grandchildren, ..."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command name may hold spaces and parentheses: the parent id follows the last ')'.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (e.g. a worker pool), in KiB."""
    return rss_kb(pid) + sum(rss_kb(child) for child in descendants(pid))


class RssSampler:
    """Samples a process's RSS in a thread; `.peak_kb` is the largest value seen."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid = pid
        self.interval = interval
        self.start_kb = rss_kb(pid)
        self.peak_kb = self.start_kb
        self.end_kb = self.start_kb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kb = max(self.peak_kb, rss_kb(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.end_kb = rss_kb(self.pid)
        self.peak_kb = max(self.peak_kb, self.end_kb)


# --- origin -----------------------------------------------------------------------------------

NGINX_CONF = """{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    types {{
{types}
    }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        add_header Cache-Control no-store;
    }}
}}
"""


def stop_process(process: subprocess.Popen, stop_signal: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Ask a process to stop, and kill it if it has not within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"origin server exited ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"origin server not listening on {port} within {timeout} s")


class StaticOrigin:
    """A folder served on a loopback port by nginx, or by a small asyncio server without nginx."""

    def __init__(self, root: Path, workdir: Path, *, use_nginx: bool = True):
        self.root = root.resolve()
        self.workdir = workdir
        self.port = free_port()
        nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
        self.kind = "nginx" if (use_nginx and nginx) else "python"
        self._why_python = "as asked" if nginx else "nginx is not installed"
        self._log = open(workdir / f"origin-{self.kind}.log", "wb")
        if self.kind == "nginx":
            self.process = self._start_nginx(nginx)
        else:
            self.process = subprocess.Popen(
                [sys.executable, __file__, "serve", str(self.root), str(self.port)],
                stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            wait_for_port(self.port, self.process)
        except RuntimeError:
            self.stop()
            raise

    @property
    def description(self) -> str:
        if self.kind == "nginx":
            version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
            return f"nginx ({version.split('/')[-1] or 'unknown version'}, 1 worker)"
        return f"a Python asyncio server in its own process ({self._why_python})"

    def _start_nginx(self, nginx: str) -> subprocess.Popen:
        conf_dir = self.workdir / "nginx"
        conf_dir.mkdir(exist_ok=True)
        types = "\n".join(f"        {ctype.split(';')[0]} {ext[1:]};" for ext, ctype in CONTENT_TYPES.items())
        conf = conf_dir / "nginx.conf"
        # Started as root, nginx would run its worker as "nobody", which cannot read a private temp folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_CONF.format(user=user, dir=conf_dir, port=self.port, root=self.root, types=types))
        return subprocess.Popen(
            [nginx, "-p", str(conf_dir), "-c", str(conf), "-e", str(conf_dir / "error.log")],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def stop(self) -> None:
        # nginx: SIGQUIT is a graceful stop of master and worker; the Python server ends on SIGTERM.
        stop_process(self.process, signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
        self._log.close()


async def _serve_static(root: Path, port: int) -> None:
    """The fallback origin: GET files from `root`, keep-alive, Content-Length framing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(1_000_000):
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode("latin-1")
                path = (root / urlsplit(target).path.lstrip("/")).resolve()
                if root not in path.parents or not path.is_file():
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    continue
                size = path.stat().st_size
                ctype = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {size}\r\n"
                             f"Cache-Control: no-store\r\n\r\n".encode())
                with open(path, "rb") as body:
                    while chunk := body.read(1 << 20):
                        writer.write(chunk)
                        await writer.drain()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# --- exact-count client ------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What N requests through the proxy gave."""

    requests: int
    connections: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, one per completed request
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count
    bytes_received: int = 0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _run_requests(proxy_port: int, urls: list[str], expected: dict[str, str], total: int,
                        connections: int, timeout: float) -> LoadResult:
    result = LoadResult(requests=total, connections=connections, seconds=0.0)
    next_index = 0

    def take() -> int | None:
        nonlocal next_index
        if next_index >= total:
            return None
        next_index += 1
        return next_index - 1

    def error(kind: str) -> None:
        result.errors[kind] = result.errors.get(kind, 0) + 1

    async def worker() -> None:
        reader = writer = None
        while (index := take()) is not None:
            url = urls[index % len(urls)]
            parts = urlsplit(url)
            request = f"GET {url} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: dejunk-load\r\nAccept: */*\r\n\r\n"
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", proxy_port, limit=1 << 22), timeout)
                started = time.perf_counter()
                writer.write(request.encode("latin-1"))
                status, headers, body = await asyncio.wait_for(_read_response(reader), timeout)
                elapsed = time.perf_counter() - started
            except asyncio.TimeoutError:
                error("timeout")
                writer = _close(writer)
                continue
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
                error("connection")
                writer = _close(writer)
                continue
            result.bytes_received += len(body)
            if status != 200:
                error(f"status {status}")
            elif expected.get(url) is not None and hashlib.sha256(body).hexdigest() != expected[url]:
                error("body differs")
            else:
                result.latencies.append(elapsed)
            if headers.get("connection", "").lower() == "close":
                writer = _close(writer)
        _close(writer)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def _close(writer):
    if writer is not None:
        writer.close()
    return None


def run_requests(proxy_port: int, urls: list[str], expected: dict[str, str], *, total: int,
                 connections: int, timeout: float = 10.0) -> LoadResult:
    """Send exactly `total` GETs (cycling through `urls`) over `connections` keep-alive connections.

    `expected` maps each URL to its body's sha256 (a different body counts as an error), or to None
    for a body that may change on the way (a page the proxy rewrites): then only the status counts.
    """
    return asyncio.run(_run_requests(proxy_port, urls, expected, total, connections, timeout))


# --- download ---------------------------------------------------------------------------------


@dataclass
class Download:
    """One body streamed through the proxy."""

    status: int
    size: int
    sha256: str
    seconds: float
    rss_start_kb: int
    rss_peak_kb: int
    rss_end_kb: int
    error: str | None = None

    @property
    def rss_growth_kb(self) -> int:
        return self.rss_peak_kb - self.rss_start_kb

    @property
    def mb_per_second(self) -> float:
        return self.size / self.seconds / 1e6 if self.seconds else 0.0


def download(proxy_port: int, url: str, proxy_pid: int, *, timeout: float = 30.0) -> Download:
    """GET `url` through the proxy, hashing the body as it arrives; RSS of `proxy_pid` sampled throughout."""
    digest = hashlib.sha256()
    size, status, failure = 0, 0, None
    started = time.perf_counter()
    with RssSampler(proxy_pid) as memory:
        connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=timeout)
        try:
            connection.request("GET", url, headers={"Host": urlsplit(url).netloc})
            response = connection.getresponse()
            status = response.status
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        except (OSError, http.client.HTTPException) as e:
            failure = f"{type(e).__name__}: {e}"
        finally:
            connection.close()
    return Download(status, size, digest.hexdigest(), time.perf_counter() - started,
                    memory.start_kb, memory.peak_kb, memory.end_kb, failure)


def write_random_file(path: Path, size: int, block: int = 1 << 20) -> str:
    """A file of `size` bytes that no layer can compress away; returns its sha256.

    Blocks of random bytes, each made different by its index, so the file is written fast.
    """
    seed = os.urandom(block)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        written, index = 0, 0
        while written < size:
            chunk = (index.to_bytes(8, "big") + seed[8:])[: size - written]
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            index += 1
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "serve":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(_serve_static(Path(sys.argv[2]).resolve(), int(sys.argv[3])))
