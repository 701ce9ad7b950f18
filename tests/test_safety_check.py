"""What `check` accepts is what `score` runs and `diff` sees: names that differ only in case
are refused, every well-typed expression runs on the engine (or is refused by check with a
diagnostic), and every part of a rulebook that moves a score is compared by `diff`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import lhrule
from lhrule.engine import ir
from lhrule.engine.diff import KINDS, NOT_SCORING, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "tests" / "rulebooks" / "diff" / "base.rule"


# ---------------------------------------------------------------- diff sees every scoring field

@pytest.fixture(scope="module")
def offset_orders(tmp_path_factory) -> Path:
    """One shop; an order at 20:00 UTC on 06-29: 06-29 in UTC, 06-30 04:00 in Shanghai (outside
    the window of base.rule as of 06-30), and late."""
    data = tmp_path_factory.mktemp("tz")
    (data / "shops.csv").write_text("shop_id,main_category\na,书籍\n", encoding="utf-8")
    (data / "orders.csv").write_text("order_id,shop_id,paid_at,late,excused\n"
                                     "o1,a,2024-06-25 10:00:00+00:00,false,false\n"
                                     "o2,a,2024-06-29 20:00:00+00:00,true,false\n", encoding="utf-8")
    return data


def test_diff_of_two_rulebooks_that_differ_only_in_timezone_names_it(tmp_path, offset_orders):
    new = tmp_path / "utc.rule"
    text = BASE.read_text(encoding="utf-8")
    new.write_text(text.replace('timezone "Asia/Shanghai"', 'timezone "UTC"'), encoding="utf-8")
    out = lhrule.diff(BASE, new, offset_orders, "2024-06-30").to_json("old", "new")
    assert [(r["change"], r["kind"], r["fields"], r["details"]) for r in out["rule_changes"]] == \
        [("changed", "rulebook", ["timezone"], ["timezone: Asia/Shanghai → UTC"])]
    # ontime: 1 of 1 on time in Shanghai (the late order is on 06-30), 1 of 2 in UTC
    [shop] = out["shops"]
    assert (shop["old_score"], shop["new_score"], shop["old_grade"], shop["new_grade"]) == ("3", "0.5", "B", "C")
    assert shop["because"] == [{"change": "rulebook timezone", "delta": "-2.5", "grade_alone": "C"}]


def test_diff_with_rules_as_of_names_a_changed_timezone_and_table(tmp_path, offset_orders):
    new = tmp_path / "utc.rule"
    text = BASE.read_text(encoding="utf-8")
    new.write_text(text.replace('timezone "Asia/Shanghai"', 'timezone "UTC"')
                   .replace("  excused: bool\n", "  excused: bool\n  note: string?\n"), encoding="utf-8")
    run = lhrule.diff(BASE, new, offset_orders, "2024-06-30", old_rules_as_of="2024-06-30",
                      new_rules_as_of="2024-06-30")
    got = [(r.kind, r.name, r.fields) for r in run.rule_changes]
    assert got == [("rulebook", "diff_base", ["timezone"]), ("table", "orders", ["columns"])]


def test_every_field_of_the_rulebook_ir_is_compared_by_diff_or_listed_as_not_scoring():
    fields = set(ir.Rulebook.model_fields)
    compared = set(KINDS) | set(SETTINGS)
    assert compared & set(NOT_SCORING) == set()
    assert fields - compared - set(NOT_SCORING) == set(), "a new field of the rulebook: compare it in diff.py, " \
        "or say in NOT_SCORING why no score depends on it"
    assert (compared | set(NOT_SCORING)) - fields == set()
    # declarations are compared field by field (all but their span): a new field is compared
    from lhrule.engine.diff import describe

    a = ir.Table(name="t", columns=(), span=ir.Span(file="f", line=1, column=1, end_line=1, end_column=1))
    b = a.model_copy(update={"entity": True, "span": a.span.model_copy(update={"line": 9})})
    assert describe("table", "t", a, b, ({}, {}), {}).fields == ["entity"]


# ---------------------------------------------------------------- names that differ only in case

def _errors(text: str) -> list[tuple[str, int, str]]:
    from conftest import compile_snippet

    result = compile_snippet(text)
    return [(d.code, d.span.line - _SNIPPET_LINE, d.message) for d in result.diagnostics if d.is_error]


def _snippet_line() -> int:
    from conftest import SCHEMA

    return 4 + SCHEMA.count("\n")  # the header (3 lines), the schema, the line between


_SNIPPET_LINE = _snippet_line()
IND = 'indicator {name} "x" {{\n  over orders\n  window last 30 days on paid_at\n  count\n}}\n'


@pytest.mark.parametrize("text, expected", [
    ('table Orders "o" {\n  order_id: id key\n}\n', (1, "table `Orders` differs from table `orders` only in case")),
    ('table t "t" {\n  a_id: id key\n  A_id: id\n}\n', (3, "column `A_id` differs from column `a_id` only in case")),
    ("param limit = 3m\nparam LIMIT = 5m\n", (2, "param `LIMIT` differs from param `limit` only in case")),
    (IND.format(name="fast") + IND.format(name="Fast"), (6, "indicator `Fast` differs from indicator `fast` only in case")),
    ('dimension d "d" { }\ndimension D "d" { }\n', (2, "dimension `D` differs from dimension `d` only in case")),
    ('param Shops = 3\n', (1, "param `Shops` differs from entity `shops` only in case")),
    (IND.format(name="x").replace("count", "rate where exists refunds r where r.order_id = order_id and "
                                           "(exists refunds R where R.amount > r.amount)"),
     (4, "the row `R` differs from the row `r` around it only in case")),
], ids=["table", "column", "param", "indicator", "dimension", "param-vs-entity", "exists-alias"])
def test_names_that_differ_only_in_case_are_refused_at_the_second(text, expected):
    errors = _errors(text)
    assert ("E016", *expected) in errors, errors


def test_names_that_differ_only_in_case_are_refused_in_an_included_file_too(tmp_path):
    from lhrule.engine.compile import compile_rulebook

    (tmp_path / "lib.rule").write_text((ROOT / "rulebooks" / "common" / "events.rule").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    (tmp_path / "main.rule").write_text('rulebook m "m" { }\ninclude "lib.rule"\n' + IND.format(name="SHOPS"),
                                        encoding="utf-8")
    result = compile_rulebook(tmp_path / "main.rule")
    [diag] = [d for d in result.diagnostics if d.code == "E016"]
    assert diag.span.file.endswith("main.rule") and diag.span.line == 3
    assert diag.message == "indicator `SHOPS` differs from entity `shops` only in case"
    assert diag.notes[0].startswith("entity `shops` is declared at ") and "lib.rule:6:8" in diag.notes[0]
