"""Many processes logging into one workbook at once: group commit vs one write per run.

A workbook already holds 10,000 runs (written by sheetlog). 8 processes start together (each waits
for a start signal after its imports) and each logs runs as fast as it can; throughput is all
runs logged divided by the time from the start signal to the last process's last run. Contenders:

* ``group``: ``sheetlog.log_run(...)`` as shipped. Each run's delivery takes every run pending in
  its journal and writes them in one workbook rewrite (group commit).
* ``one_per_write``: the same with ``sheetlog.delivery.BATCH_SIZE = 1`` in the children: a
  delivery still takes every pending run, but writes them one workbook rewrite per run.
* ``openpyxl``: the hand-written logger: under a ``filelock``, ``load_workbook`` + ``append`` +
  ``save`` per run (about 25 s a run at 10,000 rows, so only a few runs per process).

The sheetlog contenders run with all processes sharing one journal directory (``shared``) and
with one journal per process (``own``). ``capture=False``: context capture (git, versions) costs
the same in every contender and is measured by ``append_per_run.py``. Afterwards every run must
be in the workbook exactly once, and no sheetlog warning may have been raised.

Results go to ``benchmarks/results/group_commit.json`` (git-ignored). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    as_record,
    machine,
    make_git_project,
    prefill_openpyxl,
    prefill_records,
    prefill_sheetlog,
    run_data,
    template_row,
    working_directory,
)

import sheetlog

PROCESSES = 8
TARGET_OVER_ONE_PER_WRITE = 5.0
TARGET_OVER_OPENPYXL = 200.0


# -- the children ------------------------------------------------------------------------------


def wait_for(signal: Path) -> float:
    while not signal.exists():
        time.sleep(0.001)
    return time.time()


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One logging process; prints what it did as JSON."""
    signal, target = Path(args.signal), Path(args.target)
    base = 1_000_000 * (args.index + 1)
    ids: list[str] = []
    batches: list[int] = []
    if args.mode == "openpyxl":
        import openpyxl
        from filelock import FileLock

        lock = FileLock(str(target.with_name(target.name + ".lock")))
        context = json.loads(Path(args.context).read_text())
        wait_for(signal)
        for i in range(args.runs):
            record = as_record(run_data(base + i), context, _now())
            with lock:
                book = openpyxl.load_workbook(target)
                sheet = book.active
                header = [cell.value for cell in sheet[1]]
                sheet.append([record.get(name) for name in header])
                book.save(target)
            ids.append(record["run_id"])
        return {"run_ids": ids, "end": time.time(), "warnings": [], "batches": []}
    from sheetlog import delivery

    if args.mode == "one_per_write":
        delivery.BATCH_SIZE = 1
    deliver_batch = delivery._deliver_batch

    def counted(journal, key, backend, runs, report):  # type: ignore[no-untyped-def]
        batches.append(len(runs))
        return deliver_batch(journal, key, backend, runs, report)

    delivery._deliver_batch = counted
    wait_for(signal)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(args.runs):
            data = run_data(base + i)
            row = sheetlog.log_run(
                data.params,
                data.metrics,
                name=data.name,
                tags=data.tags,
                target=str(target),
                capture=False,
                journal_dir=args.journal,
            )
            ids.append(row["run_id"])
    return {
        "run_ids": ids,
        "end": time.time(),
        "warnings": [str(w.message) for w in caught if issubclass(w.category, UserWarning)],
        "batches": batches,
    }


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def stored_run_ids(mode: str, target: Path) -> list[str]:
    if mode != "openpyxl":
        return list(sheetlog.load(str(target))["run_id"])
    import openpyxl

    book = openpyxl.load_workbook(target, read_only=True)
    try:
        rows = book.active.iter_rows(values_only=True)
        column = next(rows).index("run_id")
        return [row[column] for row in rows]
    finally:
        book.close()


# -- the parent --------------------------------------------------------------------------------


def run_contender(
    mode: str, layout: str, runs: int, folder: Path, workbook: Path, context: Path
) -> dict[str, Any]:
    """``PROCESSES`` children logging ``runs`` runs each into a copy of ``workbook``."""
    label = mode if mode == "openpyxl" else f"{mode}/{layout}"
    work = folder / label.replace("/", "-")
    work.mkdir()
    target = work / "runs.xlsx"
    shutil.copyfile(workbook, target)
    signal = work / "go"
    children = []
    for index in range(PROCESSES):
        journal = work / ("journal" if layout == "shared" else f"journal-{index}")
        command = [sys.executable, __file__, "--child", mode, "--target", str(target)]
        command += ["--journal", str(journal), "--runs", str(runs), "--index", str(index)]
        command += ["--signal", str(signal), "--context", str(context)]
        children.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    time.sleep(3 + PROCESSES * 0.5)  # let every child finish its imports
    print(f"   {label}: {PROCESSES} x {runs} runs ...", flush=True)
    start = time.time()
    signal.touch()
    reports = []
    for process in children:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{label}: a child exited {process.returncode}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    seconds = max(r["end"] for r in reports) - start
    logged = [run_id for r in reports for run_id in r["run_ids"]]
    counts = collections.Counter(stored_run_ids(mode, target))
    missing = [run_id for run_id in logged if counts[run_id] == 0]
    doubled = [run_id for run_id, count in counts.items() if count > 1]
    batches = [size for r in reports for size in r["batches"]]
    result = {
        "processes": PROCESSES,
        "runs_per_process": runs,
        "runs": len(logged),
        "seconds": round(seconds, 2),
        "runs_per_s": round(len(logged) / seconds, 2),
        "rows_after": sum(counts.values()),
        "missing": len(missing),
        "duplicated": len(doubled),
        "warnings": sum(len(r["warnings"]) for r in reports),
        "first_warning": next((w for r in reports for w in r["warnings"]), None),
    }
    if batches:
        result.update(writes=len(batches), runs_per_write=round(sum(batches) / len(batches), 2))
        result["largest_write"] = max(batches)
    print(
        f"   {label:<22} {result['runs_per_s']:8.2f} runs/s  ({len(logged)} runs in"
        f" {seconds:.1f} s; writes {result.get('writes', '-')}, rows {result['rows_after']},"
        f" missing {len(missing)}, duplicated {len(doubled)}, warnings {result['warnings']})",
        flush=True,
    )
    if missing or doubled or result["warnings"]:
        raise RuntimeError(f"{label}: rows missing or duplicated, or warnings: {result}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="runs already in the workbook")
    parser.add_argument("--runs", type=int, default=100, help="runs per process (sheetlog)")
    parser.add_argument("--openpyxl-runs", type=int, default=1, help="runs per process (openpyxl)")
    parser.add_argument("--quick", action="store_true", help="20 runs per process, no openpyxl")
    parser.add_argument("--skip", default="", help="left out: one_per_write, openpyxl, own")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--tmpdir", default=None)
    for name in ("child", "target", "journal", "signal", "context"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.mode = args.child
        print(json.dumps(child(args)))
        return 0
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    if args.quick:
        args.runs = 20
        skip.add("openpyxl")
    RESULTS.mkdir(exist_ok=True)
    info = machine()
    print("machine:", json.dumps(info))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sheetlog-group-", dir=args.tmpdir) as name:
        work = Path(name)
        with working_directory(make_git_project(work / "project")):
            template = template_row(work)
        workbook = work / "filled.xlsx"
        started = time.perf_counter()
        records = prefill_records(args.rows, template)
        prefill_sheetlog(workbook, records, work / "fill-journal")
        print(f"workbook with {args.rows:,} runs: {time.perf_counter() - started:.1f} s")
        context = work / "context.json"
        logged = ("params.", "metrics.", "tags.", "run_id")
        context.write_text(
            json.dumps({k: v for k, v in template.items() if not k.startswith(logged)}, default=str)
        )
        plan = [("group", "shared"), ("group", "own")]
        plan += [("one_per_write", "shared"), ("one_per_write", "own")]
        plan = [(m, lay) for m, lay in plan if m not in skip and lay not in skip]
        for mode, layout in plan:
            results[f"{mode}/{layout}"] = run_contender(
                mode, layout, args.runs, work, workbook, context
            )
        if "openpyxl" not in skip:
            openpyxl_book = work / "openpyxl.xlsx"
            prefill_openpyxl(openpyxl_book, records)
            results["openpyxl"] = run_contender(
                "openpyxl", "", args.openpyxl_runs, work, openpyxl_book, context
            )
    verdict: dict[str, Any] = {}
    for layout in ("shared", "own"):
        group = results.get(f"group/{layout}")
        if not group:
            continue
        single = results.get(f"one_per_write/{layout}")
        if single:
            ratio = group["runs_per_s"] / single["runs_per_s"]
            verdict[f"{layout}: group_over_one_per_write"] = round(ratio, 2)
            verdict[f"{layout}: at_least_5x"] = ratio >= TARGET_OVER_ONE_PER_WRITE
        if "openpyxl" in results:
            ratio = group["runs_per_s"] / results["openpyxl"]["runs_per_s"]
            verdict[f"{layout}: group_over_openpyxl"] = round(ratio, 1)
            verdict[f"{layout}: at_least_200x"] = ratio >= TARGET_OVER_OPENPYXL
    print("targets:", json.dumps(verdict))
    output = {
        "machine": info,
        "settings": {
            "rows_before": args.rows,
            "processes": PROCESSES,
            "runs_per_process": args.runs,
            "openpyxl_runs_per_process": args.openpyxl_runs,
            "quick": args.quick,
        },
        "results": results,
        "targets": verdict,
    }
    destination = args.output or RESULTS / "group_commit.json"
    destination.write_text(json.dumps(output, indent=2) + "\n")
    print(f"written: {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
