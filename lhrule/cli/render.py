"""Rich rendering of results for people."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table


# A table of thousands of rows reads no better than its lowest scores, and rich lays out a
# row in about 3 ms: past this many shop-days the table shows the lowest scores.
TABLE_ROWS = 100


def console() -> Console:
    """Rich's console for stdout. Piped or redirected, Rich folds every line at 80 columns
    unless COLUMNS says otherwise: a file:line split in two, a condition spread over three
    lines, nine indicators' names a letter a line. There each line keeps its own length."""
    import os

    out = Console()
    if out.is_terminal or os.environ.get("COLUMNS"):
        return out
    return Console(width=100_000)


def score_table(run) -> None:
    from lhrule.engine.report import shop_json

    out = console()
    rb = run.rulebook.ir
    many_days = len(run.days) > 1
    names = [i.name for i in rb.indicators]
    names = list(dict.fromkeys(names))
    results = run.results
    title = f"{rb.label or rb.name}"
    if len(results) > TABLE_ROWS:
        results = _lowest(results)
        title += f": the {TABLE_ROWS} lowest scores of {len(run.results):,} shop-days"
    table = Table(title=title, show_lines=False)
    if many_days:
        table.add_column("as of", no_wrap=True)
    for head in ("shop", "category", "score", "grade"):
        table.add_column(head, no_wrap=True)
    labels = {i.name: i.label or i.name for i in rb.indicators}
    for name in names:
        table.add_column(labels[name], overflow="fold")
    table.add_column("actions")
    for res in results:
        j = shop_json(res, rb)
        cells = [res.as_of.isoformat()] if many_days else []
        cells += [res.shop_id, j["category"] or "", j["score"] or "—", j["grade"] or "—"]
        for name in names:
            item = j["indicators"].get(name)
            if item is None:
                cells.append("")
            elif not item["assessed"]:
                cells.append(f"[dim]{item['value'] or '—'} (n/a)[/dim]")
            else:
                cells.append(f"{item['value']} {item['band'] or ''}".strip())
        cells.append(", ".join(j["actions"]))
        table.add_row(*cells)
    out.print(table)
    if len(results) < len(run.results):
        out.print(f"{len(run.results) - len(results):,} more shop-days not shown: --format csv or json "
                  f"prints them all")
    grades = Counter(res.main_grade for res in run.results)
    summary = ", ".join(f"{g if g is not None else 'no grade'}: {n}" for g, n in sorted(grades.items(), key=str))
    out.print(f"{len(run.results)} shop-days scored{'; ' + summary if summary else ''}; "
              f"rulebook {run.stamp['rulebook_hash']}, data {run.stamp['dataset_fingerprint']}")


def _lowest(results: list) -> list:
    """The TABLE_ROWS lowest primary scores (no score last), in the order of the results."""
    def key(res):
        value = res.main_score.value if res.main_score is not None else None
        return value is None, value if value is not None else 0

    chosen = {id(r) for r in sorted(results, key=key)[:TABLE_ROWS]}
    return [r for r in results if id(r) in chosen]


def diff_report(result: dict) -> None:
    """`lhrule diff` for people: rule changes by dimension, then what they do to shops."""
    from rich.markup import escape

    out = console()
    out.print(f"[bold]{escape(result['old'])}[/] → [bold]{escape(result['new'])}[/], scored as of "
              f"{result['as_of']}")
    changes = result["rule_changes"]
    out.print(f"\n[bold]rule changes[/] ({len(changes)})" + ("" if changes else ": none"))
    by_dimension: dict[str, list[dict]] = {}
    for r in changes:
        by_dimension.setdefault(r["dimension"] or "", []).append(r)
    for dimension, rows in sorted(by_dimension.items()):
        out.print(f"  [bold]{escape(dimension or '(no dimension)')}[/]")
        for r in rows:
            where = _places(r["old"], r["new"])
            out.print(f"    {r['change']:<8} {r['kind']} {escape(r['name'])}  [blue]{escape(where)}[/]")
            for d in r["details"]:
                out.print(f"             {escape(d)}")
    s = result["summary"]
    delta = s["delta"]
    scores = "no score changed" if delta["min"] is None else \
        f"score change min {delta['min']}, median {delta['median']}, max {delta['max']}"
    out.print(f"\n[bold]shops[/]: {s['moved']} of {s['shops']} moved, {s['grade_changed']} changed grade; "
              f"{scores}; actions gained {s['actions_gained']}, lost {s['actions_lost']}")
    grades = sorted({t["old"] for t in s["transitions"]} | {t["new"] for t in s["transitions"]}, key=str)
    if len(grades) > 1 or s["grade_changed"]:
        title = "grade transitions (rows: old, columns: new)"
        table = Table(title=title, min_width=len(title))  # the title is not folded over a narrow table
        table.add_column("old \\ new")
        for g in grades:
            table.add_column(str(g), justify="right")
        cells = {(t["old"], t["new"]): t["shops"] for t in s["transitions"]}
        for a in grades:
            table.add_row(str(a), *(_cell(cells.get((a, b)), a != b) for b in grades))
        out.print(table)
    if s["distribution"]:
        table = Table(title="score changes of the shops that moved")
        table.add_column("from", justify="right")
        table.add_column("to", justify="right")
        table.add_column("shops", justify="right")
        table.add_column("")
        most = max(b["shops"] for b in s["distribution"])
        for b in s["distribution"]:
            table.add_row(b["from"], b["to"], str(b["shops"]), "█" * round(20 * b["shops"] / most))
        out.print(table)
    if s["attribution"]:
        table = Table(title="what each change does on its own")
        for name in ("change", "shops moved", "sum of score changes", "grades changed"):
            table.add_column(name, justify="left" if name == "change" else "right")
        for a in s["attribution"]:
            table.add_row(escape(a["change"]), str(a["shops"]), a["total_delta"], str(a["grade_changed"]))
        out.print(table)
        out.print(f"[dim]{escape(result['attribution_note'])}[/]")
    for e in result["not_attributed"]:
        out.print(f"[yellow]{escape(e['change'])} could not be scored on its own: {escape(e['error'])}[/]")
    for title, rows in (("top movers down", s["top_down"]), ("top movers up", s["top_up"])):
        if rows:
            out.print(f"\n[bold]{title}[/]")
            for c in rows:
                out.print(f"  {c['shop_id']} {escape(c['category'] or '')}: {c['old_score']} → {c['new_score']} "
                          f"({c['delta']}), grade {c['old_grade']} → {c['new_grade']}")
                why = [f"{b['change']} {b['delta']}" for b in c["because"]]
                if c["interaction"]:
                    why.append(f"interaction {c['interaction']}")
                if why:
                    out.print(f"    [dim]because: {escape('; '.join(why))}[/]")
    categories = {k: v for k, v in s["by_category"].items() if v.get("moved")}
    if categories:
        out.print("\n[bold]by main category[/]: " + ", ".join(
            f"{escape(k or '?')} {v.get('moved', 0)}/{v.get('moved', 0) + v.get('same', 0)}"
            for k, v in categories.items()))


def _cell(n: int | None, off_diagonal: bool) -> str:
    if not n:
        return ""
    return f"[bold]{n}[/]" if off_diagonal else str(n)


def _places(old: str | None, new: str | None) -> str:
    """file:12 → file:40, or file:12 → 40 when both are in one file."""
    if old and new and old.rpartition(":")[0] == new.rpartition(":")[0]:
        return f"{old} → {new.rpartition(':')[2]}"
    return " → ".join(x for x in (old, new) if x)
