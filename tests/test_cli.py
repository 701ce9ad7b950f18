"""The `lhrule` command as a user runs it: exit codes, output, and no tracebacks."""

from __future__ import annotations

import json
import os
from decimal import Decimal
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lhrule.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_check_clean_rulebooks_exits_0(at_root):
    result = run("check", "rulebooks")
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output


def test_check_reports_every_mistake_with_carets_and_exits_1(at_root):
    result = run("check", "tests/golden/bad/names.rule")
    assert result.exit_code == 1
    assert result.output.count("error[") == 9
    assert "tests/golden/bad/names.rule:18:8: error[E012]: unknown table `consultation`" in result.output
    assert "     |        ^^^^^^^^^^^^" in result.output
    assert "Traceback" not in result.output


def test_check_json(at_root):
    result = run("check", "--format", "json", "tests/golden/bad/syntax.rule")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["errors"] == 4
    first = data["diagnostics"][0]
    assert (first["code"], first["line"], first["column"]) == ("E001", 8, 15)


def test_usage_errors_exit_2(at_root):
    assert run("check", "no/such/file.rule").exit_code == 2
    assert run("check", "--format", "yaml", "rulebooks").exit_code == 2
    assert run("check", "--nope").exit_code == 2
    device = run("check", "/dev/null")  # it said "no such file or folder: /dev/null"
    assert device.exit_code == 2 and "/dev/null is neither a rulebook file nor a folder" in device.output


def test_fmt_check_and_rewrite(tmp_path):
    path = tmp_path / "x.rule"
    path.write_text("param a=1\nparam b = 2  # kept\n", encoding="utf-8")
    result = run("fmt", "--check", str(path))
    assert result.exit_code == 1 and "would reformat" in result.output
    assert path.read_text(encoding="utf-8") == "param a=1\nparam b = 2  # kept\n"
    assert run("fmt", str(path)).exit_code == 0
    assert path.read_text(encoding="utf-8") == "param a = 1\nparam b = 2  # kept\n"
    assert run("fmt", "--check", str(path)).exit_code == 0


def test_fmt_refuses_a_file_with_syntax_errors(tmp_path):
    path = tmp_path / "x.rule"
    path.write_text("param a = \n", encoding="utf-8")
    result = run("fmt", str(path))
    assert result.exit_code == 1
    assert "the file ends in the middle of a declaration" in result.output
    assert path.read_text(encoding="utf-8") == "param a = \n"


def test_non_utf8_rulebook_is_a_diagnostic_not_a_traceback(tmp_path):
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    path = tmp_path / "gbk.rule"
    path.write_bytes('param a = "旺旺"\n'.encode("gbk"))
    result = run("check", str(path))
    assert result.exit_code == 1
    assert "is not UTF-8 text" in result.output


def test_include_cannot_follow_a_symlink_out_of_the_root(tmp_path):
    root = tmp_path / "rules"
    root.mkdir()
    (root / "lhrule.toml").write_text("", encoding="utf-8")
    outside = tmp_path / "secret.rule"
    outside.write_text("param s = 1\n", encoding="utf-8")
    (root / "link.rule").symlink_to(outside)
    (root / "main.rule").write_text('include "link.rule"\n', encoding="utf-8")
    result = run("check", str(root / "main.rule"))
    assert result.exit_code == 1
    assert "follows a symlink out of the rulebook root" in result.output


def test_console_script_runs():
    exe = shutil.which("lhrule") or str(Path(sys.executable).parent / "lhrule")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "check" in out.stdout


def test_diagnostics_doc_is_generated_from_the_codes():
    from lhrule.docs import diagnostics_markdown

    assert (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8") == diagnostics_markdown()


def test_a_library_file_is_checked_and_tested_but_not_scored(at_root):
    tested = run("test", "rulebooks/common/events.rule")  # it said "0 passed, 0 failed"
    assert tested.exit_code == 0
    assert tested.output == "no `test` blocks in rulebooks/common/events.rule: nothing was run\n"
    result = run("score", "rulebooks/common/events.rule", "--data", "examples/data", "--as-of", "2024-06-30")
    assert result.exit_code == 2 and "declares no indicators" in result.output


def test_test_command_fails_on_a_broken_rulebook(at_root):
    result = run("test", "tests/golden/bad/names.rule")
    assert result.exit_code == 1 and "9 errors" in result.output


@pytest.mark.parametrize("args", [
    ["score", "rulebooks/tejia/response-3min.rule", "--data", "examples/data", "--as-of", "2024-06-30",
     "--format", "json", "--out", "{missing}/x.json"],
    ["explain", "s000001", "--rulebook", "rulebooks/tejia/response-3min.rule", "--data", "examples/data",
     "--as-of", "2024-06-30", "--html", "{missing}/x.html"],
    ["diff", "rulebooks/tejia/response-3min.rule", "rulebooks/tejia/response-3min.rule", "--data", "examples/data",
     "--as-of", "2024-06-30", "--html", "{missing}/x.html"],
], ids=["score --out", "explain --html", "diff --html"])
def test_an_output_in_a_missing_folder_is_refused_before_any_work(args, at_root, tmp_path):
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(app, [a.replace("{missing}", str(missing)) for a in args])
    assert result.exit_code == 2
    assert f"there is no folder {missing}; create it, or write elsewhere" in result.output


def test_the_table_of_a_large_run_shows_the_lowest_scores(at_root):
    # 130 shops: the table holds the 100 lowest scores; JSON holds all 130, and the table's
    # highest score is no higher than the lowest score it leaves out.
    args = ["score", "rulebooks/taobao/lighthouse.rule", "--data", "examples/data", "--as-of", "2024-06-30"]
    table = CliRunner().invoke(app, [*args, "--format", "table"], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "the 100 lowest scores of 130 shop-days" in table.output
    assert "30 more shop-days not shown: --format csv or json prints them all" in table.output
    shops = json.loads(CliRunner().invoke(app, [*args, "--format", "json"]).output)["shops"]
    shown = [s for s in shops if f" {s['shop_id']} " in table.output]
    hidden = [s for s in shops if s not in shown]
    assert len(shown) == 100 and len(hidden) == 30
    # A scores Taobao and Tmall shops: the 特价版 shops have no score and come last.
    assert all(s["score"] is not None for s in shown)
    assert max(Decimal(s["score"]) for s in shown) <= min(Decimal(s["score"]) for s in hidden if s["score"] is not None)



@pytest.mark.parametrize("days,said", [
    (["--as-of", "2042-06-30"], "as of 2042-06-30: is that date"),
    (["--from", "2042-06-01", "--to", "2042-06-03"], "from 2042-06-01 to 2042-06-03: are those dates")])
def test_a_day_outside_the_data_is_warned_of(days, said, at_root):
    # 2042 for 2024: every shop scored "nothing" without a word
    args = ["score", "rulebooks/tmall/basic-service.rule", "--data", "examples/data", "--format", "json"]
    result = runner.invoke(app, [*args, *days])
    assert result.exit_code == 0
    assert result.stderr == f"lhrule: warning: no indicator of any shop counted an event {said} within the events " \
                           "of examples/data?\n"
    assert all(s["score"] is None for s in json.loads(result.stdout)["shops"])
    inside = runner.invoke(app, [*args, *(d.replace("2042", "2024") for d in days)])
    assert inside.exit_code == 0 and inside.stderr == ""


def test_a_day_before_the_rules_take_effect_is_warned_of(at_root):
    result = runner.invoke(app, ["score", "rulebooks/taobao/service-standard-2024.rule", "--data", "examples/data",
                                 "--as-of", "2024-06-30", "--format", "csv"])
    assert result.exit_code == 0
    assert result.stderr == ("lhrule: warning: no indicator of rulebooks/taobao/service-standard-2024.rule is in force "
                             "as of 2024-06-30: see their `effective` dates\n")

def test_a_table_cannot_go_to_a_file(at_root, tmp_path):
    result = CliRunner().invoke(app, ["score", "rulebooks/tejia/response-3min.rule", "--data", "examples/data",
                                      "--as-of", "2024-06-30", "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "--out writes json, csv or parquet: add --format" in result.output


def test_score_json_puts_one_shop_on_each_line(at_root):
    result = run("score", "rulebooks/taobao/lighthouse.rule", "--data", "examples/data", "--as-of", "2024-06-30",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    lines = result.output.splitlines()
    assert lines[:3] == ["{", '  "rulebook": "taobao_lighthouse",', f'  "version": "{out["version"]}",']
    shop_lines = [line for line in lines if line.startswith('    {"shop_id": ')]
    assert len(shop_lines) == len(out["shops"]) == 130
    assert json.loads(shop_lines[0].rstrip(",")) == out["shops"][0]
    assert lines[-2:] == ["  ]", "}"]


@pytest.mark.parametrize("args, message", [
    (["--data", "s3a://bucket/events"], "--data s3a://bucket/events: DuckDB reads local folders; read a URI with "
                                        "--engine spark"),
    (["--spark-master", "local[2]"], "--spark-master is for --engine spark"),
    (["--engine", "spark", "--spark-master", "bogus://x"], "--spark-master 'bogus://x' is not a Spark master URL"),
    (["--engine", "sql"], "--engine must be duckdb or spark, not 'sql'"),
])
def test_engine_flags_are_checked_before_anything_starts(args, message, at_root):
    base = ["score", "rulebooks/tejia/response-3min.rule", "--as-of", "2024-06-30"]
    result = CliRunner().invoke(app, [*base, *(args if "--data" in args else ["--data", "examples/data", *args])])
    assert result.exit_code == 2
    assert message in result.output


def test_spark_without_pyspark_or_with_quarantine_says_what_to_do(monkeypatch, at_root):
    args = ["score", "rulebooks/tejia/response-3min.rule", "--data", "examples/data", "--as-of", "2024-06-30",
            "--engine", "spark"]
    result = CliRunner().invoke(app, [*args, "--on-bad-rows", "quarantine"])
    assert result.exit_code == 1
    assert "lhrule: --on-bad-rows quarantine runs on DuckDB only" in result.output
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as in an install without the spark extra
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "lhrule: --engine spark needs PySpark: pip install 'lhrule[spark]' (and Java 17 or newer)" in result.output


@pytest.mark.parametrize("command", ["score", "explain", "diff"])
def test_help_names_the_spark_extra_as_written(command):
    # Rich reads "[spark]" as markup unless it is escaped; the help must show what to type
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0
    assert "pip install 'lhrule[spark]'" in result.output


def test_a_range_as_json_is_written_whole_to_its_file_or_to_stdout(at_root, tmp_path):
    # a range written as JSON is scored a week at a time: the file appears only when whole
    args = ["score", "rulebooks/tejia/response-3min.rule", "--data", "examples/data", "--from", "2024-06-01",
            "--to", "2024-06-16", "--format", "json"]
    printed = run(*args)
    written = run(*args, "--out", str(tmp_path / "range.json"))
    assert printed.exit_code == written.exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["range.json"]
    text = (tmp_path / "range.json").read_text(encoding="utf-8")
    assert printed.output == text
    result = json.loads(text)
    assert (result["from"], result["to"]) == ("2024-06-01", "2024-06-16")
    assert sorted({s["as_of"] for s in result["shops"]}) == [f"2024-06-{d:02d}" for d in range(1, 17)]


def test_a_range_as_json_to_a_device_is_written_to_it(at_root, tmp_path):
    # /dev/null must stay the device: nothing is written aside and renamed over it
    import os
    import stat
    import threading

    args = ["score", "rulebooks/tejia/response-3min.rule", "--data", "examples/data", "--from", "2024-06-01",
            "--to", "2024-06-03", "--format", "json"]
    fifo = tmp_path / "pipe"  # a device as /dev/null is, that a test may make
    os.mkfifo(fifo)

    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run(*args, "--out", str(fifo))
    reader.join(timeout=20)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode) and [p.name for p in tmp_path.iterdir()] == ["pipe"]
    assert got[0].decode("utf-8") == run(*args).output


def test_a_piped_score_table_keeps_each_indicator_name_on_one_line():
    # Piped, Rich laid the table out in 80 columns: nine indicators' names stood a letter a line.
    result = CliRunner().invoke(app, ["score", str(ROOT / "rulebooks" / "tmall" / "basic-service.rule"), "--data",
                                      str(ROOT / "examples" / "data"), "--as-of", "2024-06-30"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "旺旺回复率" in line)
    for label in ("shop", "category", "人工响应时长", "24小时揽收及时率", "退款自主完结时长(退货退款)", "投诉成立率", "actions"):
        assert label in header, label
    row = next(line for line in result.stdout.splitlines() if "s000001" in line)
    assert row.split("│")[1:6] == [" s000001 ", " 食品          ", " 1.6   ", " —     ", " 0.7456 很差  "]


@pytest.mark.parametrize("command", ["check", "fmt", "test"])
@pytest.mark.parametrize("name, said", [("x" * 5000 + ".rule", "file name too long"),
                                        ("loop.rule", "too many levels of symbolic links")])
def test_a_path_that_cannot_be_looked_at_is_a_message(tmp_path, monkeypatch, command, name, said):
    monkeypatch.chdir(tmp_path)
    if name == "loop.rule":
        os.symlink("loop2.rule", "loop.rule")
        os.symlink("loop.rule", "loop2.rule")
    result = CliRunner().invoke(app, [command, name])
    assert result.exit_code == 2
    assert said in result.output and "Traceback" not in result.output
