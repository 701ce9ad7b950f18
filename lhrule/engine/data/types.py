"""The one table of column types: per lhrule column type, the SQL type its values are held in
(one sqlglot DataType, written by sqlglot as DuckDB's or Spark's name for it: TIMESTAMP is
DuckDB's naive TIMESTAMP and Spark's TIMESTAMP_NTZ, VARCHAR Spark's STRING) and its Arrow
type (a test's given rows). Numbers are DECIMAL(38,6), durations BIGINT microseconds."""

from __future__ import annotations

from sqlglot import exp

_SQL = {"id": "VARCHAR", "string": "VARCHAR", "enum": "VARCHAR", "list": "VARCHAR", "bool": "BOOLEAN",
        "number": "DECIMAL(38,6)", "timestamp": "TIMESTAMPNTZ", "date": "DATE", "duration": "BIGINT"}
TEXT_TYPES = ("id", "string", "enum", "list")

# Types the readers and checks name beside the declared ones: an instant (DuckDB's
# TIMESTAMPTZ, Spark's TIMESTAMP_LTZ), text, and whole numbers.
INSTANT = exp.DataType.build("TIMESTAMPLTZ")
TEXT = exp.DataType.build("VARCHAR")
WHOLE = exp.DataType.build("DECIMAL(38,0)")
BIGINT = exp.DataType.build("BIGINT")
INT = exp.DataType.build("INT")


def sql_type(type_name: str) -> exp.DataType:
    """The SQL type of an lhrule column type, a fresh expression to place in a query."""
    return exp.DataType.build(_SQL[type_name])


def sql_name(type_name: str, dialect: str = "duckdb") -> str:
    """The type's name as the engine describes a column of it (DuckDB's DESCRIBE: VARCHAR,
    DECIMAL(38,6); Spark's simpleString: string, decimal(38,6))."""
    if dialect == "spark":
        return sql_type(type_name).sql(dialect="spark").replace(" ", "").lower()
    return {"VARCHAR": "VARCHAR", "TIMESTAMPNTZ": "TIMESTAMP"}.get(_SQL[type_name], _SQL[type_name])


def arrow_type(type_name: str):
    import pyarrow as pa

    return {"id": pa.string(), "string": pa.string(), "enum": pa.string(), "list": pa.string(), "bool": pa.bool_(),
            "number": pa.decimal128(38, 6), "timestamp": pa.timestamp("us"), "date": pa.date32(),
            "duration": pa.int64()}[type_name]
