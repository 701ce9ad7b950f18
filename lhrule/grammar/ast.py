"""The syntax tree of a rulebook file, as written: no names resolved, no types.

Every node is a frozen dataclass and carries its span; the expressions are in `ast_expressions.py`,
the statements of a body in `ast_statements.py`, the declarations here. The compiler
(`lhrule.compiler.compile`) turns this into the typed IR; the formatter (`lhrule.grammar.format`)
prints it back. Both read the nodes by attribute and `match` on their classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lhrule.diagnostics import Span
# Expressions and statements live in modules of their own, to keep each readable; `ast.Window`,
# `ast.Binary` … name them all.
from lhrule.grammar.ast_expressions import (  # noqa: F401
    Binary, Call, Exists, Expr, In, IsNull, Lit, Path, Range, SetLit, Unary)
from lhrule.grammar.ast_statements import (  # noqa: F401
    Applies, AsOf, Assumption, BaseType, Cite, Column, CutOtherwise, CutTop, CutValue, Cutoff, DateBound, Direction,
    Effective, EnumType, Except, Expect, ExpectBand, ExpectNotAssessed, ExpectPoints, ExpectValue, Field, Given,
    InDimension, Level, Measure, MinSample, OncePer, OnlyFor, Outcome, Over, Override, Ref, Relation, RetiredExcept,
    Round, Row, Status, Stmt, Timezone, Unassessed, Until, Version, Weight, Weights, When, Where, Window,
    WindowLast, WindowPreviousDay, WindowRange, WindowSpec)


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
