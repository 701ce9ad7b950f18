"""Stage 1, text → syntax tree. `lhrule.lark` is the grammar; `parser.py` wraps Lark, recovers
from syntax errors (every broken declaration is reported, the rest parsed) and builds the syntax
tree of `ast.py`: a frozen dataclass per form, each with its span (the expressions in
`ast_expressions.py`, the statements in `ast_statements.py`); `format.py` prints a tree back as
canonical text (`lhrule fmt`), every comment kept. It depends on nothing after it but
`lhrule.diagnostics`."""
