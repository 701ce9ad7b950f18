"""The benchmarks' own checks: the hand-written SQL of basic-service.rule equals lhrule."""

from __future__ import annotations

import copy
import datetime as dt
import sys
from fractions import Fraction

from conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is not an installed package

from benchmarks.handwritten import compare, lhrule_results, score_sql

DATA = ROOT / "examples" / "data"
AS_OF = dt.date(2024, 6, 30)


def test_handwritten_sql_equals_lhrule():
    mine, theirs = score_sql(DATA, AS_OF), lhrule_results(DATA, AS_OF)
    assert compare(mine, theirs) == []
    # Real values are compared: the Tmall shops are scored and ranked, the others are not.
    scored = sorted(shop for shop, s in theirs.items() if s["score"] is not None)
    assert 40 <= len(scored) < len(theirs)
    assert len({theirs[shop]["score"] for shop in scored}) > 10
    points = {i["points"] for shop in scored for i in theirs[shop]["indicators"].values()}
    assert points == {None} | {Fraction(n) for n in (0, 2, 3, 4, 5)}
    # … and exactly: one hundredth, one hit or one microsecond more is a difference.
    a = scored[0]
    b = next(shop for shop in scored if mine[shop]["indicators"]["refund_only_time"]["numerator"] is not None)
    changed = copy.deepcopy(mine)
    changed[a]["score"] += Fraction(1, 100)
    changed[a]["indicators"]["reply_rate"]["numerator"] += 1
    changed[b]["indicators"]["refund_only_time"]["numerator"] += Fraction(1, 10**6)
    assert {line.split(":")[0] for line in compare(changed, theirs)} == \
        {f"{a} score", f"{a} reply_rate.numerator", f"{b} refund_only_time.numerator"}


def test_phases_times_every_phase_of_a_score_beside_the_sql():
    import re
    import subprocess

    done = subprocess.run([sys.executable, "-m", "benchmarks.phases", "--data", str(DATA), "--runs", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(": 130 shops, 0.4 MB of JSON; medians of 1 runs, seconds")
    mine = dict(re.findall(r"(\w+) (\d+\.\d\d)", lines[1].split("=", 1)[1]))
    assert list(mine) == ["imports", "load", "open", "queries", "per_shop", "json_objects", "json_text", "freeing"]
    theirs = dict(re.findall(r"(\w+) (\d+\.\d\d)", lines[2].split("=", 1)[1]))
    assert list(theirs) == ["imports", "queries", "rows_to_fractions"]
    assert float(mine["queries"]) > 0 and float(theirs["queries"]) > 0
    # basic-service's queries: the shops, seven indicators alone, and the two `once per` ones fused
    assert len(lines[3].split(":", 1)[1].split(",")) == 9
