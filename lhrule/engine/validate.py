"""Validating a dataset against the rulebook's declared schema, before anything is scored.

One pass per table, in DuckDB, over the files as read: each row is checked for a missing
required value, a value that is not of its column's type (a bad timestamp, NaN or infinity
in a number …), an enum value outside its set, a duplicate key, and a relation pointing at
nothing (a refund whose order does not exist). The rows with problems land in a small temp
table; the report names the table, the file, the row (1-based, header not counted) and the
column of each. Nothing is dropped silently: by default the run stops; in quarantine mode
the bad rows are written aside with their reasons and left out of the views scored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from lhrule.engine import ir
from lhrule.engine.dataset import SQL_TYPES, Dataset, DatasetError, raw_reader, user_file

SAMPLES = 5
# The years an event's time may fall in. A time outside them parses (0001-01-01, 2999-…) but
# is a typo or a placeholder, and would silently fall outside every window.
YEARS = (1970, 2199)


@dataclass
class Problem:
    table: str
    column: str
    what: str
    count: int
    samples: list[tuple[str, int | None, str | None]]  # file, row (None: not known, on Spark), value

    def __str__(self) -> str:
        where = ", ".join(Path(f).name + (f" row {r}" if r is not None else "") + (f" ({v!r})" if v is not None else "")
                          for f, r, v in self.samples)
        more = f" … and {self.count - len(self.samples)} more" if self.count > len(self.samples) else ""
        rows = "row" if self.count == 1 else "rows"
        return f"{self.table}.{self.column}: {self.count} {rows} {self.what}: {where}{more}"


@dataclass
class Validation:
    rows: dict[str, int] = field(default_factory=dict)
    bad: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    checks: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table -> (column, what) by b<i>

    @property
    def ok(self) -> bool:
        return not self.problems

    def refusal(self, data, what_to_do: str, whose: str | None = None) -> DatasetError:
        """The error that stops a run on these problems: each one, then what to do. `whose`
        names the rulebook whose tables the rows break, where two declare them differently."""
        report = "\n".join(f"  {p}" for p in self.problems)
        under = f" as {whose} declares its tables" if whose else ""
        return DatasetError(f"the dataset {data} has bad rows{under}:\n{report}\n{what_to_do}")


# A timestamp as text: a date, a time, and an offset or Z. Anything else after the time (a zone
# name, an abbreviation: DuckDB and Spark read `CST` as Chicago's time, a Chinese export means
# +08:00) is refused rather than guessed.
TIME_TEXT = r"\s*-?\d+-\d{1,2}-\d{1,2}([Tt ]\d{1,2}:\d{2}(:\d{2}(\.\d*)?)?)?([Zz]|[+-]\d{2}(:?\d{2}){0,2})?\s*"
WITH_OFFSET = r".*\d:\d{2}(:\d{2}(\.\d*)?)?([Zz]|[+-]\d{2}(:?\d{2}){0,2})\s*"
ZONE_NAMED = ("written with a zone name or other text after the time, which is not an offset (CST is China's "
              "+08:00 in a Chinese export, Chicago's to DuckDB and Spark): write the offset, like "
              "2024-06-29 10:00:00+08:00")


SKIPPED = "not a time in {zone}: its clocks skipped it, going forward (write the time it was, with its offset)"
REPEATED = ("in the hour {zone}'s clocks repeat when they go back, the second time round: lhrule keeps "
            "local times, which cannot tell it from the first; leave such rows out with --on-bad-rows quarantine")


def second_pass(zone: str, instant_sql: str) -> str | None:
    """The SQL condition that the instant (a TIMESTAMPTZ) falls in the second pass of an hour
    the zone's clocks repeat: its local time names an earlier instant too, which is the one a
    local time is read as (`sql.instant`). None when the zone repeated no hour since 1970."""
    import sqlglot

    from lhrule.engine.sql import instant
    from lhrule.engine.zones import fixed_since

    since = fixed_since(zone)
    if since == dt.datetime.min:
        return None
    z = _lit(zone)
    local, utc = f"timezone({z}, {instant_sql})", f"timezone('UTC', {instant_sql})"
    first = instant(zone, sqlglot.parse_one(local, dialect="duckdb")).sql(dialect="duckdb")
    again = f"({first} < {utc})"
    if since is None:
        return again
    return f"(CASE WHEN {local} < TIMESTAMP {_lit(since.isoformat(sep=' '))} THEN {again} ELSE FALSE END)"


def skipped_time(zone: str, local: str) -> str | None:
    """The SQL condition that the naive local time `local` is one the clocks of `zone`
    skipped (02:30 on the night they go forward at 02:00), which DuckDB would silently read
    as 03:30; None when the zone skipped none since 1970. Read to an instant and back, such
    a time comes back another. Where the offset stays fixed, only earlier times are read."""
    from lhrule.engine.zones import fixed_since

    since = fixed_since(zone)
    if since == dt.datetime.min:
        return None
    z = _lit(zone)
    moved = f"(timezone({z}, timezone({z}, {local})) <> {local})"
    if since is None:
        return moved
    return f"(CASE WHEN {local} < TIMESTAMP {_lit(since.isoformat(sep=' '))} THEN {moved} ELSE FALSE END)"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def validate(con, rb: ir.Rulebook, data: Dataset) -> Validation:
    result = Validation()
    repeated: dict[str, int] = {}  # table -> how many of its keys occur more than once, once counted
    for table in rb.tables:
        files = data.files.get(table.name)
        if not files:
            continue
        _check_table(con, rb, table, data, result, repeated)
    return result


def _checks(con, rb: ir.Rulebook, table: ir.Table, data: Dataset, source_types: dict[str, str]):
    """(column, what, condition, value shown) for every row-level check of the table."""
    checks = []
    for c in table.columns:
        if c.name not in source_types:
            continue
        raw = f"r.{_q(c.name)}"
        text = source_types[c.name] == "VARCHAR"
        empty = f"({raw} IS NULL" + (f" OR {raw} = ''" if text else "") + ")"
        if not c.optional:
            checks.append((c.name, "missing a required value", empty, None))
        target = SQL_TYPES[c.type.name]
        if c.type.name == "timestamp" and text:
            bad = f"(NOT {empty} AND TRY_CAST({raw} AS TIMESTAMPTZ) IS NULL)"
            checks.append((c.name, "not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00])", bad, raw))
            named = f"(TRY_CAST({raw} AS TIMESTAMPTZ) IS NOT NULL AND NOT regexp_full_match({raw}, {_lit(TIME_TEXT)}))"
            checks.append((c.name, ZONE_NAMED, named, raw))
            local = f"TRY_CAST({raw} AS TIMESTAMP)"
            skipped = skipped_time(rb.timezone, local)
            if skipped:
                checks.append((c.name, SKIPPED.format(zone=rb.timezone), f"(NOT "
                               f"regexp_full_match({raw}, {_lit(WITH_OFFSET)}) AND {skipped})", raw))
        elif c.type.name == "timestamp" and source_types[c.name] == "TIMESTAMP" and skipped_time(rb.timezone, raw):
            checks.append((c.name, SKIPPED.format(zone=rb.timezone), skipped_time(rb.timezone, raw), raw))
        if c.type.name == "timestamp" and (text or "TIME ZONE" in source_types[c.name]):
            again = second_pass(rb.timezone, f"TRY_CAST({raw} AS TIMESTAMPTZ)")
            if again:  # a local time without an offset is the first pass's, by definition
                again = f"(regexp_full_match({raw}, {_lit(WITH_OFFSET)}) AND {again})" if text else again
                checks.append((c.name, REPEATED.format(zone=rb.timezone), again, raw))
        elif target != "VARCHAR" and source_types[c.name] != target:
            bad = f"(NOT {empty} AND TRY_CAST({raw} AS {target}) IS NULL)"
            if c.type.name == "number" and source_types[c.name] in ("DOUBLE", "FLOAT"):
                bad = f"({bad} OR isnan({raw}) OR isinf({raw}))"
            checks.append((c.name, f"not a {c.type.name if c.type.name != 'number' else 'finite number'}", bad, raw))
        if c.type.name in ("timestamp", "date"):  # a real time, but not one an event can have
            parsed = f"TRY_CAST({raw} AS {'TIMESTAMPTZ' if text else SQL_TYPES[c.type.name]})"
            checks.append((c.name, f"outside the years {YEARS[0]} to {YEARS[1]}",
                           f"(year({parsed}) NOT BETWEEN {YEARS[0]} AND {YEARS[1]})", raw))
        if c.type.name == "duration":  # a time taken cannot be below zero
            checks.append((c.name, "a negative duration", f"(TRY_CAST({raw} AS BIGINT) < 0)", raw))
        if c.type.name == "enum":
            values = ", ".join(_lit(v) for v in c.type.values)
            checks.append((c.name, f"not one of {', '.join(c.type.values)}",
                           f"(NOT {empty} AND CAST({raw} AS VARCHAR) NOT IN ({values}))", raw))
        if c.key:
            checks.append((c.name, "a duplicate id", f"(NOT {empty} AND COUNT(*) OVER (PARTITION BY {raw}) > 1)", raw))
            # a window cannot stand in the quick pass; duplicates are counted there by GROUP BY
        if c.target and c.target in data.files:
            checks.append((c.name, f"pointing at no row of {c.target}",
                           f"(NOT {empty} AND k_{c.name}.k IS NULL)", raw))
    return checks


def _keys(con, rb: ir.Rulebook, target: str, data: Dataset, repeated: dict[str, int]) -> str:
    """A temp table of the target's keys, each once (a join on it multiplies no row), made
    once however many tables point at it. The keys are only made distinct by grouping when
    some repeat: at 100M events, grouping the 34.8M order ids took 9.8 s, copying them 2.2 s."""
    name = f"keys_{target}"
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]).fetchall():
        table = rb.table(target)
        key = _q(table.key.name)
        select = f"SELECT CAST({key} AS VARCHAR) AS k FROM {raw_reader(data.files[target])} WHERE {key} IS NOT NULL"
        if _repeated_keys(con, table, data, repeated):
            select = f"SELECT DISTINCT k FROM ({select})"
        con.execute(f"CREATE TEMP TABLE {name} AS {select}")
    return name


def _repeated_keys(con, table: ir.Table, data: Dataset, repeated: dict[str, int]) -> int:
    """How many keys occur more than once. The keys' 64-bit hashes are sorted and each
    compared with the one before it (at 100M events, 4.2 s for 43.5M consultation ids, where
    grouping by the hashes took 10.7 s), and only the keys whose hashes meet are compared
    themselves. DuckDB's hash() of a 16-character id often meets another's ('rv000000-0000008'
    and 'rv000009-0000005': 5% of the generated review ids); comparing only those keys took
    0.6 s at 100M events, all the keys 2.2–2.9 s."""
    if table.name in repeated:
        return repeated[table.name]
    key, plain = _q(table.key.name), raw_reader(data.files[table.name])
    met = (f"SELECT DISTINCT h FROM (SELECT h, h = LAG(h) OVER (ORDER BY h) AS same FROM (SELECT hash({key}) AS h "
           f"FROM {plain} WHERE {key} IS NOT NULL)) WHERE same")
    count = con.execute(f"WITH met AS ({met}) SELECT COUNT(*) FROM (SELECT {key} FROM {plain} WHERE {key} IS NOT NULL "
                        f"AND hash({key}) IN (SELECT h FROM met) GROUP BY 1 HAVING COUNT(*) > 1)").fetchone()[0]
    repeated[table.name] = count
    return count


def _check_table(con, rb: ir.Rulebook, table: ir.Table, data: Dataset, result: Validation,
                 repeated: dict[str, int]) -> None:
    reader = raw_reader(data.files[table.name], with_rows=True)
    source_types = {r[0]: r[1].upper() for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
    checks = _checks(con, rb, table, data, source_types)
    result.checks[table.name] = [(column, what) for column, what, _, _ in checks]
    joins = []
    for c in table.columns:
        if c.target and c.target in data.files and c.name in source_types:
            joins.append(f"LEFT JOIN {_keys(con, rb, c.target, data, repeated)} AS k_{c.name} "
                         f"ON CAST(r.{_q(c.name)} AS VARCHAR) = k_{c.name}.k")
    # The quick pass: one scan, no row numbers. Only a table with problems is read again to
    # find and number its bad rows.
    plain = raw_reader(data.files[table.name])
    row_checks = [(i, cond) for i, (_, what, cond, _) in enumerate(checks) if what != "a duplicate id"]
    sums = "".join(f", SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)" for _, cond in row_checks)
    counts = con.execute(f"SELECT COUNT(*){sums} FROM {plain} AS r {' '.join(joins)}").fetchone()
    result.rows[table.name] = counts[0]
    dupes = 0
    key = table.key
    if key is not None and key.name in source_types:
        dupes = _repeated_keys(con, table, data, repeated)
    if not dupes and not any(counts[1:]):
        result.bad[table.name] = 0
        return
    flags = ", ".join(f"{cond} AS b{i}" for i, (_, _, cond, _) in enumerate(checks)) or "FALSE AS b0"
    shown = ", ".join(f"CAST({v} AS VARCHAR) AS v{i}" if v else f"NULL AS v{i}" for i, (_, _, _, v) in enumerate(checks))
    any_bad = " OR ".join(f"b{i}" for i in range(len(checks))) or "FALSE"
    bad_table = f"bad_{table.name}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {bad_table} AS SELECT * FROM (SELECT r.__file, r.__row, {flags}"
                f"{', ' + shown if shown else ''} FROM {reader} AS r {' '.join(joins)}) WHERE {any_bad}")
    result.bad[table.name] = con.execute(f"SELECT COUNT(*) FROM {bad_table}").fetchone()[0]
    if not result.bad[table.name]:
        return
    for i, (column, what, _, _) in enumerate(checks):
        count = con.execute(f"SELECT COUNT(*) FROM {bad_table} WHERE b{i}").fetchone()[0]
        if not count:
            continue
        samples = con.execute(f"SELECT __file, __row, v{i} FROM {bad_table} WHERE b{i} "
                              f"ORDER BY __file, __row LIMIT {SAMPLES}").fetchall()
        result.problems.append(Problem(table.name, column, what, count,
                                       [(user_file(f), int(r), v) for f, r, v in samples]))


def quarantine(con, rb: ir.Rulebook, data: Dataset, result: Validation, folder: Path) -> dict[str, int]:
    """Write the bad rows aside with their reasons, and leave them out of the scored views."""
    from lhrule.engine.dataset import file_view

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"the bad rows cannot be written aside to {folder}: {exc.strerror}; name another folder "
                           f"with --quarantine") from None
    written = {}
    for table in rb.tables:
        if not result.bad.get(table.name):
            continue
        reasons = [f"CASE WHEN q.b{i} THEN {_lit(column + ': ' + what)} END"
                   for i, (column, what) in enumerate(result.checks[table.name])]
        reason = f"concat_ws('; ', {', '.join(reasons)})" if reasons else "''"
        reader = raw_reader(data.files[table.name], with_rows=True)
        out = folder / f"{table.name}.csv"
        read = [str(f) for f in data.files[table.name]]
        copies = [f"WHEN {_lit(f)} THEN {_lit(user_file(f))}" for f in read if user_file(f) != f]
        # a GBK file is read from a UTF-8 copy, gone at exit: the user's file is named
        source = f"CASE q.__file {' '.join(copies)} ELSE q.__file END" if copies else "q.__file"
        con.execute(f"COPY (SELECT r.* EXCLUDE (__file, __row), {source} AS source_file, q.__row AS source_row, "
                    f"{reason} AS reason FROM {reader} AS r JOIN bad_{table.name} AS q "
                    f"ON r.__file = q.__file AND r.__row = q.__row ORDER BY q.__file, q.__row) "
                    f"TO {_lit(str(out))} (HEADER, DELIMITER ',')")
        written[table.name] = result.bad[table.name]
        file_view(con, table, data.files[table.name], rb.timezone, exclude=f"bad_{table.name}")
    return written

