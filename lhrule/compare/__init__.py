"""Stage 4, two rule versions → what changed: `changes.py` diffs the two IRs declaration by
declaration and the shops' results, `sides.py` scores both sides on one connection and attributes
each shop's move to the rule changes one at a time, `html.py` writes the report page."""
