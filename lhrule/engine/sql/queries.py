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

from lhrule.ir import model as ir
from lhrule.ir.plan import Plan
from lhrule.engine import columns as c
from lhrule.engine.kinds import count_if, kind_of
from lhrule.engine.sql.expressions import (Compiler, Context, cast, coalesce_false, col, date_sql, day_offset, lit,
                                           reads, table_name)

ROW = "e"
DAYS = "d"


def shop_relation(rb: ir.Rulebook, table: str) -> ir.Column:
    return next(c for c in rb.table(table).columns if c.target == rb.entity)


def exclusion_column(x: ir.Exclusion) -> str:
    return c.exclusion_column(x.name)


def days_table(days: list[dt.date]) -> exp.Expression:
    rows = [exp.Tuple(expressions=[lit(d.isoformat())]) for d in days]
    values = exp.Values(expressions=rows, alias=exp.TableAlias(this=exp.to_identifier("v"),
                                                               columns=[exp.to_identifier("day")]))
    return exp.select(exp.alias_(cast(exp.column("day", "v"), "DATE"), c.AS_OF)).from_(values, copy=False).subquery(DAYS)


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
    select = _flags_select(rb, plan, [(ind, "")], days, shops, whole_table, per_day)
    return _with_verdicts(select, ind, plan.exclusions_of(ind.name), per_day, dedupe)


def _flags_select(rb: ir.Rulebook, plan: Plan, inds: list[tuple[ir.Indicator, str]], days: list[dt.date],
                  shops: list[str] | None = None, whole_table: bool = False, per_day: bool = False) -> exp.Select:
    """The flags of one indicator, or of several of one table read in one scan (each with
    its columns prefixed, see `fused_aggregate_query`); the row, its time and its key are
    shared, and a row is read when it is in any of their windows."""
    first = inds[0][0]
    rel = shop_relation(rb, first.table)
    as_of = cast(exp.null(), "DATE") if per_day else exp.column(c.AS_OF, DAYS)
    ctx = Context(rb, first.table, ROW, as_of, plan.params, shop_rel=rel.relation,
                  days=None if per_day else days_table(days))
    sql = Compiler(ctx)
    at = col(ROW, first.window.column)
    if rb.table(first.table).column(first.window.column).type.name == "date":
        at = cast(at, "TIMESTAMP")
    key = rb.table(first.table).key
    # One shop asked for (explain, `--shop`): its id as a literal. Grouped by the column it is
    # filtered on, DuckDB 2.0 reads the shop's rows once per partition of its plan (six times on
    # two threads; benchmarks/RESULTS.md, "Figures behind the code").
    shop = lit(shops[0]) if shops is not None and len(shops) == 1 else col(ROW, rel.name)
    columns = [
        exp.alias_(col(ROW, key.name), c.EVENT_ID),
        exp.alias_(shop, c.SHOP_ID),
        exp.alias_(as_of, c.AS_OF),
        exp.alias_(at, c.AT),
    ]
    if per_day:
        columns.append(exp.alias_(cast(at, "DATE"), c.DAY))
    columns += [exp.alias_(sql(k), c.key_column(i)) for i, k in enumerate(first.once_per, 1)]
    windows = []
    for ind, prefix in inds:
        if per_day:  # the union of the windows of all the days
            start = day_offset(date_sql(min(days)), ind.window.start_offset)
            end = day_offset(date_sql(max(days)), ind.window.end_offset - 1)
        else:
            start, end = day_offset(as_of, ind.window.start_offset), day_offset(as_of, ind.window.end_offset - 1)
        in_window = exp.and_(exp.GTE(this=at.copy(), expression=start), exp.LT(this=at.copy(), expression=end))
        windows.append(in_window)
        columns += _indicator_columns(plan, ind, sql, in_window, prefix, whole_table)
    select = exp.select(*columns).from_(exp.to_table(table_name(first.table)).as_(ROW, quoted=True), copy=False)
    for alias, target, on in ctx.joins.values():
        select = select.join(exp.to_table(table_name(target)).as_(alias, quoted=True), on=on, join_type="left",
                             copy=False)
    if not per_day:
        select = select.join(days_table(days), join_type="cross", copy=False)
    conditions = [] if whole_table else [exp.or_(*(w.copy() for w in windows))]
    if shops is not None:
        conditions.append(exp.In(this=col(ROW, rel.name), expressions=[lit(s) for s in shops]))
    if conditions:
        select = select.where(exp.and_(*conditions), copy=False)
    return select


def _indicator_columns(plan: Plan, ind: ir.Indicator, sql: Compiler, in_window: exp.Expression, prefix: str,
                       whole_table: bool) -> list[exp.Expression]:
    """An indicator's own flags: its window, `where` lines, exclusions and measure."""
    columns = [exp.alias_(coalesce_false(in_window), prefix + c.IN_WINDOW)]
    columns += [exp.alias_(coalesce_false(sql(f)), prefix + c.where_column(i)) for i, f in enumerate(ind.filters, 1)]
    columns += [exp.alias_(coalesce_false(sql(x.condition)), prefix + exclusion_column(x))
                for x in plan.exclusions_of(ind.name)]
    return columns + kind_of(ind.measure).flag_columns(ind.measure, sql, prefix, whole_table)


def _eligible(ind: ir.Indicator, exclusions, prefix: str = "") -> exp.Expression:
    """In the window, every `where` holds, and no exclusion applies."""
    passes = [exp.column(prefix + c.IN_WINDOW)] + \
        [exp.column(prefix + c.where_column(i)) for i in range(1, len(ind.filters) + 1)]
    excluded = [exp.column(prefix + exclusion_column(x)) for x in exclusions]
    return exp.paren(exp.and_(*passes, *(exp.Not(this=x) for x in excluded)))


def _with_verdicts(flags: exp.Select, ind: ir.Indicator, exclusions, per_day: bool = False,
                   dedupe: bool = True) -> exp.Select:
    step = exp.select("*", exp.alias_(_eligible(ind, exclusions), c.ELIGIBLE)).from_(
        flags.subquery("flags", copy=False), copy=False)
    if not ind.once_per:
        return exp.select("*", exp.alias_(exp.column(c.ELIGIBLE), c.KEPT)).from_(step.subquery("judged", copy=False),
                                                                                 copy=False)
    if not dedupe:
        return step
    partition = [exp.column(c.SHOP_ID), exp.column(c.DAY if per_day else c.AS_OF), exp.column(c.ELIGIBLE)] + \
        [exp.column(c.key_column(i)) for i in range(1, len(ind.once_per) + 1)]
    order = exp.Order(expressions=[exp.Ordered(this=exp.column(c.AT)), exp.Ordered(this=exp.column(c.EVENT_ID))])
    first = exp.EQ(this=exp.Window(this=exp.RowNumber(), partition_by=partition, order=order), expression=lit(1))
    kept = exp.and_(exp.column(c.ELIGIBLE), first)
    return exp.select("*", exp.alias_(exp.paren(kept), c.KEPT)).from_(step.subquery("judged", copy=False), copy=False)


def slides(plan: Plan, ind: ir.Indicator, days: list[dt.date]) -> bool:
    """Whether a row's flags are the same for every as-of day, so the days of a range can be
    summed from per-day partial counts instead of judging each row once per day: nothing
    the indicator applies reads `as_of`, and a `once per` key never spans two days (the
    window is one day, or a key is the date of the window's column)."""
    if len(days) < 2:
        return False
    parts = [*ind.filters, *ind.once_per, ind.measure] + [x.condition for x in plan.exclusions_of(ind.name)]
    if any(reads(p, ir.AsOf) for p in parts):
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
    return _aggregate(rb, plan, ind, flags_query(rb, plan, ind, days, shops, dedupe=False), (c.SHOP_ID, c.AS_OF))


def _sliding_aggregate(rb, plan, ind, days, shops) -> exp.Select:
    """Per-day partial counts, each row judged once, summed over each as-of day's window."""
    flags = flags_query(rb, plan, ind, days, shops, per_day=True, dedupe=False)
    partial = _aggregate(rb, plan, ind, flags, (c.SHOP_ID, c.DAY))
    sums = [exp.alias_(exp.func("SUM", exp.column(e.alias_or_name, "p")), e.alias_or_name)
            for e in partial.expressions[2:]]
    as_of = exp.column(c.AS_OF, DAYS)
    lo = exp.DateAdd(this=as_of.copy(), expression=lit(-ind.window.start_offset), unit=exp.var("DAY"))
    hi = exp.DateAdd(this=as_of.copy(), expression=lit(-ind.window.end_offset), unit=exp.var("DAY"))
    on = exp.and_(exp.GTE(this=exp.column(c.DAY, "p"), expression=cast(lo, "DATE")),
                  exp.LTE(this=exp.column(c.DAY, "p"), expression=cast(hi, "DATE")))
    return (exp.select(exp.column(c.SHOP_ID, "p"), exp.alias_(as_of, c.AS_OF), *sums)
            .from_(partial.subquery("p", copy=False), copy=False)
            .join(days_table(days), on=on, join_type="inner", copy=False)
            .group_by(exp.column(c.SHOP_ID, "p"), as_of.copy(), copy=False))


def _aggregate(rb: ir.Rulebook, plan: Plan, ind: ir.Indicator, flags: exp.Select, by: tuple[str, str]) -> exp.Select:
    if ind.once_per:
        flags = _first_of_each_key(plan, ind, flags, by)
    columns = [exp.column(by[0]), exp.column(by[1]), *_counts(plan, ind)]
    return exp.select(*columns).from_(flags.subquery("flagged", copy=False), copy=False).group_by(*by, copy=False)


def _counts(plan: Plan, ind: ir.Indicator, prefix: str = "") -> list[exp.Expression]:
    """`rows`, `hits` or `total`, and the rows each exclusion removed, from the judged rows
    (or, for `once per`, from the first row of each key)."""
    columns = kind_of(ind.measure).counts(ind.measure, exp.column(prefix + c.KEPT), prefix)
    if ind.once_per:  # the rows excluded were counted per row in `_first_of_each_key`
        columns += [exp.alias_(exp.func("SUM", exp.column(prefix + exclusion_column(x))), prefix + exclusion_column(x))
                    for x in plan.exclusions_of(ind.name)]
    else:
        columns += _excluded_counts(plan, ind)
    return columns


def _excluded_counts(plan: Plan, ind: ir.Indicator, prefix: str = "") -> list[exp.Expression]:
    """Per exclusion, the rows of the population it takes out that no earlier one did."""
    in_population = exp.and_(exp.column(prefix + c.IN_WINDOW),
                             *(exp.column(prefix + c.where_column(i)) for i in range(1, len(ind.filters) + 1)))
    columns, earlier = [], []
    for x in plan.exclusions_of(ind.name):
        mine = exp.column(prefix + exclusion_column(x))
        columns.append(exp.alias_(count_if(exp.and_(in_population, mine, *(exp.Not(this=e) for e in earlier))),
                                  prefix + exclusion_column(x)))
        earlier.append(mine)
    return columns


def _first_of_each_key(plan: Plan, ind: ir.Indicator, flags: exp.Select, by: tuple[str, str]) -> exp.Select:
    """`once per`, for counting: one row per shop, day, eligibility and key, carrying the
    numerator or value of the key's first row (by time, then id; NULL values included) and
    the per-row exclusion counts. `kept` is the eligible row of each key, as in the flags of
    `_with_verdicts`, which explain reads."""
    keys = [exp.column(c.key_column(i)) for i in range(1, len(ind.once_per) + 1)]
    first = exp.Tuple(expressions=[exp.column(c.AT), exp.column(c.EVENT_ID)])
    columns = [exp.column(by[0]), exp.column(by[1]), exp.alias_(exp.column(c.ELIGIBLE), c.KEPT)]
    measure = kind_of(ind.measure).flag
    if measure:
        columns.append(exp.alias_(exp.Anonymous(this="arg_min_null", expressions=[exp.column(measure), first]),
                                  measure))
    columns += _excluded_counts(plan, ind)
    return (exp.select(*columns).from_(flags.subquery("unjudged", copy=False), copy=False)
            .group_by(exp.column(by[0]), exp.column(by[1]), exp.column(c.ELIGIBLE), *keys, copy=False))


def fusion_key(rb: ir.Rulebook, plan: Plan, ind: ir.Indicator, days: list[dt.date]) -> tuple | None:
    """Indicators with equal keys are counted by `fused_aggregate_query`, in one scan and one
    grouping: `once per` indicators of one table, windowed on one column, with the same key
    (compared as SQL). The grouping by key is most of a `once per` count's cost."""
    if not ind.once_per or slides(plan, ind, days):
        return None
    ctx = Context(rb, ind.table, ROW, exp.column(c.AS_OF, DAYS), plan.params,
                  shop_rel=shop_relation(rb, ind.table).relation)
    sql = Compiler(ctx)
    return ind.table, ind.window.column, tuple(sql(k).sql(dialect="duckdb") for k in ind.once_per)


def fused_aggregate_query(rb: ir.Rulebook, plan: Plan, inds: list[ir.Indicator], days: list[dt.date],
                          shops: list[str] | None = None) -> exp.Select:
    """The counts of several indicators with one `fusion_key`, as `aggregate_query` gives
    them, with indicator n's columns prefixed `i{n}_`. One row per shop and day with a row
    in any of the windows; `i{n}_seen` says whether it had one in indicator n's (a shop
    without is absent from that indicator's counts, as in `aggregate_query`)."""
    prefixed = [(ind, c.fused_prefix(n)) for n, ind in enumerate(inds)]
    flags = _flags_select(rb, plan, prefixed, days, shops)
    step = exp.select("*", *(exp.alias_(_eligible(ind, plan.exclusions_of(ind.name), p), p + c.ELIGIBLE)
                             for ind, p in prefixed)).from_(flags.subquery("flags", copy=False), copy=False)
    first = exp.Tuple(expressions=[exp.column(c.AT), exp.column(c.EVENT_ID)])
    inner = [exp.column(c.SHOP_ID), exp.column(c.AS_OF)]
    outer = [exp.column(c.SHOP_ID), exp.column(c.AS_OF)]
    for ind, p in prefixed:
        eligible = exp.column(p + c.ELIGIBLE)
        inner += [exp.alias_(exp.func("BOOL_OR", exp.column(p + c.IN_WINDOW)), p + c.SEEN),
                  exp.alias_(exp.func("BOOL_OR", eligible), p + c.KEPT)]
        measure = kind_of(ind.measure).flag
        if measure:  # the first eligible row's: the key's row that counts
            first_value = exp.Anonymous(this="arg_min_null", expressions=[exp.column(p + measure), first.copy()])
            inner.append(exp.alias_(exp.Filter(this=first_value, expression=exp.Where(this=eligible.copy())),
                                    p + measure))
        inner += _excluded_counts(plan, ind, p)
        outer += [exp.alias_(exp.func("BOOL_OR", exp.column(p + c.SEEN)), p + c.SEEN), *_counts(plan, ind, p)]
    keys = [exp.column(c.key_column(i)) for i in range(1, len(inds[0].once_per) + 1)]
    grouped = (exp.select(*inner).from_(step.subquery("unjudged", copy=False), copy=False)
               .group_by(exp.column(c.SHOP_ID), exp.column(c.AS_OF), *keys, copy=False))
    return exp.select(*outer).from_(grouped.subquery("flagged", copy=False), copy=False).group_by(c.SHOP_ID, c.AS_OF,
                                                                                                  copy=False)


def split_fused(inds: list[ir.Indicator], rows: list[dict]) -> dict[str, list[dict]]:
    """The rows of `fused_aggregate_query`, as each indicator's `aggregate_query` rows."""
    out: dict[str, list[dict]] = {}
    for n, ind in enumerate(inds):
        p = c.fused_prefix(n)
        mine = [(k[len(p):], k) for k in (rows[0] if rows else {}) if k.startswith(p) and k != p + c.SEEN]
        out[ind.name] = [{c.SHOP_ID: r[c.SHOP_ID], c.AS_OF: r[c.AS_OF], **{name: r[k] for name, k in mine}}
                         for r in rows if r[p + c.SEEN]]
    return out


def shop_query(rb: ir.Rulebook, plan: Plan, shops: list[str] | None = None) -> exp.Select:
    """The entity rows (all, or those named), with each indicator's `only for` condition."""
    entity = rb.table(rb.entity)
    ctx = Context(rb, entity.name, ROW, date_sql(plan.day), plan.params, shop_rel=None)
    sql = Compiler(ctx)
    columns = [exp.alias_(col(ROW, c.name), c.name) for c in entity.columns]
    for ind in plan.indicators:
        if ind.only_for is not None:
            columns.append(exp.alias_(coalesce_false(sql(ind.only_for)), c.only_for_column(ind.name)))
        if ind.retired_except is not None:
            columns.append(exp.alias_(coalesce_false(sql(ind.retired_except)), c.retired_except_column(ind.name)))
    select = exp.select(*columns).from_(exp.to_table(table_name(entity.name)).as_(ROW, quoted=True), copy=False)
    for alias, target, on in ctx.joins.values():
        select = select.join(exp.to_table(table_name(target)).as_(alias, quoted=True), on=on, join_type="left",
                             copy=False)
    if shops is not None:
        select = select.where(exp.In(this=col(ROW, entity.key.name), expressions=[lit(s) for s in shops]), copy=False)
    return select


def every_version(rb: ir.Rulebook) -> list[dt.date]:
    """One day in each stretch of time with its own set of rules in force: the first day of
    every `effective` range, the day after every end, and a day before them all."""
    days = set()
    for decl in (*rb.params, *rb.indicators, *rb.exclusions, *rb.bands, *rb.dimensions, *rb.scores, *rb.grades,
                 *rb.actions):
        if decl.effective.start is not None:
            days.add(decl.effective.start)
        if decl.effective.end is not None and decl.effective.end < dt.date.max:
            days.add(decl.effective.end + dt.timedelta(days=1))
    first = min(days, default=dt.date(2000, 1, 1))
    return sorted(days | {first - dt.timedelta(days=1)})


def every_query(rb: ir.Rulebook, days: list[dt.date] | None = None):
    """(what, declaration, query) for each query scoring or explaining can send on `days` (by default, on
    a day of every version of the rules): the shops, and per indicator its counts and flags."""
    from lhrule.ir.plan import plan_for

    seen = set()
    for day in days or every_version(rb):
        plan = plan_for(rb, day)
        if plan.signature in seen:
            continue
        seen.add(plan.signature)
        yield "the shops", plan, shop_query(rb, plan)
        for span in ([day], [day, day + dt.timedelta(days=1)]):  # one day, and a range
            fused: dict[tuple, list[ir.Indicator]] = {}
            for ind in plan.indicators:
                yield f"indicator {ind.name}", ind, aggregate_query(rb, plan, ind, span)
                key = fusion_key(rb, plan, ind, span)
                if key is not None:
                    fused.setdefault(key, []).append(ind)
            for inds in (group for group in fused.values() if len(group) > 1):
                names = ", ".join(i.name for i in inds)
                yield f"indicators {names}", inds[0], fused_aggregate_query(rb, plan, inds, span)
        for ind in plan.indicators:
            yield f"indicator {ind.name}", ind, flags_query(rb, plan, ind, [day], ["s"], whole_table=True)
