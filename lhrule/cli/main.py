"""The `lhrule` command: the app (`app.py`) with every command registered. Each command imports
the engine lazily, so `lhrule --help` stays fast."""

from __future__ import annotations

from lhrule.cli import diff, explain, gen, rules, scoring  # noqa: F401  (each registers its commands)
from lhrule.cli.app import app


def _terminated(signum, frame) -> None:
    # SIGTERM as an exception, so that the files being written aside are removed on the way out
    raise SystemExit(128 + signum)


def main() -> None:  # pragma: no cover - console entry for `python -m lhrule`
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
