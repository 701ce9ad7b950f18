"""The options of the commands that read a dataset (score, explain, diff): the engine, the
Spark master, bad rows and their quarantine, dates; and engine work guarded, so a problem with
the data is a message, not a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lhrule.cli.app import usage_error
from lhrule.cli.safe_text import say

EngineOption = Annotated[str, typer.Option("--engine", help="duckdb (this machine), or spark: the same queries on "
                                           "Spark (pip install 'lhrule\\[spark]').")]


MasterOption = Annotated[Optional[str], typer.Option("--spark-master", help="With --engine spark: the master URL "
                                                     "(default: spark-submit's, else local[*]).", show_default=False)]


BadRowsOption = Annotated[str, typer.Option("--on-bad-rows", help="stop, or quarantine: write bad rows aside "
                                                                  "and go on with the rest.")]


QuarantineOption = Annotated[Optional[Path], typer.Option("--quarantine", help="Where quarantined rows go "
                                                          "(default: beside --out if given, else ./quarantine).")]


def engine_choice(engine: str, master: str | None) -> None:
    from lhrule.api import ENGINES

    if engine not in ENGINES:
        raise usage_error(f"--engine must be {' or '.join(ENGINES)}, not {engine!r}")
    if master is not None and engine != "spark":
        raise usage_error("--spark-master is for --engine spark")
    import re

    if master is not None and not re.fullmatch(r"local(\[(\d+|\*)(,\d+)?\])?|yarn|(spark|k8s|mesos)://\S+", master):
        raise usage_error(f"--spark-master {master!r} is not a Spark master URL: local[*], local[4], "
                          f"spark://HOST:7077, yarn or k8s://URL")


def data_location(data: str, engine: str) -> Path | str:
    """The dataset folder; with Spark it may also be a URI Spark reads (hdfs://, s3a://)."""
    from lhrule.engine.data.dataset import is_uri

    if is_uri(data):
        if engine != "spark":
            raise usage_error(f"--data {data}: DuckDB reads local folders; read a URI with --engine spark")
        return data
    return Path(data)


def parse_day(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise usage_error(f"{flag} takes a date such as 2024-06-30, not {value!r}") from None


def bad_rows_choice(on_bad_rows: str, quarantine: Path | None, out: Path | None = None) -> Path:
    """Where quarantined rows go, once --on-bad-rows is known to be stop or quarantine."""
    if on_bad_rows not in ("stop", "quarantine"):
        raise usage_error(f"--on-bad-rows must be stop or quarantine, not {on_bad_rows!r}")
    if quarantine is None:
        quarantine = out.with_name(out.name + ".quarantine") if out else Path("quarantine")
    return quarantine


def said_quarantined(stamp: dict, validation, quarantine: Path) -> None:
    for table, n in (stamp.get("quarantined") or {}).items():
        pointing = getattr(validation, "pointing", {}).get(table)
        why = f" ({pointing} of them for pointing at a quarantined row)" if pointing else ""
        say(f"quarantined {n} of {validation.rows[table]} rows of {table} to {quarantine}/{table}.csv{why}", err=True)


def spinner(text: str):
    """A spinner on stderr while the work runs, when a person watches it there; else nothing
    (and Rich is not imported, which every piped or scripted run would pay for)."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    from rich.text import Text

    from lhrule.cli.render import console
    from lhrule.cli.safe_text import visible_lines

    return console(stderr=True).status(Text(visible_lines(text)))  # a folder named [bold] is a name


def guarded(work, data: Path | str):
    """Run engine work; a problem with the data (or with Spark) becomes a message and exit 1,
    not a traceback."""
    import duckdb

    from lhrule.engine.data.dataset import DatasetError
    from lhrule.engine.sql.dialects import NotPortable

    try:
        return work()
    except (DatasetError, NotPortable) as exc:
        say(f"lhrule: {exc}", err=True)
        raise typer.Exit(1) from None
    except duckdb.Error as exc:
        from lhrule.engine.data.dataset import describe_read_error

        say(f"lhrule: {describe_read_error(str(exc), data)}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:
        from lhrule.engine.data.spark import describe_spark_error

        said = describe_spark_error(exc)
        if said is None:
            raise
        say(f"lhrule: {said}", err=True)
        raise typer.Exit(1) from None

