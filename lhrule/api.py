"""The Python API, for notebooks and for the CLI:

    import lhrule
    rb = lhrule.load("rulebooks/tejia/response-3min.rule")
    run = lhrule.score(rb, "examples/data", as_of="2024-06-30")
    run.to_json()            # the CONTRACT.md object
    run.to_arrow()           # one row per shop and day (pandas: run.to_arrow().to_pandas())
    run.flags("response_3min", shop="s000001")   # the per-event trace as an Arrow table
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from lhrule.engine import ir
from lhrule.engine.compile import compile_rulebook
from lhrule.engine.diagnostics import CompileError


@dataclass
class Rulebook:
    ir: ir.Rulebook
    path: Path
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        from lhrule.engine.report import rulebook_hash

        return rulebook_hash(self.sources)


def load(path: str | Path) -> Rulebook:
    """Compile a rulebook; raises CompileError (with .diagnostics) when it has errors."""
    path = Path(path)
    result = compile_rulebook(path)
    if not result.ok:
        raise CompileError([d for d in result.diagnostics if d.is_error])
    return Rulebook(result.rulebook, path, result.sources)


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@dataclass
class ScoreRun:
    rulebook: Rulebook
    days: list[dt.date]
    results: list
    con: object
    stamp: dict
    validation: object = None

    def to_json(self) -> dict:
        from lhrule.engine.report import score_json

        return score_json(self.results, self.rulebook.ir, self.days, self.stamp)

    def to_arrow(self):
        import pyarrow as pa

        from lhrule.engine.report import flat_rows

        return pa.Table.from_pylist(flat_rows(self.results, self.rulebook.ir))

    def flags(self, indicator: str, shop: str | None = None, as_of=None):
        """The per-event trace of one indicator: every flag column, as an Arrow table."""
        from lhrule.engine.plan import plan_for
        from lhrule.engine.query import flags_query

        day = _date(as_of) if as_of else self.days[-1]
        plan = plan_for(self.rulebook.ir, day)
        ind = next((i for i in plan.indicators if i.name == indicator), None)
        if ind is None:
            raise KeyError(f"indicator {indicator} is not in force on {day}")
        query = flags_query(self.rulebook.ir, plan, ind, [day], [shop] if shop else None, whole_table=shop is not None)
        rel = self.con.sql(query.sql(dialect="duckdb"))
        # duckdb 2 names it to_arrow_table; 1.x arrow()
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()


def score(rulebook: Rulebook | str | Path, data: str | Path, as_of=None, start=None, end=None,
          shops: list[str] | None = None, on_bad_rows: str = "stop", quarantine: str | Path | None = None) -> ScoreRun:
    """Score every shop (or the shops named) on as_of, or on every day from start to end.

    The dataset is validated first. on_bad_rows="stop" raises DatasetError with the report;
    "quarantine" writes the bad rows to `quarantine` (a folder) and scores the rest."""
    from lhrule.engine.dataset import DatasetError, connect, open_dataset
    from lhrule.engine.validate import quarantine as set_aside
    from lhrule.engine.validate import validate
    from lhrule.engine.report import dataset_fingerprint
    from lhrule.engine.score import score as run

    rb = rulebook if isinstance(rulebook, Rulebook) else load(rulebook)
    if start is not None or end is not None:
        days = days_between(_date(start or end), _date(end or start))
    else:
        days = [_date(as_of)]
    con = connect(rb.ir)
    dataset = open_dataset(con, Path(data), rb.ir)
    checked = validate(con, rb.ir, dataset)
    quarantined: dict[str, int] = {}
    if not checked.ok:
        if on_bad_rows != "quarantine":
            report = "\n".join(f"  {p}" for p in checked.problems)
            raise DatasetError(f"the dataset {data} has bad rows:\n{report}\nfix them, or score the rest with "
                               f"--on-bad-rows quarantine (the bad rows are written aside with their reasons)")
        quarantined = set_aside(con, rb.ir, dataset, checked, Path(quarantine or "quarantine"))
    results = run(con, rb.ir, days, shops)
    stamp = {"rulebook_hash": rb.hash, "dataset_fingerprint": dataset_fingerprint(dataset.files)}
    if quarantined:
        stamp["quarantined"] = quarantined
    return ScoreRun(rb, days, results, con, stamp, checked)
