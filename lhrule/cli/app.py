"""The `lhrule` app and what every command shares: usage errors, the rulebook files named, a
rulebook compiled or the run stopped with its diagnostics, and outputs checked before any work.

Exit codes: 0 clean, 1 findings (diagnostics, failed tests, files to reformat), 2 usage errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lhrule.cli.safe_text import say

app = typer.Typer(
    name="lhrule",
    help="A rule language and engine for merchant service-assessment policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


Paths = Annotated[list[Path], typer.Argument(help="Rulebook files, or folders to search for *.rule files.",
                                             show_default=False)]


def usage_error(message: str) -> typer.Exit:
    say(f"lhrule: {message}", err=True)
    return typer.Exit(2)


ForceOption = Annotated[bool, typer.Option("--force", help="Replace an output file even when lhrule did not "
                                                          "write it.")]


def writable(path: Path | None, flag: str, kind: str | None = None, force: bool = False, data=None) -> None:
    """Refuse, before any work, an output file that cannot be written, that would replace a
    file lhrule did not make (without --force), or a table of the dataset `data` being read."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise usage_error(f"{flag} {path}: there is no folder {folder}; create it, or write elsewhere")
    if path.is_dir():
        raise usage_error(f"{flag} {path} is a folder: name a file")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise usage_error(f"{flag} {path}: cannot write there (permission denied)")
    from lhrule.safe_write import Refused, refuse_to_replace

    try:
        refuse_to_replace(path, kind, force, data if isinstance(data, Path) else None, flag)
    except Refused as exc:
        raise usage_error(str(exc)) from None


def written(work):
    """Run `work`, which writes files: a file refused is exit 2, a write the disk refused (full,
    read-only) exit 1, each with its message, never a traceback."""
    from lhrule.safe_write import Refused, WriteFailed

    try:
        return work()
    except Refused as exc:
        raise usage_error(str(exc)) from None
    except WriteFailed as exc:
        say(f"lhrule: {exc}", err=True)
        raise typer.Exit(1) from None


def _unnamable(path: Path) -> str | None:
    """Why a path named on the command line cannot even be looked at (a NUL in it, a name too
    long, a loop of symlinks), said for the user; None when it can."""
    import errno

    shown = str(path) if len(str(path)) <= 80 else str(path)[:77] + "…"
    try:
        os.stat(path)
    except ValueError:
        return f"{shown!r}: the name holds a NUL character, which no file name can"
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        return f"{shown}: {exc.strerror[0].lower() + exc.strerror[1:] if exc.strerror else exc}"
    return None


def rule_files(paths: list[Path]) -> list[Path]:
    """The .rule files named or found under the folders named, in a stable order."""
    files: list[Path] = []
    for path in paths:
        why = _unnamable(path)
        if why:
            raise usage_error(why)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.rule") if p.is_file())
            if not found:
                raise usage_error(f"no .rule files under {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a device, a pipe
            raise usage_error(f"{path} is neither a rulebook file nor a folder")
        else:
            raise usage_error(f"no such file or folder: {path}")
    seen: set[Path] = set()
    return [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]


def compile_or_exit(path: Path, runnable: bool = True):
    """Compile a rulebook for a command that runs it; on errors print them and exit 1."""
    from lhrule.api import NotRunnable, Rulebook
    from lhrule.api import runnable as check_runnable
    from lhrule.compiler.compile import compile_rulebook
    from lhrule.diagnostics import render, summary

    why = _unnamable(path)
    if why:
        raise usage_error(why)
    if not path.is_file():
        raise usage_error(f"no such rulebook: {path}")
    result = compile_rulebook(path)
    if not result.ok:
        errors = [d for d in result.diagnostics if d.is_error]
        for d in errors:
            say(render(d, result.sources) + "\n", err=True)
        say(f"{path}: {summary(errors)}; fix them and run again (lhrule check {path})", err=True)
        raise typer.Exit(1)
    rb = Rulebook(result.rulebook, path, result.sources)
    if runnable:
        try:
            check_runnable(rb)
        except NotRunnable as exc:
            raise usage_error(str(exc)) from None
    return rb

