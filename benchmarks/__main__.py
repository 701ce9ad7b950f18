"""The benchmark suite: lhrule against hand-written SQL and a per-event Python engine, and the
speed of explain, diff, check and the CLI's start.

    python -m benchmarks                                   # 1M and 10M events, 3 runs each
    python -m benchmarks --sizes 1000000,10000000,100000000 --runs 3 --write

Every contender runs as its own process, as a user would run it, and the contenders take
turns within each round, so a slow moment of this shared machine falls on all of them.
Figures are medians with min–max. `--write` saves benchmarks/RESULTS.md and results.json.
The rulebook is the Tmall basic-service assessment (nine indicators ranked within main
category, a weighted score); the datasets come from `lhrule gen` (deterministic, seed 1).
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULEBOOK = "rulebooks/tmall/basic-service.rule"
AS_OF = "2024-06-30"
RANGE = ("2024-06-01", "2024-06-30")
PYTHON_MAX_EVENTS = 2_000_000  # the per-event engine runs on the 1M dataset only
# Spark runs up to 10M events: on this one machine it takes 12 to 28 times DuckDB's time (its
# place is a cluster), and each size runs it four times (three rounds and the equality check).
SPARK_MAX_EVENTS = 20_000_000
SPARK_MASTER = "local[*]"  # Spark on this machine's cores, as DuckDB


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of one process."""
    # The peak is read by /usr/bin/time: a child forked from this process would count this
    # process's own memory (copied at the fork) in its peak.
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd] if Path("/usr/bin/time").exists() else cmd
        start = time.perf_counter()
        done = subprocess.run(wrapped, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, **(env or {})})
        seconds = time.perf_counter() - start
        if done.returncode not in (0, 1):  # diff exits 1 when shops moved
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr.decode()}")
        text = rss.read().strip().splitlines()
    return seconds, (int(text[-1]) / 1024 if text and text[-1].isdigit() else float("nan"))


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def show(name: str, s: dict, unit: str = "s") -> str:
    return f"{name}: median {s['median']:.3f} {unit} (min {s['min']:.3f}, max {s['max']:.3f}, {s['runs']} runs)"


def lhrule_cmd(*args: str) -> list[str]:
    """The installed `lhrule` command, beside this Python."""
    return [str(Path(sys.executable).parent / "lhrule"), *args]


def python_cmd(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def changed_rulebook(folder: Path) -> tuple[Path, Path]:
    """basic-service as it is, and with its top rank band widened from 20% to 25%."""
    shutil.copytree(ROOT / "rulebooks" / "common", folder / "common")
    (folder / "tmall").mkdir()
    (folder / "lhrule.toml").write_text("", encoding="utf-8")
    text = (ROOT / RULEBOOK).read_text(encoding="utf-8")
    old, new = folder / "tmall" / "old.rule", folder / "tmall" / "new.rule"
    old.write_text(text, encoding="utf-8")
    new.write_text(text.replace("param rank_excellent = 20%", "param rank_excellent = 25%"), encoding="utf-8")
    return old, new


def bench_size(events: int, runs: int, cache: Path, tmp: Path, only: set[str] | None = None) -> dict:
    from benchmarks.datasets import dataset

    data, shops = dataset(events, cache)
    print(f"\n== {events:,} events: {data} ({shops} shops)", flush=True)
    old, new = changed_rulebook(tmp / f"rules-{events}")
    contenders = {
        "score": lhrule_cmd("score", RULEBOOK, "--data", str(data), "--as-of", AS_OF, "--format", "json",
                            "--out", os.devnull),
        "sql": python_cmd(f"import datetime as d, pathlib as p; from benchmarks.handwritten import score_sql; "
                          f"score_sql(p.Path({str(data)!r}), d.date.fromisoformat({AS_OF!r}))"),
        "score_range": lhrule_cmd("score", RULEBOOK, "--data", str(data), "--from", RANGE[0], "--to", RANGE[1],
                                  "--format", "json", "--out", os.devnull),
        "diff": lhrule_cmd("diff", str(old), str(new), "--data", str(data), "--as-of", AS_OF, "--format", "json",
                           "--fail-on", "none"),
        "diff_no_attribution": lhrule_cmd("diff", str(old), str(new), "--data", str(data), "--as-of", AS_OF,
                                          "--format", "json", "--fail-on", "none", "--no-attribution"),
    }
    contenders["score_cold"] = contenders["score"]  # run with LHRULE_CACHE=off: compiled and validated afresh
    if importlib.util.find_spec("pyspark") is not None and events <= SPARK_MAX_EVENTS:  # the same queries, in a JVM
        contenders["spark"] = [*contenders["score"], "--engine", "spark", "--spark-master", SPARK_MASTER]
    if events <= PYTHON_MAX_EVENTS:
        contenders["python"] = python_cmd(
            f"import datetime as d, pathlib as p; from benchmarks.per_event import score_python; "
            f"score_python(p.Path({str(data)!r}), d.date.fromisoformat({AS_OF!r}))")
    if only:
        contenders = {k: v for k, v in contenders.items() if k in only}
    times: dict[str, list[float]] = {k: [] for k in contenders}
    rss: dict[str, float] = {}
    measure(contenders["score"])  # warm the file cache and the compile cache once, unmeasured
    for round_ in range(runs):
        for name, cmd in contenders.items():
            if name == "score_range" and round_ and events > PYTHON_MAX_EVENTS:
                continue  # 30 days of a large dataset: measured once
            seconds, mb = measure(cmd, {"LHRULE_CACHE": "off"} if name == "score_cold" else None)
            times[name].append(seconds)
            rss[name] = max(rss.get(name, 0), mb)
            print(f"  round {round_ + 1} {name}: {seconds:.2f} s, {mb:.0f} MB", flush=True)
    out = {"events": events, "shops": shops, "data": str(data),
           **{f"{k}_s": stats(v) for k, v in times.items()}, "peak_rss_mb": rss}
    if "sql_s" in out:
        out["score_vs_sql"] = out["score_s"]["median"] / out["sql_s"]["median"]
    if "diff_s" in out:
        out["diff_vs_score"] = out["diff_s"]["median"] / out["score_s"]["median"]
    if "python_s" in out:
        out["score_vs_python"] = out["score_s"]["median"] / out["python_s"]["median"]
    if "spark_s" in out:
        out["spark_vs_score"] = out["spark_s"]["median"] / out["score_s"]["median"]
        out["spark_equal"] = spark_equality(data, tmp)
    out["equal"] = equality(data) if "sql" in contenders else "not run"
    for k, v in times.items():
        print("  " + show(k, out[f"{k}_s"]))
    print("  " + ", ".join(f"{k} {out[k]:.3f}" for k in ("score_vs_sql", "diff_vs_score", "score_vs_python",
                                                        "spark_vs_score") if k in out)
          + f"; SQL equals lhrule: {out['equal']}" + (f"; Spark's JSON equals DuckDB's: {out['spark_equal']}"
                                                       if "spark_equal" in out else ""))
    return out


def spark_equality(data: Path, tmp: Path) -> bool:
    """Whether `score --engine spark` writes byte for byte the JSON DuckDB writes."""
    outs = []
    for engine in ("duckdb", "spark"):
        out = tmp / f"{engine}.json"
        extra = ["--spark-master", SPARK_MASTER] if engine == "spark" else []
        subprocess.run(lhrule_cmd("score", RULEBOOK, "--data", str(data), "--as-of", AS_OF, "--format", "json",
                                  "--out", str(out), "--engine", engine, *extra), cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        outs.append(out.read_bytes())
    return outs[0] == outs[1]


def equality(data: Path) -> bool | str:
    """Whether the hand-written SQL gives lhrule's results, shop by shop, exactly."""
    from benchmarks.handwritten import compare, lhrule_results, score_sql

    day = dt.date.fromisoformat(AS_OF)
    differences = compare(score_sql(data, day), lhrule_results(data, day))
    return True if not differences else f"{len(differences)} differences, first: {differences[0]}"


def bench_explain(events: int, runs: int, cache: Path) -> dict:
    """The engine's part of explain (the dataset opened, the rulebook compiled) for a small,
    a median and the largest shop, on the response-time rulebook (System D, the demo's)."""
    from benchmarks.datasets import dataset

    data, _ = dataset(events, cache)
    rulebook = "rulebooks/tejia/response-3min.rule"
    code = f"""
import datetime as d, json, statistics, time, duckdb, lhrule
from pathlib import Path
from lhrule.engine.data.dataset import connect, open_dataset
from lhrule.trace.explain import Explainer
rb = lhrule.load({rulebook!r}); data = Path({str(data)!r})
con = connect(rb.ir); open_dataset(con, data, rb.ir)
sizes = con.execute("SELECT shop_id, COUNT(*) n FROM t_consultations GROUP BY 1 ORDER BY n").fetchall()
picks = {{"small": sizes[len(sizes) // 20], "median": sizes[len(sizes) // 2], "largest": sizes[-1]}}
out = {{}}
for label, (shop, n) in picks.items():
    ts = []
    for _ in range({runs}):
        t = time.perf_counter(); Explainer(con, rb.ir, rb.sources, 5).explain(shop, d.date.fromisoformat({AS_OF!r}))
        ts.append(time.perf_counter() - t)
    out[label] = {{"shop": shop, "consultations": n, "median": statistics.median(ts), "min": min(ts), "max": max(ts)}}
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    engine = json.loads(done.stdout)
    shop = engine["largest"]["shop"]
    command = lhrule_cmd("explain", shop, "--rulebook", rulebook, "--data", str(data), "--as-of", AS_OF,
                         "--format", "json")
    measure(command)  # unmeasured: the first command on a dataset validates it, as a score does (then remembered)
    whole = [measure(command)[0] for _ in range(runs)]
    print(f"\n== explain on {events:,} events (System D): " + "; ".join(
        f"{k} shop ({v['consultations']} consultations) engine median {v['median']:.3f} s" for k, v in engine.items())
        + f"; whole command, largest shop: median {statistics.median(whole):.2f} s")
    return {"events": events, "engine": engine, "command_s": stats(whole)}


def bench_cli(runs: int) -> dict:
    help_ = [measure(lhrule_cmd("--help"))[0] for _ in range(runs)]
    warm = [measure(lhrule_cmd("check", "rulebooks/"))[0] for _ in range(runs)]
    cold = [measure(lhrule_cmd("check", "rulebooks/"), {"LHRULE_CACHE": "off"})[0] for _ in range(runs)]
    out = {"help_s": stats(help_), "check_all_s": stats(warm), "check_all_cold_s": stats(cold)}
    print("\n== CLI\n  " + "\n  ".join(show(k, v) for k, v in out.items()))
    return out


def versions() -> dict:
    import duckdb
    import lark
    import pyarrow
    import pydantic

    import lhrule

    return {"cores": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pyarrow": pyarrow.__version__, "pydantic": pydantic.VERSION,
            "lark": lark.__version__, "lhrule": lhrule.__version__}


CONTENDERS = ("score", "score_cold", "sql", "score_range", "diff", "diff_no_attribution", "python", "spark")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give event counts such as 1000000,10000000") from None
    if any(n < 1000 for n in sizes):
        raise argparse.ArgumentTypeError("event counts start at 1000")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=[1_000_000, 10_000_000], help="event counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--explain-events", type=int, default=None,
                        help="the dataset size for explain (default: the largest of --sizes)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "lhrule-bench")
    parser.add_argument("--only", default=None, help="contenders to run, comma-separated (score, score_cold, sql, "
                        "score_range, diff, diff_no_attribution, python, spark); default all")
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--write", action="store_true", help="save benchmarks/RESULTS.md and results.json")
    args = parser.parse_args()
    sizes = args.sizes
    unknown = set(args.only.split(",")) - set(CONTENDERS) if args.only else set()
    if unknown:
        parser.error(f"--only: no contender {', '.join(sorted(unknown))}; choose among {', '.join(CONTENDERS)}")
    info = versions()
    print(" ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    compiled()
    with tempfile.TemporaryDirectory() as tmp:
        only = set(args.only.split(",")) | {"score"} if args.only else None
        by_size = [bench_size(n, args.runs, args.cache, Path(tmp), only) for n in sizes]
    if args.no_explain:
        print(json.dumps(by_size, indent=1, default=str))
        return
    explain = bench_explain(args.explain_events or max(sizes), args.runs, args.cache)
    cli = bench_cli(max(args.runs, 5))
    results = summary(by_size, explain, cli, info, " ".join(["python -m benchmarks", *sys.argv[1:]]))
    print("\n" + json.dumps(results, indent=1))
    if args.write:
        from benchmarks.report import write

        write(results, by_size, explain, cli, ROOT / "benchmarks")
        print("\nwrote benchmarks/RESULTS.md and benchmarks/results.json")


def compiled() -> None:
    """Byte-compile lhrule and these benchmarks, as `pip install` does for an installed package.
    From a source checkout with PYTHONDONTWRITEBYTECODE set (as on this machine), every process
    would otherwise compile its modules from source: 0.1–0.2 s of each `lhrule` run, which a
    user's installed lhrule does not spend."""
    for package in (ROOT / "lhrule", ROOT / "benchmarks"):
        compileall.compile_dir(package, quiet=1)


def summary(by_size: list[dict], explain: dict, cli: dict, info: dict, command: str) -> dict:
    """The figures of results.json: scoring at the largest size; per-event Python at the size it ran."""
    top = max(by_size, key=lambda r: r["events"])
    small = next((r for r in by_size if "python_s" in r), None)
    return {
        "events": top["events"],
        "score_s": top["score_s"]["median"],
        "score_cold_s": top["score_cold_s"]["median"] if "score_cold_s" in top else None,
        "sql_s": top["sql_s"]["median"] if "sql_s" in top else None,
        "python_s": small["python_s"]["median"] if small else None,
        "score_vs_sql": top.get("score_vs_sql"),
        "score_cold_vs_sql": top["score_cold_s"]["median"] / top["sql_s"]["median"]
        if "score_cold_s" in top and "sql_s" in top else None,
        "score_vs_python": small["score_vs_python"] if small else None,
        "python_events": small["events"] if small else None,
        "explain_engine_s": explain["engine"]["largest"]["median"],
        "explain_events": explain["events"],
        "diff_vs_score": top.get("diff_vs_score"),
        "help_s": cli["help_s"]["median"],
        "check_all_s": cli["check_all_s"]["median"],
        "check_all_cold_s": cli["check_all_cold_s"]["median"],
        "peak_rss_mb": top["peak_rss_mb"]["score"],
        "sql_equals_lhrule": all(r["equal"] is True for r in by_size if r["equal"] != "not run"),
        "by_size": [by_size_figures(r) for r in by_size],
        "command": command,
        "date": dt.date.today().isoformat(),
        **info,
    }


def by_size_figures(r: dict) -> dict:
    """One size's medians and ratios (the figures above are the largest size's)."""
    out = {"events": r["events"], "shops": r["shops"]}
    out.update({k: r[k]["median"] for k in r if k.endswith("_s")})
    out.update({k: r[k] for k in ("score_vs_sql", "diff_vs_score", "score_vs_python", "spark_vs_score", "spark_equal",
                                  "equal") if k in r})
    out["peak_rss_mb"] = r["peak_rss_mb"]
    return out


if __name__ == "__main__":
    main()
