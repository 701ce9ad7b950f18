"""Hostile data, as a user meets it: each class of bad input in `lhrule score`, with the exact
report and exit code; and what lhrule accepts, with the exact values it computes. The
catalogue in docs/robustness.md names these tests.

The rulebook is test_dataset's: shops, and orders with a rate of pickups within 24 hours of
payment over the last 30 days, scored as of 2024-06-30 (window [05-31 00:00, 06-30 00:00)).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lhrule.cli.main import app
from test_dataset import ORDERS, RULEBOOK, SHOPS

HEADER = ORDERS.splitlines()[0]
GOOD_ROW = "o1,s1,2024-06-10 10:00:00,2024-06-10 12:00:00,normal,10.50"


def _folder(tmp_path: Path, orders: str | None = ORDERS, shops: str = SHOPS) -> Path:
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    (tmp_path / "mini.rule").write_text(RULEBOOK, encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    (data / "shops.csv").write_text(shops, encoding="utf-8")
    if orders is not None:
        (data / "orders.csv").write_text(orders, encoding="utf-8")
    return data


def _parquet(data: Path, **columns) -> None:
    """orders.parquet instead of orders.csv: two rows, with `columns` replacing the defaults."""
    (data / "orders.csv").unlink()
    table = {"order_id": ["o1", "o2"], "shop_id": ["s1", "s1"],
             "paid_at": [dt.datetime(2024, 6, 10, 10), dt.datetime(2024, 6, 10, 11)],
             "picked_up_at": pa.array([None, None], pa.timestamp("us")), "kind": ["normal", "normal"],
             "amount": [1.0, 2.0], **columns}
    pq.write_table(pa.table(table), data / "orders.parquet")


def _score(tmp_path: Path, *extra: str):
    return CliRunner().invoke(app, ["score", "mini.rule", "--data", "data", "--as-of", "2024-06-30",
                                    "--format", "json", *extra])


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# name: (orders.csv text, or a function preparing the data folder; the report's lines)
REFUSED = {
    "missing column": (
        "order_id,shop_id,paid_at,kind\no1,s1,2024-06-10 10:00:00,normal\n",
        ["lhrule: data/orders.csv: table orders has no column amount"]),
    "empty file": (
        "",
        ["lhrule: data/orders.csv: table orders has no column order_id, shop_id, paid_at, kind, amount"]),
    "row with too few fields": (
        f"{HEADER}\n{GOOD_ROW}\no2,s1,2024-06-10 10:00:00,,normal\n",
        ["lhrule: data/orders.csv line 3 has 5 fields, the header 6: 'o2,s1,2024-06-10 10:00:00,,normal'; "
         "fix the row (a field holding a comma is quoted: \"a,b\")"]),
    "a quote not closed": (  # it said "line 3 cannot be read: Invalid Input Error: CSV Error on Line: 3"
        f"{HEADER}\n{GOOD_ROW}\no2,s1,\"2024-06-10 10:00:00,,normal,1\n",
        ["lhrule: data/orders.csv line 3 has a quote not closed where its field ends: "
         "'o2,s1,\"2024-06-10 10:00:00,,normal,1'; a quoted field is quoted whole (\"a,b\"), and a quote inside it "
         "is written as two (\"\")"]),
    "lines ending in both \\r\\n and \\n": (  # it said "The CSV Parser state machine reached an invalid state."
        f"{HEADER}\n{GOOD_ROW}\r\no2,s1,2024-06-10 10:00:00,,normal,1\n",
        ["lhrule: data/orders.csv cannot be read as CSV: its lines end in both \\r\\n and \\n; save it with one "
         "kind"]),
    "row with too many fields": (
        f"{HEADER}\n{GOOD_ROW},x\n",
        ["lhrule: data/orders.csv line 2 has 7 fields, the header 6: "
         "'o1,s1,2024-06-10 10:00:00,2024-06-10 12:00:00,normal,10.50,x'; "
         "fix the row (a field holding a comma is quoted: \"a,b\")"]),
    "unparseable timestamp": (
        f"{HEADER}\no1,s1,10/06/2024 10:00,,normal,1\n",
        ["  orders.paid_at: 1 row not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00]): orders.csv row 1 "
         "('10/06/2024 10:00')"]),
    "impossible dates and times": (
        f"{HEADER}\no1,s1,2024-02-30 10:00:00,,normal,1\no2,s1,2024-06-10 24:00:01,,normal,1\n",
        ["  orders.paid_at: 2 rows not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00]): orders.csv row 1 "
         "('2024-02-30 10:00:00'), orders.csv row 2 ('2024-06-10 24:00:01')"]),
    "implausible years": (
        f"{HEADER}\no1,s1,0001-01-01 00:00:00,,normal,1\no2,s1,2999-01-01 00:00:00,,normal,1\n"
        f"o3,s1,99999-01-01 00:00:00,,normal,1\n{GOOD_ROW.replace('o1', 'o4')}\n",
        ["  orders.paid_at: 3 rows outside the years 1970 to 2199: orders.csv row 1 ('0001-01-01 00:00:00'), "
         "orders.csv row 2 ('2999-01-01 00:00:00'), orders.csv row 3 ('99999-01-01 00:00:00')"]),
    "NULL where required": (
        f"{HEADER}\no1,,2024-06-10 10:00:00,,normal,1\n",
        ["  orders.shop_id: 1 row missing a required value: orders.csv row 1"]),
    "duplicate ids": (
        f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n",
        ["  orders.order_id: 2 rows a duplicate id: orders.csv row 1 ('o1'), orders.csv row 2 ('o1')"]),
    "NaN and infinity in a CSV decimal": (
        f"{HEADER}\no1,s1,2024-06-10 10:00:00,,normal,NaN\no2,s1,2024-06-10 10:00:00,,normal,-Infinity\n",
        ["  orders.amount: 2 rows not a finite number: orders.csv row 1 ('NaN'), orders.csv row 2 ('-Infinity')"]),
    "NaN and infinity in a Parquet double": (
        lambda data: _parquet(data, amount=[float("nan"), float("inf")]),
        ["  orders.amount: 2 rows not a finite number: orders.parquet row 1 ('nan'), orders.parquet row 2 ('inf')"]),
    "wrong type in Parquet (epoch seconds for a timestamp)": (
        lambda data: _parquet(data, paid_at=[1718000000, 1718000001]),
        ["  orders.paid_at: 2 rows not a timestamp: orders.parquet row 1 ('1718000000'), "
         "orders.parquet row 2 ('1718000001')"]),
    "enum value outside its set": (
        f"{HEADER}\no1,s1,2024-06-10 10:00:00,,refund,1\n",
        ["  orders.kind: 1 row not one of normal, presale: orders.csv row 1 ('refund')"]),
    "orphan": (
        f"{HEADER}\no1,s9,2024-06-10 10:00:00,,normal,1\n",
        ["  orders.shop_id: 1 row pointing at no row of shops: orders.csv row 1 ('s9')"]),
    "truncated Parquet file": (
        lambda data: (_parquet(data), _truncate(data / "orders.parquet")),
        ["lhrule: the dataset data could not be read: data/orders.parquet is not a whole Parquet file "
         "(it may be truncated or still being written): No magic bytes found at end of file "
         "'data/orders.parquet'"]),
    "CSV in neither UTF-8 nor GBK (UTF-16)": (
        lambda data: (data / "orders.csv").write_bytes(ORDERS.encode("utf-16")),
        ["lhrule: data/orders.csv is neither UTF-8 nor GBK text: save it as UTF-8"]),
    "a table in two places (an old Parquet file beside a new CSV)": (
        lambda data: (data / "orders.parquet").write_bytes(b"not read"),  # the CSV went unread without a word
        ["lhrule: the dataset data holds table orders in 2 places (orders.parquet, orders.csv): keep one and move "
         "the others out"]),
    "a table as a file and as a folder": (
        lambda data: ((data / "orders").mkdir(), (data / "orders" / "part-0.csv").write_text(ORDERS)),
        ["lhrule: the dataset data holds table orders in 2 places (orders.csv, orders/): keep one and move the "
         "others out"]),
    "CSV separated by semicolons": (
        ORDERS.replace(",", ";"),
        ["lhrule: data/orders.csv: table orders has no column order_id, shop_id, paid_at, kind, amount (its header is "
         "one column, 'order_id;shop_id;paid_at;picked_up_at;kind;amount': save the file with commas between the "
         "fields)"]),
    "a column missing from a GBK CSV": (  # the message named the UTF-8 copy in a temporary folder
        lambda data: (data / "orders.csv").write_bytes("order_id,shop_id,paid_at,kind\no1,s1,2024-06-10 10:00:00,"
                                                       "普通\n".encode("gbk")),
        ["lhrule: data/orders.csv: table orders has no column amount"]),
    "missing table": (
        None,
        ["lhrule: the dataset data has no table orders: expected NAME.parquet, NAME.csv, NAME.jsonl or a "
         "folder NAME/ for each"]),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_bad_data_is_refused_with_the_place_and_exit_1(case, tmp_path, monkeypatch):
    orders, report = REFUSED[case]
    data = _folder(tmp_path, orders if isinstance(orders, str) else ORDERS if orders else None)
    if callable(orders):
        orders(data)
    monkeypatch.chdir(tmp_path)
    result = _score(tmp_path)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    for line in report:
        assert line in lines, result.output
    assert "Traceback" not in result.output


ROW_LEVEL = [c for c, (_, report) in REFUSED.items() if report[0].startswith("  ")]


@pytest.mark.parametrize("case", ROW_LEVEL)
def test_quarantine_loses_no_row(case, tmp_path, monkeypatch):
    """Each row-level problem, quarantined: rows read = rows scored + rows set aside."""
    import lhrule

    orders, _ = REFUSED[case]
    data = _folder(tmp_path, orders if isinstance(orders, str) else ORDERS)
    if callable(orders):
        orders(data)
    monkeypatch.chdir(tmp_path)
    run = lhrule.score("mini.rule", "data", as_of="2024-06-30", on_bad_rows="quarantine", quarantine="q")
    read = run.validation.rows["orders"]
    aside = run.stamp["quarantined"].get("orders", 0)
    kept = run.con.execute("SELECT COUNT(*) FROM t_orders").fetchone()[0]
    assert aside > 0 and read == kept + aside
    written = (tmp_path / "q" / "orders.csv").read_text(encoding="utf-8").splitlines()
    assert len(written) == aside + 1  # the header, then one line per row set aside



def test_the_quarantine_names_a_gbk_file_as_given(tmp_path, monkeypatch):
    # A GBK CSV is read from a UTF-8 copy in a temporary folder; the quarantine file named
    # that copy (/tmp/lhrule-utf8-…/0-orders.csv), gone when the command ended.
    import csv
    import lhrule

    data = _folder(tmp_path, f"{HEADER}\n{GOOD_ROW}\no2,s1,2024-06-10 11:00:00,,普通,1\n")
    (data / "orders.csv").write_bytes((data / "orders.csv").read_text(encoding="utf-8").encode("gbk"))
    monkeypatch.chdir(tmp_path)
    lhrule.score("mini.rule", "data", as_of="2024-06-30", on_bad_rows="quarantine", quarantine="q")
    with (tmp_path / "q" / "orders.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["order_id"], r["lhrule:source_file"], r["lhrule:source_row"], r["lhrule:reason"]) for r in rows] == \
        [("o2", "data/orders.csv", "2", "kind: not one of normal, presale")]

def _pickup(result) -> dict:
    assert result.exit_code == 0, result.output
    return {s["shop_id"]: s["indicators"]["pickup"] for s in json.loads(result.stdout)["shops"]}


FIX_THEM = ("fix them, or leave them out with --on-bad-rows quarantine (the bad rows are written aside with "
            "their reasons)")
EXPLAIN = ["explain", "s1", "--rulebook", "mini.rule", "--data", "data", "--as-of", "2024-06-30"]
DIFF = ["diff", "mini.rule", "mini.rule", "--data", "data", "--as-of", "2024-06-30"]


@pytest.mark.parametrize("command", [EXPLAIN, DIFF], ids=["explain", "diff"])
@pytest.mark.parametrize("case", ROW_LEVEL)
def test_explain_and_diff_refuse_the_rows_a_score_refuses(case, command, tmp_path, monkeypatch):
    # explain once read the rows as they were, without validating the dataset first: an orphan,
    # a duplicate id or an enum value outside its set went into its counts, without a word.
    orders, report = REFUSED[case]
    data = _folder(tmp_path, orders if isinstance(orders, str) else ORDERS)
    if callable(orders):
        orders(data)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == ["lhrule: the dataset data has bad rows:", *report, FIX_THEM]


def test_explain_with_quarantine_reads_the_rows_the_score_read(tmp_path, monkeypatch):
    # o2's kind is outside its set; quarantined, it is left out of both, so s1's pickup rate is
    # 1 of 2 (o1 picked up in 2 hours, o3 not picked up), not 1 of 3.
    _folder(tmp_path, f"{HEADER}\n{GOOD_ROW}\no2,s1,2024-06-11 10:00:00,,refund,1\n"
                      f"o3,s1,2024-06-12 10:00:00,,normal,1\n")
    monkeypatch.chdir(tmp_path)
    scored = _score(tmp_path, "--on-bad-rows", "quarantine", "--quarantine", "q1")
    assert scored.exit_code == 0, scored.output
    s1 = next(shop for shop in json.loads(scored.stdout)["shops"] if shop["shop_id"] == "s1")
    assert s1["indicators"]["pickup"]["value"] == "0.5"
    result = CliRunner().invoke(app, [*EXPLAIN, "--format", "json", "--on-bad-rows", "quarantine",
                                      "--quarantine", "q2"])
    assert result.exit_code == 0, result.output
    assert "quarantined 1 of 3 rows of orders to q2/orders.csv" in result.stderr
    tree = json.loads(result.stdout)
    pickup = _find(tree, "indicator")
    assert (pickup["value"], pickup["numerator"], pickup["denominator"]) == ("0.5", 1, 2)
    assert [(n["name"], [e["name"] for e in n["children"]]) for n in pickup["children"]] == [
        ("counted", ["o1"]), ("not_counted", ["o3"])]
    assert (tmp_path / "q2" / "orders.csv").read_text(encoding="utf-8").splitlines()[1].startswith("o2,s1,")


@pytest.mark.parametrize("command", [["score", "mini.rule", "--data", "data", "--as-of", "2024-06-30"], EXPLAIN],
                         ids=["score", "explain"])
def test_a_quarantine_folder_that_cannot_be_made_is_a_message(command, tmp_path, monkeypatch):
    _folder(tmp_path, f"{HEADER}\n{GOOD_ROW}\no2,s1,2024-06-11 10:00:00,,refund,1\n")
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*command, "--on-bad-rows", "quarantine", "--quarantine", "taken/q"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == ["lhrule: the bad rows cannot be written aside to taken/q: Not a directory; "
                                          "name another folder with --quarantine"]


def _find(node: dict, kind: str) -> dict:
    if node["kind"] == kind:
        return node
    return next(found for child in node.get("children", []) if (found := _find(child, kind)))


def test_explain_names_the_rows_whose_values_do_not_convert(tmp_path, monkeypatch):
    _folder(tmp_path, f"{HEADER}\n{GOOD_ROW}\no2,s1,yesterday,,normal,1\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, EXPLAIN)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "lhrule: the dataset data has bad rows:",
        "  orders.paid_at: 1 row not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00]): orders.csv row 2 ('yesterday')",
        FIX_THEM]


def test_a_negative_duration_is_a_bad_row(tmp_path, monkeypatch):
    # A column of type duration holds microseconds; a time taken cannot be below zero. (Two
    # timestamps in the wrong order, picked up before paid, are each valid: see docs/robustness.md.)
    _folder(tmp_path, f"{HEADER},handling\n{GOOD_ROW},180000000\n{GOOD_ROW.replace('o1', 'o2')},-1\n")
    (tmp_path / "mini.rule").write_text(RULEBOOK.replace("  amount: decimal\n", "  amount: decimal\n"
                                                         "  handling: duration?\n"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = _score(tmp_path)
    assert result.exit_code == 1
    assert "  orders.handling: 1 row a negative duration: orders.csv row 2 ('-1')" in result.output.splitlines()


def test_time_zone_offsets_are_converted_to_the_rulebook_zone(tmp_path, monkeypatch):
    # Asia/Shanghai is UTC+8. Each order is paid at 2024-06-10 10:00 local time, written three
    # ways; picked up exactly 24 h later (in), 24 h + 1 s later (out), exactly 24 h later (in).
    _folder(tmp_path, f"{HEADER}\n"
                      "o1,s1,2024-06-10T10:00:00+08:00,2024-06-11 10:00:00,normal,1\n"
                      "o2,s1,2024-06-10T02:00:00Z,2024-06-11 10:00:01,normal,1\n"
                      "o3,s1,2024-06-09 21:00:00-05:00,2024-06-11T02:00:00+00:00,normal,1\n")
    monkeypatch.chdir(tmp_path)
    s1 = _pickup(_score(tmp_path))["s1"]
    assert (s1["numerator"], s1["denominator"], s1["value"]) == (2, 3, "0.6667")


def test_events_after_the_as_of_date_and_at_the_window_ends(tmp_path, monkeypatch):
    # The window, the last 30 days, is [05-31 00:00, 06-30 00:00): T itself and later are out.
    _folder(tmp_path, f"{HEADER}\n"
                      "o1,s1,2024-06-30 00:00:00,2024-06-30 01:00:00,normal,1\n"
                      "o2,s1,2024-06-29 23:59:59,,normal,1\n"
                      "o3,s1,2024-07-15 10:00:00,2024-07-15 11:00:00,normal,1\n"
                      "o4,s1,2024-05-31 00:00:00,2024-05-31 01:00:00,normal,1\n"
                      "o5,s1,2024-05-30 23:59:59,2024-05-31 01:00:00,normal,1\n")
    monkeypatch.chdir(tmp_path)
    s1 = _pickup(_score(tmp_path))["s1"]
    assert (s1["numerator"], s1["denominator"]) == (1, 2)  # o4 in time, o2 never picked up


def test_empty_tables_score_with_no_events(tmp_path, monkeypatch):
    _folder(tmp_path, f"{HEADER}\n")
    monkeypatch.chdir(tmp_path)
    shops = _pickup(_score(tmp_path))
    assert {k: (v["assessed"], v["denominator"], v.get("reason")) for k, v in shops.items()} == {
        "s1": (False, 0, "no events in the window"), "s2": (False, 0, "no events in the window")}


def test_an_empty_entity_table_scores_no_shop(tmp_path, monkeypatch):
    _folder(tmp_path, f"{HEADER}\n", shops="shop_id,main_category\n")
    monkeypatch.chdir(tmp_path)
    result = _score(tmp_path)
    assert result.exit_code == 0 and json.loads(result.stdout)["shops"] == []
    assert "warning: no shops in" in result.stderr and "the results have no rows" in result.stderr


def test_columns_the_rulebook_does_not_declare_are_ignored(tmp_path, monkeypatch):
    _folder(tmp_path, f"{HEADER},note\n{GOOD_ROW},\"a, b\"\n")
    monkeypatch.chdir(tmp_path)
    s1 = _pickup(_score(tmp_path))["s1"]
    assert (s1["numerator"], s1["denominator"]) == (1, 1)


# ------------------------------------------------------------------------------- limits

LIGHTHOUSE = ["score", "rulebooks/taobao/lighthouse.rule", "--data", "examples/data", "--as-of", "2024-06-30",
              "--format", "csv"]


def test_duckdb_out_of_memory_is_a_message_with_what_to_do(at_root, monkeypatch, tmp_path):
    monkeypatch.setenv("LHRULE_MEMORY_LIMIT", "5MB")
    monkeypatch.setenv("LHRULE_TEMP_DIR", str(tmp_path / "spill"))
    result = CliRunner().invoke(app, LIGHTHOUSE)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("lhrule: out of memory: ")
    assert (f"Let DuckDB use more with LHRULE_MEMORY_LIMIT (now 5MB), score fewer days at a time, or free disk in "
            f"{tmp_path / 'spill'}, where it spills (LHRULE_TEMP_DIR moves it)") in result.output


def test_a_small_memory_limit_spills_to_the_temp_folder_and_scores_the_same(at_root, monkeypatch, tmp_path):
    plain = CliRunner().invoke(app, LIGHTHOUSE)
    monkeypatch.setenv("LHRULE_MEMORY_LIMIT", "64MB")
    monkeypatch.setenv("LHRULE_TEMP_DIR", str(tmp_path / "spill"))
    limited = CliRunner().invoke(app, LIGHTHOUSE)
    assert plain.exit_code == limited.exit_code == 0 and limited.output == plain.output


def test_duckdb_draws_no_progress_bar_of_its_own(at_root):
    # On a terminal DuckDB draws a progress bar for every query past 2 s (the validation of
    # 10M rows), over the CLI's spinner; off a terminal (as under pytest) it draws none anyway,
    # so the setting is read in a process whose output is a terminal.
    import os
    import pty
    import subprocess
    import sys

    code = ("import duckdb, lhrule; from lhrule.engine.data.dataset import connect; "
            "q = \"SELECT current_setting('enable_progress_bar')\"; "
            "print('plain', duckdb.connect().execute(q).fetchall()); "
            "print('lhrule', connect(lhrule.load('rulebooks/taobao/lighthouse.rule').ir).execute(q).fetchall())")
    leader, follower = pty.openpty()
    proc = subprocess.run([sys.executable, "-c", code], stdout=follower, stderr=follower, timeout=120)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal is closed once all is read
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    text = output.decode()
    assert proc.returncode == 0, text
    assert "plain [(True,)]" in text  # DuckDB's own default on a terminal
    assert "lhrule [(False,)]" in text


def test_a_bad_memory_limit_is_refused(at_root, monkeypatch):
    monkeypatch.setenv("LHRULE_MEMORY_LIMIT", "lots")
    result = CliRunner().invoke(app, LIGHTHOUSE)
    assert result.exit_code == 1
    assert "lhrule: LHRULE_MEMORY_LIMIT must be a size such as 8GB or 512MB, not 'lots'" in result.output


def test_results_that_would_not_fit_in_memory_are_refused_before_the_work(at_root, monkeypatch):
    import lhrule.api

    # 130 shops × 30 days × (11 indicators in force + 1) × 4,000 bytes = 187 MB, against half of the
    # 100 MiB free; a day takes 6.24 MB, so 8 days fit in 50 MiB
    monkeypatch.setattr(lhrule.api, "available_memory", lambda: 100 * 2**20)
    result = CliRunner().invoke(app, ["score", "rulebooks/taobao/lighthouse.rule", "--data", "examples/data",
                                      "--from", "2024-06-01", "--to", "2024-06-30", "--format", "csv"])
    assert result.exit_code == 1, result.output
    assert ("lhrule: 130 shops × 30 days would need about 179 MiB for their results, more than half of the "
            "100 MiB free (the rest is for counting): score at most 8 days at a time (--from/--to), or fewer "
            "shops (--shop)") in result.output


def test_a_range_as_json_is_scored_as_many_days_at_a_time_as_fit(at_root, monkeypatch):
    import lhrule.api

    # a day of lighthouse on the example data takes 6.24 MB by the estimate above
    args = ["score", "rulebooks/taobao/lighthouse.rule", "--data", "examples/data", "--from", "2024-06-01",
            "--to", "2024-06-30", "--format", "json"]
    plain = CliRunner().invoke(app, args)
    monkeypatch.setattr(lhrule.api, "available_memory", lambda: 20 * 2**20)  # a day fits in 10 MiB, not two
    stream = lhrule.api.score_stream("rulebooks/taobao/lighthouse.rule", "examples/data", "2024-06-01",
                                     "2024-06-30")
    assert stream.days_at_a_time == 1
    tight = CliRunner().invoke(app, args)
    assert plain.exit_code == tight.exit_code == 0 and tight.output == plain.output
    monkeypatch.setattr(lhrule.api, "available_memory", lambda: 10 * 2**20)  # not even a day
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1
    assert ("lhrule: 130 shops would need about 6 MiB for the results of one day, more than half of the 10 MiB "
            "free (the rest is for counting): score fewer shops (--shop)") in refused.output


def test_diff_of_rulebooks_that_declare_the_tables_differently_writes_each_sides_bad_rows(tmp_path, monkeypatch):
    # new.rule allows fewer kinds than old.rule, so it finds more rows bad. Both sides once wrote to
    # one folder: the new side's file replaced the old side's, and only the old side's count was said.
    _folder(tmp_path, f"{HEADER}\n{GOOD_ROW}\no2,s1,2024-06-11 10:00:00,,presale,1\n"
                      f"o3,s1,2024-06-12 10:00:00,,refund,1\n")
    (tmp_path / "old.rule").write_text(RULEBOOK, encoding="utf-8")
    (tmp_path / "new.rule").write_text(RULEBOOK.replace("kind: enum {normal, presale}", "kind: enum {normal}"),
                                       encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    command = ["diff", "old.rule", "new.rule", "--data", "data", "--as-of", "2024-06-30", "--format", "json"]
    result = CliRunner().invoke(app, [*command, "--on-bad-rows", "quarantine", "--quarantine", "q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["quarantined 1 of 3 rows of orders to q/old/orders.csv",
                                          "quarantined 2 of 3 rows of orders to q/new/orders.csv"]
    aside = {side: [line.split(",")[0] for line in (tmp_path / "q" / side / "orders.csv").read_text(
        encoding="utf-8").splitlines()[1:]] for side in ("old", "new")}
    assert aside == {"old": ["o3"], "new": ["o2", "o3"]}
    assert not (tmp_path / "q" / "orders.csv").exists()
    # Stopped on the new side's bad rows alone, the report says whose declarations they break.
    (tmp_path / "data" / "orders.csv").write_text(f"{HEADER}\n{GOOD_ROW}\no2,s1,2024-06-11 10:00:00,,presale,1\n",
                                                  encoding="utf-8")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == ["lhrule: the dataset data has bad rows as new.rule declares its tables:",
                                          "  orders.kind: 1 row not one of normal: orders.csv row 2 ('presale')",
                                          FIX_THEM]


@pytest.mark.parametrize("days", [["--as-of", "2024-06-30"], ["--from", "2024-06-29", "--to", "2024-06-30"]],
                         ids=["day", "range"])
def test_a_shop_the_data_does_not_hold_is_refused(days, tmp_path, monkeypatch):
    # A mistyped --shop once scored nothing and exited 0: `"shops": []`.
    _folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    command = ["score", "mini.rule", "--data", "data", *days, "--format", "json"]
    result = CliRunner().invoke(app, [*command, "--shop", "s9", "--shop", "s1", "--shop", "S2", "--shop", "s9"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == ["lhrule: no shop 's9' or 'S2' in data"]
    scored = CliRunner().invoke(app, [*command, "--shop", "s2"])
    assert scored.exit_code == 0, scored.output
    assert [s["shop_id"] for s in json.loads(scored.stdout)["shops"]] == ["s2"] * (len(days) // 2)


def test_no_shops_is_said_plainly(tmp_path, monkeypatch):
    _folder(tmp_path, orders=HEADER + "\n", shops="shop_id,main_category\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", "mini.rule", "--data", "data", "--as-of", "2024-06-30"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("0 shop-days scored; rulebook ")  # was "scored; ; rulebook"
