"""What `check` accepts is what `score` runs and `diff` sees: names that differ only in case
are refused, every well-typed expression runs on the engine (or is refused by check with a
diagnostic), and every part of a rulebook that moves a score is compared by `diff`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import lhrule
from lhrule.ir import model as ir

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
    from lhrule.compare.changes import KINDS, NOT_SCORING, SETTINGS

    fields = set(ir.Rulebook.model_fields)
    compared = set(KINDS) | set(SETTINGS)
    assert compared & set(NOT_SCORING) == set()
    assert fields - compared - set(NOT_SCORING) == set(), "a new field of the rulebook: compare it in diff.py, " \
        "or say in NOT_SCORING why no score depends on it"
    assert (compared | set(NOT_SCORING)) - fields == set()
    # declarations are compared field by field (all but their span): a new field is compared
    from lhrule.compare.changes import describe

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
    from lhrule.compiler.compile import compile_rulebook

    (tmp_path / "lib.rule").write_text((ROOT / "rulebooks" / "common" / "events.rule").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    (tmp_path / "main.rule").write_text('rulebook m "m" { }\ninclude "lib.rule"\n' + IND.format(name="SHOPS"),
                                        encoding="utf-8")
    result = compile_rulebook(tmp_path / "main.rule")
    [diag] = [d for d in result.diagnostics if d.code == "E016"]
    assert diag.span.file.endswith("main.rule") and diag.span.line == 3
    assert diag.message == "indicator `SHOPS` differs from entity `shops` only in case"
    assert diag.notes[0].startswith("entity `shops` is declared at ") and "lib.rule:6:8" in diag.notes[0]


# ---------------------------------------------------------------- what check accepts, score runs
#
# Well-typed (mostly) expressions built from the grammar's forms over the standard events, in
# each place an expression stands: an indicator's `where`, its rate condition, `total` and
# `average`, `once per`, its shop-level `only for`, and an action's `when`. Each rulebook
# either compiles with diagnostics (and nothing raises), or scores on a tiny dataset without
# raising: no UnsupportedInSQL, DuckDB error, KeyError, ZeroDivisionError or TypeError.

from collections import Counter  # noqa: E402

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

TRIED: Counter = Counter()
PARAMS = ('param p_num = 2.5\nparam p_dur = 30m\nparam p_zero = 0\n'
          'param p_set = {"c1"} {\n  for main_category in {"c2"} = {"c2"}\n}\n'
          'param p_halves = {0, 1.5} {\n  for main_category in {"c2"} = {5.25}\n}\n')


NUMBER_LEAVES = st.sampled_from(["amount", "0", "2", "1.5", "0.001", "p_num", "p_zero", "hour(paid_at)"])
DURATION_LEAVES = st.sampled_from(["(shipped_at - paid_at)", "(delivered_at - paid_at)", "3m", "24h", "p_dur"])


def _arith(other=None):
    def compose(inner):
        pair = st.tuples(inner, inner)
        forms = [pair.map(lambda p: f"({p[0]} + {p[1]})"), pair.map(lambda p: f"({p[0]} - {p[1]})"),
                 inner.map(lambda a: f"-{a}"), inner.map(lambda a: f"abs({a})"),
                 pair.map(lambda p: f"coalesce({p[0]}, {p[1]})"), pair.map(lambda p: f"least({p[0]}, {p[1]})"),
                 pair.map(lambda p: f"greatest({p[0]}, {p[1]})")]
        scalar = inner if other is None else other
        forms += [st.tuples(inner, scalar).map(lambda p: f"({p[0]} * {p[1]})"),
                  st.tuples(inner, scalar).map(lambda p: f"({p[0]} / {p[1]})")]
        if other is not None:  # durations: also a duration / a duration, a number
            forms.append(pair.map(lambda p: f"(({p[0]}) / ({p[1]}))"))
        return st.one_of(*forms)
    return compose


NUMBERS_FLAT = st.recursive(NUMBER_LEAVES, _arith(), max_leaves=4)
NUMBERS = st.recursive(NUMBER_LEAVES, _arith(), max_leaves=8)
DURATIONS = st.recursive(DURATION_LEAVES, _arith(NUMBERS_FLAT), max_leaves=6)
TIMES = st.one_of(st.sampled_from(["paid_at", "shipped_at", "as_of", "2024-06-26 12:00"]),
                  st.tuples(st.sampled_from(["paid_at", "as_of"]), st.sampled_from(["+", "-"]), DURATIONS)
                  .map(lambda p: f"({p[0]} {p[1]} {p[2]})"))
CMP = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


def _conditions(numbers, durations, times, texts, extra=()):
    def cmp(values):
        return st.tuples(values, CMP, values).map(lambda p: f"{p[0]} {p[1]} {p[2]}")

    leaves = st.one_of(cmp(numbers), cmp(durations), cmp(times),
                       st.tuples(st.one_of(numbers, durations, times, texts), st.booleans())
                       .map(lambda p: f"{p[0]} is {'not ' if p[1] else ''}null"),
                       numbers.map(lambda a: f"{a} in {{1, 2.5, 0}}"),
                       st.tuples(numbers, numbers, numbers).map(lambda p: f"{p[0]} in {p[1]} .. {p[2]}"),
                       st.tuples(numbers, numbers).map(lambda p: f"{p[0]} not in 0 .. {p[1]}"),
                       texts.map(lambda t: f'{t} in {{"c1", "r1"}}'), texts.map(lambda t: f"{t} not in p_set"),
                       numbers.map(lambda a: f"{a} in p_halves"), numbers.map(lambda a: f"{a} in {{}}"), *extra)

    def compose(inner):
        pair = st.tuples(inner, inner)
        return st.one_of(pair.map(lambda p: f"({p[0]}) and ({p[1]})"), pair.map(lambda p: f"({p[0]}) or ({p[1]})"),
                         inner.map(lambda a: f"not ({a})"),
                         st.tuples(inner, CMP, inner).map(lambda p: f"({p[0]}) {p[1]} ({p[2]})"),
                         st.tuples(inner, st.booleans()).map(lambda p: f"({p[0]}) is {'not ' if p[1] else ''}null"))
    return st.recursive(leaves, compose, max_leaves=5)


ORDER_CONDITIONS = _conditions(
    NUMBERS, DURATIONS, TIMES, st.sampled_from(["category", "ship_region", "recv_region", "shop.main_category"]),
    extra=(st.just("time(paid_at) in 08:00 .. 18:00"), st.just("date(paid_at) = 2024-06-26"),
           NUMBERS.map(lambda a: f"(exists refunds r where r.order_id = order_id and r.amount > {a})"),
           st.just("ship_region = recv_region"), st.just("shop.platform = tmall")))
SHOP_CONDITIONS = _conditions(
    st.sampled_from(["p_num", "p_zero", "2", "0.5"]).flatmap(lambda a: st.sampled_from([a, f"({a} / p_zero)",
                                                                                        f"({a} / 3 * 3)"])),
    st.sampled_from(["p_dur", "(as_of - 2024-06-01)"]), st.sampled_from(["as_of", "2024-06-20"]),
    st.sampled_from(["main_category", "name"]), extra=(st.just("platform in {taobao, tejia}"),))
ACTION_CONDITIONS = _conditions(
    st.sampled_from(["x", "p_num", "(x / p_zero)", "(x * 3 / 7)", "coalesce(x, 1)", "abs(x - 1)"]),
    st.sampled_from(["p_dur", "(as_of - 2024-06-01)"]), st.sampled_from(["as_of", "2024-06-20"]),
    st.sampled_from(["main_category", "name"]))

POSITIONS = st.one_of(
    ORDER_CONDITIONS.map(lambda c: ("where", f"  where {c}\n  count\n", "")),
    ORDER_CONDITIONS.map(lambda c: ("rate", f"  rate where {c}\n", "")),
    st.tuples(st.sampled_from(["total", "average"]), st.one_of(NUMBERS, DURATIONS))
    .map(lambda p: (p[0], f"  {p[0]} {p[1]}\n", "")),
    NUMBERS.map(lambda a: ("once per", f"  once per {a}\n  count\n", "")),
    SHOP_CONDITIONS.map(lambda c: ("only for", f"  only for {c}\n  count\n", "")),
    ACTION_CONDITIONS.map(lambda c: ("action", "  count\n", f'action act "a" {{\n  when {c}\n}}\n')),
)


@pytest.fixture(scope="module")
def tiny_events(tmp_path_factory) -> Path:
    """Two shops, four orders: NULL times, a zero amount, a refund."""
    data = tmp_path_factory.mktemp("events")
    (data / "shops.csv").write_text("shop_id,name,main_category,platform\na,A,c1,taobao\nb,,c2,tmall\n",
                                    encoding="utf-8")
    (data / "orders.csv").write_text(
        "order_id,shop_id,buyer_id,category,paid_at,shipped_at,picked_up_at,delivered_at,ship_region,recv_region,"
        "amount\n"
        "o1,a,u1,c1,2024-06-25 10:00:00,2024-06-25 12:00:00,,2024-06-27 09:00:00,r1,r2,10.5\n"
        "o2,a,u2,c1,2024-06-26 23:30:00,,,,,,0\n"
        "o3,b,u1,c2,2024-06-28 08:00:00,2024-06-29 08:00:00,2024-06-29 09:00:00,2024-06-30 10:00:00,r1,r1,3\n"
        "o4,b,u3,c2,2024-06-29 08:00:00,2024-06-29 08:00:00,,,r2,r1,-2.25\n", encoding="utf-8")
    (data / "refunds.csv").write_text(
        "refund_id,shop_id,order_id,kind,before_shipment,requested_at,merchant_agreed_at,buyer_returned_at,"
        "completed_at,status,platform_intervened,dispute_ruled_against_merchant,amount,reason\n"
        "r1,a,o1,refund_only,false,2024-06-26 10:00:00,,,,success,false,false,5,\n", encoding="utf-8")
    return data


def _rulebook(tmp_path: Path, body: str, extra: str) -> Path:
    from conftest import SCHEMA

    path = tmp_path / "p.rule"
    path.write_text('rulebook p "p" {\n  timezone "Asia/Shanghai"\n}\n' + SCHEMA + PARAMS +
                    'indicator x "x" {\n  over orders\n  window last 30 days on paid_at\n' + body + "}\n" + extra,
                    encoding="utf-8")
    return path


def _compiled_and_scored(tmp_path, data, position, engine="duckdb"):
    from lhrule.compiler.compile import compile_rulebook

    where, body, extra = position
    path = _rulebook(tmp_path, body, extra)
    result = compile_rulebook(path)  # raises nothing: a mistake is a diagnostic
    TRIED[where] += 1
    if not result.ok:
        assert [d for d in result.diagnostics if d.is_error], "no IR, yet no error said why"
        TRIED["refused by check"] += 1
        for code in sorted({d.code for d in result.diagnostics if d.is_error}):
            TRIED[f"refused {code}"] += 1
        return None
    TRIED["scored"] += 1
    kw = {"engine": "spark", "spark_master": "local[1]"} if engine == "spark" else {}
    run = lhrule.score(lhrule.load(path), data, as_of="2024-06-30", **kw)
    if engine == "duckdb":  # explained too, and every query it can send written for Spark
        from lhrule.engine.sql.dialects import NotPortable, render
        from lhrule.trace.explain import Explainer
        from lhrule.engine.sql.queries import every_query

        assert Explainer(run.con, run.rulebook.ir, run.rulebook.sources).explain("a", run.days[0]) is not None
        for _, _, query in every_query(run.rulebook.ir):
            try:
                render(query, "spark")
            except NotPortable:
                TRIED["not portable to Spark"] += 1
    return run.to_json()


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(position=POSITIONS)
def test_what_check_accepts_score_runs(position, tmp_path, tiny_events):
    out = _compiled_and_scored(tmp_path, tiny_events, position)
    assert out is None or len(out["shops"]) == 2


def test_the_expressions_tried_were_mostly_scored():
    """The generator is no use if check refuses everything it builds."""
    if TRIED["scored"] == 0:
        pytest.skip("run with test_what_check_accepts_score_runs")
    print(f"\nexpressions tried: {dict(TRIED)}")
    assert TRIED["scored"] >= TRIED["refused by check"]


def _values(tmp_path, data, body: str, extra: str = "") -> dict:
    out = lhrule.score(_rulebook(tmp_path, body, extra), data, as_of="2024-06-30").to_json()
    return {s["shop_id"]: (s["indicators"]["x"].get("value"), sorted(s["actions"]) if extra else None)
            for s in out["shops"]}


# In the window (as of 06-30): a has o1 (10.5) and o2 (0); b has o3 (3) and o4 (-2.25).
@pytest.mark.parametrize("condition, a, b", [
    ("(amount > 1) = (amount < 5)", "0", "1"),  # o3 alone: true = true
    ("(shipped_at is null) = (delivered_at is null)", "2", "1"),
    ("(amount > 1) != (ship_region = recv_region)", "1", "0"),
    ("(amount > 1) in {true}", "1", "1"),
    ("amount / 2 / 3 > 1", "1", "0"),  # amount > 6
    ("amount / (amount - 3) > 1", "1", "0"),  # 10.5/7.5; 0/-3; 3/0 has no value; -2.25/-5.25
    ("(amount - 3) / (amount - 3) is null", "0", "1"),  # a division by zero has no value
    ("-amount / -2 < 0", "0", "1"),  # the sign of the denominator moves to the numerator
    ("amount / 3 * 3 = amount", "2", "2"),  # exact: no float, no rounding
    ("amount * 7 / 10 = 0.7 * amount", "2", "2"),
    ("least(amount / 2, 1) = 1", "1", "1"),
    ("coalesce(amount / (amount - 3), 7) = 7", "0", "1"),
    ("amount / 2 in {1.5, 0}", "1", "1"),
    ("amount / 2 in 0 .. 2", "1", "1"),
    ("(delivered_at - paid_at) / (shipped_at - paid_at) > 2", "1", "1"),  # 47h / 2h; 50h / 24h
    ("(shipped_at - paid_at) / 4 = 30m", "1", "0"),  # 2h / 4
    ("(shipped_at - paid_at) / 3 > 40m", "0", "1"),  # 40m exactly is not more
])
def test_a_well_typed_condition_scores_with_its_exact_value(tmp_path, tiny_events, condition, a, b):
    got = _values(tmp_path, tiny_events, f"  where {condition}\n  count\n")
    assert got == {"a": (a, None), "b": (b, None)}


@pytest.mark.parametrize("condition, a, b", [
    ("category in p_set", "2", "2"),  # a: {"c1"}; b, of main category c2: {"c2"}
    ("category not in p_set", "0", "0"),
    ("amount / 2 in p_halves", "1", "0"),  # a: {0, 1.5}; b: {5.25}
    ("amount in {}", "0", "0"),
    ("amount not in {}", "2", "2"),
])
def test_a_set_param_with_per_group_values_and_an_empty_set_are_looked_in(tmp_path, tiny_events, condition, a, b):
    got = _values(tmp_path, tiny_events, f"  where {condition}\n  count\n")
    assert {shop: value for shop, (value, _) in got.items()} == {"a": a, "b": b}


@pytest.mark.parametrize("body, code, message", [
    ("  where (amount > 1) < (amount < 5)\n  count\n", "E020", "`<` compares numbers, durations or times, not conditions"),
    ("  where (amount > 1) in true .. false\n  count\n", "E020", "compares numbers, durations or times, not conditions"),
    ("  only for platform >= tmall\n  count\n", "E020", "the values of an enum have no order"),
    ("  total amount / 2\n", "E021", "the value of `total` is a value of each row, and a division need not have an exact one"),
    ("  once per amount / 2\n  count\n", "E021", "a `once per` key is a value of each row"),
    ("  total amount * 1.5\n", "E021", "the value of `total` is added up to 6 decimal places, and this value has up to 7"),
    ("  where paid_at + (shipped_at - paid_at) / 2 < delivered_at\n  count\n", "E021", "a time moves by whole microseconds"),
    ("  where amount * amount * amount * amount * amount * amount * amount > 1\n  count\n", "E021",
     "computed exactly, this needs 42 decimal places, and the engines hold 38"),
    ("  where amount / (amount * amount * amount) > amount * amount * amount * amount\n  count\n", "E021",
     "this needs 42 decimal places"),  # amount·amount³ against amount⁴·amount³: 6 + 18 and 24 + 18
])
def test_a_form_the_engines_cannot_compute_exactly_is_refused_by_check(tmp_path, body, code, message):
    from lhrule.compiler.compile import compile_rulebook

    errors = [(d.code, d.message) for d in compile_rulebook(_rulebook(tmp_path, body, "")).diagnostics if d.is_error]
    assert any(c == code and message in m for c, m in errors), errors


@pytest.mark.parametrize("condition, fired", [
    ("x / p_zero > 1", []),  # a division by zero has no value, and compares false
    ("coalesce(x / p_zero, 0) = 0", ["a", "b"]),
    ("abs(x - 5) < 4", ["a", "b"]),  # 2 and 2
    ("least(x, 1) = 1 and greatest(x, 3) = 3", ["a", "b"]),
    ("as_of - 2024-06-01 > 28d and as_of - 2024-06-01 < 30d", ["a", "b"]),  # 29 days
    ("date(2024-06-29 23:00) = as_of - 1d", ["a", "b"]),
])
def test_an_action_condition_is_evaluated_per_shop_without_raising(tmp_path, tiny_events, condition, fired):
    got = _values(tmp_path, tiny_events, "  count\n", f'action act "a" {{\n  when {condition}\n}}\n')
    assert {shop: acts for shop, (_, acts) in got.items()} == {s: (["act"] if s in fired else []) for s in "ab"}


def test_an_action_refuses_exists_which_it_cannot_judge_per_shop(tmp_path):
    from lhrule.compiler.compile import compile_rulebook

    extra = 'action act "a" {\n  when exists orders o where o.shop_id = shop_id\n}\n'
    errors = [d.message for d in compile_rulebook(_rulebook(tmp_path, "  count\n", extra)).diagnostics if d.is_error]
    assert errors == ["`exists` does not belong in an action's condition: it reads the shop's own columns and its "
                      "results"]


@pytest.mark.spark
@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(position=POSITIONS.filter(lambda p: p[0] in ("where", "rate", "only for", "action")))
def test_what_check_accepts_spark_runs_as_duckdb_does(position, tmp_path, tiny_events):
    pytest.importorskip("pyspark", reason="the spark extra: pip install '.[spark]'")
    duck = _compiled_and_scored(tmp_path, tiny_events, position)
    if duck is not None:
        assert _compiled_and_scored(tmp_path, tiny_events, position, engine="spark") == duck


@pytest.mark.spark
@pytest.mark.parametrize("condition", ["amount / 3 * 3 = amount", "amount * 7 / 10 = 0.7 * amount",
                                       "amount * 1.000001 * 1.000001 = amount * 1.000002000001",
                                       "(delivered_at - paid_at) / (shipped_at - paid_at) > 2"])
def test_an_exact_fraction_is_exact_on_spark(tmp_path, tiny_events, condition):
    pytest.importorskip("pyspark", reason="the spark extra: pip install '.[spark]'")
    path = _rulebook(tmp_path, f"  where {condition}\n  count\n", "")
    duck = lhrule.score(path, tiny_events, as_of="2024-06-30").to_json()
    spark = lhrule.score(path, tiny_events, as_of="2024-06-30", engine="spark", spark_master="local[1]").to_json()
    assert spark == duck


def test_explain_of_a_divided_condition_names_the_part_that_failed(tmp_path, tiny_events):
    from typer.testing import CliRunner

    from lhrule.cli.main import app

    path = _rulebook(tmp_path, "  rate where amount / (amount - 3) > 1 and amount > 0\n", "")
    result = CliRunner().invoke(app, ["explain", "b", "--rulebook", str(path), "--data", str(tiny_events),
                                      "--as-of", "2024-06-30", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "o3" in result.output and "o4" in result.output
