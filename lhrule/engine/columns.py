"""The names of the columns the engine's stages hand each other: the per-event flags the SQL
makes (`sql/queries.py`), which `trace/explain.py` reads row by row, and the per-shop counts
it sums them into, which `run/combine.py` and `run/score.py` read. A name is made here, and
only here, so the side that writes a column and the side that reads it cannot drift apart.

(Kept apart from `kinds.py`: most of these names belong to no measure kind, and the kinds,
the queries and the per-shop step all read them.)
"""

from __future__ import annotations

# -- a flagged event row (see `sql/queries.py`) -------------------------------------------
EVENT_ID = "event_id"
SHOP_ID = "shop_id"
AS_OF = "as_of"
AT = "at"  # the row's time in the window's column
DAY = "day"  # the day of `AT`, when each row is judged once for every as-of day
IN_WINDOW = "in_window"
ELIGIBLE = "eligible"
KEPT = "kept"
NUMERATOR = "numerator"  # a rate's condition, on the row
VALUE = "value"  # an average's or a total's value, on the row
VERDICT = "verdict"
VERDICT_COUNT = "verdict_count"
VERDICT_ROW = "verdict_row"

# -- the counts of a shop and day ----------------------------------------------------------
ROWS = "rows"  # kept rows
HITS = "hits"  # kept rows meeting a rate's condition
TOTAL = "total"  # the sum an average or a total needs
SEEN = "seen"  # (fused counts) the shop had a row in this indicator's window


def where_column(i: int) -> str:
    """The flag of the indicator's i-th `where` line (from 1)."""
    return f"where_{i}"


def key_column(i: int) -> str:
    """The i-th part of the `once per` key (from 1)."""
    return f"key_{i}"


def condition_column(i: int) -> str:
    """The i-th part of a rate's condition (from 1), on a flagged row explain reads."""
    return f"condition_{i}"


def condition_value_column(i: int) -> str:
    """The value the i-th part of a rate's condition compared."""
    return f"condition_{i}_value"


def exclusion_column(name: str) -> str:
    """An exclusion's flag on an event row, and the rows it removed in the counts."""
    return f"x_{name}"


def fused_prefix(n: int) -> str:
    """The prefix of indicator n's columns in counts fused into one query (from 0)."""
    return f"i{n}_"


# -- the shop rows (see `queries.shop_query`) ----------------------------------------------
def only_for_column(indicator: str) -> str:
    """Whether the indicator's `only for` holds for the shop."""
    return f"only_for_{indicator}"


def retired_except_column(indicator: str) -> str:
    """Whether the shop is among those a retired indicator still scores (`except`)."""
    return f"retired_except_{indicator}"


# -- the flat rows of `score --format csv|parquet`, which ranking reads back (`score.peer_aggregates`)
def saved_column(indicator: str, part: str) -> str:
    """An indicator's column in the flat rows: `part` is value, numerator, denominator, assessed,
    band or points."""
    return f"{indicator}.{part}"
