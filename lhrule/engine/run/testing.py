"""`test` blocks: load the given rows into DuckDB, score with the same engine, compare.

A given row may leave columns out. The engine fills: the key with `TABLE-N` (N the row's
number), the relation to the shop with "s1", other ids, strings and lists with "", an enum
with its first value, a bool with false, a number with 0. A required timestamp or date must
be given. A shop named by an event or an `expect` but not given gets a row of defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from lhrule.ir import model as ir
from lhrule.engine.data.dataset import connect, register_rows
from lhrule.ir.evaluate import to_fraction
from lhrule.engine.run.results import ShopResult, decimal_text
from lhrule.engine.run.score import score

DEFAULT_SHOP = "s1"


@dataclass
class Outcome:
    test: ir.Test
    failures: list[tuple[ir.Expect | None, str]]

    @property
    def passed(self) -> bool:
        return not self.failures


def run_tests(rb: ir.Rulebook, given=None) -> list[Outcome]:
    return [run_test(rb, t, given) for t in rb.tests]


def duckdb_given(rb: ir.Rulebook, rows: dict[str, list[dict]]):
    """A DuckDB connection whose views hold the given rows."""
    con = connect(rb)
    for table in rb.tables:
        register_rows(con, table, rows.get(table.name, []))
    return con


def run_test(rb: ir.Rulebook, test: ir.Test, given=None) -> Outcome:
    """`given(rb, rows)` makes the connection holding the test's rows (DuckDB by default;
    `spark.given_rows` for Spark)."""
    try:
        rows = _rows(rb, test)
    except ValueError as exc:
        return Outcome(test, [(None, str(exc))])
    con = (given or duckdb_given)(rb, rows)
    results = {r.shop_id: r for r in score(con, rb, [test.as_of])}
    failures = []
    for expect in test.expects:
        problem = check(expect, results.get(expect.shop))
        if problem:
            failures.append((expect, problem))
    return Outcome(test, failures)


def _rows(rb: ir.Rulebook, test: ir.Test) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    shops_named = {e.shop for e in test.expects}
    for given in test.given:
        table = rb.table(given.table)
        for row in given.rows:
            values = {k: v.value for k, v in row.values.items()}
            number = len(rows.get(table.name, [])) + 1
            filled = {}
            for c in table.columns:
                if c.name in values:
                    filled[c.name] = values[c.name]
                elif c.optional:
                    filled[c.name] = None
                elif c.key:
                    filled[c.name] = f"{table.name}-{number}"
                elif c.target == rb.entity:
                    filled[c.name] = DEFAULT_SHOP
                elif c.type.name in ("timestamp", "date"):
                    raise ValueError(f"given {table.name} (row {number}, line {row.span.line}) leaves out the "
                                     f"required {c.type.name} `{c.name}`: give it a value")
                else:
                    filled[c.name] = {"bool": False, "number": 0, "duration": 0,
                                      "enum": c.type.values[0] if c.type.values else ""}.get(c.type.name, "")
                if c.target == rb.entity:
                    shops_named.add(filled[c.name])
            rows.setdefault(table.name, []).append(filled)
    entity = rb.table(rb.entity)
    have = {r[entity.key.name] for r in rows.get(entity.name, [])}
    for shop in sorted(shops_named - have):
        row = {}
        for c in entity.columns:
            row[c.name] = shop if c.key else None if c.optional else \
                {"bool": False, "number": 0, "enum": c.type.values[0] if c.type.values else ""}.get(c.type.name, "")
        rows.setdefault(entity.name, []).append(row)
    return rows


def check(expect: ir.Expect, res: ShopResult | None) -> str | None:
    """None when the expectation holds, else what was found instead."""
    if res is None:
        return f'no shop "{expect.shop}" was scored'
    name = expect.name
    if expect.of == "action":
        if name not in res.actions:  # not in the rules of that day: certainly not in force
            return None if expect.negated else f"action {name} is not in the rules in force on {res.as_of}"
        on = res.actions[name]
        if on == expect.negated:
            return f"expected {name} {'not ' if expect.negated else ''}in force, but it is{'' if on else ' not'}"
        return None
    if expect.of == "indicator":
        if name not in res.indicators:
            return f"indicator {name} is not in force on {res.as_of}"
        r = res.indicators[name]
        if expect.what == "not_assessed":
            return None if not r.assessed else f"expected not assessed, but it is assessed with value {show(r.value)}"
        if expect.what == "ratio":
            if (r.numerator, r.rows) != (expect.numerator, expect.denominator):
                return f"expected {expect.numerator} / {expect.denominator}, got {r.numerator} / {r.rows}"
            return None
        if expect.what == "band":
            got = r.level.label if r.level else None
            if got != expect.band:
                why = f" ({r.reason})" if r.reason else ""
                return f'expected band "{expect.band}", got {got and repr(got) or "none"}{why}'
            return None
        if expect.what == "points":
            return _same(r.points, expect.value, "points")
        return _same(r.value, expect.value, "value", r.reason)
    if expect.of == "grade":
        level = res.grades.get(name)
        got = level.label if level else None
        return None if got == expect.value.value else f'expected grade "{expect.value.value}", got {got!r}'
    part = res.scores.get(name) if expect.of == "score" else res.dimensions.get(name)
    if part is None:
        return f"{expect.of} {name} is not in force on {res.as_of}"
    if expect.what == "not_assessed":
        return None if part.value is None else f"expected not assessed, got {show(part.value)}"
    return _same(part.value, expect.value, "value")


def _same(got: Fraction | None, want: ir.Literal_ | None, what: str, reason: str | None = None) -> str | None:
    expected = to_fraction(want.value) if want is not None else None
    if got is None:
        return f"expected {what} {show(expected)}, but it is not assessed" + (f" ({reason})" if reason else "")
    if got != expected:
        return f"expected {what} {show(expected)}, got {show(got)}"
    return None


def show(value: Fraction | None) -> str:
    return decimal_text(value, 6) or "none"
