"""Scoring: run the plan's queries, then turn each shop's aggregates into values, levels,
points, dimension and composite scores, grades and actions.

The per-event work (windows, filters, exclusions, deduplication, counting) runs in SQL;
what is left is a handful of numbers per shop and day, and those are combined here with
exact rational arithmetic (`Fraction`): DuckDB's DECIMAL division gives a DOUBLE, and a
rate of exactly 40% must never read as 39.999…%.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import datetime as dt
from dataclasses import dataclass, field
from typing import Callable
from decimal import Decimal
from fractions import Fraction

from lhrule.engine import ir
from lhrule.engine.dialect import render
from lhrule.engine.evaluate import evaluate, to_fraction
from lhrule.engine.plan import Plan, segments
from lhrule.engine.query import (aggregate_query, exclusion_column, fused_aggregate_query, fusion_key, shop_query,
                                 slides, split_fused)
from lhrule.engine.sql import MICROS

# An action with `until` stays in force from the day its `when` held; to know whether it is
# in force on the first day scored, the days before it are scored too, this many at most.
ACTION_HISTORY_DAYS = 30
# Days counted in one query for an indicator judged once per row and day (see `_aggregates`).
DAYS_PER_QUERY = 1


@dataclass(slots=True)
class IndicatorResult:
    version: ir.Indicator
    rows: int = 0  # kept rows: the denominator of a rate, the count of an average
    hits: int | None = None  # rows meeting a rate's condition
    total: Fraction | None = None  # the sum of an average or a total (seconds for durations)
    excluded: dict[str, int] = field(default_factory=dict)
    value: Fraction | None = None
    assessed: bool = False
    reason: str | None = None
    level: ir.Level | None = None
    points: Fraction | None = None
    rank: int | None = None
    group: str | None = None
    group_size: int | None = None

    @property
    def numerator(self):
        return self.hits if self.version.measure.kind == "rate" else self.total if self.version.measure.kind in (
            "average", "total") else self.rows


@dataclass(slots=True)
class PartResult:
    """A dimension or a composite score: a weighted mean of its parts."""

    name: str
    decl: ir.Dimension | ir.Score
    value: Fraction | None = None
    weights: dict[str, Fraction] = field(default_factory=dict)  # in force for this shop; shared, never changed
    override: ir.Override | None = None
    used: dict[str, Fraction] = field(default_factory=dict)  # part -> the value that counted
    missing: list[str] = field(default_factory=list)  # parts not assessed


@dataclass
class ShopResult:
    shop_id: str
    as_of: dt.date
    shop: dict
    plan: Plan
    indicators: dict[str, IndicatorResult] = field(default_factory=dict)
    dimensions: dict[str, PartResult] = field(default_factory=dict)
    scores: dict[str, PartResult] = field(default_factory=dict)
    grades: dict[str, ir.Level | None] = field(default_factory=dict)
    actions: dict[str, bool] = field(default_factory=dict)
    action_since: dict[str, dt.date] = field(default_factory=dict)

    @property
    def main_score(self) -> PartResult | None:
        """The first score declared, the one `score` reports."""
        return next(iter(self.scores.values()), None)

    @property
    def main_grade(self) -> str | None:
        """The label of the first grade declared, the one `grade` reports."""
        level = next(iter(self.grades.values()), None)
        return level.label if level else None


@contextlib.contextmanager
def gc_held():
    """Python's cyclic garbage collector held off, as a `with` block or a decorator. Scoring
    makes hundreds of thousands of small objects, freed by reference counting as they go;
    with the collector on, each of its passes walks every live one again (at 10M events,
    0.3 s of the per-shop step and 0.3 s of writing the JSON)."""
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
    _actions(rb, all_days, by_day, {} if carried is None else carried)
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
            aggregates[ind.name] = {**saved["counts"], **{(r["shop_id"], r["as_of"]): r for r in rows}}
            continue
        shops = None if ind.name in ranked else only
        same = fusion_key(rb, plan, ind, days)
        if same is not None:
            fusable.setdefault((same, tuple(shops) if shops is not None else None), []).append(ind)
            continue
        rows = _aggregates(con, rb, plan, ind, days, shops, cache)
        aggregates[ind.name] = {(r["shop_id"], r["as_of"]): r for r in rows}
    for (_, shops), inds in fusable.items():
        for name, rows in _fused_aggregates(con, rb, plan, inds, days, shops, cache).items():
            aggregates[name] = {(r["shop_id"], r["as_of"]): r for r in rows}
    results = []
    for day in days:
        day_results = [ShopResult(r[key], day, r, plan) for r in shop_rows]
        for ind in plan.indicators:
            for res in day_results:
                res.indicators[ind.name] = _indicator(ind, aggregates[ind.name].get((res.shop_id, day)), res, plan)
            peers = day_results
            if ind.name in ranked:
                peers = [r for r in (ShopResult(row[key], day, row, plan) for row in all_shops)
                         if r.shop_id not in wanted] + day_results
                for res in peers[: len(peers) - len(day_results)]:
                    res.indicators[ind.name] = _indicator(ind, aggregates[ind.name].get((res.shop_id, day)), res,
                                                          plan)
            _levels(ind, plan, day_results, peers)
        for res in day_results:
            _combine(res, plan)
        results.extend(day_results)
    return results


def _combine(res: ShopResult, plan: Plan) -> None:
    """Dimensions, scores and grades of one shop, from its indicators' points."""
    for dim in plan.dimensions:
        members = plan.members_of(dim.name)
        res.dimensions[dim.name] = _weighted(dim, members, res, {n: res.indicators[n].points for n in members
                                                                 if res.indicators[n].assessed})
    for sc in plan.scores:
        parts = {d: r.value for d, r in res.dimensions.items()}
        parts.update({n: i.points for n, i in res.indicators.items() if i.assessed})
        names = tuple(w.name for w in sc.weights)
        res.scores[sc.name] = _weighted(sc, names, res, {n: v for n, v in parts.items() if v is not None})
    for gr in plan.grades:
        value = res.scores[gr.score].value if gr.score in res.scores else None
        res.grades[gr.name] = None if value is None else _pick(gr.levels, value, res)


def peer_aggregates(rb: ir.Rulebook, rows: list[dict]) -> dict:
    """Counts saved by `score --format parquet` (columns NAME.numerator, NAME.denominator),
    turned back into the aggregates `_indicator` reads, for every indicator with rank bands."""
    out: dict = {}
    ranked = {b.indicator for b in rb.bands if b.rank_within}
    for ind in rb.indicators:
        if ind.name not in ranked or f"{ind.name}.denominator" not in (rows[0] if rows else {}):
            continue
        scale = MICROS if ind.measure.expr is not None and ind.measure.expr.type.name == "duration" else 1
        counts, days = {}, set()
        for row in rows:
            num, den = row[f"{ind.name}.numerator"], row[f"{ind.name}.denominator"]
            if den is None:
                continue
            agg = {"rows": den}
            if ind.measure.kind == "rate":
                agg["hits"] = int(num)
            elif ind.measure.kind in ("average", "total") and num is not None:
                agg["total"] = Decimal(num) * scale
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
        return _fetch(con, aggregate_query(rb, plan, ind, days, shops), cache)
    rows: list[dict] = []
    for i in range(0, len(days), DAYS_PER_QUERY):
        rows += _fetch(con, aggregate_query(rb, plan, ind, days[i:i + DAYS_PER_QUERY], shops), cache)
    return rows


def _fused_aggregates(con, rb: ir.Rulebook, plan: Plan, inds: list[ir.Indicator], days: list[dt.date],
                      shops, cache) -> dict[str, list[dict]]:
    """The counts of `once per` indicators with one key, by indicator; one query for them
    all (`fused_aggregate_query`), DAYS_PER_QUERY days at a time as in `_aggregates`."""
    if len(inds) == 1:
        return {inds[0].name: _aggregates(con, rb, plan, inds[0], days, shops, cache)}
    out: dict[str, list[dict]] = {ind.name: [] for ind in inds}
    for i in range(0, len(days), DAYS_PER_QUERY):
        rows = _fetch(con, fused_aggregate_query(rb, plan, inds, days[i:i + DAYS_PER_QUERY], shops), cache)
        for name, mine in split_fused(inds, rows).items():
            out[name] += mine
    return out


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


@dataclass(frozen=True, slots=True)
class _Spec:
    """What `_indicator` reads of an indicator version, alike for every shop of a plan."""
    kind: str
    duration: bool
    excluded: tuple[tuple[str, str], ...]  # (exclusion, its count's column)
    only_for: str | None  # the shop row's column telling whether `only for` holds
    kept: str | None  # a retired indicator's `except` column
    fixed_reason: str | None  # why a retired (and not kept) or display-only indicator is not assessed


def _spec(ind: ir.Indicator, plan: Plan) -> _Spec:
    def make() -> _Spec:
        reason = None
        if ind.status == "retired":
            reason = f"retired from {ind.effective.start}"
        elif ind.status == "display_only":
            reason = f"display only (from {ind.effective.start})" if ind.effective.start else "display only"
        kept = f"retired_except_{ind.name}" if ind.status == "retired" and ind.retired_except is not None else None
        return _Spec(ind.measure.kind, ind.measure.expr is not None and ind.measure.expr.type.name == "duration",
                     tuple((x.name, exclusion_column(x)) for x in plan.exclusions_of(ind.name)),
                     f"only_for_{ind.name}" if ind.only_for is not None else None, kept, reason)

    return _memo(("spec", id(ind), id(plan)), (ind, plan), make)


def _indicator(ind: ir.Indicator, agg: dict | None, res: ShopResult, plan: Plan) -> IndicatorResult:
    spec = _spec(ind, plan)
    kind = spec.kind
    r = IndicatorResult(ind)
    if agg is not None:
        rows = r.rows = int(agg["rows"] or 0)
        if "hits" in agg:
            r.hits = int(agg["hits"] or 0)
        total = agg.get("total")
        if total is not None:  # a DECIMAL: whole microseconds for a duration
            r.total = Fraction(int(total), MICROS) if spec.duration else Fraction(total)
        if spec.excluded:
            r.excluded = {name: int(agg.get(column) or 0) for name, column in spec.excluded}
    else:
        rows = 0
        if kind == "rate":
            r.hits = 0
    if kind == "rate":
        value = Fraction(r.hits, rows) if rows else None
    elif kind == "average":
        total = r.total
        value = Fraction(total.numerator, total.denominator * rows) if rows and total is not None else None
    elif kind == "total":
        value = r.total if r.total is not None else Fraction(0)
    else:
        value = Fraction(rows)
    if value is not None and ind.round is not None:
        value = round_half_up(value, ind.round)
    r.value = value
    shop = res.shop
    if ind.status == "retired" and not (spec.kept is not None and shop.get(spec.kept)):
        r.reason = spec.fixed_reason
    elif spec.only_for is not None and not shop.get(spec.only_for):
        r.reason = "`only for` does not hold for this shop"
    elif ind.status == "display_only":
        r.reason = spec.fixed_reason
    elif value is None:
        r.reason = "no events in the window"
    elif ind.min_sample is not None and rows < (minimum := _bound(ind.min_sample, res)):
        r.reason = f"{rows} in the window, fewer than the minimum sample of {minimum}"
    else:
        r.assessed = True
    return r


def _levels(ind: ir.Indicator, plan: Plan, day_results: list[ShopResult], peers: list[ShopResult]) -> None:
    """Levels and points of the shops scored; ranks among `peers`, every shop of the day."""
    bands = plan.bands.get(ind.name)
    if bands is None:
        return
    if bands.rank_within:
        groups: dict[str, list[IndicatorResult]] = {}
        for res in peers:
            r = res.indicators[ind.name]
            r.group = str(res.shop.get(bands.rank_within))
            if r.assessed:
                groups.setdefault(r.group, []).append(r)
        for members in groups.values():
            _rank(members, ind.direction == "higher")
    for res in day_results:
        r = res.indicators[ind.name]
        shown = r.assessed or (ind.status == "display_only" and r.reason and r.reason.startswith("display only"))
        if r.value is None or not shown or (bands.rank_within and r.rank is None):
            continue  # a level is given where the indicator is assessed, or shown to the merchant
        r.level = _pick(bands.levels, r.value, res, r.rank, r.group_size)
        if r.level is not None and r.level.points is not None:
            r.points = _bound(r.level.points, res)


def _rank(members: list[IndicatorResult], higher: bool) -> None:
    """Rank 1 is the best; shops with equal values share a rank (the number of shops
    strictly better, plus one). Sorted by (float, value): rounding to float is monotonic,
    so floats that differ order their values exactly, and equal floats fall back to the
    exact comparison; most comparisons are then between floats, not Fractions."""
    ordered = sorted(members, key=lambda m: (float(m.value), m.value))
    size, start = len(ordered), 0
    while start < size:
        end = start + 1
        while end < size and ordered[end].value == ordered[start].value:
            end += 1
        better = size - end if higher else start
        for m in ordered[start:end]:
            m.rank, m.group_size = better + 1, size
        start = end


def _compare(a: Fraction, b: Fraction) -> int:
    """The sign of a − b, in integers (Fraction's own operators check types on every call)."""
    diff = a.numerator * b.denominator - b.numerator * a.denominator
    return (diff > 0) - (diff < 0)


_HOLDS = {">=": lambda c: c >= 0, ">": lambda c: c > 0, "<=": lambda c: c <= 0, "<": lambda c: c < 0}


def _pick(levels, value: Fraction, res: ShopResult, rank=None, size=None):
    for level, holds, fixed in _cuts(levels, res.plan):
        if level.cut == "otherwise":
            return level
        bound = fixed if fixed is not None else _bound(level.threshold, res)
        if level.cut == "top":
            # the shops ahead of it are fewer than the top share: rank − 1 < bound × size
            if (rank - 1) * bound.denominator < bound.numerator * size:
                return level
        elif holds(_compare(value, bound)):
            return level
    return None


def _cuts(levels, plan: Plan) -> tuple:
    """Each level with its test of the sign of value − cut-off (None for `top` and `otherwise`)
    and its cut-off when that is the same for every shop (None when it depends on the shop)."""
    def make() -> tuple:
        return tuple((level, _HOLDS.get(level.op), None if level.cut == "otherwise" else _fixed(level.threshold, plan))
                     for level in levels)

    return _memo(("cuts", id(levels), id(plan)), (levels, plan), make)


def _fixed(e: ir.Expr, plan: Plan) -> Fraction | None:
    """An expression's value when it is the same for every shop of the plan, else None."""
    if isinstance(e, ir.Literal_):
        return _literal_fraction(e)
    if isinstance(e, ir.ParamRef) and not plan.params[e.name].overrides:
        return _literal_fraction(plan.params[e.name].value)
    return None


def _bound(e: ir.Expr, res: ShopResult) -> Fraction:
    """A cut-off's (or points') value; the same for every shop unless it is a param with
    per-group values, or reads the shop."""
    fixed = _fixed(e, res.plan)
    return fixed if fixed is not None else to_fraction(evaluate(e, res))


# Memos by identity: hashing a frozen pydantic node walks all of it, which costs more than
# the conversion it would save. Each entry keeps its nodes alive, so an id is never reused.
_MEMO: dict[object, tuple[object, object]] = {}


def _memo(key, keep, make):
    """make(), once per key made of ids; `keep` holds the objects they name alive, so no other
    object can take their ids while the entry stands."""
    found = _MEMO.get(key)
    if found is None:
        if len(_MEMO) > 100_000:
            _MEMO.clear()
        found = _MEMO[key] = (keep, make())
    return found[1]


def _fractions(weights: tuple[ir.Weight, ...]) -> tuple[tuple[str, Fraction], ...]:
    return _memo(id(weights), weights, lambda: tuple((w.name, Fraction(w.weight)) for w in weights))


@functools.cache
def _share(n: int) -> Fraction:
    """1/n, the weight of each of n parts weighted alike."""
    return Fraction(1, n)


def _literal_fraction(e: ir.Literal_) -> Fraction:
    return _memo(id(e), e, lambda: Fraction(e.value))


def _weights_in_force(decl, weights, members: tuple[str, ...], res: ShopResult) -> dict[str, Fraction]:
    """The weights of the parts in force (the same for every shop of a plan and override):
    the declared ones, or equal shares of the members when none are declared."""
    def choose() -> dict[str, Fraction]:
        if not weights:
            return {m: _share(len(members)) for m in members}
        in_force = set(members) | set(res.indicators) | set(res.dimensions)
        return {name: w for name, w in _fractions(weights) if name in in_force}

    key = (id(res.plan), id(decl), id(weights), members, len(res.dimensions))
    return _memo(key, (res.plan, decl, weights), choose)


def _weighted(decl, members: tuple[str, ...], res: ShopResult, values: dict[str, Fraction]) -> PartResult:
    out = PartResult(decl.name, decl)
    weights = decl.weights
    for ov in decl.overrides:
        if str(res.shop.get(ov.column)) in ov.values:
            weights, out.override = ov.weights, ov
            break
    out.weights = _weights_in_force(decl, weights, members, res)
    # Σ v·w / Σ w, as integer numerators over integer denominators, reduced once at the end
    # (Fraction arithmetic reduces, and checks types, at every step).
    num, num_d, den, den_d = 0, 1, 0, 1
    for name, w in out.weights.items():
        v = values.get(name)
        if v is None:
            out.missing.append(name)
            if decl.unassessed == "score" and w:
                v = to_fraction(evaluate(decl.unassessed_score, res))
            else:
                continue
        out.used[name] = v
        wn, wd = w.numerator, w.denominator
        pn, pd = v.numerator * wn, v.denominator * wd
        num, num_d = (num + pn, num_d) if pd == num_d else (num * pd + pn * num_d, num_d * pd)
        den, den_d = (den + wn, den_d) if wd == den_d else (den * wd + wn * den_d, den_d * wd)
    if den:
        out.value = Fraction(num * den_d, num_d * den)
        if isinstance(decl, ir.Score) and decl.round is not None:
            out.value = round_half_up(out.value, decl.round)
    return out


def _actions(rb: ir.Rulebook, days: list[dt.date], by_day: dict[dt.date, list[ShopResult]],
             state: dict[tuple[str, str], dt.date | None]) -> None:
    """Which actions are in force on each day, from `state` (those in force before the first
    day, updated as the days go)."""
    for day in days:
        for res in by_day.get(day, []):
            for action in res.plan.actions:
                key = (res.shop_id, action.name)
                since = state.get(key)
                fired = bool(evaluate(action.when, res))
                if action.until is None:
                    since = day if fired else None
                elif fired:
                    since = since or day
                elif since is not None and bool(evaluate(action.until, res)):
                    since = None
                state[key] = since
                res.actions[action.name] = since is not None
                if since is not None:
                    res.action_since[action.name] = since


def _half_up_units(n: int, d: int, digits: int) -> int:
    """n/d × 10^digits rounded half away from zero, as an integer."""
    units = (abs(n) * 10 ** digits * 2 + d) // (2 * d)
    return -units if n < 0 else units


def round_half_up(value: Fraction, digits: int) -> Fraction:
    return Fraction(_half_up_units(value.numerator, value.denominator, digits), 10 ** digits)


def decimal_text(value: Fraction | None, digits: int = 4) -> str | None:
    """A Fraction as an exact decimal string when it has one within `digits` places, else
    rounded half-up to `digits` places; trailing zeros dropped. Integer arithmetic only."""
    if value is None:
        return None
    n, d = value.numerator, value.denominator
    if d == 1:
        return str(n)
    return _decimal_text(n, d, digits)


@functools.lru_cache(maxsize=100_000)  # weights, points and shares recur in every shop
def _decimal_text(n: int, d: int, digits: int) -> str:
    units = _half_up_units(n, d, digits)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10 ** digits)
    return sign + (f"{whole}.{frac:0{digits}d}".rstrip("0").rstrip(".") if digits else str(whole))
