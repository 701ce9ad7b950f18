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
from typing import NamedTuple

from sqlglot import exp

from lhrule.ir import model as ir
from lhrule.engine.data import statements as q
from lhrule.engine.data.dataset import Dataset, DatasetError, declared_in, raw_reader, user_file
from lhrule.engine.data.statements import FILE, ROW, col, lit, own, render
from lhrule.engine.data.types import BIGINT, INSTANT, INT, TEXT, TEXT_TYPES, WHOLE, sql_name, sql_type

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


def _before(zone: str, local: exp.Expression, then: exp.Expression) -> exp.Expression:
    """`then` where the zone's offset may still change at `local` (before it stayed fixed),
    else FALSE; `then` alone where it never stays fixed."""
    from lhrule.ir.zones import fixed_since

    since = fixed_since(zone)
    if since is None:
        return then
    limit = q.cast(lit(since.isoformat(sep=" ")), sql_type("timestamp"))
    return exp.Case(ifs=[exp.If(this=exp.LT(this=local.copy(), expression=limit), true=then)], default=exp.false())


def _changes(zone: str) -> bool:
    """Whether the zone's clocks moved since 1970 (skipped or repeated an hour)."""
    from lhrule.ir.zones import fixed_since

    return fixed_since(zone) != dt.datetime.min


def _timezone(zone: str, e: exp.Expression) -> exp.Expression:
    return q.call("timezone", lit(zone), e.copy())


def second_pass(zone: str, instant: exp.Expression) -> exp.Expression | None:
    """The condition that the instant (a TIMESTAMPTZ) falls in the second pass of an hour
    the zone's clocks repeat: its local time names an earlier instant too, which is the one a
    local time is read as (`sql.instant`). None when the zone repeated no hour since 1970."""
    from lhrule.engine.sql.expressions import instant as read_local

    if not _changes(zone):
        return None
    local = _timezone(zone, instant)
    again = exp.paren(exp.LT(this=read_local(zone, local), expression=_timezone("UTC", instant)))
    return _before(zone, local, again)


def skipped_time(zone: str, local: exp.Expression) -> exp.Expression | None:
    """The condition that the naive local time `local` is one the clocks of `zone`
    skipped (02:30 on the night they go forward at 02:00), which DuckDB would silently read
    as 03:30; None when the zone skipped none since 1970. Read to an instant and back, such
    a time comes back another. Where the offset stays fixed, only earlier times are read."""
    if not _changes(zone):
        return None
    moved = exp.paren(exp.NEQ(this=_timezone(zone, _timezone(zone, local)), expression=local.copy()))
    return _before(zone, local, moved)


# The columns of a table of bad rows (`bad_NAME`) beside FILE and ROW: the row's key, and per
# check its flag and the value shown (and, for a pointer at a quarantined row, that row's place).
KEY = "lhrule key"


def flag(i: int) -> exp.Identifier:
    return own(f"lhrule bad {i}")


def shown(i: int) -> exp.Identifier:
    return own(f"lhrule value {i}")


def place(i: int) -> exp.Identifier:
    return own(f"lhrule place {i}")


def keys_alias(column: str) -> str:
    return f"lhrule keys of {column}"  # a name no column has (see statements.FILE)


def _at(e: exp.Identifier | str, table: str | None = None) -> exp.Column:
    return exp.column(e.copy() if isinstance(e, exp.Identifier) else q.name(e), table=q.name(table) if table else None)


def _from(source: exp.Expression | str, alias: str) -> exp.Expression:
    """A source to select from (a table, a reader, a subquery) under an alias."""
    out = source.copy() if isinstance(source, (exp.Subquery, exp.Table)) else q.table(source)
    out.set("alias", exp.TableAlias(this=q.name(alias)))
    return out


def _temp_exists(con, name: str) -> bool:
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]).fetchall())


def _one(con, query: exp.Expression):
    return con.execute(render(query)).fetchone()


def validate(con, rb: ir.Rulebook, data: Dataset) -> Validation:
    result = Validation()
    repeated: dict[str, int] = {}  # table -> how many of its keys occur more than once, once counted
    for table in rb.tables:
        files = data.files.get(table.name)
        if not files:
            continue
        _check_table(con, rb, table, data, result, repeated)
    return result


class Check(NamedTuple):
    """One row-level check, for either engine: the column, what a failing row is, the condition
    on the raw row `r` that it fails, and the value a report shows (None: the row has none)."""
    column: str
    what: str
    condition: exp.Expression
    shown: exp.Expression | None


class Engine:
    """What differs between the engines' validation, in one place: how each names the types it
    read a column as, and how it reads a local time the clocks skipped or repeated."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.spark = dialect == "spark"

    def text(self, kind: str) -> bool:
        return kind == ("string" if self.spark else "VARCHAR")

    def double(self, kind: str) -> bool:
        return kind.upper() in ("DOUBLE", "FLOAT")

    def zoned(self, kind: str) -> bool:
        """A timestamp of an instant (Parquet adjusted to UTC)."""
        return kind == "timestamp" if self.spark else "TIME ZONE" in kind

    def naive(self, kind: str) -> bool:
        return kind == ("timestamp_ntz" if self.spark else "TIMESTAMP")

    def skipped(self, zone: str, local: exp.Expression) -> exp.Expression | None:
        """The condition that the naive local time is one the zone's clocks skipped."""
        if not self.spark:
            return skipped_time(zone, local)
        if not _changes(zone):
            return None
        # The session's zone is the rulebook's: a cast between TIMESTAMP_NTZ and TIMESTAMP (an
        # instant) is a reading in it, and Java reads a skipped time as a later one.
        naive = sql_type("timestamp")
        return _before(zone, local, exp.paren(exp.NEQ(this=q.cast(q.cast(local, INSTANT), naive),
                                                      expression=local.copy())))

    def repeated(self, zone: str, instant: exp.Expression) -> exp.Expression | None:
        """The condition that the instant falls in the second pass of an hour the clocks repeat."""
        if not self.spark:
            return second_pass(zone, instant)
        if not _changes(zone):
            return None
        local = q.cast(instant, sql_type("timestamp"))  # Java reads a repeated time as the earlier instant
        return _before(zone, local, exp.LT(this=q.cast(local, INSTANT), expression=instant.copy()))


DUCKDB, SPARK = Engine("duckdb"), Engine("spark")


def row_checks(table: ir.Table, kinds: dict[str, str], zone: str, targets, engine: Engine = DUCKDB) -> list[Check]:
    """Every row-level check of the table, for either engine: `kinds` are the types its
    columns were read as (as the engine names them), `targets` the tables the dataset holds (a
    relation to one it does not is not checked)."""
    checks = []
    for c in table.columns:
        kind = kinds.get(c.name)
        if kind is None:
            continue
        raw = col(c.name, "r")
        text = engine.text(kind)
        empty = exp.paren(exp.or_(raw.is_(exp.null()), raw.eq(lit(""))) if text else raw.is_(exp.null()))
        filled = exp.not_(empty.copy())
        if not c.optional:
            checks.append(Check(c.name, "missing a required value", empty, None))
        timestamp = c.type.name == "timestamp"
        if timestamp and text:
            bad = exp.paren(exp.and_(filled.copy(), q.try_cast(raw, INSTANT).is_(exp.null())))
            checks.append(Check(c.name, "not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00])", bad, raw))
            named = exp.paren(exp.and_(exp.not_(q.try_cast(raw, INSTANT).is_(exp.null())),
                                       exp.not_(_matches(raw, TIME_TEXT))))
            checks.append(Check(c.name, ZONE_NAMED, named, raw))
        if timestamp and (text or engine.naive(kind)):
            skipped = engine.skipped(zone, q.try_cast(raw, sql_type("timestamp")) if text else raw)
            if skipped is not None:  # a time written with its offset is no local time
                skipped = exp.paren(exp.and_(exp.not_(_matches(raw, WITH_OFFSET)), skipped)) if text else skipped
                checks.append(Check(c.name, SKIPPED.format(zone=zone), skipped, raw))
        if timestamp and (text or engine.zoned(kind)):
            again = engine.repeated(zone, q.try_cast(raw, INSTANT) if text else raw)
            if again is not None:  # a local time without an offset is the first pass's, by definition
                again = exp.paren(exp.and_(_matches(raw, WITH_OFFSET), again)) if text else again
                checks.append(Check(c.name, REPEATED.format(zone=zone), again, raw))
        elif not (timestamp and engine.naive(kind)) and c.type.name not in TEXT_TYPES \
                and kind != sql_name(c.type.name, engine.dialect):
            bad = exp.paren(exp.and_(filled.copy(), q.try_cast(raw, sql_type(c.type.name)).is_(exp.null())))
            if c.type.name == "number" and engine.double(kind):
                infinite = exp.In(this=raw.copy(), expressions=[q.cast(lit("Infinity"), DOUBLE),
                                                                q.cast(lit("-Infinity"), DOUBLE)])
                bad = exp.paren(exp.or_(bad, q.call("isnan", raw.copy()), infinite))
            checks.append(Check(c.name, f"not a {c.type.name if c.type.name != 'number' else 'finite number'}", bad,
                                raw))
        if c.type.name in ("timestamp", "date"):  # a real time, but not one an event can have
            parsed = q.try_cast(raw, INSTANT if text else sql_type(c.type.name))
            checks.append(Check(c.name, f"outside the years {YEARS[0]} to {YEARS[1]}",
                                _outside(exp.Year(this=parsed), YEARS), raw))
        if c.type.name == "duration":  # a time taken cannot be below zero
            checks.append(Check(c.name, "a negative duration", exp.paren(exp.LT(this=q.try_cast(raw, BIGINT),
                                                                                expression=lit(0))), raw))
        checks += [Check(c.name, what, cond, raw) for what, cond in number_checks(c, raw, kind)]
        if c.type.name == "enum":
            values = exp.In(this=q.cast(raw, TEXT), expressions=[lit(v) for v in c.type.values])
            checks.append(Check(c.name, f"not one of {', '.join(c.type.values)}",
                                exp.paren(exp.and_(filled.copy(), exp.not_(values))), raw))
        if c.key:  # a window: counted in the quick pass by grouping instead (`DUPLICATE`)
            dupe = exp.GT(this=exp.Window(this=q.count_star(), partition_by=[raw.copy()]), expression=lit(1))
            checks.append(Check(c.name, DUPLICATE, exp.paren(exp.and_(filled.copy(), dupe)), raw))
        if c.target and c.target in targets:
            checks.append(Check(c.name, f"pointing at no row of {c.target}", exp.paren(exp.and_(
                filled.copy(), exp.column("k", table=q.name(keys_alias(c.name)), quoted=True).is_(exp.null()))), raw))
    return checks


DUPLICATE = "a duplicate id"
DOUBLE = exp.DataType.build("DOUBLE")


def _checks(con, rb: ir.Rulebook, table: ir.Table, data: Dataset, source_types: dict[str, str]) -> list[Check]:
    return row_checks(table, source_types, rb.timezone, data.files, DUCKDB)


def _matches(e: exp.Expression, pattern: str) -> exp.Expression:
    """The whole text of `e` matches `pattern` (regexp_matches anchored on DuckDB, RLIKE on Spark)."""
    return exp.RegexpLike(this=e.copy(), expression=lit("^" + pattern + "$"))


def _outside(e: exp.Expression, bounds) -> exp.Expression:
    return exp.paren(exp.not_(exp.Between(this=e, low=lit(bounds[0]), high=lit(bounds[1]))))


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


def number_checks(c: ir.Column, raw: exp.Expression, source: str) -> list[tuple[str, exp.Expression]]:
    """(what, condition) of the checks of a number or duration column's values beyond their
    type: the decimals a value has, counted exactly on its text (a double on its shortest text
    that reads back as it, 0.1 or 1e-07), and its range. Spark's validation uses the same."""
    if c.type.name not in ("number", "duration"):
        return []
    whole = source.upper() in _WHOLE_TYPES or source.lower() in ("tinyint", "smallint", "int", "bigint")
    if whole:  # no decimals to check; a range
        parsed = q.try_cast(raw, WHOLE)
        if c.type.name == "number" and c.integer:
            return [(f"outside the range of an int ({INT_RANGE[0]} to {INT_RANGE[1]})", _outside(parsed, INT_RANGE))]
        if c.type.name == "number":
            return [(TOO_LARGE, exp.paren(exp.GTE(this=exp.Abs(this=parsed), expression=lit(LARGEST))))]
        return []
    text = q.cast(raw, TEXT)

    def group(i: int) -> exp.Expression:
        return exp.RegexpExtract(this=text.copy(), expression=lit(_NUMBER), group=lit(i))

    fraction, exponent = group(3), group(5)
    places = exp.Coalesce(this=q.try_cast(exp.Nullif(this=exponent, expression=lit("")), INT), expressions=[lit(0)])
    decimals = exp.paren(exp.Sub(this=exp.Length(this=exp.Trim(this=fraction, expression=lit("0"),
                                                                position="TRAILING")), expression=places))
    written = exp.RegexpLike(this=text.copy(), expression=lit(_NUMBER))

    def more(n: int, also: exp.Expression | None = None) -> exp.Expression:
        over = exp.GT(this=decimals.copy(), expression=lit(n))
        return exp.paren(exp.and_(written.copy(), exp.paren(exp.or_(over, also)) if also is not None else over))

    if c.type.name == "duration":
        return [("not a whole number of microseconds", more(0))]
    parsed = q.try_cast(raw, sql_type("number"))
    if c.integer:
        # in text, an exponent (1.23457E+11) is a spreadsheet's rounding of a whole number
        also = exp.NEQ(this=group(5), expression=lit("")) if source.upper() in ("VARCHAR", "STRING") else None
        return [("not a whole number (digits only, such as 42)", more(0, also)),
                (f"outside the range of an int ({INT_RANGE[0]} to {INT_RANGE[1]})", _outside(parsed, INT_RANGE))]
    return [("more than 6 decimals (a decimal holds 6: round it in the data, or scale the unit)", more(6)),
            (TOO_LARGE, exp.paren(exp.GTE(this=exp.Abs(this=parsed), expression=lit(LARGEST))))]


def _keys(con, rb: ir.Rulebook, target: str, data: Dataset, repeated: dict[str, int]) -> str:
    """A temp table of the target's keys, each once (a join on it multiplies no row), made
    once however many tables point at it. The keys are only made distinct by grouping when
    some repeat: grouping is four times slower than copying (benchmarks/RESULTS.md, "Figures behind
    the code")."""
    name = f"keys_{target}"
    if not _temp_exists(con, name):
        con.execute(render(keys_query(con, rb, target, data, _repeated_keys(con, rb.table(target), data, repeated))))
    return name


def keys_query(con, rb: ir.Rulebook, target: str, data: Dataset, repeats: int) -> exp.Create:
    table = rb.table(target)
    key = col(table.key.name)
    select = exp.select(q.alias(q.cast(key, TEXT), "k")).from_(raw_reader(con, table, data.files[target])).where(
        exp.not_(key.is_(exp.null())))
    if repeats:
        select = exp.select(col("k")).distinct().from_(exp.Subquery(this=select))
    return q.create("TABLE", f"keys_{target}", select, temporary=True, replace=False)


def _repeated_keys(con, table: ir.Table, data: Dataset, repeated: dict[str, int]) -> int:
    """How many keys occur more than once. The keys' 64-bit hashes are sorted and each
    compared with the one before it (faster than grouping by the hashes), and only the keys whose
    hashes meet are compared themselves. DuckDB's hash() of a 16-character id often meets
    another's ('rv000000-0000008' and 'rv000009-0000005': 5% of the generated review ids);
    comparing only those keys is four times faster than comparing all (benchmarks/RESULTS.md)."""
    if table.name in repeated:
        return repeated[table.name]
    repeated[table.name] = _one(con, repeated_keys_query(con, table, data))[0]
    return repeated[table.name]


def repeated_keys_query(con, table: ir.Table, data: Dataset) -> exp.Select:
    key, plain = col(table.key.name), raw_reader(con, table, data.files[table.name])
    h = col("h")
    hashes = exp.select(q.alias(q.call("hash", key.copy()), "h")).from_(plain.copy()).where(
        exp.not_(key.is_(exp.null())))
    same = exp.EQ(this=h.copy(), expression=exp.Window(this=exp.Lag(this=h.copy()),
                                                       order=exp.Order(expressions=[exp.Ordered(this=h.copy())])))
    met = exp.select(h.copy()).distinct().from_(exp.Subquery(this=exp.select(h.copy(), q.alias(same, "same")).from_(
        exp.Subquery(this=hashes)))).where(col("same"))
    meeting = exp.In(this=q.call("hash", key.copy()), query=exp.Subquery(this=exp.select(h.copy()).from_(q.table("met"))))
    keys = exp.select(key.copy()).from_(plain.copy()).where(exp.and_(exp.not_(key.is_(exp.null())), meeting)) \
        .group_by(lit(1)).having(exp.GT(this=q.count_star(), expression=lit(1)))
    return exp.select(q.count_star()).from_(exp.Subquery(this=keys)).with_(q.name("met"), as_=met)


def _check_table(con, rb: ir.Rulebook, table: ir.Table, data: Dataset, result: Validation,
                 repeated: dict[str, int]) -> None:
    files = data.files[table.name]
    source_types = declared_in(con, table, files)
    checks = _checks(con, rb, table, data, source_types)
    result.checks[table.name] = [(column, what) for column, what, _, _ in checks]
    for c in table.columns:  # the keys of each table pointed at, which the checks join
        if c.target and c.target in data.files and c.name in source_types:
            _keys(con, rb, c.target, data, repeated)
    # The quick pass: one scan, no row numbers. Only a table with problems is read again to
    # find and number its bad rows.
    counts = _one(con, count_query(con, table, data, source_types, checks))
    result.rows[table.name] = counts[0]
    dupes = 0
    key = table.key
    if key is not None and key.name in source_types:
        dupes = _repeated_keys(con, table, data, repeated)
    if not dupes and not any(counts[1:]):
        result.bad[table.name] = 0
        return
    con.execute(render(bad_rows_query(con, table, data, source_types, checks)))
    result.bad[table.name] = _one(con, exp.select(q.count_star()).from_(q.table(f"bad_{table.name}")))[0]
    for i in range(len(checks)):
        _problem(con, table.name, i, result)


def _joined(select: exp.Select, table: ir.Table, data: Dataset, source_types: dict[str, str]) -> exp.Select:
    """`select` from the rows `r` joined to the keys of each table they point at (`keys_NAME`)."""
    for c in table.columns:
        if c.target and c.target in data.files and c.name in source_types:
            alias = keys_alias(c.name)
            select = select.join(_from(f"keys_{c.target}", alias), join_type="LEFT", on=exp.EQ(
                this=q.cast(col(c.name, "r"), TEXT), expression=exp.column("k", table=q.name(alias), quoted=True)))
    return select


def count_query(con, table: ir.Table, data: Dataset, source_types: dict[str, str], checks) -> exp.Select:
    """The quick pass: the rows, and how many fail each check (a duplicate is counted apart)."""
    row_checks = [cond.copy() for _, what, cond, _ in checks if what != DUPLICATE]
    plain = raw_reader(con, table, data.files[table.name])
    return _joined(exp.select(q.count_star(), *q.sum_of(row_checks)).from_(_from(plain, "r")), table, data,
                   source_types)


def bad_rows_query(con, table: ir.Table, data: Dataset, source_types: dict[str, str], checks) -> exp.Create:
    """The table `bad_NAME` of the rows failing a check: each row's file, number and key, and
    per check its flag and the value shown."""
    key = table.key
    flags = [q.alias(cond.copy(), flag(i)) for i, (_, _, cond, _) in enumerate(checks)] or \
        [q.alias(exp.false(), flag(0))]
    values = [q.alias(q.cast(v.copy() if v is not None else exp.null(), TEXT), shown(i))
              for i, (_, _, _, v) in enumerate(checks)]
    row_key = q.cast(col(key.name, "r"), TEXT) if key is not None and key.name in source_types else exp.null()
    reader = raw_reader(con, table, data.files[table.name], with_rows=True)
    rows = _joined(exp.select(_at(own(FILE), "r"), _at(own(ROW), "r"), q.alias(q.cast(row_key, TEXT), own(KEY)),
                              *flags, *values).from_(_from(reader, "r")), table, data, source_types)
    any_bad = q.or_all([_at(flag(i)) for i in range(len(checks))])
    return q.create("TABLE", f"bad_{table.name}", exp.select("*").from_(exp.Subquery(this=rows)).where(any_bad),
                    temporary=True)


def _problem(con, table: str, i: int, result: Validation) -> None:
    """The problem of check `i` of `table`, from its table of bad rows, if any row fails it."""
    column, what = result.checks[table][i]
    bad_table = q.table(f"bad_{table}")
    count = _one(con, exp.select(q.count_star()).from_(bad_table).where(_at(flag(i))))[0]
    if not count:
        return
    file, row = _at(own(FILE)), _at(own(ROW))
    samples = con.execute(render(exp.select(file, row, _at(shown(i))).from_(bad_table.copy()).where(_at(flag(i)))
                                 .order_by(file.copy(), row.copy()).limit(SAMPLES))).fetchall()
    result.problems.append(Problem(table, column, what, count, [(user_file(f), int(r), v) for f, r, v in samples]))


def _user_files(e: exp.Expression, files) -> exp.Expression:
    """`e`, a file lhrule read, as the user's file: a GBK file is read from a UTF-8 copy,
    gone at exit."""
    copies = [exp.If(this=lit(str(f)), true=lit(user_file(str(f)))) for f in files if user_file(str(f)) != str(f)]
    return exp.Case(this=e.copy(), ifs=copies, default=e.copy()) if copies else e


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
    file, row, key = own(FILE), own(ROW), own(KEY)
    bad_name, target = f"bad_{table.name}", c.target
    bad_table = q.table(bad_name)
    what = f"pointing at a quarantined row of {target}"
    checks = result.checks.setdefault(table.name, [])
    text, boolean = TEXT, exp.DataType.build("BOOLEAN")

    def column(ident: exp.Identifier, kind: exp.DataType, default: exp.Expression | None = None) -> exp.ColumnDef:
        constraints = [exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(this=default))] if default else None
        return exp.ColumnDef(this=ident, kind=kind.copy(), constraints=constraints)

    if not _temp_exists(con, bad_name):
        columns = [column(file, text), column(row, BIGINT), column(key, text)]
        for i in range(len(checks)):
            columns += [column(flag(i), boolean), column(shown(i), text)]
        con.execute(render(exp.Create(kind="TABLE", this=exp.Schema(this=bad_table.copy(), expressions=columns),
                                      properties=exp.Properties(expressions=[exp.TemporaryProperty()]))))
        result.bad.setdefault(table.name, 0)
    if (c.name, what) in checks:
        i = checks.index((c.name, what))
    else:
        i = len(checks)
        checks.append((c.name, what))
        for added in (column(flag(i), boolean, exp.false()), column(shown(i), text), column(place(i), text)):
            con.execute(render(exp.Alter(this=bad_table.copy(), kind="TABLE", actions=[added])))
    place_at = exp.DPipe(this=exp.DPipe(this=_user_files(_at(file, "g"), data.files[target]), expression=lit(" row ")),
                         expression=q.cast(_at(row, "g"), TEXT))
    first = exp.Window(this=exp.RowNumber(), partition_by=[_at(key)],
                       order=exp.Order(expressions=[exp.Ordered(this=_at(file)), exp.Ordered(this=_at(row))]))
    marked = exp.select(q.alias(_at(key), "k"), _at(file), _at(row), q.alias(first, "n")).from_(
        q.table(f"bad_{target}")).where(exp.not_(_at(key).is_(exp.null())))
    gone = exp.select(col("k"), q.alias(place_at, "place_at")).from_(_from(exp.Subquery(this=marked), "g")).where(
        col("n").eq(lit(1)))
    keyed = table.key is not None and table.key.name in declared_in(con, table, files)
    own_key = q.cast(col(table.key.name, "r") if keyed else exp.null(), TEXT)
    value = q.cast(col(c.name, "r"), TEXT)
    pointing = exp.select(_at(file, "r"), _at(row, "r"), q.alias(own_key, key), q.alias(value, "v"),
                          col("place_at", "gone")).from_(_from(raw_reader(con, table, files, with_rows=True), "r")) \
        .join(_from(exp.Subquery(this=gone), "gone"), on=exp.EQ(this=value.copy(), expression=col("k", "gone")))
    con.execute(render(q.create("TABLE", "pointing", pointing, temporary=True)))
    same_row = exp.and_(exp.EQ(this=_at(file, bad_name), expression=_at(file, "p")),
                        exp.EQ(this=_at(row, bad_name), expression=_at(row, "p")))
    con.execute(render(exp.Update(
        this=bad_table.copy(), expressions=[exp.EQ(this=_at(flag(i)), expression=exp.true()),
                                            exp.EQ(this=_at(shown(i)), expression=col("v", "p")),
                                            exp.EQ(this=_at(place(i)), expression=col("place_at", "p"))],
        from_=exp.From(this=_from("pointing", "p")), where=exp.Where(this=same_row))))
    before = result.bad[table.name]
    already = exp.select(lit(1)).from_(_from(bad_name, "b")).where(exp.and_(
        exp.EQ(this=_at(file, "b"), expression=_at(file, "p")), exp.EQ(this=_at(row, "b"), expression=_at(row, "p"))))
    added = exp.select(_at(file), _at(row), _at(key), exp.true(), col("v"), col("place_at")).from_(
        _from("pointing", "p")).where(exp.not_(exp.Exists(this=already)))
    con.execute(render(exp.insert(added, into=bad_table.copy(), columns=[file.copy(), row.copy(), key.copy(), flag(i),
                                                                          shown(i), place(i)])))
    result.bad[table.name] = _one(con, exp.select(q.count_star()).from_(bad_table.copy()))[0]
    result.problems = [p for p in result.problems if (p.table, p.column, p.what) != (table.name, c.name, what)]
    _problem(con, table.name, i, result)
    pointers = [_at(flag(j)) for j, (_, w) in enumerate(checks) if w.startswith("pointing at a quarantined row")]
    result.pointing[table.name] = _one(con, exp.select(q.count_star()).from_(bad_table.copy()).where(
        q.or_all(pointers)))[0]
    return result.bad[table.name] > before


STAMP = "lhrule-quarantine.json"


def quarantine(con, rb: ir.Rulebook, data: Dataset, result: Validation, folder: Path,
               run: dict | None = None) -> dict[str, int]:
    """Write the bad rows aside with their reasons, and leave them out of the scored views:
    first every row pointing at a bad row joins them (`spread`). The folder's stamp names the
    run; the files an earlier run's stamp names are replaced or removed, and a file no stamp
    names is never written over. `run` is what the stamp says of the run (rulebook, dataset)."""
    import json

    from lhrule import safe_write
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
                               "with --quarantine")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"the bad rows cannot be written aside to {folder}: {exc.strerror}; name another folder "
                           "with --quarantine") from None
    written = {}
    for table in tables:
        checks = result.checks[table.name]
        files = data.files[table.name]
        try:
            with safe_write.aside(folder / f"{table.name}.csv") as part:
                con.execute(render(quarantine_query(con, table, files, checks, part)))
        except safe_write.WriteFailed as exc:
            raise DatasetError(f"the bad rows cannot be written aside: {exc}") from None
        written[table.name] = result.bad[table.name]
        file_view(con, table, files, rb.timezone, exclude=f"bad_{table.name}")
    for name in earlier:
        if name not in {f"{t}.csv" for t in written}:
            (folder / name).unlink(missing_ok=True)  # an earlier run's, of a table with no bad rows now
    stamp = {"written_by": "lhrule", **(run or {}), "written_at": dt.datetime.now(dt.timezone.utc).isoformat(
        timespec="seconds"), "files": {f"{t}.csv": n for t, n in written.items()}}
    try:
        safe_write.write_text(stamp_path, json.dumps(stamp, indent=2, ensure_ascii=False) + "\n")
    except safe_write.WriteFailed as exc:
        raise DatasetError(f"the bad rows cannot be written aside: {exc}") from None
    return written


def quarantine_query(con, table: ir.Table, files: list[Path], checks: list[tuple[str, str]], aside: Path) -> exp.Copy:
    """COPY of a table's bad rows to `aside`, as CSV: the declared columns as read, the row's
    file and number, and its reasons."""
    reasons = []
    for i, (column, what) in enumerate(checks):
        if what.startswith("pointing at a quarantined row"):
            said = exp.DPipe(this=exp.DPipe(this=lit(f"{column}: points at a quarantined row of {what.rsplit(' ', 1)[1]} ("),
                                            expression=_at(place(i), "q")), expression=lit(")"))
        else:
            said = lit(f"{column}: {what}")
        reasons.append(exp.Case(ifs=[exp.If(this=_at(flag(i), "q"), true=said)]))
    reason = q.call("concat_ws", lit("; "), *reasons) if reasons else lit("")
    file, row = own(FILE), own(ROW)
    rows = exp.select(*[col(c, "r") for c in declared_in(con, table, files)],
                      q.alias(_user_files(_at(file, "q"), files), own("lhrule:source_file")),
                      q.alias(_at(row, "q"), own("lhrule:source_row")), q.alias(reason, own("lhrule:reason"))) \
        .from_(_from(raw_reader(con, table, files, with_rows=True), "r")) \
        .join(_from(f"bad_{table.name}", "q"), on=exp.and_(exp.EQ(this=_at(file, "r"), expression=_at(file, "q")),
                                                         exp.EQ(this=_at(row, "r"), expression=_at(row, "q")))) \
        .order_by(_at(file, "q"), _at(row, "q"))
    return exp.Copy(this=exp.Subquery(this=rows), kind=False, files=[lit(str(aside))],
                    params=[exp.CopyParameter(this=exp.Var(this="HEADER")),
                            exp.CopyParameter(this=exp.Var(this="DELIMITER"), expression=lit(","))])


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
