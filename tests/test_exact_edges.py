"""Exact edges: bands at their cut-offs, ranks at their shares, and results that do not depend
on the order or the files the rows come in. The edges of the seed rules themselves (08:00:00
and 23:00:00, exactly 3 minutes, exactly 40%, T-30 in and T out) are examples in their
rulebooks (`test` blocks), run by test_engine.test_rulebook_tests_pass."""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import lhrule
from lhrule.cli.main import app

ROOT = Path(__file__).resolve().parent.parent

BANDED = """rulebook edges "edges" {
  timezone "Asia/Shanghai"
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
}

indicator pickup "揽收" {
  over orders
  window last 30 days on paid_at
  rate where picked_up_at - paid_at <= 24h
  higher is better
}

bands pickup_levels of pickup {
  "优" >= 95% -> 100
  "良" >= 80% -> 60
  "差" otherwise -> 0
}

indicator volume "单量" {
  over orders
  window last 30 days on paid_at
  count
  higher is better
}

bands volume_rank of volume by rank within main_category {
  "前20%" top 20% -> 100
  "前50%" top 50% -> 50
  "其余" otherwise -> 0
}
"""


def _write(folder: Path, orders: list[tuple[str, str, str, str | None]], shops: list[str]) -> tuple[Path, Path]:
    (folder / "lhrule.toml").write_text("", encoding="utf-8")
    rule = folder / "edges.rule"
    rule.write_text(BANDED, encoding="utf-8")
    data = folder / "data"
    data.mkdir(exist_ok=True)
    (data / "shops.csv").write_text("shop_id,main_category\n" + "".join(f"{s},食品\n" for s in shops),
                                    encoding="utf-8")
    (data / "orders.csv").write_text("order_id,shop_id,paid_at,picked_up_at\n" + "".join(
        f"{o},{s},{paid},{picked or ''}\n" for o, s, paid, picked in orders), encoding="utf-8")
    return rule, data


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.integers(1, 60), st.data())
def test_a_rate_at_a_cut_off_and_one_event_either_side(tmp_path_factory, n, data):
    """n orders, k picked up in time, the rest one microsecond late: the band is the first
    whose cut-off k/n reaches, exactly (19/20 is 95%: 优; 18/20 is not)."""
    # k: on a cut-off when one exists for n, else anywhere, and one either side of it
    on_cut = [k for k in range(n + 1) if Fraction(k, n) in (Fraction(95, 100), Fraction(80, 100))]
    k = data.draw(st.sampled_from(on_cut) if on_cut else st.integers(0, n))
    k = min(n, max(0, k + data.draw(st.sampled_from([-1, 0, 1]))))
    orders = [(f"o{i}", "s1", "2024-06-10 10:00:00",
               "2024-06-11 10:00:00" if i < k else "2024-06-11 10:00:00.000001") for i in range(n)]
    rule, folder = _write(tmp_path_factory.mktemp("cut"), orders, ["s1"])
    item = lhrule.score(rule, folder, as_of="2024-06-30").to_json()["shops"][0]["indicators"]["pickup"]
    rate = Fraction(k, n)
    expected = "优" if rate >= Fraction(95, 100) else "良" if rate >= Fraction(80, 100) else "差"
    assert (item["numerator"], item["denominator"], item["band"]) == (k, n, expected)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 6), min_size=1, max_size=12))
def test_ranks_at_their_shares_with_ties(tmp_path_factory, volumes):
    """Shop i has volumes[i] orders. Its rank is 1 + the shops with strictly more; it is in
    the top p% when the shops ahead of it are fewer than p% of the group (ties share)."""
    shops = [f"s{i:02d}" for i in range(len(volumes))]
    orders = [(f"o{s}-{j}", s, "2024-06-10 10:00:00", None) for s, v in zip(shops, volumes) for j in range(v)]
    rule, folder = _write(tmp_path_factory.mktemp("rank"), orders, shops)
    got = {s["shop_id"]: s["indicators"]["volume"] for s in lhrule.score(rule, folder, as_of="2024-06-30")
           .to_json()["shops"]}
    size = len(volumes)
    for shop, v in zip(shops, volumes):
        ahead = sum(1 for w in volumes if w > v)
        expected = "前20%" if ahead < Fraction(20, 100) * size else "前50%" if ahead < Fraction(50, 100) * size \
            else "其余"
        assert (got[shop]["rank"], got[shop]["group_size"], got[shop]["band"]) == (ahead + 1, size, expected), shop


def _score_text(rulebook: str, data: Path) -> str:
    result = CliRunner().invoke(app, ["score", rulebook, "--data", str(data), "--as-of", "2024-06-30",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    return result.output


def test_results_do_not_depend_on_row_order_or_files(tmp_path, at_root):
    """The example dataset with every table's rows shuffled and the largest tables split
    into three files gives the same JSON, but for the data's fingerprint; two runs on the
    same data give the same bytes."""
    rulebook = "rulebooks/taobao/lighthouse.rule"
    source = ROOT / "examples" / "data"
    first, again = _score_text(rulebook, source), _score_text(rulebook, source)
    assert first == again
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    rng = random.Random(7)
    for path in sorted(source.glob("*.parquet")):
        table = pq.read_table(path)
        order = list(range(table.num_rows))
        rng.shuffle(order)
        table = table.take(order)
        if table.num_rows > 10_000:  # a folder of three files
            (shuffled / path.stem).mkdir()
            third = table.num_rows // 3
            for i, (start, stop) in enumerate([(0, third), (third, 2 * third), (2 * third, table.num_rows)]):
                pq.write_table(table.slice(start, stop - start), shuffled / path.stem / f"part-{i}.parquet")
        else:
            pq.write_table(table, shuffled / path.name)
    moved = json.loads(_score_text(rulebook, shuffled))
    original = json.loads(first)
    assert moved.pop("dataset_fingerprint") != original.pop("dataset_fingerprint")
    assert moved == original
