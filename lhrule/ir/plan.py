"""Planning: which version of every declaration is in force on a day.

A declaration not in force is absent from the plan; a display-only indicator is in it (it
is computed and reported, not assessed). Days whose plans are alike are scored together.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from lhrule.ir import model as ir


@dataclass(frozen=True)
class Plan:
    day: dt.date
    params: dict[str, ir.Param]
    indicators: tuple[ir.Indicator, ...]
    exclusions: tuple[ir.Exclusion, ...]
    bands: dict[str, ir.Bands]  # by indicator name
    dimensions: tuple[ir.Dimension, ...]
    scores: tuple[ir.Score, ...]
    grades: tuple[ir.Grade, ...]
    actions: tuple[ir.Action, ...]

    @property
    def signature(self) -> tuple:
        """Equal for two days exactly when the same versions are in force."""
        parts = (tuple(self.params.values()), self.indicators, self.exclusions, tuple(self.bands.values()),
                 self.dimensions, self.scores, self.grades, self.actions)
        return tuple(tuple(id(x) for x in group) for group in parts)

    def exclusions_of(self, indicator: str) -> tuple[ir.Exclusion, ...]:
        return self._exclusions_by_indicator.get(indicator, ())

    def members_of(self, dimension: str) -> tuple[str, ...]:
        """The indicators in force that belong to a dimension, in declaration order."""
        return self._members.get(dimension, ())

    @functools.cached_property
    def _members(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for ind in self.indicators:
            out[ind.dimension] = out.get(ind.dimension, ()) + (ind.name,)
        return out

    @functools.cached_property
    def _exclusions_by_indicator(self) -> dict[str, tuple[ir.Exclusion, ...]]:
        out: dict[str, tuple[ir.Exclusion, ...]] = {}
        for x in self.exclusions:
            for name in x.applies_to:
                out[name] = out.get(name, ()) + (x,)
        return out


def in_force(decls, day: dt.date) -> list:
    return [d for d in decls if d.effective.contains(day)]


def plan_for(rb: ir.Rulebook, day: dt.date) -> Plan:
    return Plan(
        day=day,
        params={p.name: p for p in in_force(rb.params, day)},
        indicators=tuple(in_force(rb.indicators, day)),
        exclusions=tuple(in_force(rb.exclusions, day)),
        bands={b.indicator: b for b in in_force(rb.bands, day)},
        dimensions=tuple(in_force(rb.dimensions, day)),
        scores=tuple(in_force(rb.scores, day)),
        grades=tuple(in_force(rb.grades, day)),
        actions=tuple(in_force(rb.actions, day)),
    )


def segments(rb: ir.Rulebook, days: list[dt.date], plan_of=None) -> list[tuple[Plan, list[dt.date]]]:
    """Group days by the versions in force (or by `plan_of(day)`), so each group is scored
    with one set of queries."""
    groups: dict[tuple, tuple[Plan, list[dt.date]]] = {}
    for day in days:
        plan = plan_for(rb, day) if plan_of is None else plan_of(day)
        groups.setdefault(plan.signature, (plan, []))[1].append(day)
    return list(groups.values())
