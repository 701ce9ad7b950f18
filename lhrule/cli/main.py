"""The `lhrule` command. Each command imports the engine lazily, so `lhrule --help` stays fast.

Exit codes: 0 clean, 1 findings (diagnostics, failed tests, files to reformat), 2 usage errors.
"""

from __future__ import annotations

import json
import os
import sys
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
    from lhrule.engine.safe_write import Refused, refuse_to_replace

    try:
        refuse_to_replace(path, kind, force, data if isinstance(data, Path) else None, flag)
    except Refused as exc:
        raise usage_error(str(exc)) from None


def written(work):
    """Run `work`, which writes files: a file refused is exit 2, a write the disk refused (full,
    read-only) exit 1, each with its message, never a traceback."""
    from lhrule.engine.safe_write import Refused, WriteFailed

    try:
        return work()
    except Refused as exc:
        raise usage_error(str(exc)) from None
    except WriteFailed as exc:
        say(f"lhrule: {exc}", err=True)
        raise typer.Exit(1) from None


def rule_files(paths: list[Path]) -> list[Path]:
    """The .rule files named or found under the folders named, in a stable order."""
    files: list[Path] = []
    for path in paths:
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
    from lhrule.api import NotRunnable, Rulebook, runnable as check_runnable
    from lhrule.engine.compile import compile_rulebook
    from lhrule.engine.diagnostics import render, summary

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


def _engine_diagnostics(result, engine: str) -> list:
    """E070 for each rule of a clean rulebook that has no form on `engine` (DuckDB runs all)."""
    if engine == "duckdb" or not result.ok:
        return []
    rb = result.rulebook
    if rb.entity is None or not rb.indicators:
        return []
    from lhrule.engine.diagnostics import Diagnostic
    from lhrule.engine.dialect import not_portable

    return [Diagnostic(code="E070", severity="error", message=message, span=decl.span,
                       notes=("score this rulebook with --engine duckdb",))
            for decl, message in not_portable(rb, engine) if getattr(decl, "span", None) is not None]


@app.command()
def check(
    paths: Paths,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the check too.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="Also check that every rule can run on this engine: "
                                                         "duckdb or spark.")] = "duckdb",
) -> None:
    """Compile rulebooks and report every mistake with file:line:col."""
    if format not in ("text", "json"):
        raise usage_error(f"--format must be text or json, not {format!r}")
    from lhrule.cli.scoring import engine_choice

    engine_choice(engine, None)
    from lhrule.engine.compile import compile_rulebook
    from lhrule.engine.diagnostics import render, summary

    files = rule_files(paths)
    seen: set[tuple] = set()
    diags, sources = [], {}
    for f in files:
        result = compile_rulebook(f)
        sources.update(result.sources)
        for d in result.diagnostics + _engine_diagnostics(result, engine):
            key = (d.code, d.span, d.message)
            if key not in seen:  # an included file's findings are reported once
                seen.add(key)
                diags.append(d)
    errors = sum(d.is_error for d in diags)
    failed = errors > 0 or (strict and diags)
    if format == "json":
        out = {"files": [str(f) for f in files], "errors": errors, "warnings": len(diags) - errors,
               "diagnostics": [{"code": d.code, "severity": d.severity, "message": d.message,
                                "file": d.span.file, "line": d.span.line, "column": d.span.column,
                                "end_line": d.span.end_line, "end_column": d.span.end_column,
                                "notes": list(d.notes), "suggestion": d.suggestion} for d in diags]}
        from lhrule.engine.report import json_safe

        typer.echo(json_safe(json.dumps(out, ensure_ascii=False, indent=2)))
    else:
        for d in diags:
            say(render(d, sources) + "\n")
        noun = "file" if len(files) == 1 else "files"
        say(f"checked {len(files)} {noun}: {summary(diags)}", err=bool(diags) and not failed)
    raise typer.Exit(1 if failed else 0)


@app.command()
def fmt(
    paths: Paths,
    check_only: Annotated[bool, typer.Option("--check", help="Only report files that are not formatted.")] = False,
) -> None:
    """Rewrite rulebooks in the canonical layout (comments kept)."""
    from lhrule.engine.diagnostics import render
    from lhrule.engine.load import display_path, read_source
    from lhrule.grammar.format import CommentLost, format_file
    from lhrule.grammar.parser import parse

    files = rule_files(paths)
    changed, broken = [], 0
    for f in files:
        name = display_path(f)
        try:
            source = read_source(f)
        except (OSError, UnicodeDecodeError) as exc:
            say(f"{name}: cannot read: {exc}", err=True)
            broken += 1
            continue
        tree, diags = parse(source, name)
        if tree is None:
            for d in diags:
                say(render(d, {name: source}) + "\n", err=True)
            broken += 1
            continue
        try:
            text = format_file(tree)
        except CommentLost as exc:  # the file is not written: a comment must never go silently
            say(str(exc), err=True)
            broken += 1
            continue
        if text != source:
            changed.append(name)
            if check_only:
                say(f"would reformat {name}")
            else:
                from lhrule.engine.safe_write import WriteFailed, write_text

                try:  # aside and renamed, with the file's mode: a full disk leaves the rulebook whole
                    write_text(f, text)
                except WriteFailed as exc:
                    say(f"{name}: {exc}", err=True)
                    changed.pop()
                    broken += 1
                    continue
                say(f"reformatted {name}")
    if broken:
        say(f"{broken} file{'s' if broken != 1 else ''} could not be formatted: see the messages above", err=True)
    done = "would be reformatted" if check_only else "reformatted"
    say(f"{len(changed)} of {len(files)} file{'s' if len(files) != 1 else ''} {done}", err=True)
    raise typer.Exit(1 if broken or (check_only and changed) else 0)


from lhrule.cli import diff, explain, gen, scoring  # noqa: E402,F401  (register the other commands)


def _terminated(signum, frame) -> None:
    # SIGTERM as an exception, so that the files being written aside are removed on the way out
    raise SystemExit(128 + signum)


def main() -> None:  # pragma: no cover - console entry for `python -m lhrule`
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
