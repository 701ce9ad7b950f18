"""Hostile rulebooks: whatever the text, the compiler answers with diagnostics, never an
exception, and whatever compiles formats to text that compiles to the same rules."""

from __future__ import annotations


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT

SEEDS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "rulebooks").rglob("*.rule"))] + \
    [(ROOT / "tests" / "rulebooks" / "engine.rule").read_text(encoding="utf-8")]
PIECES = ["{", "}", "(", ")", '"', "#", "\n", " ", "..", "->", "%", "=", "<", ">=", "and", "or", "not", "in",
          "where", "rate", "window", "last", "days", "T-3", "0", "1.5", "99999999999999999999999", "-", "*", "/",
          "é", "\x00", "\t", "\r", "\u202e", "revise", "retire", "effective", "2024-02-30", "2024-01-01",
          "by rank within", "top", "otherwise", "test", "expect", "include", '"../../../etc/passwd.rule"']

# One edit: (kind, where, what) with where as a share of the text's length.
edit = st.tuples(st.sampled_from(["insert", "delete", "copy"]), st.floats(0, 1), st.integers(0, 10_000))


def mutate(text: str, edits) -> str:
    for kind, where, what in edits:
        pos = int(where * len(text))
        if kind == "insert":
            text = text[:pos] + PIECES[what % len(PIECES)] + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + 1 + what % 40:]
        else:
            start = what % (len(text) + 1)
            text = text[:pos] + text[start:start + 1 + what % 80] + text[pos:]
    return text


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SEEDS))), st.lists(edit, min_size=1, max_size=6))
def test_a_mangled_rulebook_gets_diagnostics_not_an_exception(seed, edits):
    from lhrule.engine.compile import compile_text
    from lhrule.engine.diagnostics import render

    text = mutate(SEEDS[seed], edits)
    result = compile_text(text, "f.rule")
    assert result.ok or any(d.is_error for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.span.line >= 1 and d.span.column >= 1
        render(d, {"f.rule": text})  # every diagnostic can be shown with its source line


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
