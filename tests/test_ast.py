"""The syntax tree is typed: a frozen dataclass per form, each with its span, and nothing else
(no dict of parts, no tuple tagged with a string) between a file and its leaves."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from lhrule.compiler.compile import ALLOWED, SINGLE
from lhrule.diagnostics import Span
from lhrule.grammar import ast, ast_expressions, ast_statements
from lhrule.grammar.parser import parse

ROOT = Path(__file__).resolve().parent.parent
RULEBOOKS = sorted(p for folder in ("rulebooks", "tests") for p in (ROOT / folder).rglob("*.rule")
                   if "bad" not in p.parts)
NODE_MODULES = (ast, ast_expressions, ast_statements)
NODES = sorted({cls for m in NODE_MODULES for _, cls in inspect.getmembers(m, inspect.isclass)
                if cls.__module__ == m.__name__ and dataclasses.is_dataclass(cls)}, key=lambda c: c.__name__)
# A comment is placed by its line and column; a file is the root. Every other node has a span.
WITHOUT_SPAN = {ast.Comment, ast.File}
STATEMENTS = [c for c in NODES if c.__module__ == ast_statements.__name__ and "kind" in c.__dict__]

# Forms the repository's rulebooks may not all use, so that the walk below meets every class.
EVERY_FORM = '''
rulebook every "all forms" {
  version "1"
  timezone "Asia/Shanghai"
  effective 2024-01-01 ..
  cite "a.md" "a sentence"
}
entity shop { shop_id: id key
  kind: enum {a, b}? }
table orders { order_id: id key
  shop_id: id -> shop as owner
  at: timestamp }
param quota = 30 evaluations { for kind in {"a"} = 40 evaluations }
param day = 2024-06-01
dimension d "D" { weights x 100%
  unassessed score 80 }
indicator x { dimension d
  over orders
  window T-30 .. T-1 on at
  where not exists orders o where o.at is null and x in 1 .. 3
  once per order_id
  rate where -1 < 2 or at is not null
  min sample 3
  lower is better
  display only
  only for kind not in {"b"}
  round 2
  assumption "as read"
}
indicator y { over orders
  window previous day on at
  average f(at, 1)
  assessed }
indicator z { over orders
  window last 30 days on at
  count }
exclusion e { applies to x, y
  when true }
bands b of x by rank within kind { "A" top 10% -> 3
  "B" >= 5 -> 2
  "C" otherwise }
score s { weights d 100%
  for kind in {"a"} { weights d 100% }
  unassessed reweight }
grade g of s { "A" >= 80 }
action warn { when g = "A"
  until s > 90 }
revise x effective 2024-07-01 { round 3 }
retire y effective day { except kind = "a" }
test "t" { as of 2024-06-30
  given orders { order_id: "1", at: null } {}
  expect x for "s1" = 1 / 2
  expect x for "s1" not assessed
  expect x for "s1" band "A"
  expect x for "s1" points 3
  expect no warn for "s1"
  expect warn for "s1" }
'''


@pytest.mark.parametrize("cls", NODES, ids=lambda c: c.__name__)
def test_every_node_class_is_frozen_and_carries_a_span(cls):
    params = cls.__dataclass_params__
    assert params.frozen, f"{cls.__name__} is not frozen"
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    if cls not in WITHOUT_SPAN:
        assert fields.get("span") in ("Span", Span), f"{cls.__name__} carries no span"
    for name, typ in fields.items():
        assert "dict" not in str(typ) and "Any" not in str(typ), f"{cls.__name__}.{name} is a bag: {typ}"


def _walk(node, where: str, seen: set[type]):
    """Every node under `node`; fails on a dict, on a value of no node class, or on a tuple that
    mixes kinds of values (as a tuple tagged with a string does)."""
    assert type(node) in NODES, f"{where}: {type(node).__name__} {node!r:.80} is not a syntax node"
    seen.add(type(node))
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        at = f"{where}.{f.name}"
        if isinstance(value, tuple):
            kinds = {"node" if type(v) in NODES else type(v).__name__ for v in value}
            assert kinds <= {"node"} or kinds == {"str"}, f"{at}: a tuple of {sorted(kinds)}: {value!r:.120}"
            if kinds == {"str"}:
                assert "tuple[str, ...]" in str(f.type), f"{at}: strings where {f.type} is declared"
            for i, v in enumerate(value):
                if type(v) in NODES:
                    _walk(v, f"{at}[{i}]", seen)
        elif type(value) in NODES:
            _walk(value, at, seen)
        else:
            assert value is None or isinstance(value, (str, int, Span)), f"{at}: {type(value).__name__} {value!r:.80}"


@pytest.mark.parametrize("path", RULEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_rulebook_parses_to_typed_nodes_only(path):
    tree, diags = parse(path.read_text(encoding="utf-8"), path.name)
    assert tree is not None, diags
    _walk(tree, path.name, set())


def test_the_walk_meets_every_node_class():
    seen: set[type] = set()
    for path in RULEBOOKS:
        _walk(parse(path.read_text(encoding="utf-8"), path.name)[0], path.name, seen)
    tree, diags = parse(EVERY_FORM, "every.rule")
    assert tree is not None, diags
    _walk(tree, "every.rule", seen)
    # the `except` of a `retire` as the retired version holds it: made by the compiler, never parsed
    assert set(NODES) - seen == {ast.RetiredExcept}


def test_every_statement_keyword_is_one_the_compiler_knows():
    known = set().union(*ALLOWED.values())
    kinds = {cls.kind for cls in STATEMENTS}
    assert kinds - known == {"retired_except"}
    assert known <= kinds and SINGLE <= kinds
    assert len(kinds) == len(STATEMENTS), "two statement classes share a keyword"


def _sp(line, col, end_line, end_col):
    return Span(file="two.rule", line=line, column=col, end_line=end_line, end_column=end_col)


def test_the_tree_of_a_two_line_rulebook():
    text = 'param quota "Quota" = 30 evaluations\nindicator x { window last 7d on at  where a.b >= 2 }\n'
    tree, diags = parse(text, "two.rule")
    assert diags == []
    assert tree == ast.File(path="two.rule", source=text, comments=(), decls=(
        ast.Decl(kind="param", name="quota", span=_sp(1, 1, 1, 37), name_span=_sp(1, 7, 1, 12), label="Quota",
                 value=ast.Lit("quantity", "30 evaluations", _sp(1, 23, 1, 37))),
        ast.Decl(kind="indicator", name="x", span=_sp(2, 1, 2, 53), name_span=_sp(2, 11, 2, 12), body=(
            ast.Window(spec=ast.WindowLast(ast.Lit("duration", "7d", _sp(2, 27, 2, 29)), _sp(2, 22, 2, 29)),
                       column="at", column_span=_sp(2, 33, 2, 35), span=_sp(2, 15, 2, 35)),
            ast.Where(ast.Binary(">=", ast.Path(("a", "b"), _sp(2, 43, 2, 46)), ast.Lit("int", "2", _sp(2, 50, 2, 51)),
                                 _sp(2, 43, 2, 51)), _sp(2, 37, 2, 51)),
        )),
    ))


def test_statements_match_on_their_class():
    tree, _ = parse('bands b of x { "A" >= 90% -> 3\n  "B" otherwise }\n', "b.rule")
    cuts = []
    for level in tree.decls[0].body:
        match level:
            case ast.Level(label, ast.CutValue(op, ast.Lit(kind, text)), points):
                cuts.append((label, op, kind, text, points.text))
            case ast.Level(label, ast.CutOtherwise(), None):
                cuts.append((label, "otherwise"))
    assert cuts == [("A", ">=", "percent", "90%", "3"), ("B", "otherwise")]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tree.decls[0].body[0].label = "C"
