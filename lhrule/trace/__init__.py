"""Stage 4, results → explanations: `explain.py` builds one shop's result as a tree of data, from
the grade down to the events counted or excluded, each node naming its rule (file:line) and the
policy clause it cites; it reads the very queries and results the score used."""
