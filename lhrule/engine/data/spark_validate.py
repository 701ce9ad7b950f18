"""Validating a dataset Spark reads from a URI (hdfs://, s3a://), which DuckDB cannot open.

A dataset in a local folder is validated by `validate.py` even when Spark scores it: the
report names each bad row's number. Here, the same checks run on Spark over the files as
read (`raw_NAME` views, see `spark.py`), in one scan per table plus one per key and
relation. Spark keeps no row numbers across a file's splits, so a problem names the file
and the value, not the row. Bad rows stop the run; quarantine is DuckDB's.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from lhrule.ir import model as ir
from lhrule.engine.data import statements as q
from lhrule.engine.data.statements import FILE, col, lit
from lhrule.engine.data.types import BIGINT, INSTANT, TEXT, sql_type
from lhrule.engine.data.validate import (REPEATED, SAMPLES, SKIPPED, TIME_TEXT, WITH_OFFSET, YEARS, ZONE_NAMED, Problem,
                                         Validation, _from, _matches, _outside, keys_alias, number_checks)

PARSED = ("timestamp", "date", "number", "duration", "bool")
DOUBLE = exp.DataType.build("DOUBLE")


def _time_checks(raw: exp.Expression, text: bool, kind: str, zone: str) -> list[tuple[str, exp.Expression]]:
    """The checks of `validate._checks` on a timestamp's zone, for Spark. The session's zone is
    the rulebook's, so a cast between TIMESTAMP_NTZ and TIMESTAMP (an instant) is a reading in
    it; Java reads a local time the clocks repeat as the earlier instant, and one they skipped
    as a later time."""
    from lhrule.ir.zones import fixed_since

    since = fixed_since(zone)
    local_type = sql_type("timestamp")

    def before(local: exp.Expression, then: exp.Expression) -> exp.Expression:
        if since is None:
            return exp.Case(ifs=[exp.If(this=exp.true(), true=then)], default=exp.false())
        limit = q.cast(lit(since.isoformat(sep=" ")), local_type)
        return exp.Case(ifs=[exp.If(this=exp.LT(this=local.copy(), expression=limit), true=then)], default=exp.false())

    checks = []
    offset = exp.paren(_matches(raw, WITH_OFFSET))
    if text:
        checks.append((ZONE_NAMED, exp.paren(exp.and_(exp.not_(q.try_cast(raw, INSTANT).is_(exp.null())),
                                                      exp.not_(exp.paren(_matches(raw, TIME_TEXT)))))))
    if since == dt.datetime.min:
        return checks
    if text or kind == "timestamp_ntz":
        naive = q.try_cast(raw, local_type) if text else raw.copy()
        moved = exp.paren(exp.NEQ(this=q.cast(q.cast(naive, INSTANT), local_type), expression=naive.copy()))
        cond = before(naive, moved)
        checks.append((SKIPPED.format(zone=zone), exp.paren(exp.and_(exp.not_(offset.copy()), cond)) if text else cond))
    if text or kind == "timestamp":
        instant = q.try_cast(raw, INSTANT) if text else raw.copy()
        local = q.cast(instant, local_type)
        again = before(local, exp.LT(this=q.cast(local, INSTANT), expression=instant.copy()))
        checks.append((REPEATED.format(zone=zone), exp.paren(exp.and_(offset.copy(), again)) if text else again))
    return checks


def validate(spark, rb: ir.Rulebook, files: dict[str, list[str]]) -> Validation:
    result = Validation()
    for table in rb.tables:
        if table.name in files:
            _check_table(spark, rb, table, files, result)
    return result


def _checks(table: ir.Table, source: dict[str, str], files: dict[str, list[str]],
            zone: str = "UTC") -> list[tuple[str, str, exp.Expression]]:
    """(column, what, condition on the raw row `r`) for every row-level check."""
    checks = []
    for c in table.columns:
        kind = source.get(c.name)
        if kind is None:
            continue
        raw = col(c.name, "r")
        text = kind == "string"
        empty = exp.paren(exp.or_(raw.is_(exp.null()), raw.eq(lit(""))) if text else raw.is_(exp.null()))
        filled = exp.not_(empty.copy())
        if not c.optional:
            checks.append((c.name, "missing a required value", empty))
        parsed = raw
        if c.type.name in PARSED and text:
            parsed = q.try_cast(raw, INSTANT if c.type.name == "timestamp" else sql_type(c.type.name))
            what = "not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00])" if c.type.name == "timestamp" else \
                f"not a {c.type.name if c.type.name != 'number' else 'finite number'}"
            checks.append((c.name, what, exp.paren(exp.and_(filled.copy(), parsed.is_(exp.null())))))
        elif c.type.name == "number" and kind in ("double", "float"):
            infinite = exp.In(this=raw.copy(), expressions=[q.cast(lit("Infinity"), DOUBLE),
                                                            q.cast(lit("-Infinity"), DOUBLE)])
            checks.append((c.name, "not a finite number", exp.paren(exp.or_(q.call("isnan", raw.copy()), infinite))))
        if c.type.name == "timestamp":
            checks += [(c.name, what, cond) for what, cond in _time_checks(raw, text, kind, zone)]
        if c.type.name in ("timestamp", "date"):
            checks.append((c.name, f"outside the years {YEARS[0]} to {YEARS[1]}",
                           _outside(exp.Year(this=parsed.copy()), YEARS)))
        if c.type.name == "duration":
            checks.append((c.name, "a negative duration", exp.paren(exp.LT(this=q.try_cast(raw, BIGINT),
                                                                           expression=lit(0)))))
        checks += [(c.name, what, cond) for what, cond in number_checks(c, raw, kind)]
        if c.type.name == "enum":
            values = exp.In(this=q.cast(raw, TEXT), expressions=[lit(v) for v in c.type.values])
            checks.append((c.name, f"not one of {', '.join(c.type.values)}",
                           exp.paren(exp.and_(filled.copy(), exp.not_(values)))))
        if c.target and c.target in files:
            checks.append((c.name, f"pointing at no row of {c.target}", exp.paren(exp.and_(
                filled.copy(), exp.column("k", table=q.name(keys_alias(c.name))).is_(exp.null())))))
    return checks


def _joined(select: exp.Select, rb: ir.Rulebook, table: ir.Table, source: dict[str, str],
            files: dict[str, list[str]]) -> exp.Select:
    for c in table.columns:
        if c.target and c.target in files and c.name in source:
            key = col(rb.table(c.target).key.name)
            keys = exp.select(q.alias(q.cast(key, TEXT), "k")).distinct().from_(q.table(f"raw_{c.target}"))
            alias = keys_alias(c.name)
            select = select.join(_from(exp.Subquery(this=keys), alias), join_type="LEFT", on=exp.EQ(
                this=q.cast(col(c.name, "r"), TEXT), expression=exp.column("k", table=q.name(alias))))
    return select


def count_query(rb: ir.Rulebook, table: ir.Table, source: dict[str, str], files: dict[str, list[str]],
                checks) -> exp.Select:
    return _joined(exp.select(q.count_star(), *q.sum_of([cond.copy() for _, _, cond in checks])).from_(
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
    result.checks[table.name] = [(column, what) for column, what, _ in checks]
    bad = 0
    for (column, what, cond), count in zip(checks, counts[1:]):
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
