"""Datasets: a folder of event tables, read by DuckDB straight from the files.

Each declared table `NAME` is read from `NAME.parquet`, `NAME.csv`, `NAME.jsonl` or a folder
`NAME/` of such files (one of them: a table in two places is refused), and exposed as a view
`t_NAME` holding exactly the declared columns, cast to their declared types. A suffix is read in
any case (`part-1.PARQUET`). Every file under `NAME/` is read or refused by name with what to
do (a compressed CSV, a file without a suffix, a hidden file, anything under `_temporary/`);
only two kinds of Spark's and Hadoop's bookkeeping are skipped: `_SUCCESS`, and a `.PART.crc`
checksum beside its file. Only the declared columns are read: a column the rulebook does not
declare, of whatever name, changes nothing. Timestamps are
normalised once, here: a timestamp without an offset is local time in the rulebook's zone,
one with an offset is converted to it, and every later step works on naive local
timestamps. Durations are whole microseconds.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlglot import exp

from lhrule.ir import model as ir
from lhrule.engine.data import statements as q
from lhrule.engine.data.statements import FILE, ROW, own
from lhrule.engine.data.types import INSTANT, TEXT_TYPES, arrow_type, sql_name, sql_type
from lhrule.engine.sql.expressions import MICROS, table_name

FORMATS = {".parquet": "read_parquet", ".csv": "read_csv", ".jsonl": "read_json", ".json": "read_json"}


class DatasetError(Exception):
    """A problem with the data a user gave: the message names the table and file."""


class TooLarge(DatasetError):
    """The work asked for would not fit in this machine's memory: refused before it starts."""


@dataclass
class Dataset:
    folder: Path | None
    files: dict[str, list[Path]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    scratch: Path | None = None  # where transcoded copies live


def connect(rb: ir.Rulebook):
    import duckdb

    con = duckdb.connect()
    # Only used to read offset-less text timestamps as local time while loading.
    con.execute("SET TimeZone = ?", [_zone(rb.timezone)])
    # Every query of a run reads the same files: keep their Parquet footers (row-group
    # statistics) instead of reading them again (benchmarks/RESULTS.md, "Figures behind the code").
    con.execute("SET parquet_metadata_cache = true")
    # DuckDB draws its own progress bar on a terminal for a query past 2 s (the validation of
    # 10M rows), over lhrule's spinner and with estimates far off; the CLI shows the spinner.
    con.execute("SET enable_progress_bar = false")
    limit = memory_limit()
    if limit:
        con.execute("SET memory_limit = ?", [limit])
    # Past its memory limit DuckDB spills to disk; by default into ./.tmp of wherever lhrule
    # runs. Spill into the system's temporary folder (or LHRULE_TEMP_DIR) instead.
    con.execute("SET temp_directory = ?", [str(spill_folder())])
    return con


_SIZE = r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"


def memory_limit() -> str | None:
    """LHRULE_MEMORY_LIMIT (such as 8GB), the memory DuckDB may use; DuckDB's own default is
    80% of the machine's."""
    import os
    import re

    text = os.environ.get("LHRULE_MEMORY_LIMIT", "").strip()
    if text and not re.match(_SIZE, text):
        raise DatasetError(f"LHRULE_MEMORY_LIMIT must be a size such as 8GB or 512MB, not {text!r}")
    return text or None


def spill_folder() -> Path:
    import os
    import tempfile

    return Path(os.environ.get("LHRULE_TEMP_DIR") or Path(tempfile.gettempdir()) / "lhrule-spill")


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo

    ZoneInfo(name)  # the compiler checked it
    return name


def is_uri(data) -> bool:
    """A dataset named by a URI (hdfs://…, s3a://…, file://…), which only Spark reads."""
    return isinstance(data, str) and "://" in data


def table_files(folder: Path, name: str) -> list[Path]:
    """The files of table `name`: NAME.parquet, .csv, .jsonl or .json (the suffix in any case),
    or every file under NAME/ (see `folder_files`)."""
    entries = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    places = {f: [folder / f] for f in top_files(folder, name, entries)}
    sub = folder / name
    if sub.is_dir():
        found = [p.relative_to(sub).as_posix() for p in sub.rglob("*") if p.is_file()]
        if found:
            places[f"{name}/"] = [sub / f for f in folder_files(sub, found)]
    one_place(folder, name, list(places))
    return next(iter(places.values()), [])


COMPRESSED = (".gz", ".zst", ".zstd", ".bz2", ".xz", ".zip", ".lz4", ".snappy", ".deflate", ".br", ".7z")


def file_format(path) -> str | None:
    """The reader of a file lhrule reads, by its suffix in any case (part-1.PARQUET is Parquet)."""
    return FORMATS.get(Path(str(path)).suffix.lower())


def top_files(folder, name: str, entries: list[str]) -> list[str]:
    """The files of the dataset folder that hold table `name`: NAME.parquet … in any case. A
    compressed one (orders.csv.gz) cannot be read exactly: refused, not left out."""
    found = []
    order = list(FORMATS)
    for entry in sorted(entries, key=lambda e: (order.index(e_s) if (e_s := os.path.splitext(e)[1].lower()) in order
                                                else len(order), e)):
        stem, suffix = os.path.splitext(entry)
        if stem == name and suffix.lower() in FORMATS:
            found.append(entry)
        elif suffix.lower() in COMPRESSED and os.path.splitext(stem)[0] == name \
                and os.path.splitext(stem)[1].lower() in FORMATS:
            raise DatasetError(f"{_join(folder, entry)} is compressed ({suffix}), which lhrule does not read: "
                               f"decompress it, or write the table as Parquet (compressed inside)")
    return found


def folder_files(folder, files: list[str]) -> list[str]:
    """Of every file under a table's folder (paths relative to it, `/`-separated), the ones to
    read, sorted. None is left out without a word: a file lhrule cannot read is refused with
    what to do. Two kinds of Spark's and Hadoop's bookkeeping are recognised and skipped: the
    `_SUCCESS` marker of a finished write, and a `.NAME.crc` checksum beside its file NAME."""
    present = set(files)
    read, refused = [], []
    for f in sorted(files):
        parts = f.split("/")
        entry = parts[-1]
        hidden_dir = next((d for d in parts[:-1] if d.startswith(("_", "."))), None)
        if hidden_dir is not None:
            refused.append((f, f"in {hidden_dir}/, a folder Spark and Hadoop keep for work not committed (a write "
                               f"still running or failed, such as _temporary/): let the write finish, or move the "
                               f"folder out"))
        elif entry == "_SUCCESS":
            continue
        elif entry.startswith(".") and entry.endswith(".crc") and \
                "/".join([*parts[:-1], entry[1:-4]]) in present:
            continue
        elif entry.startswith(("_committed_", "_started_")):
            refused.append((f, "a marker of a Databricks transactional write, which alone knows which part files "
                               "were committed: write the table again without it (or VACUUM it), and remove the "
                               "markers"))
        elif entry.startswith((".", "_")):
            refused.append((f, "a hidden or bookkeeping file, not a table's rows: move it out of the table's folder"))
        elif file_format(entry):
            read.append(f)
        elif os.path.splitext(entry)[1].lower() in COMPRESSED:
            refused.append((f, f"compressed ({os.path.splitext(entry)[1]}), which lhrule does not read: decompress "
                               f"it, or write the table as Parquet (compressed inside)"))
        else:
            refused.append((f, "not a file lhrule reads (NAME.parquet, .csv, .jsonl or .json): give it the suffix "
                               "of its format, or move it out of the table's folder"))
    if refused:
        lines = "\n".join(f"  {_join(folder, f)}: {why}" for f, why in refused)
        raise DatasetError(f"the table folder {folder} holds {len(refused)} file{'s' if len(refused) > 1 else ''} "
                           f"lhrule cannot read (every file of a table's folder is read, or the run stops):\n{lines}")
    return read


def _join(folder, name: str) -> str:
    return f"{str(folder).rstrip('/')}/{name}"


def one_place(folder, name: str, places: list[str]) -> None:
    """A table in two places (orders.parquet beside a newer orders.csv) would be read from one
    and the other left unread without a word: refused."""
    if len(places) > 1:
        raise DatasetError(f"the dataset {folder} holds table {name} in {len(places)} places ({', '.join(places)}): "
                           "keep one and move the others out")


def needed_tables(rb: ir.Rulebook) -> set[str]:
    used = {rb.entity} | {i.table for i in rb.indicators}
    named = {n.table for n in ir.walk(rb) if isinstance(getattr(n, "table", None), str)}  # columns, exists, tests
    used |= {t.name for t in rb.tables if t.name in named}
    for t in list(used):
        table = rb.table(t)
        used |= {c.target for c in table.columns if c.target} if table else set()
    return {t for t in used if t}


def open_dataset(con, folder: Path, rb: ir.Rulebook) -> Dataset:
    if not folder.is_dir():
        raise DatasetError(f"no dataset folder at {folder}")
    data = Dataset(folder)
    needed = needed_tables(rb)
    for table in rb.tables:
        files = table_files(folder, table.name)
        if not files:
            if table.name in needed:
                data.missing.append(table.name)
            _empty_view(con, table)
            continue
        files = [_utf8(f, data) for f in files]
        data.files[table.name] = files
        file_view(con, table, files, rb.timezone)
    if data.missing:
        names = ", ".join(sorted(data.missing))
        raise DatasetError(f"the dataset {folder} has no table {names}: expected NAME.parquet, NAME.csv, "
                           f"NAME.jsonl or a folder NAME/ for each")
    return data


def _utf8(path: Path, data: Dataset) -> Path:
    """A CSV or JSON Lines file as UTF-8: exports from Chinese back offices are often GBK.
    A GBK file is transcoded once, in chunks, to a temporary UTF-8 copy; a UTF-8 BOM is fine."""
    if file_format(path) not in ("read_csv", "read_json"):
        return path
    if _decodes(path, "utf-8-sig"):
        return path
    if not _decodes(path, "gbk"):
        raise DatasetError(f"{path} is neither UTF-8 nor GBK text: save it as UTF-8")
    if data.scratch is None:
        data.scratch = _scratch_folder()
    copy = data.scratch / f"{len(list(data.scratch.iterdir()))}-{path.name}"
    with path.open("r", encoding="gbk", newline="") as src, copy.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    _ORIGINALS[str(copy)] = str(path)
    return copy


def _scratch_folder() -> Path:
    """A temporary folder for the transcoded copies, deleted when the process ends: the views
    read the copies for as long as the connection is used."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="lhrule-utf8-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _decodes(path: Path, encoding: str) -> bool:
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _reader(files: list[Path]) -> exp.Expression:
    """The files as DuckDB reads them, a source to select from."""
    kinds = {file_format(f) for f in files}
    if len(kinds) > 1:
        raise DatasetError(f"{files[0].parent} mixes file formats; keep one format per table")
    reader = kinds.pop()
    if reader == "read_csv":
        headers = [_csv_header(f) for f in files]
        if all(h and len(set(h)) == len(h) for h in headers):
            if len({tuple(h) for h in headers}) == 1:
                return _csv(files, headers[0])
            return exp.Subquery(this=q.union_by_name([exp.select("*").from_(_csv([f], h))
                                                      for f, h in zip(files, headers)]))
    options = {"read_parquet": {"union_by_name": exp.true()},
               "read_csv": {"header": exp.true(), "all_varchar": exp.true()},
               "read_json": {"format": q.lit("newline_delimited")}}[reader]
    return exp.Table(this=q.call(reader, _paths(files), **options))


def _paths(files: list[Path]) -> exp.Array:
    return exp.Array(expressions=[q.lit(str(f)) for f in files])


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's first line (the file is UTF-8 by now)."""
    import csv

    with path.open("r", encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def _csv(files: list[Path], header: list[str]) -> exp.Table:
    """CSV read as written, not guessed: comma-separated, `"` quotes, every column text. A
    row with more or fewer fields than the header is an error that names its line (DuckDB's
    dialect sniffing would read such a file as one column, or skip the row)."""
    columns = exp.Struct(expressions=[exp.PropertyEQ(this=q.lit(c), expression=q.lit("VARCHAR")) for c in header])
    return exp.Table(this=q.call("read_csv", _paths(files), header=exp.true(), auto_detect=exp.false(),
                                 delim=q.lit(","), quote=q.lit('"'), escape=q.lit('"'), columns=columns))


def describe_read_error(message: str, data: Path) -> str:
    """DuckDB's error on reading a file, said for the user: the file, the line, what to do."""
    import re

    def found(pattern: str) -> str | None:
        m = re.search(pattern, message)
        return m.group(1).strip() if m else None

    if "Out of Memory Error" in message:  # said as such wherever it arose, before any file it names
        said = message.split("Out of Memory Error: ", 1)[-1].splitlines()[0]
        return (f"out of memory: {said}. Let DuckDB use more with LHRULE_MEMORY_LIMIT "
                f"(now {memory_limit() or '80% of this machine'}), score fewer days at a time, or free disk "
                f"in {spill_folder()}, where it spills (LHRULE_TEMP_DIR moves it)")
    if "Out of Range Error" in message or "Overflow in" in message:
        return (f"a number overflowed: {message.splitlines()[0].split('Error: ', 1)[-1]}. lhrule's numbers hold 32 "
                f"digits before the point and 6 after: look for values far too large for their columns")
    line, path = found(r"CSV Error on Line: (\d+)"), found(r"\n\s*file = (.*)")
    path = user_file(path) if path else None
    if line and path:
        counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
        row = found(r"Original Line: (.*)")
        if counts and row is not None:
            return (f"{path} line {line} has {counts.group(2)} fields, the header {counts.group(1)}: {row!r}; "
                    f"fix the row (a field holding a comma is quoted: \"a,b\")")
        if "unterminated quote" in message and row is not None:
            return (f"{path} line {line} has a quote not closed where its field ends: {row!r}; a quoted field is "
                    f"quoted whole (\"a,b\"), and a quote inside it is written as two (\"\")")
        reason = found(r"Original Line: .*\n\s*\n(.*)")  # DuckDB's reason, a sentence
        return f"{path} line {line} cannot be read: {reason or message.splitlines()[0]}" + \
            (f": {row!r}" if row is not None else "")
    first = message.splitlines()[0]
    if "state machine reached an invalid state" in first and path:
        mixed = _mixed_line_endings(Path(path))
        return (f"{path} cannot be read as CSV" + (": its lines end in both \\r\\n and \\n; save it with one kind"
                                                   if mixed else f" (comma-separated, RFC 4180): {first}"))
    path = found(r"No magic bytes found at end of file '([^']*)'")
    if path:
        first = first.split("Error: ", 1)[-1]
        return (f"the dataset {data} could not be read: {path} is not a whole Parquet file (it may be truncated "
                f"or still being written): {first}")
    return f"the dataset {data} could not be read: {first}"


def _mixed_line_endings(path: Path) -> bool:
    """Whether a text file has lines ending in \\r\\n and others in \\n alone."""
    crlf = lf = False
    with path.open("rb") as f:
        last = b""
        while chunk := f.read(1 << 20):
            text = last + chunk
            crlf = crlf or b"\r\n" in text
            lf = lf or text.count(b"\n") > text.count(b"\r\n")
            last = b"\r" if chunk.endswith(b"\r") else b""  # a \r\n cut in two is whole in the next text
            if crlf and lf:
                return True
    return False


_ORIGINALS: dict[str, str] = {}  # a transcoded copy -> the user's file, for messages


def user_file(path: str) -> str:
    """The file a user gave, for a path lhrule read (a GBK file is read from a UTF-8 copy)."""
    return _ORIGINALS.get(path, path)


def declared_in(con, table: ir.Table, files: list[Path]) -> dict[str, str]:
    """The declared columns the files hold, with the types they are read as. Columns the
    rulebook does not declare, of whatever name, are never read."""
    described = _described(con, files)
    return {c.name: described[c.name].upper() for c in table.columns if c.name in described}


def _described(con, files: list[Path]) -> dict[str, str]:
    query = exp.Describe(this=exp.select("*").from_(_reader(files)))
    return {r[0]: r[1] for r in con.execute(q.render(query)).fetchall()}


def raw_reader(con, table: ir.Table, files: list[Path], with_rows: bool = False) -> exp.Subquery:
    """The files as read, as a subquery of the declared columns they hold, under their own
    names; with_rows adds each row's file and 1-based number as `FILE` and `ROW`. A
    streaming row_number() over one file at a time follows the file's own order."""
    if not with_rows:
        return exp.Subquery(this=exp.select(*_projection(declared_in(con, table, files))).from_(_reader(files)))
    parts = [exp.select(*_projection(declared_in(con, table, [f])), q.alias(q.lit(str(f)), own(FILE)),
                        q.alias(exp.Window(this=exp.RowNumber()), own(ROW))).from_(_reader([f])) for f in files]
    return exp.Subquery(this=q.union_by_name(parts))


def _projection(columns) -> list[exp.Expression]:
    return [q.col(c) for c in columns] or [q.alias(exp.null(), own("lhrule none"))]


def file_view(con, table: ir.Table, files: list[Path], zone: str, exclude: str | None = None) -> None:
    """The view `t_NAME`: the declared columns, cast; `exclude` names a table of (`FILE`, `ROW`)
    to leave out (the quarantined rows)."""
    described = _described(con, files)
    missing = [c.name for c in table.columns if c.name not in described and not c.optional]
    if missing:
        where = f"{user_file(str(files[0]))}: table {table.name} has no column {', '.join(missing)}"
        only = next(iter(described)) if len(described) == 1 else ""
        if file_format(files[0]) == "read_csv" and any(s in only for s in ";\t|"):  # another separator: one column a;b;c
            where += f" (its header is one column, {only!r}: save the file with commas between the fields)"
        raise DatasetError(where)
    con.execute(q.render(view_statement(con, table, files, described, exclude)))


def view_statement(con, table: ir.Table, files: list[Path], described: dict[str, str],
                   exclude: str | None = None) -> exp.Create:
    """CREATE VIEW t_NAME over the files, read as `described`, leaving out the rows `exclude`
    names."""
    if exclude is None:
        view = exp.select(*view_columns(table, described, False)).from_(_reader(files))
    else:
        src = "src"
        left_out = exp.select(q.lit(1)).from_(exp.alias_(q.table(exclude), "x")).where(
            exp.and_(exp.EQ(this=q.col(FILE, "x"), expression=q.col(FILE, src)),
                     exp.EQ(this=q.col(ROW, "x"), expression=q.col(ROW, src))))
        view = exp.select(*view_columns(table, described, True)).from_(
            exp.alias_(raw_reader(con, table, files, with_rows=True), src)).where(exp.not_(exp.Exists(this=left_out)))
    return q.create("VIEW", table_name(table.name), view)


def view_columns(table: ir.Table, described: dict[str, str], excluding: bool, dialect: str = "duckdb"):
    """The columns of a table's view: each declared column cast from the type it is read as
    (`described`, as the engine names it) to its declared type, one definition for DuckDB and
    Spark. Text read empty is NULL. With rows left out (`excluding`), a query's filter may be
    judged before they are: DuckDB moves a filter on constants (a range's per-day counts bound
    their windows so) down to the file scan. A left-out row's text that does not convert must
    then read as NULL, not stop the query. Every row kept converts: validation found each one
    that does not and left it out."""
    convert = q.try_cast if excluding else q.cast
    text = "VARCHAR" if dialect == "duckdb" else "string"
    out = []
    for c in table.columns:
        ident = q.col(c.name)
        target = sql_type(c.type.name)
        kind = described.get(c.name)
        if kind is None:
            out.append(q.alias(q.cast(exp.null(), target), c.name))
            continue
        kind = kind.upper() if dialect == "duckdb" else kind
        if c.type.name == "timestamp" and dialect == "duckdb" and "TIME ZONE" in kind:
            expr = q.cast(ident, target)  # the session zone is the rulebook's
        elif c.type.name == "timestamp" and kind == text:
            expr = q.cast(convert(exp.Nullif(this=ident, expression=q.lit("")), INSTANT), target)
        elif kind == text and c.type.name not in TEXT_TYPES:
            expr = convert(exp.Nullif(this=ident, expression=q.lit("")), target)
        elif kind == sql_name(c.type.name, dialect):
            expr = ident  # already the declared type: a bare column lets filters reach the file scan
        else:  # on Spark, a timestamp with a zone becomes local time in the session's zone, the rulebook's
            expr = convert(ident, target)
        out.append(q.alias(expr, c.name))
    return out


def empty_view(table: ir.Table, temporary: bool = False) -> exp.Create:
    """The view of a table the dataset does not hold: its columns, no rows (a temporary view
    on Spark)."""
    return q.create("VIEW", table_name(table.name), exp.select(
        *[q.alias(q.cast(exp.null(), sql_type(c.type.name)), c.name) for c in table.columns]).where(exp.false()),
        temporary=temporary)


def _empty_view(con, table: ir.Table) -> None:
    con.execute(q.render(empty_view(table)))


def register_rows(con, table: ir.Table, rows: list[dict], name: str | None = None) -> None:
    """Rows given as Python values (a test's `given`) as the table's view."""
    view = name or table_name(table.name)
    con.register(f"{view}_arrow", arrow_rows(table, rows))
    con.execute(q.render(q.create("VIEW", view, exp.select("*").from_(q.table(f"{view}_arrow")))))


def arrow_rows(table: ir.Table, rows: list[dict]):
    """Rows given as Python values, as an Arrow table of the declared columns and types."""
    import pyarrow as pa

    return pa.table({c.name: pa.array([_python_value(r.get(c.name), c.type.name) for r in rows],
                                      type=arrow_type(c.type.name)) for c in table.columns})


def _python_value(value, type_name: str):
    if value is None:
        return None
    if type_name == "duration":
        return int(Decimal(value) * MICROS)
    if type_name == "number":
        return Decimal(value)
    if type_name == "timestamp" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value
