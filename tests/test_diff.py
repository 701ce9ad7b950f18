"""`lhrule diff`: rule changes and shop changes of two rulebooks on the same data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from typer.testing import CliRunner

from lhrule.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
DATA = str(ROOT / "examples" / "data")


def _versions(tmp_path: Path, change: tuple[str, str]) -> tuple[str, str]:
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    shutil.copytree(ROOT / "rulebooks" / "common", tmp_path / "common")
    (tmp_path / "tmall").mkdir()
    text = (ROOT / "rulebooks" / "tmall" / "basic-service.rule").read_text(encoding="utf-8")
    old, new = tmp_path / "tmall" / "old.rule", tmp_path / "tmall" / "new.rule"
    old.write_text(text, encoding="utf-8")
    assert change[0] in text
    new.write_text(text.replace(*change), encoding="utf-8")
    return str(old), str(new)


def test_a_reformatted_rulebook_changes_nothing(tmp_path):
    old, new = _versions(tmp_path, ("\n\n", "\n\n\n"))
    result = CliRunner().invoke(app, ["diff", old, new, "--data", DATA, "--as-of", "2024-06-30", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["rule_changes"] == [] and out["summary"]["moved"] == 0


def test_a_changed_cut_off_moves_shops_and_exits_1(tmp_path):
    old, new = _versions(tmp_path, ("param rank_excellent = 20%", "param rank_excellent = 25%"))
    args = ["diff", old, new, "--data", DATA, "--as-of", "2024-06-30", "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert [(r["change"], r["kind"], r["name"], r["fields"]) for r in out["rule_changes"]] == \
        [("changed", "param", "rank_excellent", ["value"])]
    assert out["summary"]["moved"] > 0
    assert all(float(s["delta"]) >= 0 for s in out["shops"] if s["delta"] is not None)  # a wider top band
    assert any(b["old"] == "良好" and b["new"] == "优秀" for s in out["shops"] for b in s["bands"].values())
    assert CliRunner().invoke(app, [*args, "--fail-on", "none"]).exit_code == 0


def test_diff_writes_one_row_per_shop(tmp_path):
    old, new = _versions(tmp_path, ("param rank_excellent = 20%", "param rank_excellent = 25%"))
    out = tmp_path / "changes.csv"
    result = CliRunner().invoke(app, ["diff", old, new, "--data", DATA, "--as-of", "2024-06-30", "--out", str(out)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 131 and lines[0].startswith('"shop_id","category","old_score","new_score","delta"')


# ---------------------------------------------------------------- hand-checked changes
#
# tests/rulebooks/diff/base.rule on four shops, scored as of 2024-06-30 (window: 06-20..06-29).
# Base figures: ontime ≥ 90% → 5, ≥ 70% → 3, else 0; volume ≥ 4 → 5, else 1; total = 50/50;
# grade A ≥ 4, B ≥ 2.5, else C.
#   a: 4 orders, none late          ontime 100% (5)  volume 4 (5)  total 5    A
#   b: 4 orders, 1 late             ontime 75%  (3)  volume 4 (5)  total 4    A
#   c: 2 orders, none late          ontime 100% (5)  volume 2 (1)  total 3    B
#   d: 3 orders, 2 late, excused    ontime 1/3  (0)  volume 3 (1)  total 0.5  C
#      and 2 more on 06-12, in time (outside 10 days, inside 20)

BASE = ROOT / "tests" / "rulebooks" / "diff" / "base.rule"
ORDERS = [("a", "06-21", 0, 0), ("a", "06-22", 0, 0), ("a", "06-25", 0, 0), ("a", "06-29", 0, 0),
          ("b", "06-20", 1, 0), ("b", "06-22", 0, 0), ("b", "06-23", 0, 0), ("b", "06-28", 0, 0),
          ("c", "06-24", 0, 0), ("c", "06-26", 0, 0),
          ("d", "06-21", 1, 1), ("d", "06-22", 1, 1), ("d", "06-27", 0, 0), ("d", "06-12", 0, 0),
          ("d", "06-12", 0, 0), ("a", "06-30", 1, 0)]  # the last is on T itself: outside every window


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("tiny")
    (data / "shops.csv").write_text("shop_id,main_category\na,书籍\nb,书籍\nc,食品\nd,食品\n", encoding="utf-8")
    rows = ["order_id,shop_id,paid_at,late,excused"] + [
        f"o{i},{shop},2024-{day} 10:00:00,{'true' if late else 'false'},{'true' if ex else 'false'}"
        for i, (shop, day, late, ex) in enumerate(ORDERS)]
    (data / "orders.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return data


def _edited(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = BASE.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "new.rule"
    path.write_text(text, encoding="utf-8")
    return path


def _diff(tmp_path, tiny, *edits, **kw):
    import lhrule

    run = lhrule.diff(BASE, _edited(tmp_path, *edits), tiny, "2024-06-30", **kw)
    out = run.to_json("old", "new")
    moves = {s["shop_id"]: (s["old_score"], s["new_score"], s["old_grade"], s["new_grade"]) for s in out["shops"]}
    because = {s["shop_id"]: {b["change"]: b["delta"] for b in s["because"]} for s in out["shops"]}
    return out, moves, because


def test_the_base_scores_are_the_hand_computed_ones(tiny):
    import lhrule

    run = lhrule.score(BASE, tiny, as_of="2024-06-30")
    got = {r.shop_id: (str(r.scores["total"].value), r.grades["level"].label) for r in run.results}
    assert got == {"a": ("5", "A"), "b": ("4", "A"), "c": ("3", "B"), "d": ("1/2", "C")}


def test_a_cut_off(tmp_path, tiny):
    out, moves, because = _diff(tmp_path, tiny, ("param good_line = 90%", "param good_line = 75%"))
    assert [(r["change"], r["kind"], r["name"], r["details"]) for r in out["rule_changes"]] == \
        [("changed", "param", "good_line", ["value: 90% → 75%"])]
    assert moves == {"b": ("4", "5", "A", "A")}  # 75% now meets the line
    assert out["shops"][0]["bands"] == {"ontime": {"old": "中", "new": "好"}}
    assert because == {"b": {"param good_line": "1"}}


def test_weights(tmp_path, tiny):
    out, moves, because = _diff(tmp_path, tiny, ("weights delivery 50%, sales 50%", "weights delivery 80%, sales 20%"))
    assert [(r["change"], r["kind"], r["name"], r["fields"]) for r in out["rule_changes"]] == \
        [("changed", "score", "total", ["weights"])]
    assert out["rule_changes"][0]["details"] == ["weights: delivery 50%; sales 50% → delivery 80%; sales 20%"]
    # b 3×.8+5×.2 = 3.4, c 5×.8+1×.2 = 4.2, d 0+1×.2 = 0.2
    assert moves == {"b": ("4", "3.4", "A", "B"), "c": ("3", "4.2", "B", "A"), "d": ("0.5", "0.2", "C", "C")}
    assert out["summary"]["grade_changed"] == 2
    assert {(t["old"], t["new"]): t["shops"] for t in out["summary"]["transitions"]} == \
        {("A", "A"): 1, ("A", "B"): 1, ("B", "A"): 1, ("C", "C"): 1}


def test_a_window(tmp_path, tiny):
    out, moves, _ = _diff(tmp_path, tiny, ("window last 10 days on paid_at\n  count",
                                           "window last 20 days on paid_at\n  count"))
    # both versions of volume read the window: the one in force, and the retired one from 07-01
    assert [(r["name"], r["details"]) for r in out["rule_changes"]] == [
        (name, ["window: window last 10 days on paid_at → window last 20 days on paid_at"])
        for name in ("volume (.. 2024-06-30)", "volume (2024-07-01 ..)")]
    assert moves == {"d": ("0.5", "2.5", "C", "B")}  # volume 5 with the two orders of 06-12


def test_an_exclusion_added(tmp_path, tiny):
    exclusion = ('exclusion excused "免责" {\n  applies to ontime\n  when excused\n'
                 '  cite "004_488914425fa82ce8.txt" "测试"\n}\n\ndimension delivery')
    out, moves, _ = _diff(tmp_path, tiny, ("\ndimension delivery", "\n" + exclusion))
    assert [(r["change"], r["kind"], r["name"], r["dimension"]) for r in out["rule_changes"]] == \
        [("added", "exclusion", "excused", "delivery")]
    assert moves == {"d": ("0.5", "3", "C", "B")}  # ontime 1/1 once the two late orders are excused


@pytest.mark.parametrize("edit", [("effective 2024-07-01", "effective 2024-06-01"),
                                  ("retire volume effective 2024-07-01 {", "revise volume effective 2024-06-01 {\n"
                                                                            "  display only")])
def test_retired_or_display_only_from_an_earlier_date(tmp_path, tiny, edit):
    out, moves, _ = _diff(tmp_path, tiny, edit)
    # sales has nothing assessed left: the score is delivery alone (a keeps 5; retired, its
    # volume loses its band, displayed it keeps it)
    assert {k: v for k, v in moves.items() if v[0] != v[1]} == {
        "b": ("4", "3", "A", "B"), "c": ("3", "5", "B", "A"), "d": ("0.5", "0", "C", "C")}
    assert ("a" in moves) == edit[0].startswith("effective")
    changes = [(r["change"], r["kind"], r["name"], r["fields"]) for r in out["rule_changes"]]
    if edit[0].startswith("effective"):  # the same two versions, the first ending a month sooner
        assert changes == [("changed", "indicator", "volume (.. 2024-05-31)", ["effective"]),
                           ("changed", "indicator", "volume (2024-06-01 ..)", ["effective"])]
        assert out["rule_changes"][1]["details"] == ["effective: 2024-07-01 .. → 2024-06-01 .."]
    else:
        assert changes == [("changed", "indicator", "volume (.. 2024-05-31)", ["effective"]),
                           ("display only", "indicator", "volume (2024-06-01 ..)", ["effective", "status"])]


def test_two_changes_are_attributed_one_at_a_time(tmp_path, tiny):
    out, moves, because = _diff(tmp_path, tiny, ("param good_line = 90%", "param good_line = 75%"),
                                ("weights delivery 50%, sales 50%", "weights delivery 80%, sales 20%"))
    assert moves == {"b": ("4", "5", "A", "A"), "c": ("3", "4.2", "B", "A"), "d": ("0.5", "0.2", "C", "C")}
    # b: the cut-off alone +1, the weights alone -0.6; together +1: the changes interact (+0.6)
    assert because["b"] == {"param good_line": "1", "score total": "-0.6"}
    assert next(s for s in out["shops"] if s["shop_id"] == "b")["interaction"] == "0.6"
    assert because["c"] == {"score total": "1.2"} and because["d"] == {"score total": "-0.3"}
    assert next(s for s in out["shops"] if s["shop_id"] == "c")["interaction"] is None
    assert "one-at-a-time" in out["attribution_note"]
    assert {a["change"]: (a["shops"], a["total_delta"], a["grade_changed"]) for a in out["summary"]["attribution"]} \
        == {"score total": (3, "0.3", 2), "param good_line": (1, "1", 0)}


def test_a_renamed_param_is_not_scored_on_its_own(tmp_path, tiny):
    # The param's old name removed, a new one added, the bands reading the new one, and the
    # weights changed beside them. Removing good_line alone left ontime_bands reading nothing:
    # "param good_line could not be scored on its own: KeyError: 'good_line'".
    out, moves, because = _diff(tmp_path, tiny, ("param good_line = 90%", "param ontime_line = 75%"),
                                ('"好" >= good_line', '"好" >= ontime_line'),
                                ("weights delivery 50%, sales 50%", "weights delivery 80%, sales 20%"))
    assert [(r["change"], r["kind"], r["name"]) for r in out["rule_changes"]] == [
        ("removed", "param", "good_line"), ("added", "param", "ontime_line"),
        ("changed", "band", "ontime_bands"), ("changed", "score", "total")]
    assert out["not_attributed"] == []
    # as test_two_changes_are_attributed_one_at_a_time: the bands now do what the cut-off did
    assert because["b"] == {"bands of ontime": "1", "score total": "-0.6"}
    assert {a["change"] for a in out["summary"]["attribution"]} == {"bands of ontime", "score total"}


def test_a_piped_diff_keeps_each_place_on_its_line(tmp_path, tiny):
    # Piped without COLUMNS, Rich folded the text at 80 columns: a change's file:line went to
    # the next line, and the summary ended on a line of its own.
    new = _edited(tmp_path, ("param good_line = 90%", "param ontime_line = 75%"),
                  ('"好" >= good_line', '"好" >= ontime_line'))
    result = CliRunner().invoke(app, ["diff", str(BASE), str(new), "--data", str(tiny), "--as-of", "2024-06-30"],
                                env={"COLUMNS": None})
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert f"    added    param ontime_line  {new}:23" in lines
    assert any(line.startswith("    removed  param good_line  ") and line.endswith("diff/base.rule:23")
               for line in lines)
    assert "shops: 1 of 4 moved, 0 changed grade; score change min 0, median 0, max 1; actions gained 0, lost 0" \
        in lines
    assert any("grade transitions (rows: old, columns: new)" in line for line in lines)  # wider than its table


def test_rules_as_of_two_days(tmp_path, tiny):
    import lhrule

    run = lhrule.diff(BASE, BASE, tiny, "2024-06-30", old_rules_as_of="2024-06-30", new_rules_as_of="2024-07-01")
    out = run.to_json("old", "new")
    assert [(r["change"], r["kind"], r["name"], r["fields"]) for r in out["rule_changes"]] == \
        [("retired", "indicator", "volume", ["status"])]
    assert {s["shop_id"]: s["new_score"] for s in out["shops"]} == {"a": "5", "b": "3", "c": "5", "d": "0"}



def test_a_long_condition_shows_what_was_taken_out_in_place(at_root):
    # 平台求助率 lost its second clause in 2023. Diffed word by word, the line read
    # "− (exists; + exists; − as_of) or (exists aftersale_tasks t where …; − and (t.completed_at …".
    import lhrule

    run = lhrule.diff("rulebooks/taobao/lighthouse.rule", "rulebooks/taobao/lighthouse.rule", DATA, "2024-06-30",
                      old_rules_as_of="2022-12-31", new_rules_as_of="2023-01-01", attribute=False)
    help_rate = next(r for r in run.to_json("old", "new")["rule_changes"] if r["name"] == "help_rate")
    assert help_rate["details"] == [
        "measure: rate where [-(-] exists help_requests h … h.created_at < as_of"
        "[-) or (exists aftersale_tasks t where t.order_id = order_id and t.due_…-]",
        # from 2023 the indicator extends the platform's metric: the rate is the library's
        "measure: now from rulebooks/common/taobao-tmall.rule:46"]

def test_diff_of_a_git_revision(tmp_path, tiny):
    import subprocess

    repo = tmp_path / "repo"
    (repo / "rules").mkdir(parents=True)
    rule = repo / "rules" / "x.rule"
    rule.write_text(BASE.read_text(encoding="utf-8"), encoding="utf-8")
    git = lambda *a: subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=repo,  # noqa: E731
                                    check=True, capture_output=True)
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "base")
    rule.write_text(BASE.read_text(encoding="utf-8").replace("good_line = 90%", "good_line = 75%"), encoding="utf-8")
    git("commit", "-qam", "lower the line")
    rule.write_text("not a rulebook at all", encoding="utf-8")  # the working tree is not read
    args = ["diff", f"{rule}@HEAD~1", f"{rule}@HEAD", "--data", str(tiny), "--as-of", "2024-06-30", "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert [(r["name"], r["details"], r["old"], r["new"]) for r in out["rule_changes"]] == \
        [("good_line", ["value: 90% → 75%"], "rules/x.rule:23", "rules/x.rule:23")]
    assert [s["shop_id"] for s in out["shops"]] == ["b"]
    bad = CliRunner().invoke(app, ["diff", f"{rule}@nosuchrev", f"{rule}@HEAD", "--data", str(tiny),
                                   "--as-of", "2024-06-30"])
    assert bad.exit_code == 2 and "'nosuchrev' is not a revision of this repository" in bad.output


def test_the_html_report_is_self_contained(tmp_path, tiny):
    page = tmp_path / "report.html"
    args = ["diff", str(BASE), str(_edited(tmp_path, ("weights delivery 50%, sales 50%",
                                                       "weights delivery 80%, sales 20%"))),
            "--data", str(tiny), "--as-of", "2024-06-30", "--html", str(page), "--fail-on", "grade"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") >= 3 and "<script" not in text and "http://" not in text.replace(
        "http://www.w3.org/2000/svg", "")
    assert "A → B: 1 shops" in text and "B → A: 1 shops" in text  # heat map cells
    assert "score total" in text


def test_usage_errors_exit_2(tiny):
    for args in (["diff", str(BASE), "--data", str(tiny), "--as-of", "2024-06-30"],
                 ["diff", str(BASE), str(BASE), "--rules-as-of", "2024-01-01", "--data", str(tiny),
                  "--as-of", "2024-06-30"],
                 ["diff", str(BASE), str(BASE), "--data", str(tiny)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)


def test_a_table_change_says_each_column_that_changed(tmp_path, monkeypatch):
    # The columns of a table were one long text, diffed word by word: "− presale};; + presale, refund};".
    from test_dataset import RULEBOOK, make

    make(tmp_path)
    new = RULEBOOK.replace("kind: enum {normal, presale}", "kind: enum {normal, presale, refund}") \
        .replace("amount: decimal", "amount: decimal?\n  note: string?")
    (tmp_path / "new.rule").write_text(new, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    args = ["diff", "mini.rule", "new.rule", "--data", "data", "--as-of", "2024-06-30"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(r["kind"], r["name"], r["details"]) for r in json.loads(result.stdout)["rule_changes"]] == [
        ("table", "orders", ["columns: kind: enum {normal, presale} → kind: enum {normal, presale, refund}",
                             "columns: amount: decimal → amount: decimal?", "columns: + note: string?"])]
    # A rulebook without a score: no score can change, and the summary says so.
    text = CliRunner().invoke(app, args).stdout
    assert "shops: 0 of 2 moved, 0 changed grade; no score changed; actions gained 0, lost 0" in text
