"""Diagnostics as data: every mistake a user can make in a rulebook becomes one of these.

They are collected (a file reports all its errors, not just the first) and rendered in one
place, `render`, with the source line and a caret underline. Each code is documented in
`CODES` with a one-line example; `docs/diagnostics.md` is generated from it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A place in a source file: 1-based line and column, end exclusive."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


Severity = Literal["error", "warning"]

# code -> (title, example of the mistake)
CODES: dict[str, tuple[str, str]] = {
    "E001": ("syntax error", "indicator x { window last }  # a window needs a length"),
    "E002": ("bad literal or character", 'param d = 2024-13-01  # there is no 13th month'),
    "E003": ("nested too deeply", "where a = 1 or a = 2 or … (hundreds of times)"),
    "E010": ("unknown name", "where respons_limit > 3m  # did you mean response_limit?"),
    "E011": ("duplicate definition", "two `indicator x` without effective ranges"),
    "E012": ("unknown table", "over consultation  # did you mean consultations?"),
    "E013": ("unknown column", "where askd_at > as_of  # did you mean asked_at?"),
    "E014": ("unknown relation", "refund.orderr.recv_region"),
    "E015": ("unknown type", "amount: money"),
    "E020": ("type or unit mismatch", "where first_reply_at - asked_at <= 40%"),
    "E021": ("operator does not apply to these types", "where asked_at * 2 > as_of"),
    "E022": ("unknown function or wrong arguments", "where time(asked_at, 3) > 08:00"),
    "E030": ("weights do not sum to 100%", "consult 20%, logistics 30%"),
    "E031": ("levels are not monotone", '"优秀" >= 80%  "良好" >= 90%'),
    "E032": ("overlapping effective ranges", "two versions both in force on 2023-01-01"),
    "E034": ("statement not allowed here", "window inside a bands declaration"),
    "E035": ("missing statement", "an indicator without `over`"),
    "E036": ("statement given twice", "two `window` lines in one indicator"),
    "E040": ("bad include", 'include "../../etc/passwd.rule"'),
    "E041": ("bad revision", "revise x effective 2020-01-01 before x is in force"),
    "E050": ("bad test", "expect x for \"s1\" = 3m  where x is a rate"),
    "E060": ("bad header", 'timezone "Mars/Olympus"'),
    "E061": ("bad range", "effective 2024-12-31 .. 2024-01-01"),
    "W001": ("declaration without a citation", "indicator x { ... }  # no cite"),
}


class Diagnostic(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity
    message: str
    span: Span
    notes: tuple[str, ...] = ()
    suggestion: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class CompileError(Exception):
    """Raised by API callers that want an exception instead of a diagnostics list."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        super().__init__(f"{first.span}: {first.message}" if first else "compile error")


class Reporter:
    """Collects diagnostics for one compilation."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span, *, notes: tuple[str, ...] = (),
              suggestion: str | None = None) -> None:
        self.items.append(Diagnostic(code=code, severity="error", message=message, span=span,
                                     notes=notes, suggestion=suggestion))

    def warning(self, code: str, message: str, span: Span, *, notes: tuple[str, ...] = (),
                suggestion: str | None = None) -> None:
        self.items.append(Diagnostic(code=code, severity="warning", message=message, span=span,
                                     notes=notes, suggestion=suggestion))

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        seen: set[tuple] = set()
        out = []
        for d in sorted(self.items, key=lambda d: (d.span.file, d.span.line, d.span.column, d.code)):
            key = (d.code, d.span, d.message)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out


def closest(name: str, candidates: list[str] | set[str]) -> str | None:
    """The candidate a typo most likely meant, or None when nothing is close."""
    import difflib

    found = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, candidates) -> str | None:
    found = closest(name, set(candidates))
    return f"did you mean `{found}`?" if found else None


LINE_SHOWN = 160  # characters of a source line shown under a diagnostic


def render(diag: Diagnostic, sources: dict[str, str]) -> str:
    """file:line:col: error[E013]: message, then the source line with a caret underline."""
    sp = diag.span
    out = [f"{sp.file}:{sp.line}:{sp.column}: {diag.severity}[{diag.code}]: {diag.message}"]
    text = sources.get(sp.file)
    if text is not None:
        lines = text.splitlines()
        if 1 <= sp.line <= len(lines):
            src = lines[sp.line - 1]
            gutter = f"{sp.line:>4} | "
            # A very long line is shown around the column, cut with … on the sides.
            start = max(0, min(sp.column - 1 - LINE_SHOWN // 4, len(src) - LINE_SHOWN)) if len(src) > LINE_SHOWN else 0
            head, tail = ("…" if start else ""), ("…" if start + LINE_SHOWN < len(src) else "")
            out.append(gutter + head + src[start:start + LINE_SHOWN] + tail)
            end = sp.end_column if sp.end_line == sp.line else len(src) + 1
            end = min(end, start + LINE_SHOWN + 1)
            width = max(1, end - sp.column)
            pad = len(head) + _display_width(src[start: sp.column - 1])
            carets = _display_width(src[sp.column - 1: sp.column - 1 + width]) or 1
            out.append(" " * (len(gutter) - 2) + "| " + " " * pad + "^" * carets)
    for note in diag.notes:
        out.append(f"     = note: {note}")
    if diag.suggestion:
        out.append(f"     = help: {diag.suggestion}")
    return "\n".join(out)


def _display_width(text: str) -> int:
    """Terminal columns: CJK and full-width characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def summary(diags: list[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) if parts else "no problems"
