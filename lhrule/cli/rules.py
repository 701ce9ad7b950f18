"""`lhrule check`, `lhrule fmt` and `lhrule test`: the commands on rulebooks themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lhrule.cli.app import Paths, app, compile_or_exit, rule_files, usage_error
from lhrule.cli.safe_text import say


def _engine_diagnostics(result, engine: str) -> list:
    """E070 for each rule of a clean rulebook that has no form on `engine` (DuckDB runs all)."""
    if engine == "duckdb" or not result.ok:
        return []
    rb = result.rulebook
    if rb.entity is None or not rb.indicators:
        return []
    from lhrule.diagnostics import Diagnostic
    from lhrule.engine.sql.dialects import not_portable

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
    from lhrule.cli.options import engine_choice

    engine_choice(engine, None)
    from lhrule.compiler.compile import compile_rulebook
    from lhrule.diagnostics import render, summary

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
        from lhrule.output.contract import json_safe

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
    from lhrule.diagnostics import render
    from lhrule.compiler.load import display_path, read_source
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
                from lhrule.safe_write import WriteFailed, write_text

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


@app.command()
def test(
    paths: Annotated[list[Path], typer.Argument(help="Rulebook files, or folders of them.", show_default=False)],
) -> None:
    """Run the `test` blocks of rulebooks through the engine."""
    from lhrule.cli.app import rule_files
    from lhrule.engine.run.testing import run_tests

    files = rule_files(paths)
    passed = failed = 0
    for path in files:
        rb = compile_or_exit(path, runnable=False)
        for outcome in run_tests(rb.ir):  # a library of declarations has no tests
            where = f"{outcome.test.span.file}:{outcome.test.span.line}"
            if outcome.passed:
                passed += 1
                say(f"PASS {where} {outcome.test.name}")
                continue
            failed += 1
            say(f"FAIL {where} {outcome.test.name}")
            for expect, problem in outcome.failures:
                line = f"{expect.span.file}:{expect.span.line}" if expect else where
                say(f"     {line}: {problem}")
    if not passed + failed:
        named = files[0] if len(files) == 1 else f"the {len(files)} rulebooks"
        say(f"no `test` blocks in {named}: nothing was run")
        return
    say(f"{passed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)

