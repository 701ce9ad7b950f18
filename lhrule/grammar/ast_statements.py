"""The statements of a declaration body, one frozen class each, and the parts they hold.

`kind` (a class attribute, not a field) is the statement's keyword as the compiler's tables
name it: which declarations may hold it, which may be given once, what a revision replaces.
Every node carries its span; parts named by a token carry that token's span too, so a
message can point at the name rather than at the whole line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lhrule.diagnostics import Span
from lhrule.grammar.ast_expressions import Expr, Lit, SetLit


# ---------------------------------------------------------------- parts

@dataclass(frozen=True, slots=True)
class Ref:
    """A name as written where a declaration is named (`applies to a, b`)."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class DateBound:
    """One end of `effective A .. B`, as written (checked as a date by the compiler)."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class BaseType:
    name: str  # checked against the known types by the compiler
    span: Span


@dataclass(frozen=True, slots=True)
class EnumType:
    values: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Relation:
    """`-> TABLE as ALIAS` after a column."""

    target: str
    alias: str | None
    span: Span  # the target's


@dataclass(frozen=True, slots=True)
class WindowLast:
    duration: Lit
    span: Span


@dataclass(frozen=True, slots=True)
class WindowPreviousDay:
    span: Span


@dataclass(frozen=True, slots=True)
class WindowRange:
    """`T-30 .. T-1`: the days as written."""

    start: str
    end: str
    span: Span


WindowSpec = WindowLast | WindowPreviousDay | WindowRange


@dataclass(frozen=True, slots=True)
class CutValue:
    op: str  # >= > <= <
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class CutTop:
    share: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class CutOtherwise:
    span: Span


Cutoff = CutValue | CutTop | CutOtherwise


@dataclass(frozen=True, slots=True)
class Weight:
    name: str
    name_span: Span
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Field:
    """`column: value` in a given row."""

    name: str
    name_span: Span
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Row:
    fields: tuple[Field, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectValue:
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectNotAssessed:
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectBand:
    band: str
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectPoints:
    points: Expr
    span: Span


Outcome = ExpectValue | ExpectNotAssessed | ExpectBand | ExpectPoints


# ---------------------------------------------------------------- statements

@dataclass(frozen=True, slots=True)
class Version:
    kind: ClassVar[str] = "version"
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Timezone:
    kind: ClassVar[str] = "timezone"
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Effective:
    kind: ClassVar[str] = "effective"
    start: DateBound | None
    end: DateBound | None
    span: Span


@dataclass(frozen=True, slots=True)
class Cite:
    kind: ClassVar[str] = "cite"
    source: str
    quote: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Assumption:
    kind: ClassVar[str] = "assumption"
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Column:
    kind: ClassVar[str] = "column"
    name: str
    name_span: Span
    type: BaseType | EnumType
    optional: bool
    key: bool
    relation: Relation | None
    span: Span


@dataclass(frozen=True, slots=True)
class InDimension:
    """`dimension NAME` in an indicator."""

    kind: ClassVar[str] = "dimension"
    name: str
    name_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class Over:
    kind: ClassVar[str] = "over"
    name: str
    name_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class Window:
    kind: ClassVar[str] = "window"
    spec: WindowSpec
    column: str
    column_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class Where:
    kind: ClassVar[str] = "where"
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class OncePer:
    kind: ClassVar[str] = "once"
    exprs: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Measure:
    kind: ClassVar[str] = "measure"
    measure: str  # rate | average | total | count
    expr: Expr | None  # None for count
    span: Span


@dataclass(frozen=True, slots=True)
class MinSample:
    kind: ClassVar[str] = "min_sample"
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Direction:
    kind: ClassVar[str] = "direction"
    direction: str  # higher | lower
    span: Span


@dataclass(frozen=True, slots=True)
class Status:
    kind: ClassVar[str] = "status"
    status: str  # assessed | display_only; retired when a `retire` made the version
    span: Span


@dataclass(frozen=True, slots=True)
class OnlyFor:
    kind: ClassVar[str] = "only_for"
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Round:
    kind: ClassVar[str] = "round"
    digits: int
    span: Span


@dataclass(frozen=True, slots=True)
class Applies:
    kind: ClassVar[str] = "applies"
    names: tuple[Ref, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class When:
    kind: ClassVar[str] = "when"
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Until:
    kind: ClassVar[str] = "until"
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Except:
    kind: ClassVar[str] = "except"
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class RetiredExcept:
    """Not written: the `except` of a `retire`, as the compiler hands it to the retired version."""

    kind: ClassVar[str] = "retired_except"
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Level:
    kind: ClassVar[str] = "level"
    label: str
    cutoff: Cutoff
    points: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Weights:
    kind: ClassVar[str] = "weights"
    weights: tuple[Weight, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Override:
    """`for COLUMN in {…} = VALUE` (a param's) or `for COLUMN in {…} { … }` (weights')."""

    kind: ClassVar[str] = "override"
    column: str
    column_span: Span
    values: SetLit
    value: Expr | None
    body: tuple[Stmt, ...] | None
    span: Span


@dataclass(frozen=True, slots=True)
class Unassessed:
    kind: ClassVar[str] = "unassessed"
    policy: str  # reweight | score
    expr: Expr | None  # the score, for `unassessed score`
    span: Span


@dataclass(frozen=True, slots=True)
class AsOf:
    kind: ClassVar[str] = "as_of"
    date: str
    date_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class Given:
    kind: ClassVar[str] = "given"
    table: str
    table_span: Span
    rows: tuple[Row, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Expect:
    kind: ClassVar[str] = "expect"
    negated: bool
    name: str
    name_span: Span
    shop: str
    outcome: Outcome | None  # None: the action is in force (or, negated, is not)
    span: Span


Stmt = (Version | Timezone | Effective | Cite | Assumption | Column | InDimension | Over | Window | Where | OncePer
        | Measure | MinSample | Direction | Status | OnlyFor | Round | Applies | When | Until | Except | RetiredExcept
        | Level | Weights | Override | Unassessed | AsOf | Given | Expect)
