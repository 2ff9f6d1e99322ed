"""The page runtime's side in Python: which rules go to it, their description, and the inline script."""

from __future__ import annotations

import json
import pickle
import tomllib
from pathlib import Path

import pytest

from filters.cosmetic import live
from filters.cosmetic.rules import CosmeticStore, parse_rule
from filters.lists.syntax import parse_list_text

REPO = Path(__file__).resolve().parents[2]


def store_of(text: str) -> CosmeticStore:
    return CosmeticStore.from_lists([parse_list_text(text, name="t.txt")])


@pytest.mark.parametrize(
    ("line", "wanted"),
    [
        ("example.com##div:has-text(/Sponsored/)", True),
        ("example.com##div:matches-css-before(content: /Ad/)", True),
        ("example.com##.ad:remove()", True),
        ("example.com###x:remove-attr(href)", True),
        ("example.com##:xpath(//span)", True),
        ("example.com##:matches-path(/news) .ad", True),
        ("example.com##.ad", False),  # plain CSS: no script needed
        ("example.com##div > .ad", False),
        ("##div:has-text(/Sponsored/)", False),  # generic: the rewriter's alone
        ("example.com##^script:has-text(ads)", False),  # HTML filters act on the response
        ('example.com$$script[tag-content="x"]', False),
    ],
)
def test_which_rules_go_to_the_runtime(line, wanted):
    assert live.needs_runtime(parse_rule(line)) is wanted


def test_page_rules_carry_the_description():
    store = store_of(
        "example.com##div:has-text(/Sponsored/)\n"
        "example.com##.plain\n"
        "##.generic:has-text(x)\n"
        "example.com##p:matches-css(display: block)\n"
        "example.com##span:has-text(/Sponsored/)\n"
        "example.com#@#span:has-text(/Sponsored/)\n"
        "other.example##.elsewhere:has-text(x)\n"
    )
    rules = store.page_rules("https://www.example.com/a")
    data = json.loads(rules.live)
    assert data == {"rules": [
        ["div", [["text", ["r", "Sponsored", ""]]], "hide"],
        ["p", [["css", "", "display", ["s", "block"]]], "hide"],
    ]}
    assert rules.without_generic().live == rules.live
    assert pickle.loads(pickle.dumps(rules)).live == rules.live
    assert store.page_rules("https://unrelated.test/").live == ""
    assert store.page_rules("https://www.example.com/a", elemhide=True).live == ""
    assert store.page_rules("https://www.example.com/a", generichide=True).live == rules.live


def test_description_is_deterministic_and_without_duplicates():
    lines = "example.com##.a:has-text(x)\nexample.com##.b:upward(2)\nwww.example.com##.a:has-text(x)"
    first = store_of(lines).page_rules("https://www.example.com/").live
    second = store_of(lines).page_rules("https://www.example.com/").live
    assert first == second and len(json.loads(first)["rules"]) == 2


HOSTILE = [
    "example.com##div:has-text(</script><script>alert(1)</script>)",
    "example.com##div:has-text(<!-- x)",
    "example.com##div:has-text(]]>)",
    "example.com##div:has-text(/<\\/SCRIPT>/i)",
    "example.com##div:has-text(Caf\u00e9 & co)",
    'example.com##a[title="</script>"]:remove()',
]


def test_program_is_safe_inside_an_inline_script():
    rules = store_of("\n".join(HOSTILE)).page_rules("https://example.com/")
    assert len(json.loads(rules.live)["rules"]) == len(HOSTILE)
    text = live.program(rules.live)
    lowered = text.lower()
    for unsafe in ("</script", "<!--", "]]>", "\u2028", "\u2029"):
        assert unsafe not in lowered
    assert text.isascii()
    # The description comes back whole: the escapes are JSON's, read by JavaScript as the same characters.
    argument = text[len(live.runtime_source()) :]
    assert argument.startswith("(") and argument.endswith(");")
    assert json.loads(argument[1:-2]) == json.loads(rules.live)
    assert live.program(rules.live) == text  # deterministic


def test_program_of_nothing_is_nothing():
    assert live.program("") == ""
    with pytest.raises(ValueError):
        live.program('{"x": 1}')


def test_runtime_source_is_a_function_expression_and_ships_as_package_data():
    source = live.runtime_source()
    assert source.startswith("(function") and source.rstrip().endswith("})")
    assert not any(line.lstrip().startswith("//") for line in source.splitlines())  # comments stay home
    assert (REPO / "filters" / "cosmetic" / live.RUNTIME_FILE).is_file()
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "*.js" in data["filters.cosmetic"]


def test_an_unsafe_runtime_file_is_refused(monkeypatch, tmp_path):
    from importlib import resources

    (tmp_path / live.RUNTIME_FILE).write_text("(function () { var s = '</SCRIPT>'; })")
    monkeypatch.setattr(resources, "files", lambda package: tmp_path)
    live.runtime_source.cache_clear()
    try:
        with pytest.raises(ValueError):
            live.runtime_source()
    finally:
        monkeypatch.undo()
        live.runtime_source.cache_clear()


def test_a_rule_the_runtime_cannot_run_is_left_to_the_rewriter():
    # `:has-text()` inside `:is()` is CSS for soupsieve, a procedural selector for a browser.
    rules = store_of("example.com##div:is(.a:has-text(x), .b)").page_rules("https://example.com/")
    assert rules.specific and rules.live == ""


@pytest.mark.corpus
def test_real_procedural_rules_reach_the_runtime(corpus):
    from filters.lists.syntax import read_list

    store = CosmeticStore.from_lists([read_list(str(corpus / "lists" / "ublock-filters.txt"))])
    for url, needle in [
        ("https://www.golem.de/", "::before"),
        ("https://samayam.com/", "xpath_root"),
        ("https://pussyspace.com/", '"others"'),
        ("https://dvdgayonline.com/", '"attr"'),
        ("https://plagiarismchecker.co/", '"remove"'),
    ]:
        description = store.page_rules(url).live
        assert needle in description, url
        assert "</script" not in live.program(description).lower()
