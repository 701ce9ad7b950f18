"""What scoring gives for each shop and day: every indicator's counts, value, level and
points; the weighted parts (dimensions and composite scores); grades and actions. And the
exact decimal text of a Fraction, as every output shows it."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from fractions import Fraction

from lhrule.engine.kinds import kind_of
from lhrule.ir import model as ir
from lhrule.ir.plan import Plan


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
        return kind_of(self.version.measure).numerator(self)


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


def counted_any(results: list[ShopResult]) -> bool:
    """Whether any indicator of any shop counted or excluded an event (True for no shops):
    when none did, the day is most likely outside the data (2042 for 2024)."""
    return not results or any(i.rows or i.excluded for r in results for i in r.indicators.values())


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
