"""Validating a dataset Spark reads from a URI (hdfs://, s3a://), which DuckDB cannot open.

A dataset in a local folder is validated by `validate.py` even when Spark scores it: the
report names each bad row's number. Here, the same checks run on Spark over the files as
read (`raw_NAME` views, see `spark.py`), in one scan per table plus one per key and
relation. Spark keeps no row numbers across a file's splits, so a problem names the file
and the value, not the row. Bad rows stop the run; quarantine is DuckDB's.
"""

from __future__ import annotations

import datetime as dt

from lhrule.ir import model as ir
from lhrule.engine.data.dataset import FILE
from lhrule.engine.data.validate import (REPEATED, SAMPLES, SKIPPED, TIME_TEXT, WITH_OFFSET, YEARS, ZONE_NAMED, Problem,
                                    Validation, number_checks)

PARSED = {"timestamp": "TIMESTAMP_LTZ", "date": "DATE", "number": "DECIMAL(38,6)", "duration": "BIGINT",
          "bool": "BOOLEAN"}


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _time_checks(raw: str, text: bool, kind: str, zone: str) -> list[tuple[str, str, str]]:
    """The checks of `validate._checks` on a timestamp's zone, for Spark. The session's zone is
    the rulebook's, so a cast between TIMESTAMP_NTZ and TIMESTAMP (an instant) is a reading in
    it; Java reads a local time the clocks repeat as the earlier instant, and one they skipped
    as a later time."""
    from lhrule.ir.zones import fixed_since

    since = fixed_since(zone)
    before = "TRUE" if since is None else f"{{local}} < TIMESTAMP_NTZ {_lit(since.isoformat(sep=' '))}"
    checks = []
    offset = f"({raw} RLIKE {_lit('^' + WITH_OFFSET + '$')})"
    if text:
        checks.append(("", ZONE_NAMED, f"(try_cast({raw} AS TIMESTAMP_LTZ) IS NOT NULL AND NOT ({raw} RLIKE "
                                       f"{_lit('^' + TIME_TEXT + '$')}))"))
    if since == dt.datetime.min:
        return checks
    if text or kind == "timestamp_ntz":
        naive = f"try_cast({raw} AS TIMESTAMP_NTZ)" if text else raw
        moved = f"(CAST(CAST({naive} AS TIMESTAMP_LTZ) AS TIMESTAMP_NTZ) <> {naive})"
        cond = f"(CASE WHEN {before.format(local=naive)} THEN {moved} ELSE FALSE END)"
        checks.append(("", SKIPPED.format(zone=zone), f"(NOT {offset} AND {cond})" if text else cond))
    if text or kind == "timestamp":
        instant = f"try_cast({raw} AS TIMESTAMP_LTZ)" if text else raw
        local = f"CAST({instant} AS TIMESTAMP_NTZ)"
        again = f"(CASE WHEN {before.format(local=local)} THEN CAST({local} AS TIMESTAMP_LTZ) < {instant} ELSE FALSE END)"
        checks.append(("", REPEATED.format(zone=zone), f"({offset} AND {again})" if text else again))
    return checks


def _keys_alias(column: str) -> str:
    return _q(f"lhrule keys of {column}")  # a name no column has: see dataset.FILE


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def validate(spark, rb: ir.Rulebook, files: dict[str, list[str]]) -> Validation:
    result = Validation()
    for table in rb.tables:
        if table.name in files:
            _check_table(spark, rb, table, files, result)
    return result


def _checks(table: ir.Table, source: dict[str, str], files: dict[str, list[str]],
            zone: str = "UTC") -> list[tuple[str, str, str]]:
    """(column, what, condition on the raw row `r`) for every row-level check."""
    checks = []
    for c in table.columns:
        kind = source.get(c.name)
        if kind is None:
            continue
        raw = f"r.{_q(c.name)}"
        text = kind == "string"
        empty = f"({raw} IS NULL" + (f" OR {raw} = ''" if text else "") + ")"
        if not c.optional:
            checks.append((c.name, "missing a required value", empty))
        parsed = raw
        if c.type.name in PARSED and text:
            parsed = f"try_cast({raw} AS {PARSED[c.type.name]})"
            what = "not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00])" if c.type.name == "timestamp" else \
                f"not a {c.type.name if c.type.name != 'number' else 'finite number'}"
            checks.append((c.name, what, f"(NOT {empty} AND {parsed} IS NULL)"))
        elif c.type.name == "number" and kind in ("double", "float"):
            checks.append((c.name, "not a finite number",
                           f"(isnan({raw}) OR {raw} IN (double('Infinity'), double('-Infinity')))"))
        if c.type.name == "timestamp":
            checks += [(c.name, what, cond) for _, what, cond in _time_checks(raw, text, kind, zone)]
        if c.type.name in ("timestamp", "date"):
            checks.append((c.name, f"outside the years {YEARS[0]} to {YEARS[1]}",
                           f"(year({parsed}) NOT BETWEEN {YEARS[0]} AND {YEARS[1]})"))
        if c.type.name == "duration":
            checks.append((c.name, "a negative duration", f"(try_cast({raw} AS BIGINT) < 0)"))
        checks += [(c.name, what, cond) for what, cond in number_checks(c, raw, kind, "spark")]
        if c.type.name == "enum":
            values = ", ".join(_lit(v) for v in c.type.values)
            checks.append((c.name, f"not one of {', '.join(c.type.values)}",
                           f"(NOT {empty} AND CAST({raw} AS STRING) NOT IN ({values}))"))
        if c.target and c.target in files:
            checks.append((c.name, f"pointing at no row of {c.target}",
                           f"(NOT {empty} AND {_keys_alias(c.name)}.k IS NULL)"))
    return checks


def _check_table(spark, rb: ir.Rulebook, table: ir.Table, files: dict[str, list[str]], result: Validation) -> None:
    raw = f"raw_{table.name}"
    source = {f.name: f.dataType.simpleString() for f in spark.table(raw).schema.fields}
    checks = _checks(table, source, files, rb.timezone)
    joins = []
    for c in table.columns:
        if c.target and c.target in files and c.name in source:
            key = _q(rb.table(c.target).key.name)
            alias = _keys_alias(c.name)
            joins.append(f"LEFT JOIN (SELECT DISTINCT CAST({key} AS STRING) AS k FROM raw_{c.target}) AS {alias} "
                         f"ON CAST(r.{_q(c.name)} AS STRING) = {alias}.k")
    sums = "".join(f", SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)" for _, _, cond in checks)
    body = f"FROM {raw} AS r {' '.join(joins)}"
    counts = spark.sql(f"SELECT COUNT(*){sums} {body}").collect()[0]
    result.rows[table.name] = counts[0]
    result.checks[table.name] = [(column, what) for column, what, _ in checks]
    bad = 0
    for (column, what, cond), count in zip(checks, counts[1:]):
        if not count:
            continue
        bad += count
        samples = spark.sql(f"SELECT r.{_q(FILE)}, CAST(r.{_q(column)} AS STRING) {body} WHERE {cond} "
                            f"LIMIT {SAMPLES}").collect()
        result.problems.append(Problem(table.name, column, what, count, [(f, None, v) for f, v in samples]))
    key = table.key
    if key is not None and key.name in source:
        k = _q(key.name)
        spark.sql(f"SELECT CAST({k} AS STRING) AS k FROM {raw} WHERE {k} IS NOT NULL GROUP BY {k} "
                  f"HAVING COUNT(*) > 1").createOrReplaceTempView(f"dupes_{table.name}")
        dupes = spark.sql(f"SELECT COUNT(*) FROM dupes_{table.name}").collect()[0][0]
        if dupes:
            bad += dupes
            shown = spark.sql(f"SELECT k FROM dupes_{table.name} ORDER BY k LIMIT {SAMPLES}").collect()
            result.problems.append(Problem(table.name, key.name, "a duplicate id", dupes,
                                           [(files[table.name][0], None, r[0]) for r in shown]))
    result.bad[table.name] = bad
