"""scripts/culprit.py: a corpus recording with culprits planted in EasyList, through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reports.test_culprit import ARTICLE, PLANTED, make_planted


@pytest.fixture(scope="module")
def planted(corpus, tmp_path_factory):
    """Corpus page 1 recorded, and EasyList with culprits planted (see tests/reports/test_culprit.py)."""
    return make_planted(corpus, tmp_path_factory.mktemp("culprit"))


REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "culprit.py"


def run(env, *args, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_names_the_rule_its_list_and_line_and_the_checked_exception(planted, env):
    done = run(env, planted["recording"], "--list", planted["list"], "--expect-text", ARTICLE, "--myfilters", "")
    assert done.returncode == 0, done.stderr
    line = planted["lines"]["text"]
    assert f"  {PLANTED['text']}    (easylist.txt:{line})" in done.stdout
    assert "exception for slate.com:\n  slate.com#@#.article__content" in done.stdout
    assert "checked: with it, the page's text contains" in done.stdout
    assert "culprit: with every rule: the page's text lacks" in done.stderr  # progress goes to stderr
    assert "culprit:" not in done.stdout


def test_json(planted, env):
    done = run(env, planted["recording"], "--list", planted["list"], "--expect-allowed", "oil.1.3.5-RELEASE",
               "--myfilters", "", "--json", "--quiet")
    assert done.returncode == 0 and done.stderr == ""
    document = json.loads(done.stdout)
    assert document["culprits"] == [{"rule": PLANTED["script"], "list": "easylist.txt",
                                     "line": planted["lines"]["script"], "kind": "network",
                                     "exception": f"@@{PLANTED['script']}$domain=slate.com"}]
    assert isinstance(document["steps"], int) and document["steps"] >= 1
    assert document["verified"]["ok"] is True


def test_exit_1_when_broken_with_no_rule_and_2_when_fine_with_all(planted, env):
    broken = run(env, planted["recording"], "--list", planted["list"], "--expect-text", "words this page never had",
                 "--myfilters", "")
    assert broken.returncode == 1
    assert "filtering is not the cause" in broken.stdout
    fine = run(env, planted["recording"], "--list", planted["list"], "--expect-selector", "header.article__header",
               "--myfilters", "", "--json")
    assert fine.returncode == 2
    assert json.loads(fine.stdout)["culprits"] == []


def test_exit_3_when_it_cannot_run(planted, env, tmp_path):
    missing = run(env, tmp_path / "none.flows", "--list", planted["list"], "--expect-text", "x")
    assert missing.returncode == 3 and "no such file" in missing.stderr
    bad = run(env, planted["recording"], "--list", planted["list"], "--expect-selector", "div[")
    assert bad.returncode == 3 and "not a CSS selector" in bad.stderr
    usage = run(env, planted["recording"], "--expect-text", "a", "--expect-selector", "b")
    assert usage.returncode == 3


def test_apply_appends_the_exception_to_my_filters_and_the_page_is_fixed(planted, env, tmp_path):
    mine = tmp_path / "state" / "my-filters.txt"
    done = run(env, planted["recording"], "--list", planted["list"], "--expect-text", ARTICLE, "--myfilters", mine,
               "--apply")
    assert done.returncode == 0, done.stderr
    assert f"appended to {mine}" in done.stdout
    text = mine.read_text()
    assert text.startswith("! Title: My filters")  # made as the proxy makes it
    assert text.endswith("slate.com#@#.article__content\n")
    again = run(env, planted["recording"], "--list", planted["list"], "--expect-text", ARTICLE, "--myfilters", mine)
    assert again.returncode == 2, again.stdout


def test_lists_default_to_the_proxys_with_my_filters_last(planted, env, tmp_path):
    # No cached copy of the `default` set: the proxy would use the built-in list, and the user's filters.
    env = {**env, "XDG_DATA_HOME": str(tmp_path / "data")}
    mine = tmp_path / "data" / "dejunk" / "my-filters.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("! mine\n||example.test^\nslate.com##.article__content\n")
    done = run(env, planted["recording"], "--expect-text", ARTICLE, "--json")
    assert done.returncode == 0, done.stderr
    assert "not in the list cache yet" in done.stderr
    [found] = json.loads(done.stdout)["culprits"]
    assert (found["list"], found["line"]) == ("my-filters.txt", 3)


def test_time_with_easylist_easyprivacy_and_ubo_filters(planted, env, corpus, capsys):
    lists = [planted["list"], corpus / "lists" / "easyprivacy.txt", corpus / "lists" / "ublock-filters.txt"]
    started = time.monotonic()
    done = run(env, planted["recording"], *[a for path in lists for a in ("--list", path)], "--expect-text", ARTICLE,
               "--myfilters", "", "--json")
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [c["line"] for c in document["culprits"]] == [planted["lines"]["text"]]
    with capsys.disabled():
        print(f"\nculprit.py on {planted['url']} with EasyList + EasyPrivacy + uBO filters: {seconds:.1f} s wall, "
              f"{document['fired']} rules fired, {document['steps']} replays")
    assert seconds < 60  # the bound; typically a few seconds
