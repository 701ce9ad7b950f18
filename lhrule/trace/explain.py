"""`explain`: one shop's result as a tree, from the grade down to the events.

The tree is built from the engine's own result for the shop (`score.score` restricted to
it) and the indicator flags of `query.flags_query`: there is no second implementation to
disagree with the batch score. Every node names the rule that produced it (file, line,
column) and the policy clause it cites. The tree is data (`Node`); `cli/explain.py`
renders it as text, and `to_html` as a self-contained page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

from sqlglot import exp

from lhrule.ir import model as ir
from lhrule.engine.sql.dialects import render
from lhrule.ir.plan import plan_for
from lhrule.engine import columns as c
from lhrule.engine.kinds import is_duration, kind_of
from lhrule.engine.sql.queries import exclusion_column, flags_query
from lhrule.engine.run.results import IndicatorResult, PartResult, ShopResult, decimal_text
from lhrule.engine.run.score import score
from lhrule.engine.sql.expressions import coalesce_false, lit
from lhrule.ir.evaluate import MICROS

VERDICTS = ("counted", "not_counted", "excluded", "duplicate", "filtered", "outside_window")


@dataclass
class Node:
    kind: str
    name: str
    value: str | None = None
    detail: str | None = None
    rule: dict | None = None
    cite: str | None = None
    children: list[Node] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    assumptions: tuple[str, ...] = ()  # the readings of the rule that the policy text leaves open

    def to_json(self) -> dict:
        out = {"kind": self.kind, "name": self.name, "value": self.value}
        if self.detail:
            out["detail"] = self.detail
        out.update({"rule": self.rule, "cite": self.cite})
        if self.assumptions:
            out["assumptions"] = list(self.assumptions)
        out.update(self.data)
        out["children"] = [c.to_json() for c in self.children]
        return out


def _rule(span) -> dict | None:
    return {"file": span.file, "line": span.line, "column": span.column} if span else None


def _cite(decl) -> str | None:
    if not getattr(decl, "cites", None):
        return None
    cite = decl.cites[0]
    return f"{cite.source}: {cite.quote}" if cite.quote else cite.source


def num(value: Fraction | None, digits: int = 4) -> str | None:
    return decimal_text(value, digits)


def duration_text(seconds) -> str:
    total = int(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    d, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{d}d" if d else "", f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s or not total else ""]
    return sign + "".join(parts)


class Explainer:
    def __init__(self, con, rb: ir.Rulebook, sources: dict[str, str], events: int | None = 5, peers=None):
        self.con, self.rb, self.sources, self.events, self.peers = con, rb, sources, events, peers
        self.rb_params = {p.name: p for p in rb.params}

    def text_of(self, node) -> str:
        sp = node.span
        lines = self.sources.get(sp.file, "").splitlines()
        if sp.line > len(lines):
            return ""
        if sp.line == sp.end_line:
            return lines[sp.line - 1][sp.column - 1: sp.end_column - 1]
        return lines[sp.line - 1][sp.column - 1:].strip() + " …"

    def explain(self, shop: str, day: dt.date) -> Node | None:
        results = score(self.con, self.rb, [day], [shop], self.peers)
        if not results:
            return None
        res = results[0]
        root = Node("shop", shop, value=None, detail=f"as of {day}",
                    data={"as_of": day.isoformat(), "category": res.shop.get("main_category"),
                          "rulebook": self.rb.name})
        used: set[str] = set()
        for name, gr in zip(res.grades, res.plan.grades):
            level = res.grades[name]
            node = Node("grade", name, value=level.label if level else None, rule=_rule((level or gr).span),
                        cite=_cite(gr), assumptions=gr.assumptions,
                        detail=self._level_text(level, gr.levels) if level else "no score to grade",
                        data={"label": gr.label})
            sc = res.scores.get(gr.score)
            if sc is not None:
                node.children.append(self._part(sc, res, used))
            root.children.append(node)
        graded = {g.score for g in res.plan.grades}
        for name, sc in res.scores.items():
            if name not in graded:
                root.children.append(self._part(sc, res, used))
        rest = [n for n in res.indicators if n not in used]
        if rest:
            other = Node("group", "indicators", detail="indicators outside the score")
            other.children = [self._indicator(res.indicators[n], res) for n in rest]
            root.children.append(other)
        for action in res.plan.actions:
            root.children.append(self._action(action, res))
        root.value = root.children[0].value if root.children and root.children[0].kind == "grade" else None
        return root

    # -- scores ------------------------------------------------------------------------
    def _part(self, part: PartResult, res: ShopResult, used: set[str]) -> Node:
        decl = part.decl
        kind = "score" if isinstance(decl, ir.Score) else "dimension"
        where = f"weights for {part.override.column} in {{{', '.join(part.override.values)}}}" if part.override \
            else "weights"
        terms = [f"{num(part.used[n])} × {num(w * 100, 2)}%" for n, w in part.weights.items() if n in part.used]
        counted = sum((w for n, w in part.weights.items() if n in part.used), Fraction(0))
        detail = " + ".join(terms) if terms else "nothing assessed"
        if terms and counted != 1:
            detail = f"({detail}) ÷ {num(counted * 100, 2)}%"
        if part.missing:
            policy = "re-weighted" if decl.unassessed == "reweight" else f"scored {num(self._unassessed(decl, res))}"
            detail += f"; not assessed: {', '.join(part.missing)} ({policy})"
        if getattr(decl, "round", None) is not None:
            detail += f"; rounded to {decl.round} places"
        node = Node(kind, part.name, value=num(part.value), detail=detail,
                    rule=_rule(part.override.span if part.override else decl.span), cite=_cite(decl),
                    assumptions=decl.assumptions,
                    data={"label": decl.label, "weights": {n: num(w) for n, w in part.weights.items()},
                          "weights_from": where})
        for name, weight in part.weights.items():
            if name in res.dimensions:
                child = self._part(res.dimensions[name], res, used)
            elif name in res.indicators:
                child = self._indicator(res.indicators[name], res)
                used.add(name)
            else:
                continue
            child.data["weight"] = num(weight)
            node.children.append(child)
        if kind == "dimension":
            for ind in res.plan.indicators:
                if ind.dimension == part.name:
                    used.add(ind.name)
                    if ind.name not in part.weights:
                        node.children.append(self._indicator(res.indicators[ind.name], res))
        return node

    def _unassessed(self, decl, res):
        from lhrule.ir.evaluate import evaluate, to_fraction

        return to_fraction(evaluate(decl.unassessed_score, res)) if decl.unassessed_score is not None else None

    def _level_text(self, level: ir.Level, levels) -> str:
        if level.cut == "otherwise":
            return f'"{level.label}" otherwise'
        text = self.text_of(level.threshold)
        if isinstance(level.threshold, ir.ParamRef):  # name the param, and show the value it had
            param = self.rb_params.get(level.threshold.name)
            if param is not None and isinstance(param.value, ir.Literal_) and not param.overrides:
                text += f" ({self.text_of(param.value)})"
        return f'"{level.label}" {level.op or "top"} {text}'

    # -- indicators --------------------------------------------------------------------
    def _indicator(self, r: IndicatorResult, res: ShopResult) -> Node:
        ind = r.version
        duration = ind.value_type.name == "duration"
        show = (lambda v: duration_text(v) if v is not None else None) if duration else \
            (lambda v: num(v, ind.round if ind.round is not None else 4))
        formula = kind_of(ind.measure).formula(r, show)
        detail = formula + (f" = {show(r.value)}" if r.value is not None else "")
        if not r.assessed:
            detail += f"; not assessed: {r.reason}"
        bands = res.plan.bands.get(ind.name)
        if r.level is not None:
            detail += f"; band {self._level_text(r.level, bands.levels)}"
            if r.rank is not None:
                detail += f" (rank {r.rank} of {r.group_size} in {bands.rank_within} {r.group})"
            if r.points is not None:
                detail += f" → {num(r.points)} points"
        node = Node("indicator", ind.name, value=show(r.value), detail=detail, rule=_rule(ind.span), cite=_cite(ind),
                    assumptions=ind.assumptions,
                    data={"label": ind.label, "assessed": r.assessed, "numerator": r.numerator if isinstance(
                        r.numerator, int) else num(r.numerator, 6), "denominator": r.rows,
                          "band": r.level.label if r.level else None, "points": num(r.points),
                          "excluded": r.excluded})
        if ind.min_sample is not None:
            node.data["min_sample"] = self.text_of(ind.min_sample)
        node.children = self._events(ind, res)
        return node

    def _events(self, ind: ir.Indicator, res: ShopResult) -> list[Node]:
        """The indicator's events by verdict: every verdict counted in SQL, and only the
        events shown (the first few of each verdict, by time) fetched and explained."""
        plan = plan_for(self.rb, res.as_of)
        query = flags_query(self.rb, plan, ind, [res.as_of], [res.shop_id], whole_table=True)
        exclusions = {exclusion_column(x): x for x in plan.exclusions_of(ind.name)}
        rel = self.con.sql(render(_shown_events(query, _verdict_sql(ind, list(exclusions)), self.events),
                                  getattr(self.con, "dialect", "duckdb")))
        names = rel.columns
        rows = [dict(zip(names, row)) for row in rel.fetchall()]
        parts = kind_of(ind.measure).conditions(ind.measure)
        groups: dict[str, list[Node]] = {v: [] for v in VERDICTS}
        counts = dict.fromkeys(VERDICTS, 0)
        for row in rows:
            name, why, rule, cite = self._verdict(row, ind, exclusions, parts)
            assert name == row[c.VERDICT], (name, row[c.VERDICT])  # the SQL and the explanation agree
            counts[name] = row[c.VERDICT_COUNT]
            groups[name].append(Node("event", str(row[c.EVENT_ID]), value=name, detail=why, rule=rule,
                                     cite=cite, data={"at": row[c.AT].isoformat(sep=" ") if row[c.AT] else None}))
        out = []
        for name in VERDICTS:
            if counts[name]:
                n = len(groups[name])
                more = f", first {n} shown" if n < counts[name] else ""
                out.append(Node("events", name, value=str(counts[name]), detail=f"{counts[name]} events{more}",
                                children=groups[name], data={"count": counts[name]}))
        return out

    def _verdict(self, row: dict, ind: ir.Indicator, exclusions: dict, parts: list) -> tuple:
        if not row[c.IN_WINDOW]:
            w = ind.window
            return "outside_window", f"{w.column} {row['at']} is outside T-{w.start_offset} .. T-{w.end_offset}", \
                _rule(w.span), None
        for i, f in enumerate(ind.filters, 1):
            if not row[c.where_column(i)]:
                return "filtered", f"fails `where {self.text_of(f)}`", _rule(f.span), None
        for column, x in exclusions.items():
            if row[column]:
                return "excluded", f"excluded by {x.name} ({x.label or x.name})", _rule(x.span), _cite(x)
        if not row[c.KEPT]:
            keys = ", ".join(self.text_of(k) for k in ind.once_per)
            return "duplicate", f"an earlier event has the same {keys}", _rule(ind.once_per[0].span), None
        judged = kind_of(ind.measure).verdict(row, len(parts))
        if judged.failed is not None:
            i = judged.failed
            part = parts[i - 1]
            seen = row.get(c.condition_value_column(i))
            if seen is not None and part.left.type.name == "duration":
                seen = duration_text(Fraction(seen) / MICROS)
            shown = f": {seen}" if seen is not None else (": missing" if c.condition_value_column(i) in row else "")
            return judged.verdict, f"fails `{self.text_of(part)}`{shown}", _rule(part.span), None
        why = judged.why
        if judged.shows_value:
            value = row.get(c.VALUE)
            shown = duration_text(Fraction(value) / MICROS) if value is not None and \
                is_duration(ind.measure) else num(Fraction(value), 6) if value is not None else None
            why = f"value {shown}" if shown else None
        return judged.verdict, why, _rule(ind.measure.span), None

    # -- actions -----------------------------------------------------------------------
    def _action(self, action: ir.Action, res: ShopResult) -> Node:
        on = res.actions.get(action.name, False)
        since = res.action_since.get(action.name)
        detail = f"when {self.text_of(action.when)}"
        if action.until is not None:
            detail += f"; until {self.text_of(action.until)}"
        if on and since:
            detail += f"; in force since {since}"
        return Node("action", action.name, value="in force" if on else "not in force", detail=detail,
                    rule=_rule(action.span), cite=_cite(action),
                    assumptions=action.assumptions,
                    data={"label": action.label, "in_force": on, "since": since.isoformat() if since else None})


def _verdict_sql(ind: ir.Indicator, exclusions: list[str]) -> exp.Expression:
    """The verdict of a flagged row, as `Explainer._verdict` gives it, in SQL (NULL is false)."""
    def holds(name: str) -> exp.Expression:
        return coalesce_false(exp.column(name, quoted=True))

    def case(cond: exp.Expression, verdict: str) -> exp.If:
        return exp.If(this=cond, true=lit(verdict))

    ifs = [case(exp.Not(this=holds(c.IN_WINDOW)), "outside_window")]
    ifs += [case(exp.Not(this=holds(c.where_column(i))), "filtered") for i in range(1, len(ind.filters) + 1)]
    ifs += [case(holds(x), "excluded") for x in exclusions]
    ifs.append(case(exp.Not(this=holds(c.KEPT)), "duplicate"))
    measured, otherwise = kind_of(ind.measure).verdict_sql(holds)
    ifs += [case(cond, verdict) for cond, verdict in measured]
    return exp.Case(ifs=ifs, default=lit(otherwise))


def _shown_events(flags: exp.Select, verdict: exp.Expression, events: int | None) -> exp.Select:
    """The flagged rows with their verdict and how many rows share it; only the first
    `events` of each verdict by time (all when None), in time order."""
    judged = exp.select("*", exp.alias_(verdict, c.VERDICT)).from_(flags.subquery("f", copy=False), copy=False)
    by_verdict = [exp.column(c.VERDICT)]
    counted = exp.select("*", exp.alias_(exp.Window(this=exp.Count(this=exp.Star()), partition_by=by_verdict),
                                         c.VERDICT_COUNT),
                         exp.alias_(exp.Window(this=exp.RowNumber(), partition_by=[v.copy() for v in by_verdict],
                                               order=exp.Order(expressions=_time_order())), c.VERDICT_ROW)
                         ).from_(judged.subquery("j", copy=False), copy=False)
    shown = exp.select("*").from_(counted.subquery("c", copy=False), copy=False)
    if events is not None:
        shown = shown.where(exp.LTE(this=exp.column(c.VERDICT_ROW), expression=lit(int(events))), copy=False)
    return shown.order_by(*_time_order(), copy=False)


def _time_order() -> list[exp.Ordered]:
    return [exp.Ordered(this=exp.column(c.AT, quoted=True), nulls_first=True),
            exp.Ordered(this=exp.column(c.EVENT_ID), nulls_first=False)]
