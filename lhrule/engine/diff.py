"""Regression diff of two rulebooks on the same data: what changed in the rules, and what it
does to each shop.

The rule diff compares the two IRs declaration by declaration (each version by its name,
kind and start date), ignoring source positions, so formatting alone is never a change.
The shop diff scores both rulebooks with the same engine on the same data and day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from lhrule.engine import ir
from lhrule.engine.score import ShopResult, decimal_text

KINDS = ("tables", "params", "dimensions", "indicators", "exclusions", "bands", "scores", "grades", "actions")


@dataclass
class RuleChange:
    change: str  # added, removed, changed
    kind: str
    name: str
    fields: list[str] = field(default_factory=list)
    old: ir.Span | None = None
    new: ir.Span | None = None

    def to_json(self) -> dict:
        where = lambda s: f"{s.file}:{s.line}" if s else None  # noqa: E731
        return {"change": self.change, "kind": self.kind, "name": self.name, "fields": self.fields,
                "old": where(self.old), "new": where(self.new)}


def _plain(value):
    """A declaration as data, without source positions."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "span"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def rule_changes(old: ir.Rulebook, new: ir.Rulebook) -> list[RuleChange]:
    out: list[RuleChange] = []
    for kind in KINDS:
        def keyed(rb):
            return {(d.name, str(getattr(d, "effective", "") or "")): d for d in getattr(rb, kind)}

        before, after = keyed(old), keyed(new)
        names_before = {k[0] for k in before}
        names_after = {k[0] for k in after}
        label = kind[:-1]
        for name in sorted(names_before | names_after):
            a = {k: v for k, v in before.items() if k[0] == name}
            b = {k: v for k, v in after.items() if k[0] == name}
            if not b:
                out.append(RuleChange("removed", label, name, old=next(iter(a.values())).span))
                continue
            if not a:
                out.append(RuleChange("added", label, name, new=next(iter(b.values())).span))
                continue
            for key in sorted(set(a) | set(b)):
                if key not in b:
                    out.append(RuleChange("removed", label, f"{name} ({key[1]})", old=a[key].span))
                elif key not in a:
                    out.append(RuleChange("added", label, f"{name} ({key[1]})", new=b[key].span))
                else:
                    da, db = _plain(a[key].model_dump(mode="json")), _plain(b[key].model_dump(mode="json"))
                    fields = sorted(f for f in set(da) | set(db) if da.get(f) != db.get(f))
                    if fields:
                        out.append(RuleChange("changed", label, name, fields, a[key].span, b[key].span))
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
                "bands": {k: {"old": a, "new": b} for k, (a, b) in self.bands.items()}}


def _primary(res: ShopResult):
    score = next(iter(res.scores.values()), None)
    grade = next(iter(res.grades.values()), None)
    return (score.value if score else None), (grade.label if grade else None)


def shop_changes(old: list[ShopResult], new: list[ShopResult]) -> list[ShopChange]:
    after = {r.shop_id: r for r in new}
    out = []
    for a in old:
        b = after.get(a.shop_id)
        if b is None:
            continue
        (os_, og), (ns, ng) = _primary(a), _primary(b)
        on_a = {n for n, v in a.actions.items() if v}
        on_b = {n for n, v in b.actions.items() if v}
        bands = {}
        for name in sorted(set(a.indicators) | set(b.indicators)):
            la = a.indicators[name].level.label if name in a.indicators and a.indicators[name].level else None
            lb = b.indicators[name].level.label if name in b.indicators and b.indicators[name].level else None
            if la != lb:
                bands[name] = (la, lb)
        out.append(ShopChange(a.shop_id, a.shop.get("main_category"), os_, ns, og, ng, sorted(on_b - on_a),
                              sorted(on_a - on_b), bands))
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
        "by_category": {k: dict(v) for k, v in sorted(by_category.items())},
        "actions_gained": sum(len(c.gained) for c in changes),
        "actions_lost": sum(len(c.lost) for c in changes),
    }
