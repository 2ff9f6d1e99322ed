"""Every real call of the network, JSON, node-text and attribute scriptlets in uBO's own list reads into
the arguments its function takes, and every /regex/ argument is one JavaScript accepts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from filters.scriptlets.calls import parse_call
from filters.scriptlets.catalog import lookup

# uBO's names for the scriptlets these files hold (aliases are looked up through the catalog).
NAMES = {
    "no-window-open-if", "prevent-fetch", "trusted-prevent-fetch", "prevent-xhr", "json-prune",
    "json-prune-fetch-response", "json-prune-xhr-response", "json-edit", "json-edit-xhr-response",
    "json-edit-fetch-response", "jsonl-edit-xhr-response", "trusted-replace-xhr-response",
    "trusted-replace-fetch-response", "remove-node-text", "trusted-replace-node-text", "remove-attr",
    "remove-class", "set-attr", "href-sanitizer", "disable-newtab-links",
}
# The named extra arguments each reads (after its positional ones).
EXTRAS = {
    "prevent-fetch": {"throttle"}, "trusted-prevent-fetch": {"throttle"},
    "json-prune-fetch-response": {"propsToMatch"}, "json-prune-xhr-response": {"propsToMatch"},
    "json-edit": {"matches"}, "json-edit-xhr-response": {"propsToMatch"},
    "json-edit-fetch-response": {"propsToMatch"}, "jsonl-edit-xhr-response": {"propsToMatch"},
    "trusted-replace-xhr-response": {"includes"}, "trusted-replace-fetch-response": {"includes"},
    "remove-node-text": {"stay", "quitAfter"},
    "trusted-replace-node-text": {"condition", "includes", "excludes", "sedCount", "stay", "quitAfter"},
    "remove-attr": {"quitAfter"}, "remove-class": {"quitAfter"}, "set-attr": {"runAt"},
}
_PARAMETERS = re.compile(r"^function\s*\(([^)]*)\)")
_RULE = re.compile(r"##\+js\((.*)\)\s*$")


def _positional(source: str) -> int:
    params = _PARAMETERS.match(source).group(1).strip()
    return len([p for p in params.split(",") if p.strip()]) if params else 0


def _calls(corpus):
    text = (corpus / "lists" / "ublock-filters.txt").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("!"):
            continue
        found = _RULE.search(line)
        if not found:
            continue
        call = parse_call(found.group(1))
        scriptlet = lookup(call.name)
        if scriptlet is not None and scriptlet.name in NAMES:
            yield number, call, scriptlet


def test_real_calls_fit_their_scriptlets(corpus):
    checked = 0
    misfits = []
    for number, call, scriptlet in _calls(corpus):
        checked += 1
        count = _positional(scriptlet.source)
        extra = list(call.args[count:])
        names = extra[0::2]
        if len(extra) % 2 or not set(names) <= EXTRAS.get(scriptlet.name, set()):
            misfits.append((number, call))
    assert checked > 300, "the list's calls of these scriptlets were not found"
    assert misfits == []


@pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed: JavaScript decides what a regex is")
def test_real_regex_arguments_compile(corpus, tmp_path):
    patterns = set()
    for _number, call, _scriptlet in _calls(corpus):
        for arg in call.args:
            body = arg[1:] if arg.startswith("!") else arg
            for part in body.split(" "):  # propsToMatch: `name:/re/` pairs separated by spaces
                part = part.split(":", 1)[1] if re.match(r"^\w+:/", part) else part
                if re.fullmatch(r"/.+/[dgimsuvy]*", part):
                    patterns.add(part)
    assert patterns, "the list has regex arguments for these scriptlets"
    script = tmp_path / "compile.js"
    script.write_text(
        "const bad = [];\n"
        f"for (const p of {json.dumps(sorted(patterns))}) {{\n"
        "  const m = /^\\/(.+)\\/([a-z]*)$/.exec(p);\n"
        "  try { new RegExp(m[1], m[2]); } catch (e) { bad.push(p); }\n"
        "}\n"
        "console.log(JSON.stringify(bad));\n"
    )
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
