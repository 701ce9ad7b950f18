"""The fuzz tests of test_robustness.py, run longer and not derandomized:

    python tests/fuzz.py --examples 5000            # compile only
    python tests/fuzz.py --examples 500 --score     # and score what compiles, on examples/data

Every input must end in a clean compile or diagnostics; with --score, a rulebook that
compiles must also score the example dataset or be refused with a message (DatasetError: the data
does not fit it; NotRunnable: a library), never another exception. Prints how many inputs were tried and each failure
found, minimised by hypothesis; exits 1 on a failure.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import test_robustness as fuzz  # noqa: E402

EXAMPLE = fuzz.ROOT / "examples" / "data"
SCORED = {"compiled and scored": 0, "compiled, refused": 0}  # refused: by the data, or a library


# The rulebooks copied once into a temporary root, so a mangled one, written beside its seed,
# resolves its includes as the seed does.
ROOT_COPY = Path(tempfile.mkdtemp(prefix="lhrule-fuzz-"))
atexit.register(shutil.rmtree, ROOT_COPY, ignore_errors=True)
shutil.copytree(fuzz.ROOT / "rulebooks", ROOT_COPY / "rulebooks")
shutil.copytree(fuzz.ROOT / "tests" / "rulebooks", ROOT_COPY / "tests" / "rulebooks")
(ROOT_COPY / "lhrule.toml").write_text("", encoding="utf-8")
SEED_PATHS = [ROOT_COPY / p.relative_to(fuzz.ROOT) for p in fuzz.SEED_FILES]


def _scores(text: str, seed: int) -> None:
    import lhrule
    from lhrule.api import CompileError, NotRunnable
    from lhrule.engine.data.dataset import DatasetError

    path = SEED_PATHS[seed].with_name("mangled.rule")
    path.write_text(text, encoding="utf-8")
    try:
        loaded = lhrule.load(path)
    except CompileError:
        return
    try:
        run = lhrule.score(loaded, EXAMPLE, as_of="2024-06-30")
        run.to_json()
        SCORED["compiled and scored"] += 1
    except (DatasetError, NotRunnable):
        SCORED["compiled, refused"] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="inputs per property")
    parser.add_argument("--score", action="store_true", help="also score each rulebook that compiles")
    args = parser.parse_args()
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    config = settings(max_examples=args.examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
    seed_index = st.sampled_from(range(len(fuzz.SEEDS)))
    edits = st.lists(fuzz.edit, min_size=1, max_size=8)

    def mangled(seed, chosen):
        text = fuzz.mutate(fuzz.SEEDS[seed], chosen)
        fuzz.compiles_or_explains(text)
        if args.score:
            _scores(text, seed)

    properties = {
        "mangled rulebooks": given(seed_index, edits)(mangled),
        "random text": given(st.text(max_size=2000))(fuzz.compiles_or_explains),
        "random pieces of the language": given(st.lists(st.sampled_from(fuzz.PIECES), max_size=200))(
            lambda pieces: fuzz.compiles_or_explains(" ".join(pieces))),
    }
    failed = 0
    for name, prop in properties.items():
        start, before = time.perf_counter(), fuzz.TRIED["rulebook texts"]
        try:
            config(prop)()
            outcome = "no failure"
        except Exception as exc:  # hypothesis re-raises the minimal failing example's error
            failed += 1
            outcome = f"FAILED: {type(exc).__name__}: {exc}"
        print(f"{name}: {fuzz.TRIED['rulebook texts'] - before:,} inputs in {time.perf_counter() - start:.0f} s, "
              f"{outcome}", flush=True)
    print(f"in all: {fuzz.TRIED['rulebook texts']:,} inputs" +
          (f"; of the mangled rulebooks that compiled, {SCORED['compiled and scored']:,} scored and "
           f"{SCORED['compiled, refused']:,} were refused (a library, or data it does not fit)" if args.score else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
