"""IR expressions → SQL, built with sqlglot's expression builders (never by pasting text).

Rule literals become typed SQL literals (sqlglot quotes strings), identifiers come only from
the declared schema. Values keep exact representations that every engine shares:

- a duration is a whole number of microseconds (BIGINT), so `first_reply_at - asked_at <= 3m`
  compares integers. It is elapsed time: the difference of two timestamps, and a timestamp
  moved by a duration, go through the instants the local times name (`elapsed`,
  `plus_elapsed`), so a reply across a daylight-saving change is not an hour off. A date's
  arithmetic is in calendar days, and windows and times of day are local;
- a time of day is microseconds since local midnight, so no engine needs a TIME type;
- a timestamp is a naive local timestamp in the rulebook's zone (normalised at load);
- a condition that meets a NULL is false (`COALESCE(cond, FALSE)` where a flag is made);
- a number or duration that a division reaches is an exact fraction, a numerator and a
  positive denominator (`Compiler.ratio`), compared by cross-multiplying: `a / b > c` is
  `a·sign(b) > c·|b|`, and a division by zero is NULL. The type checker refuses a division
  where a row's value is needed (a measure, a key), and counts the decimal places the
  products need (`typecheck.widest`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlglot import exp

from lhrule.ir import model as ir
from lhrule.compiler.typecheck import ORDERS, divides, scales
from lhrule.engine.columns import AS_OF
from lhrule.ir.evaluate import MICROS  # defined there once; imported from here by the data layer too

DAY_MICROS = 86_400 * MICROS


class UnsupportedInSQL(Exception):
    """An IR construct the SQL compiler cannot express; raised at compile time, never at run time."""


def table_name(name: str) -> str:
    """The relation a rulebook table is read from (a view the dataset loader creates)."""
    return f"t_{name}"


def col(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


def lit(value) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, (int, Decimal)):
        text = format(value, "f") if isinstance(value, Decimal) else str(value)
        return exp.Literal.number(text)
    return exp.Literal.string(str(value))


def cast(e: exp.Expression, to: str) -> exp.Expression:
    return exp.cast(e, exp.DataType.build(to))


def coalesce_false(e: exp.Expression) -> exp.Expression:
    return exp.func("COALESCE", e, exp.false())


@dataclass
class Context:
    """Where an expression is compiled: the row's table and alias, the joins its relation
    paths need, the per-shop alias for param overrides, and the as-of column."""

    rulebook: ir.Rulebook
    table: str
    alias: str
    as_of: exp.Expression
    params: dict[str, ir.Param]
    shop_rel: str | None = None  # the relation from the row to the entity (None: the row is the entity)
    joins: dict[tuple[str, tuple[str, ...]], tuple[str, str, exp.Expression]] = field(default_factory=dict)
    aliases: dict[str, tuple[str, str]] = field(default_factory=dict)  # exists alias -> (table, sql alias)
    days: exp.Expression | None = None  # the as-of days the rows are judged on, when `as_of` is their column

    def join_for(self, base_alias: str, base_table: str, via: tuple[str, ...]) -> str:
        """The SQL alias of the row reached from `base_alias` through `via` relations."""
        alias, table = base_alias, base_table
        for i, rel in enumerate(via):
            key = (base_alias, via[: i + 1])
            if key not in self.joins:
                column = next(c for c in self.rulebook.table(table).columns if c.relation == rel)
                target = self.rulebook.table(column.target)
                new_alias = f"{alias}__{rel}"
                on = exp.EQ(this=col(new_alias, target.key.name), expression=col(alias, column.name))
                self.joins[key] = (new_alias, target.name, on)
            alias, table = self.joins[key][0], self.joins[key][1]
        return alias


class Compiler:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def __call__(self, e: ir.Expr) -> exp.Expression:
        return getattr(self, "_" + e.kind)(e)

    def _literal(self, e: ir.Literal_) -> exp.Expression:
        return literal_sql(e)

    def _set(self, e: ir.SetValue) -> exp.Expression:
        return exp.Tuple(expressions=[literal_sql(i) for i in e.items])

    def _column(self, e: ir.ColumnRef) -> exp.Expression:
        if e.alias is not None:
            table, base = self.ctx.aliases[e.alias]
        else:
            table, base = self.ctx.table, self.ctx.alias
        alias = self.ctx.join_for(base, table, e.via) if e.via else base
        return col(alias, e.column)

    def _param(self, e: ir.ParamRef) -> exp.Expression:
        param = self.ctx.params[e.name]
        default = self(param.value)
        if not param.overrides:
            return default
        shop = self.ctx.join_for(self.ctx.alias, self.ctx.table, (self.ctx.shop_rel,)) if self.ctx.shop_rel \
            else self.ctx.alias
        ifs = []
        for ov in param.overrides:
            cond = exp.In(this=col(shop, ov.column), expressions=[lit(v) for v in ov.values])
            ifs.append(exp.If(this=cond, true=self(ov.value)))
        return exp.Case(ifs=ifs, default=default)

    def _as_of(self, e: ir.AsOf) -> exp.Expression:
        return self.ctx.as_of

    def _result(self, e: ir.ResultRef) -> exp.Expression:
        said = f"{e.of} {e.name} is a per-shop result, not a column of the events"
        raise UnsupportedInSQL(said)

    def _call(self, e: ir.Call) -> exp.Expression:
        args = [self(a) for a in e.args]
        if e.fn == "date":
            return cast(args[0], "DATE")
        if e.fn == "time":
            midnight = cast(cast(args[0], "DATE"), "TIMESTAMP")
            return micros_between(midnight, args[0])
        if e.fn == "hour":
            return exp.Extract(this=exp.var("HOUR"), expression=args[0])
        name = {"coalesce": "COALESCE", "least": "LEAST", "greatest": "GREATEST", "abs": "ABS"}[e.fn]
        return exp.func(name, *args)

    def _unary(self, e: ir.Unary) -> exp.Expression:
        inner = self(e.operand)
        return exp.Not(this=exp.paren(inner)) if e.op == "not" else exp.Neg(this=exp.paren(inner))

    def _binary(self, e: ir.Binary) -> exp.Expression:
        if e.op in ORDERS and (divides(e.left) or divides(e.right)):
            return self.compare(e.op, self.ratio(e.left), self.ratio(e.right))
        left, right = self(e.left), self(e.right)
        lt, rt = e.left.type.name, e.right.type.name
        if e.op in ("and", "or"):
            return (exp.And if e.op == "and" else exp.Or)(this=exp.paren(left), expression=exp.paren(right))
        if e.op in ORDERS:
            if lt == "bool":  # a condition beside `=` is one operand, not a chain of comparisons
                left, right = exp.paren(left), exp.paren(right)
            if {lt, rt} == {"timestamp", "date"}:
                left = cast(left, "TIMESTAMP") if lt == "date" else left
                right = cast(right, "TIMESTAMP") if rt == "date" else right
            klass = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[e.op]
            return klass(this=left, expression=right)
        zone = self.ctx.rulebook.timezone
        if lt in ("timestamp", "date") and rt in ("timestamp", "date") and e.op == "-":
            start, end = cast(right, "TIMESTAMP"), cast(left, "TIMESTAMP")
            # two dates are whole calendar days apart; a date beside a timestamp is its local midnight
            return micros_between(start, end) if lt == rt == "date" else elapsed(zone, start, end)
        if lt == "date" and rt == "duration":
            moved = plus_micros(cast(left, "TIMESTAMP"), right if e.op == "+" else exp.Neg(this=exp.paren(right)))
            return cast(moved, "DATE")
        if lt == "timestamp" and rt == "duration":
            return plus_elapsed(zone, left, right if e.op == "+" else exp.Neg(this=exp.paren(right)))
        if lt == "duration" and rt == "timestamp" and e.op == "+":
            return plus_elapsed(zone, right, left)
        if e.op == "/":  # the checker lets a division stand only where `ratio` compiles it
            raise UnsupportedInSQL("a division has no exact value of its own in SQL: it is compared as a fraction")
        klass = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[e.op]
        return exp.paren(klass(this=left, expression=right))

    # exact fractions -------------------------------------------------------
    def ratio(self, e: ir.Expr) -> tuple[exp.Expression, exp.Expression | None]:
        """A number or duration as (numerator, denominator): the denominator is positive, NULL
        after a division by zero, and None when no division reaches it (it is 1). Every part
        is DECIMAL(38, its own scale), so no product overflows a 64-bit integer unseen."""
        if not divides(e):
            value = self(e)
            if isinstance(e, ir.ColumnRef) and e.type.name == "number":
                return value, None  # DECIMAL(38,6) already
            return cast(value, f"DECIMAL(38,{scales(e, self.ctx.params)[0]})"), None
        if isinstance(e, ir.Unary):
            n, d = self.ratio(e.operand)
            return exp.Neg(this=exp.paren(n)), d
        if isinstance(e, ir.Call) and e.fn == "abs":
            n, d = self.ratio(e.args[0])
            return exp.func("ABS", n), d
        if isinstance(e, ir.Call):
            return self._ratio_call(e.fn, [self.ratio(a) if a.type.name != "null" else (exp.null(), None)
                                           for a in e.args])
        (n1, d1), (n2, d2) = self.ratio(e.left), self.ratio(e.right)
        if e.op == "*":
            return _times(n1, n2), _times(d1, d2)
        if e.op == "/":
            num, den = _times(n1, d2), _times(d1, n2)
            negative = exp.LT(this=den, expression=lit(0))
            return (exp.Case(ifs=[exp.If(this=negative, true=exp.Neg(this=exp.paren(num)))], default=num.copy()),
                    exp.func("NULLIF", exp.func("ABS", den.copy()), lit(0)))
        klass = exp.Add if e.op == "+" else exp.Sub
        return exp.paren(klass(this=_times(n1, d2), expression=_times(n2, d1))), _times(d1, d2)

    def compare(self, op: str, a, b) -> exp.Expression:
        """n1/d1 op n2/d2, the denominators positive: n1·d2 op n2·d1."""
        (n1, d1), (n2, d2) = a, b
        klass = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[op]
        return klass(this=_times(n1, d2), expression=_times(n2, d1))

    def _ratio_call(self, fn: str, args: list) -> tuple[exp.Expression, exp.Expression | None]:
        """coalesce, least and greatest of fractions: the first with a value, or the least or
        greatest of those with one (as SQL's LEAST and GREATEST, which pass over NULL)."""
        def known(x) -> exp.Expression:
            n, d = x
            test = exp.Not(this=exp.Is(this=n.copy(), expression=exp.null()))
            return test if d is None else exp.and_(test, exp.Not(this=exp.Is(this=d.copy(), expression=exp.null())))

        def pick(cond, x, y):
            return (exp.Case(ifs=[exp.If(this=cond, true=x[0].copy())], default=y[0].copy()),
                    exp.Case(ifs=[exp.If(this=cond.copy(), true=(x[1] or lit(1)).copy())],
                             default=(y[1] or lit(1)).copy()))

        if fn == "coalesce":
            out = args[-1]
            for x in reversed(args[:-1]):
                out = pick(known(x), x, out)
            return out
        best = args[0]
        for x in args[1:]:
            better = self.compare("<" if fn == "least" else ">", x, best)
            best = pick(exp.and_(known(x), exp.or_(exp.Not(this=known(best)), better)), x, best)
        return best

    def _in(self, e: ir.InSet) -> exp.Expression:
        if e.right.type.name == "list":
            left = self(e.left)
            hay = exp.DPipe(this=exp.DPipe(this=lit(";"), expression=self(e.right)), expression=lit(";"))
            needle = exp.DPipe(this=exp.DPipe(this=lit(";"), expression=left), expression=lit(";"))
            found = exp.GT(this=exp.StrPosition(this=hay, substr=needle), expression=lit(0))
            return exp.Not(this=exp.paren(found)) if e.negated else found
        if divides(e.left):
            x = self.ratio(e.left)

            def among(items):
                return exp.paren(exp.or_(*(self.compare("=", x, self.ratio(i)) for i in items)))
        else:
            left = self(e.left)
            left = exp.paren(left) if e.left.type.name == "bool" else left

            def among(items):
                return exp.In(this=left.copy(), expressions=[literal_sql(i) for i in items])
        found = self._per_group(e.right, lambda items: among(items) if items else exp.false())
        return exp.Not(this=exp.paren(found)) if e.negated else found

    def _per_group(self, right: ir.Expr, test) -> exp.Expression:
        """`test(items)` of a set: a literal one, or a set param with each group's own items
        (a CASE of conditions: SQL has no CASE that gives a list to look in)."""
        if isinstance(right, ir.SetValue):
            return test(right.items)
        param = self.ctx.params[right.name]  # the checker lets only sets and set params stand here
        default = test(param.value.items)
        if not param.overrides:
            return default
        shop = self.ctx.join_for(self.ctx.alias, self.ctx.table, (self.ctx.shop_rel,)) if self.ctx.shop_rel \
            else self.ctx.alias
        ifs = [exp.If(this=exp.In(this=col(shop, ov.column), expressions=[lit(v) for v in ov.values]),
                      true=test(ov.value.items)) for ov in param.overrides]
        return exp.paren(exp.Case(ifs=ifs, default=default))

    def _in_range(self, e: ir.InRange) -> exp.Expression:
        if any(divides(x) for x in (e.left, e.lo, e.hi)):
            x = self.ratio(e.left)
            inside = exp.and_(self.compare(">=", x, self.ratio(e.lo)), self.compare("<", x, self.ratio(e.hi)))
            return exp.Not(this=exp.paren(inside)) if e.negated else exp.paren(inside)
        x, lo, hi = self(e.left), self(e.lo), self(e.hi)
        if e.left.type.name == "timestamp":
            lo = cast(lo, "TIMESTAMP") if e.lo.type.name == "date" else lo
            hi = cast(hi, "TIMESTAMP") if e.hi.type.name == "date" else hi
        upper = exp.LTE if e.left.type.name == "date" else exp.LT  # whole days include their last day
        inside = exp.And(this=exp.GTE(this=x, expression=lo), expression=upper(this=x, expression=hi))
        return exp.Not(this=exp.paren(inside)) if e.negated else exp.paren(inside)

    def _is_null(self, e: ir.IsNull) -> exp.Expression:
        if divides(e.operand):  # a division by zero has no value
            n, d = self.ratio(e.operand)
            test = exp.paren(exp.or_(exp.Is(this=n, expression=exp.null()), exp.Is(this=d, expression=exp.null())))
            return exp.Not(this=test) if e.negated else test
        operand = self(e.operand)
        test = exp.Is(this=exp.paren(operand) if e.operand.type.name == "bool" else operand, expression=exp.null())
        return exp.Not(this=test) if e.negated else test

    def _exists(self, e: ir.Exists) -> exp.Expression:
        semi = self._semi_join(e)
        if semi is not None:
            return semi
        sql_alias = f"x_{e.alias}"
        sub = Context(self.ctx.rulebook, self.ctx.table, self.ctx.alias, self.ctx.as_of, self.ctx.params,
                      self.ctx.shop_rel, self.ctx.joins, {**self.ctx.aliases, e.alias: (e.table, sql_alias)})
        inner_joins_before = set(sub.joins)
        cond = Compiler(sub)(e.cond)
        select = exp.select("1").from_(exp.to_table(table_name(e.table)).as_(sql_alias, quoted=True))
        for key in [k for k in sub.joins if k not in inner_joins_before and k[0].startswith(sql_alias)]:
            alias, target, on = sub.joins.pop(key)
            select = select.join(exp.to_table(table_name(target)).as_(alias, quoted=True), on=on, join_type="left")
        found = exp.Exists(this=select.where(cond))
        return exp.Not(this=found) if e.negated else found


    def _semi_join(self, e: ir.Exists) -> exp.Expression | None:
        """`exists t a where a.k = <the row's> and <a's own conditions>` as `<the row's> IN (the
        k of the rows of t that meet a's own conditions)`: DuckDB answers a correlated EXISTS by
        joining every outer row, an IN by one hash table, twice as fast for 纠纷退款率
        (benchmarks/RESULTS.md, "Figures behind the code"). With `as_of` in a's conditions while the row's day is a column, the day
        joins the key. None when the condition has no such form; EXISTS is kept then."""
        parts = conjuncts(e.cond)
        key = next((p for p in parts if _key_sides(p, e.alias)), None)
        if key is None:
            return None
        inner, outer = _key_sides(key, e.alias)
        rest = [p for p in parts if p is not key]
        if not all(_only_inside(p, {e.alias}, self.ctx.params) for p in rest):
            return None
        uses_day = any(reads(p, ir.AsOf) for p in rest) and isinstance(self.ctx.as_of, exp.Column)
        if uses_day and self.ctx.days is None:
            return None
        sql_alias = f"s_{e.alias}"
        day = exp.column(AS_OF, "sd") if uses_day else self.ctx.as_of
        sub = Context(self.ctx.rulebook, e.table, sql_alias, day, self.ctx.params, None, {},
                      {**self.ctx.aliases, e.alias: (e.table, sql_alias)}, self.ctx.days)
        compile_ = Compiler(sub)
        wanted = [exp.Not(this=exp.Is(this=compile_(inner), expression=exp.null())), *(compile_(p) for p in rest)]
        keys = [compile_(inner)] + ([exp.column(AS_OF, "sd")] if uses_day else [])
        select = exp.select(*keys).from_(exp.to_table(table_name(e.table)).as_(sql_alias, quoted=True))
        for alias, target, on in sub.joins.values():
            select = select.join(exp.to_table(table_name(target)).as_(alias, quoted=True), on=on, join_type="left")
        if uses_day:
            select = select.join(self.ctx.days.copy().as_("sd") if not isinstance(self.ctx.days, exp.Subquery)
                                 else exp.Subquery(this=self.ctx.days.this.copy(), alias=exp.TableAlias(
                                     this=exp.to_identifier("sd"))), join_type="cross")
        row = self(outer)
        this = exp.Tuple(expressions=[row, self.ctx.as_of.copy()]) if uses_day else row
        found = exp.Coalesce(this=exp.In(this=this, query=select.where(exp.and_(*wanted)).subquery()),
                             expressions=[exp.false()])
        return exp.Not(this=exp.paren(found)) if e.negated else found


def _times(a: exp.Expression | None, b: exp.Expression | None) -> exp.Expression | None:
    """a·b, None standing for 1."""
    if a is None or b is None:
        return (a or b).copy() if (a or b) is not None else None
    return exp.paren(exp.Mul(this=a.copy(), expression=b.copy()))


def conjuncts(e: ir.Expr) -> list[ir.Expr]:
    """`a and b and c` as [a, b, c]: each part is judged, and explained, on its own."""
    if isinstance(e, ir.Binary) and e.op == "and":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def _is_own_column(e: ir.Expr, alias: str) -> bool:
    return isinstance(e, ir.ColumnRef) and e.alias == alias and not e.via


def _key_sides(e: ir.Expr, alias: str) -> tuple[ir.Expr, ir.Expr] | None:
    """(a.k, x) when `e` is `a.k = x` (or `x = a.k`) with x read from outside `a`: a key to
    join on; else None."""
    if not (isinstance(e, ir.Binary) and e.op == "="):
        return None
    for inner, outer in ((e.left, e.right), (e.right, e.left)):
        if _is_own_column(inner, alias) and not _refs_alias(outer, alias) and not reads(outer, ir.Exists):
            return inner, outer
    return None


def reads(e: ir.Node, kind: type) -> bool:
    """Whether `e` holds a node of `kind` anywhere below it."""
    return any(isinstance(n, kind) for n in ir.walk(e))


def _refs_alias(e: ir.Expr, alias: str) -> bool:
    return any(isinstance(n, ir.ColumnRef) and n.alias == alias for n in ir.walk(e))


def _only_inside(e: ir.Expr, aliases: set[str], params: dict) -> bool:
    """Whether `e` reads nothing of the outer row: its columns are of `aliases` (or of an
    `exists` nested in it), its params have no per-shop values, and it reads no result."""
    inside = set(aliases) | {n.alias for n in ir.walk(e) if isinstance(n, ir.Exists)}
    for n in ir.walk(e):
        if isinstance(n, ir.ColumnRef) and n.alias not in inside:
            return False
        if isinstance(n, ir.ParamRef) and params[n.name].overrides:
            return False
        if isinstance(n, ir.ResultRef):
            return False
    return True


def literal_sql(e: ir.Literal_) -> exp.Expression:
    t, v = e.type.name, e.value
    if t == "duration":
        return lit(int(v * MICROS))
    if t == "time":
        return lit((v.hour * 3600 + v.minute * 60 + v.second) * MICROS + v.microsecond)
    if t == "timestamp":
        return cast(lit(v.isoformat(sep=" ")), "TIMESTAMP")
    if t == "date":
        return cast(lit(v.isoformat()), "DATE")
    return lit(v)


def micros_between(start: exp.Expression, end: exp.Expression) -> exp.Expression:
    return exp.DateDiff(this=end, expression=start, unit=exp.var("MICROSECOND"))


def date_sql(day: dt.date) -> exp.Expression:
    return cast(lit(day.isoformat()), "DATE")


def day_offset(as_of: exp.Expression, days: int) -> exp.Expression:
    """The timestamp at local midnight starting day as_of - days."""
    start = cast(as_of, "TIMESTAMP")
    return plus_micros(start, lit(-days * DAY_MICROS)) if days else start


def plus_micros(ts: exp.Expression, micros: exp.Expression) -> exp.Expression:
    """A timestamp moved by a number of microseconds (TIMESTAMPADD: Spark's DATE_ADD takes
    whole days)."""
    return exp.TimestampAdd(this=ts, expression=micros, unit=exp.var("MICROSECOND"))


def _convert(ts: exp.Expression, source: str, target: str) -> exp.Expression:
    """A naive timestamp read in zone `source`, as naive time in zone `target`."""
    return exp.ConvertTimezone(source_tz=lit(source), target_tz=lit(target), timestamp=ts)


def instant(zone: str, local: exp.Expression) -> exp.Expression:
    """The instant a naive local time in `zone` names, as a naive UTC timestamp. A local time
    the clocks passed twice (the hour repeated when they go back) names the earlier instant,
    as Python's fold=0 and PostgreSQL read it, on every engine: DuckDB (ICU) reads it as the
    later, Spark (Java) as the earlier, so the earlier candidate, `local` less the offset in
    force a day before, is taken where it names `local` too. (Local times the clocks skipped
    are bad rows at load.)"""
    read = _convert(local.copy(), zone, "UTC")
    day_before = plus_micros(read.copy(), lit(-DAY_MICROS))
    offset_before = micros_between(day_before, _convert(day_before.copy(), "UTC", zone))
    earlier = plus_micros(local.copy(), exp.Neg(this=exp.paren(offset_before)))
    is_earlier = exp.and_(exp.LT(this=earlier, expression=read.copy()),
                          exp.EQ(this=_convert(earlier.copy(), "UTC", zone), expression=local.copy()))
    return exp.Case(ifs=[exp.If(this=is_earlier, true=earlier.copy())], default=read)


def _fixed_after(zone: str, *local: exp.Expression) -> exp.Expression | None | bool:
    """True when naive local arithmetic is elapsed time for every value of the zone; None when
    it never is (daylight saving); else the condition that it is for these values."""
    from lhrule.ir.zones import fixed_since

    since = fixed_since(zone)
    if since is None:
        return None
    if since == dt.datetime.min:
        return True
    bound = cast(lit(since.isoformat(sep=" ")), "TIMESTAMP")
    return exp.and_(*(exp.GTE(this=t.copy(), expression=bound.copy()) for t in local))


def elapsed(zone: str, start: exp.Expression, end: exp.Expression) -> exp.Expression:
    """The microseconds elapsed from `start` to `end`, naive local times in `zone`. Where the
    zone's offset no longer changes (Asia/Shanghai since 1991), their naive difference is."""
    naive = micros_between(start, end)
    fixed = _fixed_after(zone, start, end)
    if fixed is True:
        return naive
    exact = micros_between(instant(zone, start), instant(zone, end))
    return exact if fixed is None else exp.Case(ifs=[exp.If(this=fixed, true=naive)], default=exact)


def plus_elapsed(zone: str, ts: exp.Expression, micros: exp.Expression) -> exp.Expression:
    """The local time in `zone` a number of microseconds after (or before) `ts`, in elapsed
    time: 01:30 and one hour, on the night the clocks go forward at 02:00, is 03:30."""
    naive = plus_micros(ts, micros)
    fixed = _fixed_after(zone, ts, naive)
    if fixed is True:
        return naive
    exact = _convert(plus_micros(instant(zone, ts), micros.copy()), "UTC", zone)
    return exact if fixed is None else exp.Case(ifs=[exp.If(this=fixed, true=naive)], default=exact)
