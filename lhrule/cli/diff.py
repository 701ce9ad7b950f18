"""`lhrule diff OLD NEW`: whom a rule change hits, how, and because of which change."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from lhrule.cli.app import ForceOption, app, compile_or_exit, usage_error, writable, written
from lhrule.cli.options import (BadRowsOption, EngineOption, MasterOption, QuarantineOption, parse_day, guarded,
                                bad_rows_choice, data_location, engine_choice, said_quarantined, spinner)
from lhrule.cli.safe_text import say


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="The rulebook as it is: a file, or FILE@REV (a git revision).",
                                       show_default=False)],
    new: Annotated[Optional[str], typer.Argument(help="The rulebook as it would be (FILE or FILE@REV); leave "
                                                      "out with --rules-as-of.", show_default=False)] = None,
    data: Annotated[str, typer.Option("--data", help="The dataset folder (with Spark, or a URI).",
                                      show_default=False)] = None,
    as_of: Annotated[str, typer.Option("--as-of", help="The evaluation date T.", show_default=False)] = None,
    rules_as_of: Annotated[Optional[str], typer.Option("--rules-as-of", help="Old side: the rules in force on "
                                                       "this day.")] = None,
    vs_rules_as_of: Annotated[Optional[str], typer.Option("--vs-rules-as-of", help="New side: the rules in "
                                                          "force on this day.")] = None,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    fail_on: Annotated[str, typer.Option("--fail-on", help="Exit 1 when: grade (a grade moved), score (anything "
                                                           "moved), or none.")] = "score",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write one row per shop (csv or parquet).")] = None,
    html_out: Annotated[Optional[Path], typer.Option("--html", help="Also write a self-contained HTML report.")]
    = None,
    attribution: Annotated[bool, typer.Option("--attribution/--no-attribution", help="Attribute each shop's "
                                              "move to the rule changes, one at a time.")] = True,
    on_bad_rows: BadRowsOption = "stop",
    quarantine: QuarantineOption = None,
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = None,
    force: ForceOption = False,
) -> None:
    """Compare two versions of the rules on the same data and day: what changed in the rules,
    which shops move, and which change moves each.

    Exit 0 when nothing moved, 1 when shops moved (see --fail-on), 2 on errors."""
    if format not in ("text", "json"):
        raise usage_error(f"--format must be text or json, not {format!r}")
    if fail_on not in ("grade", "score", "none"):
        raise usage_error(f"--fail-on must be grade, score or none, not {fail_on!r}")
    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise usage_error("--out writes a .csv or .parquet file")
    if data is None or as_of is None:
        raise usage_error("say which data and day to score both versions on: --data DIR --as-of DATE")
    engine_choice(engine, spark_master)
    place = data_location(data, engine)
    kind = "diff.csv" if out is not None and out.suffix == ".csv" else "diff.parquet"
    writable(out, "--out", kind, force, place)
    writable(html_out, "--html", "diff.html", force, place)
    if out is not None and html_out is not None and out.resolve() == html_out.resolve():
        raise usage_error(f"--out and --html both name {out}: name two files")
    quarantine = bad_rows_choice(on_bad_rows, quarantine, out)
    day = parse_day(as_of, "--as-of")
    first, second = parse_day(rules_as_of, "--rules-as-of"), parse_day(vs_rules_as_of, "--vs-rules-as-of")
    if new is None and not (first and second):
        raise usage_error("give two rulebooks (OLD NEW), or one with --rules-as-of DATE --vs-rules-as-of DATE")
    if new is not None and (first or second):
        raise usage_error("--rules-as-of and --vs-rules-as-of compare one rulebook with itself: give OLD only")
    with ExitStack() as stack:
        before = _rulebook(old, stack)
        after = _rulebook(new, stack) if new is not None else before
        from lhrule.api import diff as api_diff
        from lhrule.api import quarantines

        with spinner(f"scoring {data} with both versions …"):
            run = guarded(lambda: api_diff(before, after, place, day, first, second, attribution, on_bad_rows,
                                            quarantine, engine, spark_master), place)
    to_old, to_new = quarantines(quarantine, run.new_stamp is not None)
    said_quarantined(run.stamp, run.validation, to_old)
    if run.new_stamp is not None:
        said_quarantined(run.new_stamp, run.new_validation, to_new)
    old_name = f"{old} (rules of {first})" if first else old
    new_name = f"{old} (rules of {second})" if second else new
    result = run.to_json(old_name, new_name)
    if not run.shops:
        say(f"lhrule: warning: no shops in {data}: nothing to compare", err=True)
    if out is not None:
        written(lambda: _write_rows(run.shops, out, kind, force, place))
    if html_out is not None:
        from lhrule.compare.html import to_html
        from lhrule.safe_write import write_text

        page = to_html(result, run.comparison)
        written(lambda: write_text(html_out, page, "diff.html", force, _folder(place), "--html"))
        say(f"wrote {html_out}", err=True)
    if format == "json":
        from lhrule.output.contract import json_safe

        typer.echo(json_safe(json.dumps(result, ensure_ascii=False, indent=2)))
    else:
        from lhrule.cli.render import diff_report

        diff_report(result)
    moved = result["summary"]["grade_changed"] if fail_on == "grade" else result["summary"]["moved"]
    raise typer.Exit(1 if fail_on != "none" and moved else 0)


def _rulebook(spec: str, stack: ExitStack):
    """Compile FILE or FILE@REV; a revision is read from git into a temporary folder."""
    import tempfile

    from lhrule.compiler.revision import RevisionError, materialize, split_spec

    path, rev = split_spec(spec)
    if rev is None:
        return compile_or_exit(path)
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lhrule-rev-")))
    try:
        target = materialize(path, rev, folder)
    except RevisionError as exc:
        raise usage_error(str(exc)) from None
    here = os.getcwd()
    os.chdir(folder)  # files are named as in the repository: rulebooks/x.rule, not /tmp/…
    try:
        rb = compile_or_exit(target.relative_to(folder))
    finally:
        os.chdir(here)
    rb.path = Path(spec)
    return rb


def _folder(place) -> Path | None:
    return place if isinstance(place, Path) else None


# The columns of `--out`, one row per shop: ShopChange.to_json flattened.
ROW_COLUMNS = ("shop_id", "category", "old_score", "new_score", "delta", "old_grade", "new_grade", "actions_gained",
               "actions_lost", "interaction", "bands_changed", "because")


def _write_rows(shops, out: Path, kind: str, force: bool, place) -> None:
    import pyarrow as pa

    from lhrule.safe_write import PARQUET_KEY, aside

    def flat(c) -> dict:
        full = c.to_json()
        row = {k: v for k, v in full.items() if k not in ("bands", "because")}
        row["actions_gained"], row["actions_lost"] = ";".join(c.gained), ";".join(c.lost)
        row["bands_changed"] = ";".join(f"{k}:{a or ''}->{b or ''}" for k, (a, b) in c.bands.items())
        row["because"] = ";".join(f"{b['change']} {b['delta'] or ''}".strip() for b in full["because"])
        return row

    schema = pa.schema([(name, pa.string()) for name in ROW_COLUMNS])  # the columns even with no shops
    table = pa.Table.from_pylist([flat(c) for c in shops], schema=schema)
    with aside(out, kind, force, _folder(place)) as part:
        if out.suffix == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, part)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table.replace_schema_metadata({PARQUET_KEY: "diff"}), part)
    say(f"wrote {len(shops)} shops to {out}", err=True)
