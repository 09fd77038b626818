"""Reading the whole runs table: ``sheetlog.load`` vs ``read_excel`` vs ``mlflow.search_runs``.

For each size N (default 1,000 and 10,000 runs), in one process:

* ``sheetlog``: ``sheetlog.load(path)`` of a workbook that sheetlog wrote (N runs committed to a
  journal and delivered by one ``sheetlog.flush``; each run has 20 params, 10 metrics, 3 tags and
  the context columns of a real ``log_run``);
* ``read_excel``: ``pandas.read_excel(path, engine="openpyxl")`` of the same file;
* ``mlflow``: ``mlflow.search_runs(experiment_ids=[...])`` (a DataFrame of all runs) over a sqlite
  store holding the same N runs (200 logged through the API, the rest cloned in SQL).

Reads are interleaved round-robin (first contender rotating), ``gc.collect()`` before each, and
every read must return N rows. Also timed: ``python -m sheetlog ls FILE`` as a subprocess (what a
user waits for at the shell), on a pseudo-terminal of 50 lines by 120 columns (ls prints a
screenful: the target is that first screen in under a second) and piped (every row), to the first
line on stdout and to the end.

Results go to ``benchmarks/results/reads.json`` (git-ignored). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    fill_mlflow,
    machine,
    make_git_project,
    p90,
    parse_sizes,
    prefill_records,
    prefill_sheetlog,
    quiet_mlflow,
    template_row,
    working_directory,
)

import sheetlog

TARGET_OVER_READ_EXCEL = 8.0
TARGET_OVER_MLFLOW = 10.0
TARGET_LS_S = 1.0  # first screen of `sheetlog ls` on a terminal


def readers(path: Path, experiment_id: str | None) -> dict[str, Callable[[], Any]]:
    import pandas as pd

    found: dict[str, Callable[[], Any]] = {
        "sheetlog": lambda: sheetlog.load(str(path)),
        "read_excel": lambda: pd.read_excel(path, engine="openpyxl"),
    }
    if experiment_id is not None:
        import mlflow

        found["mlflow"] = lambda: mlflow.search_runs(experiment_ids=[experiment_id])
    return found


def reads_per_contender(n: int, quick: bool) -> dict[str, int]:
    if quick:
        return {"sheetlog": 5, "read_excel": 2, "mlflow": 3}
    if n <= 1_000:
        return {"sheetlog": 20, "read_excel": 10, "mlflow": 10}
    return {"sheetlog": 10, "read_excel": 3, "mlflow": 5}


def time_ls(path: Path, times: int) -> dict[str, Any] | None:
    """``python -m sheetlog ls FILE``, ``times`` runs each way: on a terminal (a pseudo-terminal
    50 lines by 120 columns: ls prints a screenful) and piped (every row); seconds to the first
    line on stdout and to the exit."""
    probe = subprocess.run(
        [sys.executable, "-m", "sheetlog", "ls", "--help"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        print("   `sheetlog ls` is not available: skipped")
        return None
    found: dict[str, Any] = {}
    for way in ("terminal", "piped"):
        first, total, lines = [], [], 0
        for _ in range(times):
            first_s, total_s, lines = _ls_once(path, on_terminal=way == "terminal")
            first.append(first_s)
            total.append(total_s)
        found[way] = {
            "first_line_s": round(statistics.median(first), 3),
            "total_s": round(statistics.median(total), 3),
            "first_line_samples_s": [round(x, 3) for x in first],
            "total_samples_s": [round(x, 3) for x in total],
            "stdout_lines": lines,
        }
    return found


def _ls_once(path: Path, on_terminal: bool) -> tuple[float, float, int]:
    env = {**os.environ, "COLUMNS": "120", "LINES": "50"}
    if on_terminal:
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
    else:
        leader, follower = os.pipe()
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "sheetlog", "ls", str(path)],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    output, first = b"", None
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if first is None and b"\n" in output:
            first = time.perf_counter() - started
    child.wait()
    total = time.perf_counter() - started
    os.close(leader)
    if child.returncode != 0 or first is None:
        raise RuntimeError(f"sheetlog ls exited {child.returncode}")
    return first, total, output.count(b"\n")


def python_startup_s(times: int = 5) -> float:
    """``python -c "import sheetlog"``: the floor under any ``sheetlog`` command."""
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sheetlog"], check=True)
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples), 3)


def measure_size(n: int, work: Path, template: dict[str, Any], quick: bool, skip: set[str]):
    folder = work / f"n{n}"
    folder.mkdir()
    print(f"\n== {n:,} runs: setting up", flush=True)
    path = folder / "runs.xlsx"
    started = time.perf_counter()
    prefill_sheetlog(path, prefill_records(n, template), folder / "journal")
    print(f"   sheetlog fill: {time.perf_counter() - started:.1f} s", flush=True)
    experiment_id = None
    if "mlflow" not in skip:
        started = time.perf_counter()
        _, experiment_id = fill_mlflow(folder / "mlflow", n)
        print(f"   mlflow fill: {time.perf_counter() - started:.1f} s", flush=True)
    found = readers(path, experiment_id)
    for read in found.values():  # warm-up: imports, MLflow's engine
        read()
    wanted = reads_per_contender(n, quick)
    samples: dict[str, list[float]] = {label: [] for label in found}
    labels = list(found)
    print(f"   timing: { {k: wanted[k] for k in labels} }", flush=True)
    for round_number in range(max(wanted[k] for k in labels)):
        shift = round_number % len(labels)
        for label in labels[shift:] + labels[:shift]:
            if round_number >= wanted[label]:
                continue
            gc.collect()
            started = time.perf_counter()
            frame = found[label]()
            samples[label].append((time.perf_counter() - started) * 1000)
            if len(frame) != n:
                raise RuntimeError(f"{label} read {len(frame)} rows, not {n}")
    row: dict[str, Any] = {
        label: {
            "median_ms": round(statistics.median(s), 1),
            "p90_ms": round(p90(s), 1),
            "k": len(s),
            "samples_ms": [round(x, 1) for x in s],
        }
        for label, s in samples.items()
    }
    row["columns"] = len(sheetlog.load(str(path)).columns)
    row["workbook_bytes"] = path.stat().st_size
    for label in labels:
        entry = row[label]
        print(f"   {label:<11} median {entry['median_ms']:9.1f} ms  p90 {entry['p90_ms']:9.1f}")
    if "ls" not in skip:
        row["sheetlog_ls"] = time_ls(path, 3 if quick else 5)
        if row["sheetlog_ls"]:
            for way, ls in row["sheetlog_ls"].items():
                print(
                    f"   sheetlog ls ({way}, {ls['stdout_lines']} lines): first line"
                    f" {ls['first_line_s']} s, total {ls['total_s']} s"
                )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[1_000, 10_000])
    parser.add_argument("--quick", action="store_true", help="few reads per contender")
    parser.add_argument("--skip", default="", help="left out, comma-separated: mlflow, ls")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    RESULTS.mkdir(exist_ok=True)
    if "mlflow" not in skip:
        import mlflow  # noqa: F401  (imported first: same sys.* columns, quiet logs)
    quiet_mlflow()
    info = machine()
    print("machine:", json.dumps(info))
    with tempfile.TemporaryDirectory(prefix="sheetlog-reads-", dir=args.tmpdir) as name:
        work = Path(name)
        project = make_git_project(work / "project")
        with working_directory(project):
            template = template_row(work)
            results = {n: measure_size(n, work, template, args.quick, skip) for n in args.sizes}
        startup = python_startup_s()
    print(f"\nms per full read, median (p90); `python -c 'import sheetlog'`: {startup} s")
    print(
        f"{'runs':>7} | {'sheetlog.load':>15} | {'read_excel':>17} | {'search_runs':>17}"
        f" | {'read_excel/load':>15} | {'search_runs/load':>16} | {'ls on a terminal / piped':>24}"
    )
    verdict: dict[str, Any] = {}
    for n, row in results.items():

        def cell(label: str, row: dict[str, Any] = row) -> str:
            return (
                f"{row[label]['median_ms']:.0f} ({row[label]['p90_ms']:.0f})"
                if label in row
                else "-"
            )

        def ratio(label: str, row: dict[str, Any] = row) -> float | None:
            if label not in row:
                return None
            return row[label]["median_ms"] / row["sheetlog"]["median_ms"]

        excel, search = ratio("read_excel"), ratio("mlflow")
        ls = row.get("sheetlog_ls")
        ls_text = (
            f"{ls['terminal']['first_line_s']:.2f} / {ls['piped']['total_s']:.2f} s" if ls else "-"
        )
        print(
            f"{n:>7,} | {cell('sheetlog'):>15} | {cell('read_excel'):>17} | {cell('mlflow'):>17}"
            f" | {excel or 0:>14.1f}x | {search or 0:>15.1f}x | {ls_text:>24}"
        )
        verdict[str(n)] = {
            "read_excel_over_load": round(excel, 2) if excel else None,
            "at_least_8x_read_excel": excel is not None and excel >= TARGET_OVER_READ_EXCEL,
            "search_runs_over_load": round(search, 2) if search else None,
            "at_least_10x_search_runs": search is not None and search >= TARGET_OVER_MLFLOW,
            "ls_first_screen_s": ls["terminal"]["first_line_s"] if ls else None,
            "ls_first_screen_under_1s": bool(ls and ls["terminal"]["first_line_s"] < TARGET_LS_S),
        }
    print("targets:", json.dumps(verdict))
    output = {
        "machine": info,
        "settings": {"sizes": args.sizes, "quick": args.quick, "skipped": sorted(skip)},
        "python_import_sheetlog_s": startup,
        "results": {str(n): row for n, row in results.items()},
        "targets": verdict,
    }
    destination = args.output or RESULTS / "reads.json"
    destination.write_text(json.dumps(output, indent=2) + "\n")
    print(f"written: {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
