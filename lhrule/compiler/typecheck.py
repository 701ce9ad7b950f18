"""Expressions: resolve names, check types and units, and build IR expressions.

`check` returns the IR expression or None after reporting why it is wrong; a None is
passed up silently so one mistake gives one message, not a cascade.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from lhrule.ir import model as ir
from lhrule.diagnostics import Reporter, did_you_mean
from lhrule.grammar import ast

T = ir.Type
NUMBER, DURATION, TIMESTAMP, DATE, TIME = T(name="number"), T(name="duration"), T(name="timestamp"), T(name="date"), T(name="time")
STRING, ID, BOOL, LIST, NULL = T(name="string"), T(name="id"), T(name="bool"), T(name="list"), T(name="null")

BASE_TYPES = {"id": ID, "string": STRING, "bool": BOOL, "int": NUMBER, "decimal": NUMBER, "timestamp": TIMESTAMP,
              "date": DATE, "duration": DURATION, "list": LIST, "number": NUMBER}

_DURATION_UNITS = {"ms": Decimal("0.001"), "s": 1, "second": 1, "seconds": 1, "m": 60, "minute": 60, "minutes": 60,
                   "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?) ?([a-z]+)$")

FUNCTIONS = {"time", "date", "hour", "coalesce", "least", "greatest", "abs"}


def describe(t: ir.Type | None) -> str:
    return {"number": "a number", "duration": "a duration", "timestamp": "a timestamp", "date": "a date",
            "time": "a time of day", "string": "a string", "id": "an id", "enum": "an enum value",
            "bool": "a condition (true/false)", "list": "a list", "set": "a set", "null": "null"}.get(
        t.name if t else "", "a value")


def describe_expr(e: ir.Node) -> str:
    """`a percentage`, `a duration` …: the kind of value, with its unit where it has one."""
    t = e.type  # type: ignore[attr-defined]
    if isinstance(e, (ir.Literal_, ir.ParamRef)) and e.unit == "%":
        return "a percentage"
    if isinstance(e, (ir.Literal_, ir.ParamRef)) and e.unit and t.name == "number":
        return f"a count of {e.unit}"
    if isinstance(e, ir.ResultRef) and e.of == "indicator" and t.name == "number":
        return "an indicator value (a number or rate)"
    return describe(t)


def comparable(a: ir.Type, b: ir.Type) -> bool:
    texty = {"string", "id", "enum"}
    if a.name == b.name:
        return True
    if {a.name, b.name} <= texty:
        return True
    return {a.name, b.name} == {"timestamp", "date"}


class NoSuchLocalTime(ValueError):
    """A timestamp literal that names no local time of the rulebook's zone."""


@dataclass
class Scope:
    """What names mean where an expression stands."""

    tables: dict[str, ir.Table]
    params: dict[str, ir.Param]
    row_table: str | None = None  # the table of the row being judged
    aliases: dict[str, str] = field(default_factory=dict)  # exists alias -> table
    results: dict[str, tuple[str, ir.Type]] = field(default_factory=dict)  # name -> (of, type)
    where: str = "this expression"  # for messages: "the filter of indicator x"

    def with_alias(self, alias: str, table: str) -> Scope:
        return Scope(self.tables, self.params, self.row_table, {**self.aliases, alias: table}, self.results, self.where)


class Checker:
    def __init__(self, reporter: Reporter, timezone: str = "UTC", sources: dict[str, str] | None = None):
        self.rep = reporter
        self.sources = sources or {}
        try:
            self.zone: dt.tzinfo = ZoneInfo(timezone)
        except Exception:
            self.zone = dt.UTC

    def what(self, e: ir.Node) -> str:
        """describe_expr, followed by the expression as written when it is short."""
        sp = e.span  # type: ignore[attr-defined]
        lines = self.sources.get(sp.file, "").splitlines()
        text = lines[sp.line - 1][sp.column - 1: sp.end_column - 1] if sp.line == sp.end_line and sp.line <= len(lines) else ""
        return f"{describe_expr(e)} `{text}`" if text and len(text) <= 48 else describe_expr(e)

    # literals ------------------------------------------------------------
    def literal(self, lit: ast.Lit) -> ir.Literal_ | None:
        k, text, sp = lit.kind, lit.text, lit.span
        try:
            if k in ("int", "decimal"):
                return ir.Literal_(type=NUMBER, value=Decimal(text), span=sp)
            if k == "percent":
                return ir.Literal_(type=NUMBER, value=Decimal(text[:-1]) / 100, unit="%", span=sp)
            if k == "quantity":
                num, unit = text.split()
                return ir.Literal_(type=NUMBER, value=Decimal(num), unit=unit, span=sp)
            if k == "duration":
                return ir.Literal_(type=DURATION, value=duration_seconds(text), unit=text, span=sp)
            if k == "date":
                return ir.Literal_(type=DATE, value=dt.date.fromisoformat(text), span=sp)
            if k == "time":
                return ir.Literal_(type=TIME, value=dt.time.fromisoformat(text), span=sp)
            if k == "datetime":
                return ir.Literal_(type=TIMESTAMP, value=self.local_timestamp(text), span=sp)
        except NoSuchLocalTime as exc:
            self.rep.error("E002", f"`{text}` {exc.args[0]}", sp, suggestion=exc.args[1])
            return None
        except (ValueError, InvalidOperation):
            self.rep.error("E002", f"`{text}` is not a valid {k}", sp, suggestion=_literal_hint(k))
            return None
        if k == "string":
            return ir.Literal_(type=STRING, value=text, span=sp)
        if k == "bool":
            return ir.Literal_(type=BOOL, value=text == "true", span=sp)
        return ir.Literal_(type=NULL, value=None, span=sp)

    def local_timestamp(self, text: str) -> dt.datetime:
        """A timestamp in the rulebook's zone, as a naive local value; an offset is converted.
        As for the data (docs/language.md, "Time"): a local time the clocks skipped, or an
        instant in the second pass of an hour they repeat, names no local time lhrule can hold."""
        value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        zone = getattr(self.zone, "key", "UTC")
        if value.tzinfo is not None:
            local = value.astimezone(self.zone)
            if local.fold:
                raise NoSuchLocalTime(f"is in the hour {zone}'s clocks repeat, the second time round: its local "
                                      f"time would be read as the first", "write a time outside that hour")
            return local.replace(tzinfo=None)
        round_trip = value.replace(tzinfo=self.zone).astimezone(dt.timezone.utc).astimezone(self.zone)
        if round_trip.replace(tzinfo=None) != value:
            raise NoSuchLocalTime(f"is not a time in {zone}: its clocks skipped it, going forward",
                                  "write the time it was, with its offset (as 2024-03-10 03:30-04:00)")
        return value

    # expressions ---------------------------------------------------------
    def check(self, e: ast.Expr, scope: Scope, hint: ir.Type | None = None) -> ir.Expr | None:
        method = getattr(self, "_" + type(e).__name__.lower())
        return method(e, scope, hint)

    def condition(self, e: ast.Expr, scope: Scope) -> ir.Expr | None:
        out = self.check(e, scope)
        if out is not None and out.type.name != "bool":
            self.rep.error("E020", f"{scope.where} must be a condition (true or false), not {self.what(out)}",
                           e.span, suggestion="compare it with something, e.g. `x >= 40%`")
            return None
        return out

    def _lit(self, e: ast.Lit, scope: Scope, hint):
        return self.literal(e)

    def _setlit(self, e: ast.SetLit, scope: Scope, hint):
        items = [self.check(i, scope, hint) for i in e.items]
        if any(i is None for i in items):
            return None
        if any(not isinstance(i, ir.Literal_) for i in items):
            self.rep.error("E020", "a set holds literal values only", e.span)
            return None
        elem = items[0].type if items else (hint or STRING)
        for item in items[1:]:
            if not comparable(item.type, elem):
                self.rep.error("E020", f"a set mixes {describe(elem)} and {describe(item.type)}", item.span)
                return None
        return ir.SetValue(type=T(name="set", elem=elem), items=tuple(items), span=e.span)

    def _path(self, e: ast.Path, scope: Scope, hint):
        head, rest = e.parts[0], e.parts[1:]
        if head in scope.aliases:
            if not rest:
                self.rep.error("E013", f"`{head}` is a row of {scope.aliases[head]}; name one of its columns, "
                                       f"e.g. {head}.{scope.tables[scope.aliases[head]].columns[0].name}", e.span)
                return None
            return self._columns(scope.aliases[head], rest, e, scope, alias=head)
        if scope.row_table:
            table = scope.tables[scope.row_table]
            if table.column(head) or any(c.relation == head for c in table.columns):
                return self._columns(scope.row_table, e.parts, e, scope)
        if not rest and head in scope.params:
            param = scope.params[head]
            return ir.ParamRef(type=param.type, name=head, unit=getattr(param.value, "unit", None), span=e.span)
        if not rest and head == "as_of":
            return ir.AsOf(type=DATE, span=e.span)
        if not rest and head in scope.results:
            of, typ = scope.results[head]
            return ir.ResultRef(type=typ, of=of, name=head, span=e.span)  # type: ignore[arg-type]
        if not rest and hint is not None and hint.name == "enum":
            if head in hint.values:
                return ir.Literal_(type=hint, value=head, span=e.span)
            self.rep.error("E010", f"`{head}` is not one of the values {', '.join(hint.values)}", e.span,
                           suggestion=did_you_mean(head, hint.values))
            return None
        candidates = set(scope.params) | set(scope.results) | set(scope.aliases) | {"as_of"}
        if scope.row_table:
            candidates |= {c.relation or c.name for c in scope.tables[scope.row_table].columns}
        where = f" in {scope.row_table}" if scope.row_table else ""
        code = "E013" if scope.row_table else "E010"
        self.rep.error(code, f"unknown name `{head}`{where}", e.span, suggestion=did_you_mean(head, candidates))
        return None

    def _columns(self, table_name: str, parts: tuple[str, ...], e: ast.Path, scope: Scope, alias: str | None = None):
        via: list[str] = []
        table = scope.tables[table_name]
        for i, part in enumerate(parts):
            col = table.column(part)
            last = i == len(parts) - 1
            if last and col is not None:
                return ir.ColumnRef(type=col.type, table=table.name, column=col.name, via=tuple(via), alias=alias,
                                    span=e.span)
            rel = next((c for c in table.columns if c.relation == part), None)
            if rel is not None and not last:
                via.append(part)
                table = scope.tables[rel.target]  # type: ignore[index]
                continue
            names = {c.name for c in table.columns} | {c.relation for c in table.columns if c.relation}
            if rel is not None:
                self.rep.error("E013", f"`{part}` is a relation to {rel.target}; name one of its columns", e.span,
                               suggestion=f"e.g. {'.'.join(parts[:i + 1])}.{scope.tables[rel.target].columns[0].name}")
            elif col is not None:
                self.rep.error("E014", f"{table.name}.{part} is a column, not a relation: it has no `.{parts[i + 1]}`",
                               e.span)
            else:
                code = "E014" if not last else "E013"
                self.rep.error(code, f"{table.name} has no {'relation' if not last else 'column'} `{part}`", e.span,
                               suggestion=did_you_mean(part, names))
            return None
        return None

    def _call(self, e: ast.Call, scope: Scope, hint):
        if e.name not in FUNCTIONS:
            self.rep.error("E022", f"unknown function `{e.name}`", e.span,
                           suggestion=did_you_mean(e.name, FUNCTIONS) or f"the functions are {', '.join(sorted(FUNCTIONS))}")
            return None
        args = [self.check(a, scope, hint) for a in e.args]
        if any(a is None for a in args):
            return None
        one = {"time": (TIMESTAMP, TIME), "date": (TIMESTAMP, DATE), "hour": (TIMESTAMP, NUMBER)}
        if e.name in one:
            want, result = one[e.name]
            if len(args) != 1 or args[0].type.name != want.name:
                got = ", ".join(describe(a.type) for a in args) or "nothing"
                self.rep.error("E022", f"{e.name}() takes one timestamp, got {got}", e.span)
                return None
            return ir.Call(type=result, fn=e.name, args=tuple(args), span=e.span)
        if e.name == "abs":
            if len(args) != 1 or args[0].type.name not in ("number", "duration"):
                self.rep.error("E022", "abs() takes one number or duration", e.span)
                return None
            return ir.Call(type=args[0].type, fn="abs", args=tuple(args), span=e.span)
        if len(args) < 2:
            self.rep.error("E022", f"{e.name}() takes two or more values", e.span)
            return None
        typ = next((a.type for a in args if a.type.name != "null"), NULL)
        for a in args:
            if a.type.name != "null" and not comparable(a.type, typ):
                self.rep.error("E020", f"{e.name}() mixes {describe(typ)} and {describe(a.type)}", a.span)
                return None
        return ir.Call(type=typ, fn=e.name, args=tuple(args), span=e.span)

    def _unary(self, e: ast.Unary, scope: Scope, hint):
        inner = self.check(e.operand, scope)
        if inner is None:
            return None
        if e.op == "not":
            if inner.type.name != "bool":
                self.rep.error("E020", f"`not` needs a condition, not {self.what(inner)}", e.operand.span)
                return None
            return ir.Unary(type=BOOL, op="not", operand=inner, span=e.span)
        if inner.type.name not in ("number", "duration"):
            self.rep.error("E021", f"cannot negate {self.what(inner)}", e.span)
            return None
        return ir.Unary(type=inner.type, op="-", operand=inner, span=e.span)

    def _pair(self, left: ast.Expr, right: ast.Expr, scope: Scope):
        """Check two sides that must agree; a bare name beside an enum is read as its value."""
        if _bare(left) and not _resolves(left, scope) and not isinstance(right, ast.SetLit) \
                and not (_bare(right) and not _resolves(right, scope)):
            r = self.check(right, scope)
            return (self.check(left, scope, r.type if r is not None else None), r)
        lhs = self.check(left, scope)
        if lhs is None:  # the right side is judged against the left: no point going on
            return None, None
        return lhs, self.check(right, scope, lhs.type)

    def _binary(self, e: ast.Binary, scope: Scope, hint):
        if e.op in ("and", "or"):
            lhs, rhs = self.check(e.left, scope), self.check(e.right, scope)
            if lhs is None or rhs is None:
                return None
            for side in (lhs, rhs):
                if side.type.name != "bool":
                    self.rep.error("E020", f"`{e.op}` joins conditions, not {self.what(side)}", side.span)
                    return None
            return ir.Binary(type=BOOL, op=e.op, left=lhs, right=rhs, span=e.span)
        lhs, rhs = self._pair(e.left, e.right, scope)
        if lhs is None or rhs is None:
            return None
        if e.op in ("=", "!=", "<", "<=", ">", ">="):
            if NULL in (lhs.type, rhs.type):
                self.rep.error("E020", "nothing equals null", e.span, suggestion="write `x is null` or `x is not null`")
                return None
            if not comparable(lhs.type, rhs.type):
                self.rep.error("E020", f"cannot compare {self.what(lhs)} with {self.what(rhs)}", e.span)
                return None
            if e.op not in ("=", "!=") and not self._ordered(lhs, e.op, e.span):
                return None
            self._check_enum_literal(lhs, rhs)
            return ir.Binary(type=BOOL, op=e.op, left=lhs, right=rhs, span=e.span)
        result = arithmetic(e.op, lhs.type, rhs.type)
        if result is None:
            self.rep.error("E021", f"cannot compute {self.what(lhs)} {e.op} {self.what(rhs)}", e.span)
            return None
        if result.name in ("timestamp", "date") and any(divides(x) for x in (lhs, rhs)):
            self.rep.error("E021", "a time moves by whole microseconds, and a divided duration need not be one",
                           e.span, suggestion="compare durations instead, e.g. `reply_at - asked_at < "
                                              "(due_at - asked_at) / 2`")
            return None
        return ir.Binary(type=result, op=e.op, left=lhs, right=rhs, span=e.span)

    def _ordered(self, value: ir.Expr, op: str, span) -> bool:
        """Whether `<`, `>` and ranges apply: conditions have no order, nor have an enum's
        values (their declared order is not the order of their names)."""
        if value.type.name == "bool":
            self.rep.error("E020", f"`{op}` compares numbers, durations or times, not conditions", span,
                           suggestion="conditions are joined with and, or, not; or tested with = and !=")
            return False
        if value.type.name == "enum":
            self.rep.error("E020", f"`{op}` compares numbers, durations or times; the values of an enum have no "
                                   f"order", span, suggestion="name the values meant: `x in {a, b}`")
            return False
        return True

    def _check_enum_literal(self, a: ir.Expr, b: ir.Expr) -> None:
        for col, lit in ((a, b), (b, a)):
            if col.type.name == "enum" and isinstance(lit, ir.Literal_) and lit.type.name == "string":
                if lit.value not in col.type.values:
                    self.rep.error("E010", f'"{lit.value}" is not one of the values {", ".join(col.type.values)}',
                                   lit.span, suggestion=did_you_mean(str(lit.value), col.type.values))

    def _in(self, e: ast.In, scope: Scope, hint):
        if isinstance(e.right, ast.Range):
            lhs = self.check(e.left, scope)
            lo = self.check(e.right.lo, scope, lhs.type if lhs else None)
            hi = self.check(e.right.hi, scope, lhs.type if lhs else None)
            if lhs is None or lo is None or hi is None:
                return None
            for bound in (lo, hi):
                if not comparable(lhs.type, bound.type):
                    self.rep.error("E020", f"cannot compare {self.what(lhs)} with {self.what(bound)}", bound.span)
                    return None
            if not self._ordered(lhs, "in … ..", e.span):
                return None
            return ir.InRange(type=BOOL, left=lhs, lo=lo, hi=hi, negated=e.negated, span=e.span)
        lhs, rhs = self._pair(e.left, e.right, scope)
        if lhs is None or rhs is None:
            return None
        if rhs.type.name == "list":
            ok = lhs.type.name in ("string", "id", "enum")
        elif rhs.type.name == "set" and not isinstance(rhs, (ir.SetValue, ir.ParamRef)):
            self.rep.error("E020", "`in` looks in a set written out, {a, b}, or in a set param", e.right.span)
            return None
        elif rhs.type.name == "set":
            ok = rhs.type.elem is None or comparable(lhs.type, rhs.type.elem)
            if ok and isinstance(rhs, ir.SetValue):
                for item in rhs.items:
                    self._check_enum_literal(lhs, item)
        else:
            self.rep.error("E020", f"`in` needs a set such as {{a, b}}, a range a .. b or a list, not {self.what(rhs)}",
                           e.right.span)
            return None
        if not ok:
            self.rep.error("E020", f"cannot look for {self.what(lhs)} in {describe(rhs.type)}", e.span)
            return None
        return ir.InSet(type=BOOL, left=lhs, right=rhs, negated=e.negated, span=e.span)

    def _range(self, e: ast.Range, scope: Scope, hint):
        self.rep.error("E001", "a range a .. b stands only after `in`", e.span)
        return None

    def _isnull(self, e: ast.IsNull, scope: Scope, hint):
        inner = self.check(e.operand, scope)
        if inner is None:
            return None
        return ir.IsNull(type=BOOL, operand=inner, negated=e.negated, span=e.span)

    def _exists(self, e: ast.Exists, scope: Scope, hint):
        if e.table not in scope.tables:
            self.rep.error("E012", f"unknown table `{e.table}`", e.span, suggestion=did_you_mean(e.table, scope.tables))
            return None
        alias = e.alias or e.table
        twin = next((a for a in scope.aliases if a.lower() == alias.lower() and a != alias), None)
        if twin is not None:  # the engines would read the outer row for the inner one
            self.rep.error("E016", f"the row `{alias}` differs from the row `{twin}` around it only in case", e.span,
                           suggestion=f"name it apart from `{twin}`, e.g. `{alias}2`")
            return None
        cond = self.condition(e.cond, scope.with_alias(alias, e.table))
        if cond is None:
            return None
        return ir.Exists(type=BOOL, table=e.table, alias=alias, cond=cond, negated=e.negated, span=e.span)


def arithmetic(op: str, a: ir.Type, b: ir.Type) -> ir.Type | None:
    pair = (a.name, b.name)
    table = {
        "+": {("number", "number"): NUMBER, ("duration", "duration"): DURATION, ("timestamp", "duration"): TIMESTAMP,
              ("duration", "timestamp"): TIMESTAMP, ("date", "duration"): DATE},
        "-": {("number", "number"): NUMBER, ("duration", "duration"): DURATION, ("timestamp", "duration"): TIMESTAMP,
              ("timestamp", "timestamp"): DURATION, ("date", "date"): DURATION, ("date", "duration"): DATE},
        "*": {("number", "number"): NUMBER, ("duration", "number"): DURATION, ("number", "duration"): DURATION},
        "/": {("number", "number"): NUMBER, ("duration", "number"): DURATION, ("duration", "duration"): NUMBER},
    }
    return table[op].get(pair)


def duration_seconds(text: str) -> Decimal:
    m = _DURATION_RE.match(text.strip())
    if not m or m.group(2) not in _DURATION_UNITS:
        raise ValueError(text)
    return Decimal(m.group(1)) * Decimal(_DURATION_UNITS[m.group(2)])


def _bare(e: ast.Expr) -> bool:
    return isinstance(e, ast.Path) and len(e.parts) == 1


def _resolves(e: ast.Path, scope: Scope) -> bool:
    name = e.parts[0]
    if name in scope.params or name in scope.results or name in scope.aliases or name == "as_of":
        return True
    return bool(scope.row_table and scope.tables[scope.row_table].column(name))



def _literal_hint(kind: str) -> str | None:
    return {"date": "dates are YYYY-MM-DD, e.g. 2024-06-30", "time": "times are HH:MM or HH:MM:SS, e.g. 08:00",
            "datetime": "timestamps are YYYY-MM-DD HH:MM[:SS], e.g. 2024-06-10 22:58",
            "duration": "durations are a number and a unit: 180s, 3m, 24h, 30d"}.get(kind)



# ---------------------------------------------------------------- exact numbers in SQL
#
# A number or duration that a division reaches is computed in SQL as an exact fraction, a
# numerator and a positive denominator (`sql.Compiler.ratio`): `a / b > c` as `a·sign(b) >
# c·|b|`. Each product adds the decimal places of its factors, and the engines hold 38 at
# most (DuckDB refuses more; Spark would round): the compiler counts them, so that a rule
# that needs more is refused by `check`, not by the engine at run time.

NUMBER_SCALE = 6  # the decimal places of a number column, as the dataset reads it: DECIMAL(38,6)
MAX_SCALE = 38
ARITHMETIC = ("+", "-", "*", "/")
ORDERS = ("=", "!=", "<", "<=", ">", ">=")


def numeric(e: ir.Node) -> bool:
    return getattr(e, "type", None) is not None and e.type.name in ("number", "duration")


def divides(e: ir.Node) -> bool:
    """Whether a division reaches this number or duration (outside any `exists` in it)."""
    if isinstance(e, ir.Binary) and e.op == "/":
        return True
    if isinstance(e, (ir.Binary, ir.Unary)) and numeric(e):
        return any(divides(x) for x in ((e.left, e.right) if isinstance(e, ir.Binary) else (e.operand,)))
    if isinstance(e, ir.Call) and numeric(e):
        return any(divides(a) for a in e.args)
    return False


def leaf_scale(e: ir.Node, params: dict[str, ir.Param]) -> int:
    """Decimal places of a number or duration as SQL holds it (durations: whole microseconds)."""
    if isinstance(e, ir.Literal_) and e.type.name == "number" and isinstance(e.value, Decimal):
        return max(0, -int(e.value.as_tuple().exponent))
    if isinstance(e, ir.ParamRef) and e.name in params:
        p = params[e.name]
        return max(leaf_scale(v, params) for v in (p.value, *(o.value for o in p.overrides if o.value is not None)))
    if isinstance(e, ir.ColumnRef) and e.type.name == "number":
        return NUMBER_SCALE
    return 0


def scales(e: ir.Node, params: dict[str, ir.Param]) -> tuple[int, int | None]:
    """The decimal places of the numerator and of the denominator (None: there is none) of
    a number or duration as `sql.Compiler.ratio` computes it."""
    if isinstance(e, ir.Unary) or (isinstance(e, ir.Call) and e.fn == "abs"):
        return scales(e.operand if isinstance(e, ir.Unary) else e.args[0], params)
    if isinstance(e, ir.Call) and e.fn in ("coalesce", "least", "greatest"):
        parts = [scales(a, params) for a in e.args if numeric(a)]
        dens = [d for _, d in parts if d is not None]
        return max((n for n, _ in parts), default=0), (max(dens) if dens else None)
    if not (isinstance(e, ir.Binary) and e.op in ARITHMETIC):
        return leaf_scale(e, params), None
    (n1, d1), (n2, d2) = scales(e.left, params), scales(e.right, params)
    if e.op == "*":
        return n1 + n2, _plus(d1, d2)
    if e.op == "/":
        return n1 + (d2 or 0), (d1 or 0) + n2
    if d1 is None and d2 is None:
        return max(n1, n2), None
    return max(n1 + (d2 or 0), n2 + (d1 or 0)), _plus(d1, d2)


def _plus(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


def compared_scale(a: ir.Node, b: ir.Node, params: dict[str, ir.Param]) -> int:
    """Decimal places of the products that compare two numbers or durations exactly."""
    (n1, d1), (n2, d2) = scales(a, params), scales(b, params)
    return max(n1 + (d2 or 0), n2 + (d1 or 0))


def widest(e: ir.Node, params: dict[str, ir.Param]) -> tuple[ir.Node, int] | None:
    """The first part of `e` whose SQL needs more than MAX_SCALE decimal places, and how many."""
    for node in ir.walk(e):
        needed = 0
        if isinstance(node, ir.Binary) and node.op in ARITHMETIC and numeric(node):
            n, d = scales(node, params)
            needed = max(n, d or 0)
        elif isinstance(node, ir.Binary) and node.op in ORDERS and numeric(node.left):
            needed = compared_scale(node.left, node.right, params)
        elif isinstance(node, ir.InRange) and numeric(node.left):
            needed = max(compared_scale(node.left, b, params) for b in (node.lo, node.hi))
        elif isinstance(node, ir.InSet) and numeric(node.left) and isinstance(node.right, ir.SetValue):
            needed = max((compared_scale(node.left, i, params) for i in node.right.items), default=0)
        elif isinstance(node, ir.Call) and node.fn in ("least", "greatest") and numeric(node):
            needed = max((compared_scale(a, b, params) for a in node.args for b in node.args), default=0)
        if needed > MAX_SCALE:
            return node, needed
    return None
