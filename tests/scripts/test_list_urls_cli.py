"""check.py and rewrite.py read lists named by URL through the proxy's subscription cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from filters.lists import subscriptions as subs

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "scripts" / "check.py"
REWRITE = REPO / "scripts" / "rewrite.py"

pytestmark = pytest.mark.e2e

LIST = "[Adblock Plus 2.0]\n! Title: Loopback list\n||served.example^\n||tracker.example^$script\n##.sponsor\n"
PAGE = '<html><body><p>The story.</p><div class="sponsor">Buy now</div></body></html>'
URL = "https://served.example/a.js"


def run(env, script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def default_cache(env) -> str:
    return os.path.join(env["XDG_CACHE_HOME"], "dejunk", "lists")


def test_check_downloads_a_list_url_into_the_proxys_cache_then_uses_the_copy(server, env):
    list_url = server.serve("/filters.txt", LIST)
    first = run(env, CHECK, "--list", list_url, URL)
    assert first.returncode == 0, first.stderr
    assert f"check: {list_url}: no copy in the list cache {default_cache(env)} yet; downloading it" in first.stderr
    assert "blocked by ||served.example^ (filters.txt:3)" in first.stdout
    assert os.path.isfile(subs.cache_path(list_url, default_cache(env)))

    server.serve("/filters.txt", LIST.replace("||served.example^\n", ""))  # the copy, not this, is read
    second = run(env, CHECK, "--list", list_url, URL)
    assert second.returncode == 0 and "downloading" not in second.stderr
    assert "blocked by ||served.example^" in second.stdout
    assert len(server.requests_for("/filters.txt")) == 1


def test_check_with_builtin_file_and_url_together(server, env, tmp_path):
    own = tmp_path / "own.txt"
    own.write_text("||own.example^\n")
    list_url = server.serve("/filters.txt", LIST)
    for target, where in (("https://own.example/x", "own.txt:1"), (URL, "filters.txt:3"),
                          ("https://www.google-analytics.com/analytics.js", "builtin.txt")):
        result = run(env, CHECK, "--list", "builtin", "--list", str(own), "--list", list_url, target)
        assert result.returncode == 0 and where in result.stdout, (target, result.stdout, result.stderr)


def test_check_reads_the_configs_subscriptions_and_cache_dir(server, env, tmp_path):
    list_url = server.serve("/filters.txt", LIST)
    config = tmp_path / "dejunk.toml"
    config.write_text(f'[lists]\nsubscriptions = ["{list_url}"]\ncache_dir = "my-lists"\n')
    result = run(env, CHECK, "--config", str(config), URL)
    assert result.returncode == 0, result.stderr
    assert "blocked by ||served.example^" in result.stdout
    assert os.path.isfile(subs.cache_path(list_url, str(tmp_path / "my-lists")))
    assert not os.path.exists(default_cache(env))
    # --cache wins over the config's cache_dir, as dejunk_cache does in the proxy.
    other = tmp_path / "other-cache"
    result = run(env, CHECK, "--config", str(config), "--cache", str(other), URL)
    assert result.returncode == 0 and f"no copy in the list cache {other} yet" in result.stderr
    assert os.path.isfile(subs.cache_path(list_url, str(other)))


@pytest.mark.parametrize("script,code", [(CHECK, 2), (REWRITE, 1)])
def test_a_list_that_cannot_be_downloaded_is_an_error_not_a_traceback(server, env, tmp_path, script, code):
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    missing = server.url("/missing.txt")
    if script == CHECK:
        args = ("--list", missing, URL)
    else:
        args = ("--list", missing, "--url", "https://news.example/", str(page))
    result = run(env, script, *args)
    assert result.returncode == code
    assert f"cannot download {missing}: " in result.stderr and "404" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not os.path.exists(subs.cache_path(missing, default_cache(env)))


def test_a_bad_config_is_an_error(env, tmp_path):
    config = tmp_path / "dejunk.toml"
    config.write_text('[lists]\nsubscriptions = ["not a url"]\n')
    result = run(env, CHECK, "--config", str(config), URL)
    assert result.returncode == 2 and "cannot use the config" in result.stderr and "Traceback" not in result.stderr


def test_rewrite_downloads_a_list_url_and_applies_its_cosmetic_rules(server, env, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    list_url = server.serve("/filters.txt", LIST)
    cache = tmp_path / "cache"
    result = run(env, REWRITE, "--list", list_url, "--cache", str(cache), "--url", "https://news.example/", str(page))
    assert result.returncode == 0, result.stderr
    assert f"rewrite: {list_url}: no copy in the list cache {cache} yet; downloading it" in result.stderr
    report = json.loads(result.stdout)
    assert report["removed"] == 1 and report["selectors"] == ["##.sponsor"]
    assert report["rules"][0]["list"] == "filters.txt" and report["rules"][0]["line"] == 5
    again = run(env, REWRITE, "--list", list_url, "--cache", str(cache), "--url", "https://news.example/", str(page))
    assert again.returncode == 0 and again.stderr == "" and json.loads(again.stdout)["removed"] == 1
    assert len(server.requests_for("/filters.txt")) == 1


def test_check_takes_a_list_set_name_and_downloads_it_from_the_mirror(server, env):
    from filters.lists import sets

    for known in sets.KNOWN_LISTS.values():
        host_path = known.url.split("://", 1)[1]
        server.serve("/" + host_path, f"! Title: {known.name} stand-in\n||standin-{known.name}.example^\n")
    env = {**env, sets.FETCH_ENV: "1", sets.MIRROR_ENV: server.url("")}
    result = run(env, CHECK, "--list", "default", "https://standin-easylist.example/x.js")
    assert result.returncode == 0, result.stderr
    assert "blocked by ||standin-easylist.example^ (easylist.txt:2)" in result.stdout
    assert len(server.requests) == 9
    # Under the test suite's switch, nothing is downloaded and the check says why.
    refused = run({**env, sets.FETCH_ENV: "0"}, CHECK, "--cache", str(Path(env["HOME"]) / "other"), "--list", "easylist",
                  URL)
    assert refused.returncode == 2 and "not fetched: DEJUNK_FETCH_DEFAULT_LISTS=0" in refused.stderr
    assert len(server.requests) == 9
