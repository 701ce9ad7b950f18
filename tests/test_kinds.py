"""Measure kinds are one strategy each (`lhrule.engine.kinds`): no stage after the compiler
branches on a kind's name, a kind with no handler is a clear error, and a kind's counts are
the columns it declares, turned into exact values."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

import pytest
from sqlglot import exp

from lhrule.engine import columns as c
from lhrule.engine.kinds import KINDS, kind_of

PACKAGE = Path(__file__).resolve().parent.parent / "lhrule"
# The stages that run a compiled rulebook; the grammar and the compiler read the kind's word.
AFTER_THE_COMPILER = [*sorted((PACKAGE / "engine").rglob("*.py")), *sorted((PACKAGE / "trace").rglob("*.py")),
                      *sorted((PACKAGE / "output").rglob("*.py")), *sorted((PACKAGE / "compare").rglob("*.py")),
                      PACKAGE / "ir" / "evaluate.py"]


def _branches_on_kind(path: Path) -> list[str]:
    """Each `<x>.measure.kind` read, or a kind's name compared, outside `kind_of`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr == "kind" and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "measure":
            found.append(f"{path.name}:{node.lineno} reads measure.kind")
        if isinstance(node, ast.Compare):
            names = [n.value for n in [node.left, *node.comparators] if isinstance(n, ast.Constant)]
            names += [e.value for n in node.comparators if isinstance(n, (ast.Tuple, ast.Set, ast.List))
                      for e in n.elts if isinstance(e, ast.Constant)]
            if any(name in KINDS for name in names if isinstance(name, str)):
                found.append(f"{path.name}:{node.lineno} compares a kind's name")
    return found


def test_no_stage_after_the_compiler_branches_on_a_measure_kind():
    found = [f for path in AFTER_THE_COMPILER if path.name != "kinds.py" for f in _branches_on_kind(path)]
    assert found == []


def test_a_kind_with_no_handler_is_an_error_naming_it():
    with pytest.raises(LookupError) as err:
        kind_of("median")
    assert str(err.value) == "no handler for the measure kind 'median': lhrule measures by average, count, rate, total"


def test_every_kind_of_the_language_has_a_handler():
    from typing import get_args

    from lhrule.ir.model import Measure

    assert set(get_args(Measure.model_fields["kind"].annotation)) == set(KINDS)


@pytest.mark.parametrize("name, counted", [("rate", ("rows", "hits")), ("average", ("rows", "total")),
                                           ("total", ("rows", "total")), ("count", ("rows",))])
def test_a_kinds_aggregate_is_the_columns_it_declares(name, counted):
    kind = kind_of(name)

    class Measure:  # a count has no expression; the others' counts read only its type
        expr = None if name == "count" else type("E", (), {"type": type("T", (), {"name": "number"})()})()

    made = [e.alias for e in kind.counts(Measure(), exp.column("i0_kept"), "i0_")]
    assert kind.counted == counted
    assert made == ["i0_" + n for n in counted]


def test_counts_become_exact_values():
    assert kind_of("rate").value(3, 1, None) == Fraction(1, 3)
    assert kind_of("rate").value(0, 0, None) is None  # no rows: not assessed, never 0/0
    assert kind_of("average").value(3, None, Fraction(1, 10)) == Fraction(1, 30)
    assert kind_of("average").value(0, None, None) is None
    assert kind_of("total").value(0, None, None) == Fraction(0)  # nothing summed is a total of 0
    assert kind_of("total").value(2, None, Fraction(7, 2)) == Fraction(7, 2)
    assert kind_of("count").value(5, None, None) == Fraction(5)
    for kind in KINDS.values():
        value = kind.value(3, 2, Fraction(1, 3))
        assert isinstance(value, Fraction)


def test_a_kept_rows_verdict_is_its_kinds():
    rate, average, total = kind_of("rate"), kind_of("average"), kind_of("total")
    assert rate.verdict({c.NUMERATOR: True}, 2).verdict == "counted"
    missed = rate.verdict({c.NUMERATOR: False, "condition_1": True, "condition_2": False}, 2)
    assert (missed.verdict, missed.failed) == ("not_counted", 2)
    assert average.verdict({c.VALUE: None}, 0).why == "no value to average"
    assert total.verdict({c.VALUE: None}, 0).verdict == "counted"  # a missing value adds nothing to a total


# -- the names between stages (`lhrule.engine.columns`) -------------------------------------

ROOT = PACKAGE.parent
SEEDS = ["examples/tour", "taobao/lighthouse", "tmall/basic-service", "douyin/experience-score"]


def _names_of(rb, ind, prefix: str = "") -> set[str]:
    """Every column name columns.py makes for one indicator's flags and counts."""
    kind = kind_of(ind.measure)
    many = range(1, 20)
    out = {c.IN_WINDOW, c.ELIGIBLE, c.KEPT, c.SEEN, *kind.counted, *([kind.flag] if kind.flag else [])}
    out |= {c.where_column(i) for i in many} | {c.exclusion_column(x.name) for x in rb.exclusions}
    return {prefix + n for n in out}


@pytest.mark.parametrize("seed", SEEDS)
def test_every_column_the_sql_makes_is_named_by_the_columns_module(seed):
    from lhrule.api import load
    from lhrule.engine.sql.queries import every_query

    rb = load(ROOT / "rulebooks" / f"{seed}.rule").ir
    many = range(1, 20)
    shared = {c.EVENT_ID, c.SHOP_ID, c.AS_OF, c.AT, c.DAY, *(c.key_column(i) for i in many),
              *(c.condition_column(i) for i in many), *(c.condition_value_column(i) for i in many)}
    entity = {col.name for col in rb.table(rb.entity).columns}
    by_name = {ind.name: ind for ind in rb.indicators}
    checked = 0
    for what, decl, query in every_query(rb):
        made = {a.alias for a in query.find_all(exp.Alias)}
        if what == "the shops":
            known = entity | {c.only_for_column(i.name) for i in rb.indicators} | \
                {c.retired_except_column(i.name) for i in rb.indicators}
        elif what.startswith("indicators "):
            inds = [by_name[n] for n in what[len("indicators "):].split(", ")]
            known = shared | {n for i, ind in enumerate(inds) for n in _names_of(rb, ind, c.fused_prefix(i))}
        else:
            known = shared | _names_of(rb, decl)
        assert made - known == set(), what
        checked += 1
    assert checked > 3


def test_the_micro_second_scale_is_defined_once():
    from lhrule.engine.sql import expressions
    from lhrule.ir import evaluate

    assert evaluate.MICROS == 1_000_000 and expressions.MICROS is evaluate.MICROS  # the data layer imports it there
    defined = [f"{path.relative_to(PACKAGE)}:{node.lineno}" for path in sorted(PACKAGE.rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Constant) and node.value == 1_000_000 and not isinstance(node.value, bool)]
    assert defined == ["ir/evaluate.py:21"]
