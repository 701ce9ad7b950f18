"""Building the IR record of each declaration version from its statements.

`compile.py` decides which statements make up each version (explicit ranges, revisions,
retirements); this module turns one version's statements into its typed IR record and
checks what concerns that declaration alone (its names, types, weights, levels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from lhrule.ir import model as ir
from lhrule.diagnostics import Reporter, Span, did_you_mean
from lhrule.compiler.build_scoring import ScoringBuilder
from lhrule.compiler.build_tests import TestBuilder
from lhrule.compiler.typecheck import (BASE_TYPES, MAX_SCALE, NUMBER, NUMBER_SCALE, STRING, Checker, Scope, describe,
                                     divides, scales, widest)
from lhrule.grammar import ast

S = TypeVar("S")


@dataclass
class Source:
    """The statements of one version of a declaration."""

    decl: ast.Decl
    stmts: list[ast.Stmt]
    effective: ir.Effective
    explicit: bool = False
    change: ast.Decl | None = None  # the revise/retire that made this version

    @property
    def span(self):
        return (self.change or self.decl).span

    def one(self, cls: type[S]) -> S | None:
        return next((s for s in self.stmts if isinstance(s, cls)), None)

    def all(self, cls: type[S]) -> list[S]:
        return [s for s in self.stmts if isinstance(s, cls)]

    def common(self) -> dict:
        return {"name": self.decl.name, "label": self.decl.label, "effective": self.effective, "span": self.span,
                "cites": tuple(ir.Cite(source=s.source, quote=s.quote, span=s.span) for s in self.all(ast.Cite)),
                "assumptions": tuple(s.text for s in self.all(ast.Assumption))}



@dataclass
class Builder(ScoringBuilder, TestBuilder):
    rep: Reporter
    timezone: str
    default_effective: ir.Effective
    sources: dict[str, str] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)  # every declared name -> its kind, built or not
    tables: dict[str, ir.Table] = field(default_factory=dict)
    params: dict[str, ir.Param] = field(default_factory=dict)
    entity: str | None = None

    def __post_init__(self):
        self.check = Checker(self.rep, self.timezone, self.sources)

    def scope(self, row_table: str | None = None, where: str = "this expression", results=None) -> Scope:
        return Scope(self.tables, self.params, row_table, {}, results or {}, where)

    # ------------------------------------------------------------------ whole rulebook
    def build(self, header: dict, sources: list[Source], tests: list[ast.Decl], files: tuple[str, ...]) -> ir.Rulebook:
        by_kind: dict[str, list[Source]] = {}
        for src in sources:
            by_kind.setdefault(src.decl.kind, []).append(src)
            self.declared.setdefault(src.decl.name, src.decl.kind)
        for src in by_kind.get("entity", []) + by_kind.get("table", []):
            self._table(src)
        self._relations()
        params = [p for p in (self._param(s) for s in by_kind.get("param", [])) if p is not None]
        for param in params:
            self.params.setdefault(param.name, param)
        dim_names = {s.decl.name for s in by_kind.get("dimension", [])}
        members: dict[str, set[str]] = {}
        for src in by_kind.get("indicator", []):
            if (dim := src.one(ast.InDimension)) is not None:
                # An unknown dimension is reported once, at the indicator; meanwhile the
                # indicator may belong to any dimension, so no weight line is blamed for it.
                for name in [dim.name] if dim.name in dim_names else dim_names:
                    members.setdefault(name, set()).add(src.decl.name)
        indicators = [i for i in (self._indicator(s, dim_names) for s in by_kind.get("indicator", [])) if i]
        ind_by_name: dict[str, list[ir.Indicator]] = {}
        for ind in indicators:
            ind_by_name.setdefault(ind.name, []).append(ind)
        exclusions = [x for x in (self._exclusion(s, ind_by_name) for s in by_kind.get("exclusion", [])) if x]
        bands = [b for b in (self._bands(s, ind_by_name) for s in by_kind.get("bands", [])) if b]
        dimensions = [d for d in (self._dimension(s, members.get(s.decl.name, set()))
                                  for s in by_kind.get("dimension", [])) if d]
        weightable = {n for n, k in self.declared.items() if k in ("dimension", "indicator")}
        scores = [s for s in (self._score(s, weightable) for s in by_kind.get("score", [])) if s]
        score_names = {s.name for s in scores}
        grades = [g for g in (self._grade(s, score_names) for s in by_kind.get("grade", [])) if g]
        results: dict[str, tuple[str, ir.Type]] = {n: ("indicator", v[0].value_type) for n, v in ind_by_name.items()}
        results.update({n: ("score", NUMBER) for n in score_names})
        results.update({d.name: ("dimension", NUMBER) for d in dimensions})
        results.update({g.name: ("grade", STRING) for g in grades})
        actions = [a for a in (self._action(s, results) for s in by_kind.get("action", [])) if a]
        rulebook_kinds = {"indicator": ind_by_name, "action": {a.name for a in actions}}
        built = [t for t in (self._test(d, results, rulebook_kinds, bands, grades) for d in tests) if t]
        return ir.Rulebook(name=header["name"], label=header["label"], version=header["version"],
                           timezone=header["timezone"], effective=header["effective"], cites=header["cites"],
                           files=files, entity=self.entity, tables=tuple(self.tables.values()), params=tuple(params),
                           dimensions=tuple(dimensions), indicators=tuple(indicators), exclusions=tuple(exclusions),
                           bands=tuple(bands), scores=tuple(scores), grades=tuple(grades), actions=tuple(actions),
                           tests=tuple(built), span=header["span"])

    # ------------------------------------------------------------------ schema
    def _table(self, src: Source) -> None:
        d = src.decl
        if d.name in self.tables:
            return
        columns: list[ir.Column] = []
        for s in src.all(ast.Column):
            name = s.name
            if any(c.name == name for c in columns):
                self.rep.error("E011", f"column `{name}` is declared twice in {d.name}", s.name_span)
                continue
            twin = next((c for c in columns if c.name.lower() == name.lower()), None)
            if twin is not None and same_but_case(name, s.name_span, "column", twin, self.rep):
                continue
            typ = self._type(s.type)
            if typ is None:
                continue
            rel = s.relation
            relation = None
            if rel:
                relation = rel.alias or (name[:-3] if name.endswith("_id") else name)
            integer = isinstance(s.type, ast.BaseType) and s.type.name == "int"
            columns.append(ir.Column(name=name, type=typ, integer=integer, optional=s.optional, key=s.key,
                                     relation=relation, target=rel.target if rel else None, span=s.span))
        keys = [c for c in columns if c.key]
        if len(keys) > 1:
            self.rep.error("E011", f"table {d.name} has two keys; mark one column `key`", keys[1].span)
        if d.kind == "entity":
            if self.entity and self.entity != d.name:
                self.rep.error("E011", f"there is already an entity table, {self.entity}; a rulebook scores one kind "
                                       f"of thing", d.name_span)
            else:
                self.entity = d.name
            if not keys:
                self.rep.error("E035", f"the entity table {d.name} needs a key column, e.g. `shop_id: id key`",
                               d.name_span)
        self.tables[d.name] = ir.Table(entity=d.kind == "entity", columns=tuple(columns),
                                       **{k: v for k, v in src.common().items() if k != "effective"})

    def _type(self, t: ast.BaseType | ast.EnumType) -> ir.Type | None:
        if isinstance(t, ast.EnumType):
            return ir.Type(name="enum", values=t.values)
        name, span = t.name, t.span
        if name not in BASE_TYPES:
            self.rep.error("E015", f"unknown type `{name}`", span,
                           suggestion=did_you_mean(name, BASE_TYPES) or
                           "the types are " + ", ".join(sorted(BASE_TYPES)) + " and enum {a, b}")
            return None
        return BASE_TYPES[name]

    def _relations(self) -> None:
        for table in self.tables.values():
            for col in table.columns:
                if not col.target:
                    continue
                target = self.tables.get(col.target)
                if target is None:
                    self.rep.error("E012", f"{table.name}.{col.name} relates to an unknown table `{col.target}`",
                                   col.span, suggestion=did_you_mean(col.target, self.tables))
                elif target.key is None:
                    self.rep.error("E014", f"{col.target} has no key column for {table.name}.{col.name} to point at",
                                   col.span, suggestion=f"mark the id column of {col.target} with `key`")
        bad = [(t, c) for t in self.tables.values() for c in t.columns if c.target and c.target not in self.tables]
        if bad:  # keep later lookups safe: drop relations to unknown tables
            for t, _ in bad:
                cols = tuple(c if c.target in self.tables or not c.target else c.model_copy(update={"relation": None,
                             "target": None}) for c in t.columns)
                self.tables[t.name] = t.model_copy(update={"columns": cols})

    def known_but_broken(self, name: str | None, kind: str) -> bool:
        """A declared name whose declaration had errors: say nothing more about it."""
        return self.declared.get(name or "") == kind

    def in_sql(self, e: ir.Expr | None, value: str | None = None, summed: bool = False) -> ir.Expr | None:
        """`e`, when the engines compute it exactly (else None, reported): it is compiled to SQL.
        `value` names a place where each row gives a value (a measure, a `once per` key), which
        a division need not give exactly; `summed`, one the engine adds up in DECIMAL(38,6)."""
        if e is None:
            return None
        if value is not None and divides(e):
            self.rep.error("E021", f"{value} is a value of each row, and a division need not have an exact one", e.span,
                           suggestion="divide per shop, or compare instead: `where a > 2 * b` for `a / b > 2`")
            return None
        places = scales(e, self.params)[0] if summed else 0
        limit = NUMBER_SCALE if e.type.name == "number" else 0
        if places > limit:
            self.rep.error("E021", f"{value} is added up to {limit} decimal places"
                                   f"{' of a microsecond' if e.type.name == 'duration' else ''}, and this value has up "
                                   f"to {places}", e.span, suggestion="multiply by fewer decimal places")
            return None
        found = widest(e, self.params)
        if found is not None:
            self.rep.error("E021", f"computed exactly, this needs {found[1]} decimal places, and the engines hold "
                                   f"{MAX_SCALE}", found[0].span,
                           suggestion="use fewer multiplications and divisions in one comparison")
            return None
        return e

    def _entity_scope(self, where: str) -> Scope:
        return self.scope(self.entity, where)

    # ------------------------------------------------------------------ params
    def _param(self, src: Source) -> ir.Param | None:
        d = src.decl
        if d.value is None:
            self.rep.error("E035", f"param `{d.name}` needs a value: param {d.name} = …", d.name_span)
            return None
        value = self.check.check(d.value, self.scope(where=f"the value of param {d.name}"))
        if value is None:
            return None
        if not isinstance(value, (ir.Literal_, ir.SetValue)):
            self.rep.error("E020", "a param's value is a literal (3m, 40%, 30 evaluations, {\"a\", \"b\"})",
                           d.value.span)
            return None
        overrides = []
        for s in src.all(ast.Override):
            ov = self._override_head(s)
            if ov is None:
                continue
            if s.value is None:
                self.rep.error("E034", "a param's override gives a value: for COLUMN in {…} = VALUE", s.span)
                continue
            v = self.check.check(s.value, self.scope(where=f"an override of param {d.name}"), value.type)
            if v is None:
                continue
            if not isinstance(v, (ir.Literal_, ir.SetValue)) or v.type.name != value.type.name:
                self.rep.error("E020", f"param {d.name} is {describe(value.type)}; this override is {describe(v.type)}",
                               s.value.span)
                continue
            overrides.append(ir.Override(column=ov[0], values=ov[1], value=v, span=s.span))
        return ir.Param(type=value.type, value=value, overrides=tuple(overrides), **src.common())

    def _override_head(self, s: ast.Override) -> tuple[str, tuple[str, ...]] | None:
        column = s.column
        entity = self.tables.get(self.entity or "")
        if entity is None or entity.column(column) is None:
            names = [c.name for c in entity.columns] if entity else []
            self.rep.error("E013", f"overrides are by a column of the entity table{f' {entity.name}' if entity else ''};"
                                   f" `{column}` is not one", s.column_span, suggestion=did_you_mean(column, names))
            return None
        items = []
        for item in s.values.items:
            if not isinstance(item, ast.Lit) or item.kind != "string":
                self.rep.error("E020", 'override groups are strings, e.g. {"新车", "二手车"}', item.span)
                return None
            items.append(item.text)
        return column, tuple(items)

    # ------------------------------------------------------------------ indicators
    def _indicator(self, src: Source, dimensions: set[str]) -> ir.Indicator | None:
        d = src.decl
        ok = True
        dim = src.one(ast.InDimension)
        if dim and dim.name not in dimensions:
            self.rep.error("E010", f"unknown dimension `{dim.name}`", dim.name_span,
                           suggestion=did_you_mean(dim.name, dimensions) or
                           f'declare it: dimension {dim.name} "label" {{ … }}')
            ok = False
        over = src.one(ast.Over)
        if over is None:
            self.rep.error("E035", f"indicator `{d.name}` does not say which table it reads: add `over TABLE`",
                           d.name_span)
            return None
        table = over.name
        if table not in self.tables:
            self.rep.error("E012", f"unknown table `{table}`", over.name_span, suggestion=did_you_mean(table, self.tables))
            return None
        if self.entity and table != self.entity and not any(c.target == self.entity for c in self.tables[table].columns):
            self.rep.error("E014", f"{table} has no relation to the entity table {self.entity}, so its rows cannot be "
                                   f"counted per {self.entity}", over.name_span,
                           suggestion=f"declare one in table {table}, e.g. `shop_id: id -> {self.entity}`")
            return None
        window = self._window(src, table)
        scope = self.scope(table, f"the filter of indicator {d.name}")
        filters = [self.in_sql(self.check.condition(s.expr, scope)) for s in src.all(ast.Where)]
        once = src.one(ast.OncePer)
        once_per = [self.in_sql(self.check.check(e, scope), "a `once per` key") for e in once.exprs] if once else []
        measure, value_type = self._measure(src, scope)
        min_sample = None
        ms = src.one(ast.MinSample)
        if ms:
            min_sample = self.check.check(ms.expr, self.scope(where="the minimum sample"))
            if min_sample is not None and min_sample.type.name != "number":
                self.rep.error("E020", f"a minimum sample is a count, not {self.check.what(min_sample)}", ms.span)
                min_sample = None
        kept = src.one(ast.RetiredExcept)
        retired_except = self.in_sql(self.check.condition(kept.expr, self._entity_scope("the `except` condition"))) \
            if kept else None
        only = src.one(ast.OnlyFor)
        only_for = self.in_sql(self.check.condition(only.expr, self._entity_scope("the `only for` condition"))) \
            if only else None
        status = src.one(ast.Status)
        direction = src.one(ast.Direction)
        rnd = src.one(ast.Round)
        if None in filters or None in once_per or window is None or measure is None or (only and only_for is None) \
                or (kept and retired_except is None) \
                or not ok:
            return None
        return ir.Indicator(dimension=dim.name if dim else None, table=table, window=window,
                            filters=tuple(filters), once_per=tuple(once_per), measure=measure,
                            value_type=value_type, min_sample=min_sample,
                            direction=direction.direction if direction else "higher",
                            status=status.status if status else "assessed", only_for=only_for,
                            retired_except=retired_except,
                            round=rnd.digits if rnd else None, **src.common())

    def _window(self, src: Source, table: str) -> ir.Window | None:
        s = src.one(ast.Window)
        if s is None:
            self.rep.error("E035", f"indicator `{src.decl.name}` has no window: add e.g. `window last 30 days on COLUMN`",
                           src.decl.name_span)
            return None
        col = self.tables[table].column(s.column)
        if col is None:
            self.rep.error("E013", f"{table} has no column `{s.column}`", s.column_span,
                           suggestion=did_you_mean(s.column, [c.name for c in self.tables[table].columns]))
            return None
        if col.type.name not in ("timestamp", "date"):
            self.rep.error("E020", f"a window is on a timestamp or date column; {table}.{col.name} is {describe(col.type)}",
                           s.column_span)
            return None
        match s.spec:
            case ast.WindowPreviousDay():
                return ir.Window(start_offset=1, end_offset=1, column=col.name, span=s.span)
            case ast.WindowLast(duration):
                lit = self.check.literal(duration)
                if lit is None:
                    return None
                days, rest = divmod(lit.value, 86400)
                if rest or days < 1:
                    self.rep.error("E020", f"a window is whole days; `{duration.text}` is not", duration.span,
                                   suggestion="write it in days, e.g. last 30 days")
                    return None
                return ir.Window(start_offset=int(days), end_offset=1, column=col.name, span=s.span)
            case ast.WindowRange(first, last, span):
                start, end = (int(x[2:]) if x != "T" else 0 for x in (first, last))
                if start < end:
                    self.rep.error("E061", f"this window starts after it ends: {first} is later than {last}", span,
                                   suggestion=f"write the earlier day first: {last} .. {first}")
                    return None
                return ir.Window(start_offset=start, end_offset=end, column=col.name, span=s.span)

    def _measure(self, src: Source, scope: Scope) -> tuple[ir.Measure | None, ir.Type]:
        s = src.one(ast.Measure)
        if s is None:
            self.rep.error("E035", f"indicator `{src.decl.name}` does not say what it measures: add `rate where …`, "
                                   f"`average …`, `total …` or `count`", src.decl.name_span)
            return None, NUMBER
        kind = s.measure
        if kind == "count":
            return ir.Measure(kind="count", expr=None, span=s.span), NUMBER
        if kind == "rate":
            scope.where = "the condition of a rate"
            cond = self.in_sql(self.check.condition(s.expr, scope))
            return (ir.Measure(kind="rate", expr=cond, span=s.span) if cond else None), NUMBER
        value = self.check.check(s.expr, scope)
        if value is None:
            return None, NUMBER
        if value.type.name not in ("number", "duration"):
            self.rep.error("E020", f"`{kind}` needs a number or a duration, not {self.check.what(value)}", s.expr.span)
            return None, NUMBER
        if self.in_sql(value, f"the value of `{kind}`", summed=True) is None:
            return None, NUMBER
        return ir.Measure(kind=kind, expr=value, span=s.span), value.type

    # ------------------------------------------------------------------ exclusions
    def _exclusion(self, src: Source, indicators: dict[str, list[ir.Indicator]]) -> ir.Exclusion | None:
        d = src.decl
        applies = src.one(ast.Applies)
        when = src.one(ast.When)
        if applies is None or when is None:
            missing = "applies to INDICATOR" if applies is None else "when CONDITION"
            self.rep.error("E035", f"exclusion `{d.name}` needs `{missing}`", d.name_span)
            return None
        tables = set()
        names = []
        for ref in applies.names:
            name, span = ref.name, ref.span
            if name not in indicators and self.declared.get(name) == "indicator":
                continue  # declared, but broken: its own message says why
            if name not in indicators:
                self.rep.error("E010", f"exclusion `{d.name}` applies to an unknown indicator `{name}`", span,
                               suggestion=did_you_mean(name, indicators))
                continue
            names.append(name)
            tables |= {i.table for i in indicators[name]}
        if len(names) != len(applies.names):
            return None
        if len(tables) != 1:
            self.rep.error("E020", f"exclusion `{d.name}` applies to indicators over different tables "
                                   f"({', '.join(sorted(tables))}); its condition reads one kind of row",
                           applies.span, suggestion="split it into one exclusion per table")
            return None
        table = tables.pop()
        cond = self.in_sql(self.check.condition(when.expr, self.scope(table, f"the condition of exclusion {d.name}")))
        if cond is None:
            return None
        return ir.Exclusion(applies_to=tuple(names), table=table, condition=cond, **src.common())


def same_but_case(name: str, span: Span, kind: str, first, rep: Reporter) -> bool:
    """Report `name` when an earlier one (`first`, a declaration or a column with its span)
    differs from it only in case: DuckDB and Spark read names without regard to case, so the
    two would read one table, one column, one flag."""
    if first.name == name:
        return False
    where = getattr(first, "name_span", None) or first.span
    what = f"{getattr(first, 'kind', kind)} `{first.name}`"
    rep.error("E016", f"{kind} `{name}` differs from {what} only in case", span,
              notes=(f"{what} is declared at {where}", "the engines read names without regard to case, so the "
                     "two would be read as one"),
              suggestion=f"use one spelling, `{first.name}`, or give this one another name")
    return True
