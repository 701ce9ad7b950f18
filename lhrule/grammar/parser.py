"""Text → syntax tree. Wraps Lark: the grammar lives in `lhrule.lark`; this module builds
the `ast` nodes with their spans and turns Lark's exceptions into diagnostics.

A file with several broken declarations reports each of them: after a syntax error the
declaration that holds it is blanked out (positions kept) and the rest is parsed again.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path as FsPath

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from lhrule.diagnostics import Diagnostic, Reporter, Span
from lhrule.grammar import ast

DECL_KEYWORDS = ("rulebook", "include", "entity", "table", "param", "dimension", "indicator",
                 "exclusion", "bands", "score", "grade", "action", "revise", "retire", "test")
_DECL_START = re.compile(r"^(%s)\b" % "|".join(DECL_KEYWORDS))
_MAX_SYNTAX_ERRORS = 20
# Levels of the syntax tree a file may nest (a declaration and its statements take about 5).
MAX_DEPTH = 100
_STATEMENT_DEPTH = 4  # start > declaration > body > statement: where a deep one is reported


@functools.cache
def _lark() -> Lark:
    grammar = (FsPath(__file__).parent / "lhrule.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True, cache=True)  # parser tables cached in the temp folder, not built at each start


def parse(source: str, path: str) -> tuple[ast.File | None, list[Diagnostic]]:
    """Parse one file. Returns the tree (None when any syntax error was found) and the
    diagnostics: every broken declaration of the file, each reported once."""
    reporter = Reporter()
    text = source
    for _ in range(_MAX_SYNTAX_ERRORS):
        try:
            tree = _lark().parse(text)
        except UnexpectedInput as exc:
            _report_syntax(exc, text, path, reporter)
            blanked = _blank_broken_decl(text, exc)
            if blanked == text:
                break
            text = blanked
            continue
        if reporter.has_errors:
            break
        if _too_deep(tree, path, reporter):
            break
        try:
            decls = _Builder(path, reporter).transform(tree)
        except VisitError as exc:  # a builder bug must surface as itself, not as a user error
            raise exc.orig_exc from exc
        if reporter.has_errors:
            break
        return ast.File(path=path, source=source, decls=tuple(decls), comments=find_comments(source)), reporter.sorted()
    return None, reporter.sorted()


def _too_deep(tree, path: str, reporter: Reporter) -> bool:
    """An expression nested past MAX_DEPTH (a chain of hundreds of `and`s, say) is reported
    where it starts: every later stage walks expressions recursively, and Python's stack
    is finite. Walked here with a stack of our own."""
    stack = [(tree, 1, tree)]
    while stack:
        node, depth, statement = stack.pop()
        if depth == _STATEMENT_DEPTH:
            statement = node
        if depth > MAX_DEPTH:
            meta = getattr(statement, "meta", None)
            line, col = (meta.line, meta.column) if meta is not None and not meta.empty else (1, 1)
            span = Span(file=path, line=line, column=col, end_line=line, end_column=col + 1)
            reporter.error("E003", f"an expression here is nested more than {MAX_DEPTH} levels deep", span,
                           suggestion="split it: name its parts as params or separate indicators, or use "
                                      "`in {a, b, c}` for a long chain of `or`s")
            return True
        stack.extend((child, depth + 1, statement) for child in node.children if isinstance(child, Tree))
    return False


# Strings cannot span lines and `#` only starts a comment outside a string, so one regular
# expression finds every comment exactly.
_STRING_OR_COMMENT = re.compile(r'"([^"\\\n]|\\.)*"|#[^\n]*')


def find_comments(source: str) -> tuple[ast.Comment, ...]:
    """Every comment of a text, in order. `fmt` checks its output against its input with it."""
    out = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
    for m in _STRING_OR_COMMENT.finditer(source):
        if m.group(0).startswith("#"):
            line = _line_of(line_starts, m.start())
            out.append(ast.Comment(line, m.start() - line_starts[line - 1] + 1, m.group(0).rstrip()))
    return tuple(out)


def code_only(line: str) -> str:
    """One line with its strings and its comment blanked, same length: what is left is code."""
    return _STRING_OR_COMMENT.sub(lambda m: " " * len(m.group(0)), line)


def _line_of(line_starts: list[int], offset: int) -> int:
    import bisect

    return bisect.bisect_right(line_starts, offset)


# ---------------------------------------------------------------- syntax errors

_SYMBOLS = {"LBRACE": "{", "RBRACE": "}", "LPAR": "(", "RPAR": ")", "COMMA": ",", "COLON": ":",
            "DOT": ".", "EQUAL": "=", "MINUS": "-", "QMARK": "?", "__ANON_0": "..", "__ANON_1": "->"}
_WORDS = {"NAME": "a name", "STRING": 'a "string"', "INT": "a whole number", "DECIMAL": "a decimal",
          "PERCENT": "a percentage such as 40%", "DURATION": "a duration such as 3m, 24h or 30d",
          "DATE": "a date such as 2024-06-30", "TIME": "a time of day such as 08:00",
          "DATETIME": "a timestamp such as 2024-06-10 22:58", "QUANTITY": "a count such as 30 evaluations",
          "DAY_OFFSET": "a day such as T-3", "CMP": "a comparison (>=, <=, >, <, =, !=)",
          "ADD_OP": "+ or -", "MUL_OP": "* or /", "$END": "the end of the file"}


def _describe_terminal(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    if name in _SYMBOLS:
        return f"`{_SYMBOLS[name]}`"
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return name.lower()


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    return f"`{tok}`"


def _expected_text(expected: set[str]) -> str:
    names = sorted({_describe_terminal(t) for t in expected})
    keywords = [n for n in names if n.startswith("`")]
    words = [n for n in names if not n.startswith("`")]
    names = words + keywords
    if len(names) > 8:
        return ", ".join(names[:7]) + f" … and {len(names) - 7} more"
    if len(names) > 1:
        return ", ".join(names[:-1]) + " or " + names[-1]
    return names[0] if names else "something else"


def _report_syntax(exc: UnexpectedInput, text: str, path: str, reporter: Reporter) -> None:
    line, col = max(exc.line, 1), max(exc.column, 1)
    notes: tuple[str, ...] = ()
    suggestion = None
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        span = Span(file=path, line=line, column=col, end_line=line, end_column=col + 1)
        if ch == '"':
            message = "this string is not closed on its line"
            suggestion = 'end the string with `"` (a string cannot span lines; write \\n for a line break)'
        elif ch.isalpha() and not ch.isascii():
            message = f"unexpected character {ch!r}: names are ASCII letters, digits and _"
            suggestion = 'put Chinese text in a "label" string, e.g. indicator reply_rate "旺旺回复率"'
        else:
            message = f"unexpected character {ch!r}"
            if exc.allowed:
                notes = (f"expected {_expected_text(set(exc.allowed))}",)
        reporter.error("E002", message, span, notes=notes, suggestion=suggestion)
        return
    tok = getattr(exc, "token", None)
    expected = set(getattr(exc, "expected", ()) or ())
    if isinstance(exc, UnexpectedEOF) or (tok is not None and tok.type == "$END"):
        lines = text.rstrip().splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        span = Span(file=path, line=line, column=col, end_line=line, end_column=col + 1)
        reporter.error("E001", "the file ends in the middle of a declaration", span,
                       notes=(f"expected {_expected_text(expected)}",),
                       suggestion="is a closing `}` missing?" if "RBRACE" in expected else None)
        return
    assert isinstance(exc, UnexpectedToken)
    lines = text.split("\n")
    if _DECL_START.match(lines[line - 1]) and (opened := _unclosed_brace(text, line)):
        oline, ocol = opened
        span = Span(file=path, line=oline, column=ocol, end_line=oline, end_column=ocol + 1)
        reporter.error("E001", f"this `{{` is not closed before the declaration at line {line}", span,
                       suggestion="add the missing `}`")
        return
    end_col = tok.end_column if tok.end_line == line and tok.end_column else col + max(1, len(str(tok)))
    span = Span(file=path, line=line, column=col, end_line=line, end_column=end_col)
    reporter.error("E001", f"unexpected {_describe_token(tok)}: expected {_expected_text(expected)}", span)


def _unclosed_brace(text: str, before_line: int) -> tuple[int, int] | None:
    """Line and column of the innermost `{` still open at the start of `before_line`."""
    stack: list[tuple[int, int]] = []
    for lineno, ln in enumerate(text.split("\n")[: before_line - 1], start=1):
        code = code_only(ln)
        for col, ch in enumerate(code, start=1):
            if ch == "{":
                stack.append((lineno, col))
            elif ch == "}" and stack:
                stack.pop()
    return stack[-1] if stack else None


def _blank_broken_decl(text: str, exc: UnexpectedInput) -> str:
    """Blank (keep newlines) the declaration holding the error so the rest can be parsed."""
    lines = text.split("\n")
    err = max(exc.line, 1) - 1
    if isinstance(exc, UnexpectedEOF) or getattr(getattr(exc, "token", None), "type", "") == "$END":
        err = len(lines) - 1
    starts = [i for i, ln in enumerate(lines) if _DECL_START.match(ln)]
    # An error on a line that starts a declaration means the one before it is not closed.
    at_decl_keyword = err in starts and not isinstance(exc, UnexpectedCharacters)
    before = [i for i in starts if i < err] if at_decl_keyword else [i for i in starts if i <= err]
    first = before[-1] if before else 0
    after = [i for i in starts if i > first and (i >= err if at_decl_keyword else i > err)]
    last = after[0] if after else len(lines)
    if first >= last:
        return text
    for i in range(first, last):
        lines[i] = ""
    return "\n".join(lines)


# ---------------------------------------------------------------- tree → ast

def _span(path: str, meta) -> Span:
    return Span(file=path, line=meta.line, column=meta.column, end_line=meta.end_line, end_column=meta.end_column)


def _tok_span(path: str, tok: Token) -> Span:
    return Span(file=path, line=tok.line, column=tok.column, end_line=tok.end_line, end_column=tok.end_column)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


# The parts of a declaration's header and its body, as the transformer hands them up to the
# declaration that holds them (never part of the tree).
@dataclass(frozen=True, slots=True)
class _Label:
    text: str


@dataclass(frozen=True, slots=True)
class _Target:
    name: str
    span: Span
    rank_within: str | None


@dataclass(frozen=True, slots=True)
class _Value:
    value: ast.Expr


@dataclass(frozen=True, slots=True)
class _Extends:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class _Body:
    stmts: tuple[ast.Stmt, ...]


@v_args(meta=True)
class _Builder(Transformer):
    """Builds `ast` nodes. Each method is named after the grammar rule it handles."""

    def __init__(self, path: str, reporter: Reporter):
        super().__init__()
        self.file = path
        self.reporter = reporter

    def _sp(self, meta) -> Span:
        return _span(self.file, meta)

    def _string(self, tok: Token) -> str:
        raw = str(tok)[1:-1]
        out, i = [], 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\":
                nxt = raw[i + 1] if i + 1 < len(raw) else ""
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                else:
                    self.reporter.error("E002", f"unknown escape \\{nxt} in a string", _tok_span(self.file, tok),
                                        suggestion='write \\\\ for a backslash, \\" for a quote, \\n for a line break')
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)

    # declarations -------------------------------------------------------
    def start(self, meta, children):
        return list(children)

    def label(self, meta, children):
        return _Label(self._string(children[0]))

    def named_target(self, meta, children):
        name, rank = children
        return _Target(str(name), _tok_span(self.file, name), rank)

    def rank_clause(self, meta, children):
        return str(children[0])

    def value_clause(self, meta, children):
        return _Value(children[0])

    def extends_clause(self, meta, children):
        return _Extends(str(children[0]), _tok_span(self.file, children[0]))

    def body(self, meta, children):
        return _Body(tuple(children))

    def decl_kind(self, meta, children):
        return str(children[0])

    def _decl(self, meta, kind: str, name_tok: Token, parts, *, name: str | None = None, date: str | None = None):
        extra: dict = {}
        for part in parts:
            match part:
                case _Label(text):
                    extra["label"] = text
                case _Target(target, span, rank):
                    extra.update(target=target, target_span=span, rank_within=rank)
                case _Value(value):
                    extra["value"] = value
                case _Extends(metric, span):
                    extra.update(extends=metric, extends_span=span)
                case _Body(stmts):
                    extra["body"] = stmts
        return ast.Decl(kind=kind, name=name if name is not None else str(name_tok), span=self._sp(meta),
                        name_span=_tok_span(self.file, name_tok), date=date, **extra)

    def rulebook_decl(self, meta, children):
        return self._decl(meta, "rulebook", children[0], children[1:])

    def include_decl(self, meta, children):
        tok = children[0]
        return self._decl(meta, "include", tok, [], name=self._string(tok))

    def named_decl(self, meta, children):
        kind, name, *rest = children
        return self._decl(meta, kind, name, rest)

    def revise_decl(self, meta, children):
        name, date, body = children
        return self._decl(meta, "revise", name, [body], date=str(date))

    def retire_decl(self, meta, children):
        name, date, *rest = children
        return self._decl(meta, "retire", name, rest, date=str(date))

    def test_decl(self, meta, children):
        tok, body = children
        return self._decl(meta, "test", tok, [body], name=self._string(tok))

    # statements ---------------------------------------------------------
    def _tok(self, tok: Token) -> Span:
        return _tok_span(self.file, tok)

    def column_stmt(self, meta, c):
        items = list(c[1:])
        type_ref = items.pop(0)
        relation = next((it for it in items if isinstance(it, ast.Relation)), None)
        return ast.Column(str(c[0]), self._tok(c[0]), type_ref, optional="?" in items, key="key" in items,
                          relation=relation, span=self._sp(meta))

    def base_type(self, meta, c):
        return ast.BaseType(str(c[0]), self._tok(c[0]))

    def enum_type(self, meta, c):
        return ast.EnumType(tuple(str(t) for t in c), self._sp(meta))

    def optional(self, meta, c):
        return "?"

    def key(self, meta, c):
        return "key"

    def relation(self, meta, c):
        target, alias = c
        return ast.Relation(str(target), str(alias) if alias is not None else None, self._tok(target))

    def version_stmt(self, meta, c):
        return ast.Version(self._string(c[0]), self._sp(meta))

    def timezone_stmt(self, meta, c):
        return ast.Timezone(self._string(c[0]), self._sp(meta))

    def effective_stmt(self, meta, c):
        start, end = c[0]
        return ast.Effective(start, end, self._sp(meta))

    def date_range(self, meta, c):
        start = end = None
        for tok in c:
            if _before_dots(tok, meta):
                start = ast.DateBound(str(tok), self._tok(tok))
            else:
                end = ast.DateBound(str(tok), self._tok(tok))
        return (start, end)  # unpacked at once by effective_stmt

    def cite_stmt(self, meta, c):
        source, quote = (c + [None])[:2]
        return ast.Cite(self._string(source), self._string(quote) if quote else None, self._sp(meta))

    def assumption_stmt(self, meta, c):
        return ast.Assumption(self._string(c[0]), self._sp(meta))

    def dimension_stmt(self, meta, c):
        return ast.InDimension(str(c[0]), self._tok(c[0]), self._sp(meta))

    def over_stmt(self, meta, c):
        return ast.Over(str(c[0]), self._tok(c[0]), self._sp(meta))

    def window_stmt(self, meta, c):
        spec, col = c
        return ast.Window(spec, str(col), self._tok(col), self._sp(meta))

    def window_last(self, meta, c):
        return ast.WindowLast(ast.Lit("duration", str(c[0]), self._tok(c[0])), self._sp(meta))

    def window_previous_day(self, meta, c):
        return ast.WindowPreviousDay(self._sp(meta))

    def window_range(self, meta, c):
        return ast.WindowRange(str(c[0]), str(c[1]), self._sp(meta))

    def where_stmt(self, meta, c):
        return ast.Where(c[0], self._sp(meta))

    def once_stmt(self, meta, c):
        return ast.OncePer(tuple(c), self._sp(meta))

    def measure_rate(self, meta, c):
        return ast.Measure("rate", c[0], self._sp(meta))

    def measure_average(self, meta, c):
        return ast.Measure("average", c[0], self._sp(meta))

    def measure_total(self, meta, c):
        return ast.Measure("total", c[0], self._sp(meta))

    def measure_count(self, meta, c):
        return ast.Measure("count", None, self._sp(meta))

    def min_sample_stmt(self, meta, c):
        return ast.MinSample(c[0], self._sp(meta))

    def direction_stmt(self, meta, c):
        return ast.Direction(c[0], self._sp(meta))

    def direction(self, meta, c):
        return str(c[0])

    def display_only(self, meta, c):
        return ast.Status("display_only", self._sp(meta))

    def assessed(self, meta, c):
        return ast.Status("assessed", self._sp(meta))

    def only_for_stmt(self, meta, c):
        return ast.OnlyFor(c[0], self._sp(meta))

    def round_stmt(self, meta, c):
        return ast.Round(int(c[0]), self._sp(meta))

    def applies_stmt(self, meta, c):
        return ast.Applies(tuple(ast.Ref(str(t), self._tok(t)) for t in c), self._sp(meta))

    def when_stmt(self, meta, c):
        return ast.When(c[0], self._sp(meta))

    def until_stmt(self, meta, c):
        return ast.Until(c[0], self._sp(meta))

    def except_stmt(self, meta, c):
        return ast.Except(c[0], self._sp(meta))

    def level_stmt(self, meta, c):
        label, cutoff, points = c
        return ast.Level(self._string(label), cutoff, points, self._sp(meta))

    def cut_value(self, meta, c):
        return ast.CutValue(str(c[0]), c[1], self._sp(meta))

    def cut_top(self, meta, c):
        return ast.CutTop(c[0], self._sp(meta))

    def cut_otherwise(self, meta, c):
        return ast.CutOtherwise(self._sp(meta))

    def weights_stmt(self, meta, c):
        return ast.Weights(tuple(c), self._sp(meta))

    def weight(self, meta, c):
        return ast.Weight(str(c[0]), self._tok(c[0]), c[1], self._sp(meta))

    def override_stmt(self, meta, c):
        column, values, rest = c
        body, value = (rest, None) if isinstance(rest, _Body) else (None, rest)
        return ast.Override(str(column), self._tok(column), values, value, body.stmts if body else None, self._sp(meta))

    def unassessed_reweight(self, meta, c):
        return ast.Unassessed("reweight", None, self._sp(meta))

    def unassessed_score(self, meta, c):
        return ast.Unassessed("score", c[0], self._sp(meta))

    def as_of_stmt(self, meta, c):
        return ast.AsOf(str(c[0]), self._tok(c[0]), self._sp(meta))

    def given_stmt(self, meta, c):
        return ast.Given(str(c[0]), self._tok(c[0]), tuple(c[1:]), self._sp(meta))

    def row(self, meta, c):
        return ast.Row(tuple(x for x in c if x is not None), self._sp(meta))

    def field(self, meta, c):
        return ast.Field(str(c[0]), self._tok(c[0]), c[1], self._sp(meta))

    def expect_stmt(self, meta, c):
        items = list(c)
        negated = False
        if items and items[0] == "no":
            negated = True
            items.pop(0)
        name, shop, *rest = items
        return ast.Expect(negated, str(name), self._tok(name), self._string(shop), rest[0] if rest else None,
                          self._sp(meta))

    def negated(self, meta, c):
        return "no"

    def expect_value(self, meta, c):
        return ast.ExpectValue(c[0], self._sp(meta))

    def expect_not_assessed(self, meta, c):
        return ast.ExpectNotAssessed(self._sp(meta))

    def expect_band(self, meta, c):
        return ast.ExpectBand(self._string(c[0]), self._sp(meta))

    def expect_points(self, meta, c):
        return ast.ExpectPoints(c[0], self._sp(meta))

    # expressions --------------------------------------------------------
    def exists(self, meta, c):
        table, alias, cond = c
        return ast.Exists(str(table), str(alias) if alias is not None else None, cond, False, self._sp(meta))

    def not_exists(self, meta, c):
        table, alias, cond = c
        return ast.Exists(str(table), str(alias) if alias is not None else None, cond, True, self._sp(meta))

    def or_(self, meta, c):
        return ast.Binary("or", c[0], c[1], self._sp(meta))

    def and_(self, meta, c):
        return ast.Binary("and", c[0], c[1], self._sp(meta))

    def not_(self, meta, c):
        return ast.Unary("not", c[0], self._sp(meta))

    def compare(self, meta, c):
        return ast.Binary(str(c[1]), c[0], c[2], self._sp(meta))

    def binary(self, meta, c):
        return ast.Binary(str(c[1]), c[0], c[2], self._sp(meta))

    def in_(self, meta, c):
        return ast.In(c[0], c[1], False, self._sp(meta))

    def not_in(self, meta, c):
        return ast.In(c[0], c[1], True, self._sp(meta))

    def range(self, meta, c):
        return ast.Range(c[0], c[1], self._sp(meta))

    def is_null(self, meta, c):
        return ast.IsNull(c[0], False, self._sp(meta))

    def is_not_null(self, meta, c):
        return ast.IsNull(c[0], True, self._sp(meta))

    def neg(self, meta, c):
        return ast.Unary("-", c[0], self._sp(meta))

    def call(self, meta, c):
        name, *args = c
        return ast.Call(str(name), tuple(a for a in args if a is not None), self._sp(meta))

    def path(self, meta, c):
        return ast.Path(tuple(str(t) for t in c), self._sp(meta))

    def set_lit(self, meta, c):
        return ast.SetLit(tuple(x for x in c if x is not None), self._sp(meta))

    def literal(self, meta, c):
        tok = c[0]
        if isinstance(tok, ast.Lit):  # boolean / null
            return tok
        kind = tok.type.lower()
        text = self._string(tok) if kind == "string" else str(tok)
        return ast.Lit(kind, text, _tok_span(self.file, tok))

    def boolean(self, meta, c):
        return ast.Lit("bool", str(c[0]), self._sp(meta))

    def null(self, meta, c):
        return ast.Lit("null", "null", self._sp(meta))


def _before_dots(tok: Token, meta) -> bool:
    """In `A .. B`, is this date token the A? (Either end may be left out.)"""
    return tok.start_pos == meta.start_pos

