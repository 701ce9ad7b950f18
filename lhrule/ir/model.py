"""The typed, frozen IR a rulebook compiles to. Names are resolved, types and units are
checked, literals are exact values, and every node keeps the span it came from.

Versions: a declaration may exist in several versions (explicit `effective` ranges or
`revise`/`retire`); each version is one IR record with its own inclusive date range, and
the ranges of one name never overlap. Planning for an as-of date picks at most one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from lhrule.diagnostics import Span


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built on first use: a cached compile needs no schema


def walk(node):
    """The node and every node below it (in its fields, and in tuples of them)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, Node):
            continue
        yield item
        for value in item.__dict__.values():
            stack.extend(value if isinstance(value, tuple) else (value,))


class Type(Node):
    """number (counts, decimals, rates, percentages — all exact), duration, timestamp,
    date, time, string, id, enum (with its values), bool, list (`;`-separated names),
    set (of `elem`), null."""

    name: Literal["number", "duration", "timestamp", "date", "time", "string", "id", "enum",
                  "bool", "list", "set", "null"]
    values: tuple[str, ...] = ()
    elem: Type | None = None

    def __str__(self) -> str:
        if self.name == "set" and self.elem:
            return "set of %s" % self.elem  # a type as the messages name it
        return self.name


Value = Union[bool, Decimal, dt.datetime, dt.date, dt.time, str, None]


# ---------------------------------------------------------------- expressions

class Literal_(Node):
    kind: Literal["literal"] = "literal"
    type: Type
    value: Value
    unit: str | None = None  # as written: "%", "minutes", "evaluations" … (for messages and display)
    span: Span


class SetValue(Node):
    kind: Literal["set"] = "set"
    type: Type
    items: tuple[Literal_, ...]
    span: Span


class ColumnRef(Node):
    """A column of the current row (`table`), reached through `via` relations."""

    kind: Literal["column"] = "column"
    type: Type
    table: str  # the table holding the column
    column: str
    via: tuple[str, ...] = ()  # relation names followed from the row's table
    alias: str | None = None  # the `exists` alias it belongs to, if any
    span: Span


class ParamRef(Node):
    kind: Literal["param"] = "param"
    type: Type
    name: str
    unit: str | None = None
    span: Span


class AsOf(Node):
    """The evaluation date T. Compared with a timestamp it stands for T 00:00."""

    kind: Literal["as_of"] = "as_of"
    type: Type
    span: Span


class ResultRef(Node):
    """The value of an indicator, score or grade for the shop (in actions and tests)."""

    kind: Literal["result"] = "result"
    type: Type
    of: Literal["indicator", "score", "grade", "dimension"]
    name: str
    span: Span


class Call(Node):
    kind: Literal["call"] = "call"
    type: Type
    fn: str
    args: tuple[Expr, ...]
    span: Span


class Unary(Node):
    kind: Literal["unary"] = "unary"
    type: Type
    op: Literal["not", "-"]
    operand: Expr
    span: Span


class Binary(Node):
    kind: Literal["binary"] = "binary"
    type: Type
    op: Literal["and", "or", "+", "-", "*", "/", "=", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    span: Span


class InSet(Node):
    kind: Literal["in"] = "in"
    type: Type
    left: Expr
    right: Expr  # a SetValue, a set param or a list column
    negated: bool
    span: Span


class InRange(Node):
    """`x in lo .. hi`: lo <= x < hi for times and timestamps; whole days lo..hi inclusive for dates."""

    kind: Literal["in_range"] = "in_range"
    type: Type
    left: Expr
    lo: Expr
    hi: Expr
    negated: bool
    span: Span


class IsNull(Node):
    kind: Literal["is_null"] = "is_null"
    type: Type
    operand: Expr
    negated: bool
    span: Span


class Exists(Node):
    kind: Literal["exists"] = "exists"
    type: Type
    table: str
    alias: str
    cond: Expr
    negated: bool
    span: Span


Expr = Annotated[
    Union[Literal_, SetValue, ColumnRef, ParamRef, AsOf, ResultRef, Call, Unary, Binary, InSet,
          InRange, IsNull, Exists],
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------- declarations

class Cite(Node):
    source: str
    quote: str | None
    span: Span


class Effective(Node):
    """Inclusive range of dates; None is open."""

    start: dt.date | None = None
    end: dt.date | None = None

    def contains(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def overlaps(self, other: Effective) -> bool:
        lo = max(self.start or dt.date.min, other.start or dt.date.min)
        hi = min(self.end or dt.date.max, other.end or dt.date.max)
        return lo <= hi

    def __str__(self) -> str:
        return f"{self.start or ''} .. {self.end or ''}".strip()


class Decl(Node):
    name: str
    label: str | None = None
    effective: Effective = Effective()
    cites: tuple[Cite, ...] = ()
    assumptions: tuple[str, ...] = ()
    span: Span


class Column(Node):
    name: str
    type: Type
    integer: bool = False  # declared `int`: a number, whole and within BIGINT's range
    optional: bool = False
    key: bool = False
    relation: str | None = None  # relation name, e.g. "order" for order_id -> orders
    target: str | None = None  # related table
    span: Span


class Table(Decl):
    kind: Literal["table"] = "table"
    entity: bool = False
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def key(self) -> Column | None:
        return next((c for c in self.columns if c.key), None)


class Override(Node):
    """`for COLUMN in {values}`: a per-group value of a param, or weights of a group."""

    column: str
    values: tuple[str, ...]
    value: Literal_ | SetValue | None = None
    weights: tuple[Weight, ...] = ()
    span: Span


class Param(Decl):
    kind: Literal["param"] = "param"
    type: Type
    value: Literal_ | SetValue
    overrides: tuple[Override, ...] = ()


class Window(Node):
    """Whole local days T-`start_offset` .. T-`end_offset`, both inclusive, on `column`."""

    start_offset: int
    end_offset: int
    column: str
    span: Span


class Measure(Node):
    kind: Literal["rate", "average", "total", "count"]
    expr: Expr | None  # rate: the numerator condition; average/total: the aggregated value
    span: Span


class Indicator(Decl):
    kind: Literal["indicator"] = "indicator"
    dimension: str | None
    table: str
    window: Window
    filters: tuple[Expr, ...] = ()
    once_per: tuple[Expr, ...] = ()
    measure: Measure
    value_type: Type
    min_sample: Expr | None = None
    direction: Literal["higher", "lower"] = "higher"
    status: Literal["assessed", "display_only", "retired"] = "assessed"
    only_for: Expr | None = None  # shop-level condition: the indicator is assessed only where it holds
    retired_except: Expr | None = None  # status retired: still assessed where this holds (retire … except)
    round: int | None = None


class Exclusion(Decl):
    kind: Literal["exclusion"] = "exclusion"
    applies_to: tuple[str, ...]
    table: str  # the table of the indicators it applies to
    condition: Expr


class Level(Node):
    label: str
    cut: Literal["value", "top", "otherwise"]
    op: Literal[">=", ">", "<=", "<"] | None = None
    threshold: Expr | None = None  # value: the cut-off; top: the percentage of the group
    points: Expr | None = None
    span: Span


class Bands(Decl):
    kind: Literal["bands"] = "bands"
    indicator: str
    rank_within: str | None = None
    levels: tuple[Level, ...]


class Weight(Node):
    name: str  # an indicator (in a dimension) or a dimension/indicator (in a score)
    weight: Decimal  # a fraction: 20% -> 0.2
    span: Span


class Dimension(Decl):
    kind: Literal["dimension"] = "dimension"
    weights: tuple[Weight, ...] = ()  # empty: equal weights of its indicators
    overrides: tuple[Override, ...] = ()
    unassessed: Literal["reweight", "score"] = "reweight"
    unassessed_score: Expr | None = None


class Score(Decl):
    kind: Literal["score"] = "score"
    weights: tuple[Weight, ...]
    overrides: tuple[Override, ...] = ()
    unassessed: Literal["reweight", "score"] = "reweight"
    unassessed_score: Expr | None = None
    round: int | None = None


class Grade(Decl):
    kind: Literal["grade"] = "grade"
    score: str
    levels: tuple[Level, ...]


class Action(Decl):
    kind: Literal["action"] = "action"
    when: Expr
    until: Expr | None = None


class GivenRow(Node):
    values: dict[str, Literal_]
    span: Span


class Given(Node):
    table: str
    rows: tuple[GivenRow, ...]
    span: Span


class Expect(Node):
    name: str
    of: Literal["indicator", "score", "grade", "action", "dimension"]
    shop: str
    what: Literal["value", "ratio", "not_assessed", "band", "points", "in_force"]
    negated: bool = False
    value: Literal_ | None = None
    numerator: int | None = None
    denominator: int | None = None
    band: str | None = None
    span: Span


class Test(Node):
    name: str
    as_of: dt.date
    given: tuple[Given, ...]
    expects: tuple[Expect, ...]
    span: Span


class Rulebook(Node):
    name: str
    label: str | None = None
    version: str | None = None
    timezone: str = "UTC"
    effective: Effective = Effective()
    cites: tuple[Cite, ...] = ()
    files: tuple[str, ...] = ()  # the root file first, then its includes
    entity: str | None = None
    tables: tuple[Table, ...] = ()
    params: tuple[Param, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    bands: tuple[Bands, ...] = ()
    scores: tuple[Score, ...] = ()
    grades: tuple[Grade, ...] = ()
    actions: tuple[Action, ...] = ()
    tests: tuple[Test, ...] = ()
    span: Span

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


Override.model_rebuild()
