"""Time `lhrule score` on a generated dataset: median and min–max of several runs.

    python -m benchmarks.score --events 10000000 --rulebook tests/rulebooks/engine.rule --runs 3

The dataset is made by `lhrule gen` (deterministic) under --cache, once per size. Prints the
machine's cores and the versions used; each run is a fresh process, as a user would run it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

import lhrule
from lhrule.engine.gen import estimate_events, generate


def dataset(events: int, cache: Path, days: int = 61) -> tuple[Path, int]:
    shops = 1
    while estimate_events(shops * 2, days) <= events:
        shops *= 2
    lo, hi = shops, shops * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if estimate_events(mid, days) <= events else (lo, mid)
    folder = cache / f"gen-{lo}x{days}"
    if not (folder / "shops.parquet").exists():
        generate(folder, shops=lo, days=days, seed=1)
    return folder, lo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rulebook", default="tests/rulebooks/engine.rule")
    parser.add_argument("--as-of", default="2024-06-30")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lhrule-bench"))
    args = parser.parse_args()
    folder, shops = dataset(args.events, args.cache)
    print(f"cores {os.cpu_count()}, python {sys.version.split()[0]}, duckdb {duckdb.__version__}, "
          f"lhrule {lhrule.__version__}")
    print(f"dataset {folder} ({shops} shops, about {estimate_events(shops, 61):,} events)")
    exe = Path(sys.executable).parent / "lhrule"
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([str(exe), "score", args.rulebook, "--data", str(folder), "--as-of", args.as_of,
                        "--format", "json", "--out", os.devnull], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    print(f"score {args.rulebook}: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}, {args.runs} runs)")


if __name__ == "__main__":
    main()
