"""IR + plan → SQL, as sqlglot expressions, never text: `expressions.py` for rule expressions,
`queries.py` for an indicator's per-event flags and per-shop counts, `dialects.py` for the text
each engine receives (DuckDB or Spark) and what Spark cannot run."""
