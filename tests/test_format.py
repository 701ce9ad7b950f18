"""Round trip over every .rule file in the repository: formatting is idempotent, keeps
every comment, and parse → format → parse compiles to the same IR."""

from __future__ import annotations

from pathlib import Path

import pytest

from lhrule.compiler.compile import compile_text
from lhrule.grammar.format import format_file
from lhrule.grammar.parser import parse

ROOT = Path(__file__).resolve().parent.parent
ALL_RULES = sorted(p for p in ROOT.rglob("*.rule") if ".venv" not in p.parts and "bad" not in p.parts)


def _without_spans(value):
    if isinstance(value, dict):
        return {k: _without_spans(v) for k, v in value.items() if k != "span"}
    if isinstance(value, (list, tuple)):
        return [_without_spans(v) for v in value]
    return value


def _ir(text: str, name: str):
    # includes are resolved against the original file, so compile the text with its
    # includes inlined the way the loader reads them: only the file itself matters here.
    result = compile_text(text.replace('include "', '# include "'), name)
    return None if result.rulebook is None else _without_spans(result.rulebook.model_dump(mode="json"))


@pytest.mark.parametrize("path", ALL_RULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_round_trip(path: Path):
    source = path.read_text(encoding="utf-8")
    tree, diags = parse(source, path.name)
    assert diags == []
    once = format_file(tree)
    tree2, diags2 = parse(once, path.name)
    assert diags2 == []
    assert format_file(tree2) == once, "formatting twice must change nothing"
    assert [c.text for c in tree2.comments] == [c.text for c in tree.comments], "no comment may be lost"
    assert _without_spans_decls(tree) == _without_spans_decls(tree2)


def _without_spans_decls(tree):
    import dataclasses

    def strip(x):
        if dataclasses.is_dataclass(x):
            return {f.name: strip(getattr(x, f.name)) for f in dataclasses.fields(x)
                    if f.name not in ("span", "name_span", "target_span")}
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if not k.endswith("span")}
        if isinstance(x, (list, tuple)):
            return [strip(v) for v in x]
        return x

    return strip(tree.decls)


def test_round_trip_gives_the_same_ir():
    path = ROOT / "rulebooks" / "examples" / "tour.rule"
    schema = (ROOT / "rulebooks" / "common" / "events.rule").read_text(encoding="utf-8")
    source = path.read_text(encoding="utf-8").replace('include "../common/events.rule"', schema)
    tree, _ = parse(source, "tour.rule")
    before = _ir(source, "tour.rule")
    after = _ir(format_file(tree), "tour.rule")
    assert before is not None and before == after


def test_comments_stay_in_place():
    source = (
        "# about the file\n\n"
        "param a = 3m  # minutes\n"
        "param b = 40%\n\n"
        "# about x\n"
        "indicator x \"X\" {  # head\n"
        "  over orders\n\n\n"
        "  # the window\n"
        "  window last 30 days on paid_at\n"
        "  rate where picked_up_at is not null\n"
        "    # inside a statement\n"
        "    and amount > 0  # end\n"
        "}  # closing\n"
    )
    tree, _ = parse(source, "c.rule")
    assert format_file(tree) == (
        "# about the file\n\n"
        "param a = 3m  # minutes\n"
        "param b = 40%\n\n"
        "# about x\n"
        "indicator x \"X\" {  # head\n"
        "  over orders\n\n"
        "  # the window\n"
        "  window last 30 days on paid_at\n"
        "  # inside a statement\n"
        "  rate where picked_up_at is not null and amount > 0  # end\n"
        "}  # closing\n"
    )


@pytest.mark.parametrize("text,expected", [
    ("param p = 1 {\n  for main_category in {\"a\"} = 2\n}\n", None),
    ("test \"t\" {\n  as of 2024-06-11\n  given shops { shop_id: \"s1\" }\n  expect x for \"s1\" = 1 / 2\n}\n", None),
    ("indicator x {\n  where a and (b or c)\n  where (a and b) or c\n  where not (a = 1)\n  where a - (b - c) > 0\n}\n", None),
    ("indicator x {\n  where (exists t a where a.x = y) and z\n}\n", None),
    ("indicator x { where a=1 }\n", "indicator x {\n  where a = 1\n}\n"),
    ("bands b of x {\n\"a\" >= 1 -> 5\n\"bb\" otherwise -> 0\n}\n",
     "bands b of x {\n  \"a\"  >= 1      -> 5\n  \"bb\" otherwise -> 0\n}\n"),
])
def test_canonical_forms(text, expected):
    tree, diags = parse(text, "f.rule")
    assert diags == []
    assert format_file(tree) == (expected if expected is not None else text)
