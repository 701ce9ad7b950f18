"""lhrule: a rule language and engine for merchant service-assessment policy.

The Python API (`load`, `score`, `diff`) is imported lazily, so `lhrule --help` stays fast.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name in ("load", "score", "diff", "Rulebook", "ScoreRun", "DiffRun"):
        from lhrule import api

        return getattr(api, name)
    raise AttributeError(name)
