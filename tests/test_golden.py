"""Golden files: the diagnostics of each tests/golden/bad/NAME.rule are pinned in NAME.out;
each tests/golden/good/NAME.rule compiles clean and is already in canonical format."""

from __future__ import annotations

from pathlib import Path

import pytest

from lhrule.compiler.compile import compile_rulebook
from lhrule.diagnostics import render
from lhrule.grammar.format import format_file
from lhrule.grammar.parser import parse

GOLDEN = Path(__file__).parent / "golden"
BAD = sorted((GOLDEN / "bad").glob("*.rule"))
GOOD = sorted((GOLDEN / "good").glob("*.rule"))


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_rulebook_diagnostics(path: Path, at_root, golden):
    rel = path.relative_to(at_root)
    result = compile_rulebook(rel)
    text = "\n\n".join(render(d, result.sources) for d in result.diagnostics) + "\n"
    golden(path.with_suffix(".out"), text)
    assert any(d.is_error for d in result.diagnostics) or path.stem.startswith("loop_")


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_rulebook_is_clean_and_canonical(path: Path, at_root):
    rel = path.relative_to(at_root)
    result = compile_rulebook(rel)
    assert [str(d.span) + " " + d.message for d in result.diagnostics] == []
    source = path.read_text(encoding="utf-8")
    tree, diags = parse(source, str(rel))
    assert diags == []
    assert format_file(tree) == source
