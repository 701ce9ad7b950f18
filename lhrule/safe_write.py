"""The one way lhrule writes a file: aside, then renamed over its name when whole.

    with aside(path, "score.csv", force) as part:   # refuses to replace what lhrule did not make
        write(part)                                  # fsync'd and renamed to `path` at the end

A file is first written to `.NAME.PID.part` in its own folder, flushed to the disk, and renamed
to NAME (`os.replace`, atomic): a run killed or out of space leaves the earlier file whole, and
never a cut one under its name. A part left by a process killed outright (SIGKILL) is removed
by the next write of the same file, once no process of that id runs.

A file in place is replaced only when lhrule wrote it as the same kind of output (its stamp:
the head of a score's JSON or of a CSV, a Parquet key, an HTML generator tag), or when it is
empty, or when `force` is given; a table of the dataset being read is never replaced. A device
or a pipe (/dev/null, /dev/stdout) is written as it is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

# The key lhrule puts in the key-value metadata of the Parquet files it writes.
PARQUET_KEY = "lhrule_output"
DATA_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")  # what a dataset folder reads as tables

_CSV_HEADS = {"score.csv": '"shop_id","as_of","category","score","grade","actions"',
              "diff.csv": '"shop_id","category","old_score","new_score","delta"'}
_HTML_HEADS = {"explain.html": ("<meta name='generator' content='lhrule explain'>",
                                "<!doctype html><html><head><title>lhrule explain "),
               "diff.html": ("<meta name='generator' content='lhrule diff'>",
                             "<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>lhrule diff")}
KINDS = {"score.json": "score's JSON", "score.csv": "score's CSV", "score.parquet": "score's Parquet file",
         "diff.csv": "diff's CSV", "diff.parquet": "diff's Parquet file", "explain.html": "explain page",
         "diff.html": "diff page"}


class OutputError(Exception):
    """A file lhrule was asked to write and did not: the message says which and what to do."""


class Refused(OutputError, ValueError):
    """The file in place was not made by lhrule (or is a table being read): left as it is."""


class WriteFailed(OutputError):
    """The disk said no (full, read-only, no permission): the file in place is as it was."""


def html_generator(kind: str) -> str:
    """The tag that stamps an HTML page of `kind` (explain.html, diff.html) as lhrule's."""
    return _HTML_HEADS[kind][0]


def made_by_lhrule(path: Path, kind: str) -> bool:
    """Whether the file at `path` is an output of `kind` that lhrule wrote."""
    try:
        if kind.endswith(".parquet"):
            import pyarrow.parquet as pq

            meta = {k.decode(): v.decode() for k, v in (pq.read_schema(path).metadata or {}).items()}
            if meta.get(PARQUET_KEY) == kind.split(".")[0]:
                return True
            # a score saved before the key existed: its stamp alone
            return kind == "score.parquet" and PARQUET_KEY not in meta and "rulebook_hash" in meta \
                and "dataset_fingerprint" in meta
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except Exception:  # unreadable, or not Parquet: not a file lhrule knows as its own
        return False
    if kind == "score.json":
        return bool(re.match(r'\{\n  "rulebook": "', head)) and '\n  "rulebook_hash": "' in head
    if kind in _CSV_HEADS:
        return head.startswith(_CSV_HEADS[kind])
    if kind in _HTML_HEADS:
        return any(head.startswith(h) or h in head[:1024] for h in _HTML_HEADS[kind])
    return False


def _is_plain_file(path: Path) -> bool:
    import stat

    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def refuse_to_replace(path: Path, kind: str | None, force: bool = False, data: Path | None = None,
                      flag: str = "--out") -> None:
    """Raise Refused unless writing `path` as `kind` loses nothing lhrule did not make.

    `data`: the dataset folder being read; a table file in it is refused even with force."""
    path = Path(path)
    if data is not None and _inside_dataset(path, Path(data)):
        raise Refused(f"{flag} {path} is in the dataset {data}, where it would be read as a table: write it "
                      f"outside {data}")
    if kind is None or force or not path.exists() or not _is_plain_file(path):
        return
    if path.stat().st_size == 0 or made_by_lhrule(path, kind):
        return
    raise Refused(f"{flag} {path} exists and is not a {KINDS.get(kind, kind)} that lhrule wrote: it is left as "
                  f"it is; name a new file, or add --force to replace it")


def _inside_dataset(path: Path, data: Path) -> bool:
    try:
        folder = data.resolve()
        target = path.resolve()
    except OSError:
        return False
    if not folder.is_dir():
        return False
    if target == folder:
        return True
    try:
        rel = target.relative_to(folder)
    except ValueError:
        return False
    # a table file (NAME.csv …) of the folder, or anything inside a table's folder (NAME/)
    return len(rel.parts) > 1 or target.suffix in DATA_SUFFIXES


def part_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def clean_stale(folder: Path, name: str, suffix: str = "part") -> None:
    """Remove `.NAME.PID.SUFFIX` left in `folder` by lhrule processes that no longer run."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.{re.escape(suffix)}")
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return
    for p in entries:
        m = pattern.fullmatch(p.name)
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def failure(path: Path, exc: OSError) -> WriteFailed:
    """The message for a write the disk refused: which file, why, and what to do."""
    code = exc.errno
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = "no space left on the device" if code == errno.ENOSPC else \
            "the disk quota is used up" if code == errno.EDQUOT else "the file is too large for the device"
        todo = "free some space, or write elsewhere"
    elif code == errno.EROFS:
        why, todo = f"{folder} is on a read-only file system", "write elsewhere"
    elif code in (errno.EACCES, errno.EPERM):
        why, todo = "permission denied", f"write elsewhere, or get write access to {folder}"
    else:
        why, todo = exc.strerror or str(exc), "write elsewhere"
    kept = " (the file in place is as it was)" if Path(path).exists() else ""
    return WriteFailed(f"cannot write {path}: {why}{kept}; {todo}")


def _fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if not directory or exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def aside(path: Path, kind: str | None = None, force: bool = False, data: Path | None = None,
          flag: str = "--out") -> Iterator[Path]:
    """Yield the path to write instead of `path`; when the block ends, the file is flushed and
    renamed to `path`. On any exception (a full disk, Ctrl-C, SIGTERM made an exception) the
    part is removed and `path` is left as it was; an OSError becomes WriteFailed."""
    path = Path(path)
    refuse_to_replace(path, kind, force, data, flag)
    if path.exists() and not _is_plain_file(path) and not path.is_dir():  # a device or a pipe
        try:
            yield path
        except OSError as exc:
            raise failure(path, exc) from None
        return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path  # the link is kept, its file replaced
    clean_stale(target.parent if str(target.parent) else Path("."), target.name)
    part = part_name(target)
    try:
        try:
            yield part
            _keep_mode_and_owner(target, part)
            _fsync_path(part)
            os.replace(part, target)
            _fsync_path(target.parent if str(target.parent) else Path("."), directory=True)
        except OSError as exc:
            raise failure(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            part.unlink()


def _keep_mode_and_owner(old: Path, new: Path) -> None:
    """The replacement keeps the mode (and, where allowed, the owner) of the file it replaces."""
    try:
        st = old.stat()
    except OSError:
        return
    os.chmod(new, st.st_mode & 0o7777)
    if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        with contextlib.suppress(OSError):
            os.chown(new, st.st_uid, st.st_gid)


def write_text(path: Path, text: str | Iterable[str], kind: str | None = None, force: bool = False,
               data: Path | None = None, flag: str = "--out") -> None:
    """Write text (a string, or pieces of it) to `path` as UTF-8, aside and renamed."""
    pieces = [text] if isinstance(text, str) else text
    with aside(path, kind, force, data, flag) as part:
        try:
            with open(part, "w", encoding="utf-8", newline="") as f:
                f.writelines(pieces)
        except OSError as exc:
            raise failure(path, exc) from None


def exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux's renameat2 RENAME_EXCHANGE); False where the
    system cannot, and nothing was moved."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # an old kernel, a file system that cannot
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_folder(new: Path, out: Path) -> None:
    """Put the finished folder `new` (a sibling of `out`) in place of `out`, whole: a reader,
    or a run killed at any moment, finds the old folder or the new, never a mix. The old
    folder ends at `new`'s name, for the caller to remove."""
    if not out.exists():
        os.rename(new, out)
        return
    if exchange(new, out):
        return
    # Two renames: a run killed between them leaves the old folder at OLD, put back by the next run.
    old = new.with_name(new.name.rsplit(".", 1)[0] + ".old")
    os.rename(out, old)
    os.rename(new, out)
    os.rename(old, new)
