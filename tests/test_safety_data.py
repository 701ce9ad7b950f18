"""Data safety: what a dataset holds beyond its declared schema never changes what is read;
every file of a table is read or refused; quarantine leaves the data consistent; numbers are
never rounded at load. Then a property over random corruptions of a generated dataset."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import lhrule
from lhrule.cli.main import app
from lhrule.engine.data.dataset import DatasetError

ROOT = Path(__file__).resolve().parent.parent

RULEBOOK = """rulebook safe "safe" {
  timezone "Asia/Shanghai"
  cite "s" "q"
}

entity shops "店铺" {
  shop_id: id key
  main_category: string
}

table orders "订单" {
  order_id: id key
  shop_id: id -> shops
  paid_at: timestamp
  picked_up_at: timestamp?
  kind: enum {normal, presale}
  amount: decimal
  items: int?
  wait: duration?
  reason: string?
}

table reviews "评价" {
  review_id: id key
  shop_id: id -> shops
  order_id: id -> orders
  created_at: timestamp
  stars: int
}

indicator pickup "揽收" {
  over orders
  window last 30 days on paid_at
  rate where picked_up_at - paid_at <= 24h
  cite "s" "q"
}

indicator reviewed "评价数" {
  over reviews
  window last 30 days on created_at
  count
  cite "s" "q"
}
"""

SHOPS = "shop_id,main_category\ns1,食品\ns2,家具\n"
HEADER = "order_id,shop_id,paid_at,picked_up_at,kind,amount,items,wait,reason"
ORDERS = (f"{HEADER}\n"
          "o1,s1,2024-06-10 10:00:00,2024-06-10 12:00:00,normal,10.50,1,,\n"
          "o2,s1,2024-06-11 10:00:00,,presale,3,2,,late\n"
          "o3,s2,2024-06-12 10:00:00,2024-06-12 11:00:00,normal,1,,,\n")
REVIEWS = ("review_id,shop_id,order_id,created_at,stars\n"
           "rv1,s1,o1,2024-06-11 10:00:00,5\n"
           "rv2,s1,o2,2024-06-12 10:00:00,4\n"
           "rv3,s2,o3,2024-06-13 10:00:00,3\n")


def make(tmp_path: Path, orders: str | None = ORDERS, shops: str = SHOPS, reviews: str = REVIEWS) -> Path:
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    (tmp_path / "safe.rule").write_text(RULEBOOK, encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "shops.csv").write_text(shops, encoding="utf-8")
    (data / "reviews.csv").write_text(reviews, encoding="utf-8")
    if orders is not None:
        (data / "orders.csv").write_text(orders, encoding="utf-8")
    return data


def score(tmp_path: Path, **kw):
    return lhrule.score(tmp_path / "safe.rule", tmp_path / "data", as_of="2024-06-30", **kw)


def quarantined(folder: Path, table: str) -> list[dict]:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def kept(run, table: str) -> int:
    return run.con.execute(f"SELECT COUNT(*) FROM t_{table}").fetchone()[0]


# ------------------------------------------------ 1. undeclared columns change nothing

# Names lhrule used for its own columns and aliases (__file, __row, the bad table's b0/v0,
# the joins' k_<column>, the rows' r, the quarantine's source_*/reason), and its own names now.
INTERNAL = ["__file", "__row", "source_row", "source_file", "reason_1", "b0", "v0", "k_shop_id", "k", "r", "q",
            "src", "x", "lhrule file", "lhrule row", "lhrule:reason", "lhrule bad 0"]


@pytest.mark.parametrize("name", INTERNAL)
def test_an_undeclared_column_of_any_name_changes_nothing(name, tmp_path):
    # A column `__row` (every value 1) made every bad row "row 1" and, quarantined, joined each
    # bad row to every row (examples/data: 135 million lines), and emptied the table.
    lines = (ORDERS + "o4,s9,2024-06-13 10:00:00,,normal,1,,,\n").splitlines()
    orders = "\n".join([f'{lines[0]},"{name}"'] + [f"{line},1" for line in lines[1:]]) + "\n"
    make(tmp_path, orders)
    with pytest.raises(DatasetError) as stop:
        score(tmp_path)
    assert "orders.shop_id: 1 row pointing at no row of shops: orders.csv row 4 ('s9')" in str(stop.value)
    run = score(tmp_path, on_bad_rows="quarantine", quarantine=tmp_path / "q")
    assert run.stamp["quarantined"] == {"orders": 1}
    assert (run.validation.rows["orders"], kept(run, "orders")) == (4, 3)
    rows = quarantined(tmp_path / "q", "orders")
    assert [(r["order_id"], r["lhrule:source_file"], r["lhrule:source_row"], r["lhrule:reason"]) for r in rows] == [
        ("o4", str(tmp_path / "data" / "orders.csv"), "4", "shop_id: pointing at no row of shops")]
    assert name not in rows[0] or name.startswith("lhrule")  # the undeclared column is not read


def test_a_declared_column_named_reason_keeps_its_name_beside_the_quarantines_reason(tmp_path):
    # The standard schema's refunds.reason pushed the quarantine's reason into `reason_1`.
    make(tmp_path, ORDERS.replace("o2,s1,2024-06-11 10:00:00,,presale", "o2,s1,2024-06-11 10:00:00,,refund"))
    score(tmp_path, on_bad_rows="quarantine", quarantine=tmp_path / "q")
    header = (tmp_path / "q" / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == f"{HEADER},lhrule:source_file,lhrule:source_row,lhrule:reason"
    row = quarantined(tmp_path / "q", "orders")[0]
    assert (row["reason"], row["lhrule:reason"]) == ("late", "kind: not one of normal, presale")


# ------------------------------------------------ 2. every file of a table's folder

def _split(data: Path) -> Path:
    """orders/ as part-0.csv (o1, o2) and whatever the test adds (o3 in another part)."""
    (data / "orders.csv").unlink()
    folder = data / "orders"
    folder.mkdir()
    lines = ORDERS.splitlines()
    (folder / "part-0.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    return folder


O3 = "\n".join([ORDERS.splitlines()[0], ORDERS.splitlines()[3]]) + "\n"


def _rows(lines: list[str]) -> list[dict]:
    return [{k: v or None for k, v in zip(HEADER.split(","), line.split(","))} for line in lines]


def _as(folder: Path, suffix: str) -> None:
    """The table as part-0 (o1, o2) and part-1 (o3) of that format, part-1's suffix upper-cased."""
    import datetime as dt

    (folder / "part-0.csv").unlink()
    lines = ORDERS.splitlines()[1:]
    for i, part in enumerate((lines[:2], lines[2:])):
        path = folder / f"part-{i}{suffix.upper() if i else suffix}"
        rows = _rows(part)
        if suffix == ".parquet":
            stamp = [dt.datetime.fromisoformat(r["paid_at"]) for r in rows]
            pq.write_table(pa.table({"order_id": [r["order_id"] for r in rows], "shop_id": [r["shop_id"] for r in rows],
                                     "paid_at": stamp, "picked_up_at": [None if r["picked_up_at"] is None else
                                                                        dt.datetime.fromisoformat(r["picked_up_at"])
                                                                        for r in rows],
                                     "kind": [r["kind"] for r in rows], "amount": [r["amount"] for r in rows]}), path)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


READ = {
    "part-1.PARQUET": lambda f: _as(f, ".parquet"),
    "part-1.CSV": lambda f: (f / "part-1.CSV").write_text(O3, encoding="utf-8"),
    "part-1.JSONL": lambda f: _as(f, ".jsonl"),
    "a Hive partition folder": lambda f: ((f / "day=2024-06-12").mkdir(),
                                          (f / "day=2024-06-12" / "part-1.csv").write_text(O3, encoding="utf-8")),
    "_SUCCESS and .crc files beside their parts (skipped)": lambda f: (
        (f / "part-1.csv").write_text(O3, encoding="utf-8"), (f / "_SUCCESS").write_text("", encoding="utf-8"),
        (f / ".part-0.csv.crc").write_bytes(b"crc"), (f / ".part-1.csv.crc").write_bytes(b"crc"),
        (f / "._SUCCESS.crc").write_bytes(b"crc")),
}


@pytest.mark.parametrize("case", READ)
def test_every_file_of_a_tables_folder_is_read(case, tmp_path):
    # part-1.PARQUET was not read: s2 was scored on none of its orders, exit 0.
    folder = _split(make(tmp_path))
    READ[case](folder)
    run = score(tmp_path)
    assert run.validation.rows["orders"] == 3
    assert {s["shop_id"]: s["indicators"]["pickup"]["denominator"] for s in run.to_json()["shops"]} == \
        {"s1": 2, "s2": 1}


REFUSED = {
    "part-1.csv.gz": (lambda f: (f / "part-1.csv.gz").write_bytes(gzip.compress(O3.encode())),
                      "compressed (.gz), which lhrule does not read: decompress it, or write the table as Parquet "
                      "(compressed inside)"),
    "part-1.zst": (lambda f: (f / "part-1.csv.zst").write_bytes(b"(\xb5/\xfd"), "compressed (.zst)"),
    "a file without a suffix": (lambda f: (f / "part-00001").write_text(O3, encoding="utf-8"),
                                "not a file lhrule reads (NAME.parquet, .csv, .jsonl or .json): give it the suffix of "
                                "its format, or move it out of the table's folder"),
    "notes.txt": (lambda f: (f / "notes.txt").write_text("hi", encoding="utf-8"), "not a file lhrule reads"),
    ".DS_Store": (lambda f: (f / ".DS_Store").write_bytes(b"\0\0\0\1Bud1"),
                  "a hidden or bookkeeping file, not a table's rows: move it out of the table's folder"),
    "_committed_ marker": (lambda f: (f / "_committed_8423").write_text("{}", encoding="utf-8"),
                           "a marker of a Databricks transactional write"),
    "a part under _temporary/": (lambda f: ((f / "_temporary" / "0").mkdir(parents=True),
                                            (f / "_temporary" / "0" / "part-1.csv").write_text(O3, encoding="utf-8")),
                                 "in _temporary/, a folder Spark and Hadoop keep for work not committed"),
    "a .crc with no file beside it": (lambda f: (f / ".part-7.csv.crc").write_bytes(b"crc"),
                                      "a hidden or bookkeeping file"),
    "_metadata (a Parquet summary)": (lambda f: (f / "_metadata").write_bytes(b"PAR1"), "a hidden or bookkeeping"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_file_of_a_tables_folder_lhrule_cannot_read_is_refused_by_name(case, tmp_path, monkeypatch):
    prepare, why = REFUSED[case]
    folder = _split(make(tmp_path))
    prepare(folder)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", "safe.rule", "--data", "data", "--as-of", "2024-06-30"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == ("lhrule: the table folder data/orders holds 1 file lhrule cannot read (every file of a "
                        "table's folder is read, or the run stops):")
    assert lines[1].startswith("  data/orders/") and why in lines[1], lines
    assert "Traceback" not in result.output


def test_a_tables_file_in_another_case_is_read_and_a_compressed_one_refused(tmp_path):
    data = make(tmp_path)
    (data / "orders.csv").rename(data / "orders.CSV")
    assert score(tmp_path).validation.rows["orders"] == 3
    (data / "orders.CSV").rename(data / "orders.csv.gz")
    with pytest.raises(DatasetError, match=r"orders.csv.gz is compressed \(.gz\), which lhrule does not read"):
        score(tmp_path)


# ------------------------------------------------ 9. quarantine leaves the data consistent

def test_rows_pointing_at_a_quarantined_row_are_quarantined_too(tmp_path):
    # o2's kind is outside its set; its review rv2 stayed in, pointing at an order no view held.
    make(tmp_path, ORDERS.replace("o2,s1,2024-06-11 10:00:00,,presale", "o2,s1,2024-06-11 10:00:00,,refund"))
    run = score(tmp_path, on_bad_rows="quarantine", quarantine=tmp_path / "q")
    assert run.stamp["quarantined"] == {"orders": 1, "reviews": 1}
    assert [(r["review_id"], r["lhrule:source_row"], r["lhrule:reason"]) for r in quarantined(tmp_path / "q", "reviews")] \
        == [("rv2", "2", f"order_id: points at a quarantined row of orders ({tmp_path / 'data' / 'orders.csv'} row 2)")]
    for table in ("orders", "reviews"):
        assert run.validation.rows[table] == kept(run, table) + run.stamp["quarantined"][table]
    assert run.validation.pointing == {"reviews": 1}


def test_a_quarantined_shop_takes_its_events_with_it_transitively_and_says_so(tmp_path, monkeypatch):
    # s2 has no main_category: quarantined, its order o3 and review rv3 were dropped from every
    # result by the joins to shops, without a word.
    make(tmp_path, shops="shop_id,main_category\ns1,食品\ns2,\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", "safe.rule", "--data", "data", "--as-of", "2024-06-30",
                                      "--format", "json", "--on-bad-rows", "quarantine", "--quarantine", "q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "quarantined 1 of 2 rows of shops to q/shops.csv",
        "quarantined 1 of 3 rows of orders to q/orders.csv (1 of them for pointing at a quarantined row)",
        "quarantined 1 of 3 rows of reviews to q/reviews.csv (1 of them for pointing at a quarantined row)"]
    assert [(r["order_id"], r["lhrule:reason"]) for r in quarantined(tmp_path / "q", "orders")] == [
        ("o3", "shop_id: points at a quarantined row of shops (data/shops.csv row 2)")]
    assert [(r["review_id"], r["lhrule:reason"]) for r in quarantined(tmp_path / "q", "reviews")] == [
        ("rv3", "shop_id: points at a quarantined row of shops (data/shops.csv row 2); "
                "order_id: points at a quarantined row of orders (data/orders.csv row 3)")]
    assert [s["shop_id"] for s in json.loads(result.stdout)["shops"]] == ["s1"]


def test_a_quarantine_folder_is_stamped_and_a_run_replaces_only_its_own_files(tmp_path):
    q = tmp_path / "q"
    make(tmp_path, shops="shop_id,main_category\ns1,食品\ns2,\n")
    score(tmp_path, on_bad_rows="quarantine", quarantine=q)
    stamp = json.loads((q / "lhrule-quarantine.json").read_text(encoding="utf-8"))
    assert stamp["files"] == {"shops.csv": 1, "orders.csv": 1, "reviews.csv": 1}
    assert stamp["rulebook_hash"] == lhrule.load(tmp_path / "safe.rule").hash
    assert stamp["dataset"] == str(tmp_path / "data") and stamp["written_at"].endswith("+00:00")
    (q / "notes.txt").write_text("mine", encoding="utf-8")
    # The shops fixed, o2 bad: the earlier run's shops.csv and reviews.csv must not linger.
    make(tmp_path, ORDERS.replace(",3,2,,late", ",3.1234567,2,,late"), reviews=REVIEWS.replace("rv2,s1,o2", "rv2,s1,o1"))
    run = score(tmp_path, on_bad_rows="quarantine", quarantine=q)
    assert run.stamp["quarantined"] == {"orders": 1}
    assert sorted(p.name for p in q.iterdir()) == ["lhrule-quarantine.json", "notes.txt", "orders.csv"]
    assert json.loads((q / "lhrule-quarantine.json").read_text(encoding="utf-8"))["files"] == {"orders.csv": 1}
    # A clean run clears the earlier files, and leaves the user's.
    make(tmp_path, reviews=REVIEWS.replace("rv2,s1,o2", "rv2,s1,o1"))
    score(tmp_path, on_bad_rows="quarantine", quarantine=q)
    assert sorted(p.name for p in q.iterdir()) == ["lhrule-quarantine.json", "notes.txt"]
    assert (q / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_quarantine_file_no_stamp_names_is_not_written_over(tmp_path):
    q = tmp_path / "q"
    q.mkdir()
    (q / "orders.csv").write_text("the user's own\n", encoding="utf-8")
    make(tmp_path, ORDERS.replace("o2,s1,2024-06-11 10:00:00,,presale", "o2,s1,2024-06-11 10:00:00,,refund"))
    with pytest.raises(DatasetError, match=r"q/orders.csv is in the quarantine folder, but no stamp of lhrule's"):
        score(tmp_path, on_bad_rows="quarantine", quarantine=q)
    assert (q / "orders.csv").read_text(encoding="utf-8") == "the user's own\n"


# ------------------------------------------------ 10. numbers are not rounded at load

NUMBERS = {
    # (column, value) -> the problem, or None where the value is read exactly
    ("amount", "1.1234567"): "more than 6 decimals",
    ("amount", "2.5e-7"): "more than 6 decimals",
    ("amount", "1.1234560"): None,
    ("amount", "1e3"): None,
    ("amount", "1e20"): "larger than 10^18",
    ("items", "4.5"): "not a whole number",
    ("items", "1e3"): "not a whole number",
    ("items", "20000000000000000000"): "outside the range of an int",
    ("items", "4.0"): None,
    ("items", "-42"): None,
    ("wait", "4.5"): "not a whole number of microseconds",
    ("wait", "4"): None,
}


@pytest.mark.parametrize("column, value", NUMBERS, ids=[f"{c}={v}" for c, v in NUMBERS])
def test_a_number_is_read_exactly_or_is_a_bad_row(column, value, tmp_path):
    # 1.1234567 was read as 1.123457; an int column took 4.5 and 2e19 (an average of 2e19).
    values = dict(zip(HEADER.split(","), ORDERS.splitlines()[1].split(",")), **{column: value})
    make(tmp_path, ORDERS + ",".join(values[c] if c != "order_id" else "o4" for c in HEADER.split(",")) + "\n")
    problem = NUMBERS[(column, value)]
    if problem is None:
        run = score(tmp_path)
        got = run.con.execute(f"SELECT CAST({column} AS VARCHAR) FROM t_orders WHERE order_id = 'o4'").fetchone()[0]
        from decimal import Decimal

        assert Decimal(got) == Decimal(value)
        return
    with pytest.raises(DatasetError) as stop:
        score(tmp_path)
    assert f"orders.{column}: 1 row {problem}" in str(stop.value) and f"orders.csv row 4 ({value!r})" in str(stop.value)


def test_a_parquet_double_with_more_decimals_than_a_decimal_holds_is_a_bad_row(tmp_path):
    import datetime as dt

    data = make(tmp_path)
    (data / "orders.csv").unlink()
    pq.write_table(pa.table({"order_id": ["o1", "o2", "o3"], "shop_id": ["s1", "s1", "s2"],
                             "paid_at": [dt.datetime(2024, 6, 10, 10)] * 3, "kind": ["normal"] * 3,
                             "amount": [0.1, 1e-7, 2.5], "items": [1.0, 2.0, 2e19]}), data / "orders.parquet")
    with pytest.raises(DatasetError) as stop:
        score(tmp_path)
    assert "orders.amount: 1 row more than 6 decimals" in str(stop.value) and "orders.parquet row 2 ('1e-07')" \
        in str(stop.value)
    assert "orders.items: 1 row outside the range of an int" in str(stop.value)


def test_an_overflow_names_the_indicator_and_what_to_do(tmp_path, monkeypatch):
    # It was "the dataset data could not be read: Out of Range Error: Overflow in multiplication …".
    make(tmp_path, ORDERS.replace("10.50", "900000000000000000"))
    (tmp_path / "safe.rule").write_text(RULEBOOK + """
indicator cubed "立方" {
  over orders
  window last 30 days on paid_at
  total amount * 1000000000000000
  cite "s" "q"
}
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", "safe.rule", "--data", "data", "--as-of", "2024-06-30"])
    assert result.exit_code == 1, result.output
    said = result.output.strip()
    assert said.startswith("lhrule: indicator cubed (over orders): a number overflowed (Out of Range Error: Overflow "
                           "in multiplication of DECIMAL(38)")
    assert said.endswith("lhrule's numbers hold 32 digits before the point and 6 after: look in those tables for "
                         "values far too large for their columns, or compute the indicator in smaller units")


def test_out_of_memory_is_said_as_such_before_the_file_it_was_reading():
    # DuckDB's error on running out of memory while reading a CSV names the file and line; it
    # was said as that line being unreadable, the dataset blamed.
    from lhrule.engine.data.dataset import describe_read_error

    message = ("Invalid Input Error: CSV Error on Line: 8123\n  file = data/orders.csv\nOriginal Line: o1,s1\n\n"
               "Out of Memory Error: could not allocate block of size 256.0 KiB (3.8 MiB/3.8 MiB used)")
    said = describe_read_error(message, Path("data"))
    assert said.startswith("out of memory: could not allocate block of size 256.0 KiB (3.8 MiB/3.8 MiB used). Let "
                           "DuckDB use more with LHRULE_MEMORY_LIMIT")


# ------------------------------------------------ the property: nothing read is lost or misplaced

def _generated() -> Path:
    """A small generated dataset (3 shops, 3 days, CSV), made once per test session."""
    folder = Path(tempfile.gettempdir()) / "lhrule-test-safety-data"
    if not (folder / "shops.csv").exists():
        subprocess.run([sys.executable, "-m", "lhrule", "gen", "--out", str(folder), "--shops", "3", "--days", "3",
                        "--start", "2024-06-27", "--format", "csv"], check=True, capture_output=True, cwd=ROOT)
    return folder


TRIED = {"datasets": 0, "rows quarantined": 0, "refused": 0}
NAMES = ["__file", "__row", "source_row", "source_file", "reason", "b0", "v0", "k_order_id", "r", "q", "src",
         "lhrule file", "lhrule row", "lhrule:reason", "note"]
BAD_VALUES = ["", "not a value", "NaN", "2024-02-30 10:00:00", "0001-01-01 00:00:00", "1.1234567", "4.5",
              "99999999999999999999", "zz-nobody", "-1", "s1"]


def _corrupt(folder: Path, draw) -> None:
    from hypothesis import strategies as st

    tables = sorted(p.stem for p in folder.glob("*.csv") if len(p.read_text(encoding="utf-8").splitlines()) > 1)
    for _ in range(draw(st.integers(1, 4))):
        path = folder / f"{draw(st.sampled_from(tables))}.csv"
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        what = draw(st.sampled_from(["value", "value", "duplicate", "column"]))
        i = draw(st.integers(1, len(rows) - 1))
        if what == "value":
            rows[i][draw(st.integers(0, len(rows[0]) - 1))] = draw(st.sampled_from(BAD_VALUES))
        elif what == "duplicate":
            rows.insert(draw(st.integers(1, len(rows))), list(rows[i]))
        else:
            name = draw(st.sampled_from(NAMES) | st.text("abc_ 0", min_size=1, max_size=6))
            if name in rows[0]:
                continue
            value = draw(st.sampled_from(["1", "", "x"]))
            rows = [rows[0] + [name]] + [r + [value] for r in rows[1:]]
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)


def test_random_corruptions_lose_no_row_and_place_every_quarantined_row(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    source = _generated()
    rulebook = ROOT / "tests" / "rulebooks" / "engine.rule"
    schema = {t.name: [c.name for c in t.columns] for t in lhrule.load(rulebook).ir.tables}

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.data())
    def prop(data):
        base = tmp_path_factory.mktemp("corrupt")
        folder = base / "data"
        shutil.copytree(source, folder)
        _corrupt(folder, data.draw)
        try:
            run = lhrule.score(rulebook, folder, as_of="2024-06-30", on_bad_rows="quarantine", quarantine=base / "q")
        except DatasetError as exc:  # only a shop table left empty may refuse the whole run
            assert "has no table" not in str(exc) and "could not be read" not in str(exc), str(exc)
            TRIED["refused"] += 1
            return
        TRIED["datasets"] += 1
        aside = run.stamp.get("quarantined", {})
        for table, read in run.validation.rows.items():
            assert read == kept(run, table) + aside.get(table, 0), table
        for table, n in aside.items():
            rows = quarantined(base / "q", table)
            assert len(rows) == n
            TRIED["rows quarantined"] += n
            with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as f:
                lines = list(csv.DictReader(f))
            for r in rows:
                assert r["lhrule:source_file"] == str(folder / f"{table}.csv")
                line = lines[int(r["lhrule:source_row"]) - 1]
                assert {c: r[c] for c in schema[table] if c in r} == {c: line[c] for c in schema[table] if c in line}
                assert r["lhrule:reason"]

    prop()
    assert TRIED["datasets"] >= 15
    print(f"\nproperty: {TRIED['datasets']} corrupted datasets scored, {TRIED['rows quarantined']} rows quarantined, "
          f"each placed; {TRIED['refused']} refused")


@pytest.mark.spark
def test_spark_reads_and_refuses_a_tables_files_and_checks_numbers_as_duckdb_does(tmp_path):
    pytest.importorskip("pyspark", reason="the spark extra: pip install '.[spark]'")
    folder = _split(make(tmp_path))
    (folder / "part-1.CSV").write_text(O3, encoding="utf-8")
    (folder / "_SUCCESS").write_text("", encoding="utf-8")
    spark = dict(engine="spark", spark_master="local[2]")
    by_spark = lhrule.score(tmp_path / "safe.rule", (tmp_path / "data").as_uri(), as_of="2024-06-30", **spark)
    assert by_spark.to_json()["shops"] == score(tmp_path).to_json()["shops"]
    # an undeclared column named as lhrule's own, and a value with 7 decimals
    lines = O3.splitlines()
    (folder / "part-1.CSV").write_text(f"{lines[0]},__file,lhrule file\n"
                                       f"{lines[1].replace(',1,,,', ',1.1234567,,,')},x,y\n", encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        lhrule.score(tmp_path / "safe.rule", (tmp_path / "data").as_uri(), as_of="2024-06-30", **spark)
    assert "orders.amount: 1 row more than 6 decimals (a decimal holds 6: round it in the data, or scale the unit): " \
           "part-1.CSV ('1.1234567')" in str(caught.value)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    with pytest.raises(DatasetError, match=r"holds 1 file lhrule cannot read .*\n  .*/orders/.DS_Store: a hidden"):
        lhrule.score(tmp_path / "safe.rule", (tmp_path / "data").as_uri(), as_of="2024-06-30", **spark)
