"""Synthetic event data in the standard schema of docs/contract.md, for `lhrule gen`.

    generate(out, shops=300, days=61, seed=7)  ->  out/shops.parquet, out/orders.parquet, …

The model (what the shops and their events look like) is in `gen_tables`; this module plans the
work, turns the model's numpy columns into Arrow arrays and writes the files. Randomness is drawn
per block of shops, each block from its own child seed (`SeedSequence(seed, spawn_key=(0, b))`),
so the data does not depend on how blocks are grouped into write batches; blocks are sized by
`days` alone. aftersale_tasks, added later, draws from a stream of its own per block
(`spawn_key=(2, b)`) and is left out of the batch sizes, so its arrival changed no other file.
Each table is converted and written as it is produced, batch by batch, on background threads,
so memory stays bounded by a batch (about half a million events). CSV and JSONL are converted
from the Parquet files by DuckDB at the end, streaming, in the same order.

Reading the data: timestamps are naive local wall-clock times (Asia/Shanghai), the dataset is
a snapshot taken at the end of its last day (later events are missing: a refund still open is
`pending`), and `completed_at` of a refund is when it ended, whether `success` or `closed`.
"""

from __future__ import annotations

import errno
import glob
import json
import math
import os
import queue
import shutil
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lhrule.synth import model
from lhrule import safe_write
from lhrule.synth.model import DAY, SEQ_WIDTH, Col

FORMATS = ("parquet", "csv", "jsonl")
TABLES = ("shops", "orders", "consultations", "ratings", "reviews", "refunds", "complaints",
          "help_requests", "aftersale_tasks", "appeals", "force_majeure")
MAX_DAYS = 3660  # ten years keep every per-shop sequence within SEQ_WIDTH digits
MAX_SHOPS = 9_999_999

COLUMN_TYPES = {
    "shop": pa.string(), "id": pa.string(), "buyer": pa.string(), "label": pa.string(), "text": pa.string(),
    "ts": pa.timestamp("s"), "bool": pa.bool_(), "dec": pa.decimal128(12, 2), "int8": pa.int8(),
    "date": pa.date32(),
}
# Rows per shop-day of a shop of size 1, measured over a year of data, and the typical delay
# (days) from the order or consultation behind a row, which loses rows past a short period's end.
_PER_SHOP_DAY = {"orders": (14.0, 0), "consultations": (17.54, 0), "ratings": (2.57, 0.1),
                 "reviews": (4.80, 6), "refunds": (1.062, 4.7), "complaints": (0.140, 13),
                 "help_requests": (0.290, 7.4), "aftersale_tasks": (0.630, 4.4), "appeals": (0.289, 6.1)}
_BLOCK_SHOP_DAYS = 2_500  # shop-days per block of shops, the unit of randomness (never change it)
_BATCH_EVENTS = 500_000  # events per write batch, the unit of memory (measured: no faster above)
_ROW_GROUP = 131_072


def estimate_events(shops: int, days: int, start: date = date(2024, 5, 1)) -> int:
    """Expected events (rows of every table but shops) of `generate(shops=…, days=…)`.

    Within a few percent for a thousand shops or more; a few very big shops make small
    datasets vary more."""
    factors = model.day_factors(start.toordinal(), days)
    total = 0.0
    for rate, lag in _PER_SHOP_DAY.values():
        total += rate * (1.0 if lag == 0 else 1 - lag / days * (1 - math.exp(-days / lag)))
    fm = len(model.notices(np.random.default_rng(0), days))
    return round(shops * factors.sum() * model.mean_size() * total) + fm


def generate(out: Path, *, shops: int, days: int, seed: int, fmt: Literal["parquet", "csv", "jsonl"] = "parquet",
             start: date = date(2024, 5, 1), progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write one file per standard table into `out`; return the rows written per table.

    `out` must be new, empty, or a dataset gen made (its MARKER says which files, and they are
    as written): a folder holding anything else is refused, never emptied. The dataset is
    written into a sibling folder and swapped in whole, so a run killed at any moment leaves
    the old dataset or the new one, never a mix; files of the user's beside gen's (a README)
    are kept. Raises ValueError for bad arguments or a folder refused, WriteFailed when the
    disk refuses."""
    out = Path(out)
    _check(out, shops, days, seed, fmt, start)
    parent = out.parent if str(out.parent) else Path(".")
    if parent.is_dir():
        _recover(out)
    carried = _refuse(out)
    work = parent / f".{out.name}.{os.getpid()}.gen"
    try:
        try:
            parent.mkdir(parents=True, exist_ok=True)
            work.mkdir()
            rows = _write(work, shops, days, seed, fmt, start, progress)
            made = {f"{t}.{fmt}": _fingerprint(work / f"{t}.{fmt}") for t in TABLES}
            for name in carried:
                _carry(out / name, work / name)
            marker = {"made_by": "lhrule gen", "format": fmt, "shops": shops, "days": days, "seed": seed,
                      "start": start.isoformat(), "files": made}
            (work / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            for name in list(made) + [MARKER]:
                safe_write._fsync_path(work / name)
            safe_write._fsync_path(work, directory=True)
            if out.exists():
                os.chmod(work, out.stat().st_mode & 0o7777)
            safe_write.swap_folder(work, out)
            safe_write._fsync_path(parent, directory=True)
        except OSError as exc:
            raise safe_write.failure(out, exc) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {t: rows[t] for t in TABLES}


def _write(folder: Path, shops: int, days: int, seed: int, fmt: str, start: date,
           progress: Callable[[int, int], None] | None) -> dict[str, int]:
    start_day = start.toordinal() - date(1970, 1, 1).toordinal()
    day0 = (start_day + np.arange(days, dtype=np.int64)) * DAY
    factors = model.day_factors(start.toordinal(), days)
    cutoff = int(day0[-1]) + DAY - 1
    fm = model.notices(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))), days)
    width = max(6, len(str(shops - 1)))
    per_block = _block_shops(days)
    n_blocks = -(-shops // per_block)

    parts = {t: folder / f"{t}.parquet" for t in TABLES}
    writer = _Writer(parts, width)
    try:
        writer.put({"force_majeure": [model.force_majeure(fm, start_day)]})
        pending: list[dict[str, dict[str, Col]]] = []
        for b in range(n_blocks):
            gidx = np.arange(b * per_block, min((b + 1) * per_block, shops), dtype=np.int64)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, b)))
            task_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2, b)))
            pending.append(model.block(rng, gidx, day0, factors, cutoff, fm, task_rng))
            if b == n_blocks - 1 or sum(_events(p) for p in pending) >= _BATCH_EVENTS:
                writer.put({t: [p[t] for p in pending] for t in pending[0]})
                pending = []
                if progress is not None:
                    progress(int(gidx[-1]) + 1, shops)
        rows = writer.close()
    except BaseException:
        writer.abort()
        raise
    _convert(folder, parts, fmt)
    return rows


def _check(out: Path, shops: int, days: int, seed: int, fmt: str, start: date) -> None:
    bounds = (("shops", shops, 1, MAX_SHOPS), ("days", days, 1, MAX_DAYS), ("seed", seed, 0, None))
    for name, value, low, high in bounds:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"{name} must be {bound}, got {value}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ValueError(f"start must be a date, got {start!r}")
    if not date(2000, 1, 1) <= start <= date(2099, 12, 31):  # times are positive seconds; -1 means missing
        raise ValueError(f"start must be between 2000-01-01 and 2099-12-31, got {start}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")


# The file gen writes into every dataset it makes: the arguments, and each table file's size and
# fingerprint, so that a later gen replaces only what it made and what is still as it made it.
MARKER = ".lhrule-gen"


def _fingerprint(path: Path) -> dict:
    """Size and a hash of the first and last 64 KiB: a file changed since is told apart."""
    import hashlib

    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(65536))
        f.seek(max(0, size - 65536))
        h.update(f.read())
    return {"size": size, "sha256": h.hexdigest()[:32]}


def _tableish(name: str) -> bool:
    """A name a dataset reader would take for one of gen's tables (orders.csv, orders/)."""
    stem, dot, suffix = name.partition(".")
    return stem in TABLES and (not dot or f".{suffix}" in safe_write.DATA_SUFFIXES)


def _refuse(out: Path) -> list[str]:
    """Refuse (ValueError) a folder holding what gen did not make, or changed since; return the
    names of the user's own files beside gen's (a README), to be kept."""
    if not out.is_dir():
        return []
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return []
    what_to_do = "choose a new or empty folder, or move them out"
    if MARKER not in names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise safe_write.Refused(f"{out} is not empty and is not a dataset lhrule gen made (it holds {shown}): "
                                 f"gen writes only into a new or empty folder, or one it made")
    try:
        made = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
        assert isinstance(made, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise safe_write.Refused(f"{out / MARKER} is not what lhrule gen writes: {what_to_do}") from None
    changed = [n for n in names if n in made and ((out / n).is_dir() or _fingerprint(out / n) != made[n])]
    foreign = [n for n in names if n not in made and n != MARKER]
    tables = [n for n in foreign if _tableish(n)]
    if changed or tables:
        said = changed + tables
        raise safe_write.Refused(f"{out} holds tables lhrule gen did not write, or that changed since it wrote them "
                                 f"({', '.join(said[:5])}): they are left as they are; {what_to_do}")
    return foreign


def _recover(out: Path) -> None:
    """Undo what a gen killed outright left: the old dataset put back if it was moved aside,
    and the folders of runs that no longer run removed."""
    parent = out.parent if str(out.parent) else Path(".")
    for p in parent.glob(f".{glob.escape(out.name)}.*.old"):
        pid = p.name[len(out.name) + 2:-len(".old")]
        if pid.isdigit() and not safe_write._pid_alive(int(pid)):
            if not out.exists():
                os.rename(p, out)
            else:
                shutil.rmtree(p, ignore_errors=True)
    safe_write.clean_stale(parent, out.name, "gen")


def _carry(src: Path, dst: Path) -> None:
    """The user's file, linked (not copied, where the file system allows) into the new folder."""
    def link(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=link)
    else:
        link(src, dst)


def _block_shops(days: int) -> int:
    """Shops per block: about _BLOCK_SHOP_DAYS shop-days, whatever the model's volumes."""
    return min(max(math.ceil(_BLOCK_SHOP_DAYS / days), 4), 4096)


def _events(tables: dict[str, dict[str, Col]]) -> int:
    """Events that size a write batch. Not aftersale_tasks (about 1% more): counting them would move
    batch boundaries, hence the other tables' row groups, and no longer give the same files."""
    return sum(len(next(iter(cols.values())).values) for t, cols in tables.items()
               if t not in ("shops", "aftersale_tasks"))


def _concat(blocks: list[dict[str, Col]]) -> dict[str, Col]:
    """One table's columns over several blocks."""
    if len(blocks) == 1:
        return blocks[0]

    def joined(name: str, attr: str) -> np.ndarray:
        return np.concatenate([getattr(b[name], attr) for b in blocks])

    return {name: Col(c.kind, joined(name, "values"), c.vocab, c.prefix, joined(name, "shop") if c.kind == "id" else None)
            for name, c in blocks[0].items()}


_QUADS = np.array([list(f"{i:04d}".encode()) for i in range(10_000)], np.uint8).view(np.uint32).ravel()


def _put_digits(dst: np.ndarray, x: np.ndarray) -> None:
    """Write `x` zero-padded into the byte columns `dst` (n, width), four digits at a time."""
    end, x = dst.shape[1], x.astype(np.uint32)  # every number here is below 2**32; 32-bit division is fast
    while end > 0:
        k = min(4, end)
        dst[:, end - k:end] = _QUADS[x % 10_000].view(np.uint8).reshape(-1, 4)[:, 4 - k:]
        x, end = x // 10_000, end - k


def _shop_digits(shops: np.ndarray, width: int) -> np.ndarray:
    """The digits of each row's shop number, formatted once per shop (rows come in shop runs)."""
    if len(shops) == 0:
        return np.zeros((0, width), np.uint8)
    lo = int(shops.min())
    table = np.empty((int(shops.max()) - lo + 1, width), np.uint8)
    _put_digits(table, np.arange(lo, lo + len(table)))
    return table[shops - lo]


def _fixed_text(parts: list[bytes | np.ndarray | tuple[np.ndarray, int]], n: int,
                missing: np.ndarray | None = None) -> pa.Array:
    """Strings of one width from literal bytes, ready bytes (n, w) and zero-padded numbers."""
    widths = [len(p) if isinstance(p, bytes) else p.shape[1] if isinstance(p, np.ndarray) else p[1] for p in parts]
    chars = np.empty((n, sum(widths)), np.uint8)
    at = 0
    for p, w in zip(parts, widths):
        if isinstance(p, bytes):
            chars[:, at:at + w] = np.frombuffer(p, np.uint8)
        elif isinstance(p, np.ndarray):
            chars[:, at:at + w] = p
        else:
            _put_digits(chars[:, at:at + w], p[0])
        at += w
    offsets = np.arange(n + 1, dtype=np.int32) * chars.shape[1]
    validity, nulls = None, 0
    if missing is not None and missing.any():
        validity, nulls = pa.py_buffer(np.packbits(~missing, bitorder="little")), int(missing.sum())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(chars)], nulls)


def _column(c: Col, width: int) -> pa.Array:
    v, n = c.values, len(c.values)
    if c.kind == "shop":
        return _fixed_text([b"s", _shop_digits(v, width)], n)
    if c.kind == "id":
        return _fixed_text([c.prefix.encode(), _shop_digits(c.shop, width), b"-", (np.maximum(v, 0), SEQ_WIDTH)],
                           n, v < 0)
    if c.kind == "buyer":
        return _fixed_text([b"b", (v, 8)], n)
    if c.kind == "label":
        return pc.take(pa.array(c.vocab, pa.string()), pa.array(v, pa.int32(), mask=v < 0))
    if c.kind == "text":
        return pa.array(list(v), pa.string())
    if c.kind == "ts":
        return pa.array(v, pa.timestamp("s"), mask=v < 0)
    if c.kind == "dec":  # 128-bit little-endian two's complement: low word, then the sign
        words = np.ascontiguousarray(np.stack([v, v >> 63], axis=1).astype(np.int64))
        return pa.Array.from_buffers(COLUMN_TYPES["dec"], n, [None, pa.py_buffer(words)])
    if c.kind == "date":
        return pa.array(v.astype(np.int32), pa.int32()).view(pa.date32())
    if c.kind in ("bool", "int8"):
        return pa.array(v, COLUMN_TYPES[c.kind])
    raise ValueError(f"no encoder for column kind {c.kind!r}")


def _arrow(cols: dict[str, Col], width: int) -> tuple[pa.Table, dict]:
    """The Arrow table of a batch, and the Parquet writer options that suit its columns."""
    table = pa.table({name: _column(c, width) for name, c in cols.items()},
                     schema=pa.schema([(name, COLUMN_TYPES[c.kind]) for name, c in cols.items()]))
    kinds = {name: c.kind for name, c in cols.items()}
    # Measured: dictionaries pay off only for repeated values; unique ids and sorted-ish times
    # shrink several-fold with delta encodings; statistics are kept where they prune row groups.
    options = dict(
        compression="zstd",
        use_dictionary=[n for n, k in kinds.items() if k in ("shop", "label", "text")],
        column_encoding={n: "DELTA_BYTE_ARRAY" if k == "id" else "DELTA_BINARY_PACKED"
                         for n, k in kinds.items() if k in ("id", "ts")},
        write_statistics=[n for n, k in kinds.items() if k in ("shop", "ts", "date")])
    return table, options


class _Writer:
    """Converts and writes batches on background threads, one file per table, in the order given.

    Two lanes (consultations and ratings; the rest) each own their tables, so a file's batches
    stay in order while the lanes and the generating thread share the cores."""

    LANES = (("consultations", "ratings"), None)

    def __init__(self, paths: dict[str, Path], width: int) -> None:
        self.paths, self.width, self.rows = paths, width, {t: 0 for t in paths}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.error: BaseException | None = None
        self.queues = [queue.Queue(maxsize=2) for _ in self.LANES]
        self.threads = [threading.Thread(target=self._run, args=(q,), name=f"lhrule-gen-{i}", daemon=True)
                        for i, q in enumerate(self.queues)]
        for t in self.threads:
            t.start()

    def _lane(self, table: str) -> int:
        return next(i for i, lane in enumerate(self.LANES) if lane is None or table in lane)

    def _run(self, q: queue.Queue) -> None:
        while (batch := q.get()) is not None:
            if self.error is not None:
                continue
            try:
                for t, blocks in batch.items():
                    table, options = _arrow(_concat(blocks), self.width)
                    if t not in self.writers:
                        self.writers[t] = pq.ParquetWriter(self.paths[t], table.schema, **options)
                    self.writers[t].write_table(table, row_group_size=_ROW_GROUP)
                    self.rows[t] += table.num_rows
            except BaseException as e:  # re-raised in the generating thread
                self.error = e

    def put(self, batch: dict[str, list[dict[str, Col]]]) -> None:
        """Hand over one batch: per table, the columns of its blocks."""
        if self.error is not None:
            raise self.error
        for i, q in enumerate(self.queues):
            q.put({t: blocks for t, blocks in batch.items() if self._lane(t) == i})

    def _stop(self) -> None:
        for q in self.queues:
            q.put(None)
        for t in self.threads:
            t.join()
        for w in self.writers.values():
            w.close()

    def close(self) -> dict[str, int]:
        self._stop()
        if self.error is not None:
            raise self.error
        return self.rows

    def abort(self) -> None:
        self.error = self.error or RuntimeError("aborted")
        self._stop()


def _convert(folder: Path, parts: dict[str, Path], fmt: str) -> None:
    """Convert the Parquet files to CSV or JSONL, in the same order, each in place of its source."""
    if fmt == "parquet":
        return
    import duckdb

    con = duckdb.connect(config={"memory_limit": "1GB"})  # bounded, like the generation
    try:
        for t, p in parts.items():
            schema = pq.read_schema(p)
            con.execute(_copy_query(schema, folder / f"{t}.{fmt}", fmt), [str(p)])
            p.unlink()
    except duckdb.Error as exc:  # a full disk, said by DuckDB
        text = str(exc)
        code = errno.ENOSPC if "space" in text.lower() else errno.EIO
        raise OSError(code, text.splitlines()[0] if text else "cannot write") from None
    finally:
        con.close()


def _copy_query(schema, out: Path, fmt: str) -> str:
    """COPY of the Parquet file bound as the query's parameter to `out`, as CSV or JSON Lines,
    with timestamps written as ISO text."""
    from sqlglot import exp

    def column(f) -> exp.Expression:
        name = exp.column(f.name, quoted=True)
        if not pa.types.is_timestamp(f.type):
            return name
        return exp.alias_(exp.Anonymous(this="strftime", expressions=[name, exp.Literal.string("%Y-%m-%dT%H:%M:%S")]),
                          exp.to_identifier(f.name, quoted=True))

    source = exp.Table(this=exp.Anonymous(this="read_parquet", expressions=[exp.Placeholder()]))
    params = [exp.CopyParameter(this=exp.Var(this="FORMAT"), expression=exp.Var(this="CSV" if fmt == "csv" else "JSON"))]
    if fmt == "csv":
        params.append(exp.CopyParameter(this=exp.Var(this="HEADER"), expression=exp.true()))
    return exp.Copy(this=exp.Subquery(this=exp.select(*[column(f) for f in schema]).from_(source)), kind=False,
                    files=[exp.Literal.string(str(out))], params=params).sql(dialect="duckdb")
