"""Building the scoring declarations: bands, dimensions, scores, grades and actions.

Part of the `Builder` (see `build.py`); split out to keep each module readable.
"""

from __future__ import annotations

from decimal import Decimal

from lhrule.ir import model as ir
from lhrule.diagnostics import did_you_mean
from lhrule.compiler.typecheck import NUMBER, comparable, describe
from lhrule.grammar import ast

HUNDRED_PERCENT = Decimal(1)


class ScoringBuilder:
    """Methods of `Builder` for the declarations that turn indicator values into grades."""

    # ------------------------------------------------------------------ levels
    def _levels(self, src, value_type: ir.Type, direction: str, relative: bool, what: str) -> tuple[ir.Level, ...] | None:
        levels: list[ir.Level] = []
        ok = True
        for s in src.all(ast.Level):
            cut_kind, op, expr = _cut(s.cutoff)
            threshold = points = None
            if cut_kind == "value":
                if relative:
                    self.rep.error("E031", "levels by rank use `top N%`, not a value cut-off", s.span)
                    ok = False
                    continue
                threshold = self.check.check(expr, self.scope(where="a cut-off"))
                if threshold is None:
                    ok = False
                    continue
                if not comparable(threshold.type, value_type):
                    self.rep.error("E020", f"{what} is {describe(value_type)}, but this cut-off is "
                                           f"{self.check.what(threshold)}", expr.span)
                    ok = False
                    continue
                want = (">=", ">") if direction == "higher" else ("<=", "<")
                if op not in want:
                    self.rep.error("E031", f"{what} is better when {direction}, so its levels are cut with "
                                           f"{' or '.join(want)}, best first; `{op}` reads the other way", s.span)
                    ok = False
                    continue
            elif cut_kind == "top":
                if not relative:
                    self.rep.error("E031", "`top N%` needs levels by rank: add `by rank within COLUMN` to the bands",
                                   s.span)
                    ok = False
                    continue
                threshold = self.check.check(expr, self.scope(where="a rank cut-off"))
                if threshold is None:
                    ok = False
                    continue
                value = self._constant(threshold)
                if threshold.type.name != "number" or value is None or not (0 < value <= 1):
                    self.rep.error("E031", "`top` takes a percentage above 0% and at most 100%", expr.span)
                    ok = False
                    continue
            if s.points is not None:
                points = self.check.check(s.points, self.scope(where="points"))
                if points is None:
                    ok = False
                    continue
                if points.type.name != "number":
                    self.rep.error("E020", f"points are a number, not {self.check.what(points)}", s.points.span)
                    ok = False
                    continue
            levels.append(ir.Level(label=s.label, cut=cut_kind, op=op, threshold=threshold, points=points,
                                   span=s.span))
        if not ok:
            return None
        if not levels:
            self.rep.error("E035", f"{src.decl.kind} `{src.decl.name}` has no levels", src.decl.name_span)
            return None
        return tuple(levels) if self._monotone(levels, direction, src) else None

    def _monotone(self, levels: list[ir.Level], direction: str, src) -> bool:
        labels: dict[str, ir.Level] = {}
        for lv in levels:
            if lv.label in labels:
                self.rep.error("E011", f'level "{lv.label}" is given twice', lv.span)
                return False
            labels[lv.label] = lv
        for lv in levels[:-1]:
            if lv.cut == "otherwise":
                self.rep.error("E031", "`otherwise` catches every value left, so it must be the last level", lv.span)
                return False
        if levels[-1].cut != "otherwise":
            self.rep.error("E031", "the last level must be `otherwise`, so that every value has a level",
                           levels[-1].span, suggestion='add a line such as "差" otherwise')
            return False
        prev = None
        for lv in levels[:-1]:
            value = self._constant(lv.threshold)
            if value is None:
                continue
            if prev is not None:
                if lv.cut == "top":
                    bad = value <= prev[0]
                    order = "larger than the one before (top 20%, then top 40% …)"
                else:
                    bad = value >= prev[0] if direction == "higher" else value <= prev[0]
                    order = "lower than the one before" if direction == "higher" else "higher than the one before"
                if bad:
                    self.rep.error("E031", f'levels are not monotone: the cut-off of "{lv.label}" must be {order}, best '
                                           f'level first', lv.span, notes=(f'previous level "{prev[1].label}" at line '
                                                                           f"{prev[1].span.line}",))
                    return False
            prev = (value, lv)
        return True

    def _within_a_rate(self, levels: tuple[ir.Level, ...], name: str) -> bool:
        """A rate is between 0% and 100%: a cut-off outside is never met, or always (`>= 90` for
        `>= 90%` is 9000%)."""
        for lv in levels:
            value = self._constant(lv.threshold) if lv.cut == "value" else None
            if value is not None and not 0 <= value <= 1:
                self.rep.error("E033", f'the cut-off of "{lv.label}" is {(value * 100).normalize():f}%, but indicator '
                                       f"{name} is a rate, between 0% and 100%", lv.span,
                               suggestion="write a rate's cut-off as a percentage, such as 90%")
                return False
        return True

    def _constant(self, e: ir.Expr | None) -> Decimal | None:
        """The value of a literal or of a param's default, for the checks that compare cut-offs."""
        if isinstance(e, ir.Literal_) and isinstance(e.value, Decimal):
            return e.value
        if isinstance(e, ir.ParamRef) and e.name in self.params:
            value = self.params[e.name].value
            return value.value if isinstance(value, ir.Literal_) and isinstance(value.value, Decimal) else None
        return None

    def _bands(self, src, indicators: dict[str, list[ir.Indicator]]) -> ir.Bands | None:
        d = src.decl
        if d.target is None:
            self.rep.error("E035", f"bands `{d.name}` must say which indicator they grade: bands {d.name} of INDICATOR",
                           d.name_span)
            return None
        if d.target not in indicators:
            if self.known_but_broken(d.target, "indicator"):
                return None
            self.rep.error("E010", f"bands `{d.name}` grade an unknown indicator `{d.target}`", d.target_span,
                           suggestion=did_you_mean(d.target, indicators))
            return None
        ind = indicators[d.target][0]
        if d.rank_within and (self.entity is None or self.tables[self.entity].column(d.rank_within) is None):
            self.rep.error("E013", f"rank within `{d.rank_within}`: that is not a column of the entity table",
                           d.span, suggestion=did_you_mean(d.rank_within, [c.name for c in
                                                                       self.tables[self.entity].columns]) if self.entity else None)
            return None
        levels = self._levels(src, ind.value_type, ind.direction, bool(d.rank_within), f"indicator {ind.name}")
        if levels is None or (ind.measure.kind == "rate" and not self._within_a_rate(levels, ind.name)):
            return None
        return ir.Bands(indicator=d.target, rank_within=d.rank_within, levels=levels, **src.common())

    def _grade(self, src, scores: set[str]) -> ir.Grade | None:
        d = src.decl
        if d.target is None or d.target not in scores:
            if self.known_but_broken(d.target, "score"):
                return None
            span = d.target_span or d.name_span
            self.rep.error("E010", f"grade `{d.name}` must be of a declared score" +
                           (f"; `{d.target}` is not one" if d.target else ": grade NAME of SCORE { … }"), span,
                           suggestion=did_you_mean(d.target, scores) if d.target else None)
            return None
        levels = self._levels(src, NUMBER, "higher", False, f"score {d.target}")
        if levels is None:
            return None
        return ir.Grade(score=d.target, levels=levels, **src.common())

    # ------------------------------------------------------------------ weights
    def _weights(self, stmts, allowed: set[str], owner: str) -> tuple[ir.Weight, ...] | None:
        weights: list[ir.Weight] = []
        for s in stmts:
            for w in s.weights:
                name, span, expr = w.name, w.name_span, w.value
                if name not in allowed:
                    self.rep.error("E010", f"{owner} weighs `{name}`, which is not one of its parts", span,
                                   suggestion=did_you_mean(name, allowed) or (f"its parts: {', '.join(sorted(allowed))}"
                                                                              if allowed else None))
                    return None
                lit = self.check.check(expr, self.scope(where="a weight"))
                if lit is None:
                    return None
                if not isinstance(lit, ir.Literal_) or lit.type.name != "number":
                    self.rep.error("E020", "a weight is a percentage such as 20%", expr.span)
                    return None
                if any(w.name == name for w in weights):
                    self.rep.error("E011", f"`{name}` is weighted twice", span)
                    return None
                weights.append(ir.Weight(name=name, weight=lit.value, span=span.model_copy(
                    update={"end_column": expr.span.end_column, "end_line": expr.span.end_line})))
        if weights:
            total = sum((w.weight for w in weights), Decimal(0))
            if total != HUNDRED_PERCENT:
                first, last = weights[0].span, weights[-1].span
                span = first.model_copy(update={"end_line": last.end_line, "end_column": last.end_column}) \
                    if first.line == last.line else first
                self.rep.error("E030", f"the weights of {owner} sum to {_percent(total)}, not 100%", span,
                               suggestion=f"make them add up to 100% ({_percent(HUNDRED_PERCENT - total)} "
                                          f"{'missing' if total < 1 else 'too much'})")
                return None
        return tuple(weights)

    def _weighted(self, src, allowed: set[str], owner: str) -> dict | None:
        weights = self._weights(src.all(ast.Weights), allowed, owner)
        if weights is None:
            return None
        overrides = []
        for s in src.all(ast.Override):
            head = self._override_head(s)
            if head is None:
                return None
            if s.body is None:
                self.rep.error("E034", "weights are overridden with a block: for COLUMN in {…} { weights … }", s.span)
                return None
            inner = [x for x in s.body if isinstance(x, ast.Weights)]
            for x in s.body:
                if not isinstance(x, ast.Weights):
                    self.rep.error("E034", "an override of weights holds `weights` lines only", x.span)
                    return None
            ws = self._weights(inner, allowed, f"{owner} for {', '.join(head[1])}")
            if ws is None:
                return None
            overrides.append(ir.Override(column=head[0], values=head[1], weights=ws, span=s.span))
        un = src.one(ast.Unassessed)
        policy, default = "reweight", None
        if un is not None and un.policy == "score":
            policy = "score"
            default = self.check.check(un.expr, self.scope(where="the score of an unassessed part"))
            if default is None:
                return None
        return {"weights": weights, "overrides": tuple(overrides), "unassessed": policy, "unassessed_score": default}

    def _dimension(self, src, members: set[str]) -> ir.Dimension | None:
        parts = self._weighted(src, members, f"dimension {src.decl.name}")
        if parts is None:
            return None
        return ir.Dimension(**parts, **src.common())

    def _score(self, src, weightable: set[str]) -> ir.Score | None:
        parts = self._weighted(src, weightable, f"score {src.decl.name}")
        if parts is None:
            return None
        if not parts["weights"]:
            self.rep.error("E035", f"score `{src.decl.name}` weighs nothing: add `weights NAME 20%, …`",
                           src.decl.name_span)
            return None
        rnd = src.one(ast.Round)
        return ir.Score(**parts, round=rnd.digits if rnd else None, **src.common())

    # ------------------------------------------------------------------ actions
    def _action(self, src, results: dict[str, tuple[str, ir.Type]]) -> ir.Action | None:
        d = src.decl
        when = src.one(ast.When)
        if when is None:
            self.rep.error("E035", f"action `{d.name}` needs `when CONDITION`", d.name_span)
            return None
        scope = self.scope(self.entity, f"the condition of action {d.name}", results)
        cond = self.check.condition(when.expr, scope)
        until = src.one(ast.Until)
        lift = self.check.condition(until.expr, scope) if until else None
        if cond is None or (until and lift is None):
            return None
        for node in (n for e in (cond, lift) if e is not None for n in ir.walk(e)):
            # An action is judged per shop, on its row and results: the events are not there.
            if isinstance(node, ir.Exists) or (isinstance(node, ir.ColumnRef) and node.via):
                what = "`exists`" if isinstance(node, ir.Exists) else "a related table's column"
                self.rep.error("E034", f"{what} does not belong in an action's condition: it reads the shop's own "
                                       f"columns and its results", node.span,
                               suggestion="count the rows in an indicator, and test the indicator here")
                return None
        return ir.Action(when=cond, until=lift, **src.common())


def _cut(cutoff: ast.Cutoff) -> tuple[str, str | None, ast.Expr | None]:
    """A level's cut-off as the IR names it: its kind, its comparison and its expression."""
    match cutoff:
        case ast.CutValue(op, value):
            return "value", op, value
        case ast.CutTop(share):
            return "top", None, share
        case ast.CutOtherwise():
            return "otherwise", None, None


def _percent(x: Decimal) -> str:
    return f"{(x * 100).normalize():f}%"

