"""Starting a real mitmdump with dejunk: a bad option or a broken hook path stops the start, loudly.

Each case is a start as a user makes it: `mitmdump -s addons/dejunk.py --set ...` (or a value in
the confdir's config.yaml). A bad start ends with a non-zero status and one line saying what is
wrong, before mitmproxy says it is listening; a good one says nothing mitmproxy deprecated.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from .harness import ADDON, MITMDUMP, Proxy, fetch

BREAK_URLS = Path(__file__).with_name("break_urls.py")


def start(workdir: Path, *args: str, config_yaml: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run mitmdump with dejunk until it exits on its own (or kill it after `timeout` seconds)."""
    confdir = workdir / "conf"
    confdir.mkdir(exist_ok=True)
    if config_yaml is not None:
        (confdir / "config.yaml").write_text(config_yaml)
    command = [MITMDUMP, "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={confdir}", *args]
    env = {**os.environ, "XDG_CACHE_HOME": str(workdir / "xdg-cache"), "XDG_DATA_HOME": str(workdir / "xdg-data")}
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              cwd=workdir, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"mitmdump did not stop within {timeout} s:\n{e.stdout}{e.stderr}") from None


def dejunk_lines(output: str) -> list[str]:
    return [line.split("] ", 1)[-1] for line in output.splitlines() if "dejunk:" in line]


@pytest.mark.parametrize("options,line", [
    (["--set", "dejunk_connect_timeout=abc"],
     "dejunk: dejunk_connect_timeout: 'abc' is not a whole number of seconds, 1 or more"),
    (["--set", "dejunk_response_timeout=0"],
     "dejunk: dejunk_response_timeout: 0 is not a whole number of seconds, 1 or more"),
    (["--set", "dejunk_enabled=sometimes"], "dejunk: dejunk_enabled: 'sometimes' is not true or false"),
    (["--set", "dejunk_cosmetic=blur"], "dejunk: dejunk_cosmetic: 'blur' is not one of remove, hide, off"),
    (["--set", "dejunk_list=easylist.txt"], "dejunk: dejunk_list: no such option (did you mean dejunk_lists?)"),
    (["--set", "dejunk_lists=no-such-list.txt"],
     "dejunk: dejunk_lists: cannot read no-such-list.txt: No such file or directory"),
])
def test_a_bad_option_stops_the_start_with_one_line(tmp_path, options, line):
    done = start(tmp_path, "-s", str(ADDON), *options)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert dejunk_lines(output) == [line], output
    assert "listening" not in output and "Traceback" not in output, output


def test_a_bad_value_in_config_yaml_stops_the_start(tmp_path):
    done = start(tmp_path, "-s", str(ADDON), config_yaml="dejunk_response_timeout: soon\n")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert dejunk_lines(output) == [
        "dejunk: dejunk_response_timeout: 'soon' is not a whole number of seconds, 1 or more"], output
    assert "listening" not in output and "Traceback" not in output, output


def test_a_hook_path_this_mitmproxy_breaks_stops_the_start(tmp_path):
    # break_urls.py changes mitmproxy the way 12.x's url.unparse change broke dejunk.
    done = start(tmp_path, "-s", str(BREAK_URLS), "-s", str(ADDON))
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    [line] = [line for line in dejunk_lines(output) if "self-check" in line]
    assert line.startswith("dejunk: self-check failed on mitmproxy ") and ", Python " in line, output
    assert "block: the request hook raised TypeError: unparse() missing 1 required positional argument" in line
    assert "listening" not in output


def test_a_good_start_warns_of_nothing_mitmproxy_deprecated(tmp_path):
    proxy = Proxy(tmp_path)
    try:
        proxy.stop()
    finally:
        log = proxy.log()
    assert "deprecated" not in log.lower(), log
    assert "dejunk: filters ready" in log and "listens on every network interface" not in log, log


def test_listening_on_every_interface_is_said_at_startup(tmp_path):
    confdir = tmp_path / "conf"
    process = subprocess.Popen([MITMDUMP, "-p", "0", "--set", f"confdir={confdir}", "-s", str(ADDON)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                               env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")})
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "listens on every network interface" in line or not line:
                break
    finally:
        process.terminate()
        process.wait(10)
    assert any("start it with --listen-host 127.0.0.1" in line for line in lines), "".join(lines)


def test_a_reload_that_breaks_the_configuration_refuses_traffic(tmp_path, origin, test_list):
    # A copy of the list and of the addon, so that the test can break one and touch the other.
    own_list = tmp_path / "list.txt"
    own_list.write_text(Path(test_list).read_text())
    addon = tmp_path / "addon" / "dejunk.py"
    addon.parent.mkdir()
    addon.write_text(ADDON.read_text().replace(
        "_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))", f"_REPO_ROOT = {str(ADDON.parents[1])!r}"))
    proxy = Proxy(tmp_path, addon=addon, options={"dejunk_lists": [own_list]})
    try:
        assert fetch(proxy, f"http://ads.test:{origin.port}/x.js").status == 403
        own_list.unlink()
        time.sleep(1.1)
        addon.write_text(addon.read_text() + "\n")  # mitmproxy reloads the changed script
        deadline = time.monotonic() + 20
        while "dejunk: dejunk_lists: cannot read" not in proxy.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        refused = fetch(proxy, f"http://site.test:{origin.port}/page.html")
        assert refused.status == 503 and "dejunk is not filtering" in refused.text()
        assert refused.headers["x-dejunk"] == "not filtering"
        assert "every request now gets a 503 page" in proxy.log()
    finally:
        proxy.stop()
