"""Stage 3, IR + plan + dataset → results. `sql/` turns the plan of a day into sqlglot expressions
and writes them for DuckDB or Spark; `data/` exposes a dataset as views of the declared columns,
validates it and sets its bad rows aside, on either engine; `run/` executes the queries, makes each
shop's exact result, and runs the rulebooks' `test` blocks. Two modules serve all three:
`kinds.py`, each measure kind (rate, average, total, count) as one object, and `columns.py`, the
name of every column one stage writes and another reads. The engine never imports the CLI and
never prints."""
