"""Syntax tree → canonical text (`lhrule fmt`).

The layout: two-space indentation, one statement a line, one blank line between
declarations with bodies, runs of blank lines folded to one, levels aligned. Comments stay
where they were: on their own lines before what follows them, or at the end of the line
they ended; a comment inside a multi-line statement moves just above it, and of the comments
inside a declaration's header (`bands b  # x` / `  of y {  # z`) the last ends the printed
header line and the others move above the declaration. Formatting is idempotent and
parse → format → parse gives the same IR.

Every comment is printed exactly once: each node, printed in source order, takes every comment
not yet printed up to its last line, so a comment in a place the layout does not foresee still
lands just above the next node rather than nowhere. `format_file` then checks that its output
holds the comments of its input, same texts in the same order, and raises `CommentLost`
(naming the comment's file:line) instead of returning a text that would lose one.
"""

from __future__ import annotations

import unicodedata

from lhrule.grammar import ast
from lhrule.grammar.parser import code_only, find_comments

INDENT = "  "
WIDTH = 100

# Binding strength: a child printed inside a parent that binds tighter needs parentheses.
_PREC = {"or": 1, "and": 2, "not": 3, "=": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6}


class CommentLost(Exception):
    """The formatted text would not hold a comment of the source where its order says: a
    formatter bug, refused rather than written over the user's file."""

    def __init__(self, path: str, comment: ast.Comment, what: str = "lose"):
        self.path, self.comment = path, comment
        super().__init__(f"{path}:{comment.line}:{comment.column}: fmt would {what} the comment {comment.text!r}, "
                         "so the file is left as it was; please report this file as a formatter bug")


def format_file(tree: ast.File) -> str:
    text = _Printer(tree).run()
    _check_comments(tree, text)
    return text


def _check_comments(tree: ast.File, text: str) -> None:
    """Raise CommentLost unless `text` has the comments of `tree`, texts and order alike."""
    after = find_comments(text)
    for i, c in enumerate(tree.comments):
        if i >= len(after) or after[i].text != c.text:
            raise CommentLost(tree.path, c)
    if len(after) > len(tree.comments):  # text printed as a comment: cannot be, but never write it
        raise CommentLost(tree.path, after[len(tree.comments)], what="add (at its line in the output)")


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# ---------------------------------------------------------------- expressions

def expr(e: ast.Expr, parent: int = 0) -> str:
    if isinstance(e, ast.Lit):
        return quote(e.text) if e.kind == "string" else e.text
    if isinstance(e, ast.Path):
        return e.dotted
    if isinstance(e, ast.Call):
        return f"{e.name}({', '.join(expr(a) for a in e.args)})"
    if isinstance(e, ast.SetLit):
        return "{" + ", ".join(expr(i) for i in e.items) + "}"
    if isinstance(e, ast.Exists):
        alias = f" {e.alias}" if e.alias else ""
        text = f"{'not ' if e.negated else ''}exists {e.table}{alias} where {expr(e.cond)}"
        return f"({text})" if parent > 0 else text
    if isinstance(e, ast.Unary):
        if e.op == "not":  # `not (a = 1)` reads better than `not a = 1`; both parse alike
            inner = e.operand
            simple = isinstance(inner, (ast.Path, ast.Call, ast.Lit)) or (isinstance(inner, ast.Unary) and inner.op == "not")
            return _wrap(f"not {expr(inner, 3 if simple else 9)}", 3, parent)
        return f"-{expr(e.operand, 7)}"
    if isinstance(e, ast.Binary):
        p = _PREC[e.op]
        # compare is not associative; + - * / and and/or associate to the left; an `and`
        # inside an `or` keeps its parentheses, for the reader
        left = expr(e.left, 3 if p == 1 and _is_and(e.left) else p + 1 if p == 4 else p)
        right = expr(e.right, 3 if p == 1 and _is_and(e.right) else p + 1)
        return _wrap(f"{left} {e.op} {right}", p, parent)
    if isinstance(e, ast.In):
        word = "not in" if e.negated else "in"
        rhs = f"{expr(e.right.lo, 5)} .. {expr(e.right.hi, 5)}" if isinstance(e.right, ast.Range) else expr(e.right, 5)
        return _wrap(f"{expr(e.left, 5)} {word} {rhs}", 4, parent)
    if isinstance(e, ast.IsNull):
        return _wrap(f"{expr(e.operand, 5)} is {'not ' if e.negated else ''}null", 4, parent)
    if isinstance(e, ast.Range):
        return f"{expr(e.lo, 5)} .. {expr(e.hi, 5)}"
    raise TypeError(f"no printer for {type(e).__name__}")


def _is_and(e: ast.Expr) -> bool:
    return isinstance(e, ast.Binary) and e.op == "and"


def _wrap(text: str, prec: int, parent: int) -> str:
    return f"({text})" if prec < parent else text


def _and_chain(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return _and_chain(e.left) + [e.right]
    return [e]


def long_expr(prefix: str, e: ast.Expr, indent: str) -> list[str]:
    """`prefix EXPR` on one line, or broken before each top-level `and` when too wide."""
    line = indent + prefix + expr(e)
    if width(line) <= WIDTH:
        return [line]
    head, parts = prefix, _and_chain(e)
    if isinstance(e, ast.Exists) and not e.negated and len(_and_chain(e.cond)) > 1:
        alias = f" {e.alias}" if e.alias else ""
        head, parts = f"{prefix}exists {e.table}{alias} where ", _and_chain(e.cond)
    if len(parts) == 1:
        return [line]
    out = [indent + head + expr(parts[0], 2)]
    out += [indent + INDENT + INDENT + "and " + expr(p, 3) for p in parts[1:]]
    return out


# ---------------------------------------------------------------- statements

def _type(t: ast.BaseType | ast.EnumType) -> str:
    match t:
        case ast.BaseType(name):
            return name
        case ast.EnumType(values):
            return "enum {" + ", ".join(values) + "}"


def _column(s: ast.Column) -> str:
    text = f"{s.name}: {_type(s.type)}{'?' if s.optional else ''}"
    if s.key:
        text += " key"
    if s.relation:
        text += f" -> {s.relation.target}" + (f" as {s.relation.alias}" if s.relation.alias else "")
    return text


def _window(s: ast.Window) -> str:
    match s.spec:
        case ast.WindowLast(duration):
            what = f"last {duration.text}"
        case ast.WindowPreviousDay():
            what = "previous day"
        case ast.WindowRange(start, end):
            what = f"{start} .. {end}"
    return f"window {what} on {s.column}"


def _expectation(s: ast.Expect) -> str:
    text = f"expect {'no ' if s.negated else ''}{s.name} for {quote(s.shop)}"
    match s.outcome:
        case ast.ExpectValue(value):
            return f"{text} = {expr(value)}"
        case ast.ExpectNotAssessed():
            return f"{text} not assessed"
        case ast.ExpectBand(band):
            return f"{text} band {quote(band)}"
        case ast.ExpectPoints(points):
            return f"{text} points {expr(points)}"
    return text


def simple(s: ast.Stmt) -> str | None:
    """The one line of a statement that is never broken over lines; None for the others."""
    match s:
        case ast.Version(text):
            return f"version {quote(text)}"
        case ast.Timezone(text):
            return f"timezone {quote(text)}"
        case ast.Effective(start, end):
            return f"effective {start.text if start else ''} .. {end.text if end else ''}".replace("  ", " ").rstrip()
        case ast.Cite(source, cited):
            return f"cite {quote(source)}" + (f" {quote(cited)}" if cited is not None else "")
        case ast.Assumption(text):
            return f"assumption {quote(text)}"
        case ast.Column():
            return _column(s)
        case ast.InDimension(name):
            return f"dimension {name}"
        case ast.Over(name):
            return f"over {name}"
        case ast.Window():
            return _window(s)
        case ast.OncePer(exprs):
            return "once per " + ", ".join(expr(e) for e in exprs)
        case ast.MinSample(e):
            return f"min sample {expr(e)}"
        case ast.Direction(direction):
            return f"{direction} is better"
        case ast.Status(status):
            return "display only" if status == "display_only" else "assessed"
        case ast.Round(digits):
            return f"round {digits}"
        case ast.Applies(names):
            return "applies to " + ", ".join(n.name for n in names)
        case ast.Weights(weights):
            return "weights " + ", ".join(f"{w.name} {expr(w.value)}" for w in weights)
        case ast.Unassessed(policy, e):
            return "unassessed reweight" if policy == "reweight" else f"unassessed score {expr(e)}"
        case ast.AsOf(date):
            return f"as of {date}"
        case ast.Expect():
            return _expectation(s)
    return None


def _expression_prefix(s: ast.Stmt) -> str | None:
    """The words before the one expression a statement ends in, which may be broken over lines."""
    match s:
        case ast.Where():
            return "where "
        case ast.OnlyFor():
            return "only for "
        case ast.When():
            return "when "
        case ast.Until():
            return "until "
        case ast.Except():
            return "except "
        case ast.Measure(measure) if measure != "count":
            return "rate where " if measure == "rate" else measure + " "
    return None


class _Printer:
    def __init__(self, tree: ast.File):
        self.tree = tree
        self.lines = tree.source.split("\n")
        self.code = [code_only(line) for line in self.lines]
        self.comments = {c.line: c for c in tree.comments}
        self.used: set[int] = set()
        self.out: list[str] = []

    def run(self) -> str:
        prev_end = 0
        prev_multi = False
        for i, d in enumerate(self.tree.decls):
            multi = d.body is not None
            self._gap(prev_end, d.span.line, "", force_blank=i > 0 and (multi or prev_multi))
            self._decl(d)
            prev_end, prev_multi = d.span.end_line, multi
        self._gap(prev_end, len(self.lines) + 1, "", force_blank=False, trailing=True)
        # nothing should be left; if a layout slip left a comment, it ends the file (and the
        # order check of format_file refuses the text) rather than vanish
        self.out.extend(self.comments[line].text for line in sorted(self.comments) if line not in self.used)
        return "\n".join(self.out).rstrip("\n") + "\n"

    # comments and blank lines between nodes --------------------------------
    def _gap(self, after: int, before: int, indent: str, force_blank: bool, trailing: bool = False) -> None:
        """Lines strictly between two nodes: their comments, with blank lines folded to one."""
        pending = force_blank
        for line in range(after + 1, before):
            text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
            if line in self.comments and line not in self.used and text.strip().startswith("#"):
                if pending and self.out and self.out[-1] != "" and not self.out[-1].endswith("{"):
                    self.out.append("")
                pending = False
                self.used.add(line)
                self.out.append(indent + self.comments[line].text)
            elif not text.strip() and self.out:
                pending = True
        if pending and not trailing and self.out and self.out[-1] != "" and not self.out[-1].endswith("{"):
            self.out.append("")

    def _claim(self, end: int, indent: str, trailing_from: int) -> str:
        """Take every comment not printed yet on a line up to `end`: the last one, if it ends
        a line of code from line `trailing_from` on, is returned to end the node's printed
        line; the others are printed now, on their own lines above the node."""
        lines = [line for line in sorted(self.comments) if line <= end and line not in self.used]
        self.used.update(lines)
        trailing = ""
        if lines and lines[-1] >= trailing_from and self.code[lines[-1] - 1].strip():
            trailing = "  " + self.comments[lines.pop()].text
        self.out.extend(indent + self.comments[line].text for line in lines)
        return trailing

    def _emit(self, lines: list[str], span, indent: str) -> None:
        lines[-1] += self._claim(span.end_line, indent, trailing_from=span.end_line)
        self.out.extend(lines)

    def _open_line(self, after) -> int:
        """Line of the `{` that opens a body: the first one after the header's last part with
        braces of its own (`after`, a span); strings and comments blanked."""
        line, col = after.end_line, after.end_column - 1
        while line <= len(self.code):
            if "{" in self.code[line - 1][col:]:
                return line
            line, col = line + 1, 0
        raise ValueError(f"no body brace after {after}")  # the parser gave a body: cannot be

    # declarations ----------------------------------------------------------
    def _header(self, d: ast.Decl) -> str:
        if d.kind == "include":
            return f"include {quote(d.name)}"
        if d.kind == "test":
            return f"test {quote(d.name)}"
        if d.kind in ("revise", "retire"):
            return f"{d.kind} {d.name} effective {d.date}"
        text = f"{d.kind} {d.name}"
        if d.label is not None:
            text += f" {quote(d.label)}"
        if d.target:
            text += f" of {d.target}"
        if d.rank_within:
            text += f" by rank within {d.rank_within}"
        if d.extends:
            text += f" extends {d.extends}"
        if d.value is not None:
            text += f" = {expr(d.value)}"
        return text

    def _decl(self, d: ast.Decl) -> None:
        header = self._header(d)
        if d.body is None:
            self._emit([header], d.span, "")
            return
        last_part = max((s for s in (d.name_span, d.target_span, d.value.span if d.value is not None else None) if s),
                        key=lambda s: (s.end_line, s.end_column))
        self._block(header, d.body, d.span, self._open_line(last_part), "")

    def _block(self, header: str, body: tuple[ast.Stmt, ...], span, open_line: int, indent: str) -> None:
        # The header may run over lines (`bands b  # x` / `  of y {`): its comments are taken
        # here, before the body's. On the `{` line, one after a statement that starts there
        # is that statement's.
        first_on_open_line = bool(body) and body[0].span.line == open_line
        head_end = open_line - 1 if first_on_open_line else open_line
        head_trailing = self._claim(head_end, indent, trailing_from=span.line)
        if not body and open_line == span.end_line:
            self.out.append(f"{indent}{header} {{}}{head_trailing}")
            return
        self.out.append(f"{indent}{header} {{{head_trailing}")
        inner = indent + INDENT
        prev_end = head_end
        levels = [s for s in body if isinstance(s, ast.Level)]
        align = self._level_widths(levels)
        for s in body:
            if s.span.line <= prev_end:
                prev_end = s.span.line - 1  # two statements on one line: no gap between them
            self._gap(prev_end, s.span.line, inner, force_blank=False)
            self._stmt(s, inner, align)
            prev_end = s.span.end_line
        self._gap(prev_end, span.end_line, inner, force_blank=False, trailing=True)
        close_trailing = self._claim(span.end_line, indent, trailing_from=span.end_line) if span.end_line > prev_end else ""
        self.out.append(f"{indent}}}{close_trailing}")

    # statements ------------------------------------------------------------
    def _stmt(self, s: ast.Stmt, indent: str, align: tuple[int, int]) -> None:
        if (line := simple(s)) is not None:
            self._emit([indent + line], s.span, indent)
        elif (prefix := _expression_prefix(s)) is not None:
            self._emit(long_expr(prefix, s.expr, indent), s.span, indent)
        else:
            match s:
                case ast.Measure():  # count
                    self._emit([indent + "count"], s.span, indent)
                case ast.Level():
                    self._emit([indent + self._level(s, align)], s.span, indent)
                case ast.Override(column, _, values, value, None):
                    self._emit([f"{indent}for {column} in {expr(values)} = {expr(value)}"], s.span, indent)
                case ast.Override(column, _, values, _, body):
                    self._block(f"for {column} in {expr(values)}", body, s.span, self._open_line(values.span), indent)
                case ast.Given():
                    self._emit(self._given(s, indent), s.span, indent)
                case _:
                    raise TypeError(f"no printer for statement {type(s).__name__}")

    @staticmethod
    def _level_parts(s: ast.Level) -> tuple[str, str]:
        match s.cutoff:
            case ast.CutOtherwise():
                cut = "otherwise"
            case ast.CutTop(share):
                cut = f"top {expr(share)}"
            case ast.CutValue(op, value):
                cut = f"{op} {expr(value)}"
        return quote(s.label), cut

    def _level_widths(self, levels: list[ast.Level]) -> tuple[int, int]:
        parts = [self._level_parts(s) for s in levels]
        return (max((width(a) for a, _ in parts), default=0), max((width(b) for _, b in parts), default=0))

    def _level(self, s: ast.Level, align: tuple[int, int]) -> str:
        label, cut = self._level_parts(s)
        if s.points is None:
            return f"{label}{' ' * (align[0] - width(label))} {cut}"
        return f"{label}{' ' * (align[0] - width(label))} {cut}{' ' * (align[1] - width(cut))} -> {expr(s.points)}"

    def _given(self, s: ast.Given, indent: str) -> list[str]:
        rows = [[f"{f.name}: {expr(f.value)}" for f in row.fields] for row in s.rows]
        head = f"{indent}given {s.table}"
        if len(rows) == 1:
            one = f"{head} {{ {', '.join(rows[0])} }}" if rows[0] else f"{head} {{}}"
            if width(one) <= WIDTH:
                return [one]
        out = [head + " {"]
        inner = indent + INDENT
        for i, fields in enumerate(rows):
            line = inner
            for j, item in enumerate(fields):
                piece = item + ("," if j < len(fields) - 1 else "")
                if line.strip() and width(line + " " + piece) > WIDTH:
                    out.append(line)
                    line = inner
                line = line + (" " if line.strip() else "") + piece
            if line.strip():
                out.append(line)
            out.append(f"{indent}}}" + (" {" if i < len(rows) - 1 else ""))
        return out
