"""Running a plan: `score.py` sends the queries and gathers their rows, `combine.py` makes each
shop's exact values, levels, points, scores, grades and actions, `results.py` holds them, and
`testing.py` runs the rulebooks' `test` blocks through the same engine."""
