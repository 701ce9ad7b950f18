"""`lhrule explain SHOP`: why this shop has this grade."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from lhrule.cli.app import ForceOption, app, compile_or_exit, usage_error, writable, written
from lhrule.cli.options import (BadRowsOption, EngineOption, MasterOption, QuarantineOption, parse_day, guarded,
                                bad_rows_choice, data_location, engine_choice, said_quarantined, spinner)
from lhrule.cli.safe_text import say

STYLE = {"grade": "bold magenta", "score": "bold cyan", "dimension": "cyan", "indicator": "bold",
         "events": "yellow", "event": "dim", "action": "bold red", "group": "bold"}


@app.command()
def explain(
    shop: Annotated[str, typer.Argument(help="The shop id to explain.", show_default=False)],
    rulebook: Annotated[Path, typer.Option("--rulebook", help="The rulebook (.rule).", show_default=False)],
    data: Annotated[str, typer.Option("--data", help="The dataset folder (with Spark, or a URI).",
                                      show_default=False)],
    as_of: Annotated[str, typer.Option("--as-of", help="The evaluation date T.", show_default=False)],
    events: Annotated[str, typer.Option("--events", help="Events shown per verdict: a number, or all.")] = "5",
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    html_out: Annotated[Optional[Path], typer.Option("--html", help="Also write a self-contained HTML page.")] = None,
    results: Annotated[Optional[Path], typer.Option("--results", help="A `score --format parquet` file of the same "
                                                    "rulebook and data: ranks are read from it, not counted again.")]
    = None,
    on_bad_rows: BadRowsOption = "stop",
    quarantine: QuarantineOption = None,
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = None,
    force: ForceOption = False,
) -> None:
    """Show why a shop has its grade: score, weights, indicators, bands and the events behind them."""
    engine_choice(engine, spark_master)
    place = data_location(data, engine)
    quarantine = bad_rows_choice(on_bad_rows, quarantine)
    if format not in ("text", "json"):
        raise usage_error(f"--format must be text or json, not {format!r}")
    if events != "all" and not events.isdigit():
        raise usage_error(f"--events takes a number or all, not {events!r}")
    writable(html_out, "--html", "explain.html", force, place)
    day = parse_day(as_of, "--as-of")
    rb = compile_or_exit(rulebook)
    from lhrule.trace.explain import Explainer

    from lhrule.api import open_validated

    def build():
        # The dataset is validated as for a score (once for the same files, then found in the
        # cache), so an explanation reads the very rows the score read.
        con, stamp, checked = open_validated(rb, place, on_bad_rows, quarantine, engine, spark_master)
        peers = _saved_peers(results, rb, stamp["dataset_fingerprint"]) if results else None
        explainer = Explainer(con, rb.ir, rb.sources, None if events == "all" else int(events), peers)
        return explainer.explain(shop, day), stamp, checked

    with spinner(f"explaining {shop} on {data} …"):  # the first command on a dataset validates it
        tree, stamp, checked = guarded(build, place)
    said_quarantined(stamp, checked, quarantine)
    if tree is None:
        say(f"lhrule: no shop {shop!r} in {data}", err=True)
        raise typer.Exit(1)
    if html_out is not None:
        from lhrule.safe_write import write_text

        page = to_html(tree)
        written(lambda: write_text(html_out, page, "explain.html", force, place if isinstance(place, Path) else None,
                                   "--html"))
        say(f"wrote {html_out}", err=True)
    if format == "json":
        from lhrule.output.contract import json_safe

        typer.echo(json_safe(json.dumps(tree.to_json(), ensure_ascii=False, indent=2)))
    else:
        render_tree(tree)


def _saved_peers(path: Path, rb, fingerprint: str):
    """The counts of a saved score, when it was made with this very rulebook and dataset."""
    import pyarrow.parquet as pq

    from lhrule.engine.run.score import peer_aggregates

    if not path.is_file():
        raise usage_error(f"no results file {path}: make one with lhrule score … --format parquet --out {path}")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise usage_error(f"{path} is not a results file written by lhrule score: {exc}") from None
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    if meta.get("rulebook_hash") != rb.hash or meta.get("dataset_fingerprint") != fingerprint:
        raise usage_error(f"{path} was scored with another rulebook or dataset (its stamp does not match): score "
                          f"again, or leave out --results")
    return peer_aggregates(rb.ir, table.to_pylist())


def _where(node) -> str:
    if not node.rule:
        return ""
    return f"{Path(node.rule['file']).name}:{node.rule['line']}"


def _line(node):
    """A node as a Rich Text: every name, label, value and text from the data or the rulebook
    is shown as it is (`visible`), never read as markup."""
    from lhrule.cli.render import line
    from lhrule.cli.safe_text import visible as v

    label = node.data.get("label")
    if node.kind == "event":
        parts = [(f"{v(node.name)} {v(node.data.get('at') or '')}", "dim")]
        if node.detail:
            parts += [" ", (node.detail, "dim")]
        return line(*parts)
    parts = [(f"{v(node.kind)} {v(node.name)}", STYLE.get(node.kind, ""))]
    if label and label != node.name:
        parts.append(f" {v(label)}")
    if node.value is not None:
        parts += [" = ", (v(node.value), "bold")]
    if "weight" in node.data:
        parts.append((f" (weight {v(node.data['weight'])})", "dim"))
    if node.detail:
        parts += ["\n", (node.detail, "dim")]
    where = _where(node)
    if where:
        parts += ["  ", (v(where), "blue")]
    if node.cite:
        parts += ["\n", (f"cite {v(node.cite)}", "green")]
    for assumption in node.assumptions:
        parts += ["\n", (f"assumption {v(assumption)}", "yellow")]
    return line(*parts)


def render_tree(root) -> None:
    from rich.tree import Tree

    from lhrule.cli.render import console, line
    from lhrule.cli.safe_text import visible as v

    def add(branch, node):
        child = branch.add(_line(node))
        for c in node.children:
            add(child, c)

    tree = Tree(line((f"shop {v(root.name)}", "bold"), f" ({v(str(root.data.get('category')))}) as of "
                     f"{v(root.data.get('as_of'))}"))
    for c in root.children:
        add(tree, c)
    console().print(tree)


def to_html(root) -> str:
    """A self-contained page: no scripts, no fonts, nested <details> an analyst can open."""

    def item(node, depth: int) -> str:
        esc = html.escape
        label = node.data.get("label")
        title = f'<span class="k {esc(node.kind)}">{esc(node.kind)}</span> <b>{esc(node.name)}</b>'
        if label and label != node.name:
            title += f" {esc(label)}"
        if node.value is not None:
            title += f' = <span class="v">{esc(str(node.value))}</span>'
        body = ""
        if node.detail:
            body += f'<div class="d">{esc(node.detail)}</div>'
        if node.rule:
            body += f'<div class="r">{esc(node.rule["file"])}:{node.rule["line"]}:{node.rule["column"]}</div>'
        if node.cite:
            body += f'<div class="c">cite {esc(node.cite)}</div>'
        body += "".join(f'<div class="c">assumption {esc(a)}</div>' for a in node.assumptions)
        inner = "".join(item(c, depth + 1) for c in node.children)
        if not inner:
            return f"<div class='leaf'>{title}{body}</div>"
        opened = " open" if depth < 3 else ""
        return f"<details{opened}><summary>{title}</summary>{body}{inner}</details>"

    css = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}details{margin-left:1.2em}"
           ".leaf{margin-left:2.4em}.k{color:#777;font-size:.85em}.v{color:#b00}.d{color:#444;margin-left:1.2em}"
           ".r{color:#35a;font-size:.85em;margin-left:1.2em}.c{color:#272;font-size:.85em;margin-left:1.2em}")
    from lhrule.safe_write import html_generator

    head = (f"{html_generator('explain.html')}<title>lhrule explain {html.escape(root.name)}</title>"
            f"<meta charset='utf-8'><style>{css}</style>")
    title = (f"<h1>shop {html.escape(root.name)} ({html.escape(str(root.data.get('category')))}) "
             f"as of {html.escape(root.data.get('as_of', ''))}</h1>")
    return "<!doctype html><html><head>" + head + "</head><body>" + title + \
        "".join(item(c, 0) for c in root.children) + "</body></html>\n"
