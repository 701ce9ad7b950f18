"""Rule fidelity: the generated list of assumptions, `explain` showing them, and the schema
additions reading data that lacks them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lhrule.cli.main import app
from lhrule.docs import REGENERATE, assumptions_markdown, readme_section, write_assumptions

ROOT = Path(__file__).resolve().parent.parent
RULEBOOKS = ROOT / "rulebooks"


def test_the_readme_lists_every_assumption_of_the_rulebooks():
    section = readme_section((RULEBOOKS / "README.md").read_text(encoding="utf-8"))
    assert section is not None, f"rulebooks/README.md has no generated list of assumptions: run `{REGENERATE}`"
    assert section == assumptions_markdown(RULEBOOKS), f"rulebooks/README.md's assumptions are stale: run `{REGENERATE}`"


def test_the_generated_list_names_each_assumption_with_its_declaration_and_line():
    text = assumptions_markdown(RULEBOOKS)
    # the reading of 人工 (issue item 2) and of the first day of D (issue item 6)
    human = next(line for line in text.splitlines() if "人工 is read as the public pages count it" in line)
    assert human.startswith("| `indicator human_response_3min` | ")
    line = int(human.split("|")[2])
    source = (RULEBOOKS / "taobao" / "service-standard-2024.rule").read_text(encoding="utf-8").splitlines()
    assert source[line - 1].strip().startswith('assumption "人工 is read as')
    assert "| `rulebook tejia_response_3min` (header) |" in text
    assert "### `taobao/lighthouse.rule` (" in text


def test_a_stale_list_is_rewritten_in_place_and_a_missing_one_is_refused(tmp_path):
    folder = tmp_path / "rulebooks"
    shutil.copytree(RULEBOOKS, folder)
    readme = folder / "README.md"
    (folder / "tejia" / "response-3min.rule").write_text(
        (folder / "tejia" / "response-3min.rule").read_text(encoding="utf-8").replace(
            'assumption "a day without consultations', 'assumption "NEW: a day without consultations'),
        encoding="utf-8")
    assert readme_section(readme.read_text(encoding="utf-8")) != assumptions_markdown(folder)
    assert write_assumptions(folder) is True
    assert "NEW: a day without consultations" in readme_section(readme.read_text(encoding="utf-8"))
    assert write_assumptions(folder) is False
    assert not list(folder.glob("README.md.tmp"))
    readme.write_text("# Rulebooks\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no generated section"):
        write_assumptions(folder)


def test_explain_shows_the_assumptions_of_an_indicator(at_root, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    args = ["explain", "s000001", "--rulebook", "rulebooks/tejia/response-3min.rule", "--data", "examples/data",
            "--as-of", "2024-06-30", "--events", "1"]
    shops = json.loads(CliRunner().invoke(app, ["score", "rulebooks/tejia/response-3min.rule", "--data",
                                                "examples/data", "--as-of", "2024-06-30", "--format", "json"]).output)
    tejia = next(s["shop_id"] for s in shops["shops"] if s["indicators"]["response_3min"]["assessed"])
    args[1] = tejia
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "assumption 咨询人次按子账号去重 is read as one count per buyer and sub-account" in text.output
    tree = json.loads(CliRunner().invoke(app, [*args, "--format", "json"]).output)

    def nodes(n):
        yield n
        for c in n["children"]:
            yield from nodes(c)

    indicator = next(n for n in nodes(tree) if n["kind"] == "indicator")
    assert any(a.startswith("咨询人次按子账号去重") for a in indicator["assumptions"])
    action = next(n for n in nodes(tree) if n["kind"] == "action")
    assert action["assumptions"] == ["a day without consultations has no rate, so it neither starts nor lifts the "
                                     "penalty; the seed lifts it only when the rate is back at 40% (直至…恢复至40%及以上)"]


# ------------------------------------------------------------------- metrics defined once

def _library_changed(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    """Two copies of the rulebooks, the second with the library's text changed."""
    before, after = tmp_path / "before", tmp_path / "after"
    for folder in (before, after):
        shutil.copytree(RULEBOOKS, folder)
        (folder / "lhrule.toml").write_text("", encoding="utf-8")
    library = after / "common" / "taobao-tmall.rule"
    text = library.read_text(encoding="utf-8")
    assert old in text
    library.write_text(text.replace(old, new), encoding="utf-8")
    return before, after


def test_diff_attributes_a_change_of_the_library_to_every_rulebook_using_it(tmp_path):
    before, after = _library_changed(tmp_path, "rate where picked_up_at - paid_at <= 24 hours",
                                     "rate where picked_up_at - paid_at <= 48 hours")
    moved = {}
    for rulebook in ("taobao/lighthouse.rule", "tmall/basic-service.rule", "taobao/service-standard-2024.rule"):
        result = CliRunner().invoke(app, ["diff", str(before / rulebook), str(after / rulebook), "--data",
                                          "examples/data", "--as-of", "2024-06-30", "--format", "json",
                                          "--fail-on", "none"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        moved[rulebook] = out["summary"]["moved"]
        changes = [(r["kind"], r["name"], r["fields"]) for r in out["rule_changes"]]
        if rulebook.endswith("service-standard-2024.rule"):  # C does not use the pickup metric
            assert changes == []
            continue
        assert changes == [("indicator", "pickup_24h", ["measure"])]
        details = out["rule_changes"][0]["details"]
        assert details[0] == ("measure: rate where picked_up_at - paid_at <= 24 hours → rate where picked_up_at - "
                              "paid_at <= 48 hours")
        assert any(d.startswith("measure: now from ") and "common/taobao-tmall.rule:12" in d for d in details)
        # the indicator is the rulebook's own declaration; its statement is the library's
        assert out["rule_changes"][0]["new"].endswith(f"{rulebook}:{_line_of(after / rulebook, 'indicator pickup_24h')}")
    assert moved["taobao/lighthouse.rule"] > 0 and moved["tmall/basic-service.rule"] > 0


def _line_of(path: Path, start: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(start))


def test_an_exclusion_of_a_metric_applies_to_every_indicator_extending_it(at_root):
    from lhrule.compiler.compile import compile_rulebook

    rb = compile_rulebook(Path("tests/golden/good/metrics.rule")).rulebook
    assert [i.name for i in rb.indicators] == ["pickup_a", "pickup_b"]
    assert [(x.name, x.applies_to) for x in rb.exclusions] == [("never_picked", ("pickup_a", "pickup_b"))]
    a, b = rb.indicators
    assert (a.label, b.label) == ("24小时揽收及时率", "48小时揽收及时率")
    assert a.window == b.window and a.measure != b.measure
    assert [c.quote for c in b.cites] == ["z", "y"]  # its own first, then the metric's
    # the library's exclusions of the metrics C does not extend (揽收, 纠纷退款率) are not C's
    c = compile_rulebook(Path("rulebooks/taobao/service-standard-2024.rule")).rulebook
    assert [x.name for x in c.exclusions] == []
    b_rules = compile_rulebook(Path("rulebooks/tmall/basic-service.rule")).rulebook
    assert sorted((x.name, x.applies_to) for x in b_rules.exclusions) == [
        ("disaster_pickup", ("pickup_24h",)), ("dispute_refund_appeal", ("dispute_refund_rate",)),
        ("force_majeure_appeal", ("pickup_24h",))]


def test_a_library_checked_alone_checks_its_metrics(tmp_path):
    from lhrule.compiler.compile import compile_rulebook

    folder = tmp_path / "rulebooks"
    shutil.copytree(RULEBOOKS, folder)
    (folder / "lhrule.toml").write_text("", encoding="utf-8")
    library = folder / "common" / "taobao-tmall.rule"
    library.write_text(library.read_text(encoding="utf-8").replace("window last 30 days on rated_at",
                                                                   "window last 30 days on rated"), encoding="utf-8")
    result = compile_rulebook(library)
    assert [(d.code, d.span.line, d.message) for d in result.diagnostics if d.is_error] == [
        ("E013", _line_of(library, "  window last 30 days on rated"), "ratings has no column `rated`")]
    # … and a rulebook using the metric reports the same place, in the library
    used = compile_rulebook(folder / "taobao" / "service-standard-2024.rule")
    assert ("E013", True, _line_of(library, "  window last 30 days on rated")) in [
        (d.code, d.span.file.endswith("common/taobao-tmall.rule"), d.span.line) for d in used.diagnostics]


def test_a_version_date_named_once_is_changed_in_one_line(tmp_path):
    from lhrule.compiler.compile import compile_rulebook

    folder = tmp_path / "rulebooks"
    shutil.copytree(RULEBOOKS, folder)
    (folder / "lhrule.toml").write_text("", encoding="utf-8")
    a = folder / "taobao" / "lighthouse.rule"

    def statuses() -> list[tuple[str, object, object, str]]:
        rb = compile_rulebook(a).rulebook
        return [(i.name, i.effective.start, i.effective.end, i.status) for i in rb.indicators
                if i.name in ("refund_handling_time", "aftersale_task_time")]

    import datetime as dt
    day = dt.date
    assert statuses() == [
        ("refund_handling_time", day(2023, 1, 1), day(2024, 11, 30), "assessed"),
        ("refund_handling_time", day(2024, 12, 1), None, "display_only"),
        ("aftersale_task_time", day(2023, 1, 1), day(2024, 11, 30), "assessed"),
        ("aftersale_task_time", day(2024, 12, 1), None, "display_only")]
    text = a.read_text(encoding="utf-8")
    assert text.count("param display_only_from = 2024-12-01 {") == 1
    a.write_text(text.replace("param display_only_from = 2024-12-01 {", "param display_only_from = 2025-06-01 {"),
                 encoding="utf-8")
    assert statuses() == [
        ("refund_handling_time", day(2023, 1, 1), day(2025, 5, 31), "assessed"),
        ("refund_handling_time", day(2025, 6, 1), None, "display_only"),
        ("aftersale_task_time", day(2023, 1, 1), day(2025, 5, 31), "assessed"),
        ("aftersale_task_time", day(2025, 6, 1), None, "display_only")]
