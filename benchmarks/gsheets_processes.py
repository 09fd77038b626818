"""Many processes logging to one Google Sheet under Google's per-user quota (the local fake).

``sheetlog.testing.FakeSheetsServer`` runs with its default quotas, the ones Google gives a user:
60 reads and 60 writes per minute. 8 processes (started together after their imports) log 1,000
runs in all (125 each) to ``gsheet://<key>/Runs`` as fast as they can, with sheetlog's default
retry settings, sharing one journal directory (``--layout own``: one journal per process). A
process whose runs are still pending at its end calls ``sheetlog.flush`` (up to 5 times).

Reported: wall time from the start signal to the last process's end, API requests per run (reads
and writes, from the fake's request log), 429 answers the fake gave, warnings that reached the
user (any ``SheetlogWarning``; those mentioning 429 or quota are counted apart: the target is
none), and whether every run is in the sheet exactly once.

Results go to ``benchmarks/results/gsheets_processes.json`` (git-ignored). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import RESULTS, machine, run_data

import sheetlog
from sheetlog.errors import SheetlogWarning

PROCESSES = 8


def wait_for(signal: Path) -> None:
    while not signal.exists():
        time.sleep(0.001)


def child(target: str, journal: str, runs: int, index: int, signal: Path) -> dict[str, Any]:
    base = 1_000_000 * (index + 1)
    ids: list[str] = []
    batches: list[int] = []
    flushes = 0
    from sheetlog import delivery

    deliver_batch = delivery._deliver_batch

    def counted(journal, key, backend, runs, report):  # type: ignore[no-untyped-def]
        batches.append(len(runs))
        return deliver_batch(journal, key, backend, runs, report)

    delivery._deliver_batch = counted  # counts the group writes (runs per write)
    wait_for(signal)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SheetlogWarning)
        for i in range(runs):
            data = run_data(base + i)
            row = sheetlog.log_run(
                data.params,
                data.metrics,
                name=data.name,
                tags=data.tags,
                target=target,
                capture=False,
                journal_dir=journal,
            )
            ids.append(row["run_id"])
        logged = time.time()
        while flushes < 5 and _pending(journal, target):
            flushes += 1
            sheetlog.flush(target, journal_dir=journal)
    return {
        "run_ids": ids,
        "logged": logged,
        "end": time.time(),
        "flushes": flushes,
        "batches": batches,
        "pending_at_end": _pending(journal, target),
        "warnings": [str(w.message) for w in caught if issubclass(w.category, SheetlogWarning)],
    }


def _pending(journal: str, target: str) -> int:
    from sheetlog.run import open_journal
    from sheetlog.targets import open_target

    return len(open_journal(journal).pending(open_target(target).key))


def measure(total: int, layout: str, tmpdir: str | None) -> dict[str, Any]:
    from sheetlog.testing import FakeSheetsServer

    per_process = total // PROCESSES
    with (
        FakeSheetsServer() as fake,  # default quotas: 60 reads, 60 writes a minute per user
        tempfile.TemporaryDirectory(prefix="sheetlog-gsheets-", dir=tmpdir) as name,
    ):
        work = Path(name)
        key = fake.create_spreadsheet("runs")
        target = f"gsheet://{key}/Runs"
        env = {**os.environ, "SHEETLOG_GSHEETS_ENDPOINT": fake.base_url}
        signal = work / "go"
        children = []
        for index in range(PROCESSES):
            journal = work / ("journal" if layout == "shared" else f"journal-{index}")
            command = [sys.executable, __file__, "--child", target, "--journal", str(journal)]
            command += ["--runs", str(per_process), "--index", str(index), "--signal", str(signal)]
            children.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env))
        time.sleep(3 + PROCESSES * 0.5)  # imports
        print(f"{PROCESSES} processes x {per_process} runs -> {target} ({layout} journal)")
        fake.clear_log()
        start = time.time()
        signal.touch()
        reports = []
        for process in children:
            out, _ = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"a child exited {process.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        log = fake.request_log
        rows = fake.values(key, "Runs")
    header, body = rows[0], rows[1:]
    column = header.index("run_id")
    counts = collections.Counter(row[column] for row in body if len(row) > column)
    logged = [run_id for r in reports for run_id in r["run_ids"]]
    warned = [w for r in reports for w in r["warnings"]]
    batches = [size for r in reports for size in r["batches"]]
    quota_words = ("429", "quota", "RESOURCE_EXHAUSTED", "rate limit")
    sheets = [entry for entry in log if entry.api == "sheets"]
    result = {
        "processes": PROCESSES,
        "runs": len(logged),
        "layout": layout,
        "seconds_to_last_log_run": round(max(r["logged"] for r in reports) - start, 1),
        "seconds": round(max(r["end"] for r in reports) - start, 1),
        "requests": len(log),
        "sheets_reads": sum(1 for e in sheets if e.kind == "read"),
        "sheets_writes": sum(1 for e in sheets if e.kind == "write"),
        "drive_requests": len(log) - len(sheets),
        "answered_429": sum(1 for e in log if e.status == 429),
        "requests_per_run": round(len(log) / len(logged), 3),
        "writes_per_run": round(sum(1 for e in sheets if e.kind == "write") / len(logged), 3),
        "flushes": sum(r["flushes"] for r in reports),
        "deliveries": len(batches),
        "runs_per_delivery": round(sum(batches) / max(1, len(batches)), 2),
        "largest_delivery": max(batches, default=0),
        "pending_at_end": sum(r["pending_at_end"] for r in reports),
        "rows_in_sheet": len(body),
        "missing": sum(1 for run_id in logged if counts[run_id] == 0),
        "duplicated": sum(1 for count in counts.values() if count > 1),
        "warnings": len(warned),
        "quota_warnings": sum(1 for w in warned if any(q in w for q in quota_words)),
        "warning_examples": sorted(set(warned))[:5],
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000, help="runs in all (default 1,000)")
    parser.add_argument("--quick", action="store_true", help="200 runs in all")
    parser.add_argument("--layout", choices=["shared", "own"], default="shared")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--journal", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--signal", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        report = child(args.child, args.journal, args.runs, args.index, Path(args.signal))
        print(json.dumps(report))
        return 0
    total = 200 if args.quick else args.runs
    RESULTS.mkdir(exist_ok=True)
    info = machine()
    print("machine:", json.dumps(info))
    result = measure(total, args.layout, args.tmpdir)
    for name, value in result.items():
        print(f"   {name:<24} {value}")
    verdict = {
        "every_row_once": result["missing"] == 0 and result["duplicated"] == 0,
        "no_quota_warnings": result["quota_warnings"] == 0,
        "no_warnings": result["warnings"] == 0,
        "requests_per_run": result["requests_per_run"],
    }
    print("targets:", json.dumps(verdict))
    output = {
        "machine": info,
        "settings": {"runs": total, "processes": PROCESSES, "quick": args.quick},
        "result": result,
        "targets": verdict,
    }
    name = "gsheets_processes.json" if args.layout == "shared" else "gsheets_processes_own.json"
    destination = args.output or RESULTS / name
    destination.write_text(json.dumps(output, indent=2) + "\n")
    print(f"written: {destination}")
    return 0 if verdict["every_row_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
