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
