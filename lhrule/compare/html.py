"""`lhrule diff --html`: one self-contained page, plots as inline SVG, no scripts, nothing
fetched. Score histograms before and after on one scale, the grade transitions as a heat
map, the score changes, then the tables: rule changes, what each change does alone, movers.
"""

from __future__ import annotations

from fractions import Fraction
from html import escape

from lhrule.compare.sides import Comparison, primary
from lhrule.compare.changes import bin_counts
from lhrule.safe_write import html_generator

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} .loc{color:#36c;font-family:monospace;font-size:12px}
.detail{color:#555;font-family:monospace;font-size:12px} .note{color:#666;font-style:italic}
.plots{display:flex;flex-wrap:wrap;gap:2em} figure{margin:0} figcaption{font-weight:600;margin-bottom:.3em}
"""


def histograms(before: list[Fraction], after: list[Fraction], n: int = 20) -> str:
    """Two histograms of scores on one scale: old in grey, new in blue, overlaid."""
    values = before + after
    if not values:
        return "<p class='note'>no scores</p>"
    lo, hi = min(values), max(values)
    a, b = bin_counts(before, lo, hi, n), bin_counts(after, lo, hi, n)
    top = max(a + b) or 1
    w, h, pad = 520, 220, 30
    bar = (w - 2 * pad) / n
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h + 40}' role='img' "
             f"aria-label='score histograms'>"]
    for i, (x, y) in enumerate(zip(a, b)):
        left = pad + i * bar
        for count, color, shift in ((x, "#bbb", 0), (y, "#3a7bd5", bar / 2)):
            height = (h - pad) * count / top
            parts.append(f"<rect x='{left + shift:.1f}' y='{h - height:.1f}' width='{bar / 2 - 1:.1f}' "
                         f"height='{height:.1f}' fill='{color}'><title>{count} shops</title></rect>")
    parts.append(f"<line x1='{pad}' y1='{h}' x2='{w - pad}' y2='{h}' stroke='#333'/>")
    for i in range(0, n + 1, 5):
        x = pad + i * bar
        value = lo + (hi - lo) * i / n
        parts.append(f"<text x='{x:.1f}' y='{h + 15}' font-size='11' text-anchor='middle'>{float(value):.3g}</text>")
    parts.append(f"<text x='{pad}' y='{pad - 12}' font-size='11'>most in a bin: {top}</text>")
    parts.append(f"<rect x='{w - 170}' y='{h + 24}' width='10' height='10' fill='#bbb'/>"
                 f"<text x='{w - 155}' y='{h + 33}' font-size='11'>old</text>"
                 f"<rect x='{w - 110}' y='{h + 24}' width='10' height='10' fill='#3a7bd5'/>"
                 f"<text x='{w - 95}' y='{h + 33}' font-size='11'>new</text></svg>")
    return "".join(parts)


def heat_map(transitions: list[dict]) -> str:
    """The grade transition matrix: rows old, columns new, darker for more shops."""
    grades = sorted({t["old"] for t in transitions} | {t["new"] for t in transitions}, key=str)
    if not grades:
        return "<p class='note'>no grades</p>"
    cells = {(t["old"], t["new"]): t["shops"] for t in transitions}
    most = max(cells.values()) or 1
    size, pad = 46, 70
    w = h = pad + size * len(grades) + 10
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h + 20}' role='img' "
             f"aria-label='grade transitions'>",
             f"<text x='{pad}' y='14' font-size='11'>new grade →</text>",
             f"<text x='4' y='{pad - 8}' font-size='11'>old ↓</text>"]
    for j, g in enumerate(grades):
        parts.append(f"<text x='{pad + j * size + size / 2}' y='{pad - 8}' font-size='12' "
                     f"text-anchor='middle'>{escape(str(g))}</text>")
    for i, a in enumerate(grades):
        y = pad + i * size
        parts.append(f"<text x='{pad - 6}' y='{y + size / 2 + 4}' font-size='12' "
                     f"text-anchor='end'>{escape(str(a))}</text>")
        for j, b in enumerate(grades):
            n = cells.get((a, b), 0)
            shade = 0.08 + 0.92 * n / most if n else 0
            color = "58,123,213" if a == b else "213,94,58"
            parts.append(f"<rect x='{pad + j * size}' y='{y}' width='{size - 2}' height='{size - 2}' "
                         f"fill='rgba({color},{shade:.2f})' stroke='#ddd'><title>{escape(str(a))} → "
                         f"{escape(str(b))}: {n} shops</title></rect>")
            if n:
                ink = "#fff" if shade > 0.55 else "#222"
                parts.append(f"<text x='{pad + j * size + size / 2 - 1}' y='{y + size / 2 + 4}' font-size='12' "
                             f"text-anchor='middle' fill='{ink}'>{n}</text>")
    parts.append("</svg>")
    return "".join(parts)


def delta_bars(distribution: list[dict]) -> str:
    if not distribution:
        return "<p class='note'>no score moved</p>"
    most = max(b["shops"] for b in distribution) or 1
    rows = "".join(f"<tr><td class='n'>{escape(b['from'])} .. {escape(b['to'])}</td><td class='n'>{b['shops']}</td>"
                   f"<td><svg width='{8 + 300 * b['shops'] / most:.0f}' height='12'><rect width='"
                   f"{8 + 300 * b['shops'] / most:.0f}' height='12' fill='#3a7bd5'/></svg></td></tr>"
                   for b in distribution)
    return f"<table><tr><th>score change</th><th>shops</th><th></th></tr>{rows}</table>"


def to_html(result: dict, comparison: Comparison) -> str:
    s = result["summary"]
    before = [v for v, _ in map(primary, comparison.old) if v is not None]
    after = [v for v, _ in map(primary, comparison.new) if v is not None]
    title = f"lhrule diff: {result['old']} → {result['new']}"
    out = [f"<!doctype html><html lang='zh'><head><meta charset='utf-8'>{html_generator('diff.html')}"
           f"<title>{escape(title)}</title>"
           f"<style>{CSS}</style></head><body>",
           f"<h1>{escape(result['old'])} → {escape(result['new'])}</h1>",
           f"<p>scored as of {escape(result['as_of'])}: <b>{s['moved']}</b> of {s['shops']} shops moved, "
           f"<b>{s['grade_changed']}</b> changed grade; score change min {s['delta']['min']}, median "
           f"{s['delta']['median']}, max {s['delta']['max']}; actions gained {s['actions_gained']}, "
           f"lost {s['actions_lost']}.</p>",
           "<div class='plots'><figure><figcaption>scores, old and new</figcaption>"
           f"{histograms(before, after)}</figure><figure><figcaption>grade transitions</figcaption>"
           f"{heat_map(s['transitions'])}</figure></div>",
           f"<h2>score changes of the shops that moved</h2>{delta_bars(s['distribution'])}",
           f"<h2>rule changes ({len(result['rule_changes'])})</h2>", _rule_table(result["rule_changes"])]
    if s["attribution"]:
        rows = "".join(f"<tr><td>{escape(a['change'])}</td><td class='n'>{a['shops']}</td>"
                       f"<td class='n'>{escape(a['total_delta'])}</td><td class='n'>{a['grade_changed']}</td></tr>"
                       for a in s["attribution"])
        out.append("<h2>what each change does on its own</h2><table><tr><th>change</th><th>shops moved</th>"
                   f"<th>sum of score changes</th><th>grades changed</th></tr>{rows}</table>"
                   f"<p class='note'>{escape(result['attribution_note'])}</p>")
    for e in result.get("not_attributed", []):
        out.append(f"<p class='note'>{escape(e['change'])} could not be scored on its own: {escape(e['error'])}</p>")
    for title_, rows_ in (("top movers down", s["top_down"]), ("top movers up", s["top_up"])):
        if rows_:
            out.append(f"<h2>{title_}</h2>{_movers(rows_)}")
    cats = "".join(f"<tr><td>{escape(k or '?')}</td><td class='n'>{v.get('moved', 0)}</td>"
                   f"<td class='n'>{v.get('moved', 0) + v.get('same', 0)}</td></tr>"
                   for k, v in s["by_category"].items())
    out.append(f"<h2>by main category</h2><table><tr><th>category</th><th>moved</th><th>shops</th></tr>{cats}</table>")
    out.append("</body></html>")
    return "\n".join(out)


def _rule_table(changes: list[dict]) -> str:
    if not changes:
        return "<p class='note'>none: the two versions act alike</p>"
    rows = []
    for r in sorted(changes, key=lambda r: (r["dimension"] or "", r["kind"], r["name"])):
        where = " → ".join(x for x in (r["old"], r["new"]) if x)
        details = "<br>".join(escape(d) for d in r["details"])
        rows.append(f"<tr><td>{escape(r['dimension'] or '')}</td><td>{escape(r['change'])}</td>"
                    f"<td>{escape(r['kind'])} <b>{escape(r['name'])}</b><div class='detail'>{details}</div></td>"
                    f"<td class='loc'>{escape(where)}</td></tr>")
    return ("<table><tr><th>dimension</th><th>change</th><th>rule</th><th>where (old → new)</th></tr>"
            + "".join(rows) + "</table>")


def _movers(rows: list[dict]) -> str:
    body = []
    for c in rows:
        why = [f"{b['change']} {b['delta']}" for b in c["because"]]
        if c["interaction"]:
            why.append(f"interaction {c['interaction']}")
        body.append(f"<tr><td>{escape(c['shop_id'])}</td><td>{escape(c['category'] or '')}</td>"
                    f"<td class='n'>{c['old_score']} → {c['new_score']}</td><td class='n'>{c['delta']}</td>"
                    f"<td>{escape(str(c['old_grade']))} → {escape(str(c['new_grade']))}</td>"
                    f"<td class='detail'>{escape('; '.join(why))}</td></tr>")
    return ("<table><tr><th>shop</th><th>category</th><th>score</th><th>change</th><th>grade</th>"
            "<th>because (one at a time)</th></tr>" + "".join(body) + "</table>")
