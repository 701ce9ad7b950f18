"""A cache of compiled rulebooks, so an unchanged rulebook is not parsed and checked again.

An entry is keyed by the rulebook's path, the working folder (file names in messages are
relative to it), the include root, and the engine itself (the size and modification time of
every file of the `lhrule` package, and the Python and pydantic versions). It holds the
compile result, diagnostics included, and the SHA-256 of every file the compile read; it is
used only when every one of those files still has that content.

Datasets found clean are remembered the same way (`dataset_key`): the same tables as declared
and the same files (path, size, modification time) are not validated again.

The cache lives in `$LHRULE_CACHE_DIR`, else `$XDG_CACHE_HOME/lhrule`, else
`~/.cache/lhrule`. `LHRULE_CACHE=off` turns it off. It is only a cache: a folder that cannot be
written, or an entry that cannot be read, is passed over silently and the rulebook is compiled.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
from pathlib import Path

FORMAT = 2  # 2: the IR pickled apart from the diagnostics


def folder() -> Path | None:
    if os.environ.get("LHRULE_CACHE", "").lower() in ("off", "0", "no"):
        return None
    if os.environ.get("LHRULE_CACHE_DIR"):
        return Path(os.environ["LHRULE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lhrule"


@functools.cache
def _engine() -> str:
    import pydantic

    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"{FORMAT} {sys.version} {pydantic.VERSION}".encode())
    for f in sorted(package.rglob("*")):
        if f.suffix in (".py", ".lark"):
            st = f.stat()
            h.update(f"{f.relative_to(package)} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _entry(path: Path, root: Path | None) -> Path | None:
    base = folder()
    if base is None:
        return None
    key = hashlib.sha256("\0".join((_engine(), str(path.resolve()), os.getcwd(), str(root))).encode()).hexdigest()
    return base / "compiled" / key[:2] / key


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(entry: Path | None):
    """An entry's object, or None when there is none or it cannot be read."""
    if entry is None or not entry.is_file():
        return None
    try:
        with entry.open("rb") as f:
            return pickle.load(f)
    except Exception:  # noqa: BLE001 - a damaged or foreign entry is a miss
        return None


def _write(entry: Path | None, value) -> None:
    """Save an entry whole or not at all (written aside, then renamed); a failure is ignored."""
    if entry is None:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except OSError:
        pass


def lookup(path: Path, root: Path | None) -> dict | None:
    """The cached compile result of `path` (diagnostics, sources, and the IR as pickled bytes,
    None when it had errors), or None."""
    saved = _read(_entry(path, root))
    if saved is None:
        return None
    for file, sha in saved["files"]:
        try:
            if digest(Path(file).read_bytes()) != sha:
                return None
        except OSError:  # a file it read is gone
            return None
    return saved


def store(path: Path, root: Path | None, compiled, files: dict[str, bytes]) -> None:
    """Save a compile result with the contents of the files it read (absolute path -> bytes).
    The IR is pickled apart, to be unpickled only when it is used."""
    ir = None if compiled.rulebook is None else pickle.dumps(compiled.rulebook, protocol=pickle.HIGHEST_PROTOCOL)
    _write(_entry(path, root), {"files": [(p, digest(b)) for p, b in files.items()],
                                "diagnostics": compiled.diagnostics, "sources": compiled.sources, "ir": ir})


# ---------------------------------------------------------------- datasets found clean

def _clean_entry(key: str) -> Path | None:
    base = folder()
    return None if base is None else base / "validated" / key[:2] / key


def dataset_key(rb, files: dict[str, list[Path]]) -> str:
    """What a validation depends on: the engine, the tables as declared (and the time zone),
    and every file's path, size and modification time."""
    h = hashlib.sha256(f"{_engine()}\0{rb.timezone}\0".encode())
    for table in rb.tables:
        h.update(repr(table.model_dump(exclude={"span", "cites", "assumptions", "label"})).encode())
    for table in sorted(files):
        for path in files[table]:
            st = Path(path).stat()
            h.update(f"{table}\0{Path(path).resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def found_clean(key: str):
    """The validation of a dataset found clean before with this key, or None."""
    return _read(_clean_entry(key))


def remember_clean(key: str, validation) -> None:
    _write(_clean_entry(key), validation)
