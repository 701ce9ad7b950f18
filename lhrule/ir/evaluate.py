"""Per-shop expressions, evaluated exactly in Python: cut-offs, points, minimum samples and
action conditions. They read params (with the shop's per-group values), the shop's own
columns, and the shop's results (indicator values, scores, grades) for the day.

Per-event expressions never come here: they are compiled to SQL (`sql.py`). Numbers are
`Fraction`s, durations are seconds as `Fraction`s; a comparison that meets a missing value
(an indicator not assessed) is false, as in SQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from lhrule.ir import model as ir

# A duration's scale wherever it is a whole number: microseconds, in the SQL, in the data and
# in the counts it sums into. Defined once, here (the first stage that needs it); the engine
# and explain import it.
MICROS = 1_000_000


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
    if kind == "column":  # the shop's row, as the engine gave it: numbers exact, durations in microseconds
        value = res.shop.get(e.column)
        if value is None or e.type.name not in ("number", "duration"):
            return value
        return to_fraction(value) if e.type.name == "number" else Fraction(int(value), MICROS)
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
        if isinstance(x, dt.datetime):  # a date bound stands for its midnight
            lo, hi = _moment(lo), _moment(hi)
        inside = lo <= x <= hi if e.left.type.name == "date" else lo <= x < hi
        return not inside if e.negated else inside
    if kind == "is_null":
        v = evaluate(e.operand, res) is None
        return not v if e.negated else v
    if kind == "call":
        return _call(e.fn, [evaluate(a, res) for a in e.args])
    raise TypeError(f"{kind} cannot be evaluated per shop")  # the checker refuses it per shop


def _call(fn: str, args: list):
    if fn == "coalesce":
        return next((a for a in args if a is not None), None)
    if fn in ("least", "greatest"):  # as SQL's: a missing value is passed over
        known = [a for a in args if a is not None]
        return (min if fn == "least" else max)(known) if known else None
    (value,) = args
    if value is None:
        return None
    if fn == "abs":
        return abs(value)
    if fn == "date":
        return value.date()
    if fn == "time":
        return value.time()
    return Fraction(value.hour)  # hour


def _moment(value):
    """A date compared with a timestamp stands for its midnight."""
    return dt.datetime.combine(value, dt.time()) if isinstance(value, dt.date) and not isinstance(
        value, dt.datetime) else value


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
    if e.op == "/" and right == 0:  # as in SQL: a division by zero has no value
        return None
    if e.op in ("=", "!=", "<", "<=", ">", ">=") and {e.left.type.name, e.right.type.name} == {"date", "timestamp"}:
        left, right = _moment(left), _moment(right)
    times = ("timestamp", "date")
    if e.op in ("+", "-") and (e.left.type.name in times or e.right.type.name in times):
        return _moved(e.op, left, right, e.left.type.name, e.type.name)
    ops = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
           "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
    return ops[e.op](left, right)


def _moved(op: str, left, right, left_type: str, result: str):
    """Arithmetic on days and times as SQL's: a difference is a duration (exact seconds); a
    date moved by a duration is the day the moved midnight falls on."""
    if result == "duration":
        gap = _moment(left) - _moment(right)
        return Fraction(gap.days * 86400 + gap.seconds) + Fraction(gap.microseconds, MICROS)
    when, by = (left, right) if left_type in ("timestamp", "date") else (right, left)
    step = dt.timedelta(microseconds=int(by * MICROS)) * (1 if op == "+" else -1)
    moved = _moment(when) + step
    return moved.date() if result == "date" else moved
