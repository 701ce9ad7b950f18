"""What lhrule writes and prints: it never replaces a file it did not make, a write goes aside
and is renamed (a full disk, a read-only folder or a killed run leave the file in place whole),
data reaches the terminal as text and never as markup or control codes, and an empty result
still has its columns."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lhrule.cli.main import app
from lhrule.synth import gen
from lhrule import safe_write

ROOT = Path(__file__).resolve().parents[1]
RULEBOOK = str(ROOT / "rulebooks" / "tejia" / "response-3min.rule")
EXAMPLE = ROOT / "examples" / "data"
SCORE = ["score", RULEBOOK, "--as-of", "2024-06-30"]


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def said(result) -> str:
    """What the user was told, with no traceback in it."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.output


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def data(tmp_path) -> Path:
    """A copy of the example dataset, as a user's real dataset: no marker of gen's, a README."""
    folder = tmp_path / "data"
    shutil.copytree(EXAMPLE, folder)
    (folder / gen.MARKER).unlink()
    return folder


@contextlib.contextmanager
def mounted(folder: Path, *options: str):
    """A tmpfs (options: size=…) or a read-only bind of `folder` onto itself; skipped where the
    test may not mount."""
    folder.mkdir(exist_ok=True)
    if options[0] == "ro":
        ok = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0 and \
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode == 0
    else:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                            capture_output=True).returncode == 0
    if not ok:
        subprocess.run(["umount", str(folder)], capture_output=True)
        pytest.skip("cannot mount here (not root, or in a container that forbids it)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


# ---------------------------------------------------------------- files lhrule did not make


def test_gen_refuses_a_folder_holding_a_real_dataset_and_leaves_every_file(data):
    before = snapshot(data)
    result = run("gen", "--out", str(data), "--shops", "2", "--days", "2")
    assert result.exit_code == 2
    assert f"{data} is not empty and is not a dataset lhrule gen made (it holds README.md" in said(result)
    assert snapshot(data) == before


def test_gen_refuses_a_table_changed_since_it_wrote_it_and_keeps_a_readme_beside(tmp_path):
    out = tmp_path / "synthetic"
    gen.generate(out, shops=3, days=2, seed=1)
    (out / "README.md").write_text("notes of mine", encoding="utf-8")
    gen.generate(out, shops=4, days=2, seed=2, fmt="csv")  # gen's own dataset: replaced whole, the README kept
    assert (out / "README.md").read_text(encoding="utf-8") == "notes of mine"
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.csv" for t in gen.TABLES] + ["README.md",
                                                                                                 gen.MARKER])
    real = "shop_id,name,main_category,platform\nreal1,a real shop,食品,tmall\n"
    (out / "shops.csv").write_text(real, encoding="utf-8")  # a table of the user's, over gen's
    (out / "refunds.parquet").write_bytes(b"PAR1")  # and another beside gen's refunds.csv
    before = snapshot(out)
    with pytest.raises(ValueError, match=r"holds tables lhrule gen did not write, or that changed since .*"
                                         r"shops\.csv, refunds\.parquet"):
        gen.generate(out, shops=2, days=2, seed=1)
    assert snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_example_dataset_can_be_made_again_where_it_is(tmp_path):
    # Its README says to regenerate it in place: gen knows it as its own (its marker), README kept.
    copy = tmp_path / "data"
    shutil.copytree(EXAMPLE, copy)
    before = snapshot(copy)
    gen.generate(copy, shops=130, days=61, seed=20240506, start=date(2024, 5, 1), fmt="parquet")
    assert snapshot(copy) == before


@pytest.mark.parametrize("name", ["consultations.parquet", "shops.parquet", "results.csv", "orders/part.parquet"])
def test_score_never_writes_into_the_dataset_it_reads(data, name):
    (data / "orders").mkdir(exist_ok=True) if "/" in name else None
    before = snapshot(data)
    fmt = "csv" if name.endswith(".csv") else "parquet"
    result = run(*SCORE, "--data", str(data), "--format", fmt, "--out", str(data / name), "--force")
    assert result.exit_code == 2
    assert f"--out {data / name} is in the dataset {data}, where it would be read as a table" in said(result)
    assert snapshot(data) == before


@pytest.mark.parametrize("fmt, kind", [("json", "score's JSON"), ("csv", "score's CSV"),
                                       ("parquet", "score's Parquet file")])
def test_score_replaces_its_own_output_but_not_a_file_it_did_not_write(tmp_path, fmt, kind):
    mine = tmp_path / f"mine.{fmt}"
    mine.write_bytes(b"a file of the user's\n")
    args = [*SCORE, "--data", str(EXAMPLE), "--format", fmt]
    result = run(*args, "--out", str(mine))
    assert result.exit_code == 2
    assert f"--out {mine} exists and is not a {kind} that lhrule wrote: it is left as it is; name a new file, " \
           f"or add --force to replace it" in said(result)
    assert mine.read_bytes() == b"a file of the user's\n"
    out = tmp_path / f"out.{fmt}"
    assert run(*args, "--out", str(out)).exit_code == 0
    first = out.read_bytes()
    assert run(*args, "--out", str(out)).exit_code == 0  # its own output, replaced
    assert out.read_bytes() == first
    other = "csv" if fmt != "csv" else "json"  # another kind of output is not this kind
    result = run(*SCORE, "--data", str(EXAMPLE), "--format", other, "--out", str(out))
    assert result.exit_code == 2 and out.read_bytes() == first
    assert run(*args, "--out", str(mine), "--force").exit_code == 0
    assert mine.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, out.name])


def test_diff_and_explain_pages_and_rows_are_refused_over_other_files(tmp_path):
    page, rows = tmp_path / "page.html", tmp_path / "rows.csv"
    page.write_text("<p>my page</p>", encoding="utf-8")
    rows.write_text("a,b\n1,2\n", encoding="utf-8")
    explain = ["explain", "s000003", "--rulebook", RULEBOOK, "--data", str(EXAMPLE), "--as-of", "2024-06-30",
               "--format", "json"]
    diff = ["diff", RULEBOOK, RULEBOOK, "--data", str(EXAMPLE), "--as-of", "2024-06-30"]
    for args in ([*explain, "--html", str(page)], [*diff, "--html", str(page)], [*diff, "--out", str(rows)]):
        result = run(*args)
        assert result.exit_code == 2 and "that lhrule wrote: it is left as it is" in said(result), args
    assert page.read_text(encoding="utf-8") == "<p>my page</p>" and rows.read_text(encoding="utf-8") == "a,b\n1,2\n"
    ok = tmp_path / "ok.html"
    assert run(*explain, "--html", str(ok)).exit_code == 0
    assert run(*explain, "--html", str(ok)).exit_code == 0  # an explain page over an explain page
    result = run(*diff, "--html", str(ok))  # a diff page is not an explain page
    assert result.exit_code == 2, result.output


# ---------------------------------------------------------------- full disks, read-only folders


def _enospc_after(n: int):
    """An `open` whose files take `n` bytes and then say the disk is full."""
    real = open

    def fake(path, mode="r", *args, **kwargs):
        f = real(path, mode, *args, **kwargs)
        if "w" not in mode:
            return f
        left = [n]
        write = f.write

        def limited(text):
            if len(text) > left[0]:
                write(text[:left[0]])
                f.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            left[0] -= len(text)
            return write(text)

        f.write = limited
        f.writelines = lambda pieces: [limited(p) for p in pieces]
        return f

    return fake


def test_a_full_disk_during_fmt_leaves_the_rulebook_whole_and_its_mode(tmp_path, monkeypatch):
    rule = tmp_path / "r.rule"
    text = (ROOT / "tests" / "golden" / "good" / "tour.rule").read_text(encoding="utf-8")
    messy = text.replace("\n\n", "\n\n\n")
    rule.write_text(messy, encoding="utf-8")
    rule.chmod(0o640)
    monkeypatch.setattr(safe_write, "open", _enospc_after(100), raising=False)
    result = run("fmt", str(rule))
    assert result.exit_code == 1
    assert f"cannot write {rule}: no space left on the device (the file in place is as it was); free some " \
           f"space, or write elsewhere" in said(result)
    assert rule.read_text(encoding="utf-8") == messy
    assert [p.name for p in tmp_path.iterdir()] == ["r.rule"]
    monkeypatch.undo()
    assert run("fmt", str(rule)).exit_code == 0
    assert rule.read_text(encoding="utf-8") == text and rule.stat().st_mode & 0o777 == 0o640


def test_a_full_disk_keeps_the_earlier_result_in_every_format(tmp_path):
    with mounted(tmp_path / "small", "size=64k") as small:
        for fmt in ("parquet", "csv", "json"):
            out = small / f"result.{fmt}"
            args = [RULEBOOK, "--data", str(EXAMPLE), "--format", fmt, "--out", str(out)]
            assert run("score", *args, "--as-of", "2024-06-30", "--shop", "s000001").exit_code == 0, fmt
            earlier = out.read_bytes()
            with (small / "filler").open("wb") as f:  # the rest of the disk but a few kB
                with contextlib.suppress(OSError):
                    f.write(b"x" * (60 * 1024 - len(earlier)))
            result = run("score", *args, "--from", "2024-06-01", "--to", "2024-06-30")  # 3,900 shop-days
            assert result.exit_code == 1, (fmt, result.output)
            assert f"cannot write {out}: no space left on the device (the file in place is as it was); free some " \
                   f"space, or write elsewhere" in said(result)
            assert out.read_bytes() == earlier, fmt
            assert sorted(p.name for p in small.iterdir()) == sorted(["filler", out.name])  # no part left
            (small / "filler").unlink()
            out.unlink()


def test_a_read_only_folder_is_a_message(tmp_path):
    with mounted(tmp_path / "ro", "ro") as folder:
        for args in ([*SCORE, "--data", str(EXAMPLE), "--format", "csv", "--out", str(folder / "r.csv")],
                     ["gen", "--out", str(folder / "synthetic"), "--shops", "2", "--days", "2"]):
            result = run(*args)
            assert result.exit_code in (1, 2), result.output
            assert "read-only file system" in said(result) or "permission denied" in said(result)


def test_a_read_only_file_system_met_while_writing_says_so(tmp_path, monkeypatch):
    # root passes os.access, so the folder is found read-only only when the file is made
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    out = tmp_path / "r.parquet"
    monkeypatch.setattr(pq, "write_table", refuse)
    result = run(*SCORE, "--data", str(EXAMPLE), "--format", "parquet", "--out", str(out))
    assert result.exit_code == 1
    assert said(result).strip().endswith(f"lhrule: cannot write {out}: {tmp_path} is on a read-only file system; "
                                         f"write elsewhere")
    assert list(tmp_path.iterdir()) == []


def test_gen_on_a_full_disk_leaves_the_dataset_it_made_before(tmp_path):
    with mounted(tmp_path / "small", "size=1m") as small:
        out = small / "synthetic"
        gen.generate(out, shops=2, days=2, seed=1)
        before = snapshot(out)
        result = run("gen", "--out", str(out), "--shops", "200", "--days", "30", "--format", "csv")
        assert result.exit_code == 1
        assert f"cannot write {out}: no space left on the device" in said(result)
        assert snapshot(out) == before
        assert [p.name for p in small.iterdir()] == ["synthetic"]


# ---------------------------------------------------------------- killed runs

CHILD = """
import os, signal, sys
from lhrule import safe_write

def slow(path, mode="r", *a, **k):
    f = open(path, mode, *a, **k)
    if "w" in mode:
        w = f.write
        def write(text):
            w(text[: len(text) // 2]); f.flush()
            os.kill(os.getpid(), signal.SIGTERM)  # a stop asked for half way through the write
            w(text[len(text) // 2:])
        f.write = write
        f.writelines = lambda pieces: [write(p) for p in pieces]
    return f

safe_write.open = slow
sys.argv = ["lhrule", *sys.argv[1:]]
from lhrule.cli.main import main
main()
"""


def test_a_run_stopped_while_writing_removes_its_part_and_keeps_the_earlier_file(tmp_path):
    out = tmp_path / "r.csv"
    args = [*SCORE, "--data", str(EXAMPLE), "--format", "csv", "--out", str(out)]
    assert run(*args).exit_code == 0
    earlier = out.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert out.read_bytes() == earlier
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_a_part_left_by_a_killed_run_is_removed_by_the_next_one(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".r.csv.{dead.stdout.strip()}.part"
    stale.write_text("half a result")
    alive = tmp_path / f".r.csv.{os.getppid()}.part"  # another run's, still running: left alone
    alive.write_text("another run's")
    result = run(*SCORE, "--data", str(EXAMPLE), "--format", "csv", "--out", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "r.csv"])


def _gen_cmd(out: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "lhrule", "gen", "--out", str(out), "--shops", "1500", "--days", "30",
            "--format", "csv", "--seed", str(seed)]


def test_a_killed_gen_leaves_the_old_dataset_whole_and_the_next_cleans_up(tmp_path):
    out = tmp_path / "synthetic"
    gen.generate(out, shops=3, days=2, seed=1, fmt="csv")
    before = snapshot(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for stage in (".parquet", ".csv"):  # killed while generating, then while converting to CSV
        child = subprocess.Popen(_gen_cmd(out, 2), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline and not any(
                f.name.endswith(stage) for d in tmp_path.iterdir() if d.name.endswith(".gen") for f in d.iterdir()):
            time.sleep(0.01)
        assert child.poll() is None, f"gen ended before it wrote a {stage} file: nothing was killed"
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert snapshot(out) == before  # the old dataset: no table of another seed, no part file
        assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != gen.MARKER]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".gen")]  # the killed runs' folders
    gen.generate(out, shops=3, days=2, seed=3, fmt="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]
    assert json.loads((out / gen.MARKER).read_text())["seed"] == 3


def test_a_gen_killed_between_its_two_renames_is_put_back(tmp_path):
    # where the system cannot swap two folders in one step, the old one is moved aside first
    out = tmp_path / "synthetic"
    gen.generate(out, shops=3, days=2, seed=1)
    before = snapshot(out)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    os.rename(out, tmp_path / f".synthetic.{dead.stdout.strip()}.old")
    gen.generate(out, shops=3, days=2, seed=1)
    assert snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ["synthetic"]


def test_gen_swaps_in_two_renames_where_it_cannot_in_one(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_write, "exchange", lambda a, b: False)
    out = tmp_path / "synthetic"
    gen.generate(out, shops=3, days=2, seed=1)
    gen.generate(out, shops=4, days=2, seed=2, fmt="jsonl")
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.jsonl" for t in gen.TABLES] + [gen.MARKER])
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic"]


# ---------------------------------------------------------------- empty results


@pytest.fixture
def headers_only(tmp_path) -> Path:
    """The example dataset's tables as CSV files of a header alone."""
    import pyarrow.csv as pcsv

    folder = tmp_path / "empty"
    folder.mkdir()
    for p in EXAMPLE.glob("*.parquet"):
        pcsv.write_csv(pq.read_table(p).slice(0, 0), folder / f"{p.stem}.csv")
    return folder


HEADER = ('"shop_id","as_of","category","score","grade","actions","response_3min.value","response_3min.numerator",'
          '"response_3min.denominator","response_3min.assessed","response_3min.band","response_3min.points"\n')


def test_an_empty_result_has_its_columns_and_a_warning(headers_only, tmp_path):
    args = [*SCORE, "--data", str(headers_only)]
    warning = f"lhrule: warning: no shops in {headers_only}: the results have no rows\n"
    printed = run(*args, "--format", "csv")
    assert printed.exit_code == 0 and printed.stdout == HEADER and printed.stderr == warning
    csv_out, parquet_out = tmp_path / "r.csv", tmp_path / "r.parquet"
    assert run(*args, "--format", "csv", "--out", str(csv_out)).exit_code == 0
    assert csv_out.read_text(encoding="utf-8") == HEADER
    result = run(*args, "--format", "parquet", "--out", str(parquet_out))
    assert result.exit_code == 0 and warning in result.stderr
    schema = pq.read_schema(parquet_out)
    assert schema.names == HEADER.strip().replace('"', "").split(",")
    assert [schema.field(n).type for n in ("as_of", "response_3min.denominator", "response_3min.assessed",
                                           "response_3min.value")] == [pa.date32(), pa.int64(), pa.bool_(), pa.string()]
    for fmt in ("table", "json"):
        assert warning in run(*args, "--format", fmt).stderr
    assert warning in run(*SCORE[:2], "--data", str(headers_only), "--from", "2024-06-01", "--to", "2024-06-03",
                          "--format", "json").stderr
    demo = run("demo", "--data", str(headers_only), "--rulebook", RULEBOOK)
    assert demo.exit_code == 1 and f"lhrule: no shops in {headers_only}: nothing to explain" in said(demo)


def test_a_diff_of_no_shops_writes_its_columns(headers_only, tmp_path):
    out = tmp_path / "rows.parquet"
    result = run("diff", RULEBOOK, RULEBOOK, "--data", str(headers_only), "--as-of", "2024-06-30", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"lhrule: warning: no shops in {headers_only}: nothing to compare" in result.stderr
    assert pq.read_schema(out).names[:5] == ["shop_id", "category", "old_score", "new_score", "delta"]


def test_csv_ends_with_its_last_row_and_no_blank_line(tmp_path):
    args = [*SCORE, "--data", str(EXAMPLE), "--format", "csv"]
    printed = run(*args).stdout
    assert printed.endswith("\n") and not printed.endswith("\n\n")
    assert len(printed.splitlines()) == 131 and printed.splitlines()[-1]
    assert run(*args, "--out", str(tmp_path / "r.csv")).exit_code == 0
    assert (tmp_path / "r.csv").read_text(encoding="utf-8") == printed


LATER = """
indicator human_replies "人工回复率" {
  effective 2024-06-30 ..
  over consultations
  window previous day on asked_at
  rate where first_reply_kind in {human}
  higher is better
}
"""


def test_columns_of_an_indicator_that_comes_into_force_within_a_range_are_kept(tmp_path):
    # the columns were those of the first row: an indicator in force from the range's second day was dropped
    shutil.copytree(ROOT / "rulebooks", tmp_path / "rulebooks")
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")  # the rulebook root
    rule = tmp_path / "rulebooks" / "tejia" / "response-3min.rule"
    rule.write_text(rule.read_text(encoding="utf-8") + LATER, encoding="utf-8")
    result = run("score", str(rule), "--data", str(EXAMPLE), "--from", "2024-06-29", "--to", "2024-06-30",
                 "--format", "csv")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.endswith('"human_replies.band","human_replies.points"') and len(rows) == 260
    late = header.split(",").index('"human_replies.denominator"')
    assert {r.split(",")[1] for r in rows if r.split(",")[late]} == {"2024-06-30"}


# ---------------------------------------------------------------- data shown, never acted on

HOSTILE = {  # shop id -> main category
    "[bold]s1": "食品[/]",
    "s1": "[link=https://evil.example]食品[/link]",
    "s2[/]": "a\x1b[2Jcleared",
    "s3\\": "\u202eright-to-left",
    ":red_heart:": "del\x7fc1\x9bbell\x07",
}
SHOWN = {  # what the terminal must show of each, with nothing hidden and no two alike
    "[bold]s1": "[bold]s1", "s1": "s1", "s2[/]": "s2[/]", "s3\\": "s3\\\\", ":red_heart:": ":red_heart:",
    "食品[/]": "食品[/]", "[link=https://evil.example]食品[/link]": "[link=https://evil.example]食品[/link]",
    "a\x1b[2Jcleared": "a\\x1b[2Jcleared", "\u202eright-to-left": "\\u202eright-to-left",
    "del\x7fc1\x9bbell\x07": "del\\x7fc1\\x9bbell\\x07",
}
RAW = ("\x1b", "\x7f", "\x9b", "\x07", "\u202e")


@pytest.fixture
def hostile(tmp_path) -> Path:
    import csv

    folder = tmp_path / "hostile"
    folder.mkdir()
    with (folder / "shops.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["shop_id", "name", "main_category", "platform"])
        for shop, category in HOSTILE.items():
            w.writerow([shop, "", category, "tejia"])
    with (folder / "consultations.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["consultation_id", "shop_id", "buyer_id", "sub_account", "asked_at", "first_reply_at",
                    "first_reply_kind", "first_human_reply_at", "blocked_before_reply"])
        for i, shop in enumerate(HOSTILE):
            for j in range(3):
                late = "2024-06-29 10:05:00" if j == i % 3 else "2024-06-29 10:01:00"
                w.writerow([f"c{i}-{j}", shop, f"b{j}", "A", "2024-06-29 10:00:00", late, "human", "", "false"])
    return folder


def _no_raw_controls(text: str) -> None:
    for c in RAW:
        assert c not in text, repr(c)


def test_markup_and_control_characters_in_data_are_shown_in_the_score_table(hostile):
    result = run(*SCORE, "--data", str(hostile))
    assert result.exit_code == 0, result.output
    out = said(result)
    _no_raw_controls(out)
    rows = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in r.strip("│").split("│")] for r in rows]
    shown = {c[0]: c[1] for c in cells}
    assert shown == {SHOWN[s]: SHOWN[c] for s, c in HOSTILE.items()}


def test_markup_and_control_characters_in_data_are_shown_by_explain(hostile):
    for shop, category in HOSTILE.items():
        result = run("explain", shop, "--rulebook", RULEBOOK, "--data", str(hostile), "--as-of", "2024-06-30")
        assert result.exit_code == 0, result.output
        out = said(result)
        _no_raw_controls(out)
        assert out.splitlines()[0] == f"shop {SHOWN[shop]} ({SHOWN[category]}) as of 2024-06-30"
        page = run("explain", shop, "--rulebook", RULEBOOK, "--data", str(hostile), "--as-of", "2024-06-30",
                   "--format", "json")
        assert json.loads(page.stdout)["name"] == shop  # the JSON holds the value as it is
        _no_raw_controls(page.stdout)
    missing = run("explain", "s9\x1b[2J", "--rulebook", RULEBOOK, "--data", str(hostile), "--as-of", "2024-06-30")
    assert missing.exit_code == 1
    _no_raw_controls(said(missing))
    assert "no shop 's9\\x1b[2J'" in missing.output


def test_markup_and_control_characters_in_data_stay_out_of_the_json_and_html(hostile, tmp_path):
    result = run(*SCORE, "--data", str(hostile), "--format", "json")
    assert result.exit_code == 0
    _no_raw_controls(result.stdout)
    shops = json.loads(result.stdout)["shops"]
    assert {s["shop_id"]: s["category"] for s in shops} == HOSTILE  # the same values, escaped in the JSON text
    page = tmp_path / "s.html"
    assert run("explain", "[bold]s1", "--rulebook", RULEBOOK, "--data", str(hostile), "--as-of", "2024-06-30",
               "--html", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert "<h1>shop [bold]s1 (食品[/]) as of 2024-06-30</h1>" in html
    page = tmp_path / "s2.html"
    assert run("explain", "s1", "--rulebook", RULEBOOK, "--data", str(hostile), "--as-of", "2024-06-30",
               "--html", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert "<h1>shop s1 ([link=https://evil.example]食品[/link]) as of 2024-06-30</h1>" in html and "<a " not in html


def test_markup_and_control_characters_in_a_rulebook_are_shown_by_diff_and_test(hostile, tmp_path):
    shutil.copytree(ROOT / "rulebooks", tmp_path / "rulebooks")
    (tmp_path / "lhrule.toml").write_text("", encoding="utf-8")
    rule = tmp_path / "rulebooks" / "tejia" / "response-3min.rule"
    text = rule.read_text(encoding="utf-8")
    new = tmp_path / "rulebooks" / "tejia" / "new.rule"
    new.write_text(text.replace('"达标"   >= pass_line', '"达标"   >= 60%')
                   .replace('"达标"', '"[red]达标\x1b[2J"')
                   .replace('test "', 'test "[bold]\u202e', 1), encoding="utf-8")
    result = run("diff", str(rule), str(new), "--data", str(hostile), "--as-of", "2024-06-30", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    out = said(result)
    _no_raw_controls(out)
    assert "[red]达标\\x1b[2J" in out
    tested = run("test", str(new))
    _no_raw_controls(said(tested))
    assert "[bold]\\u202e" in tested.output
