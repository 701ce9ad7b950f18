"""The tree as the pipeline: each stage imports only the stages before it, no module imports
another that imports it back, and no package is a bag of more than 15 modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lhrule"
# The stages in pipeline order; a module may import its own stage and those before it.
STAGES = [
    ("lhrule.diagnostics", "lhrule.safe_write"),
    ("lhrule.grammar",),
    ("lhrule.ir",),
    ("lhrule.compiler",),
    ("lhrule.engine",),
    ("lhrule.trace", "lhrule.compare", "lhrule.output"),
    ("lhrule.synth",),
    ("lhrule.docs", "lhrule.api", "lhrule"),
    ("lhrule.cli", "lhrule.__main__"),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                      for a in node.names}
    return {m for m in found if m in MODULES and m != name and m.startswith("lhrule")}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _stage(module: str) -> int:
    best = max(((i, p) for i, names in enumerate(STAGES) for p in names
                if module == p or module.startswith(p + ".")), key=lambda ip: len(ip[1]))
    return best[0]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_stage_and_those_before(module):
    later = sorted(m for m in GRAPH[module] if _stage(m) > _stage(module))
    assert later == [], f"{module} imports later stages"


def test_no_module_imports_one_that_imports_it_back():
    def reaches(start: str) -> set[str]:
        seen, todo = set(), list(GRAPH[start])
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(GRAPH[m])
        return seen

    circles = sorted(m for m in MODULES if m in reaches(m) and not MODULES[m].name == "__init__.py")
    assert circles == []


def test_no_package_holds_more_than_15_modules():
    sizes = {p.relative_to(PACKAGE.parent).as_posix(): len([f for f in p.glob("*.py") if f.name != "__init__.py"])
             for p in [PACKAGE, *(d for d in PACKAGE.rglob("*") if d.is_dir() and d.name != "__pycache__")]}
    assert {p: n for p, n in sizes.items() if n > 15} == {}


def test_every_package_says_its_stage():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{init} has no docstring saying its stage"
