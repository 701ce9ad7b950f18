"""The per-shop step of scoring: a shop's counts (the rows of the plan's queries) turned into
values, levels and points, weighted into dimensions and composite scores, graded, and the
actions in force decided, with exact rational arithmetic (`Fraction`): DuckDB's DECIMAL
division gives a DOUBLE, and a rate of exactly 40% must never read as 39.999…%."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from fractions import Fraction

from lhrule.ir import model as ir
from lhrule.ir.evaluate import evaluate, to_fraction
from lhrule.ir.plan import Plan
from lhrule.engine import columns as c
from lhrule.engine.kinds import Kind, is_duration, kind_of
from lhrule.engine.run.results import IndicatorResult, PartResult, ShopResult, round_half_up
from lhrule.ir.evaluate import MICROS


@dataclass(frozen=True, slots=True)
class _Spec:
    """What `indicator_result` reads of an indicator version, alike for every shop of a plan."""
    kind: Kind
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
        kept = c.retired_except_column(ind.name) if ind.status == "retired" and ind.retired_except is not None else None
        return _Spec(kind_of(ind.measure), is_duration(ind.measure),
                     tuple((x.name, c.exclusion_column(x.name)) for x in plan.exclusions_of(ind.name)),
                     c.only_for_column(ind.name) if ind.only_for is not None else None, kept, reason)

    return _memo(("spec", id(ind), id(plan)), (ind, plan), make)


def indicator_result(ind: ir.Indicator, agg: dict | None, res: ShopResult, plan: Plan) -> IndicatorResult:
    spec = _spec(ind, plan)
    kind = spec.kind
    r = IndicatorResult(ind)
    if agg is not None:
        rows = r.rows = int(agg[c.ROWS] or 0)
        if c.HITS in agg:
            r.hits = int(agg[c.HITS] or 0)
        total = agg.get(c.TOTAL)
        if total is not None:  # a DECIMAL: whole microseconds for a duration
            r.total = Fraction(int(total), MICROS) if spec.duration else Fraction(total)
        if spec.excluded:
            r.excluded = {name: int(agg.get(column) or 0) for name, column in spec.excluded}
    else:
        rows = 0
        if c.HITS in kind.counted:
            r.hits = 0
    value = kind.value(rows, r.hits, r.total)
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


def levels_and_points(ind: ir.Indicator, plan: Plan, day_results: list[ShopResult], peers: list[ShopResult]) -> None:
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


def combine(res: ShopResult, plan: Plan) -> None:
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


def actions_in_force(rb: ir.Rulebook, days: list[dt.date], by_day: dict[dt.date, list[ShopResult]],
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
