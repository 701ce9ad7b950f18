"""`lhrule diff`: rule changes and shop changes of two rulebooks on the same data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
