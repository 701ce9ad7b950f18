"""The queries of one indicator: per-event flags, and their aggregate per shop and day.

The flags are the trace, kept as data. Every event row of the indicator's table, for every
as-of day, gets one column per rule that judged it, named after the IR node:

    event_id, shop_id, as_of, at           the row, its shop, the day scored, its window time
    in_window                              inside `window …` for that day
    where_1 … where_n                      each `where` line (NULL counts as false)
    exclusion name columns                 each exclusion in force that applies to it
    key_1 … key_m                          the `once per` key
    numerator (rate) / value (average, total)
    eligible                               in window, every where holds, no exclusion
    kept                                   eligible, and the first row of its `once per` key

The aggregate sums them per shop and day: `rows` (kept rows), `hits` (kept rows meeting a
rate's condition), `total` (the sum an average or total needs), and per exclusion the rows
it removed (a row two exclusions match is counted under the first declared). `explain`
reads the flags of one shop; `score` the aggregates of all: one definition for both.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from lhrule.engine import ir
from lhrule.engine.plan import Plan
from lhrule.engine.sql import (Compiler, Context, cast, coalesce_false, col, date_sql, day_offset, lit, table_name)

ROW = "e"
DAYS = "d"


def shop_relation(rb: ir.Rulebook, table: str) -> ir.Column:
    return next(c for c in rb.table(table).columns if c.target == rb.entity)


def exclusion_column(x: ir.Exclusion) -> str:
    return f"x_{x.name}"


def days_table(days: list[dt.date]) -> exp.Expression:
    rows = [exp.Tuple(expressions=[lit(d.isoformat())]) for d in days]
    values = exp.Values(expressions=rows, alias=exp.TableAlias(this=exp.to_identifier("v"),
                                                               columns=[exp.to_identifier("day")]))
    return exp.select(exp.alias_(cast(exp.column("day", "v"), "DATE"), "as_of")).from_(values, copy=False).subquery(DAYS)


def flags_query(rb: ir.Rulebook, plan: Plan, ind: ir.Indicator, days: list[dt.date],
                shops: list[str] | None = None, whole_table: bool = False, per_day: bool = False,
                dedupe: bool = True) -> exp.Select:
    """Every flag of every row of the indicator's table, for each day in `days`.

    `whole_table` keeps the rows outside the window too (explain shows them); scoring only
    needs the rows inside it, which lets the engine join days to rows by range.

    `per_day` (see `slides`) judges each row once, not once per as-of day: the rows of every
    window that meets `days`, with `as_of` left NULL, which no rule of the indicator reads.

    Without `dedupe`, a `once per` indicator's rows carry `eligible` but no `kept`: counting
    (`_aggregate`) keeps the first row of each key by grouping, faster than a window."""
    rel = shop_relation(rb, ind.table)
    as_of = cast(exp.null(), "DATE") if per_day else exp.column("as_of", DAYS)
    ctx = Context(rb, ind.table, ROW, as_of, plan.params, shop_rel=rel.relation)
    sql = Compiler(ctx)
    at = col(ROW, ind.window.column)
    if rb.table(ind.table).column(ind.window.column).type.name == "date":
        at = cast(at, "TIMESTAMP")
    if per_day:  # the union of the windows of all the days
        start = day_offset(date_sql(min(days)), ind.window.start_offset)
        end = day_offset(date_sql(max(days)), ind.window.end_offset - 1)
    else:
        start, end = day_offset(as_of, ind.window.start_offset), day_offset(as_of, ind.window.end_offset - 1)
    in_window = exp.and_(exp.GTE(this=at, expression=start), exp.LT(this=at, expression=end))
    key = rb.table(ind.table).key
    columns = [
        exp.alias_(col(ROW, key.name), "event_id"),
        exp.alias_(col(ROW, rel.name), "shop_id"),
        exp.alias_(as_of, "as_of"),
        exp.alias_(at, "at"),
        exp.alias_(coalesce_false(in_window), "in_window"),
    ]
    if per_day:
        columns.append(exp.alias_(cast(at, "DATE"), "day"))
    columns += [exp.alias_(coalesce_false(sql(f)), f"where_{i}") for i, f in enumerate(ind.filters, 1)]
    exclusions = plan.exclusions_of(ind.name)
    columns += [exp.alias_(coalesce_false(sql(x.condition)), exclusion_column(x)) for x in exclusions]
    columns += [exp.alias_(sql(k), f"key_{i}") for i, k in enumerate(ind.once_per, 1)]
    if ind.measure.kind == "rate":
        columns.append(exp.alias_(coalesce_false(sql(ind.measure.expr)), "numerator"))
        if whole_table:  # explain says which part of the condition failed, and the value it saw
            for i, part in enumerate(conjuncts(ind.measure.expr), 1):
                columns.append(exp.alias_(coalesce_false(sql(part)), f"condition_{i}"))
                if isinstance(part, ir.Binary) and part.op in ("=", "!=", "<", "<=", ">", ">="):
                    columns.append(exp.alias_(sql(part.left), f"condition_{i}_value"))
    elif ind.measure.kind in ("average", "total"):
        columns.append(exp.alias_(sql(ind.measure.expr), "value"))
    select = exp.select(*columns).from_(exp.to_table(table_name(ind.table)).as_(ROW, quoted=True), copy=False)
    for alias, target, on in ctx.joins.values():
        select = select.join(exp.to_table(table_name(target)).as_(alias, quoted=True), on=on, join_type="left",
                             copy=False)
    if not per_day:
        select = select.join(days_table(days), join_type="cross", copy=False)
    conditions = [] if whole_table else [in_window.copy()]
    if shops is not None:
        conditions.append(exp.In(this=col(ROW, rel.name), expressions=[lit(s) for s in shops]))
    if conditions:
        select = select.where(exp.and_(*conditions), copy=False)
    return _with_verdicts(select, ind, exclusions, per_day, dedupe)


def conjuncts(e: ir.Expr) -> list[ir.Expr]:
    """`a and b and c` as [a, b, c]: each part is judged, and explained, on its own."""
    if isinstance(e, ir.Binary) and e.op == "and":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def _with_verdicts(flags: exp.Select, ind: ir.Indicator, exclusions, per_day: bool = False,
                   dedupe: bool = True) -> exp.Select:
    passes = [exp.column("in_window")] + [exp.column(f"where_{i}") for i in range(1, len(ind.filters) + 1)]
    excluded = [exp.column(exclusion_column(x)) for x in exclusions]
    eligible = exp.and_(*passes, *(exp.Not(this=x) for x in excluded))
    step = exp.select("*", exp.alias_(exp.paren(eligible), "eligible")).from_(flags.subquery("flags", copy=False), copy=False)
    if not ind.once_per:
        return exp.select("*", exp.alias_(exp.column("eligible"), "kept")).from_(step.subquery("judged", copy=False), copy=False)
    if not dedupe:
        return step
    partition = [exp.column("shop_id"), exp.column("day" if per_day else "as_of"), exp.column("eligible")] + \
        [exp.column(f"key_{i}") for i in range(1, len(ind.once_per) + 1)]
    order = exp.Order(expressions=[exp.Ordered(this=exp.column("at")), exp.Ordered(this=exp.column("event_id"))])
    first = exp.EQ(this=exp.Window(this=exp.RowNumber(), partition_by=partition, order=order), expression=lit(1))
    kept = exp.and_(exp.column("eligible"), first)
    return exp.select("*", exp.alias_(exp.paren(kept), "kept")).from_(step.subquery("judged", copy=False), copy=False)


def _count_if(cond: exp.Expression) -> exp.Expression:
    return exp.func("SUM", exp.Case(ifs=[exp.If(this=cond, true=lit(1))], default=lit(0)))


def _reads_as_of(node) -> bool:
    if isinstance(node, ir.AsOf):
        return True
    if isinstance(node, ir.Node):
        return any(_reads_as_of(item) for value in node.__dict__.values()
                   for item in (value if isinstance(value, tuple) else (value,)))
    return False


def slides(plan: Plan, ind: ir.Indicator, days: list[dt.date]) -> bool:
    """Whether a row's flags are the same for every as-of day, so the days of a range can be
    summed from per-day partial counts instead of judging each row once per day: nothing
    the indicator applies reads `as_of`, and a `once per` key never spans two days (the
    window is one day, or a key is the date of the window's column)."""
    if len(days) < 2:
        return False
    parts = [*ind.filters, *ind.once_per, ind.measure] + [x.condition for x in plan.exclusions_of(ind.name)]
    if any(_reads_as_of(p) for p in parts):
        return False
    if not ind.once_per or ind.window.start_offset == ind.window.end_offset:
        return True
    return any(isinstance(k, ir.Call) and k.fn == "date" and isinstance(k.args[0], ir.ColumnRef)
               and k.args[0].column == ind.window.column and not k.args[0].via and k.args[0].alias is None
               for k in ind.once_per)


def aggregate_query(rb: ir.Rulebook, plan: Plan, ind: ir.Indicator, days: list[dt.date],
                    shops: list[str] | None = None) -> exp.Select:
    if slides(plan, ind, days):
        return _sliding_aggregate(rb, plan, ind, days, shops)
    return _aggregate(rb, plan, ind, flags_query(rb, plan, ind, days, shops, dedupe=False), ("shop_id", "as_of"))


def _sliding_aggregate(rb, plan, ind, days, shops) -> exp.Select:
    """Per-day partial counts, each row judged once, summed over each as-of day's window."""
    flags = flags_query(rb, plan, ind, days, shops, per_day=True, dedupe=False)
    partial = _aggregate(rb, plan, ind, flags, ("shop_id", "day"))
    sums = [exp.alias_(exp.func("SUM", exp.column(c.alias_or_name, "p")), c.alias_or_name)
            for c in partial.expressions[2:]]
    as_of = exp.column("as_of", DAYS)
    lo = exp.DateAdd(this=as_of, expression=lit(-ind.window.start_offset), unit=exp.var("DAY"))
    hi = exp.DateAdd(this=as_of, expression=lit(-ind.window.end_offset), unit=exp.var("DAY"))
    on = exp.and_(exp.GTE(this=exp.column("day", "p"), expression=cast(lo, "DATE")),
                  exp.LTE(this=exp.column("day", "p"), expression=cast(hi, "DATE")))
    return (exp.select(exp.column("shop_id", "p"), exp.alias_(as_of, "as_of"), *sums)
            .from_(partial.subquery("p", copy=False), copy=False).join(days_table(days), on=on, join_type="inner")
            .group_by(exp.column("shop_id", "p"), as_of))


def _aggregate(rb: ir.Rulebook, plan: Plan, ind: ir.Indicator, flags: exp.Select, by: tuple[str, str]) -> exp.Select:
    if ind.once_per:
        flags = _first_of_each_key(plan, ind, flags, by)
    kept = exp.column("kept")
    if ind.measure.kind == "average":  # an average is over the rows that have a value, as SQL's AVG
        kept = exp.and_(kept, exp.Not(this=exp.Is(this=exp.column("value"), expression=exp.null())))
    columns = [exp.column(by[0]), exp.column(by[1]), exp.alias_(_count_if(kept), "rows")]
    if ind.measure.kind == "rate":
        columns.append(exp.alias_(_count_if(exp.and_(kept, exp.column("numerator"))), "hits"))
    if ind.measure.kind in ("average", "total"):
        scale = "DECIMAL(38,0)" if ind.measure.expr.type.name == "duration" else "DECIMAL(38,6)"
        summed = exp.func("SUM", exp.Case(ifs=[exp.If(this=kept, true=cast(exp.column("value"), scale))]))
        columns.append(exp.alias_(summed, "total"))
    if ind.once_per:  # the rows excluded were counted per row in `_first_of_each_key`
        columns += [exp.alias_(exp.func("SUM", exp.column(exclusion_column(x))), exclusion_column(x))
                    for x in plan.exclusions_of(ind.name)]
    else:
        columns += _excluded_counts(plan, ind)
    return exp.select(*columns).from_(flags.subquery("flagged", copy=False), copy=False).group_by(*by)


def _excluded_counts(plan: Plan, ind: ir.Indicator) -> list[exp.Expression]:
    """Per exclusion, the rows of the population it takes out that no earlier one did."""
    in_population = exp.and_(exp.column("in_window"),
                             *(exp.column(f"where_{i}") for i in range(1, len(ind.filters) + 1)))
    columns, earlier = [], []
    for x in plan.exclusions_of(ind.name):
        mine = exp.column(exclusion_column(x))
        columns.append(exp.alias_(_count_if(exp.and_(in_population, mine, *(exp.Not(this=e) for e in earlier))),
                                  exclusion_column(x)))
        earlier.append(mine)
    return columns


def _first_of_each_key(plan: Plan, ind: ir.Indicator, flags: exp.Select, by: tuple[str, str]) -> exp.Select:
    """`once per`, for counting: one row per shop, day, eligibility and key, carrying the
    numerator or value of the key's first row (by time, then id; NULL values included) and
    the per-row exclusion counts. `kept` is the eligible row of each key, as in the flags of
    `_with_verdicts`, which explain reads."""
    keys = [exp.column(f"key_{i}") for i in range(1, len(ind.once_per) + 1)]
    first = exp.Tuple(expressions=[exp.column("at"), exp.column("event_id")])
    columns = [exp.column(by[0]), exp.column(by[1]), exp.alias_(exp.column("eligible"), "kept")]
    if ind.measure.kind == "rate":
        columns.append(exp.alias_(exp.Anonymous(this="arg_min_null", expressions=[exp.column("numerator"), first]),
                                  "numerator"))
    if ind.measure.kind in ("average", "total"):
        columns.append(exp.alias_(exp.Anonymous(this="arg_min_null", expressions=[exp.column("value"), first]),
                                  "value"))
    columns += _excluded_counts(plan, ind)
    return (exp.select(*columns).from_(flags.subquery("unjudged", copy=False), copy=False)
            .group_by(exp.column(by[0]), exp.column(by[1]), exp.column("eligible"), *keys))


def shop_query(rb: ir.Rulebook, plan: Plan, shops: list[str] | None = None) -> exp.Select:
    """The entity rows (all, or those named), with each indicator's `only for` condition."""
    entity = rb.table(rb.entity)
    ctx = Context(rb, entity.name, ROW, date_sql(plan.day), plan.params, shop_rel=None)
    sql = Compiler(ctx)
    columns = [exp.alias_(col(ROW, c.name), c.name) for c in entity.columns]
    for ind in plan.indicators:
        if ind.only_for is not None:
            columns.append(exp.alias_(coalesce_false(sql(ind.only_for)), f"only_for_{ind.name}"))
        if ind.retired_except is not None:
            columns.append(exp.alias_(coalesce_false(sql(ind.retired_except)), f"retired_except_{ind.name}"))
    select = exp.select(*columns).from_(exp.to_table(table_name(entity.name)).as_(ROW, quoted=True), copy=False)
    for alias, target, on in ctx.joins.values():
        select = select.join(exp.to_table(table_name(target)).as_(alias, quoted=True), on=on, join_type="left",
                             copy=False)
    if shops is not None:
        select = select.where(exp.In(this=col(ROW, entity.key.name), expressions=[lit(s) for s in shops]))
    return select
