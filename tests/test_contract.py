"""The contract's JSON (docs/contract.md) of every seed rulebook on the example data, pinned byte
for byte: a change to what `lhrule score --format json` writes shows in review. A day in force for
each rulebook of the standard schema (Douyin's reads its own tables), and a range for the one whose rules change within the data."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lhrule.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "contract"
CASES = [
    ("tejia/response-3min", ["--as-of", "2024-06-30"]),
    ("tmall/basic-service", ["--as-of", "2024-06-30"]),
    ("taobao/lighthouse", ["--as-of", "2024-06-30"]),
    ("examples/tour", ["--as-of", "2024-06-15"]),
    ("tejia/response-3min", ["--from", "2024-06-28", "--to", "2024-06-30"]),
]


@pytest.mark.parametrize("seed,days", CASES, ids=lambda c: c if isinstance(c, str) else "-".join(c[1::2]))
def test_the_score_json_of_every_seed_rulebook_is_pinned(seed, days, at_root, golden):
    result = CliRunner().invoke(app, ["score", f"rulebooks/{seed}.rule", "--data", "examples/data", *days,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    golden(GOLDEN / f"{seed.replace('/', '__')}.{'-'.join(days[1::2])}.json", result.stdout)


def test_the_rulebook_hash_is_of_the_rules_not_of_how_their_path_was_written(at_root, tmp_path, monkeypatch):
    import shutil

    import lhrule

    here = lhrule.load("rulebooks/tmall/basic-service.rule").hash
    assert lhrule.load(ROOT / "rulebooks" / "tmall" / "basic-service.rule").hash == here
    assert lhrule.load("rulebooks/tejia/../tmall/basic-service.rule").hash == here
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "rulebooks", copy / "rulebooks")
    (copy / "lhrule.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(copy)
    assert lhrule.load("rulebooks/tmall/basic-service.rule").hash == here  # the same rules elsewhere
    library = copy / "rulebooks" / "common" / "taobao-tmall.rule"
    library.write_text(library.read_text(encoding="utf-8") + "\n# one more line\n", encoding="utf-8")
    assert lhrule.load("rulebooks/tmall/basic-service.rule").hash != here  # an included file changed
