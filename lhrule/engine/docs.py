"""Documentation generated from the code, so it cannot drift: `python -m lhrule.engine.docs`."""

from __future__ import annotations

from lhrule.engine.diagnostics import CODES


def diagnostics_markdown() -> str:
    lines = ["# Diagnostics", "",
             "Every mistake `lhrule check` reports has a code. Errors (E) stop a rulebook from being "
             "scored; warnings (W) do not (`lhrule check --strict` fails on them too).", "",
             "| code | what | example of the mistake |", "| --- | --- | --- |"]
    for code, (title, example) in CODES.items():
        escaped = example.replace("|", "\\|")
        lines.append(f"| {code} | {title} | `{escaped}` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(diagnostics_markdown(), end="")
