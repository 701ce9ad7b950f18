"""AST → IR: names, types and units, versions, and the rulebook-wide checks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from decimal import Decimal

import pytest

from conftest import ROOT, compile_snippet

INDICATOR = """
indicator reply "回复" {
  over consultations
  window last 30 days on asked_at
  rate where first_reply_at is not null
  cite "s" "q"
}
"""


def errors(text: str) -> list[str]:
    result = compile_snippet(text)
    return [f"{d.code} {d.message}" for d in result.diagnostics if d.is_error]


def test_a_clean_indicator_compiles_to_typed_ir():
    result = compile_snippet(INDICATOR + 'param limit = 3 minutes { cite "s" "q" }\n')
    assert result.ok, result.diagnostics
    rb = result.rulebook
    ind = rb.indicators[0]
    assert (ind.table, ind.window.start_offset, ind.window.end_offset, ind.window.column) == ("consultations", 30, 1, "asked_at")
    assert ind.measure.kind == "rate" and ind.measure.expr.kind == "is_null"
    assert rb.params[0].value.value == Decimal(180) and rb.params[0].type.name == "duration"
    assert rb.timezone == "Asia/Shanghai" and rb.entity == "shops"


@pytest.mark.parametrize("literal,value", [("40%", Decimal("0.4")), ("30 evaluations", Decimal(30)), ("24h", Decimal(86400)),
                                           ("1.5 days", Decimal(129600)), ("0.1", Decimal("0.1"))])
def test_literals_are_exact(literal, value):
    result = compile_snippet(f'param p = {literal} {{ cite "s" "q" }}\n')
    assert result.rulebook.params[0].value.value == value


def test_timestamp_with_offset_is_converted_to_the_rulebook_zone():
    result = compile_snippet(INDICATOR + 'test "t" {\n  as of 2024-06-11\n  given consultations { asked_at: 2024-06-10T14:58:00Z }\n'
                             '  expect reply for "s1" = 1 / 1\n}\n')
    row = result.rulebook.tests[0].given[0].rows[0]
    assert row.values["asked_at"].value == dt.datetime(2024, 6, 10, 22, 58)


@pytest.mark.parametrize("snippet,expected", [
    ('indicator x { over orders window last 30 days on paid_at rate where picked_up_at - paid_at <= 40% }',
     "E020 cannot compare a duration `picked_up_at - paid_at` with a percentage `40%`"),
    ('indicator x { over orders window last 30 days on paid_at rate where amount }',
     "E020 the condition of a rate must be a condition (true or false), not a number `amount`"),
    ('indicator x { over orders window last 30 days on paid_at rate where order.x = 1 }',
     "E013 unknown name `order` in orders"),
    ('indicator x { over refunds window last 30 days on requested_at rate where order.recv_regon = "浙江" }',
     "E013 orders has no column `recv_regon`"),
    ('indicator x { over refunds window last 30 days on requested_at rate where kind = refund }',
     "E010 `refund` is not one of the values refund_only, return_refund"),
    ('indicator x { over refunds window last 30 days on requested_at rate where kind = "refund" }',
     'E010 "refund" is not one of the values refund_only, return_refund'),
    ('indicator x { over orders window last 30 days on paid_at rate where time(paid_at, 1) > 08:00 }',
     "E022 time() takes one timestamp, got a timestamp, a number"),
    ('indicator x { over orders window last 30 days on paid_at rate where lenght(buyer_id) > 1 }',
     "E022 unknown function `lenght`"),
    ('indicator x { over orders window last 30 days on paid_at average paid_at }',
     "E020 `average` needs a number or a duration, not a timestamp `paid_at`"),
    ('indicator x { over orders window last 30 days on paid_at }',
     "E035 indicator `x` does not say what it measures: add `rate where …`, `average …`, `total …` or `count`"),
    ('indicator x { over orders rate where true count }', "E036 `measure (rate, average, total, count)` is given twice in indicator `x`"),
    ('indicator x { over orders window last 30 days on paid_at count round 2 weights a 1% }',
     "E034 `weights` does not belong in an indicator declaration"),
    ('indicator x { over force_majeure window last 30 days on starts_on count }',
     "E014 force_majeure has no relation to the entity table shops, so its rows cannot be counted per shops"),
    ('table t { a: money }', "E015 unknown type `money`"),
    ('table t { a: id -> nowhere }', "E012 t.a relates to an unknown table `nowhere`"),
    ('param p = 1\nparam p = 2', "E011 param `p` is defined twice"),
    ('param p = 1\nindicator p { over orders window previous day on paid_at count }', "E011 `p` is already defined as a param"),
])
def test_mistakes_have_exact_messages(snippet, expected):
    assert expected in errors(snippet + "\n")


def test_weights_must_sum_to_one_hundred_percent_exactly():
    text = INDICATOR.replace("over consultations", "dimension d\n  over consultations") + \
        'dimension d "D" {\n  weights reply 100%\n  cite "s" "q"\n}\n' \
        'score s "S" {\n  weights d 33.33%, reply 66.66%\n  cite "s" "q"\n}\n'
    assert errors(text) == ["E030 the weights of score s sum to 99.99%, not 100%"]



@pytest.mark.parametrize("cut,shown", [("90", "9000%"), ("190%", "190%")])
def test_a_rate_cut_off_outside_zero_to_one_hundred_percent_is_an_error(cut, shown):
    # `>= 90` for `>= 90%` compiled, and no shop could ever reach the level
    text = INDICATOR + f'bands b of reply {{\n  "好" >= {cut} -> 5\n  "差" otherwise -> 0\n}}\n'
    assert errors(text) == [f'E033 the cut-off of "好" is {shown}, but indicator reply is a rate, between 0% and 100%']
    edges = 'bands b of reply {\n  "好" >= 100% -> 5\n  "中" >= 0% -> 3\n  "差" otherwise -> 0\n}\n'
    assert errors(INDICATOR + edges) == []

def test_bands_must_cut_the_way_the_indicator_is_better():
    text = INDICATOR + 'bands b of reply {\n  "好" <= 80% -> 5\n  "差" otherwise -> 0\n}\n'
    assert errors(text) == ["E031 indicator reply is better when higher, so its levels are cut with >= or >, "
                            "best first; `<=` reads the other way"]


def test_revise_starts_a_new_version_and_ends_the_old_one():
    text = INDICATOR + 'revise reply effective 2023-01-01 {\n  min sample 30\n  cite "000" "30条以上"\n}\n'
    rb = compile_snippet(text).rulebook
    old, new = rb.indicators
    assert (old.effective.start, old.effective.end) == (None, dt.date(2022, 12, 31))
    assert (new.effective.start, new.effective.end) == (dt.date(2023, 1, 1), None)
    assert old.min_sample is None and new.min_sample.value == 30
    assert [c.source for c in new.cites] == ["000", "s"]


def test_retire_with_except_keeps_the_indicator_for_some_shops():
    text = INDICATOR + 'retire reply effective 2023-01-01 {\n  except main_category in {"家具"}\n  cite "s" "q"\n}\n'
    rb = compile_snippet(text).rulebook
    assert [i.status for i in rb.indicators] == ["assessed", "retired"]
    assert rb.indicators[1].retired_except.kind == "in" and rb.indicators[1].only_for is None


def test_overlapping_versions_are_reported():
    text = INDICATOR.replace("cite", "effective 2023-01-01 .. 2023-12-31\n  cite") + \
        INDICATOR.replace("cite", "effective 2023-06-01 ..\n  cite")
    assert errors(text) == ["E032 two versions of indicator `reply` are both in force on 2023-06-01"]


def test_missing_citation_is_a_warning():
    result = compile_snippet(INDICATOR.replace('  cite "s" "q"\n', ""))
    assert result.ok
    assert [(d.code, d.message) for d in result.diagnostics] == [("W001", "indicator `reply` cites no policy text")]


# ---------------------------------------------------------------- the compile cache

def test_a_cached_compile_is_the_compile_and_an_edited_include_is_read_again(tmp_path, monkeypatch):
    from lhrule.compiler import cache
    from lhrule.compiler.compile import compile_rulebook

    monkeypatch.setenv("LHRULE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    (tmp_path / "common").mkdir()
    schema = (ROOT / "rulebooks" / "common" / "events.rule").read_text(encoding="utf-8")
    (tmp_path / "common" / "events.rule").write_text(schema, encoding="utf-8")
    (tmp_path / "tejia").mkdir()
    main = tmp_path / "tejia" / "r.rule"
    main.write_text((ROOT / "rulebooks" / "tejia" / "response-3min.rule").read_text(encoding="utf-8"),
                    encoding="utf-8")
    first = compile_rulebook(Path("tejia/r.rule"))
    assert first.ok and len(list((tmp_path / "cache").rglob("*"))) >= 2  # an entry was written
    assert cache.lookup(Path("tejia/r.rule"), None) is not None
    again = compile_rulebook(Path("tejia/r.rule"))
    assert again.rulebook == first.rulebook and again.diagnostics == first.diagnostics
    # the include changes: the entry no longer matches, and the compile sees the change
    (tmp_path / "common" / "events.rule").write_text(schema.replace("sub_account: string", "sub_account: strin"),
                                                     encoding="utf-8")
    assert cache.lookup(Path("tejia/r.rule"), None) is None
    broken = compile_rulebook(Path("tejia/r.rule"))
    assert not broken.ok and any("strin" in d.message for d in broken.diagnostics)


def test_a_cached_ir_that_cannot_be_read_is_compiled_again(tmp_path, monkeypatch, at_root):
    from lhrule.compiler import cache
    from lhrule.compiler.compile import compile_rulebook

    monkeypatch.setenv("LHRULE_CACHE_DIR", str(tmp_path / "cache"))
    path = Path("rulebooks/tejia/response-3min.rule")
    first = compile_rulebook(path)
    [entry] = [f for f in (tmp_path / "cache" / "compiled").rglob("*") if f.is_file()]
    head, meta, ir = entry.read_bytes().split(b"\n")
    assert cache._ir_reader(ir)() == first.rulebook  # the IR is kept apart from the diagnostics
    body = meta + b"\n" + ir[:-40]  # damaged, under a checksum that matches
    header = {**json.loads(head), "sha256": cache.digest(body)}
    entry.write_bytes(json.dumps(header).encode() + b"\n" + body)
    again = compile_rulebook(path)
    assert again.ok and again.diagnostics == first.diagnostics  # read without the IR
    assert again.rulebook == first.rulebook


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch, at_root):
    from lhrule.compiler.compile import compile_rulebook

    monkeypatch.setenv("LHRULE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LHRULE_CACHE", "off")
    assert compile_rulebook(Path("rulebooks/tejia/response-3min.rule")).ok
    assert not (tmp_path / "cache").exists()
