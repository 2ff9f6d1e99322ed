"""`scripts/lists.py` end to end: a subprocess updating from a loopback server, then reporting status."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from filters.lists import subscriptions as subs

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "lists.py"

pytestmark = pytest.mark.e2e


def make_list(rules: int = 120, title: str = "Loopback list") -> str:
    header = [
        "[Adblock Plus 2.0]",
        f"! Title: {title}",
        "! Version: 202701130520",
        "! Last modified: 13 Jan 2027 05:20 UTC",
        "! Expires: 12 hours",
    ]
    return "\n".join(header + [f"||ads{i}.example.org^" for i in range(rules)]) + "\n"


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, cwd=str(REPO)
    )


def test_update_then_status(server, env, tmp_path):
    cache = str(tmp_path / "cache")
    url = server.serve("/easylist.txt", make_list(), etag='"v1"')
    updated = run(env, "update", "--cache", cache, url)
    assert updated.returncode == 0, updated.stderr
    # 12 hours from the child's clock, read a moment later: "in 11 hours" (or 12 on a coarse clock).
    assert re.search(rf"updated       {re.escape(url)} \(120 rules, next check in 1[12] hours\)", updated.stdout)
    assert Path(subs.cache_path(url, cache)).read_text() == make_list()

    again = run(env, "update", "--cache", cache, url)
    assert again.returncode == 0 and f"not due       {url}" in again.stdout
    assert len(server.requests_for("/easylist.txt")) == 1

    forced = run(env, "update", "--cache", cache, "--force", url)
    assert forced.returncode == 0 and f"not modified  {url}" in forced.stdout

    shown = run(env, "status", "--cache", cache)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "Loopback list" in lines
    assert f"  source:       {url}" in lines
    assert "  version:      202701130520, modified 13 Jan 2027 05:20 UTC" in lines
    # What the proxy uses of it: a list from this URL is not uBO's, so it is untrusted.
    assert ("  rules:        120 network, 0 cosmetic rules, 0 host entries in force (untrusted: trusted-only rules "
            "skipped)") in lines
    assert "  skipped:      none" in lines
    assert f"  cached copy:  {subs.cache_path(url, cache)}" in lines
    assert "  last error:   none" in lines
    assert any(re.fullmatch(r"  next due:     \S+ \S+ UTC \(in 1[12] hours\)", line) for line in lines)
    assert any(line.startswith("  last update:  ") for line in lines)

    as_json = json.loads(run(env, "status", "--cache", cache, "--json").stdout)
    (listed,) = as_json["lists"]
    assert listed["url"] == url and listed["rule_count"] == 120 and listed["due"] is False
    assert listed["in_force"] == {"network": 120, "cosmetic": 0, "hosts": 0, "trusted": False, "skipped": {}}
    trusted = json.loads(run(env, "status", "--cache", cache, "--json", "--trusted-list", url.rsplit("/", 1)[0]).stdout)
    assert trusted["lists"][0]["in_force"]["trusted"] is True


def test_failed_update_keeps_copy_and_exits_1(server, env, tmp_path):
    cache = str(tmp_path / "cache")
    url = server.serve("/list.txt", make_list(), etag='"v1"')
    assert run(env, "update", "--cache", cache, url).returncode == 0
    server.serve("/list.txt", "<!doctype html><html><body>captive portal</body></html>", etag='"v2"')
    failed = run(env, "update", "--cache", cache, "--force", url)
    assert failed.returncode == 1
    assert f"FAILED        {url}" in failed.stdout
    assert re.search(
        r"not a filter list: an HTML or XML page \(keeping the last good copy; retry in (59 seconds|1 minute)\)",
        failed.stdout,
    )
    assert Path(subs.cache_path(url, cache)).read_text() == make_list()
    shown = run(env, "status", "--cache", cache).stdout
    assert "  last error:   not a filter list: an HTML or XML page" in shown.splitlines()


def test_config_names_subscriptions_and_cache(server, env, tmp_path):
    first = server.serve("/first.txt", make_list(title="First"))
    second = server.serve("/second.txt", make_list(130, title="Second"))
    config = tmp_path / "dejunk.toml"
    config.write_text(f'[lists]\nsubscriptions = ["{first}", "{second}"]\ncache_dir = "from-config"\n')
    updated = run(env, "update", "--config", str(config))
    assert updated.returncode == 0, updated.stderr
    assert f"cache: {tmp_path / 'from-config'}" in updated.stdout
    assert updated.stdout.count("updated ") == 2
    assert subs.cached_paths([first, second], str(tmp_path / "from-config")) == [
        subs.cache_path(first, str(tmp_path / "from-config")),
        subs.cache_path(second, str(tmp_path / "from-config")),
    ]
    shown = run(env, "status", "--config", str(config)).stdout.splitlines()
    assert shown.index("First") < shown.index("Second")


def test_default_cache_is_the_user_cache(server, env, tmp_path):
    url = server.serve("/list.txt", make_list())
    assert run(env, "update", url).returncode == 0
    default = tmp_path / "xdg-cache" / "dejunk" / "lists"
    assert Path(subs.cache_path(url, str(default))).is_file()
    assert f"cache: {default}" in run(env, "status").stdout


def test_usage_errors_exit_2(env, tmp_path):
    nothing = run(env, "update", "--cache", str(tmp_path / "cache"))
    assert nothing.returncode == 2 and "nothing to update" in nothing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[lists]\nsubscriptions = [1, 2]\n")
    bad_config = run(env, "update", "--config", str(broken))
    assert bad_config.returncode == 2 and str(broken) in bad_config.stderr
    missing = run(env, "status", "--config", str(tmp_path / "missing.toml"))
    assert missing.returncode == 2 and "cannot use the config" in missing.stderr
    assert run(env).returncode == 2


def test_status_of_an_empty_cache(env, tmp_path):
    shown = run(env, "status", "--cache", str(tmp_path / "empty"))
    assert shown.returncode == 0 and "no lists in the cache yet" in shown.stdout


def test_bad_url_is_reported_not_fatal(server, env, tmp_path):
    url = server.serve("/list.txt", make_list())
    result = run(env, "update", "--cache", str(tmp_path / "cache"), "ftp://example.com/list.txt", url)
    assert result.returncode == 1
    assert "not an http(s) URL" in result.stdout and f"updated       {url}" in result.stdout


def test_sets_are_listed_and_names_update_their_lists(server, env, tmp_path):
    from filters.lists import sets

    shown = run(env, "sets")
    assert shown.returncode == 0 and shown.stdout.startswith("default: ublock-filters ublock-badware")
    assert "https://malware-filter.gitlab.io/urlhaus-filter/urlhaus-filter-ag-online.txt" in shown.stdout
    server.serve("/ublockorigin.github.io/uAssets/thirdparties/easylist.txt", make_list(title="EasyList stand-in"))
    env = {**env, sets.FETCH_ENV: "1", sets.MIRROR_ENV: server.url("")}
    done = run(env, "update", "--cache", str(tmp_path / "cache"), "easylist")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "updated       https://ublockorigin.github.io/uAssets/thirdparties/easylist.txt (120 rules" in done.stdout
    wrong = run(env, "update", "--cache", str(tmp_path / "cache"), "defualt")
    assert wrong.returncode == 2 and "did you mean default?" in wrong.stderr
