"""lhrule: a rule language and engine for merchant service-assessment policy.

The Python API (`load`, `score`, `score_stream`, `diff`) is imported lazily, so `lhrule --help` stays fast.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name in ("load", "score", "score_stream", "diff", "Rulebook", "ScoreRun", "ScoreStream", "DiffRun"):
        from lhrule import api

        return getattr(api, name)
    raise AttributeError(name)
