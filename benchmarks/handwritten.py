"""The ceiling by hand: DuckDB SQL written by a person for rulebooks/tmall/basic-service.rule,
and a check that it computes exactly what lhrule computes.

    python -m benchmarks.handwritten --data /tmp/lhrule-bench/gen-407x61 --as-of 2024-06-30 --runs 3

Times `score_sql` (a fresh connection, the views, the query, the conversion to Fractions),
then scores the same data with lhrule and compares every shop's score and every indicator's
numerator, denominator and points exactly; exits 1 on a difference.

The SQL is benchmarks/handwritten_basic_service.sql. Both sides give, per shop,
{"score": Fraction | None, "indicators": {name: {"numerator", "denominator", "points"}}}:
the numerator is a rate's hits or an average's sum (seconds for durations), the denominator
its rows in the window, both for every shop (as lhrule reports them, whether or not the
indicator applies to the shop), and points only where the indicator is assessed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
RULEBOOK = ROOT / "rulebooks" / "tmall" / "basic-service.rule"
SQL = (Path(__file__).resolve().parent / "handwritten_basic_service.sql").read_text(encoding="utf-8")
TABLES = ("shops", "orders", "consultations", "reviews", "refunds", "complaints")
SCORE = "basic_service"

Results = dict[str, dict]


def score_sql(data: Path, as_of: dt.date) -> Results:
    """Every shop's score and indicators, by the hand-written SQL."""
    con = duckdb.connect()
    try:
        # The rulebook's zone: the parquet timestamps are naive local time and are used as they are.
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        for table in TABLES:
            path = str(Path(data) / f"{table}.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
        rows = con.execute(SQL, {"as_of": as_of}).fetchall()
    finally:
        con.close()
    out: Results = {}
    for shop_id, indicator, numerator, scale, denominator, points, hundredths in rows:
        shop = out.setdefault(shop_id, {"score": None if hundredths is None else Fraction(hundredths, 100),
                                        "indicators": {}})
        shop["indicators"][indicator] = {
            "numerator": None if numerator is None else Fraction(int(numerator), scale),
            "denominator": int(denominator),
            "points": None if points is None else Fraction(points),
        }
    return out


def lhrule_results(data: Path, as_of: dt.date) -> Results:
    """The same, from lhrule's Python API."""
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
    """Every difference between two results (a: hand-written, b: lhrule); empty when equal.
    Values are compared exactly (an int equals the Fraction of the same value)."""
    diffs: list[str] = []
    for shop in sorted(a.keys() ^ b.keys()):
        diffs.append(f"{shop}: only in {'the SQL' if shop in a else 'lhrule'}")
    for shop in sorted(a.keys() & b.keys()):
        sa, sb = a[shop], b[shop]
        if sa["score"] != sb["score"]:
            diffs.append(f"{shop} score: {sa['score']} != {sb['score']}")
        ia, ib = sa["indicators"], sb["indicators"]
        for name in sorted(ia.keys() ^ ib.keys()):
            diffs.append(f"{shop} {name}: only in {'the SQL' if name in ia else 'lhrule'}")
        for name in sorted(ia.keys() & ib.keys()):
            for field in ("numerator", "denominator", "points"):
                va, vb = ia[name].get(field), ib[name].get(field)
                if va != vb:
                    diffs.append(f"{shop} {name}.{field}: {va} != {vb}")
    return diffs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2024, 6, 30))
    parser.add_argument("--runs", type=int, default=1, help="time score_sql this many times (median)")
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        mine = score_sql(args.data, args.as_of)
        times.append(time.perf_counter() - start)
    print(f"score_sql {args.data} as of {args.as_of}: {statistics.median(times):.3f} s "
          f"(median of {args.runs}: {', '.join(f'{t:.3f}' for t in times)}; {len(mine)} shops)")
    start = time.perf_counter()
    theirs = lhrule_results(args.data, args.as_of)
    print(f"lhrule.score: {time.perf_counter() - start:.3f} s")
    diffs = compare(mine, theirs)
    if diffs:
        print(f"DIFFERENT: {len(diffs)} differences, the first:")
        for line in diffs[:20]:
            print(f"  {line}")
        sys.exit(1)
    print(f"equal: {len(mine)} shops, score and {len(next(iter(mine.values()))['indicators'])} indicators each")


if __name__ == "__main__":
    main()
