"""One query, written for the engine that runs it: DuckDB (the default) or Spark.

The queries are sqlglot expressions (`query.py`, `sql.py`); this is the one place they
become text. For Spark the expression is first lowered where the engines name a thing
differently and sqlglot does not translate it (`arg_min_null` is Spark's `min_by` over a
struct), then written with sqlglot's Spark generator set to raise on anything it cannot
express. sqlglot passes an unknown function through as written, so every function left in
the lowered query is checked against the functions Spark has: a query that would run wrong,
or not at all, is refused before it reaches the engine (`NotPortable`).
"""

from __future__ import annotations

from sqlglot import ErrorLevel, exp
from sqlglot.errors import UnsupportedError

DIALECTS = ("duckdb", "spark")

# Functions the queries name as anonymous calls, with their Spark names. A function not
# here has no known Spark form.
SPARK_NAMES = {"arg_min_null": "min_by"}
SPARK_FUNCTIONS = {"min_by", "coalesce", "least", "greatest", "abs", "bool_or", "sum", "count", "row_number"}


class NotPortable(Exception):
    """A query holds a construct the target engine has no faithful form for."""


def render(query: exp.Expression, dialect: str = "duckdb", also: set[str] = frozenset()) -> str:
    """The query as `dialect`'s text; `also` names functions Spark has beyond those the rule
    queries call (the data layer's)."""
    if dialect == "duckdb":
        return query.sql(dialect="duckdb")
    if dialect != "spark":
        raise ValueError(f"no SQL dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    lowered = query.transform(_lower_for_spark)
    for call in lowered.find_all(exp.Anonymous):
        name = call.name.lower()
        if name not in SPARK_FUNCTIONS and name not in also:
            raise NotPortable(f"the function {call.name} has no Spark form that lhrule knows "
                              f"(in `{call.sql(dialect='duckdb')[:120]}`)")
    try:
        return lowered.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as e:
        raise NotPortable(f"sqlglot cannot write this for Spark: {e}") from None


def _lower_for_spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() in SPARK_NAMES:
        args = [exp.Struct(expressions=[a.copy() for a in arg.expressions]) if isinstance(arg, exp.Tuple)
                else arg.copy() for arg in node.expressions]
        return exp.Anonymous(this=SPARK_NAMES[node.name.lower()], expressions=args)
    return node


def not_portable(rb, dialect: str, days=None):
    """(declaration, message) for each query that scoring and explaining `rb` can send
    (`query.every_query`) with no form in `dialect`; a declaration is named once."""
    from lhrule.engine.sql.queries import every_query

    named = set()
    for what, decl, query in every_query(rb, days):
        try:
            render(query, dialect)
        except NotPortable as e:
            if id(decl) not in named:
                named.add(id(decl))
                yield decl, f"{what} cannot run on {dialect}: {e}"


def check_portable(rb, dialect: str, days=None) -> None:
    """Raise NotPortable, naming the first rule with no form in `dialect` and where it is
    written, before anything runs."""
    for decl, message in not_portable(rb, dialect, days):
        span = getattr(decl, "span", None)
        where = f"{span.file}:{span.line}:{span.column}: " if span is not None else ""
        raise NotPortable(f"{where}{message}; score it with --engine duckdb")
