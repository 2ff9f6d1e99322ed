"""The `+js(...)` calls of uBlock filters that name the scriptlets below parse into arguments they take."""

from __future__ import annotations

import re

import pytest

from filters.scriptlets.calls import parse_call
from filters.scriptlets.catalog import lookup

# Names (uBO's, aliases, as the list writes them) this family of scriptlets answers to.
NAMES = """
set set-constant aopr abort-on-property-read aopw abort-on-property-write acs abort-current-script
abort-current-inline-script acis aost abort-on-stack-trace aeld addEventListener-defuser prevent-addEventListener
nostif no-setTimeout-if prevent-setTimeout setTimeout-defuser nosiif no-setInterval-if prevent-setInterval
setInterval-defuser norafif no-requestAnimationFrame-if prevent-requestAnimationFrame nano-sib
nano-setInterval-booster adjust-setInterval nano-stb nano-setTimeout-booster adjust-setTimeout noeval
noeval-silent silent-noeval noeval-if prevent-eval-if nowebrtc nobab prevent-bab bab-defuser nofab popads-dummy
popads popads.net set-cookie cookie-remover remove-cookie set-local-storage-item set-session-storage-item
refresh-defuser prevent-refresh trusted-replace-argument
""".split()

_RULE = re.compile(r"#@?#\+js\((.*)\)\s*$")
_PARAMS = re.compile(r"function\s*\(([^)]*)\)")
_EXTRA = re.compile(r"\bextra\.(\w+)")


def test_every_name_is_in_the_catalog():
    assert [name for name in NAMES if lookup(name) is None] == []
    assert lookup("popads.net.js") is lookup("popads")
    assert lookup("trusted-replace-argument").trusted
    assert not lookup("set").trusted


def _shape(name: str) -> tuple[int, set[str]]:
    """How many positional arguments a scriptlet's function takes and the extra names it reads."""
    source = lookup(name).source
    params = [p for p in _PARAMS.match(source).group(1).split(",") if p.strip()]
    return len(params), set(_EXTRA.findall(source))


def test_the_catalog_reads_argument_shapes():
    assert _shape("set") == (2, {"as", "runAt"})
    assert _shape("aeld") == (2, {"elements", "protect", "runAt"})


def test_calls_in_ublock_filters_fit_their_scriptlets(corpus):
    path = corpus / "lists" / "ublock-filters.txt"
    if not path.is_file():
        pytest.skip(f"{path} is not in the corpus")
    seen: dict[str, int] = {}
    misfits = []
    for line in path.read_text(encoding="utf-8").splitlines():
        found = _RULE.search(line)
        if not found:
            continue
        call = parse_call(found.group(1))
        if call.name not in NAMES:
            continue
        seen[call.name] = seen.get(call.name, 0) + 1
        positional, extra_names = _shape(call.name)
        extra = list(call.args[positional:])
        legacy_run_at = lookup(call.name).name == "set-constant" and len(extra) == 1
        if extra and not legacy_run_at and (len(extra) % 2 or not set(extra[0::2]) <= extra_names):
            misfits.append(line)
    assert misfits == []
    # The list uses these names often; a change of the list's format would show here first.
    for name in ("aopr", "acs", "set", "aeld", "nostif", "aopw", "nano-sib", "nowebrtc"):
        assert seen.get(name, 0) > 10, name
