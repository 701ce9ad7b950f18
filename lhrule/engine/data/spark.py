"""Running the compiled queries on Apache Spark (`--engine spark`).

The same queries as on DuckDB, written for Spark by `dialect.render`; this module starts
the session, reads the dataset folder into views named as DuckDB's (`t_NAME`), and answers
the engine's two calls, `execute(sql)` and `sql(sql)`, as a DuckDB connection does.

Time: the session's time zone is the rulebook's and a bare TIMESTAMP is Spark's
TIMESTAMP_NTZ, so every view holds naive local timestamps, as DuckDB's views do. A timestamp
stored with a zone (Parquet adjusted to UTC, text with an offset) is converted into the
rulebook's zone; one without is local time already. Numbers are DECIMAL(38,6), durations
BIGINT microseconds, as on DuckDB. ANSI mode stays on: an overflow fails the query rather
than turning into NULL; and a product of decimals is never rounded to fit.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlglot import exp

from lhrule.ir import model as ir
from lhrule.engine.data import statements as q
from lhrule.engine.data.dataset import DatasetError, empty_view, file_format, folder_files, one_place, top_files, \
    view_columns
from lhrule.engine.data.statements import FILE
from lhrule.engine.sql.expressions import table_name

DEFAULT_MASTER = "local[*]"


class SparkMissing(Exception):
    """PySpark (or Java) is not installed: the message says how to install it."""


def session(timezone: str, master: str | None = None):
    """A Spark session for one rulebook's zone. Under `spark-submit` the master it gave is
    kept unless `master` names another; otherwise `local[*]`."""
    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkMissing("--engine spark needs PySpark: pip install 'lhrule[spark]' (and Java 17 or newer)") \
            from None
    # Under spark-submit the JVM is up already, with the master and settings it was given.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    builder = SparkSession.builder.appName("lhrule")
    if master is not None or not submitted:
        master = master or DEFAULT_MASTER
        builder = builder.master(master)
    if not submitted and SparkConf().get("spark.driver.extraJavaOptions", None) is None:
        config = Path(__file__).with_name("log4j2.properties")  # quiet, unless the user set the JVM's options
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{config}")
    if master is not None and master.startswith("local"):
        # One machine: no web UI, and few shuffle partitions (Spark's 200 are for clusters).
        builder = (builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2))))
    try:
        spark = builder.getOrCreate()
    except Exception as e:  # the JVM did not start: no Java, or a bad master URL
        raise SparkMissing(f"Spark did not start with master {master or 'of spark-submit'}: {_first_line(e)}") \
            from None
    # Spark's errors reach the user as one-line messages (`describe_spark_error`), not as
    # logs: the JVM's, and PySpark's own loggers of failed queries.
    spark.sparkContext.setLogLevel("FATAL")
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # Each rulebook its own session: its own views, time zone and SQL settings; one Spark
    # context for all.
    spark = spark.newSession()
    # Without allowPrecisionLoss, a product of decimals keeps its decimal places (amount ×
    # 1.000001 × 1.000001 had been rounded to 6, where DuckDB keeps 18); the type checker
    # bounds them to 38 (`typecheck.widest`).
    for key, value in (("spark.sql.session.timeZone", timezone), ("spark.sql.timestampType", "TIMESTAMP_NTZ"),
                       ("spark.sql.ansi.enabled", "true"), ("spark.sql.decimalOperations.allowPrecisionLoss", "false")):
        spark.conf.set(key, value)
    return spark


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class Cursor:
    def __init__(self, names: list[str], rows: list[tuple]):
        self.description = [(n,) for n in names]
        self.columns = names
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def to_arrow_table(self):
        import pyarrow as pa

        return pa.Table.from_pylist([dict(zip(self.columns, r)) for r in self._rows])


class SparkConnection:
    """What the engine asks of a connection, answered by Spark. Queries reach it as Spark SQL.
    `files` are the dataset's files by table, as Spark's file system names them."""

    dialect = "spark"

    def __init__(self, spark, files: dict[str, list[str]] | None = None):
        self.spark = spark
        self.files = files or {}

    def execute(self, text: str) -> Cursor:
        frame = self.spark.sql(text)
        return Cursor(frame.columns, [tuple(r) for r in frame.collect()])

    sql = execute


def describe_spark_error(exc: Exception) -> str | None:
    """Spark's error, said for the user in one line; None when `exc` is not Spark's."""
    module = type(exc).__module__ or ""
    if isinstance(exc, SparkMissing):
        return str(exc)
    if not (module.startswith("pyspark") or module.startswith("py4j")):
        return None
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    said = lines[0] if lines else type(exc).__name__
    if not said.startswith("["):  # py4j's "An error occurred while calling o92.parquet.": the JVM's reason
        said = next((line.split("Exception: ", 1)[1] for line in lines if "Exception: " in line), said)
    return f"Spark failed: {said.split(' SQLSTATE:')[0]}"


def fingerprint(spark, files: dict[str, list[str]]) -> str:
    """A dataset at a URI: every file's name, size and modification time (reading each file's
    tail, as `report.dataset_fingerprint` does locally, would cost a remote read per file)."""
    import hashlib

    h = hashlib.sha256()
    for table in sorted(files):
        for uri in files[table]:
            jvm, fs = _fs(spark, uri)
            st = fs.getFileStatus(jvm.org.apache.hadoop.fs.Path(uri))
            h.update(f"{table}\0{uri.rsplit('/', 1)[-1]}\0{st.getLen()}\0{st.getModificationTime()}\0".encode())
    return h.hexdigest()[:16]


def _fs(spark, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return jvm, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _uri(data: str) -> str:
    """A local folder as an absolute path; a URI (hdfs://, s3a://, file://) as given."""
    if "://" in data:
        return data.rstrip("/")
    return os.path.abspath(data)


def table_files(spark, root: str, name: str) -> list[str]:
    """The files of a table, as `dataset.table_files` finds them (`top_files`, `folder_files`:
    every file of a table's folder read or refused), through Hadoop's file system (so any URI
    Spark reads works)."""
    jvm, fs = _fs(spark, root)
    Path = jvm.org.apache.hadoop.fs.Path
    entries = [st.getPath().getName() for st in fs.listStatus(Path(root)) if st.isFile()]
    places = {entry: [Path(f"{root}/{entry}").toString()] for entry in top_files(root, name, entries)}
    folder = Path(f"{root}/{name}")
    if fs.exists(folder) and fs.getFileStatus(folder).isDirectory():
        base = fs.getFileStatus(folder).getPath().toString().rstrip("/")
        found, it = [], fs.listFiles(folder, True)
        while it.hasNext():
            found.append(it.next().getPath().toString()[len(base) + 1:])
        if found:
            places[f"{name}/"] = [f"{base}/{f}" for f in folder_files(f"{root}/{name}", found)]
    one_place(root, name, list(places))
    return next(iter(places.values()), [])


def open_dataset(spark, data: str, rb: ir.Rulebook) -> dict[str, list[str]]:
    """The views `t_NAME` over the dataset's files; the files by table."""
    from lhrule.engine.data.dataset import needed_tables

    root = _uri(str(data))
    jvm, fs = _fs(spark, root)
    if not fs.exists(jvm.org.apache.hadoop.fs.Path(root)):
        raise DatasetError(f"no dataset folder at {data}")
    out: dict[str, list[str]] = {}
    missing, needed = [], needed_tables(rb)
    for table in rb.tables:
        files = table_files(spark, root, table.name)
        if not files:
            if table.name in needed:
                missing.append(table.name)
            _empty_view(spark, table)
            continue
        out[table.name] = files
        _file_view(spark, table, files)
    if missing:
        raise DatasetError(f"the dataset {data} has no table {', '.join(sorted(missing))}: expected NAME.parquet, "
                           f"NAME.csv, NAME.jsonl or a folder NAME/ for each")
    return out


def _read(spark, files: list[str]):
    kinds = {file_format(f) for f in files}
    if len(kinds) > 1:
        found = sorted({os.path.splitext(f)[1].lower() for f in files})
        raise DatasetError(f"{files[0]}: one table's files must share one format, found {', '.join(found)}")
    kind = kinds.pop()
    if kind == "read_parquet":
        return spark.read.parquet(*files)
    if kind == "read_csv":  # every field as text, cast below as DuckDB's strict reader does
        return spark.read.options(header=True, inferSchema=False, escape='"', mode="FAILFAST").csv(files)
    return spark.read.options(primitivesAsString=True, mode="FAILFAST").json(files)


def given_rows(spark):
    """For `testing.run_test`: a connection whose views hold a test's given rows."""
    def given(rb: ir.Rulebook, rows: dict[str, list[dict]]) -> SparkConnection:
        from lhrule.engine.data.dataset import arrow_rows

        for table in rb.tables:
            _frame_view(spark, table, spark.createDataFrame(arrow_rows(table, rows.get(table.name, []))),
                        f"given {table.name}")
        return SparkConnection(spark)
    return given


def _file_view(spark, table: ir.Table, files: list[str]) -> None:
    frame = _read(spark, files)
    # Only the declared columns, and each row's file for the messages of `spark_validate` (a
    # view hides `_metadata`), under lhrule's own name, which no column of a file can meet.
    declared = [c.name for c in table.columns if c.name in frame.columns]
    _frame_view(spark, table, frame.select(*[frame[q.render(q.col(c), "spark")] for c in declared],
                                           frame["_metadata.file_path"].alias(FILE)), files[0])


def _frame_view(spark, table: ir.Table, frame, where: str) -> None:
    """The view `t_NAME` over a frame: the declared columns, cast as `dataset.file_view` does."""
    source = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    missing = [c.name for c in table.columns if c.name not in source and not c.optional]
    if missing:
        raise DatasetError(f"{where}: table {table.name} has no column {', '.join(missing)}")
    raw = f"raw_{table.name}"
    frame.createOrReplaceTempView(raw)
    spark.sql(q.render(q.create("VIEW", table_name(table.name), exp.select(
        *view_columns(table, source, False, dialect="spark")).from_(q.table(raw)), temporary=True), "spark"))


def _empty_view(spark, table: ir.Table) -> None:
    spark.sql(q.render(empty_view(table, temporary=True), "spark"))
