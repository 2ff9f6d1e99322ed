"""The package's shape: stages import only stages below them, and no module imports itself round."""

from __future__ import annotations

import ast
from pathlib import Path

FILTERS = Path(__file__).resolve().parent.parent / "filters"

# Each stage may import its own modules and those of lower stages only (the data's way through
# dejunk: list text -> rules -> engine -> pages -> proxy -> reports).
STAGES = {
    "request": 0, "storage": 0, "printable": 0, "state": 0,
    "lists": 1, "scriptlets": 1,
    "network": 2, "cosmetic": 2,
    "engine": 3,
    "html": 4,
    "proxy": 5,
    "reports": 6,
    "dashboard": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(FILTERS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in FILTERS.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The dejunk modules `name` imports, at the top or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if node.module:
                found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}  # `from . import charset`
    return {m for m in found if m in known and m != name}


# The engine's cache is part of the engine stage.
SAME_STAGE = {"cache": "engine"}


def stage(name: str) -> str:
    top = name.split(".")[1]
    return SAME_STAGE.get(top, top)


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def test_every_module_belongs_to_a_stage():
    assert {stage(n) for n in modules() if n != "filters"} == set(STAGES)


def test_stages_import_only_lower_stages():
    wrong = [f"{name} imports {other}" for name, targets in graph().items() if name != "filters"
             for other in targets if other != "filters" and stage(other) != stage(name)
             and STAGES[stage(other)] >= STAGES[stage(name)]]
    assert wrong == []


def test_nothing_inside_imports_the_package_facade():
    assert [name for name, targets in graph().items() if "filters" in targets and name != "filters"] == []


def test_there_are_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(edges[name]):
            if state.get(other) == 1:
                cycles.append(" -> ".join(trail[trail.index(other):] + [other]))
            elif other not in state:
                visit(other, trail + [other])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_checks_see_a_cycle_and_an_upward_import():
    # The graph reader itself: a lazy import inside a function counts, relative forms resolve.
    edges = graph()
    assert "filters.cosmetic.selectors" in edges["filters.cosmetic.rules"]
    assert "filters.html.charset" in edges["filters.html.rewrite"]  # `from . import charset`
    assert "filters.cache" in edges["filters.engine"]  # inside a function
