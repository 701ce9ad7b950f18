"""The Python API, for notebooks and for the CLI:

    import lhrule
    rb = lhrule.load("rulebooks/tejia/response-3min.rule")
    run = lhrule.score(rb, "examples/data", as_of="2024-06-30")
    run.to_json()            # the object of docs/contract.md
    run.to_arrow()           # one row per shop and day (pandas: run.to_arrow().to_pandas())
    run.flags("response_3min", shop="s000001")   # the per-event trace as an Arrow table
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from lhrule.ir import model as ir
from lhrule.compiler.compile import compile_rulebook
from lhrule.diagnostics import CompileError


@dataclass
class Rulebook:
    ir: ir.Rulebook
    path: Path
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        from lhrule.output.contract import rulebook_hash

        return rulebook_hash(self.sources)


def load(path: str | Path) -> Rulebook:
    """Compile a rulebook; raises CompileError (with .diagnostics) when it has errors."""
    path = Path(path)
    result = compile_rulebook(path)
    if not result.ok:
        raise CompileError([d for d in result.diagnostics if d.is_error])
    return Rulebook(result.rulebook, path, result.sources)


class NotRunnable(ValueError):
    """A rulebook that compiles but cannot be scored: a library of declarations."""


def runnable(rb: Rulebook) -> None:
    """Raise NotRunnable unless the rulebook has an entity table and indicators to score."""
    if rb.ir.entity is None:
        raise NotRunnable(f"{rb.path} declares no entity table to score (include the standard schema?)")
    if not rb.ir.indicators:
        raise NotRunnable(f"{rb.path} declares no indicators: it is a library of declarations, not a rulebook "
                          f"to run")


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _date(value, name: str = "as_of") -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} takes a date such as 2024-06-30 (a str or a datetime.date), not {value!r}") from None


def _days(as_of, start, end) -> list[dt.date]:
    """The days to score: as_of, or every day from start to end."""
    if as_of is None and start is None and end is None:
        raise ValueError("say which day to score: as_of=DATE, or start=DATE and end=DATE")
    if as_of is not None and (start is not None or end is not None):
        raise ValueError("give as_of, or start and end, not both")
    if as_of is not None:
        return [_date(as_of)]
    first = _date(start, "start") if start is not None else None
    last = _date(end, "end") if end is not None else first
    first = first or last  # one of them alone: that day
    if last < first:
        raise ValueError(f"end {last} is before start {first}")
    return days_between(first, last)


@dataclass
class ScoreRun:
    rulebook: Rulebook
    days: list[dt.date]
    results: list
    con: object
    stamp: dict
    validation: object = None

    @property
    def counted(self) -> bool:
        """Whether any indicator of any shop counted an event (`results.counted_any`)."""
        from lhrule.engine.run.results import counted_any

        return counted_any(self.results)

    def to_json(self) -> dict:
        from lhrule.output.contract import score_json

        return score_json(self.results, self.rulebook.ir, self.days, self.stamp)

    @property
    def rows(self) -> int:
        """Shop-days scored."""
        return len(self.results)

    def to_arrow(self):
        """One row per shop and day (`report.flat_rows`), with the columns and types of the
        rulebook's indicators even when there are no rows."""
        import pyarrow as pa

        from lhrule.output.contract import flat_rows, flat_schema

        rows = flat_rows(self.results, self.rulebook.ir)
        return pa.Table.from_pylist(rows, schema=flat_schema(self.rulebook.ir, self.days, rows))

    def flags(self, indicator: str, shop: str | None = None, as_of=None):
        """The per-event trace of one indicator: every flag column, as an Arrow table."""
        from lhrule.engine.sql.dialects import render
        from lhrule.ir.plan import plan_for
        from lhrule.engine.sql.queries import flags_query

        day = _date(as_of) if as_of else self.days[-1]
        plan = plan_for(self.rulebook.ir, day)
        ind = next((i for i in plan.indicators if i.name == indicator), None)
        if ind is None:
            raise KeyError(f"indicator {indicator} is not in force on {day}")
        query = flags_query(self.rulebook.ir, plan, ind, [day], [shop] if shop else None, whole_table=shop is not None)
        rel = self.con.sql(render(query, getattr(self.con, "dialect", "duckdb")))
        # duckdb 2 names it to_arrow_table; 1.x arrow()
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()


def score(rulebook: Rulebook | str | Path, data: str | Path, as_of=None, start=None, end=None,
          shops: list[str] | None = None, on_bad_rows: str = "stop", quarantine: str | Path | None = None,
          engine: str = "duckdb", spark_master: str | None = None) -> ScoreRun:
    """Score every shop (or the shops named) on as_of, or on every day from start to end.

    The dataset is validated first, and a shop named that it does not hold raises
    DatasetError. on_bad_rows="stop" raises DatasetError with the report;
    "quarantine" writes the bad rows to `quarantine` (a folder) and scores the rest.
    engine="spark" runs the same queries on Spark (`spark_master`, default local[*])."""
    from lhrule.engine.run.score import score as run

    rb, days, con, stamp, checked = _prepare(rulebook, data, as_of, start, end, on_bad_rows, quarantine, engine,
                                             spark_master)
    _held(con, rb, days, shops, data)
    _fits(con, rb, days, shops)
    results = run(con, rb.ir, days, shops)
    return ScoreRun(rb, days, results, con, stamp, checked)


def _prepare(rulebook, data, as_of, start, end, on_bad_rows: str, quarantine, engine: str, spark_master) -> tuple:
    """The rulebook, the days to score, and the dataset opened and validated."""
    rb = rulebook if isinstance(rulebook, Rulebook) else load(rulebook)
    runnable(rb)
    days = _days(as_of, start, end)
    con, stamp, checked = open_validated(rb, data, on_bad_rows, quarantine, engine, spark_master)
    return rb, days, con, stamp, checked


@dataclass
class ScoreStream:
    """A range scored a few days at a time (`score_stream`): each part is dropped once read,
    so a month of a large dataset needs the memory of a few days."""

    rulebook: Rulebook
    days: list[dt.date]
    con: object
    stamp: dict
    validation: object
    shops: list[str] | None
    days_at_a_time: int
    counted: bool = False  # whether an indicator of a shop has counted an event in the parts read (`counted_any`)
    rows: int = 0  # shop-days in the parts read

    def parts(self):
        """The results of every day, `days_at_a_time` days at a time, in order."""
        from lhrule.engine.run.results import counted_any
        from lhrule.engine.run.score import score as run

        carried: dict = {}  # the actions in force, from one part to the next
        for i in range(0, len(self.days), self.days_at_a_time):
            part = run(self.con, self.rulebook.ir, self.days[i:i + self.days_at_a_time], self.shops, carried=carried)
            self.counted = self.counted or counted_any(part)
            self.rows += len(part)
            yield part

    def json_chunks(self):
        """The text of `ScoreRun.to_json()` (as the CLI writes it), a part at a time."""
        from lhrule.output.contract import json_chunks, score_json_head, shops_json

        statics: dict = {}
        ranged = len(self.days) > 1
        items = (item for part in self.parts() for item in shops_json(part, self.rulebook.ir, ranged, statics))
        return json_chunks(score_json_head(self.rulebook.ir, self.days, self.stamp), items)


def score_stream(rulebook: Rulebook | str | Path, data: str | Path, start, end, shops: list[str] | None = None,
                 on_bad_rows: str = "stop", quarantine: str | Path | None = None, engine: str = "duckdb",
                 spark_master: str | None = None, days_at_a_time: int | None = None) -> ScoreStream:
    """`score` of the days from start to end, to be read a few days at a time (`ScoreStream`):
    `days_at_a_time` at most, fewer when their results would not fit in memory. By default a
    week, or more days while their results take at most PART_BYTES: a range of a small
    dataset in one part, in fewer and larger queries."""
    if days_at_a_time is not None and (not isinstance(days_at_a_time, int) or days_at_a_time < 1):
        raise ValueError(f"days_at_a_time must be a whole number of days, 1 or more, not {days_at_a_time!r}")
    rb, days, con, stamp, checked = _prepare(rulebook, data, None, start, end, on_bad_rows, quarantine, engine,
                                             spark_master)
    _held(con, rb, days, shops, data)
    fit, per_day = _fits(con, rb, days[:1], shops)  # a part holds a day at least, and as many as fit
    if days_at_a_time is None:
        days_at_a_time = max(PART_DAYS, PART_BYTES // per_day)
    return ScoreStream(rb, days, con, stamp, checked, shops, days_at_a_time if fit is None else min(days_at_a_time, fit))


# Per shop, day and indicator, the memory its results take until the output is written:
# measured on basic-service (nine indicators), a 30-day range at 1M and 10M events takes
# 34 KB more per shop-day than one day (benchmarks/RESULTS.md).
BYTES_PER_SHOP_DAY_INDICATOR = 4_000
# The share of free memory the results may take; the rest is DuckDB's (8 GB for one day of
# 100M events) and the process's own.
RESULTS_SHARE = 0.5
# A range scored a part at a time (`score_stream`) takes a week in a part, or more days while
# their results take at most this much. A part's queries count all its days in one scan, so
# fewer parts are faster and larger ones take more memory (benchmarks/RESULTS.md).
PART_DAYS = 7
PART_BYTES = 2**30


def _held(con, rb: Rulebook, days: list, shops: list[str] | None, data) -> None:
    """Refuse shops named that the dataset does not hold: a mistyped id would score nothing, in silence."""
    from lhrule.engine.data.dataset import DatasetError
    from lhrule.engine.run.score import missing_shops

    missing = missing_shops(con, rb.ir, days[0], shops) if shops else []
    if missing:
        raise DatasetError(f"no shop {' or '.join(repr(s) for s in missing)} in {data}")


def _fits(con, rb: Rulebook, days: list, shops: list[str] | None) -> tuple[int | None, int]:
    """Refuse, before any work, a run whose results would not fit in memory (a month of a
    whole platform), rather than be killed by the system half way. Else the number of days
    whose results would fit (None where the free memory is unknown), and the bytes a day's
    results take by the estimate."""
    from sqlglot import exp

    from lhrule.engine.data.dataset import TooLarge
    from lhrule.engine.sql.dialects import render
    from lhrule.engine.sql.expressions import table_name
    from lhrule.ir.plan import plan_for

    count = len(shops) if shops else con.execute(render(exp.select(exp.Count(this=exp.Star())).from_(
        exp.table_(table_name(rb.ir.entity), quoted=True)), getattr(con, "dialect", "duckdb"))).fetchone()[0]
    per_day = max(1, count * (max(len(plan_for(rb.ir, d).indicators) for d in (days[0], days[-1])) + 1)
                  * BYTES_PER_SHOP_DAY_INDICATOR)
    available = available_memory()
    if available is None:
        return None, per_day
    need = per_day * len(days)
    budget = int(available * RESULTS_SHARE)
    fit = budget // per_day
    if fit < 1:
        raise TooLarge(f"{count:,} shops would need about {_size(per_day)} for the results of one day, more "
                       f"than half of the {_size(available)} free (the rest is for counting): score fewer shops "
                       f"(--shop)")
    if need > budget:
        raise TooLarge(f"{count:,} shops × {len(days)} days would need about {_size(need)} for their results, "
                       f"more than half of the {_size(available)} free (the rest is for counting): score at most "
                       f"{fit} days at a time (--from/--to), or fewer shops (--shop)")
    return fit, per_day


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def available_memory() -> int | None:
    """Bytes of memory free for new work (Linux: MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


ENGINES = ("duckdb", "spark")  # the dialects of engine.dialect, named without loading sqlglot


def open_validated(rb: Rulebook, data, on_bad_rows: str, quarantine, engine: str = "duckdb",
                   spark_master: str | None = None, whose: str | None = None) -> tuple:
    """A connection with the dataset's views, validated: (con, stamp, validation). With
    engine="spark", the dataset is validated as for DuckDB, then read by Spark. `whose`, for
    the refusal: the rulebook named, where two read the dataset (`diff`)."""
    from lhrule.engine.data.dataset import DatasetError, connect, is_uri, open_dataset
    from lhrule.engine.data.validate import quarantine as set_aside
    from lhrule.engine.data.validate import Validation, validate

    from lhrule.compiler import cache

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if on_bad_rows not in ("stop", "quarantine"):
        raise ValueError(f"on_bad_rows must be stop or quarantine, not {on_bad_rows!r}")
    if engine == "spark" and on_bad_rows == "quarantine":
        raise DatasetError("--on-bad-rows quarantine runs on DuckDB only: quarantine with the DuckDB engine, or fix "
                           "the bad rows, then score with Spark")
    if is_uri(data):  # only Spark reads it, and validates it
        if engine != "spark":
            raise DatasetError(f"{data}: DuckDB reads local folders; read a URI with engine='spark'")
        return _open_uri(rb, str(data), spark_master)
    con = connect(rb.ir)
    dataset = open_dataset(con, Path(data), rb.ir)
    key = cache.dataset_key(rb.ir, dataset.files)
    checked = Validation.from_kept(cache.found_clean(key))  # the same files, found clean before: not read again
    if checked is None:
        checked = validate(con, rb.ir, dataset)
        if checked.kept() is not None:
            cache.remember_clean(key, checked.kept())
    quarantined: dict[str, int] = {}
    if not checked.ok and on_bad_rows != "quarantine":
        raise checked.refusal(data, "fix them, or leave them out with --on-bad-rows quarantine (the bad rows "
                                    "are written aside with their reasons)", whose)
    if on_bad_rows == "quarantine":  # even when clean: an earlier run's files are cleared
        run = {"rulebook": str(rb.path), "rulebook_hash": rb.hash, "dataset": str(data)}
        quarantined = set_aside(con, rb.ir, dataset, checked, Path(quarantine or "quarantine"), run)
    stamp = {"rulebook_hash": rb.hash, "dataset_fingerprint": data_fingerprint(data, dataset.files)}
    if quarantined:
        stamp["quarantined"] = quarantined
    if engine == "spark":
        con = spark_connection(rb, data, spark_master)
    return con, stamp, checked


def spark_connection(rb: Rulebook, data, master: str | None = None):
    """A connection answering the engine's queries with Spark, over the dataset's views."""
    from lhrule.engine.sql.dialects import check_portable
    from lhrule.engine.data.spark import SparkConnection, open_dataset, session

    check_portable(rb.ir, "spark")  # before Spark starts: a rule it cannot run is said at once
    spark = session(rb.ir.timezone, master)
    return SparkConnection(spark, open_dataset(spark, str(data), rb.ir))


def data_fingerprint(data, files: dict, con=None) -> str:
    """The dataset's fingerprint, as the stamp of a score gives it: at a URI, from Spark's
    listing of its files (`con` a Spark connection); in a local folder, from the files
    themselves, whichever engine listed them (Spark names them file:/…)."""
    from lhrule.engine.data.dataset import is_uri
    from lhrule.output.contract import dataset_fingerprint

    if is_uri(data):
        from lhrule.engine.data.spark import fingerprint

        return fingerprint(con.spark, files)
    return dataset_fingerprint({t: [Path(str(f).removeprefix("file:")) for f in fs] for t, fs in files.items()})


def _open_uri(rb: Rulebook, data: str, master: str | None) -> tuple:
    """A dataset at a URI, read and validated by Spark; bad rows stop the run."""
    from lhrule.engine.data.spark_validate import validate

    con = spark_connection(rb, data, master)
    checked = validate(con.spark, rb.ir, con.files)
    if not checked.ok:
        raise checked.refusal(data, "fix them (quarantine needs a local copy and the DuckDB engine)")
    stamp = {"rulebook_hash": rb.hash, "dataset_fingerprint": data_fingerprint(data, con.files, con)}
    return con, stamp, checked


@dataclass
class DiffRun:
    old: Rulebook
    new: Rulebook
    comparison: object  # engine.compare.Comparison
    rule_changes: list
    shops: list  # engine.diff.ShopChange, one per shop
    summary: dict
    stamp: dict = field(default_factory=dict)  # the old side's: its rulebook, the dataset, rows quarantined
    validation: object = None  # engine.validate.Validation of the dataset
    # Where the two rulebooks declare the tables differently, each validates the dataset: the
    # new side's stamp and validation (else None), its bad rows written aside apart (`quarantines`).
    new_stamp: dict | None = None
    new_validation: object = None

    def to_json(self, old_name: str, new_name: str) -> dict:
        from lhrule.compare.changes import ATTRIBUTION_NOTE

        c = self.comparison
        return {"old": old_name, "new": new_name, "as_of": c.day.isoformat(),
                "rule_changes": [r.to_json() for r in self.rule_changes],
                "attribution_note": ATTRIBUTION_NOTE if c.attributed else "attribution not computed (--no-attribution)",
                "not_attributed": [{"change": e.change.title, "error": e.error} for e in c.effects if e.error],
                "summary": self.summary, "shops": [s.to_json() for s in self.shops if s.moved]}


def diff(old: Rulebook | str | Path, new: Rulebook | str | Path, data: str | Path, as_of,
         old_rules_as_of=None, new_rules_as_of=None, attribute: bool = True, on_bad_rows: str = "stop",
         quarantine: str | Path | None = None, engine: str = "duckdb", spark_master: str | None = None) -> DiffRun:
    """Score two rulebooks (or one, with the rules in force on two days) on the same data and
    day, and say which rules changed, which shops moved, and which change moved each."""
    from lhrule.compare.sides import Side, compare
    from lhrule.compare.changes import plan_rule_changes, rule_changes, shop_changes, summary

    a = old if isinstance(old, Rulebook) else load(old)
    b = new if isinstance(new, Rulebook) else load(new)
    runnable(a)
    runnable(b)
    day = _date(as_of)
    side_a = Side(a.ir, _date(old_rules_as_of, "old_rules_as_of") if old_rules_as_of else None)
    side_b = Side(b.ir, _date(new_rules_as_of, "new_rules_as_of") if new_rules_as_of else None)
    same = [t.model_dump(exclude={"span"}) for t in a.ir.tables] == [t.model_dump(exclude={"span"}) for t in b.ir.tables]
    apart = not same or a.ir.timezone != b.ir.timezone
    to_old, to_new = quarantines(quarantine, apart)
    con, stamp, checked = open_validated(a, data, on_bad_rows, to_old, engine, spark_master,
                                         str(a.path) if apart else None)
    con_b, new_stamp, new_checked = open_validated(b, data, on_bad_rows, to_new, engine, spark_master, str(b.path)) \
        if apart else (con, None, None)
    comparison = compare(con, side_a, side_b, day, attribute, con_b)
    sources = (a.sources, b.sources)
    if side_a.rules_day or side_b.rules_day:
        rules = plan_rule_changes(comparison.parts, a.ir, b.ir, sources)
    else:
        rules = rule_changes(a.ir, b.ir, sources)
    shops = shop_changes(comparison)
    return DiffRun(a, b, comparison, rules, shops, summary(shops), stamp, checked, new_stamp, new_checked)


def quarantines(folder: str | Path | None, apart: bool) -> tuple[Path, Path]:
    """Where `diff` writes each side's bad rows: the folder, or where the two rulebooks declare
    the tables differently (and so may find different rows bad), its `old` and `new` folders."""
    folder = Path(folder or "quarantine")
    return (folder / "old", folder / "new") if apart else (folder, folder)
