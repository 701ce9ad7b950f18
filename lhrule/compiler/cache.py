"""A cache of compiled rulebooks, so an unchanged rulebook is not parsed and checked again.

An entry is keyed by the rulebook's path, the working folder (file names in messages are
relative to it), the include root, and the engine itself (the size and modification time of
every file of the `lhrule` package, and the Python and pydantic versions). It holds the
compile result, diagnostics included, and the SHA-256 of every file the compile read; it is
used only when every one of those files still has that content.

Datasets found clean are remembered too (`dataset_key`): the same tables as declared and the
same files, by the stamp git's index trusts (path, size, modification and change times, inode
and device), are not validated again. The change time (ctime) is set by the system on every
write and every change of a file's metadata, and cannot be set back by `cp -p`, `rsync -a`,
`touch -r` or any other tool short of changing the clock, so an edit that keeps the size and
the modification time is still seen.

An entry holds data only, never code: checksummed JSON, read back into the IR's pydantic
models by validation (an entry of the wrong shape is a miss). The cache lives in
`$LHRULE_CACHE_DIR`, else `$XDG_CACHE_HOME/lhrule`, else `~/.cache/lhrule`; `LHRULE_CACHE=off`
turns it off. Its folders are made 0700 and its files 0600, whatever the umask. A cache folder
that another user owns or that others may write is not used (a `CacheWarning`, once). It is
only a cache: a folder that cannot be written, or an entry that is damaged, truncated, foreign
or of another version, is passed over and the rulebook is compiled (and the entry rebuilt).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import stat
import sys
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Callable

FORMAT = 3  # 3: checksummed JSON lines (2 was pickle: an entry could run code)
MAGIC = "lhrule-cache"
MAX_ENTRY_BYTES = 256 * 2**20  # far above any entry (the largest rulebook's is under 1 MB)


class CacheWarning(UserWarning):
    """The cache folder is not safe to use (another user owns it, or others may write it)."""


def folder() -> Path | None:
    if os.environ.get("LHRULE_CACHE", "").lower() in ("off", "0", "no"):
        return None
    if os.environ.get("LHRULE_CACHE_DIR"):
        return Path(os.environ["LHRULE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lhrule"


def _base() -> Path | None:
    """The cache folder, when there is one that is private to this user."""
    base = folder()
    if base is None:
        return None
    return base if _private(str(base)) else None


@functools.cache
def _private(base: str) -> bool:
    """Whether `base` is (or has now been made) a folder of this user that no one else can
    write. An unsafe folder is said once per process, through `warnings`; one that cannot be
    made (a read-only home) is passed over without a word, as any cache failure."""
    try:
        st = os.stat(base)
    except FileNotFoundError:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(base)), mode=0o700, exist_ok=True)  # as XDG asks
            _mkdir_private(base)
            st = os.stat(base)
        except OSError:
            return False
    except (OSError, ValueError):
        return False
    reason = None
    if not stat.S_ISDIR(st.st_mode):
        reason = "is not a folder"
    elif st.st_uid != os.geteuid():
        reason = f"belongs to another user (uid {st.st_uid})"
    elif st.st_mode & 0o022:
        reason = f"can be written by others (mode {stat.S_IMODE(st.st_mode):04o})"
    if reason:
        warnings.warn(CacheWarning(f"the cache folder {base} {reason}, so it is not used: remove it, or set "
                                   f"LHRULE_CACHE_DIR to a folder of your own (LHRULE_CACHE=off turns the cache off)"),
                      stacklevel=4)
        return False
    if st.st_mode & 0o077:  # readable by others (an older lhrule made it 0755): no one else wrote in it
        try:
            os.chmod(base, 0o700)
        except OSError:
            return False
    return True


def _mkdir_private(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # the umask may have taken bits off


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


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- entries as data

def _default(value):
    """The JSON form of a value JSON has no type for, tagged so that it reads back as itself."""
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}  # str keeps the exponent: 0.20 stays 0.20
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    raise TypeError(f"the cache holds data only, not {type(value).__name__}")


_TAGS = {"$decimal": Decimal, "$datetime": dt.datetime.fromisoformat, "$date": dt.date.fromisoformat,
         "$time": dt.time.fromisoformat}


def _hook(obj: dict):
    if len(obj) == 1:
        (tag, text), = obj.items()
        if tag in _TAGS and isinstance(text, str):
            return _TAGS[tag](text)
    return obj


def _dump(value) -> bytes:
    return json.dumps(value, default=_default, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _load(line: bytes):
    return json.loads(line, object_hook=_hook)


def _entry(kind: str, key: str) -> tuple[Path, str] | None:
    base = _base()
    return None if base is None else (base / kind / key[:2] / key, key)


def _read(entry: tuple[Path, str] | None, kind: str, parts: int) -> list[bytes] | None:
    """An entry's lines, when it is whole, of this format, and of this key; else None."""
    if entry is None:
        return None
    path, key = entry
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            data = f.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    head, _, body = data.partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError:
        return None
    if header != {"format": MAGIC, "version": FORMAT, "kind": kind, "key": key, "sha256": digest(body)}:
        return None
    lines = body.split(b"\n")
    return lines if len(lines) == parts else None


def _write(entry: tuple[Path, str] | None, kind: str, lines: list[bytes]) -> None:
    """Save an entry whole or not at all (written aside, then renamed), readable by this user
    alone; a failure is ignored."""
    if entry is None:
        return
    path, key = entry
    body = b"\n".join(lines)
    header = _dump({"format": MAGIC, "version": FORMAT, "kind": kind, "key": key, "sha256": digest(body)})
    tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        _mkdir_private(str(path.parent.parent))
        _mkdir_private(str(path.parent))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask may have taken bits off
            with os.fdopen(fd, "wb") as f:
                fd = -1
                f.write(header + b"\n" + body)
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


# ---------------------------------------------------------------- compiled rulebooks

def _compiled_key(path: Path, root: Path | None) -> str:
    return hashlib.sha256("\0".join((_engine(), os.path.realpath(path), os.getcwd(), str(root))).encode()).hexdigest()


def lookup(path: Path, root: Path | None) -> dict | None:
    """The cached compile result of `path`, or None: its diagnostics and sources, and `ir`, a
    function giving the IR (None when the compile had errors, or when that part of the entry
    turns out damaged: then compile again)."""
    from lhrule.diagnostics import Diagnostic

    try:
        entry = _entry("compiled", _compiled_key(path, root))
    except (OSError, ValueError):
        return None
    lines = _read(entry, "compiled", 2)
    if lines is None:
        return None
    try:
        meta = _load(lines[0])
        files = [(str(f), str(s)) for f, s in meta["files"]]
        diagnostics = [Diagnostic.model_validate(d) for d in meta["diagnostics"]]
        sources = meta["sources"]
        if not (isinstance(sources, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in sources.items())):
            return None
        has_ir = bool(meta["ir"])
    except Exception:  # noqa: BLE001 - valid JSON of another shape: a miss
        return None
    for file, sha in files:
        try:
            if digest(Path(file).read_bytes()) != sha:
                return None
        except (OSError, ValueError):  # a file it read is gone
            return None
    ir_line = lines[1]
    return {"files": files, "diagnostics": diagnostics, "sources": sources,
            "ir": _ir_reader(ir_line) if has_ir else None}


def _ir_reader(line: bytes) -> Callable:
    def read():
        """The IR, validated into its models, or None when the entry does not hold one."""
        from lhrule.ir import model as ir

        try:
            return ir.Rulebook.model_validate(_load(line))
        except Exception:  # noqa: BLE001 - damaged or of another shape: compiled afresh
            return None
    return read


def store(path: Path, root: Path | None, compiled, files: dict[str, bytes]) -> None:
    """Save a compile result with the contents of the files it read (absolute path -> bytes).
    The IR is saved on a line of its own, read only when it is used. What would not read
    back as itself is not saved."""
    from lhrule.ir import model as ir

    rulebook = compiled.rulebook
    try:
        ir_line = _dump(None if rulebook is None else rulebook.model_dump())
        if rulebook is not None and ir.Rulebook.model_validate(_load(ir_line)) != rulebook:
            return
        meta = _dump({"files": [(p, digest(b)) for p, b in files.items()],
                      "diagnostics": [d.model_dump() for d in compiled.diagnostics],
                      "sources": compiled.sources, "ir": rulebook is not None})
        entry = _entry("compiled", _compiled_key(path, root))
    except (TypeError, ValueError, OSError):
        return
    _write(entry, "compiled", [meta, ir_line])


# ---------------------------------------------------------------- datasets found clean

def dataset_key(rb, files: dict[str, list[Path]]) -> str:
    """What a validation depends on: the engine, the tables as declared (and the time zone),
    and every file's stamp: path, size, modification and change times, inode and device."""
    h = hashlib.sha256(f"{_engine()}\0{rb.timezone}\0".encode())
    for table in rb.tables:
        h.update(repr(table.model_dump(exclude={"span", "cites", "assumptions", "label"})).encode())
    for table in sorted(files):
        for path in files[table]:
            st = os.stat(path)
            h.update(f"{table}\0{Path(path).resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0"
                     f"{st.st_ino}\0{st.st_dev}\n".encode())
    return h.hexdigest()


def found_clean(key: str) -> dict | None:
    """What `remember_clean` kept of a dataset found clean before with this key (a dict the
    validation reads back and checks), or None."""
    lines = _read(_entry("validated", key), "validated", 1)
    if lines is None:
        return None
    try:
        saved = _load(lines[0])
    except Exception:  # noqa: BLE001 - damaged: a miss
        return None
    return saved if isinstance(saved, dict) else None


def remember_clean(key: str, kept: dict) -> None:
    """Remember what a clean validation keeps (`Validation.kept`)."""
    try:
        line = _dump(kept)
    except (TypeError, ValueError):
        return
    _write(_entry("validated", key), "validated", [line])
