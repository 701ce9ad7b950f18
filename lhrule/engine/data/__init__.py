"""Datasets: a folder (or, on Spark, a URI) of event tables read as views of exactly the declared
columns (`dataset.py`, `spark.py`), validated row by row against the declared schema, with the bad
rows reported by file and row or set aside (`validate.py`, whose row checks Spark's
`spark_validate.py` runs too). Every statement is a sqlglot expression (`statements.py`), the
column types one table for DuckDB, Spark and Arrow (`types.py`)."""
