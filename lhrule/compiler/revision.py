"""A rulebook as it was at a git revision: `rulebooks/x.rule@HEAD~3`.

The rulebook's files at that revision (every `.rule` file and root marker of the commit)
are read with `git archive` into a temporary folder, so its includes resolve as they did
then. Nothing is checked out; the working tree is not touched.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from lhrule.compiler.load import ROOT_MARKERS


class RevisionError(Exception):
    pass


def split_spec(spec: str) -> tuple[Path, str | None]:
    """`path@REV` -> (path, REV); a plain path (or one that exists as named) -> (path, None)."""
    if Path(spec).exists() or "@" not in spec:
        return Path(spec), None
    path, _, rev = spec.rpartition("@")
    if not path or not rev:
        return Path(spec), None
    return Path(path), rev


def _git(args: list[str], cwd: Path, what: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise RevisionError(f"{what}: git is not installed") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(f"{what}: {reason[-1]}" if reason else what)
    return done.stdout


def materialize(path: Path, rev: str, into: Path) -> Path:
    """Write the rulebook files of `rev` under `into`; return where `path` lies there."""
    where = f"{path}@{rev}"
    absolute = Path(os.path.normpath(Path.cwd() / path))
    folder = next(p for p in absolute.parents if p.is_dir())  # the file may be gone from the working tree
    top = Path(_git(["rev-parse", "--show-toplevel"], folder, f"{where}: not in a git repository")
               .decode().strip()).resolve()
    commit = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], top,
                  f"{where}: {rev!r} is not a revision of this repository").decode().strip()
    try:
        rel = (folder.resolve() / absolute.relative_to(folder)).relative_to(top).as_posix()
    except ValueError:
        raise RevisionError(f"{where}: the file is outside the repository {top}") from None
    names = _git(["ls-tree", "-r", "--name-only", "-z", commit], top, where).split(b"\0")
    wanted = [n.decode() for n in names if n and (n.endswith(b".rule") or Path(n.decode()).name in ROOT_MARKERS)]
    if rel not in wanted:
        raise RevisionError(f"{where}: {rel} is not in revision {rev} ({commit[:10]})")
    archive = _git(["archive", "--format=tar", commit, "--", *wanted], top, where)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / ".git").mkdir(exist_ok=True)  # the repository's top stays the rulebook root
    return into / rel
