"""The per-event Python baseline (benchmarks/per_event.py) agrees exactly with lhrule."""

from __future__ import annotations

import copy
import datetime as dt
import sys
from fractions import Fraction
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks/ is not an installed package

from benchmarks.per_event import compare, lhrule_results, score_python

EXAMPLE = ROOT / "examples" / "data"
AS_OF = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def theirs() -> dict[str, dict]:
    return lhrule_results(EXAMPLE, AS_OF)


def test_per_event_python_agrees_with_lhrule_on_the_example_data(theirs):
    mine = score_python(EXAMPLE, AS_OF)
    assert compare(mine, theirs) == []
    # Real values, not a vacuous agreement: most Tmall shops scored, with varied scores and points.
    scores = [r["score"] for r in mine.values() if r["score"] is not None]
    assert len(mine) == 130 and len(scores) >= 40 and len(set(scores)) >= 10
    assert all(isinstance(s, Fraction) and 0 <= s <= 5 for s in scores)
    points = {i["points"] for r in mine.values() for i in r["indicators"].values()}
    assert {Fraction(5), Fraction(4), Fraction(3), Fraction(2), Fraction(0), None} <= points
    durations = [r["indicators"]["human_response_time"]["numerator"] for r in mine.values()]
    assert any(isinstance(d, Fraction) and d > 0 for d in durations)


def test_compare_reports_every_kind_of_difference(theirs):
    shop = next(s for s, r in sorted(theirs.items()) if r["score"] is not None)
    changed = copy.deepcopy(theirs)
    changed[shop]["score"] += Fraction(1, 100)
    changed[shop]["indicators"]["pickup_24h"]["denominator"] += 1
    del changed[next(s for s in sorted(theirs) if s != shop)]
    diffs = compare(changed, theirs)
    assert len(diffs) == 3
    assert any(d.startswith(f"{shop} score") for d in diffs)
    assert any(d.startswith(f"{shop} pickup_24h.denominator") for d in diffs)
    assert any("only in lhrule" in d for d in diffs)
