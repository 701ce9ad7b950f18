"""The baseline a user would otherwise pick: `rulebooks/tmall/basic-service.rule` evaluated
event by event in plain Python, the way a pure-Python rule engine does it.

    python -m benchmarks.per_event --data /tmp/lhrule-bench/gen-407x61 --as-of 2024-06-30

The events are loaded as Python dicts (pyarrow `to_pylist()`); then every event is tested
against the conditions of the indicators over its table and counted for its shop; then the
shops are ranked within their main category, given points, and weighted into the score.
Exact arithmetic throughout (`Fraction`), so the result can be checked against lhrule's for
equality: the run prints the seconds taken and exits 1 when any shop differs.

The rules are transcribed by hand from the rulebook (as of its version 2019.07, with the
revision of return_refund_time from 2019-07-16). Unlike `lhrule score`, nothing here
validates the dataset first: the data is assumed to be what `lhrule gen` makes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from benchmarks.agreement import dataset_folder, compare, exit_if_different, lhrule_results

ZONE = ZoneInfo("Asia/Shanghai")
MICROS = 1_000_000

Event = dict[str, Any]
Tables = dict[str, list[Event]]

# The columns each table is read with (the ones the rulebook reads).
COLUMNS = {
    "shops": ["shop_id", "main_category", "platform"],
    "consultations": ["consultation_id", "shop_id", "buyer_id", "sub_account", "asked_at", "first_reply_at",
                      "first_reply_kind", "first_human_reply_at", "blocked_before_reply"],
    "orders": ["order_id", "shop_id", "paid_at", "picked_up_at", "ship_region", "recv_region"],
    "reviews": ["review_id", "shop_id", "created_at", "item_score", "logistics_score"],
    "refunds": ["refund_id", "shop_id", "order_id", "kind", "requested_at", "merchant_agreed_at",
                "buyer_returned_at", "completed_at", "platform_intervened", "dispute_ruled_against_merchant"],
    "complaints": ["complaint_id", "shop_id", "ruled_at", "upheld", "resolved_by_merchant"],
    "appeals": ["appeal_id", "order_id", "indicator", "filed_at", "decided_at", "accepted"],
    "force_majeure": ["notice_id", "region", "starts_on", "ends_on", "indicators"],
}
KEYS = {table: columns[0] for table, columns in COLUMNS.items()}

# ------------------------------------------------------------------------------- the rules

PICKUP_LIMIT = dt.timedelta(hours=24)
LOGISTICS_REVIEW_CATEGORIES = {"家具"}
VEHICLES = {"新车", "二手车", "整车"}
RETURN_TIME_REVISED = dt.date(2019, 7, 16)
# Rank bands, best first: (share of the category, points); the rest get 0.
BANDS = [(Fraction(20, 100), Fraction(5)), (Fraction(40, 100), Fraction(4)), (Fraction(60, 100), Fraction(3)),
         (Fraction(80, 100), Fraction(2))]
WEIGHTS = {"goods": Fraction(1, 5), "logistics": Fraction(1, 5), "aftersale": Fraction(1, 5),
           "dispute": Fraction(1, 5), "consult": Fraction(1, 5)}
VEHICLE_WEIGHTS = {"consult": Fraction(1, 4), "logistics": Fraction(0), "goods": Fraction(1, 4),
                   "aftersale": Fraction(1, 4), "dispute": Fraction(1, 4)}
SCORE_DIGITS = 2


@dataclass(frozen=True)
class Indicator:
    name: str
    dimension: str
    table: str
    at: str  # the window's column
    days: tuple[int, int]  # the window: T-first .. T-last, whole local days, both included
    higher_is_better: bool
    only_for: Callable[[Event], bool]  # a condition on the shop
    where: tuple[Callable[[Event], bool], ...] = ()
    once_per: Callable[[Event], Hashable] | None = None  # the earliest event of each key stands
    rate: Callable[[Event], bool] | None = None  # rate where …: hits / rows
    average: Callable[[Event], int | None] | None = None  # average …: total / rows
    unit: int = 1  # the average's values are in 1/unit (durations: microseconds)


@dataclass
class Tally:
    rows: int = 0
    hits: int = 0
    total: int | None = None


def micros(delta: dt.timedelta) -> int:
    return delta // dt.timedelta(microseconds=1)


def same_day(a: dt.datetime | None, b: dt.datetime) -> bool:
    return a is not None and a.date() == b.date()


def tmall(shop: Event) -> bool:
    return shop["platform"] == "tmall"


def answered(e: Event) -> bool:
    return not e["blocked_before_reply"] and (
        (e["first_reply_kind"] in {"human", "bot", "bot_assist"} and same_day(e["first_reply_at"], e["asked_at"]))
        or same_day(e["first_human_reply_at"], e["asked_at"]))


def picked_up_in_time(e: Event) -> bool:
    return e["picked_up_at"] is not None and e["picked_up_at"] - e["paid_at"] <= PICKUP_LIMIT


def rules(as_of: dt.date, disputed_orders: set[str], excluded: dict[str, set[str]] | None = None) -> list[Indicator]:
    """The indicators in force on as_of; `disputed_orders` are the orders with a refund ruled
    against the merchant and completed before as_of (the `exists refunds r …` of 纠纷退款率);
    `excluded` the orders each indicator's exclusions remove."""
    excluded = excluded or {}
    pickup_out, dispute_out = excluded.get("pickup_24h", set()), excluded.get("dispute_refund_rate", set())
    consultation = (lambda e: (e["buyer_id"], e["sub_account"], e["asked_at"].date()))
    if as_of >= RETURN_TIME_REVISED:
        return_where = (lambda e: e["kind"] == "return_refund", lambda e: not e["platform_intervened"],
                        lambda e: e["buyer_returned_at"] is not None or e["merchant_agreed_at"] is None)
        return_time = (lambda e: micros(e["completed_at"] - (e["buyer_returned_at"] or e["requested_at"])))
    else:
        return_where = (lambda e: e["kind"] == "return_refund", lambda e: not e["platform_intervened"])
        return_time = (lambda e: micros(e["completed_at"] - e["requested_at"]))
    return [
        Indicator("reply_rate", "consult", "consultations", "asked_at", (30, 1), True, tmall,
                  once_per=consultation, rate=answered),
        Indicator("human_response_time", "consult", "consultations", "asked_at", (30, 1), False, tmall,
                  where=(lambda e: e["first_human_reply_at"] is not None,), once_per=consultation,
                  average=lambda e: micros(e["first_human_reply_at"] - e["asked_at"]), unit=MICROS),
        Indicator("pickup_24h", "logistics", "orders", "paid_at", (32, 3), True,
                  lambda s: tmall(s) and s["main_category"] not in LOGISTICS_REVIEW_CATEGORIES,
                  where=(lambda e: e["order_id"] not in pickup_out,), rate=picked_up_in_time),
        Indicator("logistics_review", "logistics", "reviews", "created_at", (30, 1), True,
                  lambda s: tmall(s) and s["main_category"] in LOGISTICS_REVIEW_CATEGORIES,
                  average=lambda e: e["logistics_score"]),
        Indicator("goods_review", "goods", "reviews", "created_at", (30, 1), True, tmall,
                  average=lambda e: e["item_score"]),
        Indicator("refund_only_time", "aftersale", "refunds", "completed_at", (30, 1), False, tmall,
                  where=(lambda e: e["kind"] == "refund_only", lambda e: not e["platform_intervened"]),
                  average=lambda e: micros(e["completed_at"] - e["requested_at"]), unit=MICROS),
        Indicator("return_refund_time", "aftersale", "refunds", "completed_at", (30, 1), False, tmall,
                  where=return_where, average=return_time, unit=MICROS),
        Indicator("dispute_refund_rate", "dispute", "orders", "paid_at", (30, 1), False, tmall,
                  where=(lambda e: e["order_id"] not in dispute_out,), rate=lambda e: e["order_id"] in disputed_orders),
        Indicator("complaint_rate", "dispute", "complaints", "ruled_at", (34, 5), False, tmall,
                  where=(lambda e: not e["resolved_by_merchant"],), rate=lambda e: e["upheld"]),
    ]


# ------------------------------------------------------------------------------- loading


def local(value: Any) -> Any:
    """A timestamp with an offset as naive local time (naive ones already are local)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(ZONE).replace(tzinfo=None)
    return value


def load(data: Path) -> Tables:
    tables = {}
    for name, columns in COLUMNS.items():
        table = pq.read_table(data / f"{name}.parquet", columns=columns)
        rows = table.to_pylist()
        aware = [f.name for f in table.schema if getattr(f.type, "tz", None)]
        for row in rows if aware else ():
            for column in aware:
                row[column] = local(row[column])
        tables[name] = rows
    return tables


# ------------------------------------------------------------------------------- evaluation


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def count(ind: Indicator, tally: Tally, e: Event) -> None:
    tally.rows += 1
    if ind.rate is not None:
        tally.hits += bool(ind.rate(e))
    elif ind.average is not None and (value := ind.average(e)) is not None:
        tally.total = (tally.total or 0) + value


def tally_events(indicators: list[Indicator], tables: Tables, as_of: dt.date) -> dict[str, dict[str, Tally]]:
    """Every event against every indicator over its table: {indicator: {shop_id: Tally}}."""
    tallies: dict[str, dict[str, Tally]] = {ind.name: defaultdict(Tally) for ind in indicators}
    for table, events in tables.items():
        mine = [(ind, midnight(as_of - dt.timedelta(days=ind.days[0])),
                 midnight(as_of - dt.timedelta(days=ind.days[1] - 1))) for ind in indicators if ind.table == table]
        if not mine:
            continue
        key = KEYS[table]
        firsts: dict[str, dict[tuple, tuple[tuple, Event]]] = {ind.name: {} for ind, _, _ in mine if ind.once_per}
        for e in events:
            for ind, start, end in mine:
                at = e[ind.at]
                if at is None or not start <= at < end or not all(cond(e) for cond in ind.where):
                    continue
                if ind.once_per is None:
                    count(ind, tallies[ind.name][e["shop_id"]], e)
                    continue
                # ties on the window time go to the smaller event id, as in lhrule
                group, order = (e["shop_id"], ind.once_per(e)), (at, e[key])
                first = firsts[ind.name].get(group)
                if first is None or order < first[0]:
                    firsts[ind.name][group] = (order, e)
        for ind, _, _ in mine:
            for (shop_id, _), (_, e) in firsts.get(ind.name, {}).items():
                count(ind, tallies[ind.name][shop_id], e)
    return tallies


def round_half_up(value: Fraction, digits: int) -> Fraction:
    scale = 10 ** digits
    units = (abs(value.numerator) * scale * 2 + value.denominator) // (2 * value.denominator)
    return Fraction(-units if value < 0 else units, scale)


def points_by_rank(values: dict[str, Fraction], higher_is_better: bool) -> dict[str, Fraction]:
    """Rank 1 is the best and equal values share a rank; "top p" holds when the shops ahead
    are fewer than p × the group's size."""
    ordered = sorted(values.values(), reverse=higher_is_better)
    ahead: dict[Fraction, int] = {}  # value -> how many shops are better
    for i, v in enumerate(ordered):
        ahead.setdefault(v, i)
    points: dict[str, Fraction] = {}
    for shop_id, value in values.items():
        points[shop_id] = next((p for share, p in BANDS if ahead[value] < share * len(ordered)), Fraction(0))
    return points


def weighted(values: dict[str, Fraction | None], weights: dict[str, Fraction]) -> Fraction | None:
    """A weighted mean; a part without a value drops out and the others are reweighted."""
    num = den = Fraction(0)
    for name, weight in weights.items():
        if values.get(name) is not None:
            num += values[name] * weight
            den += weight
    return num / den if den else None


def exclusions(tables: Tables, before: dt.datetime) -> dict[str, set[str]]:
    """The orders the platform's exclusions remove: from 24小时揽收及时率 those whose first appeal
    on it was accepted 48 hours before T or that a natural-disaster notice covers, from 纠纷退款率
    those of an accepted appeal decided before T, filed within 72 hours of a disputed refund's end."""
    first: dict[str, list[Event]] = {}
    for a in tables["appeals"]:
        if a["indicator"] == "24小时揽收及时率":
            first.setdefault(a["order_id"], []).append(a)
    pickup = {order for order, appeals in first.items()
              for earliest in [min(a["filed_at"] for a in appeals)]
              if any(a["filed_at"] == earliest and a["accepted"] and a["decided_at"] is not None
                     and a["decided_at"] + dt.timedelta(hours=48) <= before for a in appeals)}
    notices = [f for f in tables["force_majeure"] if "24小时揽收及时率" in f["indicators"].split(";")]
    pickup |= {o["order_id"] for o in tables["orders"] for f in notices
               if f["region"] in (o["ship_region"], o["recv_region"]) and f["starts_on"] <= o["paid_at"].date() <= f["ends_on"]}
    disputed_ends: dict[str, list[dt.datetime]] = {}
    for r in tables["refunds"]:
        if r["dispute_ruled_against_merchant"] and r["completed_at"] is not None:
            disputed_ends.setdefault(r["order_id"], []).append(r["completed_at"])
    dispute = {a["order_id"] for a in tables["appeals"]
               if a["indicator"] == "纠纷退款率" and a["accepted"] and a["decided_at"] is not None
               and a["decided_at"] < before
               and any(a["filed_at"] <= end + dt.timedelta(hours=72) for end in disputed_ends.get(a["order_id"], ()))}
    return {"pickup_24h": pickup, "dispute_refund_rate": dispute}


def evaluate(tables: Tables, as_of: dt.date) -> dict[str, dict]:
    before = midnight(as_of)
    disputed = {r["order_id"] for r in tables["refunds"] if r["dispute_ruled_against_merchant"]
                and r["completed_at"] is not None and r["completed_at"] < before}
    indicators = rules(as_of, disputed, exclusions(tables, before))
    tallies = tally_events(indicators, tables, as_of)
    shops = {s["shop_id"]: s for s in tables["shops"]}
    out: dict[str, dict] = {s: {"score": None, "indicators": {}} for s in shops}
    for ind in indicators:
        groups: dict[str, dict[str, Fraction]] = defaultdict(dict)  # main category -> assessed values
        for shop_id, shop in shops.items():
            t = tallies[ind.name].get(shop_id, Tally())
            if ind.rate is not None:
                numerator, value = t.hits, Fraction(t.hits, t.rows) if t.rows else None
            else:
                numerator = None if t.total is None else Fraction(t.total, ind.unit)
                value = numerator / t.rows if t.rows and numerator is not None else None
            out[shop_id]["indicators"][ind.name] = {"numerator": numerator, "denominator": t.rows, "points": None}
            if value is not None and ind.only_for(shop):
                groups[str(shop["main_category"])][shop_id] = value
        for members in groups.values():
            for shop_id, points in points_by_rank(members, ind.higher_is_better).items():
                out[shop_id]["indicators"][ind.name]["points"] = points
    for shop_id, shop in shops.items():
        results = out[shop_id]["indicators"]
        dimensions = {}
        for dim in WEIGHTS:
            members = [ind.name for ind in indicators if ind.dimension == dim]
            dimensions[dim] = weighted({n: results[n]["points"] for n in members},
                                       {n: Fraction(1, len(members)) for n in members})
        score = weighted(dimensions, VEHICLE_WEIGHTS if shop["main_category"] in VEHICLES else WEIGHTS)
        out[shop_id]["score"] = None if score is None else round_half_up(score, SCORE_DIGITS)
    return out


def score_python(data: Path, as_of: dt.date) -> dict[str, dict]:
    """{shop_id: {"score": Fraction | None, "indicators": {name: {"numerator", "denominator", "points"}}}}."""
    return evaluate(load(Path(data)), as_of)


# ------------------------------------------------------------------------------- checking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=dataset_folder, required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2024, 6, 30))
    parser.add_argument("--runs", type=int, default=1, help="time this many runs and print the medians")
    args = parser.parse_args()
    loads, evals = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        tables = load(args.data)
        loaded = time.perf_counter()
        mine = evaluate(tables, args.as_of)
        loads.append(loaded - start)
        evals.append(time.perf_counter() - loaded)
        del tables
    events = sum(pq.read_metadata(args.data / f"{t}.parquet").num_rows for t in COLUMNS if t != "shops")
    median = statistics.median
    print(f"per-event Python, {len(mine)} shops, {events:,} events read, as of {args.as_of}"
          + (f" (median of {args.runs} runs)" if args.runs > 1 else ""))
    print(f"  load {median(loads):.2f} s, evaluation {median(evals):.2f} s, "
          f"total {median([a + b for a, b in zip(loads, evals)]):.2f} s")
    start = time.perf_counter()
    theirs = lhrule_results(args.data, args.as_of)
    print(f"  lhrule.score (validation included) {time.perf_counter() - start:.2f} s")
    exit_if_different(compare(mine, theirs), shown=10)
    print("same as lhrule: every shop's score, and every indicator's numerator, denominator and points")


if __name__ == "__main__":
    main()
