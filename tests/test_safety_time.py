"""Time read right: durations are elapsed time across daylight saving, a local time the clocks
skipped or (with an offset) repeated is a bad row, a zone abbreviation is not an offset, and a
zone name every engine reads the same is the only one `check` takes.

The rulebook is in America/New_York, whose clocks went forward at 2024-03-10 02:00 (to 03:00)
and back at 2024-11-03 02:00 (to 01:00). One rate: replies within 3 minutes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import lhrule
from lhrule.cli.main import app
from lhrule.engine.data.dataset import DatasetError

ROOT = Path(__file__).resolve().parent.parent

RULEBOOK = """rulebook ny "ny" {
  timezone "ZONE"
  cite "s" "q"
}

entity shops "店铺" {
  shop_id: id key
}

table consultations "咨询" {
  consultation_id: id key
  shop_id: id -> shops
  asked_at: timestamp
  first_reply_at: timestamp?
}

indicator reply_3min "3分钟回复率" {
  over consultations
  window last 30 days on asked_at
  where first_reply_at is not null
  rate where first_reply_at - asked_at <= 3 minutes
  cite "s" "q"
}

indicator reply_by "回复于3分钟内" {
  over consultations
  window last 30 days on asked_at
  where first_reply_at is not null
  rate where first_reply_at <= asked_at + 3 minutes
  cite "s" "q"
}

indicator reply_time "平均回复时长" {
  over consultations
  window last 30 days on asked_at
  average first_reply_at - asked_at
  cite "s" "q"
}
"""
HEADER = "consultation_id,shop_id,asked_at,first_reply_at"


def _folder(tmp_path: Path, rows: list[str], zone: str = "America/New_York") -> tuple[Path, Path]:
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    rb = tmp_path / "ny.rule"
    rb.write_text(RULEBOOK.replace("ZONE", zone), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    (data / "shops.csv").write_text("shop_id\ns1\n", encoding="utf-8")
    (data / "consultations.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return rb, data


def _indicators(rb: Path, data, as_of: str, **kw) -> dict:
    shops = lhrule.score(rb, data, as_of=as_of, **kw).to_json()["shops"]
    return {name: (i["numerator"], i["denominator"], i["value"]) for name, i in shops[0]["indicators"].items()}


# Across the spring-forward: asked 01:57, replied 03:03 is 6 minutes (66 on the wall clock);
# 01:59 to 03:01 is 2 minutes (62 on the wall clock); 03:10 to 03:12 is 2 minutes, plainly.
SPRING = ["c1,s1,2024-03-10 01:57:00,2024-03-10 03:03:00",
          "c2,s1,2024-03-10 01:59:00,2024-03-10 03:01:00",
          "c3,s1,2024-03-10 03:10:00,2024-03-10 03:12:00"]


def test_a_duration_across_the_spring_forward_is_elapsed_time(tmp_path):
    # it counted the 6-minute reply c1 as 66 minutes late... and c2, 2 minutes, as 62: 1 of 3
    rb, data = _folder(tmp_path, SPRING)
    got = _indicators(rb, data, "2024-03-31")
    assert got["reply_3min"] == (2, 3, "0.6667")  # c2 and c3
    assert got["reply_by"] == (2, 3, "0.6667")  # `b <= a + 3m` is `b - a <= 3m`
    assert got["reply_time"] == ("600", 3, "200")  # seconds: (6 + 2 + 2) / 3 minutes


def test_a_duration_across_the_fall_back_is_elapsed_time(tmp_path):
    # 2024-11-03 00:58 EDT to 01:01 (the first 01:01, EDT) is 3 minutes; 01:59 EDT to 01:01 EST
    # is 2 minutes, written with offsets; 01:59 to 02:01 (EST, after the repeat) is 62 minutes.
    rb, data = _folder(tmp_path, ["c1,s1,2024-11-03 00:58:00,2024-11-03 01:01:00",
                                  "c2,s1,2024-11-03 05:59:00Z,2024-11-03 01:01:00-05:00",
                                  "c3,s1,2024-11-03 01:59:00,2024-11-03 02:01:00"])
    with pytest.raises(DatasetError) as caught:  # c2's reply is in the second 01:00 hour
        _indicators(rb, data, "2024-11-30")
    assert "consultations.first_reply_at: 1 row in the hour America/New_York's clocks repeat when they go back, " \
           "the second time round" in str(caught.value)
    assert "consultations.csv row 2 ('2024-11-03 01:01:00-05:00')" in str(caught.value)
    got = _indicators(rb, data, "2024-11-30", on_bad_rows="quarantine", quarantine=tmp_path / "q")
    assert got["reply_3min"] == (1, 2, "0.5")  # c1 in time; c3, 62 minutes, late; c2 set aside
    assert got["reply_time"] == ("3900", 2, "1950")  # seconds: (3 + 62) / 2 minutes


def test_an_ambiguous_local_time_is_the_earlier_instant(tmp_path):
    # 01:30 without an offset, on the night 01:00-02:00 repeats, is 01:30 EDT (05:30Z): a reply
    # at 05:32Z (01:32 EDT) is 2 minutes later, one at 06:31Z (01:31 EST) is set aside.
    rb, data = _folder(tmp_path, ["c1,s1,2024-11-03 01:30:00,2024-11-03 05:32:00Z",
                                  "c2,s1,2024-11-03 01:30:00,2024-11-03 01:33:00"])
    assert _indicators(rb, data, "2024-11-30")["reply_3min"] == (2, 2, "1")


def test_a_local_time_the_clocks_skipped_is_a_bad_row(tmp_path):
    # 02:30 did not happen in New York on 2024-03-10: DuckDB read it as 03:30, silently
    rb, data = _folder(tmp_path, ["c1,s1,2024-03-10 02:30:00,2024-03-10 03:31:00",
                                  "c2,s1,2024-03-10T02:30:00-05:00,2024-03-10 03:31:00"])  # with an offset: fine
    with pytest.raises(DatasetError) as caught:
        _indicators(rb, data, "2024-03-31")
    assert str(caught.value).splitlines()[1] == (
        "  consultations.asked_at: 1 row not a time in America/New_York: its clocks skipped it, going forward "
        "(write the time it was, with its offset): consultations.csv row 1 ('2024-03-10 02:30:00')")


def test_a_skipped_local_time_in_parquet_is_a_bad_row(tmp_path):
    rb, data = _folder(tmp_path, [])
    (data / "consultations.csv").unlink()
    pq.write_table(pa.table({"consultation_id": ["c1", "c2"], "shop_id": ["s1", "s1"],
                             "asked_at": pa.array([dt.datetime(2024, 3, 10, 2, 30), dt.datetime(2024, 3, 10, 1, 59)],
                                                  pa.timestamp("us")),
                             "first_reply_at": pa.array([None, dt.datetime(2024, 3, 10, 3, 1)], pa.timestamp("us"))}),
                   data / "consultations.parquet")
    with pytest.raises(DatasetError) as caught:
        _indicators(rb, data, "2024-03-31")
    assert "consultations.asked_at: 1 row not a time in America/New_York: its clocks skipped it" in str(caught.value)
    assert "consultations.parquet row 1 ('2024-03-10 02:30:00')" in str(caught.value)


@pytest.mark.parametrize("value", ["2024-06-29 10:00:00 CST", "2024-06-29 10:00:00 America/New_York",
                                   "2024-06-29 10:00:00 GMT+8", "epoch"])
def test_a_zone_name_or_abbreviation_is_not_an_offset(tmp_path, value):
    # CST is China's +08:00 to the writer, DuckDB read it as Chicago's -05:00 in June
    rb, data = _folder(tmp_path, [f"c1,s1,{value},", "c2,s1,2024-06-29 10:00:00+08:00,"], zone="Asia/Shanghai")
    with pytest.raises(DatasetError) as caught:
        _indicators(rb, data, "2024-06-30")
    assert str(caught.value).splitlines()[1] == (
        "  consultations.asked_at: 1 row written with a zone name or other text after the time, which is not an "
        "offset (CST is China's +08:00 in a Chinese export, Chicago's to DuckDB and Spark): write the offset, like "
        f"2024-06-29 10:00:00+08:00: consultations.csv row 1 ({value!r})")


def test_offsets_and_z_are_still_read(tmp_path):
    rb, data = _folder(tmp_path, ["c1,s1,2024-06-29T10:00:00+08:00,2024-06-29 02:02:00Z",
                                  "c2,s1,2024-06-29 10:00:00+0800,2024-06-29 10:04:00",
                                  "c3,s1,2024-06-29 10:00,2024-06-29T10:03:00.5+08"], zone="Asia/Shanghai")
    assert _indicators(rb, data, "2024-06-30")["reply_3min"] == (1, 3, "0.3333")


def test_a_zone_whose_offset_changed_is_read_right_before_and_after(tmp_path):
    # Asia/Shanghai kept daylight saving 1986-1991: on 1988-04-17 02:00 the clocks went to 03:00.
    # After 1991 the difference is the wall clock's (no conversion needed, none made).
    rb, data = _folder(tmp_path, ["c1,s1,1988-04-17 01:59:00,1988-04-17 03:01:00",
                                  "c2,s1,1988-04-20 10:00:00,1988-04-20 10:04:00"], zone="Asia/Shanghai")
    assert _indicators(rb, data, "1988-04-30")["reply_3min"] == (1, 2, "0.5")


@pytest.mark.parametrize("zone, message", [
    ("posixrules", '"posixrules" is the rules tzdata gives POSIX TZ strings, not a time zone'),
    ("localtime", '"localtime" is the zone the machine running lhrule is set to, not one every engine and '
                  'machine reads the same'),
    ("Factory", '"Factory" is tzdata\'s placeholder for a machine without a zone, not a time zone'),
    ("Mars/Olympus", 'unknown time zone "Mars/Olympus"'),
    ("posix/Asia/Shanghai", 'unknown time zone "posix/Asia/Shanghai"'),
    ("../../etc/localtime", 'unknown time zone "../../etc/localtime"'),
])
def test_check_refuses_a_zone_name_not_every_engine_reads_the_same(tmp_path, monkeypatch, zone, message):
    # posixrules and localtime passed check, then failed at score with a message blaming the data
    rb, _ = _folder(tmp_path, [], zone=zone)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check", "ny.rule"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"ny.rule:2:3: error[E060]: {message}"


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "US/Eastern", "Asia/Shanghai", "Europe/Kyiv"])
def test_check_takes_iana_zone_names_and_their_aliases(tmp_path, monkeypatch, zone):
    _folder(tmp_path, [], zone=zone)
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["check", "ny.rule"]).exit_code == 0


def test_explain_shows_the_elapsed_duration_the_score_counts(tmp_path, monkeypatch):
    _folder(tmp_path, SPRING[:2])
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["explain", "s1", "--rulebook", "ny.rule", "--data", "data", "--as-of",
                                      "2024-03-31"])
    assert result.exit_code == 0, result.output
    lines = [line.strip("│├└─ ") for line in result.output.splitlines()]
    assert "c1 2024-03-10 01:57:00 fails `first_reply_at - asked_at <= 3 minutes`: 6m" in lines  # was 1h6m
    assert "c1 2024-03-10 01:57:00 fails `first_reply_at <= asked_at + 3 minutes`: 2024-03-10 03:03:00" in lines
    assert "indicator reply_time 平均回复时长 = 4m" in lines and "c2 2024-03-10 01:59:00 value 2m" in lines


def test_a_rulebook_test_counts_elapsed_time(tmp_path):
    from lhrule.engine.run.testing import run_tests

    rb, _ = _folder(tmp_path, [])
    rb.write_text(rb.read_text(encoding="utf-8") + """
test "across the spring-forward, 6 minutes are late and 2 are in time" {
  as of 2024-03-31
  given shops { shop_id: "s1" }
  given consultations {
    shop_id: "s1", asked_at: 2024-03-10 01:57, first_reply_at: 2024-03-10 03:03
  } {
    shop_id: "s1", asked_at: 2024-03-10 01:59, first_reply_at: 2024-03-10 03:01
  }
  expect reply_3min for "s1" = 1 / 2
}
""", encoding="utf-8")
    outcomes = run_tests(lhrule.load(rb).ir)
    assert [(o.passed, o.failures) for o in outcomes] == [(True, [])]


MIXED = SPRING + ["c4,s1,2024-11-03 00:58:00,2024-11-03 01:01:00",
                  "c5,s1,2024-11-03 01:59:00,2024-11-03 02:01:00",
                  "c6,s1,2024-11-03 01:30:00,2024-11-03 05:32:00Z",
                  "c7,s1,2024-11-02 23:00:00-04:00,2024-11-03 07:02:00Z",
                  "c8,s1,2024-06-10 10:00:00,"]


@pytest.mark.spark
def test_durations_across_daylight_saving_are_the_same_on_spark(tmp_path):
    pytest.importorskip("pyspark", reason="the spark extra: pip install '.[spark]'")
    rb, data = _folder(tmp_path, MIXED)
    rulebook = lhrule.load(rb)
    duck = lhrule.score(rulebook, data, as_of="2024-11-30").to_json()
    spark = lhrule.score(rulebook, data, as_of="2024-11-30", engine="spark", spark_master="local[2]").to_json()
    assert spark == duck
    march = lhrule.score(rulebook, data, start="2024-03-11", end="2024-03-12", engine="spark",
                         spark_master="local[2]").to_json()
    assert march == lhrule.score(rulebook, data, start="2024-03-11", end="2024-03-12").to_json()
    got = _indicators(rb, data, "2024-11-30", engine="spark", spark_master="local[2]")
    # c4 3 minutes, c5 62, c6 2, c7 (23:00 EDT to 02:02 EST) 4 h 2 min
    assert got["reply_3min"] == (2, 4, "0.5")
    assert got["reply_time"] == ("18540", 4, "4635")


@pytest.mark.spark
def test_a_uri_dataset_refuses_the_same_times_on_spark(tmp_path):
    pytest.importorskip("pyspark", reason="the spark extra: pip install '.[spark]'")
    rb, data = _folder(tmp_path, ["c1,s1,2024-03-10 02:30:00,",
                                  "c2,s1,2024-06-29 10:00:00 CST,",
                                  "c3,s1,2024-11-03 01:10:00,2024-11-03 01:01:00-05:00",
                                  "c4,s1,2024-03-10 02:30:00-05:00,2024-11-03 01:01:00-04:00"])
    with pytest.raises(DatasetError) as caught:
        lhrule.score(lhrule.load(rb), data.resolve().as_uri(), as_of="2024-11-30", engine="spark",
                     spark_master="local[2]")
    lines = [line.split(": consultations.csv")[0] for line in str(caught.value).splitlines()[1:-1]]
    assert lines == [
        "  consultations.asked_at: 1 row written with a zone name or other text after the time, which is not an "
        "offset (CST is China's +08:00 in a Chinese export, Chicago's to DuckDB and Spark): write the offset, like "
        "2024-06-29 10:00:00+08:00",
        "  consultations.asked_at: 1 row not a time in America/New_York: its clocks skipped it, going forward "
        "(write the time it was, with its offset)",
        "  consultations.first_reply_at: 1 row in the hour America/New_York's clocks repeat when they go back, the "
        "second time round: lhrule keeps local times, which cannot tell it from the first; leave such rows out "
        "with --on-bad-rows quarantine"]
    assert "('2024-11-03 01:01:00-05:00')" in str(caught.value)


@pytest.mark.parametrize("literal, said", [
    ("2024-03-10 02:30", "`2024-03-10 02:30` is not a time in America/New_York: its clocks skipped it, going forward"),
    ("2024-11-03 01:30-05:00", "`2024-11-03 01:30-05:00` is in the hour America/New_York's clocks repeat, the second "
                               "time round"),
])
def test_a_timestamp_literal_that_names_no_local_time_is_an_error(literal, said):
    # As in the data: it was read as another time (02:30 as 03:30), silently.
    from lhrule.compiler.compile import compile_text

    text = ('rulebook r "r" {\n  timezone "America/New_York"\n}\n'
            'param start = ' + literal + ' {\n  cite "s" "q"\n}\n')
    result = compile_text(text, "t.rule")
    assert any(d.code == "E002" and d.message.startswith(said) for d in result.diagnostics), result.diagnostics


def test_a_timestamp_literal_in_the_first_pass_of_a_repeated_hour_is_taken():
    from lhrule.compiler.compile import compile_text

    text = ('rulebook r "r" {\n  timezone "America/New_York"\n}\n'
            'param start = 2024-11-03 01:30-04:00 {\n  cite "s" "q"\n}\n')
    assert not [d for d in compile_text(text, "t.rule").diagnostics if d.is_error]
