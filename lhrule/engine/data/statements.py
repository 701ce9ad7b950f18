"""The data layer's SQL, as sqlglot expressions: names, paths and values are placed in them
as identifiers and literals, which sqlglot quotes when it writes the text for the engine
(`render`, DuckDB or Spark). No statement is assembled from text."""

from __future__ import annotations

import re

from sqlglot import exp

from lhrule.engine.sql import dialects

# lhrule's own columns beside a table's, in the raw readers and the tables of bad rows: names
# with a space, which no declared column has (a name is [A-Za-z_][A-Za-z0-9_]*), so no column
# of a file, declared or not, can meet them.
FILE, ROW = "lhrule file", "lhrule row"


# Functions the data layer's statements call by name on Spark, beyond the rule queries'.
SPARK_FUNCTIONS = {"isnan", "concat_ws"}


def render(statement: exp.Expression, dialect: str = "duckdb") -> str:
    """The statement as text for the engine, written by `dialects.render`, the one place SQL
    becomes text."""
    return dialects.render(statement, dialect, also=SPARK_FUNCTIONS)


def name(text: str) -> exp.Identifier:
    return exp.to_identifier(text, quoted=True)


def own(text: str) -> exp.Identifier:
    """A name for one of lhrule's own columns: refused if a declared column could hold it."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise AssertionError(f"lhrule's own column {text!r} could meet a declared column")
    return name(text)


def col(column: str, table: str | None = None) -> exp.Column:
    return exp.column(column, table=table, quoted=True)


def lit(value) -> exp.Expression:
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return exp.Literal.number(value)


def table(text: str) -> exp.Table:
    return exp.table_(text, quoted=True)


def cast(e: exp.Expression, to: exp.DataType) -> exp.Cast:
    return exp.Cast(this=e, to=to.copy())


def try_cast(e: exp.Expression, to: exp.DataType) -> exp.TryCast:
    return exp.TryCast(this=e, to=to.copy(), safe=True)


def alias(e: exp.Expression, to: exp.Identifier | str) -> exp.Alias:
    return exp.Alias(this=e, alias=to if isinstance(to, exp.Identifier) else name(to))


def call(function: str, *args: exp.Expression, **options: exp.Expression) -> exp.Anonymous:
    """A function call as written (a table function such as read_csv, with its named options)."""
    named = [exp.EQ(this=exp.column(k), expression=v) for k, v in options.items()]
    return exp.Anonymous(this=function, expressions=[*args, *named])


def union_by_name(selects: list[exp.Query]) -> exp.Query:
    out = selects[0]
    for s in selects[1:]:
        out = exp.Union(this=out, expression=s, distinct=False, by_name=True)
    return out


def sum_of(conditions: list[exp.Expression]) -> list[exp.Expression]:
    """SUM(CASE WHEN cond THEN 1 ELSE 0 END) of each condition: the rows meeting it."""
    return [exp.Sum(this=exp.Case(ifs=[exp.If(this=c, true=lit(1))], default=lit(0))) for c in conditions]


def count_star() -> exp.Count:
    return exp.Count(this=exp.Star())


def or_all(conditions: list[exp.Expression]) -> exp.Expression:
    return exp.or_(*conditions) if conditions else exp.false()


def create(kind: str, target: str, query: exp.Expression, temporary: bool = False,
           replace: bool = True) -> exp.Create:
    """CREATE [OR REPLACE] [TEMPORARY] VIEW/TABLE target AS query."""
    props = exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary else None
    return exp.Create(kind=kind, replace=replace, this=table(target), expression=query, properties=props)
