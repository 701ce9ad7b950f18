"""`lhrule gen`: a realistic synthetic dataset of the standard tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from lhrule.cli.main import app, usage_error


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
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lhrule.engine.gen import estimate_events, generate

    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        raise usage_error(f"--start takes a date such as 2024-05-01, not {start!r}") from None
    columns = (TextColumn("generating"), BarColumn(), TextColumn("{task.completed}/{task.total} shops"),
               TimeElapsedColumn())
    try:
        expected = estimate_events(shops, days, first)
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("gen", total=shops)
            counts = generate(out, shops=shops, days=days, seed=seed, fmt=format, start=first,
                              progress=lambda done, total: progress.update(task, completed=done, total=total))
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    events = sum(n for table, n in counts.items() if table != "shops")
    typer.echo(f"wrote {events:,} events (about {expected:,} expected) for {shops:,} shops to {out}")
    for table, n in counts.items():
        typer.echo(f"  {table:<14} {n:>12,}")
