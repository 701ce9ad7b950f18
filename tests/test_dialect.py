"""The SQL each engine is sent. Golden files pin, per seed rulebook and dialect, every query
scoring and explaining can send (`query.every_query`): a change to what DuckDB or Spark runs
shows in review (`pytest --update-golden`, then git diff). A construct with no Spark form is
refused before anything runs, naming the rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from lhrule.api import load
from lhrule.engine.sql import dialects as dialect
from lhrule.engine.sql.dialects import NotPortable, check_portable, render
from lhrule.engine.sql.queries import every_query, every_version

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "sql"
SEEDS = ["douyin/experience-score", "examples/tour", "taobao/lighthouse", "taobao/service-standard-2024",
         "tejia/response-3min", "tmall/basic-service"]


def _text(rb, name: str, days=None) -> str:
    """The queries of the rules in force on `days` (by default the newest version of the rulebook)."""
    return "\n".join(f"-- {what}, {day}\n{render(query, name)};\n"
                     for day in days or every_version(rb)[-1:] for what, _, query in every_query(rb, [day]))


@pytest.mark.parametrize("dialect_name", dialect.DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_the_sql_sent_to_each_engine_is_pinned(seed, dialect_name, golden):
    """Every version of every seed rulebook: a day in each stretch of time with its own rules."""
    rb = load(ROOT / "rulebooks" / f"{seed}.rule").ir
    golden(GOLDEN / f"{seed.replace('/', '__')}.{dialect_name}.sql", _text(rb, dialect_name, every_version(rb)))


def test_spark_sql_names_spark_functions():
    rb = load(ROOT / "rulebooks/tmall/basic-service.rule").ir  # `once per`, windows, exists
    spark = _text(rb, "spark")
    duck = _text(rb, "duckdb")
    assert "ARG_MIN_NULL(numerator, (\"at\", event_id))" in duck and "ARG_MIN_NULL" not in spark
    assert "MIN_BY(numerator, STRUCT(at, event_id))" in spark  # the first row of a key, by (time, id)
    assert "+ INTERVAL (-2764800000000) MICROSECOND" in duck  # T-32 days
    assert "DATE_ADD(MICROSECOND, -2764800000000, " in spark and "INTERVAL" not in spark  # TIMESTAMPADD, not days
    assert "`e`.`shop_id`" in spark and '"e"' not in spark  # Spark quotes names with backticks


def test_a_function_spark_lacks_is_refused_before_anything_runs(monkeypatch):
    rb = load(ROOT / "rulebooks/tmall/basic-service.rule").ir
    monkeypatch.setattr(dialect, "SPARK_NAMES", {})  # as if min_by had no known Spark form
    with pytest.raises(NotPortable) as caught:
        check_portable(rb, "spark")
    message = str(caught.value)
    assert message.startswith("rulebooks/tmall/basic-service.rule:") or "basic-service.rule:" in message
    assert "indicator reply_rate cannot run on spark: the function arg_min_null has no Spark form" in message
    assert message.endswith("score it with --engine duckdb")
    check_portable(rb, "duckdb")  # DuckDB runs it


def test_a_function_sqlglot_would_pass_through_to_spark_is_refused():
    query = exp.select(exp.Anonymous(this="list_reduce", expressions=[exp.column("x")])).from_("t")
    with pytest.raises(NotPortable, match="the function list_reduce has no Spark form"):
        render(query, "spark")
    assert render(query, "duckdb") == "SELECT LIST_REDUCE(x) FROM t"


def test_check_says_which_rules_cannot_run_on_spark(monkeypatch, at_root):
    from typer.testing import CliRunner

    from lhrule.cli.main import app

    assert CliRunner().invoke(app, ["check", "rulebooks/", "--engine", "spark"]).exit_code == 0
    monkeypatch.setattr(dialect, "SPARK_NAMES", {})  # as if min_by had no known Spark form
    result = CliRunner().invoke(app, ["check", "rulebooks/tmall/basic-service.rule", "--engine", "spark"])
    assert result.exit_code == 1
    lines = Path("rulebooks/tmall/basic-service.rule").read_text(encoding="utf-8").splitlines()
    reply, human = (lines.index(f"indicator {n}") + 1 for n in ('reply_rate "旺旺回复率" {', 'human_response_time "人工响应时长" {'))
    assert f"rulebooks/tmall/basic-service.rule:{reply}:1: error[E070]: indicator reply_rate cannot run on spark: the " \
           "function arg_min_null has no Spark form" in result.output
    assert f"basic-service.rule:{human}:1: error[E070]: indicator human_response_time cannot run" in result.output
    assert "score this rulebook with --engine duckdb" in result.output
    assert CliRunner().invoke(app, ["check", "rulebooks/tmall/basic-service.rule"]).exit_code == 0  # DuckDB runs it
    assert CliRunner().invoke(app, ["check", "rulebooks/", "--engine", "sql"]).exit_code == 2
