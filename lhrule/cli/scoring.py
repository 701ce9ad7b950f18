"""`lhrule score` and `lhrule demo`."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lhrule.cli.app import (
    ForceOption,
    app,
    compile_or_exit,
    usage_error,
    writable,
    written,
)
from lhrule.cli.options import (
    BadRowsOption,
    EngineOption,
    MasterOption,
    QuarantineOption,
    parse_day,
    guarded,
    bad_rows_choice,
    data_location,
    engine_choice,
    said_quarantined,
    spinner,
)
from lhrule.cli.safe_text import say

EXAMPLE_DATA = Path("examples/data")


DEMO_RULEBOOK = Path("rulebooks/tejia/response-3min.rule")


DEMO_AS_OF = dt.date(2024, 6, 30)


@app.command()
def score(
    rulebook: Annotated[Path, typer.Argument(help="The rulebook (.rule) to score with.", show_default=False)],
    data: Annotated[str, typer.Option("--data", help="The dataset folder (with Spark, or a URI).",
                                      show_default=False)],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="The evaluation date T.")] = None,
    start: Annotated[Optional[str], typer.Option("--from", help="First day of a range to score.")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Last day of a range to score.")] = None,
    shop: Annotated[Optional[list[str]], typer.Option("--shop", help="Score only this shop (repeatable).")] = None,
    format: Annotated[str, typer.Option("--format", help="table (the lowest 100 scores past 100 shop-days), json, csv or parquet.")] = "table",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the result to this file.")] = None,
    on_bad_rows: BadRowsOption = "stop",
    quarantine: QuarantineOption = None,
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = None,
    force: ForceOption = False,
) -> None:
    """Score every shop of a dataset for a date, or for every day of a range."""
    engine_choice(engine, spark_master)
    place = data_location(data, engine)
    quarantine = bad_rows_choice(on_bad_rows, quarantine, out)
    if format not in ("table", "json", "csv", "parquet"):
        raise usage_error(f"--format must be table, json, csv or parquet, not {format!r}")
    if format == "parquet" and out is None:
        raise usage_error("--format parquet needs --out FILE")
    if format == "table" and out is not None:
        raise usage_error("--out writes json, csv or parquet: add --format")
    writable(out, "--out", f"score.{format}", force, place)
    day, first, last = parse_day(as_of, "--as-of"), parse_day(start, "--from"), parse_day(end, "--to")
    if day is None and first is None and last is None:
        raise usage_error("say which day to score: --as-of DATE, or --from DATE --to DATE")
    if day is not None and (first or last):
        raise usage_error("give --as-of, or --from and --to, not both")
    if first and last and last < first:
        raise usage_error(f"--to {last} is before --from {first}")
    rb = compile_or_exit(rulebook)
    # A range written as JSON is scored and written a part at a time (`score_stream`), never held whole.
    stream = format == "json" and day is None
    run = _run(rb, place, day, first, last, shop, on_bad_rows, quarantine, engine, spark_master, stream)
    said_quarantined(run.stamp, run.validation, quarantine)
    target = Output(out, f"score.{format}", force, place)
    if stream:  # the spinner only beside a file: on a terminal it would cut into the JSON
        with spinner(f"scoring {data} with {rb.path.name} …") if out else contextlib.nullcontext():
            guarded(lambda: _emit(run.json_chunks(), target), place)
    else:
        _write(run, format, target)
    if not run.rows:
        say(f"lhrule: warning: no shops in {data}: the results have no rows", err=True)
    elif not run.counted:
        said_nothing_counted(rb, run.days, data)


def said_nothing_counted(rb, days: list, data) -> None:
    """The warning for a run in which no indicator of any shop counted an event: no rule was
    in force, or (most likely) the day is outside the data."""
    from lhrule.ir.plan import plan_for

    if len(days) == 1:
        when, what = f"as of {days[0]}", "is that date"
    else:
        when, what = f"from {days[0]} to {days[-1]}", "are those dates"
    if not any(plan_for(rb.ir, d).indicators for d in days):
        say(f"lhrule: warning: no indicator of {rb.path} is in force {when}: see their `effective` dates",
                   err=True)
    else:
        say(f"lhrule: warning: no indicator of any shop counted an event {when}: {what} within the events "
                   f"of {data}?", err=True)


def _run(rb, data: Path | str, day, first, last, shops, on_bad_rows: str = "stop", quarantine: Path | None = None,
         engine: str = "duckdb", spark_master: str | None = None, stream: bool = False):
    """The scored run; with `stream`, a range to be scored as it is read (`api.ScoreStream`)."""
    from lhrule.api import score as api_score
    from lhrule.api import score_stream

    with spinner(f"scoring {data} with {rb.path.name} …"):
        if stream:
            return guarded(lambda: score_stream(rb, data, first or last, last or first, shops, on_bad_rows,
                                                 quarantine, engine, spark_master), data)
        return guarded(lambda: api_score(rb, data, as_of=day, start=first, end=last, shops=shops,
                                          on_bad_rows=on_bad_rows, quarantine=quarantine, engine=engine,
                                          spark_master=spark_master), data)


class Output:
    """Where a result goes: stdout (path None), or a file written aside and renamed
    (`safe_write`), refused when it would replace a file lhrule did not write as `kind`."""

    def __init__(self, path: Path | None, kind: str, force: bool = False, data=None) -> None:
        self.path, self.kind, self.force = path, kind, force
        self.data = data if isinstance(data, Path) else None

    def aside(self):
        from lhrule.safe_write import aside

        return aside(self.path, self.kind, self.force, self.data)

    def text(self, chunks) -> None:
        from lhrule.safe_write import write_text

        written(lambda: write_text(self.path, chunks, self.kind, self.force, self.data))


def _write(run, format: str, out: Output) -> None:
    if format == "json":
        from lhrule.output.contract import json_text

        text = json_text(run.to_json())
        _emit([text], out)
    elif format == "csv":
        import io

        import pyarrow.csv as pcsv

        buf = io.BytesIO()
        pcsv.write_csv(run.to_arrow(), buf)
        _emit([buf.getvalue().decode("utf-8")], out, newline=False)  # the CSV's last line ends it
    elif format == "parquet":
        import pyarrow.parquet as pq

        from lhrule.safe_write import PARQUET_KEY

        table = run.to_arrow()
        table = table.replace_schema_metadata({**{k: str(v) for k, v in run.stamp.items()}, PARQUET_KEY: "score"})

        def write():
            with out.aside() as part:
                pq.write_table(table, part)

        written(write)
        say(f"wrote {len(table)} rows to {out.path}", err=True)
    else:
        from lhrule.cli.render import score_table

        score_table(run)


def _emit(chunks, out: Output, newline: bool = True) -> None:
    """Text, given in pieces, to stdout or to a file (`Output`), with a newline at its end
    unless it has one (`newline`)."""
    if out.path is None:
        if sys.stdout.isatty():  # for a person: what the data holds is shown, not acted on
            from lhrule.cli.safe_text import visible_lines

            chunks = map(visible_lines, chunks)
        for chunk in chunks:
            typer.echo(chunk, nl=False)
        if newline:
            typer.echo("")
        return
    out.text(itertools.chain(chunks, ["\n"] if newline else []))
    say(f"wrote {out.path}", err=True)


@app.command()
def demo(
    data: Annotated[Path, typer.Option("--data", help="The dataset folder.")] = EXAMPLE_DATA,
    rulebook: Annotated[Path, typer.Option("--rulebook", help="The rulebook to score with.")] = DEMO_RULEBOOK,
    as_of: Annotated[str, typer.Option("--as-of", help="The evaluation date T.")] = DEMO_AS_OF.isoformat(),
) -> None:
    """Score the shipped example data with a seed rulebook and show the result."""
    if not data.is_dir() or not rulebook.is_file():
        raise usage_error(f"run the demo from the repository root (it reads {rulebook} and {data})")
    rb = compile_or_exit(rulebook)
    run = _run(rb, data, parse_day(as_of, "--as-of"), None, None, None)
    from lhrule.cli.render import score_table

    say(f"lhrule demo: {rb.ir.label or rb.ir.name} on {data}, as of {as_of}\n", err=True)
    score_table(run)
    if not run.results:
        say(f"lhrule: no shops in {data}: nothing to explain; run the demo on a dataset with shops", err=True)
        raise typer.Exit(1)
    worst = min(run.results, key=lambda r: (_sort_key(r), r.shop_id))
    say(f"\nWhy does shop {worst.shop_id} score lowest? lhrule explain {worst.shop_id} --rulebook {rulebook} "
               f"--data {data} --as-of {as_of}\n")
    from lhrule.cli.explain import render_tree
    from lhrule.trace.explain import Explainer

    render_tree(Explainer(run.con, rb.ir, rb.sources, 3).explain(worst.shop_id, run.days[-1]))


def _sort_key(res):
    from fractions import Fraction

    primary = res.main_score
    if primary is not None and primary.value is not None:
        return primary.value
    values = [i.value for i in res.indicators.values() if i.assessed and i.value is not None]
    return min(values) if values else Fraction(10**9)

