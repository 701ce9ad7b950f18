"""The engine end to end: every rulebook's own tests, the JSON contract, ranges of days."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

import lhrule
from lhrule.compiler.compile import compile_rulebook, compile_text
from lhrule.engine.run.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent
RULEBOOKS = sorted(p for p in [*(ROOT / "rulebooks").rglob("*.rule"), *(ROOT / "tests" / "rulebooks").glob("*.rule")])
EXAMPLE = ROOT / "examples" / "data"


def _tests_of(path: Path):
    result = compile_rulebook(path)
    assert result.ok, [str(d.span) + " " + d.message for d in result.diagnostics if d.is_error]
    return result.rulebook


@pytest.mark.parametrize("path", RULEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_rulebook_tests_pass(path: Path, at_root):
    rb = _tests_of(path.relative_to(ROOT))
    failures = [(o.test.name, [m for _, m in o.failures]) for o in run_tests(rb) if not o.passed]
    assert failures == []


def test_a_wrong_expectation_fails_with_what_was_found(at_root):
    text = (ROOT / "tests" / "rulebooks" / "engine.rule").read_text(encoding="utf-8")
    text = text.replace('include "../../rulebooks/common/events.rule"',
                        (ROOT / "rulebooks" / "common" / "events.rule").read_text(encoding="utf-8"))
    text = text.replace('expect pickup for "s1" = 1 / 3', 'expect pickup for "s1" = 2 / 3')
    text = text.replace('expect no downgrade for "s1"\n  expect downgrade for "s2"\n  expect response for "s2"',
                        'expect downgrade for "s1"\n  expect downgrade for "s2"\n  expect response for "s2"')
    rb = compile_text(text, "engine.rule").rulebook
    failed = {o.test.name: [m for _, m in o.failures] for o in run_tests(rb) if not o.passed}
    assert failed == {
        "24 hours exactly is in time, one second more is late": ["expected 2 / 3, got 1 / 3"],
        "a penalty stays in force over a day without consultations, and lifts after a day at 40%":
            ["expected downgrade in force, but it is not"],
    }


@pytest.fixture(scope="module")
def tour_run():
    return lhrule.score(ROOT / "rulebooks" / "examples" / "tour.rule", EXAMPLE, as_of="2024-06-30")


def test_score_json_has_every_contract_field(tour_run):
    out = tour_run.to_json()
    assert (out["rulebook"], out["version"], out["as_of"]) == ("tour", "1.0", "2024-06-30")
    assert len(out["shops"]) == 130
    shop = out["shops"][0]
    assert set(shop) >= {"shop_id", "category", "score", "grade", "indicators", "actions"}
    for item in shop["indicators"].values():
        assert set(item) >= {"label", "dimension", "value", "numerator", "denominator", "assessed", "band",
                             "points", "excluded"}
        assert item["assessed"] or item["reason"]
        assert isinstance(item["denominator"], int)
    rate = shop["indicators"]["reply_rate"]
    assert rate["label"] == "旺旺回复率" and rate["dimension"] == "咨询"
    assert isinstance(rate["numerator"], int) and isinstance(rate["value"], str)


def test_rates_are_exact_quotients(tour_run):
    from fractions import Fraction

    for res in tour_run.results:
        r = res.indicators["pickup_24h"]
        if r.rows:
            assert r.value == Fraction(r.hits, r.rows)


def test_a_range_is_the_days_scored_one_by_one(at_root):
    rb = ROOT / "tests" / "rulebooks" / "engine.rule"
    both = lhrule.score(rb, EXAMPLE, start="2024-06-29", end="2024-06-30")
    days = {d: lhrule.score(rb, EXAMPLE, as_of=d).to_json()["shops"] for d in ("2024-06-29", "2024-06-30")}
    ranged = both.to_json()
    assert (ranged["from"], ranged["to"]) == ("2024-06-29", "2024-06-30")
    for shop in ranged["shops"]:
        day = shop.pop("as_of")
        assert shop in days[day]


@pytest.mark.parametrize("days_at_a_time", [1, 7])
def test_a_range_read_a_few_days_at_a_time_is_the_range(at_root, days_at_a_time):
    # System D's actions hold `until` a condition: which are in force, and since when, must
    # carry from one part to the next as from one day to the next
    from lhrule.output.contract import json_text

    rb = lhrule.load("rulebooks/tejia/response-3min.rule")
    whole = lhrule.score(rb, EXAMPLE, start="2024-06-01", end="2024-06-30")
    stream = lhrule.score_stream(rb, EXAMPLE, "2024-06-01", "2024-06-30", days_at_a_time=days_at_a_time)
    parts = list(stream.parts())
    assert len(parts) == -(-30 // days_at_a_time)
    streamed = [r for part in parts for r in part]

    def actions(results):
        return [(r.shop_id, r.as_of, r.actions, r.action_since) for r in results]

    assert actions(streamed) == actions(whole.results)
    # actions in force across a part's first day, and from before the range, are among them
    assert any(since < dt.date(2024, 6, 1) for r in whole.results for since in r.action_since.values())
    assert any(r.as_of.day % 7 == 1 and since < r.as_of for r in whole.results for since in r.action_since.values())
    assert "".join(stream.json_chunks()) == json_text(whole.to_json())


def test_a_range_goes_in_parts_of_a_week_or_of_the_days_that_take_a_gib(at_root, monkeypatch):
    import lhrule.api

    # a day of lighthouse on the example data takes 130 shops × 12 × 4,000 bytes, 6.24 MB, by the estimate
    rb = lhrule.load("rulebooks/taobao/lighthouse.rule")
    monkeypatch.setattr(lhrule.api, "available_memory", lambda: 2**34)
    assert lhrule.score_stream(rb, EXAMPLE, "2024-06-01", "2024-06-30").days_at_a_time == 2**30 // 6_240_000
    monkeypatch.setattr(lhrule.api, "PART_BYTES", 10 * 6_240_000)
    stream = lhrule.score_stream(rb, EXAMPLE, "2024-06-01", "2024-06-30")
    assert stream.days_at_a_time == 10 and len(list(stream.parts())) == 3
    monkeypatch.setattr(lhrule.api, "PART_BYTES", 6_240_000)  # a day's worth: parts of a week all the same
    assert lhrule.score_stream(rb, EXAMPLE, "2024-06-01", "2024-06-30").days_at_a_time == 7
    # asked for, a size is kept
    assert lhrule.score_stream(rb, EXAMPLE, "2024-06-01", "2024-06-30", days_at_a_time=3).days_at_a_time == 3
    with pytest.raises(ValueError, match="days_at_a_time must be a whole number of days, 1 or more, not 0"):
        lhrule.score_stream(rb, EXAMPLE, "2024-06-01", "2024-06-30", days_at_a_time=0)



@pytest.mark.parametrize("kw,message", [
    ({}, "say which day to score: as_of=DATE, or start=DATE and end=DATE"),  # was "Invalid isoformat string: 'None'"
    ({"as_of": "2024-13-01"}, "as_of takes a date such as 2024-06-30 (a str or a datetime.date), not '2024-13-01'"),
    ({"start": "2024-06-30", "end": "2024-06-01"}, "end 2024-06-01 is before start 2024-06-30"),  # scored no day
    ({"as_of": "2024-06-30", "start": "2024-06-01", "end": "2024-06-02"}, "give as_of, or start and end, not both"),
    ({"as_of": "2024-06-30", "on_bad_rows": "skip"}, "on_bad_rows must be stop or quarantine, not 'skip'"),  # taken
])
def test_the_python_api_says_what_is_wrong_with_an_argument(kw, message, at_root):
    with pytest.raises(ValueError) as caught:
        lhrule.score("rulebooks/tejia/response-3min.rule", EXAMPLE, **kw)
    assert str(caught.value) == message

def test_flags_trace_every_event_of_a_shop(tour_run):
    flags = tour_run.flags("pickup_24h", shop="s000000")
    rows = flags.to_pylist()
    assert {"event_id", "in_window", "x_natural_disaster", "numerator", "eligible", "kept"} <= set(flags.column_names)
    kept = [r for r in rows if r["kept"]]
    res = next(r for r in tour_run.results if r.shop_id == "s000000")
    assert len(kept) == res.indicators["pickup_24h"].rows
    assert sum(r["numerator"] for r in kept) == res.indicators["pickup_24h"].hits
    assert any(not r["in_window"] for r in rows)


@pytest.mark.parametrize("path", ["rulebooks/examples/tour.rule", "tests/rulebooks/engine.rule",
                                  "rulebooks/taobao/lighthouse.rule", "rulebooks/tejia/response-3min.rule"])
def test_summing_per_day_counts_equals_judging_each_row_per_day(path, at_root):
    """The fast path for ranges (`query.slides`) gives the very counts of the plain one."""
    from lhrule.engine.data.dataset import connect, open_dataset
    from lhrule.ir.plan import plan_for
    from lhrule.engine.sql.queries import _aggregate, aggregate_query, flags_query, slides

    rb = _tests_of(Path(path))
    con = connect(rb)
    open_dataset(con, EXAMPLE, rb)
    day = dt.date(2024, 6, 30)
    plan = plan_for(rb, day)
    days = [day - dt.timedelta(days=i) for i in range(8)]
    fast = 0
    for ind in plan.indicators:
        quick = sorted(con.execute(aggregate_query(rb, plan, ind, days).sql("duckdb")).fetchall())
        plain = _aggregate(rb, plan, ind, flags_query(rb, plan, ind, days), ("shop_id", "as_of"))
        assert quick == sorted(con.execute(plain.sql("duckdb")).fetchall()), ind.name
        fast += slides(plan, ind, days)
    assert fast > 0


def test_indicators_with_one_key_counted_together_give_their_own_counts(at_root, tmp_path):
    """`fused_aggregate_query` (one scan and one grouping for the `once per` indicators of a
    table with the same key) gives each indicator the rows `aggregate_query` gives it. The
    two consultation indicators of basic-service, made to differ: another window, and an
    exclusion on one of them."""
    from lhrule.engine.data.dataset import connect, open_dataset
    from lhrule.ir.plan import plan_for
    from lhrule.engine.sql.queries import _aggregate, flags_query, fused_aggregate_query, fusion_key, split_fused

    shutil.copytree(ROOT / "rulebooks", tmp_path / "rulebooks")
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    path = tmp_path / "rulebooks" / "tmall" / "basic-service.rule"
    text = path.read_text(encoding="utf-8")
    window = "  window last 30 days on asked_at\n  where first_human_reply_at is not null"
    assert window in text
    text = text.replace(window, "  window last 7 days on asked_at\n  where first_human_reply_at is not null")
    text += '\nexclusion bot_first "a bot answered first"  {\n  applies to reply_rate\n' \
            '  when first_reply_kind = bot\n}\n'
    path.write_text(text, encoding="utf-8")
    rb = _tests_of(path)
    con = connect(rb)
    open_dataset(con, EXAMPLE, rb)
    plan = plan_for(rb, dt.date(2024, 6, 30))
    inds = [i for i in plan.indicators if i.name in ("reply_rate", "human_response_time")]
    assert plan.exclusions_of("reply_rate") and inds[0].window != inds[1].window
    for days in ([dt.date(2024, 6, 30)], [dt.date(2024, 6, 30), dt.date(2024, 6, 12), dt.date(2024, 5, 20)]):
        assert fusion_key(rb, plan, inds[0], days[:1]) == fusion_key(rb, plan, inds[1], days[:1]) is not None
        rows = con.execute(fused_aggregate_query(rb, plan, inds, days).sql("duckdb"))
        names = [d[0] for d in rows.description]
        fused = split_fused(inds, [dict(zip(names, r)) for r in rows.fetchall()])
        for ind in inds:
            plain = con.execute(_aggregate(rb, plan, ind, flags_query(rb, plan, ind, days, dedupe=False),
                                           ("shop_id", "as_of")).sql("duckdb"))
            names = [d[0] for d in plain.description]
            expected = [dict(zip(names, r)) for r in plain.fetchall()]
            key = lambda r: (r["shop_id"], r["as_of"])  # noqa: E731
            assert sorted(fused[ind.name], key=key) == sorted(expected, key=key), ind.name
            assert len(expected) > 100 and any(r["rows"] for r in expected)
        assert sum(r["x_bot_first"] for r in fused["reply_rate"]) > 0


def test_the_api_refuses_to_score_a_library(at_root):
    from lhrule.api import NotRunnable

    with pytest.raises(NotRunnable, match=r"rulebooks/common/events.rule declares no indicators: it is a library"):
        lhrule.score("rulebooks/common/events.rule", EXAMPLE, as_of="2024-06-30")


@pytest.mark.parametrize("path", ["rulebooks/taobao/lighthouse.rule", "rulebooks/tmall/basic-service.rule",
                                  "rulebooks/examples/tour.rule", "tests/rulebooks/engine.rule"])
def test_exists_as_a_semi_join_counts_what_exists_counts(path, at_root, monkeypatch):
    """`exists … where a.k = <the row's> and …` runs as `IN (SELECT …)` (sql.Compiler._semi_join);
    with EXISTS forced instead, every indicator's counts and every event's flags are the same,
    on single days and on ranges (where `as_of` joins the key)."""
    from lhrule.engine.data.dataset import connect, open_dataset
    from lhrule.ir.plan import plan_for
    from lhrule.engine.sql.queries import aggregate_query, flags_query
    from lhrule.engine.sql.expressions import Compiler

    rb = _tests_of(Path(path))
    con = connect(rb)
    open_dataset(con, EXAMPLE, rb)
    plan = plan_for(rb, dt.date(2024, 6, 30))

    def build() -> list[tuple[str, str]]:
        queries = []
        for days in ([dt.date(2024, 6, 30)], [dt.date(2024, 6, 30), dt.date(2024, 6, 20), dt.date(2024, 6, 11)]):
            for ind in plan.indicators:
                queries.append((aggregate_query(rb, plan, ind, days).sql("duckdb"), ind.name))
                queries.append((flags_query(rb, plan, ind, days[:1], ["s000001", "s000002"], whole_table=True)
                                .sql("duckdb"), ind.name))
        return queries

    semi = build()
    with monkeypatch.context() as m:
        m.setattr(Compiler, "_semi_join", lambda self, e: None)
        plain = [q for q, _ in build()]
    changed = 0
    for (fast, name), slow in zip(semi, plain):
        if fast != slow:
            changed += 1
            assert sorted(map(repr, con.execute(fast).fetchall())) == sorted(map(repr, con.execute(slow).fetchall())), name
    if "lighthouse" in path or "basic-service" in path:
        assert changed > 0
