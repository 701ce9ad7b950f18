"""Syntax tree → IR: the whole-rulebook checks.

`compile_rulebook(path)` reads the file and its includes, resolves every name, checks types
and units, builds the versions of each declaration (explicit ranges, `revise`, `retire`)
and runs the rulebook-wide checks (weights, monotone levels, overlapping ranges …). It
returns the IR (None when there are errors) and every diagnostic found.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typing import TYPE_CHECKING, Callable

from lhrule.ir import model as ir
from lhrule.diagnostics import Diagnostic, Reporter, Span, did_you_mean
from lhrule.compiler.build import same_but_case
from lhrule.compiler.metrics import extend_metrics
from lhrule.grammar import ast

if TYPE_CHECKING:  # the compiler proper is imported when a rulebook is compiled, not found cached
    from lhrule.compiler.build import Source

# Which statements each declaration may hold.
COMMON = {"effective", "cite", "assumption"}
ALLOWED: dict[str, set[str]] = {
    "rulebook": {"version", "timezone", "effective", "cite", "assumption"},
    "entity": {"column", "cite", "assumption"},
    "table": {"column", "cite", "assumption"},
    "param": COMMON | {"override"},
    "dimension": COMMON | {"weights", "override", "unassessed"},
    "indicator": COMMON | {"dimension", "over", "window", "where", "once", "measure", "min_sample", "direction",
                           "status", "only_for", "round"},
    # a metric is an indicator's statements, for indicators to extend; its dates are theirs
    "metric": {"cite", "assumption", "dimension", "over", "window", "where", "once", "measure", "min_sample",
               "direction", "status", "only_for", "round"},
    "exclusion": COMMON | {"applies", "when"},
    "bands": COMMON | {"level"},
    "score": COMMON | {"weights", "override", "unassessed", "round"},
    "grade": COMMON | {"level"},
    "action": COMMON | {"when", "until"},
    "retire": {"except", "cite", "assumption"},
    "test": {"as_of", "given", "expect"},
}
SINGLE = {"version", "timezone", "effective", "dimension", "over", "window", "once", "measure", "min_sample",
          "direction", "status", "only_for", "round", "applies", "when", "until", "except", "unassessed", "as_of"}
# A revision replaces the statements of each kind it holds (all `where` lines, all levels …),
# except citations and assumptions, which add to those of the version it revises.
ACCUMULATE = {"cite", "assumption"}
STMT_WORDS = {"as_of": "as of", "min_sample": "min sample", "only_for": "only for", "measure": "measure (rate, "
              "average, total, count)", "status": "display only / assessed", "level": "level line",
              "override": "for … in", "once": "once per", "applies": "applies to"}
CITED = {"param", "dimension", "metric", "indicator", "exclusion", "bands", "score", "grade", "action", "revise", "retire"}


class Compiled:
    """A compile's result: the IR (None when there are errors), every diagnostic, and the text
    of every file read. Found in the cache, the IR is read when first asked for, so
    `lhrule check`, which reads only the diagnostics, does not pay for it."""

    def __init__(self, rulebook: ir.Rulebook | None, diagnostics: list[Diagnostic], sources: dict[str, str],
                 cached: Callable[[], ir.Rulebook | None] | None = None, again: Callable[[], Compiled] | None = None):
        self._rulebook, self._cached, self._again = rulebook, cached, again
        self.diagnostics, self.sources = diagnostics, sources

    @property
    def rulebook(self) -> ir.Rulebook | None:
        if self._cached is not None:
            self._rulebook = self._cached()
            if self._rulebook is None:  # a damaged entry: compiled afresh, as on a miss
                self._rulebook = self._again().rulebook
            self._cached = None
        return self._rulebook

    @property
    def ok(self) -> bool:
        return self._cached is not None or self._rulebook is not None


def compile_rulebook(path: Path, root: Path | None = None) -> Compiled:
    """Compile a rulebook file and its includes (from the cache when none has changed: see
    `cache.py`)."""
    from lhrule.compiler import cache

    found = cache.lookup(path, root)
    if found is not None:
        return Compiled(None, found["diagnostics"], found["sources"], cached=found["ir"],
                        again=lambda: _compile(path, root))
    return _compile(path, root)


def _compile(path: Path, root: Path | None) -> Compiled:
    """Compile afresh, and save the result in the cache."""
    from lhrule.compiler import cache
    from lhrule.compiler.load import load

    loaded = load(path, root)
    reporter = Reporter()
    reporter.items.extend(loaded.diagnostics)
    if not loaded.files:
        return Compiled(None, reporter.sorted(), loaded.sources)
    rulebook = _compile_files(loaded.files, reporter, loaded.sources)
    compiled = Compiled(None if reporter.has_errors else rulebook, reporter.sorted(), loaded.sources)
    if not any(d.code == "E040" for d in compiled.diagnostics):  # a missing file may appear: not cached
        cache.store(path, root, compiled, loaded.read)
    return compiled


def compile_text(text: str, name: str = "<text>") -> Compiled:
    """Compile a rulebook held in a string (no includes); for tests and notebooks."""
    from lhrule.compiler.load import MAX_RULEBOOK_BYTES
    from lhrule.grammar.parser import parse

    reporter = Reporter()
    if len(text.encode("utf-8")) > MAX_RULEBOOK_BYTES:
        reporter.error("E004", f"{name} is {len(text.encode('utf-8')) / 2**20:.1f} MB: a rulebook holds at most "
                       f"{MAX_RULEBOOK_BYTES // 2**20} MB", _file_span(name))
        return Compiled(None, reporter.sorted(), {name: text})
    tree, diags = parse(text, name)
    reporter.items.extend(diags)
    if tree is None:
        return Compiled(None, reporter.sorted(), {name: text})
    for decl in tree.decls:
        if decl.kind == "include":
            reporter.error("E040", "includes need a file on disk: use compile_rulebook(path)", decl.span)
    rulebook = _compile_files([tree], reporter, {name: text})
    return Compiled(None if reporter.has_errors else rulebook, reporter.sorted(), {name: text})


def _compile_files(files: list[ast.File], rep: Reporter, sources: dict[str, str]) -> ir.Rulebook:
    from lhrule.compiler.build import Builder

    # Included files first: a name the rulebook redefines is blamed on the rulebook, not on
    # the shared file it includes.
    decls = [d for f in files[1:] + files[:1] for d in f.decls if d.kind != "include"]
    for d in decls:
        _check_statements(d, rep)
    decls = extend_metrics(decls, rep)
    header = _header(files, decls, rep)
    builder = Builder(rep, header["timezone"], header["effective"], sources)
    sources = _version_sources(decls, header["effective"], rep)
    rulebook = builder.build(header, sources, [d for d in decls if d.kind == "test"],
                             files=tuple(f.path for f in files))
    for d in decls:
        if d.kind in CITED and d.body is not None and not any(isinstance(s, ast.Cite) for s in d.body) \
                and not (d.kind == "param" and d.body is None):
            rep.warning("W001", f"{d.kind} `{d.name}` cites no policy text", d.name_span,
                        suggestion='add cite "SOURCE-FILE" "the sentence it encodes"')
    return rulebook


def _check_statements(d: ast.Decl, rep: Reporter) -> None:
    if d.body is None or d.kind == "revise":
        return
    allowed = ALLOWED.get(d.kind, set())
    seen: dict[str, ast.Stmt] = {}
    for s in d.body:
        if s.kind not in allowed:
            rep.error("E034", f"`{STMT_WORDS.get(s.kind, s.kind)}` does not belong in {_a(d.kind)} declaration", s.span,
                      notes=(f"{_a(d.kind)} declaration holds: {', '.join(sorted(STMT_WORDS.get(a, a) for a in allowed))}",))
        elif s.kind in SINGLE and s.kind in seen:
            first = seen[s.kind].span
            rep.error("E036", f"`{STMT_WORDS.get(s.kind, s.kind)}` is given twice in {d.kind} `{d.name}`", s.span,
                      notes=(f"first given at line {first.line}",))
        seen.setdefault(s.kind, s)


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _header(files: list[ast.File], decls: list[ast.Decl], rep: Reporter) -> dict:
    heads = [d for d in decls if d.kind == "rulebook"]
    header = {"name": Path(files[0].path).stem.replace("-", "_"), "label": None, "version": None,
              "timezone": "UTC", "effective": ir.Effective(), "cites": (), "span": _file_span(files[0].path),
              "library": not heads}
    for extra in heads[1:]:
        rep.error("E060", "a rulebook has one header; this one is already declared", extra.name_span,
                  notes=(f"first header: {heads[0].span}",),
                  suggestion="an included file holds declarations only, without `rulebook`")
    if not heads:
        return header
    head = heads[0]
    if head.span.file != files[0].path:
        rep.error("E060", "only the rulebook's own file may hold its header, not an included file", head.name_span)
    header.update(name=head.name, label=head.label, span=head.span)
    cites = []
    for s in head.body or ():
        match s:
            case ast.Version(text):
                header["version"] = text
            case ast.Timezone(text):
                from lhrule.ir.zones import zone_problem

                problem = zone_problem(text)
                if problem is None:
                    header["timezone"] = text
                else:  # read one way here and another by the engine, or by the next machine
                    rep.error("E060", problem, s.span, suggestion='use an IANA zone name such as "Asia/Shanghai"')
            case ast.Effective():
                header["effective"] = effective_range(s, rep)
            case ast.Cite(source, quote):
                cites.append(ir.Cite(source=source, quote=quote, span=s.span))
    header["cites"] = tuple(cites)
    return header


def _file_span(path: str) -> Span:
    return Span(file=path, line=1, column=1, end_line=1, end_column=1)


def effective_range(s: ast.Effective, rep: Reporter) -> ir.Effective:
    bounds = []
    for part in (s.start, s.end):
        if part is None:
            bounds.append(None)
            continue
        text, span = part.text, part.span
        try:
            bounds.append(dt.date.fromisoformat(text))
        except ValueError:
            rep.error("E002", f"`{text}` is not a valid date", span, suggestion="dates are YYYY-MM-DD")
            bounds.append(None)
    start, end = bounds
    if start and end and end < start:
        rep.error("E061", f"this range ends ({end}) before it starts ({start})", s.span)
        return ir.Effective()
    return ir.Effective(start=start, end=end)


def _version_sources(decls: list[ast.Decl], default: ir.Effective, rep: Reporter) -> list[Source]:
    """One Source per version of every named declaration, revisions and retirements applied."""
    from lhrule.compiler.build import Source

    by_name: dict[str, list[Source]] = {}
    folded: dict[str, ast.Decl] = {}
    for d in decls:
        if d.kind in ("rulebook", "test", "revise", "retire"):
            continue
        same_but_case(d.name, d.name_span, d.kind, folded.setdefault(d.name.lower(), d), rep)
        stmts = list(d.body or ())
        eff_stmt = next((s for s in stmts if isinstance(s, ast.Effective)), None)
        eff = effective_range(eff_stmt, rep) if eff_stmt else default
        versions = by_name.setdefault(d.name, [])
        if versions:
            other = versions[0]
            if other.decl.kind != d.kind:
                rep.error("E011", f"`{d.name}` is already defined as {_a(other.decl.kind)}", d.name_span,
                          notes=(f"first defined at {other.decl.name_span}",), suggestion="rename one of them")
                continue
            if eff_stmt is None or not other.explicit:
                rep.error("E011", f"{d.kind} `{d.name}` is defined twice", d.name_span,
                          notes=(f"first defined at {other.decl.name_span}",),
                          suggestion="give each version an `effective` range, or write the change as "
                                     f"`revise {d.name} effective DATE {{ … }}`")
                continue
        versions.append(Source(decl=d, stmts=stmts, effective=eff, explicit=eff_stmt is not None))
    dates = _version_dates(decls, rep)
    changes = sorted((d for d in decls if d.kind in ("revise", "retire")),
                     key=lambda d: dates.get(d.date, d.date) or "")
    for change in changes:
        _apply_change(change, by_name, rep, dates)
    out: list[Source] = []
    for name, versions in by_name.items():
        for i, a in enumerate(versions):
            for b in versions[i + 1:]:
                if a.effective.overlaps(b.effective):
                    rep.error("E032", f"two versions of {a.decl.kind} `{name}` are both in force on "
                                      f"{max(a.effective.start or dt.date.min, b.effective.start or dt.date.min)}",
                              b.span, notes=(f"the other version: {a.span} ({a.effective})",
                                             f"this version: {b.effective}"),
                              suggestion="make the effective ranges disjoint")
        out.extend(versions)
    return out


def _version_dates(decls: list[ast.Decl], rep: Reporter) -> dict[str, str | None]:
    """The params a revision takes its date from (`revise x effective display_from`), each with
    its date; None for one that holds no date, or one varying by group (reported here)."""
    named = {d.name: d for d in decls if d.kind == "param"}
    out: dict[str, str | None] = {}
    for change in (d for d in decls if d.kind in ("revise", "retire") and d.date in named):
        param = named[change.date]
        if getattr(param.value, "kind", None) != "date":
            rep.error("E041", f"`{change.date}` is not a date: a {change.kind} takes a date or a param holding one",
                      change.span, notes=(f"`{change.date}` is declared at {param.name_span}",))
            out[change.date] = None
        elif any(isinstance(s, ast.Override) for s in param.body or ()):
            rep.error("E041", f"param `{change.date}` varies by group: a version date is the same for every shop",
                      change.span, notes=(f"`{change.date}` is declared at {param.name_span}",))
            out[change.date] = None
        else:
            out[change.date] = param.value.text
    return out


def _apply_change(change: ast.Decl, by_name: dict[str, list[Source]], rep: Reporter,
                  dates: dict[str, str] | None = None) -> None:
    from lhrule.compiler.build import Source

    dates = dates or {}
    if change.date in dates and dates[change.date] is None:
        return  # a param that holds no date: reported
    try:
        day = dt.date.fromisoformat(dates.get(change.date, change.date) or "")
    except ValueError:
        if change.date and change.date[0].isalpha():
            rep.error("E041", f"`{change.date}` is neither a date nor a param holding one", change.span,
                      suggestion=f"declare `param {change.date} = 2024-12-01`, or write the date")
        else:
            rep.error("E002", f"`{change.date}` is not a valid date", change.span)
        return
    versions = by_name.get(change.name)
    if not versions:
        rep.error("E041", f"cannot {change.kind} `{change.name}`: no declaration has that name", change.name_span,
                  suggestion=did_you_mean(change.name, by_name))
        return
    before = next((v for v in versions if v.effective.contains(day - dt.timedelta(days=1))), None)
    if before is None:
        rep.error("E041", f"cannot {change.kind} `{change.name}` on {day}: no version of it is in force on the day before",
                  change.span)
        return
    kind = before.decl.kind
    body = list(change.body or ())
    if change.kind == "retire":
        if kind != "indicator":
            rep.error("E041", f"only indicators can be retired; `{change.name}` is {_a(kind)}", change.name_span)
            return
        extra: list[ast.Stmt] = [ast.Status("retired", change.span)]
        exc = next((s for s in body if isinstance(s, ast.Except)), None)
        if exc is not None:
            extra.append(ast.RetiredExcept(exc.expr, exc.span))
        body = extra + [s for s in body if not isinstance(s, ast.Except)]
    else:
        for s in body:
            if s.kind not in ALLOWED[kind] or isinstance(s, ast.Effective):
                rep.error("E034", f"`{STMT_WORDS.get(s.kind, s.kind)}` cannot be revised in {_a(kind)}", s.span,
                          suggestion="a revision starts on its own date: `revise NAME effective DATE { … }`"
                          if isinstance(s, ast.Effective) else None)
                return
    replaced = {s.kind for s in body}
    merged = body + [s for s in before.stmts if s.kind not in replaced or s.kind in ACCUMULATE]
    new = Source(decl=before.decl, stmts=merged, effective=ir.Effective(start=day, end=before.effective.end),
                 explicit=True, change=change)
    idx = versions.index(before)
    versions[idx] = Source(decl=before.decl, stmts=before.stmts, change=before.change, explicit=True,
                           effective=ir.Effective(start=before.effective.start, end=day - dt.timedelta(days=1)))
    versions.insert(idx + 1, new)

