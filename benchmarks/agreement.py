"""What the baselines are checked against: lhrule's own results for basic-service.rule, in
the shape both baselines give, and an exact comparison.

Per shop: {"score": Fraction | None, "indicators": {name: {"numerator", "denominator",
"points"}}}. The numerator is a rate's hits or an average's sum (seconds for durations), the
denominator its rows in the window, both for every shop (as lhrule reports them, whether or
not the indicator applies to the shop); points only where the indicator is assessed.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

RULEBOOK = Path(__file__).resolve().parent.parent / "rulebooks" / "tmall" / "basic-service.rule"
SCORE = "basic_service"

Results = dict[str, dict]


def dataset_folder(text: str) -> Path:
    """An argparse type: a folder holding shops.parquet."""
    import argparse

    path = Path(text)
    if not (path / "shops.parquet").is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a dataset folder (no shops.parquet); make one with lhrule gen")
    return path


def lhrule_results(data: Path, as_of: dt.date) -> Results:
    """lhrule's results, from its Python API."""
    import lhrule

    run = lhrule.score(RULEBOOK, data, as_of=as_of)
    out: Results = {}
    for res in run.results:
        score = res.scores[SCORE].value if SCORE in res.scores else None
        out[res.shop_id] = {"score": score, "indicators": {
            name: {"numerator": ind.numerator, "denominator": ind.rows, "points": ind.points}
            for name, ind in res.indicators.items()}}
    return out


def compare(a: Results, b: Results) -> list[str]:
    """Every difference between a baseline's results (a) and lhrule's (b); empty when equal.
    Values are compared exactly (an int equals the Fraction of the same value)."""
    diffs: list[str] = []
    for shop in sorted(a.keys() ^ b.keys()):
        diffs.append(f"{shop}: only in {'the baseline' if shop in a else 'lhrule'}")
    for shop in sorted(a.keys() & b.keys()):
        sa, sb = a[shop], b[shop]
        if sa["score"] != sb["score"]:
            diffs.append(f"{shop} score: {sa['score']} != {sb['score']}")
        ia, ib = sa["indicators"], sb["indicators"]
        for name in sorted(ia.keys() ^ ib.keys()):
            diffs.append(f"{shop} {name}: only in {'the baseline' if name in ia else 'lhrule'}")
        for name in sorted(ia.keys() & ib.keys()):
            for field in ("numerator", "denominator", "points"):
                va, vb = ia[name].get(field), ib[name].get(field)
                if va != vb:
                    diffs.append(f"{shop} {name}.{field}: {va} != {vb}")
    return diffs


def exit_if_different(diffs: list[str], shown: int = 20) -> None:
    """Print the first differences and exit 1, when there are any."""
    if diffs:
        print(f"DIFFERENT from lhrule: {len(diffs)} differences, the first:")
        for line in diffs[:shown]:
            print(f"  {line}")
        sys.exit(1)
