"""Scoring: run the plan's queries, then the per-shop step (`combine`) on their rows.

The per-event work (windows, filters, exclusions, deduplication, counting) runs in SQL;
what is left is a handful of numbers per shop and day, which `combine` turns into values,
levels, points, dimension and composite scores, grades and actions (`results`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import datetime as dt
from typing import Callable

from lhrule.ir import model as ir
from lhrule.engine import columns as c
from lhrule.engine.kinds import is_duration, kind_of
from lhrule.engine.run.combine import actions_in_force, combine, indicator_result, levels_and_points
from lhrule.engine.sql.dialects import render
from lhrule.ir.plan import Plan, plan_for, segments
from lhrule.engine.sql.queries import aggregate_query, fused_aggregate_query, fusion_key, shop_query, slides, split_fused
from lhrule.engine.run.results import ShopResult
from lhrule.ir.evaluate import MICROS

# An action with `until` stays in force from the day its `when` held; to know whether it is
# in force on the first day scored, the days before it are scored too, this many at most.
ACTION_HISTORY_DAYS = 30
# Days counted in one query for an indicator judged once per row and day (see `_aggregates`).
DAYS_PER_QUERY = 1


@contextlib.contextmanager
def gc_held():
    """Python's cyclic garbage collector held off, as a `with` block or a decorator. Scoring
    makes hundreds of thousands of small objects, freed by reference counting as they go;
    with the collector on, each of its passes walks every live one again (benchmarks/RESULTS.md,
    "Figures behind the code")."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@gc_held()
def score(con, rb: ir.Rulebook, days: list[dt.date], shops: list[str] | None = None,
          peers: dict | None = None, plan_of: Callable[[dt.date], Plan] | None = None,
          cache: dict | None = None, carried: dict | None = None) -> list[ShopResult]:
    """Every shop (or the shops named) on every day, in one pass per indicator version.

    `peers` (see `peer_aggregates`) holds the saved counts of every shop for the indicators
    ranked within a group, so scoring a few shops need not count all the others again.
    `plan_of` gives the rules to apply on a day (by default those in force on it); `cache`,
    shared between runs on one connection, keeps each query's rows by its SQL text, so rules
    two runs have in common are counted once (`lhrule diff`). `carried`, for a range scored a
    few days at a time in order, is one dict for all the calls: it keeps which actions are in
    force from one call to the next ((shop, action) → since), so the days before a call are
    not scored again; empty, they are, as without it."""
    wanted = sorted(set(days))
    history = []
    actions = rb.actions if plan_of is None else plan_of(wanted[0]).actions
    if not carried and any(a.until is not None for a in actions):
        first = wanted[0]
        history = [first - dt.timedelta(days=i) for i in range(ACTION_HISTORY_DAYS, 0, -1)]
    all_days = history + wanted
    by_day: dict[dt.date, list[ShopResult]] = {}
    # The days before the range only tell whether an action was in force: when its
    # conditions read indicators alone, only those indicators are computed for them.
    needed = _action_inputs(actions)
    for part, only_indicators in ((history, needed), (wanted, None)):
        for plan, seg_days in segments(rb, part, plan_of) if part else []:
            for result in _score_segment(con, rb, plan, seg_days, shops, only_indicators, peers, cache):
                by_day.setdefault(result.as_of, []).append(result)
    actions_in_force(rb, all_days, by_day, {} if carried is None else carried)
    keep = set(wanted)
    out = [r for d in all_days if d in keep for r in by_day.get(d, [])]
    return sorted(out, key=lambda r: (r.as_of, r.shop_id))


def _action_inputs(actions: tuple[ir.Action, ...]) -> set[str] | None:
    """The indicators the actions' conditions read, or None when they read more than that."""
    refs = [n for action in actions if action.until is not None  # an action without `until` needs no history
            for condition in (action.when, action.until) for n in ir.walk(condition) if isinstance(n, ir.ResultRef)]
    if any(r.of != "indicator" for r in refs):
        return None
    return {r.name for r in refs}


def _score_segment(con, rb: ir.Rulebook, plan: Plan, days: list[dt.date], only: list[str] | None,
                   only_indicators: set[str] | None = None, peers: dict | None = None,
                   cache: dict | None = None) -> list[ShopResult]:
    if only_indicators is not None:
        plan = dataclasses.replace(plan, indicators=tuple(i for i in plan.indicators if i.name in only_indicators),
                                   dimensions=(), scores=(), grades=())
    key = rb.table(rb.entity).key.name
    wanted = None if only is None else set(only)
    # A rank is among every shop of the group: a ranked indicator is computed for all shops,
    # the others only for the shops asked for.
    ranked = {n for n, b in plan.bands.items() if b.rank_within and any(i.name == n for i in plan.indicators)} \
        if wanted is not None else set()
    all_shops = _fetch(con, shop_query(rb, plan, None if ranked else only), cache)
    shop_rows = all_shops if wanted is None else [r for r in all_shops if r[key] in wanted]
    aggregates: dict[str, dict[tuple[str, dt.date], dict]] = {}
    fusable: dict[tuple, list[ir.Indicator]] = {}
    for ind in plan.indicators:
        saved = (peers or {}).get(ind.name)
        if ind.name in ranked and saved is not None and all(d in saved["days"] for d in days):
            rows = _aggregates(con, rb, plan, ind, days, only, cache)
            aggregates[ind.name] = {**saved["counts"], **{(r[c.SHOP_ID], r[c.AS_OF]): r for r in rows}}
            continue
        shops = None if ind.name in ranked else only
        same = fusion_key(rb, plan, ind, days)
        if same is not None:
            fusable.setdefault((same, tuple(shops) if shops is not None else None), []).append(ind)
            continue
        rows = _aggregates(con, rb, plan, ind, days, shops, cache)
        aggregates[ind.name] = {(r[c.SHOP_ID], r[c.AS_OF]): r for r in rows}
    for (_, shops), inds in fusable.items():
        for name, rows in _fused_aggregates(con, rb, plan, inds, days, shops, cache).items():
            aggregates[name] = {(r[c.SHOP_ID], r[c.AS_OF]): r for r in rows}
    results = []
    for day in days:
        day_results = [ShopResult(r[key], day, r, plan) for r in shop_rows]
        for ind in plan.indicators:
            for res in day_results:
                res.indicators[ind.name] = indicator_result(ind, aggregates[ind.name].get((res.shop_id, day)), res, plan)
            peers = day_results
            if ind.name in ranked:
                peers = [r for r in (ShopResult(row[key], day, row, plan) for row in all_shops)
                         if r.shop_id not in wanted] + day_results
                for res in peers[: len(peers) - len(day_results)]:
                    res.indicators[ind.name] = indicator_result(ind, aggregates[ind.name].get((res.shop_id, day)), res,
                                                          plan)
            levels_and_points(ind, plan, day_results, peers)
        for res in day_results:
            combine(res, plan)
        results.extend(day_results)
    return results


def missing_shops(con, rb: ir.Rulebook, day: dt.date, shops: list[str]) -> list[str]:
    """The shops named that the dataset's entity table does not hold, in the order named."""
    key = rb.table(rb.entity).key.name
    held = {str(r[key]) for r in _fetch(con, shop_query(rb, plan_for(rb, day), shops))}
    return [s for s in dict.fromkeys(shops) if s not in held]


def peer_aggregates(rb: ir.Rulebook, rows: list[dict]) -> dict:
    """Counts saved by `score --format parquet` (columns NAME.numerator, NAME.denominator),
    turned back into the aggregates `indicator_result` reads, for every indicator with rank bands."""
    out: dict = {}
    ranked = {b.indicator for b in rb.bands if b.rank_within}
    for ind in rb.indicators:
        if ind.name not in ranked or c.saved_column(ind.name, "denominator") not in (rows[0] if rows else {}):
            continue
        kind, scale = kind_of(ind.measure), MICROS if is_duration(ind.measure) else 1
        counts, days = {}, set()
        for row in rows:
            num, den = row[c.saved_column(ind.name, "numerator")], row[c.saved_column(ind.name, "denominator")]
            if den is None:
                continue
            agg = {c.ROWS: den, **kind.saved_counts(num, scale)}
            counts[(row["shop_id"], row["as_of"])] = agg
            days.add(row["as_of"])
        out.setdefault(ind.name, {"counts": {}, "days": set()})
        out[ind.name]["counts"].update(counts)
        out[ind.name]["days"] |= days
    return out


def _aggregates(con, rb: ir.Rulebook, plan: Plan, ind: ir.Indicator, days: list[dt.date], shops, cache) -> list[dict]:
    """The counts of an indicator on each day. An indicator whose rows must be judged once
    per day (it reads `as_of`; see `slides`) is counted DAYS_PER_QUERY days at a time: its
    query holds every row once per day, and a month of a large dataset would not fit."""
    if len(days) <= DAYS_PER_QUERY or slides(plan, ind, days):
        return _counted(con, aggregate_query(rb, plan, ind, days, shops), cache, [ind])
    rows: list[dict] = []
    for i in range(0, len(days), DAYS_PER_QUERY):
        rows += _counted(con, aggregate_query(rb, plan, ind, days[i:i + DAYS_PER_QUERY], shops), cache, [ind])
    return rows


def _fused_aggregates(con, rb: ir.Rulebook, plan: Plan, inds: list[ir.Indicator], days: list[dt.date],
                      shops, cache) -> dict[str, list[dict]]:
    """The counts of `once per` indicators with one key, by indicator; one query for them
    all (`fused_aggregate_query`), DAYS_PER_QUERY days at a time as in `_aggregates`."""
    if len(inds) == 1:
        return {inds[0].name: _aggregates(con, rb, plan, inds[0], days, shops, cache)}
    out: dict[str, list[dict]] = {ind.name: [] for ind in inds}
    for i in range(0, len(days), DAYS_PER_QUERY):
        rows = _counted(con, fused_aggregate_query(rb, plan, inds, days[i:i + DAYS_PER_QUERY], shops), cache, inds)
        for name, mine in split_fused(inds, rows).items():
            out[name] += mine
    return out


def _counted(con, query, cache: dict | None, inds: list[ir.Indicator]) -> list[dict]:
    """The rows of the indicators' counting query; a number overflowing in it is said as such,
    naming them (it was "the dataset could not be read")."""
    try:
        return _fetch(con, query, cache)
    except Exception as exc:
        if overflowed(str(exc)):
            raise overflow_error(str(exc), inds) from None
        raise


def _fetch(con, query, cache: dict | None = None) -> list[dict]:
    text = render(query, getattr(con, "dialect", "duckdb"))
    if cache is not None and text in cache:
        return cache[text]
    cur = con.execute(text)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row)) for row in cur.fetchall()]
    if cache is not None:
        cache[text] = rows
    return rows


def overflowed(message: str) -> bool:
    """Whether DuckDB's or Spark's error is a number out of its type's range."""
    return any(m in message for m in ("Out of Range Error", "Overflow in", "ARITHMETIC_OVERFLOW",
                                      "NUMERIC_VALUE_OUT_OF_RANGE", "CAST_OVERFLOW"))


def overflow_error(message: str, inds: list[ir.Indicator]):
    """An overflow said as such, naming the indicators computed and their tables."""
    from lhrule.engine.data.dataset import DatasetError

    first = message.strip().splitlines()[0] if message.strip() else "overflow"
    names = ", ".join(f"{i.name} (over {i.table})" for i in inds)
    return DatasetError(f"indicator {names}: a number overflowed ({first.split(' SQLSTATE')[0]}). lhrule's numbers "
                        f"hold 32 digits before the point and 6 after: look in those tables for values far too "
                        f"large for their columns, or compute the indicator in smaller units")
