"""Rich rendering of results for people."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table


def score_table(run) -> None:
    from lhrule.engine.report import shop_json

    console = Console()
    rb = run.rulebook.ir
    many_days = len(run.days) > 1
    names = [i.name for i in rb.indicators]
    names = list(dict.fromkeys(names))
    table = Table(title=f"{rb.label or rb.name}", show_lines=False)
    if many_days:
        table.add_column("as of")
    for head in ("shop", "category", "score", "grade"):
        table.add_column(head)
    labels = {i.name: i.label or i.name for i in rb.indicators}
    for name in names:
        table.add_column(labels[name], overflow="fold")
    table.add_column("actions")
    grades: Counter = Counter()
    for res in run.results:
        j = shop_json(res, rb)
        grades[j["grade"]] += 1
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
    console.print(table)
    summary = ", ".join(f"{g if g is not None else 'no grade'}: {n}" for g, n in sorted(grades.items(), key=str))
    console.print(f"{len(run.results)} shop-days scored; {summary}; rulebook {run.stamp['rulebook_hash']}, "
                  f"data {run.stamp['dataset_fingerprint']}")
