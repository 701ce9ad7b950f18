"""Reading rulebook files and their includes.

An include is a path relative to the including file. It may not be absolute, may not
leave the rulebook root (the nearest folder above the rulebook holding `lhrule.toml`,
`pyproject.toml` or `.git`; else the rulebook's own folder), may not reach outside it
through a symlink, and may not loop. A file included twice is read once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lhrule.engine.diagnostics import Diagnostic, Reporter, Span
from lhrule.grammar import ast
from lhrule.grammar.parser import parse

ROOT_MARKERS = ("lhrule.toml", "pyproject.toml", ".git")


@dataclass
class Loaded:
    """The files of one rulebook, root file first, with every diagnostic met on the way."""

    files: list[ast.File] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    read: dict[str, bytes] = field(default_factory=dict)  # absolute path -> the bytes read (for the cache)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def find_root(path: Path) -> Path:
    start = path.resolve().parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working folder when inside it."""
    if not path.is_absolute():
        return os.path.normpath(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_source(path: Path, read: dict[str, bytes] | None = None) -> str:
    data = path.read_bytes()
    if read is not None:
        read[str(path.resolve())] = data
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


def load(path: Path, root: Path | None = None) -> Loaded:
    out = Loaded()
    reporter = Reporter()
    root = (root or find_root(path)).resolve()
    _load_file(path, None, root, out, reporter, stack=[])
    out.diagnostics.extend(reporter.items)
    return out


def _load_file(path: Path, via: Span | None, root: Path, out: Loaded, reporter: Reporter,
               stack: list[Path]) -> None:
    name = display_path(path)
    here = via or Span(file=name, line=1, column=1, end_line=1, end_column=1)
    try:
        source = read_source(path, out.read)
    except FileNotFoundError:
        reporter.error("E040", f"cannot find the file {name}", here,
                       suggestion="check the path; include paths are relative to the including file")
        return
    except IsADirectoryError:
        reporter.error("E040", f"{name} is a folder, not a rulebook file", here)
        return
    except UnicodeDecodeError as exc:
        reporter.error("E002", f"{name} is not UTF-8 text (byte {exc.start})", here,
                       suggestion="save the rulebook as UTF-8")
        return
    except OSError as exc:
        reporter.error("E040", f"cannot read {name}: {exc.strerror}", here)
        return
    out.sources[name] = source
    tree, diags = parse(source, name)
    out.diagnostics.extend(diags)
    if tree is None:
        return
    out.files.append(tree)
    real = path.resolve()
    for decl in tree.decls:
        if decl.kind != "include":
            continue
        target = _resolve_include(decl, path, root, reporter)
        if target is None:
            continue
        resolved = target.resolve()
        if resolved == real or resolved in stack:
            chain = " -> ".join(display_path(p) for p in [*stack, real, resolved])
            reporter.error("E040", f"include loop: {chain}", decl.span,
                           suggestion="remove one of the includes; shared declarations belong in a file both include")
            continue
        if any(f.path == display_path(target) for f in out.files) or display_path(target) in out.sources:
            continue
        _load_file(target, decl.span, root, out, reporter, [*stack, real])


def _resolve_include(decl: ast.Decl, including: Path, root: Path, reporter: Reporter) -> Path | None:
    raw = decl.name
    if not raw.endswith(".rule"):
        reporter.error("E040", f'include "{raw}" does not name a .rule file', decl.span)
        return None
    if os.path.isabs(raw) or raw.startswith("~"):
        reporter.error("E040", f'include "{raw}" is an absolute path', decl.span,
                       suggestion="write the path relative to this file, e.g. \"../common/events.rule\"")
        return None
    target = including.parent / raw
    lexical = Path(os.path.normpath(including.resolve().parent / raw))
    if not _inside(lexical, root):
        reporter.error("E040", f'include "{raw}" leaves the rulebook root ({_folder(root)})', decl.span,
                       notes=("the root is the nearest folder above the rulebook with lhrule.toml, "
                              "pyproject.toml or .git",))
        return None
    if target.exists() and not _inside(target.resolve(), root):
        reporter.error("E040", f'include "{raw}" follows a symlink out of the rulebook root ({_folder(root)})',
                       decl.span)
        return None
    return target


def _folder(path: Path) -> str:
    shown = display_path(path)
    return "the current folder" if shown == "." else shown


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False
