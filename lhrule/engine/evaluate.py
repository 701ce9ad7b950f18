"""Per-shop expressions, evaluated exactly in Python: cut-offs, points, minimum samples and
action conditions. They read params (with the shop's per-group values), the shop's own
columns, and the shop's results (indicator values, scores, grades) for the day.

Per-event expressions never come here: they are compiled to SQL (`sql.py`). Numbers are
`Fraction`s, durations are seconds as `Fraction`s; a comparison that meets a missing value
(an indicator not assessed) is false, as in SQL.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from lhrule.engine import ir


def to_fraction(value) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, Decimal)):
        return Fraction(value)
    raise TypeError(f"not a number: {value!r}")


def param_value(param: ir.Param, shop: dict):
    for ov in param.overrides:
        if str(shop.get(ov.column)) in ov.values:
            return _literal(ov.value)
    return _literal(param.value)


def _literal(e):
    if isinstance(e, ir.SetValue):
        return frozenset(_literal(i) for i in e.items)
    if e.type.name in ("number", "duration"):
        return Fraction(e.value)
    return e.value


def evaluate(e: ir.Expr, res):
    """`res` is a ShopResult: its shop row, plan and results so far."""
    kind = e.kind
    if kind in ("literal", "set"):
        return _literal(e)
    if kind == "param":
        return param_value(res.plan.params[e.name], res.shop)
    if kind == "column":
        return res.shop.get(e.column)
    if kind == "as_of":
        return res.as_of
    if kind == "result":
        return _result(e, res)
    if kind == "unary":
        v = evaluate(e.operand, res)
        if e.op == "not":
            return not bool(v)
        return None if v is None else -v
    if kind == "binary":
        return _binary(e, res)
    if kind == "in":
        left, right = evaluate(e.left, res), evaluate(e.right, res)
        if left is None or right is None:
            return False
        found = left in (right.split(";") if isinstance(right, str) else right)
        return not found if e.negated else found
    if kind == "in_range":
        x, lo, hi = evaluate(e.left, res), evaluate(e.lo, res), evaluate(e.hi, res)
        if None in (x, lo, hi):
            return False
        inside = lo <= x <= hi if e.left.type.name == "date" else lo <= x < hi
        return not inside if e.negated else inside
    if kind == "is_null":
        v = evaluate(e.operand, res) is None
        return not v if e.negated else v
    raise TypeError(f"{kind} cannot be evaluated per shop")


def _result(e: ir.ResultRef, res):
    if e.of == "indicator":
        r = res.indicators.get(e.name)
        return r.value if r is not None and r.assessed else None
    if e.of == "score":
        r = res.scores.get(e.name)
        return r.value if r is not None else None
    if e.of == "dimension":
        r = res.dimensions.get(e.name)
        return r.value if r is not None else None
    level = res.grades.get(e.name)
    return level.label if level is not None else None


def _binary(e: ir.Binary, res):
    if e.op == "and":
        return bool(evaluate(e.left, res)) and bool(evaluate(e.right, res))
    if e.op == "or":
        return bool(evaluate(e.left, res)) or bool(evaluate(e.right, res))
    left, right = evaluate(e.left, res), evaluate(e.right, res)
    if left is None or right is None:
        return False if e.op in ("=", "!=", "<", "<=", ">", ">=") else None
    ops = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
           "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
    return ops[e.op](left, right)
