"""Validating a dataset against the rulebook's declared schema, before anything is scored.

One pass per table, in DuckDB, over the files as read: each row is checked for a missing
required value, a value that is not of its column's type (a bad timestamp, NaN or infinity
in a number …), an enum value outside its set, a duplicate key, and a relation pointing at
nothing (a refund whose order does not exist). The rows with problems land in a small temp
table; the report names the table, the file, the row (1-based, header not counted) and the
column of each. Nothing is dropped silently: by default the run stops; in quarantine mode
the bad rows are written aside with their reasons and left out of the views scored.

Only the declared columns are read from the files; lhrule's own columns beside them (each
row's file and number, the checks' flags) have names with a space, which no declared column
can have, so a file's column of any name (`__row`, `reason`, `b0`) changes nothing.

Quarantine. A row pointing at a quarantined row (a review of a quarantined order, an order
of a quarantined shop) is quarantined too, transitively, with the reason `order_id: points at
a quarantined row of orders (data/orders.csv row 4)`: every row read is then scored or
quarantined, and none is dropped by a join without a word. The folder holds one
`TABLE.csv` per table with quarantined rows: the declared columns as read, then
`lhrule:source_file`, `lhrule:source_row` (1-based, header not counted) and `lhrule:reason`
(no declared column can hold a `:`, so they never meet one, such as `refunds.reason`); and a
stamp, `lhrule-quarantine.json`, naming the run (rulebook, its hash, dataset, time) and the
files it wrote. A run replaces or removes only the files an earlier stamp names, and refuses
to write over a file no stamp names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from lhrule.ir import model as ir
from lhrule.engine.data.dataset import FILE, ROW, SQL_TYPES, Dataset, DatasetError, declared_in, own_name, raw_reader, \
    user_file

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
    checks: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table -> (column, what) by flag(i)
    pointing: dict[str, int] = field(default_factory=dict)  # table -> rows quarantined for pointing at such rows

    def kept(self) -> dict | None:
        """What the cache keeps of a clean validation (one with problems is reported, not kept)."""
        if self.problems or any(self.bad.values()) or self.pointing:
            return None
        return {"rows": self.rows, "bad": self.bad, "checks": self.checks}

    @classmethod
    def from_kept(cls, saved: dict | None) -> Validation | None:
        """A clean validation read back from the cache; None for anything of another shape."""
        def counts(value) -> bool:
            return isinstance(value, dict) and all(isinstance(k, str) and type(n) is int for k, n in value.items())

        if not isinstance(saved, dict) or set(saved) != {"rows", "bad", "checks"}:
            return None
        rows, bad, checks = saved["rows"], saved["bad"], saved["checks"]
        if not (counts(rows) and counts(bad) and isinstance(checks, dict)):
            return None
        try:
            checks = {str(t): [(str(c), str(w)) for c, w in pairs] for t, pairs in checks.items()}
        except (TypeError, ValueError):
            return None
        return cls(rows=rows, bad=bad, checks=checks)

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

    from lhrule.engine.sql.expressions import instant
    from lhrule.ir.zones import fixed_since

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
    from lhrule.ir.zones import fixed_since

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


# The columns of a table of bad rows (`bad_NAME`) beside FILE and ROW: the row's key, and per
# check its flag and the value shown (and, for a pointer at a quarantined row, that row's place).
KEY = "lhrule key"


def flag(i: int) -> str:
    return own_name(f"lhrule bad {i}")


def shown(i: int) -> str:
    return own_name(f"lhrule value {i}")


def place(i: int) -> str:
    return own_name(f"lhrule place {i}")


def keys_alias(column: str) -> str:
    return own_name(f"lhrule keys of {column}")


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
        checks += [(c.name, what, cond, raw) for what, cond in number_checks(c, raw, source_types[c.name])]
        if c.type.name == "enum":
            values = ", ".join(_lit(v) for v in c.type.values)
            checks.append((c.name, f"not one of {', '.join(c.type.values)}",
                           f"(NOT {empty} AND CAST({raw} AS VARCHAR) NOT IN ({values}))", raw))
        if c.key:
            checks.append((c.name, "a duplicate id", f"(NOT {empty} AND COUNT(*) OVER (PARTITION BY {raw}) > 1)", raw))
            # a window cannot stand in the quick pass; duplicates are counted there by GROUP BY
        if c.target and c.target in data.files:
            checks.append((c.name, f"pointing at no row of {c.target}",
                           f"(NOT {empty} AND {keys_alias(c.name)}.k IS NULL)", raw))
    return checks


# The numbers a column may hold, checked as written, so none is rounded at load. A decimal is
# DECIMAL(38,6): a 7th decimal would be rounded away. An int is a whole number of BIGINT's
# range; a duration, whole microseconds of BIGINT (DuckDB's cast turns '4.5' into 5).
INT_RANGE = (-(2 ** 63), 2 ** 63 - 1)
# No amount, count or score reaches 10^18: such a value is an id or a time in the wrong column,
# and sums of values below it stay within DECIMAL(38,6) (32 digits) over 10^14 rows.
LARGEST = 10 ** 18
TOO_LARGE = "larger than 10^18 (no amount is: an id or a time in a number column?)"
_NUMBER = r"^\s*[+-]?([0-9]*)(\.([0-9]*))?([eE]([+-]?[0-9]+))?\s*$"
_WHOLE_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                "UBIGINT", "UHUGEINT")


def number_checks(c: ir.Column, raw: str, source: str, dialect: str = "duckdb") -> list[tuple[str, str]]:
    """(what, condition) of the checks of a number or duration column's values beyond their
    type: the decimals a value has, counted exactly on its text (a double on its shortest text
    that reads back as it, 0.1 or 1e-07), and its range. Spark's validation uses the same
    (`dialect`)."""
    if c.type.name not in ("number", "duration"):
        return []
    whole = source.upper() in _WHOLE_TYPES or source.lower() in ("tinyint", "smallint", "int", "bigint")
    if whole:  # no decimals to check; a range
        parsed = f"TRY_CAST({raw} AS DECIMAL(38,0))"
        if c.type.name == "number" and c.integer:
            return [(f"outside the range of an int ({INT_RANGE[0]} to {INT_RANGE[1]})",
                     f"({parsed} NOT BETWEEN {INT_RANGE[0]} AND {INT_RANGE[1]})")]
        if c.type.name == "number":
            return [(TOO_LARGE, f"(abs({parsed}) >= {LARGEST})")]
        return []
    text = f"CAST({raw} AS {'VARCHAR' if dialect == 'duckdb' else 'STRING'})"
    pattern = "'" + _NUMBER.replace("\\", "\\\\") + "'" if dialect == "spark" else "'" + _NUMBER + "'"
    fraction = f"regexp_extract({text}, {pattern}, 3)"
    exponent = f"regexp_extract({text}, {pattern}, 5)"
    decimals = (f"(length(rtrim({fraction}, '0')) - COALESCE(TRY_CAST(NULLIF({exponent}, '') AS INTEGER), 0))"
                if dialect == "duckdb" else
                f"(length(regexp_replace({fraction}, '0+$', '')) - COALESCE(try_cast(NULLIF({exponent}, '') AS INT), 0))")
    written = f"(regexp_like({text}, {pattern}))" if dialect == "spark" else f"regexp_matches({text}, {pattern})"
    if c.type.name == "duration":
        return [("not a whole number of microseconds", f"({written} AND {decimals} > 0)")]
    parsed = f"TRY_CAST({raw} AS DECIMAL(38,6))"
    if c.integer:
        # in text, an exponent (1.23457E+11) is a spreadsheet's rounding of a whole number
        exponent_written = f" OR {exponent} <> ''" if source.upper() in ("VARCHAR", "STRING") else ""
        checks = [("not a whole number (digits only, such as 42)", f"({written} AND ({decimals} > 0{exponent_written}))"),
                  (f"outside the range of an int ({INT_RANGE[0]} to {INT_RANGE[1]})",
                   f"({parsed} NOT BETWEEN {INT_RANGE[0]} AND {INT_RANGE[1]})")]
        return checks
    return [("more than 6 decimals (a decimal holds 6: round it in the data, or scale the unit)",
             f"({written} AND {decimals} > 6)"),
            (TOO_LARGE, f"(abs({parsed}) >= {LARGEST})")]


def _keys(con, rb: ir.Rulebook, target: str, data: Dataset, repeated: dict[str, int]) -> str:
    """A temp table of the target's keys, each once (a join on it multiplies no row), made
    once however many tables point at it. The keys are only made distinct by grouping when
    some repeat: at 100M events, grouping the 34.8M order ids took 9.8 s, copying them 2.2 s."""
    name = f"keys_{target}"
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]).fetchall():
        table = rb.table(target)
        key = _q(table.key.name)
        select = (f"SELECT CAST({key} AS VARCHAR) AS k FROM {raw_reader(con, table, data.files[target])} "
                  f"WHERE {key} IS NOT NULL")
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
    key, plain = _q(table.key.name), raw_reader(con, table, data.files[table.name])
    met = (f"SELECT DISTINCT h FROM (SELECT h, h = LAG(h) OVER (ORDER BY h) AS same FROM (SELECT hash({key}) AS h "
           f"FROM {plain} WHERE {key} IS NOT NULL)) WHERE same")
    count = con.execute(f"WITH met AS ({met}) SELECT COUNT(*) FROM (SELECT {key} FROM {plain} WHERE {key} IS NOT NULL "
                        f"AND hash({key}) IN (SELECT h FROM met) GROUP BY 1 HAVING COUNT(*) > 1)").fetchone()[0]
    repeated[table.name] = count
    return count


def _check_table(con, rb: ir.Rulebook, table: ir.Table, data: Dataset, result: Validation,
                 repeated: dict[str, int]) -> None:
    files = data.files[table.name]
    reader = raw_reader(con, table, files, with_rows=True)
    source_types = declared_in(con, table, files)
    checks = _checks(con, rb, table, data, source_types)
    result.checks[table.name] = [(column, what) for column, what, _, _ in checks]
    joins = []
    for c in table.columns:
        if c.target and c.target in data.files and c.name in source_types:
            alias = keys_alias(c.name)
            joins.append(f"LEFT JOIN {_keys(con, rb, c.target, data, repeated)} AS {alias} "
                         f"ON CAST(r.{_q(c.name)} AS VARCHAR) = {alias}.k")
    # The quick pass: one scan, no row numbers. Only a table with problems is read again to
    # find and number its bad rows.
    plain = raw_reader(con, table, files)
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
    flags = ", ".join(f"{cond} AS {flag(i)}" for i, (_, _, cond, _) in enumerate(checks)) or f"FALSE AS {flag(0)}"
    values = ", ".join(f"CAST({v} AS VARCHAR) AS {shown(i)}" if v else f"CAST(NULL AS VARCHAR) AS {shown(i)}"
                       for i, (_, _, _, v) in enumerate(checks))
    any_bad = " OR ".join(flag(i) for i in range(len(checks))) or "FALSE"
    row_key = f"CAST(r.{_q(key.name)} AS VARCHAR)" if key is not None and key.name in source_types else "NULL"
    bad_table = f"bad_{table.name}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {bad_table} AS SELECT * FROM (SELECT r.{own_name(FILE)}, "
                f"r.{own_name(ROW)}, CAST({row_key} AS VARCHAR) AS {own_name(KEY)}, {flags}"
                f"{', ' + values if values else ''} FROM {reader} AS r {' '.join(joins)}) WHERE {any_bad}")
    result.bad[table.name] = con.execute(f"SELECT COUNT(*) FROM {bad_table}").fetchone()[0]
    for i in range(len(checks)):
        _problem(con, table.name, i, result)


def _problem(con, table: str, i: int, result: Validation) -> None:
    """The problem of check `i` of `table`, from its table of bad rows, if any row fails it."""
    column, what = result.checks[table][i]
    bad_table = f"bad_{table}"
    count = con.execute(f"SELECT COUNT(*) FROM {bad_table} WHERE {flag(i)}").fetchone()[0]
    if not count:
        return
    file, row = own_name(FILE), own_name(ROW)
    samples = con.execute(f"SELECT {file}, {row}, {shown(i)} FROM {bad_table} WHERE {flag(i)} "
                          f"ORDER BY {file}, {row} LIMIT {SAMPLES}").fetchall()
    result.problems.append(Problem(table, column, what, count, [(user_file(f), int(r), v) for f, r, v in samples]))


def _user_files(expr: str, files) -> str:
    """`expr`, a file lhrule read, as the user's file: a GBK file is read from a UTF-8 copy,
    gone at exit."""
    copies = [f"WHEN {_lit(str(f))} THEN {_lit(user_file(str(f)))}" for f in files if user_file(str(f)) != str(f)]
    return f"CASE {expr} {' '.join(copies)} ELSE {expr} END" if copies else expr


def spread(con, rb: ir.Rulebook, data: Dataset, result: Validation) -> None:
    """Quarantine, transitively, every row pointing at a quarantined row: a review of a
    quarantined order, and the orders and events of a quarantined shop. Left in, such a row
    would point at nothing once the quarantined rows are left out of the views, and a join
    on it (every event to its shop) would drop it without a word. A key quarantined is in no
    kept row: a key in two rows is a duplicate, and every copy is bad."""
    done: dict[tuple[str, str], int] = {}  # (table, column) -> the target's bad rows when last followed
    followed = True
    while followed:
        followed = False
        for table in rb.tables:
            for c in table.columns:
                target = c.target
                if table.name not in data.files or not target or not result.bad.get(target):
                    continue
                if done.get((table.name, c.name)) == result.bad[target]:
                    continue
                done[(table.name, c.name)] = result.bad[target]
                followed = _point(con, rb, table, c, data, result) or followed


def _point(con, rb: ir.Rulebook, table: ir.Table, c: ir.Column, data: Dataset, result: Validation) -> bool:
    """Quarantine the rows of `table` whose `c` points at a quarantined row of its target;
    whether any was added."""
    files = data.files[table.name]
    if c.name not in declared_in(con, table, files):
        return False
    file, row, key = own_name(FILE), own_name(ROW), own_name(KEY)
    bad_table, target = f"bad_{table.name}", c.target
    what = f"pointing at a quarantined row of {target}"
    checks = result.checks.setdefault(table.name, [])
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND temporary", [bad_table]).fetchall():
        columns = ", ".join(f"{flag(i)} BOOLEAN, {shown(i)} VARCHAR" for i in range(len(checks)))
        con.execute(f"CREATE TEMP TABLE {bad_table} ({file} VARCHAR, {row} BIGINT, {key} VARCHAR"
                    f"{', ' + columns if columns else ''})")
        result.bad.setdefault(table.name, 0)
    if (c.name, what) in checks:
        i = checks.index((c.name, what))
    else:
        i = len(checks)
        checks.append((c.name, what))
        for name, kind in ((flag(i), "BOOLEAN DEFAULT FALSE"), (shown(i), "VARCHAR"), (place(i), "VARCHAR")):
            con.execute(f"ALTER TABLE {bad_table} ADD COLUMN {name} {kind}")
    where = _user_files(f"g.{file}", data.files[target])
    gone = (f"SELECT k, {where} || ' row ' || CAST(g.{row} AS VARCHAR) AS place_at FROM (SELECT {key} AS k, {file}, "
            f"{row}, row_number() OVER (PARTITION BY {key} ORDER BY {file}, {row}) AS n FROM bad_{target} "
            f"WHERE {key} IS NOT NULL) AS g WHERE n = 1")
    keyed = table.key is not None and table.key.name in declared_in(con, table, files)
    own_key = f"CAST(r.{_q(table.key.name)} AS VARCHAR)" if keyed else "CAST(NULL AS VARCHAR)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE pointing AS SELECT r.{file}, r.{row}, {own_key} AS {key}, "
                f"CAST(r.{_q(c.name)} AS VARCHAR) AS v, gone.place_at FROM {raw_reader(con, table, files, with_rows=True)} "
                f"AS r JOIN ({gone}) AS gone ON CAST(r.{_q(c.name)} AS VARCHAR) = gone.k")
    con.execute(f"UPDATE {bad_table} SET {flag(i)} = TRUE, {shown(i)} = p.v, {place(i)} = p.place_at FROM pointing AS p "
                f"WHERE {bad_table}.{file} = p.{file} AND {bad_table}.{row} = p.{row}")
    before = result.bad[table.name]
    con.execute(f"INSERT INTO {bad_table} ({file}, {row}, {key}, {flag(i)}, {shown(i)}, {place(i)}) "
                f"SELECT {file}, {row}, {key}, TRUE, v, place_at FROM pointing AS p WHERE NOT EXISTS "
                f"(SELECT 1 FROM {bad_table} AS b WHERE b.{file} = p.{file} AND b.{row} = p.{row})")
    result.bad[table.name] = con.execute(f"SELECT COUNT(*) FROM {bad_table}").fetchone()[0]
    result.problems = [p for p in result.problems if (p.table, p.column, p.what) != (table.name, c.name, what)]
    _problem(con, table.name, i, result)
    pointers = [flag(j) for j, (_, w) in enumerate(checks) if w.startswith("pointing at a quarantined row")]
    result.pointing[table.name] = con.execute(f"SELECT COUNT(*) FROM {bad_table} WHERE "
                                              f"{' OR '.join(pointers)}").fetchone()[0]
    return result.bad[table.name] > before


STAMP = "lhrule-quarantine.json"


def quarantine(con, rb: ir.Rulebook, data: Dataset, result: Validation, folder: Path,
               run: dict | None = None) -> dict[str, int]:
    """Write the bad rows aside with their reasons, and leave them out of the scored views:
    first every row pointing at a bad row joins them (`spread`). The folder's stamp names the
    run; the files an earlier run's stamp names are replaced or removed, and a file no stamp
    names is never written over. `run` is what the stamp says of the run (rulebook, dataset)."""
    import datetime as dt
    import json
    import os

    from lhrule.engine.data.dataset import file_view

    spread(con, rb, data, result)
    tables = [t for t in rb.tables if result.bad.get(t.name)]
    stamp_path = folder / STAMP
    if not tables and not stamp_path.exists():
        return {}  # nothing to write aside, and no earlier run's files to clear
    earlier = _stamped(stamp_path, folder)
    for table in tables:
        out = folder / f"{table.name}.csv"
        if out.exists() and out.name not in earlier:
            raise DatasetError(f"{out} is in the quarantine folder, but no stamp of lhrule's ({stamp_path}) names "
                               f"it: lhrule writes over no file it did not make; move it, or name another folder "
                               f"with --quarantine")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"the bad rows cannot be written aside to {folder}: {exc.strerror}; name another folder "
                           f"with --quarantine") from None
    file, row = own_name(FILE), own_name(ROW)
    written = {}
    for table in tables:
        checks = result.checks[table.name]
        reasons = []
        for i, (column, what) in enumerate(checks):
            if what.startswith("pointing at a quarantined row"):
                reasons.append(f"CASE WHEN q.{flag(i)} THEN {_lit(column + ': points at a quarantined row of ')} || "
                               f"{_lit(what.rsplit(' ', 1)[1])} || ' (' || q.{place(i)} || ')' END")
            else:
                reasons.append(f"CASE WHEN q.{flag(i)} THEN {_lit(column + ': ' + what)} END")
        reason = f"concat_ws('; ', {', '.join(reasons)})" if reasons else "''"
        files = data.files[table.name]
        columns = "".join(f"r.{_q(c)}, " for c in declared_in(con, table, files))
        out = folder / f"{table.name}.csv"
        aside = folder / f".{table.name}.csv.{os.getpid()}.part"
        try:
            con.execute(f"COPY (SELECT {columns}{_user_files(f'q.{file}', files)} AS {own_name('lhrule:source_file')}, "
                        f"q.{row} AS {own_name('lhrule:source_row')}, {reason} AS {own_name('lhrule:reason')} "
                        f"FROM {raw_reader(con, table, files, with_rows=True)} AS r JOIN bad_{table.name} AS q "
                        f"ON r.{file} = q.{file} AND r.{row} = q.{row} ORDER BY q.{file}, q.{row}) "
                        f"TO {_lit(str(aside))} (HEADER, DELIMITER ',')")
            os.replace(aside, out)
        finally:
            aside.unlink(missing_ok=True)
        written[table.name] = result.bad[table.name]
        file_view(con, table, files, rb.timezone, exclude=f"bad_{table.name}")
    for name in earlier:
        if name not in {f"{t}.csv" for t in written}:
            (folder / name).unlink(missing_ok=True)  # an earlier run's, of a table with no bad rows now
    stamp = {"written_by": "lhrule", **(run or {}), "written_at": dt.datetime.now(dt.timezone.utc).isoformat(
        timespec="seconds"), "files": {f"{t}.csv": n for t, n in written.items()}}
    aside = folder / f".{STAMP}.{os.getpid()}.part"
    aside.write_text(json.dumps(stamp, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(aside, stamp_path)
    return written


def _stamped(stamp_path: Path, folder: Path) -> set[str]:
    """The files an earlier run's stamp names (none without a stamp)."""
    import json

    if not stamp_path.exists():
        return set()
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        names = set(stamp["files"]) if stamp.get("written_by") == "lhrule" else None
    except (OSError, ValueError, KeyError, TypeError):
        names = None
    if names is None or any("/" in n or not n.endswith(".csv") for n in names):
        raise DatasetError(f"{stamp_path} is not a stamp lhrule wrote: move it, or name another folder with "
                           f"--quarantine")
    return {n for n in names if (folder / n).is_file()}
