"""Stage 2, syntax tree → IR. `load.py` reads a rulebook and its includes (`revision.py` at a git
revision), `compile.py` resolves the versions of every declaration and runs the rulebook-wide checks,
`metrics.py` merges an indicator with the metric it `extends`, `build*.py` build each declaration's
IR record, and `typecheck.py` resolves names and checks the types and units of expressions. Every
mistake is a diagnostic; `cache.py` keeps compiled rulebooks, as data, keyed by their content."""
