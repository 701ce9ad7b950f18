"""Building `test` blocks: the rows they give and the results they expect.

Part of the `Builder` (see `build.py`). Columns a given row leaves out are filled by the
engine when the test runs (keys numbered, the shop's id from the row); the compiler
checks the columns that are there.
"""

from __future__ import annotations

import datetime as dt

from lhrule.ir import model as ir
from lhrule.diagnostics import did_you_mean
from lhrule.compiler.typecheck import comparable, describe
from lhrule.grammar import ast


class TestBuilder:
    """Methods of `Builder` for tests."""

    def _test(self, d: ast.Decl, results: dict[str, tuple[str, ir.Type]], kinds: dict, bands: list[ir.Bands],
              grades: list[ir.Grade]) -> ir.Test | None:
        ok = True
        as_of = None
        stmts = list(d.body or ())
        s = next((x for x in stmts if isinstance(x, ast.AsOf)), None)
        if s is None:
            self.rep.error("E050", f'test "{d.name}" needs `as of DATE`: the day it scores', d.name_span)
            ok = False
        else:
            try:
                as_of = dt.date.fromisoformat(s.date)
            except ValueError:
                self.rep.error("E002", f"`{s.date}` is not a valid date", s.date_span)
                ok = False
        given = []
        for g in (x for x in stmts if isinstance(x, ast.Given)):
            built = self._given(g)
            ok = ok and built is not None
            if built is not None:
                given.append(built)
        expects = []
        for e in (x for x in stmts if isinstance(x, ast.Expect)):
            built = self._expect(e, results, kinds, bands, grades)
            ok = ok and built is not None
            if built is not None:
                expects.append(built)
        if not expects and ok:
            self.rep.error("E050", f'test "{d.name}" expects nothing: add `expect …` lines', d.name_span)
            ok = False
        if not ok:
            return None
        return ir.Test(name=d.name, as_of=as_of, given=tuple(given), expects=tuple(expects), span=d.span)

    def _given(self, g: ast.Given) -> ir.Given | None:
        name = g.table
        table = self.tables.get(name)
        if table is None:
            self.rep.error("E012", f"unknown table `{name}`", g.table_span, suggestion=did_you_mean(name, self.tables))
            return None
        rows = []
        for row in g.rows:
            values: dict[str, ir.Literal_] = {}
            for field in row.fields:
                col_name, col_span, expr = field.name, field.name_span, field.value
                col = table.column(col_name)
                if col is None:
                    self.rep.error("E013", f"{name} has no column `{col_name}`", col_span,
                                   suggestion=did_you_mean(col_name, [c.name for c in table.columns]))
                    return None
                if col_name in values:
                    self.rep.error("E011", f"`{col_name}` is given twice in this row", col_span)
                    return None
                lit = self.check.check(expr, self.scope(where=f"{name}.{col_name}"), col.type)
                if lit is None:
                    return None
                if not isinstance(lit, ir.Literal_):
                    self.rep.error("E050", "a given row holds literal values", expr.span)
                    return None
                if lit.type.name == "null":
                    if not col.optional:
                        self.rep.error("E050", f"{name}.{col_name} is required; it cannot be null", expr.span,
                                       suggestion=f"declare it optional (`{col_name}: {col.type.name}?`) or give a value")
                        return None
                elif not _fits(lit, col.type):
                    self.rep.error("E020", f"{name}.{col_name} is {describe(col.type)}, not {self.check.what(lit)}",
                                   expr.span)
                    return None
                if col.type.name == "enum" and lit.value is not None and lit.value not in col.type.values:
                    self.rep.error("E010", f"`{lit.value}` is not one of the values {', '.join(col.type.values)}",
                                   expr.span, suggestion=did_you_mean(str(lit.value), col.type.values))
                    return None
                values[col_name] = lit
            rows.append(ir.GivenRow(values=values, span=row.span if row.fields else g.span))
        return ir.Given(table=name, rows=tuple(rows), span=g.span)

    def _expect(self, e: ast.Expect, results, kinds, bands: list[ir.Bands], grades: list[ir.Grade]) -> ir.Expect | None:
        name, span = e.name, e.name_span
        what, value = _outcome(e.outcome)
        of = "action" if name in kinds["action"] else results.get(name, (None,))[0]
        if of is None:
            if self.declared.get(name) in ("indicator", "score", "grade", "action", "dimension"):
                return None
            self.rep.error("E010", f"`{name}` is not an indicator, score, grade or action", span,
                           suggestion=did_you_mean(name, set(results) | set(kinds["action"])))
            return None
        base = {"name": name, "of": of, "shop": e.shop, "negated": e.negated, "span": e.span}
        if e.negated and of != "action":
            self.rep.error("E050", "`expect no …` is for actions; for a value write `expect NAME for SHOP = …`", e.span)
            return None
        if what == "in_force":
            if of != "action":
                self.rep.error("E050", f"say what to expect of {of} `{name}`: `= value`"
                               + (', `band "…"`, `points N` or `not assessed`' if of == "indicator" else ""), e.span)
                return None
            return ir.Expect(what="in_force", **base)
        if of == "action":
            self.rep.error("E050", f"`{name}` is an action: write `expect {name} for \"SHOP\"` or `expect no {name} "
                                   f"for \"SHOP\"`", e.span)
            return None
        if what == "not_assessed":
            return ir.Expect(what="not_assessed", **base)
        if what == "band":
            labels = {lv.label for b in bands if b.indicator == name for lv in b.levels}
            if of != "indicator" or not labels:
                self.rep.error("E050", f"`{name}` has no bands to expect a band of", span)
                return None
            if value not in labels:
                self.rep.error("E050", f'"{value}" is not a band of {name}', e.span,
                               suggestion=f"its bands: {', '.join(sorted(labels))}")
                return None
            return ir.Expect(what="band", band=value, **base)
        if what == "value" and of == "indicator" and isinstance(value, ast.Binary) and value.op == "/" \
                and all(isinstance(x, ast.Lit) and x.kind == "int" for x in (value.left, value.right)):
            return ir.Expect(what="ratio", numerator=int(value.left.text), denominator=int(value.right.text), **base)
        lit = self.check.check(value, self.scope(where="an expected value"))
        if lit is None:
            return None
        if not isinstance(lit, ir.Literal_):
            self.rep.error("E050", "an expected value is a literal (80%, 3.6, 12m, \"4.5\", or 13 / 16 for a rate)",
                           value.span)
            return None
        want = results[name][1] if what == "value" else ir.Type(name="number")
        if of == "grade":
            labels = {lv.label for g in grades if g.name == name for lv in g.levels}
            if lit.type.name != "string" or lit.value not in labels:
                self.rep.error("E050", f"grade {name} is one of {', '.join(sorted(labels))}", value.span)
                return None
        elif not comparable(lit.type, want):
            self.rep.error("E050", f"{of} {name} is {describe(want)}; this expects {self.check.what(lit)}", value.span)
            return None
        return ir.Expect(what=what, value=lit, **base)


def _outcome(outcome: ast.Outcome | None) -> tuple[str, ast.Expr | str | None]:
    """What a test expects, as the IR names it, and the value it gives (a band's label for a band)."""
    match outcome:
        case None:
            return "in_force", None
        case ast.ExpectValue(value):
            return "value", value
        case ast.ExpectNotAssessed():
            return "not_assessed", None
        case ast.ExpectBand(band):
            return "band", band
        case ast.ExpectPoints(points):
            return "points", points


def _fits(lit: ir.Literal_, col: ir.Type) -> bool:
    if col.name in ("string", "id", "enum", "list"):
        return lit.type.name in ("string", "enum")
    return lit.type.name == col.name or (col.name == "timestamp" and lit.type.name == "date")

