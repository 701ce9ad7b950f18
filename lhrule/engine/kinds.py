"""Measure kinds (`rate`, `average`, `total`, `count`), each one object that says all the
engine does differently for it, so no stage branches on a kind's name:

- the flag it puts on each event row (`flag`, `flag_columns`): a rate's condition, an
  average's or a total's value, nothing for a count;
- its aggregate (`counts`): the SQL of a shop's counts, `rows` and `hits` for a rate, `rows`
  and `total` for an average or a total, `rows` alone for a count;
- how the counts become the value (`value`, `numerator`), in exact integers and Fractions;
- the verdict of a counted event row (`verdict`, `verdict_sql`), and the formula explain shows.

`kind_of` finds a measure's kind; a kind with no handler is a clear error, not a silent count.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Callable

from sqlglot import exp

from lhrule.compiler.typecheck import ORDERS, divides
from lhrule.engine import columns as c
from lhrule.engine.sql.expressions import cast, coalesce_false, conjuncts, lit
from lhrule.ir import model as ir


def count_if(cond: exp.Expression) -> exp.Expression:
    return exp.func("SUM", exp.Case(ifs=[exp.If(this=cond, true=lit(1))], default=lit(0)))


def is_duration(measure: ir.Measure) -> bool:
    """Whether the measure's value is a duration (held as whole microseconds in SQL)."""
    return measure.expr is not None and measure.expr.type.name == "duration"


@dataclass(frozen=True, slots=True)
class RowVerdict:
    """What a kept event row comes to under its measure (explain's words for it)."""
    verdict: str  # "counted" or "not_counted"
    why: str | None = None
    shows_value: bool = False  # the row's value is what it counted
    failed: int | None = None  # a rate's condition: the first part (from 1) that failed, if one did


class Kind:
    """A measure kind; the methods here are those of a kind that counts rows (`count`)."""
    name: str = ""
    flag: str | None = None  # the measure's column on each event row
    counted: tuple[str, ...] = (c.ROWS,)  # its count columns per shop and day

    # -- the per-event query ---------------------------------------------------------------
    def flag_columns(self, measure: ir.Measure, sql, prefix: str, whole_table: bool) -> list[exp.Expression]:
        """The measure's columns on an event row; `whole_table` for explain, which shows more."""
        return []

    def counts(self, measure: ir.Measure, kept: exp.Expression, prefix: str) -> list[exp.Expression]:
        """The SQL of a shop's counts, from `kept` (the row counts)."""
        return [exp.alias_(count_if(kept), prefix + c.ROWS)]

    def verdict_sql(self, holds: Callable[[str], exp.Expression]) -> tuple[list[tuple[exp.Expression, str]], str]:
        """A kept row's verdict in SQL: (condition, verdict) pairs tried in order, and the verdict
        otherwise; `holds(column)` is a flag that counts NULL as false."""
        return [], "counted"

    # -- the per-shop step -----------------------------------------------------------------
    def value(self, rows: int, hits: int | None, total: Fraction | None) -> Fraction | None:
        """The indicator's value from a shop's counts (None: no value, the shop is not assessed)."""
        return Fraction(rows)

    def numerator(self, r) -> int | Fraction | None:
        """The numerator an output shows over `rows` (an IndicatorResult's)."""
        return r.rows

    def saved_counts(self, numerator: str | None, scale: int) -> dict:
        """The counts beyond `rows` from a saved numerator (`score --format parquet`)."""
        return {}

    # -- explain ---------------------------------------------------------------------------
    def formula(self, r, show: Callable) -> str:
        return f"{self.name} of {r.rows} rows"

    def conditions(self, measure: ir.Measure) -> list[ir.Expr]:
        """The parts explain judges a row against one by one (a rate's condition)."""
        return []

    def verdict(self, row: dict, parts: int) -> RowVerdict:
        """A kept row's verdict; `parts`, how many parts of `conditions` the row was judged on."""
        return RowVerdict("counted", shows_value=True)


class Count(Kind):
    name = "count"


class Rate(Kind):
    name = "rate"
    flag = c.NUMERATOR
    counted = (c.ROWS, c.HITS)

    def flag_columns(self, measure, sql, prefix, whole_table):
        columns = [exp.alias_(coalesce_false(sql(measure.expr)), prefix + c.NUMERATOR)]
        if whole_table:  # explain says which part of the condition failed, and the value it saw
            for i, part in enumerate(conjuncts(measure.expr), 1):
                columns.append(exp.alias_(coalesce_false(sql(part)), c.condition_column(i)))
                # the value it saw; a divided one is a fraction in SQL, with no value of its own
                if isinstance(part, ir.Binary) and part.op in ORDERS and not divides(part.left):
                    columns.append(exp.alias_(sql(part.left), c.condition_value_column(i)))
        return columns

    def counts(self, measure, kept, prefix):
        return super().counts(measure, kept, prefix) + [
            exp.alias_(count_if(exp.and_(kept, exp.column(prefix + c.NUMERATOR))), prefix + c.HITS)]

    def verdict_sql(self, holds):
        return [(holds(c.NUMERATOR), "counted")], "not_counted"

    def value(self, rows, hits, total):
        return Fraction(hits, rows) if rows else None

    def numerator(self, r):
        return r.hits

    def saved_counts(self, numerator, scale):
        return {c.HITS: int(numerator)}

    def formula(self, r, show):
        return f"{r.hits} / {r.rows}"

    def conditions(self, measure):
        return conjuncts(measure.expr)

    def verdict(self, row, parts):
        if row[c.NUMERATOR]:
            return RowVerdict("counted")
        failed = next((i for i in range(1, parts + 1) if not row.get(c.condition_column(i), True)), None)
        return RowVerdict("not_counted", failed=failed)


class Total(Kind):
    name = "total"
    flag = c.VALUE
    counted = (c.ROWS, c.TOTAL)

    def flag_columns(self, measure, sql, prefix, whole_table):
        return [exp.alias_(sql(measure.expr), prefix + c.VALUE)]

    def counts(self, measure, kept, prefix):
        scale = "DECIMAL(38,0)" if is_duration(measure) else "DECIMAL(38,6)"
        summed = exp.func("SUM", exp.Case(ifs=[exp.If(this=kept, true=cast(exp.column(prefix + c.VALUE), scale))]))
        return super().counts(measure, kept, prefix) + [exp.alias_(summed, prefix + c.TOTAL)]

    def value(self, rows, hits, total):
        return total if total is not None else Fraction(0)

    def numerator(self, r):
        return r.total

    def saved_counts(self, numerator, scale):
        return {c.TOTAL: Decimal(numerator) * scale} if numerator is not None else {}


class Average(Total):
    name = "average"

    def counts(self, measure, kept, prefix):
        # an average is over the rows that have a value, as SQL's AVG
        with_value = exp.and_(kept, exp.Not(this=exp.Is(this=exp.column(prefix + c.VALUE), expression=exp.null())))
        return super().counts(measure, with_value, prefix)

    def verdict_sql(self, holds):
        return [(exp.Is(this=exp.column(c.VALUE), expression=exp.null()), "not_counted")], "counted"

    def value(self, rows, hits, total):
        return Fraction(total.numerator, total.denominator * rows) if rows and total is not None else None

    def formula(self, r, show):
        return f"{show(r.total)} / {r.rows}" if r.total is not None else f"nothing / {r.rows}"

    def verdict(self, row, parts):
        if row.get(c.VALUE) is None:
            return RowVerdict("not_counted", "no value to average")
        return RowVerdict("counted", shows_value=True)


KINDS: dict[str, Kind] = {k.name: k for k in (Rate(), Average(), Total(), Count())}


def kind_of(measure: ir.Measure | str) -> Kind:
    """The kind of a measure (or a kind's name); one lhrule has no handler for is an error that
    names it, never a measure counted as some other kind."""
    name = measure if isinstance(measure, str) else measure.kind
    found = KINDS.get(name)
    if found is None:
        raise LookupError(f"no handler for the measure kind {name!r}: lhrule measures by "
                          f"{', '.join(sorted(KINDS))}")
    return found
