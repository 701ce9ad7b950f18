"""The exact arithmetic and the IR's semantics, tested directly: half-up rounding and decimal text
by integer arithmetic against Python's Decimal, inclusive effective ranges at their edges, and the
plan of a day picking exactly the versions in force on it."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lhrule.api import load
from lhrule.engine.run.results import decimal_text, round_half_up
from lhrule.engine.sql.queries import every_version
from lhrule.ir.model import Effective
from lhrule.ir.plan import plan_for

ROOT = Path(__file__).resolve().parent.parent
fractions = st.builds(Fraction, st.integers(-10**30, 10**30), st.integers(1, 10**12))


def _decimal(value: Fraction, digits: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 200
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


@settings(max_examples=500, deadline=None)
@given(fractions, st.integers(0, 8))
def test_round_half_up_is_decimals_round_half_up(value, digits):
    assert round_half_up(value, digits) == Fraction(_decimal(value, digits))


@settings(max_examples=500, deadline=None)
@given(fractions, st.integers(0, 8))
def test_decimal_text_is_the_rounded_decimal_without_trailing_zeros(value, digits):
    text = decimal_text(value, digits)
    assert Decimal(text) == _decimal(value, digits)
    assert "e" not in text.lower() and not (("." in text) and text.endswith("0"))


def test_half_up_at_the_half_and_either_side():
    assert decimal_text(Fraction(5, 1000), 2) == "0.01"      # a half goes up
    assert decimal_text(Fraction(-5, 1000), 2) == "-0.01"    # away from zero
    assert decimal_text(Fraction(4999, 1000000), 2) == "0"   # below the half, down
    assert decimal_text(Fraction(2, 3), 4) == "0.6667"
    assert decimal_text(Fraction(40, 100), 4) == "0.4"       # exact: 40% is 0.4, not 0.39999…
    assert decimal_text(None) is None


def test_an_effective_range_holds_both_its_ends():
    r = Effective(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))
    assert r.contains(dt.date(2024, 1, 1)) and r.contains(dt.date(2024, 1, 31))
    assert not r.contains(dt.date(2023, 12, 31)) and not r.contains(dt.date(2024, 2, 1))
    assert Effective().contains(dt.date.min) and Effective(start=dt.date(2024, 1, 1)).contains(dt.date.max)
    assert r.overlaps(Effective(start=dt.date(2024, 1, 31))) and not r.overlaps(Effective(start=dt.date(2024, 2, 1)))


def test_the_plan_of_a_day_holds_exactly_the_versions_in_force():
    rb = load(ROOT / "rulebooks" / "taobao" / "lighthouse.rule").ir
    for day in every_version(rb):
        for edge in (day - dt.timedelta(days=1), day):
            plan = plan_for(rb, edge)
            expected = sorted((i.name, i.effective.start or dt.date.min) for i in rb.indicators
                              if i.effective.contains(edge))
            assert sorted((i.name, i.effective.start or dt.date.min) for i in plan.indicators) == expected
            assert len({i.name for i in plan.indicators}) == len(plan.indicators)  # one version a name
