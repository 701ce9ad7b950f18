"""Validating a dataset Spark reads from a URI (hdfs://, s3a://), which DuckDB cannot open.

A dataset in a local folder is validated by `validate.py` even when Spark scores it: the
report names each bad row's number. Here, the same checks run on Spark over the files as
read (`raw_NAME` views, see `spark.py`), in one scan per table plus one per key and
relation. Spark keeps no row numbers across a file's splits, so a problem names the file
and the value, not the row. Bad rows stop the run; quarantine is DuckDB's.
"""

from __future__ import annotations


from sqlglot import exp

from lhrule.ir import model as ir
from lhrule.engine.data import statements as q
from lhrule.engine.data.statements import FILE, col, lit
from lhrule.engine.data.types import TEXT
from lhrule.engine.data.validate import (DUPLICATE, SAMPLES, SPARK, Check, Problem, Validation, _from, keys_alias,
                                         row_checks)


def validate(spark, rb: ir.Rulebook, files: dict[str, list[str]]) -> Validation:
    result = Validation()
    for table in rb.tables:
        if table.name in files:
            _check_table(spark, rb, table, files, result)
    return result


def _checks(table: ir.Table, source: dict[str, str], files: dict[str, list[str]], zone: str = "UTC") -> list[Check]:
    """The checks of `validate.row_checks`, as Spark runs them: a key held twice is counted by
    grouping (`dupes_query`), not row by row."""
    return [c for c in row_checks(table, source, zone, files, SPARK) if c.what != DUPLICATE]


def _joined(select: exp.Select, rb: ir.Rulebook, table: ir.Table, source: dict[str, str],
            files: dict[str, list[str]]) -> exp.Select:
    for c in table.columns:
        if c.target and c.target in files and c.name in source:
            key = col(rb.table(c.target).key.name)
            keys = exp.select(q.alias(q.cast(key, TEXT), "k")).distinct().from_(q.table(f"raw_{c.target}"))
            alias = keys_alias(c.name)
            select = select.join(_from(exp.Subquery(this=keys), alias), join_type="LEFT", on=exp.EQ(
                this=q.cast(col(c.name, "r"), TEXT), expression=exp.column("k", table=q.name(alias), quoted=True)))
    return select


def count_query(rb: ir.Rulebook, table: ir.Table, source: dict[str, str], files: dict[str, list[str]],
                checks) -> exp.Select:
    return _joined(exp.select(q.count_star(), *q.sum_of([c.condition.copy() for c in checks])).from_(
        _from(f"raw_{table.name}", "r")), rb, table, source, files)


def dupes_query(table: ir.Table) -> exp.Select:
    k = col(table.key.name)
    return exp.select(q.alias(q.cast(k, TEXT), "k")).from_(q.table(f"raw_{table.name}")).where(
        exp.not_(k.is_(exp.null()))).group_by(k.copy()).having(exp.GT(this=q.count_star(), expression=lit(1)))


def _sql(spark, statement: exp.Expression):
    return spark.sql(q.render(statement, "spark"))


def _check_table(spark, rb: ir.Rulebook, table: ir.Table, files: dict[str, list[str]], result: Validation) -> None:
    raw = f"raw_{table.name}"
    source = {f.name: f.dataType.simpleString() for f in spark.table(raw).schema.fields}
    checks = _checks(table, source, files, rb.timezone)
    counts = _sql(spark, count_query(rb, table, source, files, checks)).collect()[0]
    result.rows[table.name] = counts[0]
    result.checks[table.name] = [(c.column, c.what) for c in checks]
    bad = 0
    for (column, what, cond, _), count in zip(checks, counts[1:]):
        if not count:
            continue
        bad += count
        samples = _joined(exp.select(col(FILE, "r"), q.cast(col(column, "r"), TEXT)).from_(_from(raw, "r")),
                          rb, table, source, files).where(cond.copy()).limit(SAMPLES)
        samples = _sql(spark, samples).collect()
        result.problems.append(Problem(table.name, column, what, count, [(f, None, v) for f, v in samples]))
    key = table.key
    if key is not None and key.name in source:
        _sql(spark, dupes_query(table)).createOrReplaceTempView(f"dupes_{table.name}")
        dupes = _sql(spark, exp.select(q.count_star()).from_(q.table(f"dupes_{table.name}"))).collect()[0][0]
        if dupes:
            bad += dupes
            shown = _sql(spark, exp.select(col("k")).from_(q.table(f"dupes_{table.name}")).order_by(col("k"))
                         .limit(SAMPLES)).collect()
            result.problems.append(Problem(table.name, key.name, "a duplicate id", dupes,
                                           [(files[table.name][0], None, r[0]) for r in shown]))
    result.bad[table.name] = bad
