"""The data layer's SQL, built as sqlglot expressions. Golden files pin, per table of the
standard schema (rulebooks/common/events.rule, compiled through tmall/basic-service) and per
dialect, the view each engine reads the table through and the queries that validate it: a
change to what DuckDB or Spark is sent shows in review. A missing golden fails with the
command that writes it (`pytest --update-golden tests/test_data_sql.py`)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
import sqlglot

from lhrule.api import load
from lhrule.engine.data import dataset, spark_validate, validate
from lhrule.engine.data.dataset import Dataset, connect, empty_view, file_view, open_dataset, view_columns
from lhrule.engine.data.statements import FILE, render
from lhrule.engine.data.types import arrow_type, sql_name, sql_type

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "data"
SEED = ROOT / "rulebooks" / "tmall" / "basic-service.rule"
FOLDER = "/srv/lhrule-dataset"  # the folder the goldens name, whatever machine writes them
UPDATE = "pytest --update-golden tests/test_data_sql.py"


@pytest.fixture(scope="module")
def rb():
    return load(SEED).ir


def _csv_dataset(folder: Path, rb) -> Dataset:
    """Each table as a CSV file holding its declared columns (every field text, as read)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = Dataset(folder)
    for table in rb.tables:
        path = folder / f"{table.name}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerow([c.name for c in table.columns])
        data.files[table.name] = [path]
    return data


def _statements(rb, data: Dataset, table, dialect: str) -> list[tuple[str, object]]:
    """(what, statement) of the view of `table` and of its validation, for `dialect`."""
    if dialect == "spark":
        source = {c.name: "string" for c in table.columns} | {FILE: "string"}
        checks = spark_validate._checks(table, source, data.files, rb.timezone)
        out = [("the view", dataset.q.create("VIEW", f"t_{table.name}", sqlglot.exp.select(
                   *view_columns(table, source, False, "spark")).from_(dataset.q.table(f"raw_{table.name}")),
                   temporary=True)),
               ("the view of a table the dataset does not hold", empty_view(table, temporary=True)),
               ("the quick pass: the rows, and those failing each check",
                spark_validate.count_query(rb, table, source, data.files, checks))]
        if table.key is not None:
            out.append(("the keys held more than once", spark_validate.dupes_query(table)))
        return out
    con = connect(rb)
    files = data.files[table.name]
    source = dataset.declared_in(con, table, files)
    checks = validate._checks(con, rb, table, data, source)
    out = [("the view", dataset.view_statement(con, table, files, dataset._described(con, files))),
           ("the view leaving out the quarantined rows",
            dataset.view_statement(con, table, files, dataset._described(con, files), exclude=f"bad_{table.name}")),
           ("the view of a table the dataset does not hold", empty_view(table))]
    for target in sorted({c.target for c in table.columns if c.target and c.target in data.files}):
        out.append((f"the keys of {target}, which {table.name} points at",
                    validate.keys_query(con, rb, target, data, repeats=1)))
    out.append(("the quick pass: the rows, and those failing each check",
                validate.count_query(con, table, data, source, checks)))
    if table.key is not None:
        out.append(("the keys held more than once", validate.repeated_keys_query(con, table, data)))
    out += [("the rows failing a check", validate.bad_rows_query(con, table, data, source, checks)),
            ("the quarantined rows written aside", validate.quarantine_query(
                con, table, files, [(c, w) for c, w, _, _ in checks], Path(FOLDER) / f".{table.name}.csv.part"))]
    return out


def _text(rb, data: Dataset, table, dialect: str) -> str:
    text = "".join(f"-- {what}\n{render(statement, dialect)};\n\n"
                   for what, statement in _statements(rb, data, table, dialect))
    return text.replace(str(data.folder), FOLDER)


TABLES = [t.name for t in load(SEED).ir.tables]


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
@pytest.mark.parametrize("name", TABLES)
def test_the_data_sql_of_each_table_is_pinned(name, dialect, rb, tmp_path, update_golden):
    data = _csv_dataset(tmp_path / "data", rb)
    text = _text(rb, data, rb.table(name), dialect)
    golden = GOLDEN / f"{name}.{dialect}.sql"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    if not golden.exists():
        pytest.fail(f"no golden {golden.relative_to(ROOT)}: write it with `{UPDATE}`, and review it")
    assert text == golden.read_text(encoding="utf-8"), f"the SQL changed: review it, then `{UPDATE}`"
    assert str(tmp_path) not in text and (FOLDER in text or dialect == "spark")


def test_the_goldens_are_sql_each_engine_parses(rb, tmp_path):
    """Every statement reads back as its dialect's SQL, one statement each."""
    data = _csv_dataset(tmp_path / "data", rb)
    for table in rb.tables:
        for dialect in ("duckdb", "spark"):
            for what, statement in _statements(rb, data, table, dialect):
                text = render(statement, dialect)
                assert len(sqlglot.parse(text, read=dialect)) == 1, (table.name, what)


def test_one_type_table_for_both_engines_and_arrow():
    assert [sql_type(t).sql("duckdb") for t in ("id", "number", "timestamp", "duration")] == \
        ["TEXT", "DECIMAL(38, 6)", "TIMESTAMP", "BIGINT"]
    assert [sql_type(t).sql("spark") for t in ("id", "number", "timestamp", "duration")] == \
        ["STRING", "DECIMAL(38, 6)", "TIMESTAMP_NTZ", "BIGINT"]
    assert sql_name("timestamp") == "TIMESTAMP" and sql_name("timestamp", "spark") == "timestamp_ntz"
    assert sql_name("number", "spark") == "decimal(38,6)"
    assert str(arrow_type("number")) == "decimal128(38, 6)" and str(arrow_type("timestamp")) == "timestamp[us]"


def test_a_path_with_quotes_is_read_as_named(rb, tmp_path):
    """A folder or file name holding ' \" ` or a backslash is a literal sqlglot quotes, never SQL."""
    folder = tmp_path / "it's \"a\" `b` \\c"
    data = _csv_dataset(folder, rb)
    with (folder / "orders.csv").open("a", encoding="utf-8", newline="") as f:
        f.write("o1,s1,u1,c,2024-06-01 10:00:00,,,,,,100.00\n")  # shop s1: no row of shops
    con = connect(rb)
    opened = open_dataset(con, folder, rb)
    assert opened.files["orders"] == [folder / "orders.csv"]
    checked = validate.validate(con, rb, opened)
    assert checked.rows["orders"] == 1 and checked.rows["reviews"] == 0
    assert [str(p) for p in checked.problems] == ["orders.shop_id: 1 row pointing at no row of shops: orders.csv "
                                                  "row 1 ('s1')"]
    assert checked.problems[0].samples[0][0] == str(folder / "orders.csv")
    assert con.execute("SELECT COUNT(*) FROM t_orders").fetchone()[0] == 1


def test_settings_are_bound_not_spliced(rb, monkeypatch, tmp_path):
    """The spill folder and memory limit reach DuckDB as values: a quote in the folder is a name."""
    spill = tmp_path / "sp'ill"
    monkeypatch.setenv("LHRULE_TEMP_DIR", str(spill))
    monkeypatch.setenv("LHRULE_MEMORY_LIMIT", "512MB")
    con = connect(rb)
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(spill)
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == rb.timezone
    file_view(con, rb.table("orders"), _csv_dataset(tmp_path / "d", rb).files["orders"], rb.timezone)
    assert con.execute("SELECT COUNT(*) FROM t_orders").fetchone()[0] == 0
    assert duckdb.__version__
