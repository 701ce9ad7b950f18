"""Where the time of one score goes, lhrule beside the hand-written SQL, phase by phase.

    python -m benchmarks.phases --data /tmp/lhrule-bench/gen-4072x61 --runs 5

Each run is a fresh process (the imports are part of what a user waits for) that scores
rulebooks/tmall/basic-service.rule as of 2024-06-30 as `lhrule score --format json` does, and
times its phases: imports, loading the compiled rulebook, opening the dataset (its validation
found in the cache), each query, the per-shop step (values, levels, points, weighted parts,
grades), the JSON objects and their text, and freeing them. The hand-written SQL's process is
timed the same way: imports, its statements (the views and its one query), and the rest of
`score_sql` (the connection, its rows turned into Fractions). Medians of the runs, the processes
taking turns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from benchmarks.__main__ import AS_OF, ROOT, RULEBOOK, compiled
from benchmarks.agreement import dataset_folder

LHRULE = """
import time; t0 = time.perf_counter()
import datetime as dt, json
import lhrule
from lhrule.api import _prepare
from lhrule.compiler import cache
from lhrule.engine.data import dataset
from lhrule.engine.run import score as engine
from lhrule.engine.data import validate  # opening's imports, counted as imports
from lhrule.output.contract import json_text, score_json
t1 = time.perf_counter()
queries, fetch = [], engine._fetch
def timed(con, query, cache=None):
    start = time.perf_counter(); rows = fetch(con, query, cache); queries.append(time.perf_counter() - start)
    return rows
engine._fetch = timed
rb = lhrule.load({rulebook!r}); t2 = time.perf_counter()
rb, days, con, stamp, _ = _prepare(rb, {data!r}, dt.date.fromisoformat({as_of!r}), None, None, "stop", None,
                                   "duckdb", None)
t3 = time.perf_counter()
with engine.gc_held():
    results = engine.score(con, rb.ir, days); t4 = time.perf_counter()
    out = score_json(results, rb.ir, days, stamp); t5 = time.perf_counter()
    text = json_text(out); t6 = time.perf_counter()
shops, mb = len(results), len(text) / 1e6
del results, out, text; t7 = time.perf_counter()
print(json.dumps({{"phases": {{"imports": t1 - t0, "load": t2 - t1, "open": t3 - t2, "queries": sum(queries),
                             "per_shop": t4 - t3 - sum(queries), "json_objects": t5 - t4,
                             "json_text": t6 - t5, "freeing": t7 - t6}},
                  "each_query": queries, "shops": shops, "mb": mb}}))
"""

HAND = """
import time; t0 = time.perf_counter()
import datetime as dt, json, pathlib
import duckdb
from benchmarks import handwritten
t1 = time.perf_counter()
spent, connect = [], duckdb.connect
class Timed:  # the connection score_sql opens, its statements timed
    def __init__(self): self.con = connect()
    def execute(self, *args):
        start = time.perf_counter(); self.con.execute(*args); spent.append(time.perf_counter() - start); return self
    def fetchall(self):
        start = time.perf_counter(); rows = self.con.fetchall(); spent.append(time.perf_counter() - start)
        return rows
    def close(self): self.con.close()
handwritten.duckdb = type("duckdb", (), {{"connect": Timed}})
handwritten.score_sql(pathlib.Path({data!r}), dt.date.fromisoformat({as_of!r})); t2 = time.perf_counter()
print(json.dumps({{"phases": {{"imports": t1 - t0, "queries": sum(spent),
                             "rows_to_fractions": t2 - t1 - sum(spent)}}}}))
"""


def run(code: str) -> tuple[dict, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(done.stderr)
    # what the process printed last; DuckDB may have drawn a progress bar before it (a query past 2 s)
    return json.loads(done.stdout[done.stdout.rindex('{"phases"'):]), wall


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.phases", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=dataset_folder, required=True, help="a dataset folder made by lhrule gen")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    data = str(args.data.resolve())
    compiled()
    mine = LHRULE.format(rulebook=RULEBOOK, data=data, as_of=AS_OF)
    theirs = HAND.format(data=data, as_of=AS_OF)
    run(mine)  # warm the file cache, the compile cache and the validation cache
    lhrule_runs, hand_runs = [], []
    for _ in range(args.runs):
        lhrule_runs.append(run(mine))
        hand_runs.append(run(theirs))
    first = lhrule_runs[0][0]
    print(f"{data}: {first['shops']} shops, {first['mb']:.1f} MB of JSON; medians of {args.runs} runs, seconds")
    for name, runs in (("lhrule", lhrule_runs), ("hand-written SQL", hand_runs)):
        cells = [f"{k} {statistics.median(r['phases'][k] for r, _ in runs):.2f}" for k in runs[0][0]["phases"]]
        rest = statistics.median(w - sum(r["phases"].values()) for r, w in runs)
        print(f"  {name}: process {statistics.median(w for _, w in runs):.2f} = " + ", ".join(cells)
              + f", the rest (Python's start and exit) {rest:.2f}")
    each = [statistics.median(r["each_query"][i] for r, _ in lhrule_runs) for i in range(len(first["each_query"]))]
    print("  lhrule's queries, in order: " + ", ".join(f"{q:.2f}" for q in each))


if __name__ == "__main__":
    main()
