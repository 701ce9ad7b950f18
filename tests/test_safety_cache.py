"""The caches hold no code, are private to their user, are rebuilt when damaged, and trust
what the docs say; includes of anything but a readable rulebook file are E040, never a
traceback or a hang."""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from lhrule.compiler import cache
from lhrule.compiler import compile as compiler
from lhrule.compiler.compile import compile_rulebook
from lhrule.engine.data.dataset import DatasetError
from test_dataset import ORDERS, make, score

ROOT = Path(__file__).resolve().parent.parent
RULEBOOKS = sorted((ROOT / "rulebooks").rglob("*.rule")) + sorted((ROOT / "tests" / "rulebooks").glob("*.rule"))
LIGHTHOUSE = ROOT / "rulebooks" / "taobao" / "lighthouse.rule"


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("LHRULE_CACHE_DIR", str(folder))
    monkeypatch.delenv("LHRULE_CACHE", raising=False)
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _same(a, b, where="rulebook"):
    """Equal down to the type of every value (Decimal('4.5') is not '4.5', 0.20 is not 0.2)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} {a!r:.60} != {type(b).__name__} {b!r:.60}"
    if hasattr(type(a), "model_fields"):
        for name in type(a).model_fields:
            _same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    else:
        assert repr(a) == repr(b), where


# ---------------------------------------------------------------- the compile cache

def test_a_rulebook_read_from_the_cache_is_the_one_compiled(own_cache, monkeypatch):
    for path in RULEBOOKS:
        monkeypatch.setenv("LHRULE_CACHE", "off")
        fresh = compile_rulebook(path)
        monkeypatch.delenv("LHRULE_CACHE")
        compile_rulebook(path)  # stored
        with monkeypatch.context() as m:  # found in the cache, IR included: not compiled again
            m.setattr(compiler, "_compile", lambda *a: pytest.fail(f"{path} compiled again"))
            cached = compile_rulebook(path)
            _same(fresh.rulebook, cached.rulebook, path.name)
        _same(fresh.diagnostics, cached.diagnostics, f"{path.name} diagnostics")
        _same(fresh.sources, cached.sources, f"{path.name} sources")


def test_the_cache_holds_no_code(own_cache, tmp_path):
    compile_rulebook(LIGHTHOUSE)
    entries = _entries(own_cache)
    assert entries
    for entry in entries:
        head = json.loads(entry.read_bytes().partition(b"\n")[0])
        assert head["format"] == "lhrule-cache" and head["version"] == cache.FORMAT
    ran = tmp_path / "ran"

    class Planted:
        def __reduce__(self):
            return (os.system, (f"touch {ran}",))

    for entry in entries:  # a file planted in the cache folder
        entry.write_bytes(pickle.dumps(Planted()))
    result = compile_rulebook(LIGHTHOUSE)
    assert result.ok and result.rulebook is not None
    assert not ran.exists()


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o077])
def test_the_cache_is_private_whatever_the_umask(own_cache, umask):
    old = os.umask(umask)
    try:
        compile_rulebook(LIGHTHOUSE)
    finally:
        os.umask(old)
    folders = [own_cache, *sorted(p for p in own_cache.rglob("*") if p.is_dir())]
    assert len(folders) >= 3  # the cache, compiled/, compiled/xx/
    assert {f"{stat.S_IMODE(p.stat().st_mode):o}" for p in folders} == {"700"}
    assert {f"{stat.S_IMODE(p.stat().st_mode):o}" for p in _entries(own_cache)} == {"600"}


@pytest.mark.parametrize("how", ["others may write it", "another user owns it"])
def test_a_cache_folder_others_can_write_is_not_used(own_cache, how):
    own_cache.mkdir()
    if how == "others may write it":
        own_cache.chmod(0o777)
    else:
        own_cache.chmod(0o700)
        os.chown(own_cache, 4242, 4242)
    with pytest.warns(cache.CacheWarning, match=f"the cache folder {own_cache} .* so it is not used"):
        result = compile_rulebook(LIGHTHOUSE)
    assert result.rulebook is not None
    assert _entries(own_cache) == []
    with warnings.catch_warnings():  # said once
        warnings.simplefilter("error")
        compile_rulebook(LIGHTHOUSE)


def test_a_cache_folder_only_readable_by_others_is_made_private(own_cache):
    own_cache.mkdir()
    own_cache.chmod(0o755)  # as an older lhrule made it
    compile_rulebook(LIGHTHOUSE)
    assert stat.S_IMODE(own_cache.stat().st_mode) == 0o700 and _entries(own_cache)


def _valid_entry(entry: Path, lines: list[bytes], version: int = cache.FORMAT) -> bytes:
    body = b"\n".join(lines)
    key = entry.name
    return cache._dump({"format": "lhrule-cache", "version": version, "kind": "compiled", "key": key,
                        "sha256": cache.digest(body)}) + b"\n" + body


DAMAGE = {
    "random bytes": lambda entry, data: os.urandom(5000),
    "truncated": lambda entry, data: data[: len(data) // 2],
    "one byte changed": lambda entry, data: data[:-100] + bytes([data[-100] ^ 1]) + data[-99:],
    "empty": lambda entry, data: b"",
    "valid JSON of the wrong shape": lambda entry, data: b'{"files": 3}\n[1, 2]',
    "wrong shape, checksummed": lambda entry, data: _valid_entry(entry, [b'{"files": 3}', b"{}"]),
    "diagnostics of the wrong shape, checksummed": lambda entry, data: _valid_entry(
        entry, [b'{"files": [], "diagnostics": [{"code": 1}], "sources": {}, "ir": true}', b"{}"]),
    "the IR of the wrong shape, checksummed": lambda entry, data: _valid_entry(
        entry, [data.split(b"\n")[1], b'{"name": 5, "tables": "x"}']),
    "another version": lambda entry, data: _valid_entry(entry, data.split(b"\n")[1:], version=cache.FORMAT - 1),
    "a pickle of the wrong shape": lambda entry, data: pickle.dumps(["files"]),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_entry_is_compiled_afresh_and_rebuilt(own_cache, damage):
    fresh = compile_rulebook(LIGHTHOUSE)
    [entry] = _entries(own_cache)
    good = entry.read_bytes()
    entry.write_bytes(DAMAGE[damage](entry, good))
    result = compile_rulebook(LIGHTHOUSE)
    _same(fresh.rulebook, result.rulebook)
    _same(fresh.diagnostics, result.diagnostics)
    if damage != "the IR of the wrong shape, checksummed":  # found whole, that part read only when used
        assert entry.read_bytes() == good  # rebuilt
    assert compile_rulebook(LIGHTHOUSE).rulebook == fresh.rulebook


# ---------------------------------------------------------------- datasets found clean

def _count_validations(monkeypatch) -> list:
    from lhrule.engine.data import validate as validation

    calls: list = []
    real = validation.validate
    monkeypatch.setattr(validation, "validate", lambda *a: calls.append(1) or real(*a))
    return calls


ORPHAN = ORDERS.replace("o3,s2,", "o3,s9,")  # the same size: an order of no shop


def _keep_stamp(path: Path, text: str) -> None:
    """Write text over the file in place, then set its modification time back (`touch -r`)."""
    before = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns


@pytest.mark.parametrize("edit", ["touch -r", "cp -p", "rsync -a"])
def test_an_edit_that_keeps_size_and_mtime_is_validated_again(tmp_path, own_cache, monkeypatch, edit):
    rb, data = make(tmp_path)
    calls = _count_validations(monkeypatch)
    score(rb, data)
    score(rb, data)
    assert len(calls) == 1  # found clean: not read again
    orders = data / "orders.csv"
    if edit == "touch -r":
        _keep_stamp(orders, ORPHAN)
    else:
        bad = tmp_path / "orders.csv"
        bad.write_text(ORPHAN, encoding="utf-8")
        os.utime(bad, ns=(orders.stat().st_atime_ns, orders.stat().st_mtime_ns))
        if edit == "cp -p":  # over the same file, times kept
            shutil.copy2(bad, orders)
        else:  # rsync -a: a new file beside, times kept, renamed over
            shutil.copy2(bad, data / ".orders.csv.tmp")
            os.replace(data / ".orders.csv.tmp", orders)
    with pytest.raises(DatasetError, match="orders.shop_id: 1 row pointing at no row of shops"):
        score(rb, data)
    assert len(calls) == 2


def test_a_damaged_clean_entry_is_validated_again(tmp_path, own_cache, monkeypatch):
    rb, data = make(tmp_path)
    calls = _count_validations(monkeypatch)
    first = score(rb, data).to_json()
    [entry] = [p for p in _entries(own_cache) if "validated" in p.parts]
    for damaged in (os.urandom(300), entry.read_bytes()[:40], b'{"rows": 1}', pickle.dumps({"rows": 1})):
        entry.write_bytes(damaged)
        assert score(rb, data).to_json()["shops"] == first["shops"]
    assert len(calls) == 5
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


# ---------------------------------------------------------------- includes

@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """Run in tmp_path, so that file names in messages are relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _rules(tmp_path: Path, include: str) -> Path:
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    main = tmp_path / "main.rule"
    main.write_text(f'param a = 1\ninclude "{include}"\n', encoding="utf-8")
    return main


def _e040(main: Path) -> str:
    result = compile_rulebook(main)
    [d] = [d for d in result.diagnostics if d.is_error]
    assert d.code == "E040" and (d.span.line, d.span.column) == (2, 1), d
    return d.message


def test_an_include_of_a_symlink_loop(tmp_path, here):
    (tmp_path / "a.rule").symlink_to(tmp_path / "b.rule")
    (tmp_path / "b.rule").symlink_to(tmp_path / "a.rule")
    assert _e040(_rules(tmp_path, "a.rule")) == "a.rule is a loop of symlinks (it leads back to itself)"


def test_an_include_of_a_name_too_long(tmp_path, here):
    name = "x" * 5000 + ".rule"
    message = _e040(_rules(tmp_path, name))
    assert message.startswith("the file name xxxxx") and message.endswith("x.rule is too long (5005 characters)")
    assert "…" in message and len(message) < 200


def test_an_include_of_a_name_holding_a_nul(tmp_path, here):
    message = _e040(_rules(tmp_path, "a\0b.rule"))
    assert message == "the file name 'a\\x00b.rule' holds a NUL character, which no file name can"


def test_an_include_of_a_folder(tmp_path, here):
    (tmp_path / "dir.rule").mkdir()
    assert _e040(_rules(tmp_path, "dir.rule")) == "dir.rule is a folder, not a rulebook file"


def test_an_include_of_a_device(tmp_path, here):
    os.mknod(tmp_path / "zero.rule", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    assert _e040(_rules(tmp_path, "zero.rule")) == \
        "zero.rule is not a regular file (a pipe, a device or a socket), so it is not read"


def test_an_include_of_an_unreadable_file(tmp_path, here, monkeypatch):
    main = _rules(tmp_path, "locked.rule")
    (tmp_path / "locked.rule").write_text("param b = 2\n", encoding="utf-8")
    real = os.open

    def refuse(path, *args, **kw):
        if str(path).endswith("locked.rule"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(os, "open", refuse)
    assert _e040(main) == "cannot read locked.rule: permission denied"


def test_an_include_of_a_fifo_does_not_wait_for_a_writer(tmp_path):
    main = _rules(tmp_path, "pipe.rule")
    os.mkfifo(tmp_path / "pipe.rule")
    out = subprocess.run([sys.executable, "-m", "lhrule", "check", "main.rule"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1 and "Traceback" not in out.stderr + out.stdout
    assert "main.rule:2:1: error[E040]: pipe.rule is not a regular file (a pipe, a device or a socket), so it is " \
           "not read" in out.stdout


@pytest.mark.parametrize("name", ["loop.rule", "x" * 5000 + ".rule", "a\0b.rule", "/dev/zero", "pipe.rule"])
def test_a_rulebook_path_that_is_no_readable_file(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop.rule").symlink_to(tmp_path / "loop.rule")
    os.mkfifo(tmp_path / "pipe.rule")
    result = compile_rulebook(Path(name))
    [d] = result.diagnostics
    assert d.code == "E040" and not result.ok and (d.span.line, d.span.column) == (1, 1)
