"""The `dejunk` command and the installable package.

The launcher's choices are tested in this process; then a wheel is built offline from a copy of
the source, installed into a fresh virtual environment, and its `dejunk` command is run for real:
a mitmdump (and a mitmweb) with the addon from site-packages, on loopback, with HOME and the XDG
folders in the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import mitmproxy.version
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from addons import cli
from tests.e2e.load import free_port, stop_process
from tests.e2e.origin import start_origin
from tests.network.test_hotpath import cannot_compile

REPO = Path(__file__).resolve().parents[2]
RESOLVER = REPO / "tests" / "e2e" / "resolver.py"
# What a build needs from the source tree; everything else (tests, scripts) stays out of the wheel.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "requirements.txt", "README.md", "addons", "filters")
# What an in-place build of the hot path leaves in a checkout (ignored by git): a fresh clone has none.
BUILT_IN_PLACE = ("*.so", "*.pyd", "hotpath.c", "hotpath.built-from")
# The first release that builds wheels by itself (the build-system requirement in pyproject.toml).
SETUPTOOLS_NEEDED = "70.1"
_LISTENING = re.compile(r"proxy listening at (\S+):(\d+)")
# mitmproxy 12 adds the web interface's access token to this address (?token=...).
_WEB_LISTENING = re.compile(r"Web server listening at (http://([^:/]+):(\d+)/\S*)")


def _source_files(folder: str) -> set[str]:
    """The files of a source folder, relative to it, without bytecode."""
    root = REPO / folder
    return {
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        and not any(p.match(pattern) for pattern in BUILT_IN_PLACE)
    }


def _user_env(home: Path) -> dict[str, str]:
    """The environment of a user whose home is `home` (created), so nothing touches the real one."""
    for name in ("home", "cache", "config", "data"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(home / "home"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"))
    return env


# --- the launcher's decisions, in this process --------------------------------------------------

@pytest.fixture
def no_config(tmp_path, monkeypatch) -> Path:
    """A HOME without mitmproxy's config file, so the default confdir chooses nothing."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def test_the_addon_lies_beside_the_launcher():
    assert Path(cli.ADDON) == REPO / "addons" / "dejunk.py"


@pytest.mark.parametrize("argv, tool, args", [
    ([], "mitmdump", []),
    (["-p", "9090"], "mitmdump", ["-p", "9090"]),
    (["web", "--set", "web_port=9091"], "mitmweb", ["--set", "web_port=9091"]),
    (["console", "-p", "9090"], "mitmproxy", ["-p", "9090"]),
    (["--set", "dejunk_lists=web"], "mitmdump", ["--set", "dejunk_lists=web"]),  # "web" as a value is no tool
])
def test_split_command(argv, tool, args):
    assert cli.split_command(argv) == (tool, args)


def test_loopback_by_default(no_config):
    full, local_only = cli.tool_arguments(["--set", "dejunk_lists=builtin", "--set", "listen_port=9090"])
    assert local_only
    assert full == ["-s", cli.ADDON, "--listen-host", "127.0.0.1", "--set", "dejunk_lists=builtin",
                    "--set", "listen_port=9090"]


@pytest.mark.parametrize("args", [
    ["--listen-host", "0.0.0.0"],
    ["--listen-host=::"],
    ["--listen-h", "192.0.2.1"],  # argparse takes an unambiguous abbreviation
    ["--set", "listen_host=0.0.0.0"],
    ["--set=listen_host="],  # empty: all interfaces, chosen explicitly
])
def test_the_users_listen_host_wins(no_config, args):
    full, local_only = cli.tool_arguments(args)
    assert not local_only
    assert full == ["-s", cli.ADDON, *args]


def test_mitmproxy_config_file_choosing_listen_host_wins(no_config, tmp_path):
    default_confdir = no_config / ".mitmproxy"
    default_confdir.mkdir()
    (default_confdir / "config.yaml").write_text("listen_host: 0.0.0.0\n")
    assert cli.tool_arguments([]) == (["-s", cli.ADDON], False)
    # A confdir named on the command line is the one mitmproxy reads, so it decides instead.
    other = tmp_path / "other-conf"
    other.mkdir()
    (other / "config.yml").write_text("dejunk_lists: [builtin]\n")
    assert cli.tool_arguments(["--set", f"confdir={other}"])[1] is True
    (other / "config.yml").write_text("listen_host: 192.0.2.1\n")
    assert cli.tool_arguments(["--set", f"confdir={other}"])[1] is False


def test_a_broken_config_file_is_left_to_mitmproxy(no_config):
    (no_config / ".mitmproxy").mkdir()
    (no_config / ".mitmproxy" / "config.yaml").write_text("listen_host: [unclosed\n")
    assert cli.tool_arguments([])[1] is True


def test_main_runs_the_tool_with_the_addon(no_config, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "run_tool", lambda tool, args: calls.append((tool, args)))
    assert cli.main(["web", "--set", "web_open_browser=false"]) == 0
    assert calls == [("mitmweb", ["-s", cli.ADDON, "--listen-host", "127.0.0.1", "--set", "web_open_browser=false"])]
    assert "listening on 127.0.0.1 only" in capsys.readouterr().err
    calls.clear()
    assert cli.main(["console", "--listen-host", "::1"]) == 0
    assert calls == [("mitmproxy", ["-s", cli.ADDON, "--listen-host", "::1"])]
    assert "listening on" not in capsys.readouterr().err


def test_version_from_the_source_tree(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "addons" / "cli.py"), "--version"], cwd=tmp_path,
                          env=_user_env(tmp_path), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dejunk ")
    assert f"addon: {REPO / 'addons' / 'dejunk.py'}" in done.stdout
    assert f"Mitmproxy: {mitmproxy.version.VERSION}" in done.stdout


# --- the wheel, installed -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """dejunk's wheel, built offline from a copy of the source (a build writes beside its input)."""
    try:
        setuptools_version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        setuptools_version = "none"
    if setuptools_version == "none" or Version(setuptools_version) < Version(SETUPTOOLS_NEEDED):
        pytest.fail(f"building the wheel needs setuptools>={SETUPTOOLS_NEEDED} (requirements-dev.txt), "
                    f"this Python has {setuptools_version}: pip install -r requirements-dev.txt")
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *BUILT_IN_PLACE))
        else:
            shutil.copy2(REPO / name, source / name)
    out = work / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         str(source), "-w", str(out)],
        capture_output=True, text=True, timeout=300, env=_user_env(work / "user"), check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = list(out.glob("dejunk-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed, dependencies taken from this test's Python.

    `venv --system-site-packages` would expose the base Python's packages, not those of the virtual
    environment running the tests, so a .pth file adds this Python's site folders instead; it is
    written after the install, so pip sees an empty environment.
    """
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300, env=_user_env(path.parent / "user"), check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    ours = [p for p in site.getsitepackages() if os.path.isdir(p)]
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        ours.append(site.getusersitepackages())
    Path(purelib, "test-dependencies.pth").write_text("\n".join(ours) + "\n")
    return path


def test_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        wheel_metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    packaged = {n for n in names if ".dist-info/" not in n}
    expected = {f"filters/{n}" for n in _source_files("filters")}
    expected |= {f"dejunk_addons/{n}" for n in _source_files("addons")}
    # The network hot path compiled beside its source, with the digest of what it was built from
    # (where this Python can compile it: else the wheel holds the source alone).
    compiled = {n for n in packaged if n.startswith("filters/network/hotpath.") and n.endswith((".so", ".pyd"))}
    if cannot_compile() is None:
        assert len(compiled) == 1, compiled
        compiled.add("filters/network/hotpath.built-from")
    assert packaged == expected | compiled
    # The built-in list and the addon script are among them, and nothing from tests/ or scripts/.
    assert {"filters/lists/builtin.txt", "dejunk_addons/dejunk.py", "dejunk_addons/cli.py"} <= packaged
    assert {n.split("/")[0] for n in packaged} == {"filters", "dejunk_addons"}
    assert "dejunk = dejunk_addons.cli:main" in entry_points
    assert "Requires-Python: >=3.11" in wheel_metadata
    required = {str(Requirement(line.split(":", 1)[1].strip()))
                for line in wheel_metadata.splitlines() if line.startswith("Requires-Dist:")}
    listed = {str(Requirement(line)) for line in (REPO / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert required == listed and any(r.startswith("mitmproxy") for r in required)


def test_installed_version(venv, tmp_path):
    done = subprocess.run([str(venv / "bin" / "dejunk"), "--version"], cwd=tmp_path, env=_user_env(tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "dejunk 0.1.0"
    addon = Path(lines[1].removeprefix("addon: "))
    assert addon.name == "dejunk.py" and addon.parent.name == "dejunk_addons"
    assert addon.is_relative_to(venv) and addon.is_file()  # from site-packages, not the source tree
    assert lines[2] == ("network hot path: compiled" if cannot_compile() is None
                        else "network hot path: plain Python (not compiled)")
    assert f"Mitmproxy: {mitmproxy.version.VERSION}" in done.stdout


class Started:
    """A `dejunk` command started for real, its combined output in a log file."""

    def __init__(self, venv: Path, workdir: Path, *args: str):
        self.log_path = workdir / "dejunk.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(venv / "bin" / "dejunk"), *args], cwd=workdir, env=_user_env(workdir),
                                        stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: re.Pattern, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.log())
            if match:
                return match
            if self.process.poll() is not None:
                raise AssertionError(f"dejunk exited ({self.process.returncode}):\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern.pattern!r} within {timeout} s:\n{self.log()}")

    def stop(self) -> int:
        stop_process(self.process, signal.SIGTERM, timeout=15)
        self._log.close()
        return self.process.returncode


def _get(proxy_port: int, url: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"}))
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, {k.lower(): v for k, v in answer.headers.items()}, answer.read()


def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_installed_dejunk_proxies_on_loopback_and_blocks(venv, tmp_path):
    origin = start_origin()
    # The resolver keeps every name off DNS: *.test is 127.0.0.1, any other name fails.
    proxy = Started(venv, tmp_path, "-p", "0", "-s", str(RESOLVER))
    try:
        listening = proxy.wait_for(_LISTENING)
        host, port = listening.group(1), int(listening.group(2))
        assert host == "127.0.0.1"
        assert "dejunk: listening on 127.0.0.1 only" in proxy.log()
        assert f"Loading script {venv}" in proxy.log()  # the addon from site-packages
        if sys.platform.startswith("linux"):
            # All of 127.0.0.0/8 is this machine on Linux: a proxy bound to every interface would answer here.
            assert _refused("127.0.0.2", port)

        status, headers, body = _get(port, f"http://news.test:{origin.port}/")
        assert status == 200
        assert b"The article text that must survive." in body
        assert b"ad-slot" not in body  # the built-in list's ##.ad-slot, removed by a page worker
        assert len(origin.requests_to("/")) == 1

        status, headers, body = _get(port, "http://ad.doubleclick.net/pagead/show_ads.js")
        assert status == 403, (status, headers, body[:200])
        assert headers.get("x-dejunk") == "blocked; rule=||doubleclick.net^"
        assert len(origin.seen) == 1  # answered by dejunk; the origin saw only the page

        status, headers, body = _get(port, "http://dejunk.home.arpa/")  # the dashboard, packaged with its pages
        assert status == 200 and b'<meta name="dejunk-token" content="' in body and b"__DEJUNK_TOKEN__" not in body
    finally:
        code = proxy.stop()
        origin.stop()
    assert code == 0, proxy.log()
    # mitmproxy made its CA in the temporary HOME, not the user's.
    assert (tmp_path / "home" / ".mitmproxy" / "mitmproxy-ca-cert.pem").is_file()


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_installed_dejunk_web(venv, tmp_path):
    web_port = free_port()
    web = Started(venv, tmp_path, "web", "-p", "0", "-s", str(RESOLVER), "--set", f"web_port={web_port}",
                  "--set", "web_open_browser=false")
    try:
        proxy = web.wait_for(_LISTENING)
        assert proxy.group(1) == "127.0.0.1"
        interface = web.wait_for(_WEB_LISTENING)
        address, host, port = interface.groups()
        assert (host, port) == ("127.0.0.1", str(web_port))
        assert f"Loading script {venv}" in web.log()
        assert "dejunk: filters ready" in web.log()
        with urllib.request.urlopen(address, timeout=30) as page:
            assert page.status == 200 and b"mitmproxy" in page.read()
    finally:
        code = web.stop()
    assert code == 0, web.log()


def test_dejunk_serve_runs_serve_py(capsys, tmp_path):
    # `dejunk serve` is addons/serve.py: here it stops at once, saying how to get HAProxy.
    assert cli.main(["serve", "--haproxy", str(tmp_path / "no-haproxy")]) == 2
    assert "apt-get install haproxy" in capsys.readouterr().err
