"""Real processes for end-to-end tests: a mitmdump with dejunk, and curl as the client."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .load import stop_process

REPO = Path(__file__).resolve().parents[2]
ADDON = REPO / "addons" / "dejunk.py"
RESOLVER = Path(__file__).resolve().parent / "resolver.py"
MITMDUMP = str(Path(sys.executable).with_name("mitmdump"))
_LISTENING = re.compile(r"proxy listening at [^:]+:(\d+)")


class Proxy:
    """A mitmdump process on a free loopback port, its log and its dejunk event log."""

    REPO = REPO

    program = MITMDUMP

    def __init__(self, workdir: Path, *, dejunk: bool = True, options: dict[str, object] | None = None,
                 scripts: list[Path] = (), name: str = "proxy", addon: Path = ADDON, new_session: bool = False,
                 environ: dict[str, str] | None = None, prefix: list[str] = (), start_timeout: float = 30):
        self.workdir = workdir
        self.confdir = workdir / "mitmproxy-conf"
        self.events_path = workdir / f"{name}-events.jsonl"
        self.log_path = workdir / f"{name}.log"
        # `prefix`: a program that runs the proxy (a profiler); it is then given mitmdump as a Python script.
        program = [*prefix, sys.executable, self.program] if prefix else [self.program]
        args = [*program, "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={self.confdir}"]
        args += ["-s", str(RESOLVER)]
        if dejunk:
            args += ["-s", str(addon), "--set", f"dejunk_events={self.events_path}"]
        for script in scripts:
            args += ["-s", str(script)]
        for key, value in (options or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                args += ["--set", f"{key}={str(v).lower() if isinstance(v, bool) else v}"]
        self.args = args
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "XDG_CACHE_HOME": str(workdir / "xdg-cache"), "XDG_DATA_HOME": str(workdir / "xdg-data"),
               **(environ or {})}
        # `new_session`: a process group of its own, as a terminal gives a command (Ctrl-C reaches the whole group).
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=new_session)
        self.port = self.wait_for_log(_LISTENING, timeout=start_timeout)

    def wait_for_log(self, pattern: re.Pattern, timeout: float = 30) -> int:
        """Wait until the log matches `pattern`; returns its first group as a number (a port)."""
        program = Path(self.program).name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.log())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"{program} exited ({self.process.returncode}):\n{self.log()}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{program} did not start within {timeout} s:\n{self.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict]:
        if not self.events_path.exists():
            return []
        return [json.loads(line) for line in self.events_path.read_text().splitlines() if line.strip()]

    def wait_for_event(self, predicate, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no matching event within {timeout} s; events: {self.events()}")

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes
    http_version: str
    seconds: float
    first_byte_seconds: float
    exit_code: int

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def fetch(proxy: Proxy, url: str, *, headers: dict[str, str] | None = None, http2: bool = False,
          max_time: float = 30, extra: list[str] = ()) -> Fetched:
    """Fetch a URL with curl through the proxy (HTTPS trusts the proxy's CA)."""
    workdir = proxy.workdir
    body_path = workdir / "curl-body"
    head_path = workdir / "curl-headers"
    for p in (body_path, head_path):
        p.unlink(missing_ok=True)
    args = ["curl", "-s", "--proxy", proxy.url, "--max-time", str(max_time), "-o", str(body_path),
            "-D", str(head_path), "-w", "%{http_code} %{http_version} %{time_starttransfer}", "--noproxy", ""]
    if url.startswith("https:"):
        args += ["--cacert", str(proxy.ca_cert)]
    args += ["--http2"] if http2 else ["--http1.1"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    args += [*extra, url]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, timeout=max_time + 10, env={**os.environ, "NO_PROXY": ""})
    seconds = time.monotonic() - started
    code, version, first_byte = (done.stdout.decode() + " 0 0 0").split(" ")[:3]
    response_headers: dict[str, str] = {}
    if head_path.exists():
        for line in head_path.read_text(errors="replace").splitlines():
            name, sep, value = line.partition(":")
            if sep and not line.startswith("HTTP/"):
                response_headers[name.strip().lower()] = value.strip()
    body = body_path.read_bytes() if body_path.exists() else b""
    return Fetched(int(code or 0), response_headers, body, version, seconds, float(first_byte or 0), done.returncode)
