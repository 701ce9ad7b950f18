"""Hostile rulebooks: whatever the text, the compiler answers with diagnostics, never an
exception, and whatever compiles formats to text that compiles to the same rules.

The inputs: random text, random edits of every rulebook in the repository (pieces of the
language, full-width punctuation and Chinese inserted; characters, spans and whole tokens
deleted, duplicated and swapped; truncations), deep nesting and very long files. The count
tried is printed at the end of the run; `python tests/fuzz.py --examples N` runs longer.
"""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT

SEED_FILES = sorted((ROOT / "rulebooks").rglob("*.rule")) + [ROOT / "tests" / "rulebooks" / "engine.rule"]
SEEDS = [p.read_text(encoding="utf-8") for p in SEED_FILES]
PIECES = ["{", "}", "(", ")", '"', "#", "\n", " ", "..", "->", "%", "=", "<", ">=", "and", "or", "not", "in",
          "where", "rate", "window", "last", "days", "T-3", "0", "1.5", "99999999999999999999999", "-", "*", "/",
          "é", "\x00", "\t", "\r", "\u202e", "revise", "retire", "effective", "2024-02-30", "2024-01-01",
          "by rank within", "top", "otherwise", "test", "expect", "include", '"../../../etc/passwd.rule"',
          # full-width punctuation and Chinese, as typed with a Chinese input method
          "，", "：", "（", "）", "“", "”", "；", "。", "【", "】", "　", "％", "＝", "＞", "≥", "旺旺回复率", "小时", "天"]
TOKEN = re.compile(r"\s+|\w+|\S")

# One edit: (kind, where, what) with where as a share of the text's length (or token count).
edit = st.tuples(st.sampled_from(["insert", "delete", "copy", "truncate", "drop token", "double token",
                                  "swap tokens"]), st.floats(0, 1), st.integers(0, 10_000))
TRIED = {"rulebook texts": 0}  # printed by conftest at the end of the run


def mutate(text: str, edits) -> str:
    for kind, where, what in edits:
        pos = int(where * len(text))
        if kind == "insert":
            text = text[:pos] + PIECES[what % len(PIECES)] + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + 1 + what % 40:]
        elif kind == "copy":
            start = what % (len(text) + 1)
            text = text[:pos] + text[start:start + 1 + what % 80] + text[pos:]
        elif kind == "truncate":
            text = text[:pos]
        else:
            tokens = TOKEN.findall(text)
            if len(tokens) < 2:
                continue
            i = min(int(where * len(tokens)), len(tokens) - 2)
            if kind == "drop token":
                del tokens[i]
            elif kind == "double token":
                tokens.insert(i, tokens[i])
            else:
                tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
            text = "".join(tokens)
    return text


def compiles_or_explains(text: str) -> None:
    """The property: a clean compile, or errors that each name a place in the text; any
    exception escaping is an internal error, and fails."""
    from lhrule.compiler.compile import compile_text
    from lhrule.diagnostics import render

    TRIED["rulebook texts"] += 1
    result = compile_text(text, "f.rule")
    assert result.ok or any(d.is_error for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.span.line >= 1 and d.span.column >= 1
        render(d, {"f.rule": text})  # every diagnostic can be shown with its source line


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SEEDS))), st.lists(edit, min_size=1, max_size=6))
def test_a_mangled_rulebook_gets_diagnostics_not_an_exception(seed, edits):
    compiles_or_explains(mutate(SEEDS[seed], edits))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_gets_diagnostics_not_an_exception(text):
    compiles_or_explains(text)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=60))
def test_random_pieces_of_the_language_get_diagnostics(pieces):
    compiles_or_explains(" ".join(pieces))


def test_deep_nesting_and_very_long_files():
    seed = SEEDS[-1]
    marker = "rate where"
    assert marker in seed
    for depth in (50, 150, 5000):
        chain = " and ".join(["true"] * depth)
        compiles_or_explains(seed.replace(marker, f"rate where {chain} and", 1))
        compiles_or_explains(seed.replace(marker, "rate where " + "(" * depth + "true" + ")" * depth + " and", 1))
        compiles_or_explains(seed.replace(marker, "rate where " + "not " * depth + "false and", 1))
    long = "\n".join(SEEDS * 5)  # 40 rulebooks in one file: every name defined again
    compiles_or_explains(long)
    compiles_or_explains("#" * 1_000_000)
    compiles_or_explains("indicator x {\n" * 2000)


def test_a_file_too_large_to_compile_is_refused_at_once(tmp_path):
    """Parsing takes about 6 s and 140 MB per MB of rules: past 2 MB a file is refused."""
    import time

    from typer.testing import CliRunner

    from lhrule.cli.main import app
    from lhrule.compiler.compile import compile_text

    huge = "# generated\n" * 300_000  # 3.4 MB
    start = time.perf_counter()
    result = compile_text(huge, "huge.rule")
    assert [(d.code, d.message) for d in result.diagnostics] == [
        ("E004", "huge.rule is 3.4 MB: a rulebook holds at most 2 MB")]
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    (tmp_path / "huge.rule").write_text(huge, encoding="utf-8")
    out = CliRunner().invoke(app, ["check", str(tmp_path / "huge.rule")])
    assert out.exit_code == 1 and "error[E004]: " in out.output and "a rulebook file holds at most 2 MB" in out.output
    assert time.perf_counter() - start < 5  # refused before parsing


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SEEDS))), st.lists(edit, min_size=1, max_size=3))
def test_what_compiles_formats_to_the_same_rules(seed, edits):
    from test_format import _ir

    from lhrule.grammar.format import format_file
    from lhrule.grammar.parser import parse

    text = mutate(SEEDS[seed], edits)
    before = _ir(text, "f.rule")
    if before is None:
        return
    tree, _ = parse(text, "f.rule")
    formatted = format_file(tree)
    assert _ir(formatted, "f.rule") == before
    again, _ = parse(formatted, "f.rule")
    assert format_file(again) == formatted


INJECTION = r'''rulebook inj "inj" {
  timezone "Asia/Shanghai"
  cite "s" "'); DROP TABLE t_group; --"
}

entity shops "店铺" {
  shop_id: id key
}

table group "SQL keywords as names" {
  order_id: id key
  shop_id: id -> shops
  paid_at: timestamp
  select: string?
  note: string?
}

indicator drop "'; DELETE FROM t_shops; --" {
  over group
  window last 30 days on paid_at
  rate where note = "'; DROP TABLE t_group; --" or select = "a\\b\"c" or note = "x<NUL>y"
  cite "s" "q"
}
'''


def test_strings_and_names_that_look_like_sql_are_data(tmp_path):
    """Quotes, semicolons, comments, backslashes and a NUL in the rules' strings, and SQL
    keywords as table and column names, reach SQL as literals and quoted identifiers: the
    rows whose values equal those strings are the ones counted, and nothing else happens."""
    import hashlib

    import lhrule
    from lhrule.ir.plan import plan_for
    from lhrule.engine.sql.queries import aggregate_query

    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    rule = tmp_path / "inj.rule"
    rule.write_text(INJECTION.replace("<NUL>", "\x00"), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    (data / "shops.csv").write_text("shop_id\ns1\n", encoding="utf-8")
    (data / "group.csv").write_text(
        "order_id,shop_id,paid_at,select,note\n"
        "o1,s1,2024-06-10 10:00:00,,\"'; DROP TABLE t_group; --\"\n"
        "o2,s1,2024-06-10 10:00:00,\"a\\b\"\"c\",\n"
        "o3,s1,2024-06-10 10:00:00,,\"x\x00y\"\n"
        "o4,s1,2024-06-10 10:00:00,,\"'; DROP TABLE t_group; -- \"\n", encoding="utf-8")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir()}
    rb = lhrule.load(rule)
    sql = aggregate_query(rb.ir, plan_for(rb.ir, dt.date(2024, 6, 30)), rb.ir.indicators[0],
                          [dt.date(2024, 6, 30)]).sql(dialect="duckdb")
    assert "'''; DROP TABLE t_group; --'" in sql and "'a\\b\"c'" in sql
    assert '"select"' in sql and "t_group" in sql
    run = lhrule.score(rb, data, as_of="2024-06-30")
    shop = run.to_json()["shops"][0]["indicators"]["drop"]
    assert (shop["numerator"], shop["denominator"]) == (3, 4)  # o1, o2 and o3 match; o4 has a trailing space
    assert shop["label"] == "'; DELETE FROM t_shops; --"
    assert run.con.execute("SELECT COUNT(*) FROM t_group").fetchone()[0] == 4
    assert run.con.execute("SELECT COUNT(*) FROM t_shops").fetchone()[0] == 1
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir()} == before
