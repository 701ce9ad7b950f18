"""`--engine spark`: the same queries on Spark give exactly DuckDB's answers.

Every seed rulebook is scored by both engines on generated datasets in the three formats,
and the whole JSON must be equal: values, bands, points, grades, actions. Explain and diff
too, and every seed rulebook's `test` blocks pass on Spark. Marked `spark`; they need the
`spark` extra (PySpark) and Java 17, which `.ci/run` installs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import lhrule
from lhrule.engine.data.dataset import DatasetError
from lhrule.synth.gen import generate

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark", reason="the spark extra: pip install '.[spark]'")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ["rulebooks/examples/tour.rule", "rulebooks/taobao/lighthouse.rule",
         "rulebooks/taobao/service-standard-2024.rule", "rulebooks/tejia/response-3min.rule",
         "rulebooks/tmall/basic-service.rule"]
WITH_TESTS = SEEDS + ["rulebooks/douyin/experience-score.rule"]  # douyin's own schema: its tests only
AS_OF = "2024-06-08"  # 39 days of data from 2024-05-01: every window of the seed rulebooks is inside


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("spark-data")
    out = {}
    for fmt in ("parquet", "csv", "jsonl"):
        out[fmt] = base / fmt
        generate(out[fmt], shops=24, days=39, seed=7, start=dt.date(2024, 5, 1), fmt=fmt)
    # service-standard-2024 is in force from 2024-09-21
    out["late"] = base / "late"
    generate(out["late"], shops=24, days=40, seed=7, start=dt.date(2024, 8, 21), fmt="parquet")
    return out


def _both(rulebook, data, **kw) -> tuple[dict, dict]:
    duck = lhrule.score(rulebook, data, **kw).to_json()
    spark = lhrule.score(rulebook, data, engine="spark", spark_master="local[2]", **kw).to_json()
    return duck, spark


@pytest.mark.parametrize("path", SEEDS)
def test_every_seed_rulebook_scores_the_same_on_spark(path, datasets):
    rb = lhrule.load(ROOT / path)
    late = "service-standard" in path
    duck, spark = _both(rb, datasets["late" if late else "parquet"], as_of="2024-09-29" if late else AS_OF)
    assert len(duck["shops"]) == 24
    assessed = [i for s in duck["shops"] for i in s["indicators"].values() if i.get("value") is not None]
    assert assessed, "the data must give the rules something to count"
    assert spark == duck


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_read_the_same_on_spark(fmt, datasets):
    rb = lhrule.load(ROOT / "rulebooks/tmall/basic-service.rule")
    duck, spark = _both(rb, datasets[fmt], as_of=AS_OF)
    assert spark == duck
    parquet = lhrule.score(rb, datasets["parquet"], as_of=AS_OF).to_json()
    assert [s["indicators"] for s in spark["shops"]] == [s["indicators"] for s in parquet["shops"]]


def test_a_range_of_days_scores_the_same_on_spark(datasets):
    rb = lhrule.load(ROOT / "rulebooks/taobao/lighthouse.rule")  # ranks, `once per`, and actions with `until`
    duck, spark = _both(rb, datasets["parquet"], start="2024-06-06", end="2024-06-08")
    assert len(duck["shops"]) == 24 * 3
    assert spark == duck


@pytest.mark.parametrize("path", WITH_TESTS)
def test_the_test_blocks_pass_on_spark(path):
    from lhrule.api import load
    from lhrule.engine.data.spark import given_rows, session
    from lhrule.engine.run.testing import run_tests

    rb = load(ROOT / path).ir
    outcomes = run_tests(rb, given_rows(session(rb.timezone, "local[2]")))
    assert outcomes
    assert [(o.test.name, o.failures) for o in outcomes if not o.passed] == []


def test_explain_is_the_same_on_spark(datasets):
    from lhrule.api import spark_connection
    from lhrule.engine.data.dataset import connect, open_dataset
    from lhrule.trace.explain import Explainer

    rb = lhrule.load(ROOT / "rulebooks/tmall/basic-service.rule")
    duck = connect(rb.ir)
    open_dataset(duck, datasets["parquet"], rb.ir)
    spark = spark_connection(rb, datasets["parquet"], "local[2]")
    day = dt.date.fromisoformat(AS_OF)
    for shop in ("s000003", "s000017"):
        a = Explainer(duck, rb.ir, rb.sources, 3).explain(shop, day).to_json()
        b = Explainer(spark, rb.ir, rb.sources, 3).explain(shop, day).to_json()
        assert json.dumps(a, ensure_ascii=False).count('"kind": "event"') > 0
        assert b == a


def test_diff_is_the_same_on_spark(datasets, tmp_path):
    from test_diff import _versions

    old, new = _versions(tmp_path, ('"一般" top rank_fair      -> 3', '"一般" top rank_fair      -> 2.5'))
    a = lhrule.diff(old, new, datasets["parquet"], AS_OF).to_json("old", "new")
    b = lhrule.diff(old, new, datasets["parquet"], AS_OF, engine="spark", spark_master="local[2]").to_json("old", "new")
    assert a["summary"]["moved"] > 0
    assert b == a


def test_a_uri_dataset_is_read_and_validated_by_spark(datasets, tmp_path):
    rb = lhrule.load(ROOT / "rulebooks/tejia/response-3min.rule")
    uri = datasets["csv"].resolve().as_uri()
    by_uri = lhrule.score(rb, uri, as_of=AS_OF, engine="spark", spark_master="local[2]").to_json()
    local = lhrule.score(rb, datasets["csv"], as_of=AS_OF).to_json()
    assert by_uri["shops"] == local["shops"]
    assert by_uri["dataset_fingerprint"] != local["dataset_fingerprint"]  # from Spark's listing, not the files
    # a bad row: a timestamp that is not one, and a consultation of a shop that does not exist
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in datasets["csv"].iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    lines = (bad / "consultations.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("asked_at")] = "2024-13-45 10:00:00"
    row[header.index("shop_id")] = "nobody"
    (bad / "consultations.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        lhrule.score(rb, bad.as_uri(), as_of=AS_OF, engine="spark", spark_master="local[2]")
    message = str(caught.value)
    assert "consultations.asked_at: 1 row not a timestamp (YYYY-MM-DD HH:MM[:SS][+08:00]): consultations.csv " \
           "('2024-13-45 10:00:00')" in message
    assert "consultations.shop_id: 1 row pointing at no row of shops: consultations.csv ('nobody')" in message



def test_a_table_in_two_places_is_refused_on_spark(datasets, tmp_path):
    both = tmp_path / "both"
    both.mkdir()
    for f in datasets["csv"].iterdir():
        (both / f.name).write_bytes(f.read_bytes())
    (both / "consultations.parquet").write_bytes((datasets["parquet"] / "consultations.parquet").read_bytes())
    with pytest.raises(DatasetError) as caught:
        lhrule.score(ROOT / "rulebooks/tejia/response-3min.rule", both.as_uri(), as_of=AS_OF, engine="spark",
                     spark_master="local[2]")
    assert str(caught.value) == (f"the dataset {both.as_uri()} holds table consultations in 2 places "
                                 "(consultations.parquet, consultations.csv): keep one and move the others out")

def test_the_cli_scores_with_spark(datasets):
    from typer.testing import CliRunner

    from lhrule.cli.main import app

    args = ["score", "rulebooks/tejia/response-3min.rule", "--data", str(datasets["parquet"]), "--as-of", AS_OF,
            "--format", "json"]
    duck = CliRunner().invoke(app, args)
    spark = CliRunner().invoke(app, [*args, "--engine", "spark", "--spark-master", "local[2]"])
    assert duck.exit_code == 0 and spark.exit_code == 0, spark.output
    assert json.loads(spark.stdout) == json.loads(duck.stdout)


def test_spark_failures_are_one_line_messages(datasets, tmp_path):
    from typer.testing import CliRunner

    from lhrule.cli.main import app

    bad = tmp_path / "truncated"
    bad.mkdir()
    for f in datasets["parquet"].iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "consultations.parquet").write_bytes((datasets["parquet"] / "consultations.parquet").read_bytes()[:5000])
    result = CliRunner().invoke(app, ["score", "rulebooks/tejia/response-3min.rule", "--data", bad.as_uri(),
                                      "--as-of", AS_OF, "--engine", "spark", "--spark-master", "local[2]"])
    assert result.exit_code == 1
    assert result.stderr.startswith("lhrule: Spark failed: [FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER] ")
    assert "consultations.parquet" in result.stderr and "Traceback" not in result.output


def test_spark_submit_runs_lhrule_with_its_own_master(datasets, tmp_path):
    """The README's way to a cluster: `spark-submit [--master URL] …/lhrule/__main__.py score …`."""
    import os
    import subprocess
    import sys

    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable}
    submit = [str(home / "bin" / "spark-submit"), "--master", "local[1]"]
    probe = tmp_path / "probe.py"
    probe.write_text("from lhrule.engine.data.spark import session\nprint('master', session('Asia/Shanghai').sparkContext"
                     ".master)\n", encoding="utf-8")
    done = subprocess.run([*submit, str(probe)], env=env, capture_output=True, text=True, timeout=300)
    assert "master local[1]" in done.stdout, done.stderr[-2000:]
    main = Path(lhrule.__file__).parent / "__main__.py"
    args = ["score", "rulebooks/tejia/response-3min.rule", "--data", str(datasets["parquet"]), "--as-of", AS_OF,
            "--format", "json", "--engine", "spark"]
    done = subprocess.run([*submit, str(main), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    duck = lhrule.score(ROOT / "rulebooks/tejia/response-3min.rule", datasets["parquet"], as_of=AS_OF).to_json()
    assert json.loads(done.stdout)["shops"] == duck["shops"]
