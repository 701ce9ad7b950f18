"""The expressions of the syntax tree, as written: one frozen class per form, each with its span."""

from __future__ import annotations

from dataclasses import dataclass

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
