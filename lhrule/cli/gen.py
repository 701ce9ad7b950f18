"""`lhrule gen`: a realistic synthetic dataset of the standard tables."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from lhrule.cli.app import app, usage_error, written
from lhrule.cli.safe_text import say


ESTIMATE_SHOPS = 1000


@app.command()
def gen(
    out: Annotated[Path, typer.Option("--out", help="The folder to write the tables to.", show_default=False)],
    shops: Annotated[int, typer.Option("--shops", help="How many shops.")] = 100,
    days: Annotated[int, typer.Option("--days", help="How many days of events.")] = 61,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same files.")] = 1,
    format: Annotated[str, typer.Option("--format", help="parquet, csv or jsonl.")] = "parquet",
    start: Annotated[str, typer.Option("--start", help="The first day.")] = "2024-05-01",
) -> None:
    """Write a deterministic synthetic dataset: shops, orders, consultations, ratings, refunds …"""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lhrule.synth.gen import estimate_events, generate

    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        raise usage_error(f"--start takes a date such as 2024-05-01, not {start!r}") from None
    columns = (TextColumn("generating"), BarColumn(), TextColumn("{task.completed}/{task.total} shops"),
               TimeElapsedColumn())
    try:  # the arguments are checked by generate, before anything is written
        # On stderr, and only where a person watches it: stdout gets the counts alone.
        with Progress(*columns, console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()) \
                as progress:
            task = progress.add_task("gen", total=shops)
            counts = written(lambda: generate(
                out, shops=shops, days=days, seed=seed, fmt=format, start=first,
                progress=lambda done, total: progress.update(task, completed=done, total=total)))
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    events = sum(n for table, n in counts.items() if table != "shops")
    # The model's expectation is within a few percent from a thousand shops; below, a few big
    # shops move the count by more than it would tell (2 shops: 547 events, "about 198").
    expected = f" (about {estimate_events(shops, days, first):,} expected)" if shops >= ESTIMATE_SHOPS else ""
    say(f"wrote {events:,} events{expected} for {shops:,} shops to {out}")
    for table, n in counts.items():
        say(f"  {table:<14} {n:>12,}")
