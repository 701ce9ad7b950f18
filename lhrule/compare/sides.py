"""Scoring two versions of the rules on the same data and day, and attributing each shop's
move to the rule changes one at a time.

A side is a rulebook and, optionally, the day whose rules it applies (`--rules-as-of`):
the rules in force on 2022-12-31 can be scored on the data of 2024-06-30. Both sides run
on one connection with one query cache, so a query the two versions share (an indicator
neither changed) is counted once; a diff costs a score plus the changed indicators.

Attribution swaps one part of the rules in force (a param, an indicator, the bands of an
indicator, an exclusion, a dimension, a score, a grade or an action) from the new version
into the old, scores that, and reads the shop's move from the old score. Where changes
interact, their effects do not add up to the whole move; the rest is reported as the
interaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

import duckdb

from lhrule.ir import model as ir
from lhrule.ir.plan import Plan, plan_for
from lhrule.engine.run.results import ShopResult
from lhrule.engine.run.score import score
from lhrule.engine.sql.expressions import UnsupportedInSQL

# What a hybrid of the two rulebooks (one change applied alone to the old rules) may meet that the
# two rulebooks themselves do not: a query the engine refuses, or a rule with no SQL form there.
# Anything else (a KeyError, a TypeError) is a fault of lhrule's, and is raised, not hidden.
HYBRID_FAILURES = (UnsupportedInSQL, duckdb.Error)

# The parts of a plan, and how each part is named in it.
PARTS = ("params", "indicators", "exclusions", "bands", "dimensions", "scores", "grades", "actions")
# What the rulebook holds besides its plan that changes scores: one part, `settings`.
SETTINGS = ("timezone", "entity", "tables")
# Fields that say where a rule comes from, not what it does.
PROVENANCE = {"span", "effective", "cites", "assumptions", "label"}


@dataclass(frozen=True)
class Side:
    rulebook: ir.Rulebook
    rules_day: dt.date | None = None  # apply the rules in force on this day; None: on the day scored

    def plan(self, day: dt.date) -> Plan:
        plan = plan_for(self.rulebook, self.rules_day or day)
        return plan if self.rules_day is None else dataclasses.replace(plan, day=day)


def _parts(plan: Plan, part: str) -> dict[str, ir.Decl]:
    value = getattr(plan, part)
    if isinstance(value, dict):
        return dict(value)
    return {d.name: d for d in value}


def behaviour(decl: ir.Decl) -> dict:
    """A declaration as data, without where it comes from: equal when it acts the same."""
    return plain(decl.model_dump(mode="json"), PROVENANCE)


def plain(value, drop: set[str] = frozenset({"span"})):
    """Dumped IR without the keys in `drop` at the top and without spans below it."""
    if isinstance(value, dict):
        return {k: plain(v, {"span"}) for k, v in value.items() if k not in drop}
    if isinstance(value, (list, tuple)):
        return [plain(v, {"span"}) for v in value]
    return value


@dataclass(frozen=True)
class Part:
    """A part of the rules in force that the two versions differ in."""

    part: str  # one of PARTS
    name: str  # the declaration's name (for bands: the indicator's)
    old: ir.Decl | None
    new: ir.Decl | None

    @property
    def title(self) -> str:
        if self.part == "settings":
            return f"rulebook {self.name}"
        kind = self.part[:-1] if self.part != "bands" else "bands of"
        return f"{kind} {self.name}"


def settings_part(old: ir.Rulebook, new: ir.Rulebook) -> Part | None:
    """The rulebook's settings (time zone, entity, tables) as one part, when they differ: they
    hold on every day, outside the plan."""
    def setting(rb: ir.Rulebook, name: str):
        value = getattr(rb, name)
        return [plain(t.model_dump(mode="json"), PROVENANCE) for t in value] if name == "tables" else value

    fields = [f for f in SETTINGS if setting(old, f) != setting(new, f)]
    return Part("settings", ", ".join(fields), None, None) if fields else None


@dataclass(frozen=True)
class Change:
    """A unit of attribution: one part, or an indicator added or removed with its bands
    (neither acts without the other)."""

    parts: tuple[Part, ...]

    @property
    def title(self) -> str:
        first = self.parts[0]
        if len(self.parts) > 1:
            return f"{first.title} with its bands ({'added' if first.old is None else 'removed'})"
        return first.title


def plan_parts(old: Plan, new: Plan) -> list[Part]:
    """The parts of the rules in force that act differently in the new plan."""
    out = []
    for part in PARTS:
        a, b = _parts(old, part), _parts(new, part)
        for name in sorted(set(a) | set(b)):
            x, y = a.get(name), b.get(name)
            if x is None or y is None or behaviour(x) != behaviour(y):
                out.append(Part(part, name, x, y))
    return out


def changes_of(parts: list[Part]) -> list[Change]:
    bands = {p.name: p for p in parts if p.part == "bands"}
    out, used = [], set()
    for p in parts:
        if p in used:
            continue
        b = bands.get(p.name) if p.part == "indicators" else None
        if b is not None and (p.old is None) == (b.old is None) and (p.new is None) == (b.new is None):
            out.append(Change((p, b)))
            used.add(b)
        else:
            out.append(Change((p,)))
    return out


def swapped(plan: Plan, change: Change, new: Plan) -> Plan:
    """The old plan with one change taken from the new one. Params the new plan adds come
    along, so a new rule that reads a new param can be scored on its own."""
    params = dict(plan.params)
    for name, p in new.params.items():
        params.setdefault(name, p)
    plan = dataclasses.replace(plan, params=params)
    for part in change.parts:
        if part.part == "settings":  # not in the plan: the hybrid is scored with the new rulebook
            continue
        current = _parts(plan, part.part)
        if part.new is None:
            current.pop(part.name, None)
        else:
            current[part.name] = part.new
        value = current if isinstance(getattr(plan, part.part), dict) else tuple(current.values())
        plan = dataclasses.replace(plan, **{part.part: value})
    return plan


@dataclass
class Effect:
    change: Change
    by_shop: dict[str, tuple[Fraction | None, str | None]] = field(default_factory=dict)  # score, grade alone
    error: str | None = None


@dataclass
class Comparison:
    day: dt.date
    old: list[ShopResult]
    new: list[ShopResult]
    parts: list[Part]  # the parts of the rules in force that differ
    changes: list[Change]  # the same, as units of attribution
    effects: list[Effect]
    queries: int  # queries run on the data (shared ones once)
    attributed: bool


def primary(res: ShopResult) -> tuple[Fraction | None, str | None]:
    return (res.main_score.value if res.main_score else None), res.main_grade


def compare(con, old: Side, new: Side, day: dt.date, attribute: bool = True,
            con_new=None) -> Comparison:
    """Score both sides on `day`; with `attribute`, also the old rules with each changed part
    of the new ones alone. `con_new` is the new side's connection when its tables differ."""
    cache: dict = {}
    con_new = con_new or con
    new_cache = cache if con_new is con else {}
    before = score(con, old.rulebook, [day], plan_of=old.plan, cache=cache)
    after = score(con_new, new.rulebook, [day], plan_of=new.plan, cache=new_cache)
    old_plan, new_plan = old.plan(day), new.plan(day)
    settings = settings_part(old.rulebook, new.rulebook)
    parts = ([settings] if settings else []) + plan_parts(old_plan, new_plan)
    changes = changes_of(parts)
    effects = []
    now = {r.shop_id: primary(r) for r in after}
    moved = {r.shop_id for r in before if now.get(r.shop_id, primary(r)) != primary(r)}
    # A param added or removed moves nothing on its own: the new params come along in every
    # hybrid (`swapped`), and the rules that read a removed one changed too.
    weighed = [c for c in changes if not all(p.part == "params" and None in (p.old, p.new) for p in c.parts)]
    if attribute and moved and len(weighed) > 1:
        for change in weighed:
            effect = Effect(change)
            hybrid = swapped(old_plan, change, new_plan)
            # A change of the rules alone keeps the old settings; the settings alone, the old rules.
            alone_new = settings is None or change.parts[0].part == "settings"
            on, rb, hits = (con_new, new.rulebook, new_cache) if alone_new else (con, old.rulebook, cache)
            try:
                results = score(on, rb, [day], plan_of=lambda d, h=hybrid: dataclasses.replace(h, day=d), cache=hits)
            except HYBRID_FAILURES as exc:  # a part whose queries cannot stand without another: say so, go on
                effect.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            else:
                effect.by_shop = {r.shop_id: primary(r) for r in results}
            effects.append(effect)
    elif weighed and moved:  # a single change explains the whole move
        effects.append(Effect(weighed[0], now))
    queries = len(cache) + (len(new_cache) if new_cache is not cache else 0)
    return Comparison(day, before, after, parts, changes, effects, queries, attribute)
