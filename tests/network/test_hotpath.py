"""The network hot path: its two ways of finding a path's keys find what TOKEN_RE's tokens give, and
compiled by Cython it decides exactly as its plain source does.

The compiled tests build the extension in a copy of the source tree (`python setup.py build_ext
--inplace`, as a user would) and run there in subprocesses: this checkout is left as it is.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from filters.network.speed import DIGEST_FILE, REBUILD
from tests.network.test_index import reference_path_keys

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "filters" / "network" / "hotpath.py"

# URLs (lower-cased, as the engine cuts them) whose paths stress the tokenizers.
HARD_URLS = [
    "https://a.example/wp-content/ads/banner_728x90.gif?x=1&utm_source=feed#top",
    "https://a.example:8080/pfad/straße/äöü-anzeige/ad-1.png",
    "https://a.example/%e2%82%ac/a%20b/\ud800x/i̇stanbul/k",
    "https://a.example",
    "https://a.example/",
    "https://a.example/___/---/...",
    "https://a.example/a",
    "https://a.example/9z/z9/09az/ž9/9ž",
    "https://a.example/" + "ab/" * 3000,
    "https://a.example/" + "é" * 50 + "x1" + "\U0001f600" * 3,
]


def _source_module():
    """hotpath.py as plain Python, whichever module the engine uses."""
    spec = importlib.util.spec_from_file_location("filters.network._hotpath_source", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_character_walk_finds_the_keys_of_the_token_regex(corpus):
    """`keys_by_char` (the compiled module's way, run here as plain Python) against the long way, with
    the full corpus list set's keys and its token table, on every corpus URL and the hard ones."""
    from filters.engine import Engine
    from filters.network.matching import HOST_END, ORIGIN, PATH_KEYS, URL

    source = _source_module()
    lists = [str(corpus / "lists" / name) for name in ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt")]
    network = Engine.from_lists(lists, cosmetic_factory=None).network
    flags = network._token_flags
    table = source.token_table(flags)
    slot_tokens, tags, slot_flags, mask, key_filter = table
    assert len(slot_tokens) == mask + 1 and sum(1 for token in slot_tokens if token is not None) * 2 <= mask + 1
    assert sum(bin(byte).count("1") for byte in key_filter) < source.FILTER_BITS // 10  # mostly clear
    assert {token: slot_flags[slot] for slot, token in enumerate(slot_tokens) if token is not None} == {
        key: value for key, value in flags.items() if " " not in key}
    for url in HARD_URLS + _corpus_urls(corpus):
        t = network._target(url, None, "script", "GET")
        if t is None:
            continue
        origin = t[ORIGIN]
        last = origin.tokens[-1] if origin.tokens else ""
        found = source.keys_by_char(t[URL], t[HOST_END], flags, table, origin.ends_pair, last)
        assert found == reference_path_keys(flags, t) == t[PATH_KEYS], url


def test_the_token_table_finds_its_tokens_and_nothing_else():
    """A small table, so that slots collide and look-ups step on: every token found, with its flags, and
    none of thousands of others (same lengths, same letters)."""
    import random

    source = _source_module()
    rng = random.Random(5)
    tokens = {"".join(rng.choice("ab01") for _ in range(rng.randint(1, 6))): rng.choice([1, 2, 3]) for _ in range(40)}
    flags = {**tokens, "ab cd": 1}  # a pair: not a single token, left out of the table
    slot_tokens, tags, slot_flags, mask, _ = table = source.token_table(flags)
    assert sorted(token for token in slot_tokens if token is not None) == sorted(tokens)

    def slot_of(text):
        h = 0
        for ch in text:
            h = (h * 31 + ord(ch)) & source._MASK32
        url = "/x/" + text + "/"
        return source._token_slot(url, 3, 3 + len(text), h, slot_tokens, tags, mask)

    for token, value in tokens.items():
        assert slot_tokens[slot_of(token)] == token and slot_flags[slot_of(token)] == value
    for _ in range(5000):
        other = "".join(rng.choice("ab01") for _ in range(rng.randint(1, 7)))
        assert (slot_of(other) >= 0) == (other in tokens), other
    assert slot_of("ab cd") == -1
    keys = source.keys_by_char("https://x.test/" + "/".join(tokens), 14, flags, table, 0, "")
    assert keys == [token for token, value in tokens.items() if value & 1]


def _corpus_urls(corpus: Path) -> list[str]:
    with open(corpus / "requests" / "matching-test-requests.json", encoding="utf-8") as f:
        urls = [item["url"] for item in json.load(f)]
    with open(corpus / "requests" / "page-subresources.jsonl", encoding="utf-8") as f:
        urls += [json.loads(line)["url"] for line in f if line.strip()]
    return urls


# --- compiled -------------------------------------------------------------------------------------

# What a compiled tree needs from the checkout: the build's inputs and the tests run there.
TREE_INPUTS = ("setup.py", "pyproject.toml", "requirements.txt", "README.md", "filters", "tests")
# Whatever an in-place build of this checkout left: the copy starts as a fresh clone does.
_BUILT = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.pyd", "hotpath.c", DIGEST_FILE)


def cannot_compile() -> str | None:
    """Why this Python cannot compile the hot path, or None."""
    if importlib.util.find_spec("Cython") is None:
        return "Cython is not installed (pip install -r requirements-dev.txt)"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler}) on PATH (Debian: apt install gcc)"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return f"no Python headers in {sysconfig.get_paths()['include']} (Debian: apt install python3-dev)"
    return None


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory) -> Path:
    """A copy of the source tree with the hot path compiled in place."""
    reason = cannot_compile()
    if reason is not None:
        if os.environ.get("DEJUNK_REQUIRE_COMPILED") == "1":
            pytest.fail(f"cannot compile the hot path: {reason}")
        pytest.skip(f"cannot compile the hot path: {reason}")
    tree = tmp_path_factory.mktemp("compiled") / "dejunk"
    for name in TREE_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, tree / name, ignore=_BUILT)
        else:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list((tree / "filters" / "network").glob("hotpath.*.so")), done.stdout + done.stderr
    return tree


def _env(**extra: str) -> dict[str, str]:
    """This environment without a choice of hot path (the tests make their own), plus `extra`."""
    return {**{k: v for k, v in os.environ.items() if k != "DEJUNK_HOT_PATH"}, **extra}


@pytest.mark.parametrize("failing", ["compiler", "cython"])
def test_when_the_build_fails_it_goes_on_in_plain_python(tmp_path, failing):
    if importlib.util.find_spec("Cython") is None:
        pytest.skip("Cython is not installed (pip install -r requirements-dev.txt)")
    tree = tmp_path / "dejunk"
    tree.mkdir()
    for name in ("setup.py", "pyproject.toml", "requirements.txt", "README.md", "filters"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, tree / name, ignore=_BUILT)
        else:
            shutil.copy2(REPO / name, tree / name)
    env = _env(CC="false")  # a compiler that always fails
    if failing == "cython":  # C types Cython refuses
        env = _env()
        with open(tree / "filters" / "network" / "hotpath.pxd", "a", encoding="utf-8") as f:
            f.write("\ncdef int =\n")
    done = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tree, capture_output=True,
                          text=True, timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the network hot path is not compiled" in done.stderr
    assert not list((tree / "filters" / "network").glob("hotpath.*.so"))
    assert _run(tree, _HOT_PATH).strip() == "plain Python (not compiled)"


def _run(tree: Path, code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, timeout=300,
                          env=_env(PYTHONPATH=str(tree), **env), check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


_HOT_PATH = "from filters.network import speed; print(speed.HOT_PATH)"
_STATUS = "from filters.network import speed, engine; print(speed.HOT_PATH); print(engine.NetworkEngine.check)"


def test_the_compiled_hot_path_is_used_and_can_be_declined(compiled_tree):
    status, check = _run(compiled_tree, _STATUS).splitlines()
    assert status == "compiled" and "cyfunction" in check
    status, check = _run(compiled_tree, _STATUS, DEJUNK_HOT_PATH="plain").splitlines()
    assert status == "plain Python (chosen by DEJUNK_HOT_PATH=plain)" and "cyfunction" not in check


def test_a_build_from_another_source_is_not_used(compiled_tree, tmp_path):
    stale = tmp_path / "dejunk"
    shutil.copytree(compiled_tree, stale)
    with open(stale / "filters" / "network" / "hotpath.py", "a", encoding="utf-8") as f:
        f.write("# edited after the build\n")
    status, check = _run(stale, _STATUS).splitlines()
    assert status == f"plain Python (the compiled module was built from another hotpath.py; rebuild it: {REBUILD})"
    assert "cyfunction" not in check
    decided = _run(stale, "from filters import Engine; print(Engine.from_text('||ads.example^')"
                          ".check('https://ads.example/x.js', None, 'script').blocked)")
    assert decided.strip() == "True"


def test_the_network_tests_pass_compiled(compiled_tree, corpus):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--corpus", str(corpus),
         "tests/network", "tests/reports/test_culprit.py", "-k", "not test_hotpath"],
        cwd=compiled_tree, capture_output=True, text=True, timeout=600, check=False,
        env=_env(DEJUNK_REQUIRE_CORPUS="1"),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1], done.stdout[-1000:]
    status = _run(compiled_tree, _HOT_PATH)
    assert status.strip() == "compiled"


# Every corpus request decided with the corpus lists, each decision as plain data.
_DECIDE = """
import json, sys
from pathlib import Path
from filters import Engine
from filters.network import speed
corpus = Path(sys.argv[1])
names = ("easylist.txt", "easyprivacy.txt", "ublock-filters.txt", "hosts.txt")
lists = [str(corpus / "lists" / name) for name in names]
engine = Engine.from_lists(lists, cache_dir=sys.argv[2], cosmetic_factory=None)
matching = json.loads((corpus / "requests" / "matching-test-requests.json").read_text())
requests = [(i["url"], i["sourceUrl"], i["type"]) for i in matching]
with open(corpus / "requests" / "page-subresources.jsonl") as f:
    requests += [(i["url"], i["source_url"], i["type"]) for i in map(json.loads, filter(str.strip, f))]
decisions = [engine.check(*r).to_dict() for r in requests]
# Twice: the second time from the per-origin caches the first filled.
assert decisions == [engine.check(*r).to_dict() for r in requests]
off = engine.network.without(range(0, engine.network.rule_count, 7))
print(json.dumps({"hot_path": speed.HOT_PATH, "decisions": decisions,
                  "without": [off.check(*r).blocked for r in requests]}))
"""


def _decide(tree: Path, corpus: Path, cache: Path, **env: str) -> dict:
    return json.loads(_run(tree, f"import sys; sys.argv = ['', {str(corpus)!r}, {str(cache)!r}]\n" + _DECIDE, **env))


@pytest.mark.corpus
def test_compiled_decisions_are_the_plain_ones_on_every_corpus_request(compiled_tree, corpus, tmp_path):
    compiled = _decide(compiled_tree, corpus, tmp_path / "compiled")
    plain = _decide(compiled_tree, corpus, tmp_path / "plain", DEJUNK_HOT_PATH="plain")
    assert compiled["hot_path"] == "compiled" and plain["hot_path"].startswith("plain Python")
    assert len(compiled["decisions"]) > 9000
    assert sum(d["blocked"] for d in compiled["decisions"]) > 3000  # the lists do block (not all allowed)
    differ = [i for i, (a, b) in enumerate(zip(compiled["decisions"], plain["decisions"])) if a != b]
    assert not differ, [(compiled["decisions"][i], plain["decisions"][i]) for i in differ[:5]]
    assert compiled["without"] == plain["without"]
    assert compiled["without"] != [d["blocked"] for d in compiled["decisions"]]  # switching rules off changes some
