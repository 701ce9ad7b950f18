"""Results → the machine output of docs/contract.md (JSON), and flat rows for CSV/Parquet.

Exact numbers are strings holding a decimal; counts are integers. Fields may be added,
never renamed or removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

from lhrule.engine.columns import saved_column
from lhrule.ir import model as ir
from lhrule.engine.run.results import ShopResult, decimal_text
from lhrule.engine.run.score import gc_held

VALUE_DIGITS = 4  # rates and averages shown to 4 places unless the rulebook rounds otherwise


def rulebook_hash(sources: dict[str, str]) -> str:
    """The rules' content: the text of the rulebook and of every file it includes. Not their
    names, which are written as the command was given them (relative to where it ran, or whole):
    the same rules named from two folders are the same rules (the names made two hashes)."""
    h = hashlib.sha256()
    for text in sorted(sources.values()):
        h.update(hashlib.sha256(text.encode()).digest())
    return h.hexdigest()[:16]


def dataset_fingerprint(files: dict[str, list[Path]]) -> str:
    """Names, sizes and the last 64 KiB of every file (a Parquet footer holds its statistics)."""
    h = hashlib.sha256()
    for table in sorted(files):
        for path in files[table]:
            size = path.stat().st_size
            h.update(f"{table}\0{path.name}\0{size}\0".encode())
            with path.open("rb") as f:
                f.seek(max(0, size - 65536))
                h.update(f.read())
    return h.hexdigest()[:16]


def _labels(rb: ir.Rulebook) -> dict[str, str]:
    return {d.name: d.label or d.name for d in rb.dimensions}


def shop_json(res: ShopResult, rb: ir.Rulebook, with_day: bool = False, statics: dict | None = None) -> dict:
    """One shop's results. `statics` (one dict for all the shops of a run) keeps what each
    indicator version shows alike in every shop: its label, dimension, digits and unit."""
    statics = {} if statics is None else statics
    out: dict = {"shop_id": res.shop_id}
    if with_day:
        out["as_of"] = res.as_of.isoformat()
    out["category"] = res.shop.get("main_category")
    primary = res.main_score
    out["score"] = decimal_text(primary.value, primary.decl.round or VALUE_DIGITS) if primary else None
    out["grade"] = res.main_grade
    indicators = {}
    for name, r in res.indicators.items():
        ind = r.version
        static = statics.get(id(ind))
        if static is None or static[0] is not ind:
            static = statics[id(ind)] = (ind, ind.label or name, _labels(rb).get(ind.dimension, ind.dimension),
                                         ind.round if ind.round is not None else VALUE_DIGITS,
                                         ind.value_type.name == "duration")
        _, label, dimension, digits, duration = static
        numerator = r.numerator
        item = {"label": label, "dimension": dimension,
                "value": decimal_text(r.value, digits),
                "numerator": numerator if isinstance(numerator, int) else decimal_text(numerator, 6),
                "denominator": r.rows, "assessed": r.assessed,
                "band": r.level.label if r.level else None, "points": decimal_text(r.points, VALUE_DIGITS),
                "excluded": r.excluded}
        if not r.assessed:
            item["reason"] = r.reason
        if r.rank is not None:
            item["rank"], item["group_size"], item["group"] = r.rank, r.group_size, r.group
        if duration:
            item["unit"] = "seconds"
        indicators[name] = item
    out["indicators"] = indicators
    out["dimensions"] = {n: {"label": d.decl.label or n, "score": decimal_text(d.value, VALUE_DIGITS),
                             "weights": _weights_text(d.weights, statics)}
                         for n, d in res.dimensions.items()}
    out["scores"] = {n: decimal_text(s.value, s.decl.round or VALUE_DIGITS) for n, s in res.scores.items()}
    out["grades"] = {n: (g.label if g else None) for n, g in res.grades.items()}
    out["actions"] = [a for a, on in res.actions.items() if on]
    return out


def _weights_text(weights: dict, statics: dict) -> dict:
    """A dimension's weights as text, worked out once for all the shops that share the weights
    (each shop gets its own copy: a caller may change one shop's dict)."""
    key = ("weights", id(weights))
    found = statics.get(key)
    if found is None or found[0] is not weights:
        found = statics[key] = (weights, {k: decimal_text(w, VALUE_DIGITS) for k, w in weights.items()})
    return dict(found[1])


# Characters JSON may hold raw that a terminal acts on (DEL, C1 controls, the bidi marks; the
# JSON encoder escapes C0 itself): written as \\u escapes, the same JSON value, safe to print.
_JSON_MARKS = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def json_safe(text: str) -> str:
    return _JSON_MARKS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_text(out: dict, rows: str = "shops") -> str:
    """JSON for a reader and for `jq`: indented, but each element of `rows` on one line.
    Indented JSON is written by the json module's pure-Python encoder; compact JSON by
    its C encoder, 4× faster (benchmarks/RESULTS.md, "Figures behind the code")."""
    if rows not in out:
        return json_safe(json.dumps(out, ensure_ascii=False, indent=2))
    return "".join(json_chunks({k: v for k, v in out.items() if k != rows}, iter(out[rows]), rows))


def json_chunks(head: dict, items, rows: str = "shops"):
    """`json_text` of `head` with `rows` set to `items`, in pieces, an item at a time."""
    text = json_safe(json.dumps(head, ensure_ascii=False, indent=2))
    yield (text[:-2] + ",\n" if text != "{}" else "{\n") + f'  "{rows}": '
    first = next(items, None)
    if first is None:
        yield "[]\n}"
        return
    yield "[\n    " + json_safe(json.dumps(first, ensure_ascii=False))
    for item in items:
        yield ",\n    " + json_safe(json.dumps(item, ensure_ascii=False))
    yield "\n  ]\n}"


def score_json_head(rb: ir.Rulebook, days: list[dt.date], stamp: dict) -> dict:
    """What the JSON of a score says before its shops."""
    out: dict = {"rulebook": rb.name, "version": rb.version}
    if len(days) > 1:
        out.update({"from": min(days).isoformat(), "to": max(days).isoformat()})
    else:
        out["as_of"] = days[0].isoformat()
    out.update(stamp)
    return out


@gc_held()
def shops_json(results: list[ShopResult], rb: ir.Rulebook, with_day: bool, statics: dict) -> list[dict]:
    return [shop_json(r, rb, with_day=with_day, statics=statics) for r in results]


def score_json(results: list[ShopResult], rb: ir.Rulebook, days: list[dt.date], stamp: dict) -> dict:
    out = score_json_head(rb, days, stamp)
    out["shops"] = shops_json(results, rb, len(days) > 1, {})
    return out


@gc_held()
def flat_rows(results: list[ShopResult], rb: ir.Rulebook) -> list[dict]:
    """One row per shop and day, one column per indicator value, band and points."""
    rows, statics = [], {}
    for res in results:
        j = shop_json(res, rb, statics=statics)
        row = {"shop_id": res.shop_id, "as_of": res.as_of, "category": j["category"], "score": j["score"],
               "grade": j["grade"], "actions": ";".join(j["actions"])}
        for name, item in j["indicators"].items():
            row[saved_column(name, "value")] = item["value"]
            row[saved_column(name, "numerator")] = str(item["numerator"]) if item["numerator"] is not None else None
            row[saved_column(name, "denominator")] = item["denominator"]
            row[saved_column(name, "assessed")] = item["assessed"]
            row[saved_column(name, "band")] = item["band"]
            row[saved_column(name, "points")] = item["points"]
        rows.append(row)
    return rows


def flat_schema(rb: ir.Rulebook, days: list[dt.date], rows: list[dict]):
    """The Arrow schema of `flat_rows`: the columns of every row, in the order they come, and
    those of the indicators in force on `days` (so that no rows still have their columns)."""
    import pyarrow as pa

    from lhrule.ir.plan import plan_for

    names = list(dict.fromkeys(k.rpartition(".")[0] for row in rows[:1] for k in row if "." in k))
    seen = set(names)
    for row in rows[1:]:
        if len(row) - 6 != 6 * len(names) or any(saved_column(n, "value") not in row for n in names):
            for k in row:
                n = k.rpartition(".")[0]
                if "." in k and n not in seen:
                    seen.add(n)
                    names.append(n)
    for day in days:
        for ind in plan_for(rb, day).indicators:
            if ind.name not in seen:
                seen.add(ind.name)
                names.append(ind.name)
    fields = [("shop_id", pa.string()), ("as_of", pa.date32()), ("category", pa.string()), ("score", pa.string()),
              ("grade", pa.string()), ("actions", pa.string())]
    for n in names:
        fields += [(saved_column(n, part), kind) for part, kind in (
            ("value", pa.string()), ("numerator", pa.string()), ("denominator", pa.int64()),
            ("assessed", pa.bool_()), ("band", pa.string()), ("points", pa.string()))]
    return pa.schema(fields)
