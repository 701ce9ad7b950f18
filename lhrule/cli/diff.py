"""`lhrule diff OLD NEW`: whom a rule change hits, and how."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from lhrule.cli.main import app, compile_or_exit, usage_error
from lhrule.cli.scoring import _date, _run


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The rulebook as it is.", show_default=False)],
    new: Annotated[Path, typer.Argument(help="The rulebook as it would be.", show_default=False)],
    data: Annotated[Path, typer.Option("--data", help="The dataset folder.", show_default=False)],
    as_of: Annotated[str, typer.Option("--as-of", help="The evaluation date T.", show_default=False)],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    fail_on: Annotated[str, typer.Option("--fail-on", help="Exit 1 when: grade (a grade moved), score (anything "
                                                           "moved), or none.")] = "score",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write one row per shop (csv or parquet).")] = None,
) -> None:
    """Compare two versions of a rulebook on the same data: rule changes, then shop changes."""
    if format not in ("text", "json"):
        raise usage_error(f"--format must be text or json, not {format!r}")
    if fail_on not in ("grade", "score", "none"):
        raise usage_error(f"--fail-on must be grade, score or none, not {fail_on!r}")
    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise usage_error("--out writes a .csv or .parquet file")
    day = _date(as_of, "--as-of")
    from lhrule.engine.diff import rule_changes, shop_changes, summary

    before, after = compile_or_exit(old), compile_or_exit(new)
    run_old = _run(before, data, day, None, None, None)
    run_new = _run(after, data, day, None, None, None)
    rules = rule_changes(before.ir, after.ir)
    shops = shop_changes(run_old.results, run_new.results)
    result = {"old": str(old), "new": str(new), "as_of": day.isoformat(),
              "rule_changes": [r.to_json() for r in rules], "summary": summary(shops),
              "shops": [c.to_json() for c in shops if c.moved]}
    if out is not None:
        import pyarrow as pa

        def flat(c) -> dict:
            row = {k: v for k, v in c.to_json().items() if k != "bands"}
            row["actions_gained"], row["actions_lost"] = ";".join(c.gained), ";".join(c.lost)
            row["bands_changed"] = ";".join(c.bands)
            return row

        table = pa.Table.from_pylist([flat(c) for c in shops])
        if out.suffix == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, out)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, out)
        typer.echo(f"wrote {len(shops)} shops to {out}", err=True)
    if format == "json":
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _render(result)
    moved = result["summary"]["grade_changed"] if fail_on == "grade" else result["summary"]["moved"]
    raise typer.Exit(1 if fail_on != "none" and moved else 0)


def _render(result: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(f"[bold]rule changes[/] ({len(result['rule_changes'])})")
    for r in result["rule_changes"]:
        where = " → ".join(x for x in (r["old"], r["new"]) if x)
        fields = f": {', '.join(r['fields'])}" if r["fields"] else ""
        console.print(f"  {r['change']:<8} {r['kind']} {escape(r['name'])}{escape(fields)}  [blue]{escape(where)}[/]")
    s = result["summary"]
    console.print(f"\n[bold]shops[/]: {s['moved']} of {s['shops']} moved, {s['grade_changed']} changed grade; "
                  f"score change min {s['delta']['min']}, median {s['delta']['median']}, max {s['delta']['max']}; "
                  f"actions gained {s['actions_gained']}, lost {s['actions_lost']}")
    grades = sorted({t["old"] for t in s["transitions"]} | {t["new"] for t in s["transitions"]}, key=str)
    if len(grades) > 1 or s["grade_changed"]:
        table = Table(title="grade transitions (rows: old, columns: new)")
        table.add_column("old \\ new")
        for g in grades:
            table.add_column(str(g))
        cells = {(t["old"], t["new"]): t["shops"] for t in s["transitions"]}
        for a in grades:
            table.add_row(str(a), *(str(cells.get((a, b), "")) for b in grades))
        console.print(table)
    for title, rows in (("top movers down", s["top_down"]), ("top movers up", s["top_up"])):
        if rows:
            console.print(f"\n[bold]{title}[/]")
            for c in rows:
                console.print(f"  {c['shop_id']} {escape(c['category'] or '')}: {c['old_score']} → {c['new_score']} "
                              f"({c['delta']}), grade {c['old_grade']} → {c['new_grade']}")
