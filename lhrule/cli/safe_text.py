"""Text from data or rulebooks as a terminal shows it: never acted on as control codes.

Imported by every command for its messages, so it imports nothing heavy (not Rich).
"""

from __future__ import annotations

import re

import typer

# What a terminal would act on rather than show: C0 and C1 controls (ESC clears a screen),
# DEL, and the marks that reorder text (bidi embeddings, overrides and isolates).
_MARKS = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL_OR_BACKSLASH = re.compile("[\x00-\x1f" + _MARKS + "\\\\]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f" + _MARKS + "]")


def _shown(m: re.Match) -> str:
    c = m.group()
    if c == "\\":
        return "\\\\"
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def visible(value) -> str:
    """A value of the data or of a rulebook as a terminal shows it, on one line: each control
    character as its escape (\\x1b, \\u202e), and a backslash doubled, so that two values
    never look alike."""
    text = "" if value is None else str(value)
    return _CONTROL_OR_BACKSLASH.sub(_shown, text) if _CONTROL_OR_BACKSLASH.search(text) else text


def visible_lines(text: str) -> str:
    """A message, lines kept: the control characters in it (quoted from data) as escapes."""
    return _CONTROL_BUT_NEWLINE.sub(_shown, text)


def say(text: str = "", err: bool = False, nl: bool = True) -> None:
    """A message to the user, with whatever it quotes from data shown, not acted on."""
    typer.echo(visible_lines(text), err=err, nl=nl)
