"""Shared fixtures. `pytest --update-golden` rewrites the golden files; review them with git diff."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The compile cache of the tests is their own (CLI tests run in-process and in subprocesses).
os.environ["LHRULE_CACHE_DIR"] = tempfile.mkdtemp(prefix="lhrule-test-cache-")
atexit.register(shutil.rmtree, os.environ["LHRULE_CACHE_DIR"], ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from the current output")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture
def golden(request):
    """`golden(path, text)`: the output equals its golden file. A missing golden fails, with the
    command that writes it; only `--update-golden` writes one (review it with git diff)."""
    def check(path: Path, text: str) -> None:
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        elif not path.exists():
            pytest.fail(f"no golden file {path.relative_to(ROOT)}: write it with `python -m pytest --update-golden "
                        f"{request.node.nodeid}`, then read it before committing it", pytrace=False)
        assert text == path.read_text(encoding="utf-8")

    return check


@pytest.fixture
def at_root(monkeypatch) -> Path:
    """Run from the repository root, so file names in messages are stable relative paths."""
    monkeypatch.chdir(ROOT)
    return ROOT


SCHEMA = (ROOT / "rulebooks" / "common" / "events.rule").read_text(encoding="utf-8")


def compile_snippet(text: str):
    """Compile declarations placed after the standard schema (in one text, no include)."""
    from lhrule.compiler.compile import compile_text

    header = 'rulebook t "t" {\n  timezone "Asia/Shanghai"\n}\n'
    return compile_text(header + SCHEMA + "\n" + text, "t.rule")


def pytest_terminal_summary(terminalreporter):
    """How many inputs the fuzz tests tried (the property held for each, or the run failed)."""
    import sys

    fuzz = sys.modules.get("test_robustness")
    if fuzz is not None and fuzz.TRIED["rulebook texts"]:
        terminalreporter.write_line(f"fuzz: {fuzz.TRIED['rulebook texts']:,} rulebook texts compiled to a clean "
                                    f"compile or diagnostics")
