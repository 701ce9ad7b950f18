"""Regression diff of two rulebooks on the same data: what changed in the rules, and what it
does to each shop.

The rule diff compares the two IRs declaration by declaration (each version by its name,
kind and start date), ignoring source positions, so formatting alone is never a change.
The shop diff scores both rulebooks with the same engine on the same data and day.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from lhrule.ir import model as ir
from lhrule.compare.sides import Comparison, plain, primary
from lhrule.engine.run.results import decimal_text

KINDS = ("tables", "params", "dimensions", "indicators", "exclusions", "bands", "scores", "grades", "actions")
# The rulebook's own settings that change what is scored: the zone its days and times are
# local to, and the table scored. Every other field of `ir.Rulebook` is in KINDS or in
# NOT_SCORING, which says why it moves no score (tests/test_safety_check.py holds the
# rulebook's fields to that).
SETTINGS = ("timezone", "entity")
NOT_SCORING = {
    "name": "the rulebook's name, shown in reports",
    "label": "a display name",
    "version": "a version string, shown in reports",
    "cites": "where the rules come from",
    "files": "the files read: their declarations are compared one by one",
    "effective": "the default range of declarations, compared in each declaration's own range",
    "tests": "test blocks run by `lhrule test`, not by scoring",
    "span": "a place in the source",
}


@dataclass
class RuleChange:
    change: str  # added, removed, changed, retired, display only, assessed again
    kind: str
    name: str
    fields: list[str] = field(default_factory=list)
    old: ir.Span | None = None
    new: ir.Span | None = None
    dimension: str | None = None  # the dimension of the indicator it concerns
    details: list[str] = field(default_factory=list)  # "field: old → new", in the rules' own words

    def to_json(self) -> dict:
        where = lambda s: f"{s.file}:{s.line}" if s else None  # noqa: E731
        return {"change": self.change, "kind": self.kind, "name": self.name, "dimension": self.dimension,
                "fields": self.fields, "details": self.details, "old": where(self.old), "new": where(self.new)}


def _text(value, sources: dict[str, str], limit: int = 70) -> str:
    """A field's value as the rules write it: the source text under its span."""
    if value is None or value == ():
        return "—"
    if isinstance(value, tuple):
        return _clip("; ".join(_text(v, sources, limit) for v in value), limit)
    span = getattr(value, "span", None)
    if span is not None and not isinstance(value, ir.Decl):
        lines = sources.get(span.file, "").splitlines()
        if 0 < span.line <= span.end_line <= len(lines):
            chunk = lines[span.line - 1: span.end_line]
            chunk[-1] = chunk[-1][: span.end_column - 1]
            chunk[0] = chunk[0][span.column - 1:]
            text = " ".join(" ".join(line.split("#")[0].split()) for line in chunk)
            return _clip(text.strip(), limit)
    if isinstance(value, ir.Effective):
        return str(value) or "always"
    return _clip(str(value), limit)


# A token of an expression with the spaces before it: a name (dotted or not), a number, or
# one other character. Tokens are compared without their spaces.
_TOKEN = re.compile(r"\s*(?:[\w.]+|[^\w\s])")
CONTEXT = 24  # characters of unchanged text kept on each side of a change in a long text


def _focus(a: str, b: str, limit: int = 70) -> str:
    """`a → b`; for long texts the new one with what was taken out as [-…-] and what was put
    in as {+…+} (as `git diff --word-diff`), the unchanged stretches between cut short."""
    if len(a) <= limit and len(b) <= limit:
        return f"{a} → {b}"
    x, y = _TOKEN.findall(a), _TOKEN.findall(b)
    ops = difflib.SequenceMatcher(None, [t.strip() for t in x], [t.strip() for t in y], autojunk=False).get_opcodes()
    out = []
    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        if op == "equal":
            out.append(_cut("".join(y[j1:j2]), first=n == 0, last=n == len(ops) - 1))
            continue
        old, new = "".join(x[i1:i2]), "".join(y[j1:j2])
        space = re.match(r"\s*", old if op == "delete" else new).group()
        out.append(space + (f"[-{_clip(old.strip(), limit)}-]" if old else "")
                   + (f"{{+{_clip(new.strip(), limit)}+}}" if new else ""))
    return "".join(out).strip()


def _cut(same: str, first: bool, last: bool) -> str:
    """An unchanged stretch of a long text: about CONTEXT characters next to each change (whole
    words), the rest left out as "…"."""
    if len(same) <= (CONTEXT if first or last else 2 * CONTEXT) + 2:
        return same
    head = same[:CONTEXT]
    head = head[: head.rindex(" ")] if " " in head.lstrip() else head
    tail = same[-CONTEXT:]
    tail = tail[tail.index(" ") + 1:] if " " in tail.rstrip() else tail
    if first:
        return "… " + tail
    return head + " …" if last else f"{head} … {tail}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


STATUS = {"retired": "retired", "display_only": "display only", "assessed": "assessed again"}


def describe(kind: str, name: str, a: ir.Decl | None, b: ir.Decl | None, sources: tuple[dict, dict],
             dimensions: dict[str, str | None], drop: frozenset = frozenset({"span"})) -> RuleChange | None:
    """One declaration's change, or None when the two act and read alike."""
    dimension = getattr(b or a, "dimension", None) if kind == "indicator" else \
        dimensions.get(getattr(b or a, "indicator", None) or next(iter(getattr(b or a, "applies_to", ()) or ()), ""))
    if b is None:
        return RuleChange("removed", kind, name, old=a.span, dimension=dimension)
    if a is None:
        return RuleChange("added", kind, name, new=b.span, dimension=dimension)
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    fields = sorted(f for f in set(da) | set(db) if f not in drop and plain(da.get(f)) != plain(db.get(f)))
    if not fields:
        return None
    change = STATUS[b.status] if "status" in fields and kind == "indicator" else "changed"
    details = [line for f in fields if f not in ("cites", "assumptions")
               for line in _details(f, getattr(a, f, None), getattr(b, f, None), sources)]
    details += _elsewhere(fields, a, b)
    return RuleChange(change, kind, name, fields, a.span, b.span, dimension, details)


def _elsewhere(fields: list[str], a: ir.Decl, b: ir.Decl) -> list[str]:
    """Where a changed statement is written outside the declaration's own file (a metric of
    an included library that the indicator extends), so the change is told at its source."""
    out = []
    for f in fields:
        for decl, when in ((b, "now"), (a, "was")):
            span = _first_span(getattr(decl, f, None))
            if span is not None and span.file != decl.span.file:
                out.append(f"{f}: {when} from {span.file}:{span.line}")
                break
    return out


def _first_span(value, depth: int = 0) -> ir.Span | None:
    if value is None or depth > 3:
        return None
    span = getattr(value, "span", None)
    if isinstance(span, ir.Span) and not isinstance(value, ir.Decl):
        return span
    items = value if isinstance(value, tuple) else tuple(v for v in getattr(value, "__dict__", {}).values()
                                                         if v is not None and not isinstance(v, (str, int, bool)))
    for item in items:
        found = _first_span(item, depth + 1)
        if found is not None:
            return found
    return None


def _details(name: str, a, b, sources: tuple[dict, dict], limit: int = 70) -> list[str]:
    """`name: old → new`; for a long list of named parts (a table's columns), a line per part
    added (+), removed (−) or changed, so one column's change is not lost among the others."""
    x, y = _text(a, sources[0], 10_000), _text(b, sources[1], 10_000)
    whole = [f"{name}: " + _focus(x, y, limit)]
    if len(x) <= limit and len(y) <= limit or not (_named(a) and _named(b)):
        return whole
    old, new = {p.name: p for p in a}, {p.name: p for p in b}
    out = []
    for part in [*old, *(n for n in new if n not in old)]:
        p, q = old.get(part), new.get(part)
        if q is None:
            out.append(f"{name}: − {_text(p, sources[0], limit)}")
        elif p is None:
            out.append(f"{name}: + {_text(q, sources[1], limit)}")
        elif plain(p.model_dump(mode="json")) != plain(q.model_dump(mode="json")):
            out.append(f"{name}: " + _focus(_text(p, sources[0], 10_000), _text(q, sources[1], 10_000), limit))
    return out or whole  # the same parts, in another order


def _named(value) -> bool:
    """A tuple of parts each with a name of its own (a table's columns)."""
    if not isinstance(value, tuple) or not value or not all(isinstance(getattr(v, "name", None), str) for v in value):
        return False
    return len({v.name for v in value}) == len(value)


def _dimensions(*rbs: ir.Rulebook) -> dict[str, str | None]:
    return {i.name: i.dimension for rb in rbs for i in rb.indicators}


def rule_changes(old: ir.Rulebook, new: ir.Rulebook, sources: tuple[dict, dict] = ({}, {})) -> list[RuleChange]:
    """Every declaration version added, removed or changed (a version is its name, kind and
    start date)."""
    out: list[RuleChange] = settings_changes(old, new)
    dims = _dimensions(old, new)
    for kind in KINDS:
        def keyed(rb):
            return {(d.name, str(getattr(d, "effective", "") or "")): d for d in getattr(rb, kind)}

        before, after = keyed(old), keyed(new)
        label = kind[:-1]
        for name in sorted({k[0] for k in before} | {k[0] for k in after}):
            a = {k: v for k, v in before.items() if k[0] == name}
            b = {k: v for k, v in after.items() if k[0] == name}
            if not a or not b:
                found = describe(label, name, next(iter(a.values()), None), next(iter(b.values()), None), sources,
                                 dims)
                out.append(found)
                continue
            if len(a) == len(b):  # as many versions: paired in order, so a moved date is a change
                pairs = list(zip(_by_start(a), _by_start(b)))
            else:
                pairs = [(a.get(k), b.get(k)) for k in sorted(set(a) | set(b))]
            for x, y in pairs:
                shown = name if len(a) == len(b) == 1 else f"{name} ({(y or x).effective})"
                found = describe(label, shown, x, y, sources, dims)
                if found is not None:
                    out.append(found)
    return out


def _by_start(versions: dict) -> list:
    return sorted(versions.values(), key=lambda d: (d.effective.start or dt.date.min))


def settings_changes(old: ir.Rulebook, new: ir.Rulebook) -> list[RuleChange]:
    """The rulebook's own settings that differ (its time zone, its entity), each a change."""
    out = []
    for name in SETTINGS:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            out.append(RuleChange("changed", "rulebook", new.name, [name], old.span, new.span,
                                  details=[f"{name}: {a or '—'} → {b or '—'}"]))
    return out


def plan_rule_changes(parts, old: ir.Rulebook, new: ir.Rulebook, sources: tuple[dict, dict]) -> list[RuleChange]:
    """The rule changes between the rules in force on two days: one per part that differs,
    provenance (citations, dates) aside; and the rulebook's settings and tables, which hold
    on every day."""
    dims = _dimensions(old, new)
    out = settings_changes(old, new)
    a, b = {t.name: t for t in old.tables}, {t.name: t for t in new.tables}
    for name in sorted(set(a) | set(b)):
        found = describe("table", name, a.get(name), b.get(name), sources, dims,
                         frozenset({"span", "effective", "cites", "assumptions", "label"}))
        if found is not None:
            out.append(found)
    for p in parts:
        if p.part == "settings":
            continue
        found = describe("bands" if p.part == "bands" else p.part[:-1], p.name, p.old, p.new, sources, dims,
                         frozenset({"span", "effective", "cites", "assumptions", "label"}))
        if found is not None:
            out.append(found)
    return out


@dataclass
class ShopChange:
    shop_id: str
    category: str | None
    old_score: Fraction | None
    new_score: Fraction | None
    old_grade: str | None
    new_grade: str | None
    gained: list[str]
    lost: list[str]
    bands: dict[str, tuple[str | None, str | None]]
    because: list[tuple[str, Fraction | None, str | None]] = field(default_factory=list)  # part, Δ, grade alone
    interaction: Fraction | None = None  # the move not accounted for by the parts one at a time

    @property
    def delta(self) -> Fraction | None:
        if self.old_score is None or self.new_score is None:
            return None
        return self.new_score - self.old_score

    @property
    def moved(self) -> bool:
        return (self.old_score != self.new_score or self.old_grade != self.new_grade or bool(self.gained)
                or bool(self.lost) or bool(self.bands))

    def to_json(self) -> dict:
        return {"shop_id": self.shop_id, "category": self.category, "old_score": decimal_text(self.old_score),
                "new_score": decimal_text(self.new_score), "delta": decimal_text(self.delta),
                "old_grade": self.old_grade, "new_grade": self.new_grade, "actions_gained": self.gained,
                "actions_lost": self.lost,
                "bands": {k: {"old": a, "new": b} for k, (a, b) in self.bands.items()},
                "because": [{"change": c, "delta": decimal_text(d), "grade_alone": g} for c, d, g in self.because],
                "interaction": decimal_text(self.interaction) if self.interaction else None}


def shop_changes(comparison: Comparison) -> list[ShopChange]:
    after = {r.shop_id: r for r in comparison.new}
    alone = [(e, e.change.title) for e in comparison.effects if not e.error]
    out = []
    for a in comparison.old:
        b = after.get(a.shop_id)
        if b is None:
            continue
        (os_, og), (ns, ng) = primary(a), primary(b)
        on_a = {n for n, v in a.actions.items() if v}
        on_b = {n for n, v in b.actions.items() if v}
        bands = {}
        for name in sorted(set(a.indicators) | set(b.indicators)):
            la = a.indicators[name].level.label if name in a.indicators and a.indicators[name].level else None
            lb = b.indicators[name].level.label if name in b.indicators and b.indicators[name].level else None
            if la != lb:
                bands[name] = (la, lb)
        change = ShopChange(a.shop_id, a.shop.get("main_category"), os_, ns, og, ng, sorted(on_b - on_a),
                            sorted(on_a - on_b), bands)
        if (os_, og) != (ns, ng):
            explained = Fraction(0)
            for effect, title in alone:
                s, g = effect.by_shop.get(a.shop_id, (os_, og))
                if (s, g) == (os_, og):
                    continue
                d = s - os_ if s is not None and os_ is not None else None
                explained += d or 0
                change.because.append((title, d, g if g != og else None))
            change.because.sort(key=lambda x: -abs(x[1] or 0))
            if comparison.effects and change.delta is not None:
                change.interaction = change.delta - explained
        out.append(change)
    return out


def summary(changes: list[ShopChange]) -> dict:
    moved = [c for c in changes if c.moved]
    deltas = sorted(c.delta for c in changes if c.delta is not None)
    transitions = Counter((c.old_grade, c.new_grade) for c in changes)
    movers = sorted((c for c in changes if c.delta), key=lambda c: (c.delta, c.shop_id))
    by_category: dict[str, Counter] = {}
    for c in changes:
        by_category.setdefault(c.category or "", Counter())["moved" if c.moved else "same"] += 1
    return {
        "shops": len(changes),
        "moved": len(moved),
        "grade_changed": sum(c.old_grade != c.new_grade for c in changes),
        "transitions": [{"old": a, "new": b, "shops": n} for (a, b), n in sorted(transitions.items(), key=str)],
        "delta": {"min": decimal_text(deltas[0]) if deltas else None,
                  "median": decimal_text(deltas[len(deltas) // 2]) if deltas else None,
                  "max": decimal_text(deltas[-1]) if deltas else None},
        "top_down": [c.to_json() for c in movers[:10] if c.delta < 0],
        "top_up": [c.to_json() for c in reversed(movers[-10:]) if c.delta > 0],
        "distribution": histogram([d for d in deltas if d]),
        "by_category": {k: dict(v) for k, v in sorted(by_category.items())},
        "actions_gained": sum(len(c.gained) for c in changes),
        "actions_lost": sum(len(c.lost) for c in changes),
        "attribution": attribution_summary(changes),
    }


def bin_counts(values: list[Fraction], lo: Fraction, hi: Fraction, bins: int) -> list[int]:
    """How many values fall in each of `bins` equal-width bins from lo to hi (the last bin
    holds hi; when lo = hi everything is in the first)."""
    width = (hi - lo) / bins if hi > lo else Fraction(1)
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return counts


def histogram(values: list[Fraction], bins: int = 10) -> list[dict]:
    """Counts in `bins` equal-width bins from the least value to the greatest."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    bins = bins if hi > lo else 1
    width = (hi - lo) / bins if hi > lo else Fraction(1)
    return [{"from": decimal_text(lo + i * width), "to": decimal_text(lo + (i + 1) * width), "shops": n}
            for i, n in enumerate(bin_counts(values, lo, hi, bins))]


ATTRIBUTION_NOTE = ("one-at-a-time attribution: each change is applied alone to the old rules and its effect "
                    "read from the old score; where changes interact, the effects do not add up to the move, "
                    "and the rest is shown as the interaction")


def attribution_summary(changes: list[ShopChange]) -> list[dict]:
    """Per rule change: the shops it moves on its own, the sum of those moves, the grades it
    changes on its own."""
    rows: dict[str, dict] = {}
    for c in changes:
        for title, delta, grade in c.because:
            row = rows.setdefault(title, {"change": title, "shops": 0, "total_delta": Fraction(0), "grade_changed": 0})
            row["shops"] += 1
            row["total_delta"] += delta or 0
            row["grade_changed"] += grade is not None
    out = sorted(rows.values(), key=lambda r: (-r["shops"], r["change"]))
    for r in out:
        r["total_delta"] = decimal_text(r["total_delta"])
    return out
