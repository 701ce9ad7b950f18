"""The syntax tree of a rulebook file, as written: no names resolved, no types.

Every node carries its span. The compiler (`lhrule.compiler.compile`) turns this into the
typed IR; the formatter (`lhrule.grammar.format`) prints it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lhrule.diagnostics import Span


@dataclass(frozen=True, slots=True)
class Lit:
    """A literal as written. `kind` is the lexical class: int, decimal, percent, duration,
    quantity, date, time, datetime, string, bool, null; `text` is the source text (for a
    string, its decoded value)."""

    kind: str
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not" | "-"
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # and or + - * / = != < <= > >=
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Range:
    lo: Expr
    hi: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class In:
    left: Expr
    right: Expr  # SetLit, Range, or an expression of set or list type
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class IsNull:
    operand: Expr
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class SetLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Exists:
    table: str
    alias: str | None
    cond: Expr
    negated: bool
    span: Span


Expr = Lit | Path | Call | Unary | Binary | Range | In | IsNull | SetLit | Exists


@dataclass(frozen=True, slots=True)
class Stmt:
    """One statement of a declaration body. `kind` names it (window, where, level …);
    `f` holds its parts by name, documented at the transformer method that builds it."""

    kind: str
    span: Span
    f: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decl:
    """A top-level declaration. `kind` is its keyword (rulebook, include, entity, table,
    param, dimension, metric, indicator, exclusion, bands, score, grade, action, revise, retire,
    test). For include, `name` is the path; for test, the test's title; for revise and
    retire, the target's name with the date in `date`."""

    kind: str
    name: str
    span: Span
    name_span: Span
    label: str | None = None
    target: str | None = None  # bands/grade: `of NAME`
    target_span: Span | None = None
    rank_within: str | None = None  # bands: `by rank within COLUMN`
    value: Expr | None = None  # param: `= VALUE`
    date: str | None = None  # revise/retire: `effective DATE`
    extends: str | None = None  # indicator: `extends METRIC`
    extends_span: Span | None = None
    body: tuple[Stmt, ...] | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    column: int
    text: str


@dataclass(frozen=True, slots=True)
class File:
    path: str
    source: str
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...]
