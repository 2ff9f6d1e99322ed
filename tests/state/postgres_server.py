"""A throwaway PostgreSQL server on loopback for the state store's tests: initdb into a temporary folder, then postgres.

Debian's `postgresql` package keeps its programs in /usr/lib/postgresql/<version>/bin (not on PATH).
PostgreSQL refuses to run as root: as root, the server runs as `nobody` (setpriv) in a folder of its own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

PROGRAMS = ("initdb", "postgres")


def find_binaries() -> str | None:
    """The folder holding initdb and postgres: PATH, /usr/local/bin, then Debian's newest version folder."""
    on_path = shutil.which("initdb")
    folders = ([os.path.dirname(on_path)] if on_path else []) + ["/usr/local/bin"] + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in p.split("/")[-2].split(".") if x.isdigit()],
        reverse=True)
    for folder in folders:
        if all(os.access(os.path.join(folder, name), os.X_OK) for name in PROGRAMS):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1 with trust authentication for user `postgres`, until `stop()`."""

    def __init__(self, binaries: str):
        self.binaries = binaries
        # Not under pytest's folder: that one is private to root, and the server may run as nobody.
        self.root = tempfile.mkdtemp(prefix="dejunk-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self._as = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chmod(self.root, 0o755)
            os.mkdir(self.data, 0o700)
            os.chown(self.data, nobody.pw_uid, nobody.pw_gid)
            self._as = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        self.log_path = os.path.join(self.root, "postgres.log")
        done = subprocess.run(
            [*self._as, os.path.join(binaries, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}{done.stderr}")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [*self._as, os.path.join(binaries, "postgres"), "-D", self.data, "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while not self._accepting():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"postgres did not start:\n{open(self.log_path, errors='replace').read()}")
            time.sleep(0.1)

    def _accepting(self) -> bool:
        try:
            import psycopg

            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except Exception:
            return False

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        user = "postgres" + (f":{password}" if password is not None else "")
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if getattr(self, "process", None) is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: ends sessions, no wait for clients
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if getattr(self, "_log", None) is not None:
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(message: str):
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must install it (.ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the session; skips saying why without one (fails in CI, which installs it)."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        _unavailable('psycopg is not installed (pip install -r requirements-dev.txt, or pip install "psycopg[binary]")')
    binaries = find_binaries()
    if binaries is None:
        _unavailable("PostgreSQL is not installed (Debian: apt-get install postgresql; initdb and postgres are looked "
                     "for on PATH, in /usr/local/bin and in /usr/lib/postgresql/*/bin)")
    server = PostgresServer(binaries)
    yield server
    server.stop()
