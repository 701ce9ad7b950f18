"""Metrics defined once: `metric NAME { … }` holds an indicator's statements without being
scored; `indicator X extends NAME { … }` takes them, replacing those of each kind it states
itself (as a revision does: all `where` lines, the window …; citations and assumptions add).
An exclusion that `applies to` a metric applies to every indicator extending it, so a library
(`rulebooks/common/taobao-tmall.rule`) states a platform metric and its exclusions once, and
each rulebook changes only what its own text changes.

The merge happens on the syntax tree, before versions are built: the statements keep their
spans, so `explain` and `diff` name the library's file:line for what comes from it.
"""

from __future__ import annotations

import dataclasses

from lhrule.diagnostics import Reporter, did_you_mean
from lhrule.grammar import ast

ACCUMULATE = {"cite", "assumption"}


def extend_metrics(decls: list[ast.Decl], rep: Reporter) -> list[ast.Decl]:
    """The declarations with every `extends` resolved and every metric removed."""
    metrics: dict[str, ast.Decl] = {}
    for d in decls:
        if d.kind != "metric":
            continue
        if d.name in metrics:
            rep.error("E011", f"metric `{d.name}` is defined twice", d.name_span,
                      notes=(f"first defined at {metrics[d.name].name_span}",), suggestion="rename one of them")
            continue
        metrics[d.name] = d
    if not metrics and not any(d.extends for d in decls):
        return decls
    if not any(d.kind == "rulebook" for d in decls):
        # A library checked on its own: each metric is checked as the indicator it would be.
        return [dataclasses.replace(d, kind="indicator") if d.kind == "metric" else d for d in decls]
    others = {d.name: d.kind for d in decls if d.kind not in ("metric", "rulebook", "include", "test", "revise", "retire")}
    for name, m in metrics.items():
        if name in others:
            rep.error("E011", f"`{name}` is already defined as a {others[name]}", m.name_span,
                      suggestion="a metric and the indicator extending it need names of their own")
    users: dict[str, list[str]] = {}
    out: list[ast.Decl] = []
    for d in decls:
        if d.kind == "metric":
            continue
        if d.extends is not None:
            extended = _extend(d, metrics, others, rep)
            if extended is None:  # reported: the rest of the rulebook is checked without it
                continue
            d = extended
            if d.extends in metrics and d.kind == "indicator":
                users.setdefault(d.extends, []).append(d.name)
        elif d.kind in ("revise", "retire") and d.name in metrics:
            rep.error("E042", f"cannot {d.kind} metric `{d.name}`: a metric is not scored, and has no versions",
                      d.name_span, suggestion=f"{d.kind} the indicators that extend it, each on its own date")
            continue
        out.append(d)
    return [x for d in out if (x := _applied(d, metrics, users)) is not None]


def _extend(d: ast.Decl, metrics: dict[str, ast.Decl], others: dict[str, str], rep: Reporter) -> ast.Decl | None:
    if d.kind != "indicator":
        rep.error("E042", f"only an indicator can extend a metric; `{d.name}` is a {d.kind}", d.extends_span)
        return d
    base = metrics.get(d.extends)
    if base is None:
        notes = (f"`{d.extends}` is {'an' if others[d.extends][0] in 'aeiou' else 'a'} {others[d.extends]}: "
                 "an indicator extends a metric",) if d.extends in others else ()
        rep.error("E042", f"indicator `{d.name}` extends `{d.extends}`, and no metric has that name", d.extends_span,
                  notes=notes, suggestion=did_you_mean(d.extends, metrics)
                  or "declare it (`metric NAME { … }`), or include the library that does")
        return None
    own = list(d.body or ())
    replaced = {s.kind for s in own}
    body = tuple(own + [s for s in base.body or () if s.kind not in replaced or s.kind in ACCUMULATE])
    return dataclasses.replace(d, body=body, label=d.label if d.label is not None else base.label)


def _applied(d: ast.Decl, metrics: dict[str, ast.Decl], users: dict[str, list[str]]) -> ast.Decl | None:
    """An exclusion naming metrics, made to name the indicators extending them; None when none
    of its names is used here (a library's exclusion of a metric this rulebook does not use)."""
    if d.kind != "exclusion" or not d.body:
        return d
    applies = next((s for s in d.body if isinstance(s, ast.Applies)), None)
    if applies is None or not any(ref.name in metrics for ref in applies.names):
        return d
    names: list[ast.Ref] = []
    for ref in applies.names:
        if ref.name in metrics:
            names.extend(ast.Ref(user, ref.span) for user in users.get(ref.name, ()))
        else:
            names.append(ref)
    if not names:
        return None
    new = dataclasses.replace(applies, names=tuple(names))
    return dataclasses.replace(d, body=tuple(new if s is applies else s for s in d.body))
