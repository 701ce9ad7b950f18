"""The benchmark datasets: made by `lhrule gen` (deterministic, seed 1, 61 days) under a cache
folder, once per size, with as many shops as give about the number of events asked for."""

from __future__ import annotations

from pathlib import Path

from lhrule.synth.gen import estimate_events, generate


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
