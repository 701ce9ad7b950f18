"""Rich rendering of results for people."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lhrule.cli.safe_text import visible, visible_lines


# A table of thousands of rows reads no better than its lowest scores, and rich lays out each
# row slowly (benchmarks/RESULTS.md): past this many shop-days the table shows the lowest scores.
TABLE_ROWS = 100


def cell(value, style: str | None = None) -> Text:
    return Text(visible(value), style=style or "")


def console(stderr: bool = False) -> Console:
    """Rich's console for stdout. Piped or redirected, Rich folds every line at 80 columns
    unless COLUMNS says otherwise: a file:line split in two, a condition spread over three
    lines, nine indicators' names a letter a line. There each line keeps its own length.
    Emoji codes are left as written: `:heart:` in a shop id is not a heart."""
    import os

    out = Console(stderr=stderr, emoji=False)
    if out.is_terminal or os.environ.get("COLUMNS"):
        return out
    return Console(stderr=stderr, emoji=False, width=100_000)


def score_table(run) -> None:
    from lhrule.output.contract import shop_json

    out = console()
    rb = run.rulebook.ir
    many_days = len(run.days) > 1
    names = [i.name for i in rb.indicators]
    names = list(dict.fromkeys(names))
    results = run.results
    title = visible(rb.label or rb.name)
    if len(results) > TABLE_ROWS:
        results = _lowest(results)
        title += f": the {TABLE_ROWS} lowest scores of {len(run.results):,} shop-days"
    table = Table(title=Text(title), show_lines=False)
    if many_days:
        table.add_column("as of", no_wrap=True)
    for head in ("shop", "category", "score", "grade"):
        table.add_column(head, no_wrap=True)
    labels = {i.name: i.label or i.name for i in rb.indicators}
    for name in names:
        table.add_column(Text(visible(labels[name])), overflow="fold")
    table.add_column("actions")
    for res in results:  # every cell a Text: an id or a label is shown, never read as markup
        j = shop_json(res, rb)
        cells = [cell(res.as_of.isoformat())] if many_days else []
        cells += [cell(res.shop_id), cell(j["category"] or ""), cell(j["score"] or "—"), cell(j["grade"] or "—")]
        for name in names:
            item = j["indicators"].get(name)
            if item is None:
                cells.append(cell(""))
            elif not item["assessed"]:
                cells.append(cell(f"{item['value'] or '—'} (n/a)", "dim"))
            else:
                cells.append(cell(f"{item['value']} {visible(item['band'] or '')}".strip()))
        cells.append(cell(", ".join(visible(a) for a in j["actions"])))
        table.add_row(*cells)
    out.print(table)
    if len(results) < len(run.results):
        out.print(f"{len(run.results) - len(results):,} more shop-days not shown: --format csv or json "
                  f"prints them all")
    grades = Counter(res.main_grade for res in run.results)
    summary = ", ".join(f"{visible(g) if g is not None else 'no grade'}: {n}"
                        for g, n in sorted(grades.items(), key=str))
    out.print(Text(f"{len(run.results)} shop-days scored{'; ' + summary if summary else ''}; "
                   f"rulebook {run.stamp['rulebook_hash']}, data {run.stamp['dataset_fingerprint']}"))


def _lowest(results: list) -> list:
    """The TABLE_ROWS lowest primary scores (no score last), in the order of the results."""
    def key(res):
        value = res.main_score.value if res.main_score is not None else None
        return value is None, value if value is not None else 0

    chosen = {id(r) for r in sorted(results, key=key)[:TABLE_ROWS]}
    return [r for r in results if id(r) in chosen]


def line(*parts) -> Text:
    """A line of our words and the data's values: a str part is shown as it is (`visible`),
    a (value, style) part styled; nothing is read as markup."""
    return Text.assemble(*((visible_lines(str(p[0])), p[1]) if isinstance(p, tuple) else visible_lines(str(p))
                           for p in parts))


def diff_report(result: dict) -> None:
    """`lhrule diff` for people: rule changes by dimension, then what they do to shops."""
    def v(value) -> str:
        return visible("None" if value is None else value)

    out = console()
    out.print(line((v(result["old"]), "bold"), " → ", (v(result["new"]), "bold"),
                   f", scored as of {result['as_of']}"))
    changes = result["rule_changes"]
    out.print(line("\n", ("rule changes", "bold"), f" ({len(changes)})" + ("" if changes else ": none")))
    by_dimension: dict[str, list[dict]] = {}
    for r in changes:
        by_dimension.setdefault(r["dimension"] or "", []).append(r)
    for dimension, rows in sorted(by_dimension.items()):
        out.print(line("  ", (v(dimension or "(no dimension)"), "bold")))
        for r in rows:
            where = _places(r["old"], r["new"])
            out.print(line(f"    {v(r['change']):<8} {v(r['kind'])} {v(r['name'])}  ", (v(where), "blue")))
            for d in r["details"]:
                out.print(line(f"             {d}"))
    s = result["summary"]
    delta = s["delta"]
    scores = "no score changed" if delta["min"] is None else \
        f"score change min {delta['min']}, median {delta['median']}, max {delta['max']}"
    out.print(line("\n", ("shops", "bold"), f": {s['moved']} of {s['shops']} moved, {s['grade_changed']} changed "
                   f"grade; {scores}; actions gained {s['actions_gained']}, lost {s['actions_lost']}"))
    grades = sorted({t["old"] for t in s["transitions"]} | {t["new"] for t in s["transitions"]}, key=str)
    if len(grades) > 1 or s["grade_changed"]:
        title = "grade transitions (rows: old, columns: new)"
        table = Table(title=title, min_width=len(title))  # the title is not folded over a narrow table
        table.add_column("old \\ new")
        for g in grades:
            table.add_column(cell(str(g)), justify="right")
        cells = {(t["old"], t["new"]): t["shops"] for t in s["transitions"]}
        for a in grades:
            table.add_row(cell(str(a)), *(_cell(cells.get((a, b)), a != b) for b in grades))
        out.print(table)
    if s["distribution"]:
        table = Table(title="score changes of the shops that moved")
        table.add_column("from", justify="right")
        table.add_column("to", justify="right")
        table.add_column("shops", justify="right")
        table.add_column("")
        most = max(b["shops"] for b in s["distribution"])
        for b in s["distribution"]:
            table.add_row(cell(b["from"]), cell(b["to"]), str(b["shops"]), "█" * round(20 * b["shops"] / most))
        out.print(table)
    if s["attribution"]:
        table = Table(title="what each change does on its own")
        for name in ("change", "shops moved", "sum of score changes", "grades changed"):
            table.add_column(name, justify="left" if name == "change" else "right")
        for a in s["attribution"]:
            table.add_row(cell(a["change"]), str(a["shops"]), cell(a["total_delta"]), str(a["grade_changed"]))
        out.print(table)
        out.print(line((result["attribution_note"], "dim")))
    for e in result["not_attributed"]:
        out.print(line((f"{v(e['change'])} could not be scored on its own: {e['error']}", "yellow")))
    for title, rows in (("top movers down", s["top_down"]), ("top movers up", s["top_up"])):
        if rows:
            out.print(line("\n", (title, "bold")))
            for c in rows:
                out.print(line(f"  {v(c['shop_id'])} {v(c['category'] or '')}: {v(c['old_score'])} → "
                               f"{v(c['new_score'])} ({v(c['delta'])}), grade {v(c['old_grade'])} → "
                               f"{v(c['new_grade'])}"))
                why = [f"{v(b['change'])} {v(b['delta'])}" for b in c["because"]]
                if c["interaction"]:
                    why.append(f"interaction {v(c['interaction'])}")
                if why:
                    out.print(line("    ", (f"because: {'; '.join(why)}", "dim")))
    categories = {k: n for k, n in s["by_category"].items() if n.get("moved")}
    if categories:
        out.print(line("\n", ("by main category", "bold"), ": " + ", ".join(
            f"{visible(k or '?')} {n.get('moved', 0)}/{n.get('moved', 0) + n.get('same', 0)}"
            for k, n in categories.items())))


def _cell(n: int | None, off_diagonal: bool) -> str:
    if not n:
        return ""
    return f"[bold]{n}[/]" if off_diagonal else str(n)


def _places(old: str | None, new: str | None) -> str:
    """file:12 → file:40, or file:12 → 40 when both are in one file."""
    if old and new and old.rpartition(":")[0] == new.rpartition(":")[0]:
        return f"{old} → {new.rpartition(':')[2]}"
    return " → ".join(x for x in (old, new) if x)
