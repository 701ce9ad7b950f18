"""Text → syntax tree: literals, spans, comments, and syntax errors with exact messages."""

from __future__ import annotations

import pytest

from lhrule.grammar import ast
from lhrule.grammar.parser import parse


def one_expr(text: str) -> ast.Expr:
    tree, diags = parse(f"indicator x {{\n  where {text}\n}}\n", "e.rule")
    assert diags == [], diags
    return tree.decls[0].body[0].expr


@pytest.mark.parametrize("text,kind", [
    ("30", "int"), ("4.75", "decimal"), ("40%", "percent"), ("12.5%", "percent"), ("3m", "duration"),
    ("3 minutes", "duration"), ("24h", "duration"), ("30 days", "duration"), ("500ms", "duration"),
    ("30 evaluations", "quantity"), ("2024-06-30", "date"), ("08:00", "time"), ("22:59:59", "time"),
    ("2024-06-10 22:58", "datetime"), ("2024-06-10T22:58:00+08:00", "datetime"), ('"旺旺"', "string"),
])
def test_literals_lex_as_one_token(text, kind):
    e = one_expr(f"x = {text}")
    assert isinstance(e, ast.Binary) and isinstance(e.right, ast.Lit)
    assert e.right.kind == kind


def test_string_escapes_are_decoded():
    e = one_expr(r'x = "a\"b\\c\nd"')
    assert e.right.text == 'a"b\\c\nd'


def test_precedence_and_spans():
    e = one_expr("a or b and not c = 1 + 2 * 3")
    assert e.op == "or" and e.right.op == "and"
    assert e.right.right.op == "not" and e.right.right.operand.op == "="
    assert e.right.right.operand.right.op == "+" and e.right.right.operand.right.right.op == "*"
    assert (e.span.line, e.span.column) == (2, 9)


def test_keywords_are_names_where_a_name_is_expected():
    # `status`, `level`, `kind` … are columns of the standard schema
    e = one_expr("status = success and level in {a} and kind = refund_only and count = 1")
    assert isinstance(e, ast.Binary)


def test_comments_are_kept_with_positions():
    tree, _ = parse('# top\nparam a = 1  # trailing\nparam s = "# not a comment"\n', "c.rule")
    assert [(c.line, c.column, c.text) for c in tree.comments] == [(1, 1, "# top"), (2, 14, "# trailing")]


@pytest.mark.parametrize("text,message", [
    ("indicator x {\n  window last on paid_at\n}\n", "2:15 unexpected `on`: expected a duration such as 3m, 24h or 30d"),
    ("indicator x {\n  over\n}\n", "3:1 unexpected `}`: expected a name"),
    ("param p = \n", "1:10 the file ends in the middle of a declaration"),
    ("indicator x {\n  where a @ b\n}\n", "2:11 unexpected character '@'"),
    ('param p = "abc\n', "1:11 this string is not closed on its line"),
    ('param p = "a\\qb"\n', "1:11 unknown escape \\q in a string"),
    ("indicator 旺旺 {}\n", "1:11 unexpected character '旺': names are ASCII letters, digits and _"),
    ("indicator a {\n  over orders\n\nindicator b {\n}\n", "1:13 this `{` is not closed before the declaration at line 4"),
])
def test_syntax_errors(text, message):
    tree, diags = parse(text, "s.rule")
    assert tree is None
    assert f"{diags[0].span.line}:{diags[0].span.column} {diags[0].message}" == message


def test_every_broken_declaration_is_reported():
    text = "indicator a {\n  window last on x\n}\n\nindicator b {\n  where 1 +\n}\n\nparam ok = 1\n"
    _, diags = parse(text, "m.rule")
    assert [d.span.line for d in diags] == [2, 7]
