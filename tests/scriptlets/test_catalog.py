"""The catalog: every scriptlet file reads, names are unique, and the composed script is safe in HTML."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from filters.scriptlets.calls import ScriptletCall, ScriptletError, parse_call
from filters.scriptlets.catalog import catalog, library, lookup
from filters.scriptlets.compose import compose, js_string


def test_call_arguments_as_lists_write_them():
    assert parse_call("set, a.b, true") == ScriptletCall("set", ("a.b", "true"))
    assert parse_call("aeld, , '0x") == ScriptletCall("aeld", ("", "'0x"))
    assert parse_call(r"set, a\,b, 'x, y', `z`") == ScriptletCall("set", ("a,b", "x, y", "z"))
    assert parse_call("noeval") == ScriptletCall("noeval", ())


def test_percent_encoded_arguments_are_decoded():
    call = parse_call("rpnt, script, art.on('video%3Aplay'%2C%20setUpAds)%3B, art.on('video%3Aplay')%3B")
    assert call.args == ("script", "art.on('video:play', setUpAds);", "art.on('video:play');")
    assert parse_call("set, a, 100%").args == ("a", "100%")  # not an escape: left as written


def test_a_call_without_a_name_is_an_error():
    with pytest.raises(ScriptletError):
        parse_call(" , a")
    with pytest.raises(ScriptletError):
        parse_call("")


def test_names_aliases_and_js_suffix_find_the_same_scriptlet():
    assert lookup("set") is lookup("set-constant") is lookup("set-constant.js")
    assert lookup("no-such-scriptlet") is None
    assert all(scriptlet.source.startswith("function") for scriptlet in catalog().values())


def test_composed_script_cannot_end_its_element():
    call = ScriptletCall("set", ("a</script><script>alert(1)//", "<!--"))
    script = compose([call])
    assert not re.search(r"</script|<!--|<script", script, re.IGNORECASE)
    assert js_string("</script>") == '"\\u003c/script\\u003e"'


def test_composed_script_is_the_same_for_the_same_calls():
    calls = [parse_call("set, a, true"), parse_call("set, b, false")]
    assert compose(calls) == compose(list(calls))
    assert compose([ScriptletCall("no-such-scriptlet")]) == ""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed: the syntax check needs it")
def test_library_and_every_scriptlet_are_valid_javascript(tmp_path):
    names = sorted({s.name for s in catalog().values()})
    script = compose([ScriptletCall(name) for name in names])
    path = tmp_path / "all.js"
    path.write_text(script + "\n" + library())
    checked = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


def test_library_files_extending_dj_come_after_lib_js():
    # `lib-<topic>.js` files add to `dj` (`dj.chain = ...`), so lib.js, which defines it, must come first
    # although `lib-` sorts before `lib.`.
    text = library()
    assert text.startswith("var dj = (function")  # (comment lines are left out of what pages get)
    assert text.index("var dj = (function") < min(
        (text.index(marker) for marker in ("dj.chain =", "dj.timers =") if marker in text), default=len(text))


def test_every_scriptlet_ublock_filters_uses_has_a_browser_case(corpus):
    """Each scriptlet uBO's own list calls is seen working in Chromium (tests/scriptlets/cases_*.py, run
    directly and through the proxy by tests/e2e/test_scriptlets.py)."""
    from filters.lists.syntax import read_list

    from .cases import all_cases

    used = set()
    for _, line in read_list(str(corpus / "lists" / "ublock-filters.txt")).cosmetic:
        if "+js(" in line and "#@#" not in line:
            body = line[line.index("+js(") + 4 : line.rindex(")")]
            used.add(lookup(parse_call(body).name).name)
    covered = {lookup(parse_call(case.call).name).name for case in all_cases()}
    assert len(used) > 35 and not used - covered, sorted(used - covered)
