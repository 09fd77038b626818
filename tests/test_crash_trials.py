"""SIGKILL at random moments while runs are being written: the workbook survives, no run is lost.

A child process (a fresh interpreter) logs runs in a loop into a workbook pre-filled with 3,000
runs, so that each write takes tens of milliseconds, and prints each run_id as soon as
``log_run`` has returned. The parent kills it with SIGKILL after a random delay. After every kill:
the workbook is a valid zip that openpyxl and python-calamine load, and once a fresh process has
run ``sheetlog.flush()`` on the same journal, every run_id the child printed is in the workbook
exactly once. Writers killed mid-write leave their temp file behind; the next writer removes it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
import zipfile
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog.backends.excel.backend import ExcelBackend
from sheetlog.backends.excel.undo import needs_recovery

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

TRIALS = 30  # per variant (new file, in place)
PREFILLED = 3_000
_RUN_ID = re.compile(r"[0-9a-f]{32}")

# Logs runs until killed; prints "ready" once imported, then each run_id once log_run returned.
CHILD = r"""
import sys
import sheetlog

target, journal = sys.argv[1:3]
print("ready", flush=True)
i = 0
while True:
    row = sheetlog.log_run(
        {"lr": 0.5 ** (i % 20), "batch": 2 ** (i % 8), "trial_pid": __import__("os").getpid()},
        {"acc": i / 1000, "loss": 1 / (i + 1)},
        name=f"crash-{i}", target=target, capture=False, journal_dir=journal,
    )
    print(row["run_id"], flush=True)
    i += 1
"""

FLUSH = r"""
import json, sys, warnings
import sheetlog

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    report = sheetlog.flush(journal_dir=sys.argv[1])
print(json.dumps({"delivered": report.delivered, "pending": report.pending,
                  "warnings": [str(w.message) for w in caught]}))
"""


def _prefill(path: Path, count: int) -> set[str]:
    """A workbook holding ``count`` runs, written by sheetlog's own backend in one go."""
    start = dt.datetime(2024, 1, 1)
    records = [
        {
            "run_id": uuid.uuid4().hex,
            "name": f"prefilled-{i}",
            "status": "FINISHED",
            "start_time": start + dt.timedelta(minutes=i),
            "end_time": start + dt.timedelta(minutes=i, seconds=90),
            "duration_s": 90.0,
            "params.lr": 0.001 * (i % 100),
            "params.batch": 2 ** (i % 8),
            "params.optimizer": "adam" if i % 2 else "sgd",
            "metrics.acc": i / count,
            "metrics.loss": 1 / (i + 1),
            "notes": f"pre-filled run number {i}",
        }
        for i in range(count)
    ]
    backend = ExcelBackend(path)
    with backend.lock():
        result = backend.write(records)
    assert len(result.written) == count
    return {record["run_id"] for record in records}


def _leftovers(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.sheetlog-*.tmp"))


def _run_ids_calamine(path: Path) -> list[str]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Runs").to_python()
    column = rows[0].index("run_id")
    return [row[column] for row in rows[1:] if row[column] != ""]


def _run_ids_openpyxl(path: Path) -> list[str]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = workbook["Runs"].iter_rows(values_only=True)
        column = list(next(rows)).index("run_id")
        return [row[column] for row in rows if row[column] is not None]
    finally:
        workbook.close()


def _check_opens(path: Path) -> list[str]:
    """The workbook as a user would find it right after the kill; returns its run_ids."""
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    by_calamine = _run_ids_calamine(path)
    assert _run_ids_openpyxl(path) == by_calamine
    return by_calamine


def _run_ids_after_flush(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    return _run_ids_calamine(path)


def _kill_at_random(target: Path, journal: Path, delay: float) -> tuple[list[str], int]:
    """One trial: start the logging child, SIGKILL it after ``delay`` s of logging."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), str(journal)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=target.parent,
    )
    assert child.stdout.readline() == b"ready\n", child.stderr.read().decode()
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err.decode()
    lines = out.decode().split("\n")[:-1]  # a line cut by the kill has no newline: not returned
    assert all(_RUN_ID.fullmatch(line) for line in lines), lines
    return lines, child.pid


def _flush_in_fresh_process(journal: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", FLUSH, str(journal)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _journal_run_ids(journal: Path) -> set[str]:
    with sqlite3.connect(journal / "journal.db") as conn:
        return {run_id for (run_id,) in conn.execute("SELECT run_id FROM runs")}


@pytest.mark.slow
@pytest.mark.parametrize("in_place", [False, True], ids=["new-file", "in-place"])
def test_sigkill_during_writes_never_damages_the_workbook_or_loses_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_place: bool
) -> None:
    """``in_place``: every append writes the workbook in place (as for workbooks over 8 MB),
    with an undo file; a kill inside the write leaves the undo file, and the next sheetlog call
    (the flush) puts the workbook back before anything else."""
    if in_place:
        monkeypatch.setenv("SHEETLOG_IN_PLACE_ABOVE_BYTES", "0")
    target = tmp_path / "runs.xlsx"
    journal = tmp_path / ".sheetlog"
    prefilled = _prefill(target, PREFILLED)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    returned: list[str] = []
    killed_with_temp_file = recovered_by_flush = cut_short_in_place = 0
    started = time.monotonic()
    for trial in range(TRIALS):
        where = f"trial {trial} (seed {seed})"
        printed, pid = _kill_at_random(target, journal, rng.uniform(0.0, 0.5))
        returned += printed
        leftovers = _leftovers(target)
        killed_with_temp_file += any(str(pid) in p.name for p in leftovers)

        if needs_recovery(target):  # killed inside an in-place write: the flush undoes it
            assert in_place, f"{where}: an undo file without in-place writes"
            cut_short_in_place += 1
        else:
            _check_opens(target)  # before any repair: the kill never leaves a broken workbook
        report = _flush_in_fresh_process(journal)
        assert report["pending"] == {} and report["warnings"] == [], f"{where}: {report}"
        recovered_by_flush += sum(report["delivered"].values())

        in_sheet = Counter(_run_ids_after_flush(target))
        assert [r for r, n in in_sheet.items() if n > 1] == [], f"{where}: a run written twice"
        assert [r for r in returned if in_sheet[r] != 1] == [], f"{where}: a returned run is lost"
        assert set(in_sheet) == prefilled | _journal_run_ids(journal), where

    # The next writer clears the temp files that killed writers left behind.
    sheetlog.log_run({"lr": 1.0}, target=target, capture=False, journal_dir=journal)
    assert _leftovers(target) == []
    print(
        f"\n{TRIALS} SIGKILL trials in {time.monotonic() - started:.0f} s (seed {seed}):"
        f" {len(returned)} runs returned, {killed_with_temp_file} kills left a half-written"
        f" temp file, {cut_short_in_place} kills cut an in-place write short (undone by the"
        f" next flush), {recovered_by_flush} runs journaled but unwritten at the kill were"
        " written by the next flush"
    )


def test_the_next_writer_removes_temp_files_of_dead_writers_only(tmp_path: Path) -> None:
    target = tmp_path / "runs.xlsx"
    journal = tmp_path / ".sheetlog"
    sheetlog.log_run({"lr": 0.1}, target=target, capture=False, journal_dir=journal)
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(finished.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [
            tmp_path / f".runs.xlsx.sheetlog-{dead}.tmp",
            tmp_path / f".runs.xlsx.sheetlog-{dead}.renamed",
        ]
        kept = [
            tmp_path / f".runs.xlsx.sheetlog-{alive.pid}.tmp",  # a writer still at work
            tmp_path / f".other.xlsx.sheetlog-{dead}.tmp",  # another workbook's
            tmp_path / "notes.tmp",
        ]
        for path in stale + kept:
            path.write_bytes(b"PK\x03\x04 half a workbook")
        sheetlog.log_run({"lr": 0.2}, target=target, capture=False, journal_dir=journal)
        assert [path for path in stale if path.exists()] == []
        assert [path for path in kept if not path.exists()] == []
    finally:
        alive.kill()
        alive.wait()
    assert len(_check_opens(target)) == 2


# -- fork, SIGTERM and SIGHUP at random moments ------------------------------------------------

FORKING_TRAINER = r"""
import multiprocessing, sys
import sheetlog

target, journal = sys.argv[1:3]

def square(x):
    return x * x

if __name__ == "__main__":
    i = 0
    while True:
        with sheetlog.start_run({"i": i}, target=target, journal_dir=journal, capture=False) as run:
            print("started", run.run_id, flush=True)
            with multiprocessing.get_context("fork").Pool(2) as pool:
                for step in range(3):
                    run.log_metrics({"total": sum(pool.map(square, range(50)))}, step=step)
        print("finished", run.run_id, flush=True)
        i += 1
"""

SIGNAL_TRIALS = 12  # per signal


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_runs_that_fork_pools_and_are_signalled_at_random_leave_one_row_each(
    tmp_path: Path, signum: int
) -> None:
    """A trainer forks a Pool in every run (each Pool.__exit__ SIGTERMs its workers) and is sent
    SIGTERM or SIGHUP at a random moment, again and again: every run it started has exactly one
    row, FINISHED if it said so, else KILLED by that signal, and no worker wrote anything."""
    rng = random.Random(signum)
    target, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    script = tmp_path / "trainer.py"
    script.write_text(FORKING_TRAINER)
    started: list[str] = []
    finished: set[str] = set()
    for _ in range(SIGNAL_TRIALS):
        child = subprocess.Popen(
            [sys.executable, str(script), str(target), str(journal)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        first = child.stdout.readline().split()
        assert first[0] == "started", child.stderr.read() if child.stderr else ""
        time.sleep(rng.uniform(0, 1.5))  # a random moment: not a timing assertion
        child.send_signal(signum)
        rest, errors = child.communicate(timeout=120)
        assert child.returncode == -signum, errors
        assert "Traceback" not in errors, errors
        lines = [first] + [line.split() for line in rest.splitlines()]
        started += [words[1] for words in lines if words[0] == "started"]
        finished |= {words[1] for words in lines if words[0] == "finished"}
    flush_done = subprocess.run(
        [sys.executable, "-c", f"import sheetlog; sheetlog.flush(journal_dir={str(journal)!r})"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert flush_done.returncode == 0, flush_done.stderr
    frame = sheetlog.load(target)
    assert sorted(frame["run_id"]) == sorted(started)  # one row per run: none lost, none twice
    name = signal.Signals(signum).name
    for run_id, status, error in frame[["run_id", "status", "error"]].itertuples(index=False):
        if run_id in finished:
            assert status == "FINISHED"
        else:  # killed while running, or while its row was being saved (then FINISHED)
            assert status == "KILLED" and error == f"terminated by {name}" or status == "FINISHED"
    assert (frame["status"] == "KILLED").sum() >= 1
