"""dj.json, the pruning paths and JSON path queries of json-prune and json-edit, run in Node on plain data."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from filters.scriptlets.catalog import JS_FOLDER

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed: it runs the library")

_BOOKS = {"store": {"book": [
    {"title": "a", "price": 8, "isbn": "1"},
    {"title": "b", "price": 12},
    {"title": "c", "price": 9, "tags": ["ad"]},
], "bicycle": {"price": 20}}}


def run(kind: str, cases: list) -> list:
    """Each case [data, arg1, arg2] through dj.json in Node: the data afterwards and whether it changed."""
    source = "\n".join([
        "var window = globalThis;",
        (JS_FOLDER / "lib.js").read_text(encoding="utf-8"),
        (JS_FOLDER / "lib-json.js").read_text(encoding="utf-8"),
        f"var cases = {json.dumps(cases)};",
        "var out = cases.map(function (c) {",
        f"  var changed = {kind!r} === 'prune' ? dj.json.pruner(c[1], c[2])(c[0]) : dj.json.query(c[1]).apply(c[0]);",
        "  return [c[0], changed];",
        "});",
        "console.log(JSON.stringify(out));",
    ])
    result = subprocess.run(["node", "-e", source], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_prune_paths():
    cases = [
        [{"a": {"b": 1, "c": 2}}, "a.b", ""],
        [{"a": [{"ad": 1, "k": 1}, {"k": 2}]}, "a.[].ad", ""],
        [{"a": [{"x": {"ad": 1}}, {"x": {}}]}, "a.[-].x.ad", ""],
        [{"a": {"p": {"ad": 1}, "q": {}}}, "a.{-}.ad", ""],
        [{"a": {"ad": 1}, "b": 2}, "*", "*.ad"],
        [{"a": 1, "b": 2}, "a", "c"],  # needle missing: nothing pruned
        [{"a": 1, "c": 0}, "a", "c"],
        [{"a": 1}, "x.y", ""],
        [[{"ad": 1}, {"ad": 2}], "[].ad", ""],
    ]
    results = run("prune", cases)
    assert results == [
        [{"a": {"c": 2}}, True],
        [{"a": [{"k": 1}, {"k": 2}]}, True],
        [{"a": [{"x": {}}]}, True],
        [{"a": {"q": {}}}, True],
        [{}, True],
        [{"a": 1, "b": 2}, False],
        [{"c": 0}, True],
        [{"a": 1}, False],
        [[{}, {}], True],
    ]


def test_json_path_queries_remove_what_they_find():
    queries = [
        ".store.book[*].price",
        "..price",
        ".store.book[?(.price<10)]",
        ".store.book[?.price>=12]",
        ".store.book[?(.isbn)]",
        ".store.book[?!(.isbn)]",
        ".store.book[-1]",
        ".store['bicycle','book']",
        "..book[?.tags*=\"ad\"]",
        ".store./^bi/",
        ".store.book[?.title==\"b\"].price",
        "$.store.nothing",
    ]
    results = run("query", [[json.loads(json.dumps(_BOOKS)), q, None] for q in queries])
    books = _BOOKS["store"]["book"]
    no_price = [{k: v for k, v in b.items() if k != "price"} for b in books]
    assert results == [
        [{"store": {"book": no_price, "bicycle": {"price": 20}}}, True],
        [{"store": {"book": no_price, "bicycle": {}}}, True],
        [{"store": {"book": [books[1]], "bicycle": {"price": 20}}}, True],
        [{"store": {"book": [books[0], books[2]], "bicycle": {"price": 20}}}, True],
        [{"store": {"book": books[1:], "bicycle": {"price": 20}}}, True],
        [{"store": {"book": [books[0]], "bicycle": {"price": 20}}}, True],
        [{"store": {"book": books[:2], "bicycle": {"price": 20}}}, True],
        [{"store": {}}, True],
        [{"store": {"book": books[:2], "bicycle": {"price": 20}}}, True],
        [{"store": {"book": books}}, True],
        [{"store": {"book": [books[0], {"title": "b"}, books[2]], "bicycle": {"price": 20}}}, True],
        [_BOOKS, False],
    ]


def test_json_path_assignment_and_bad_queries():
    source = "\n".join([
        "var window = globalThis;",
        (JS_FOLDER / "lib.js").read_text(encoding="utf-8"),
        (JS_FOLDER / "lib-json.js").read_text(encoding="utf-8"),
        "var q = dj.json.query('..price=0'); var o = {a: {price: 5}};",
        "var r = [q.valid, q.hasValue, q.apply(o), o];",
        "['', '.a[', '..', '.a[?.b==]', '.a=notjson'].forEach(function (t) { r.push(dj.json.query(t).valid); });",
        "console.log(JSON.stringify(r));",
    ])
    result = subprocess.run(["node", "-e", source], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, True, True, {"a": {"price": 0}}, False, False, False, False, False]
