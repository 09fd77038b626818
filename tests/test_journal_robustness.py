"""The journal never blocks, loses or doubles a run: undecodable records are set aside (and can be
exported or dropped), a run journaled or delivered twice is one row, a journal that cannot take a
row (full disk) writes it straight to the target, and runs not written yet are visible.

Everything runs on real SQLite journals, real workbooks read back by calamine, and the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog import SheetlogWarning
from sheetlog.cli import main
from sheetlog.delivery import deliver
from sheetlog.journal import Journal
from sheetlog.run import open_journal

BAD_RECORDS = {
    "NaT datetime": '{"run_id": "%s", "name": "bad", "last_seen": {"$datetime": "NaT"}}',
    "truncated JSON": '{"run_id": "%s", "name": "ba',
    "unknown tag": '{"run_id": "%s", "name": "bad", "x": {"$decimal": "1.5"}}',
    "no run_id": '{"name": "bad", "id": "%s"}',
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    monkeypatch.delenv("SHEETLOG_DIR", raising=False)
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_ids_in(path: Path) -> list[str]:
    """The run_id column of a workbook, read by calamine (an independent reader)."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    column = rows[0].index("run_id")
    return [row[column] for row in rows[1:] if row[column] != ""]


def journal_bad_record(journal_dir: Path, run_id: str, text: str, target: str) -> None:
    """Put an undecodable pending record into the journal through a connection of its own, as
    an older sheetlog (or a damaged page) would have left it."""
    conn = sqlite3.connect(journal_dir / "journal.db")
    with conn:
        conn.execute(
            "INSERT INTO runs (run_id, created, record) VALUES (?, ?, ?)",
            (run_id, time.time() - 60, text),
        )
        conn.execute(
            "INSERT INTO deliveries (run_id, target, state, updated) VALUES (?, ?, 'pending', ?)",
            (run_id, target, time.time()),
        )
    conn.close()


def log(workdir: Path, name: str, **kwargs) -> dict:
    return sheetlog.log_run(
        {"lr": 0.1}, {"acc": 0.9}, name=name, capture=False, target="runs.xlsx", **kwargs
    )


# -- item 1: an undecodable record never blocks the others -------------------------------------


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
def test_undecodable_record_is_set_aside_and_later_runs_are_written(workdir: Path, kind: str):
    first = log(workdir, "first")
    target = str((workdir / "runs.xlsx").resolve())
    journal_bad_record(workdir / ".sheetlog", "bad0001", BAD_RECORDS[kind] % "bad0001", target)

    with pytest.warns(SheetlogWarning, match="run bad0001 cannot be written.*set aside"):
        second = log(workdir, "second")  # raised at finish before the fix
    third = log(workdir, "third")  # no second warning: it is set aside once
    assert run_ids_in(workdir / "runs.xlsx") == [
        first["run_id"],
        second["run_id"],
        third["run_id"],
    ]

    status = invoke("status")
    assert status.exit_code == 1
    assert "run bad0001 is set aside" in status.stdout
    status_json = json.loads(invoke("status", "--format", "json").stdout)
    assert [item["run_id"] for item in status_json["set_aside"]] == ["bad0001"]

    doctor = json.loads(invoke("doctor", "--format", "json").stdout)
    unreadable = next(check for check in doctor if check["check"] == "unreadable runs")
    assert unreadable["status"] == "FAIL" and "bad0001" in unreadable["detail"]

    listing = invoke("pending")
    assert listing.exit_code == 1 and "bad0001" in listing.stdout and "set aside" in listing.stdout
    exported = invoke("pending", "--export", "bad0001")
    assert exported.stdout.strip() == BAD_RECORDS[kind] % "bad0001"

    assert invoke("pending", "--drop", "bad0001").exit_code == 0
    assert invoke("status").exit_code == 0
    doctor = json.loads(invoke("doctor", "--format", "json").stdout)
    assert all(check["status"] != "FAIL" for check in doctor), doctor


def test_flush_delivers_the_others_past_an_undecodable_record(workdir: Path):
    (workdir / "~$runs.xlsx").write_text("owner")  # the workbook is open in Excel
    with pytest.warns(SheetlogWarning, match="kept in the journal"):
        kept = log(workdir, "kept")
    target = str((workdir / "runs.xlsx").resolve())
    journal_bad_record(
        workdir / ".sheetlog", "bad0002", BAD_RECORDS["NaT datetime"] % "bad0002", target
    )
    (workdir / "~$runs.xlsx").unlink()

    result = invoke("flush")
    assert result.exit_code == 0, result.output
    assert "bad0002" in result.stderr and "set aside" in result.stderr
    assert run_ids_in(workdir / "runs.xlsx") == [kept["run_id"]]


def test_flush_never_says_all_runs_are_delivered_while_one_is_set_aside(workdir: Path):
    log(workdir, "first")
    target = str((workdir / "runs.xlsx").resolve())
    journal_bad_record(
        workdir / ".sheetlog", "bad0003", BAD_RECORDS["NaT datetime"] % "bad0003", target
    )
    for _ in range(2):  # the flush that sets it aside, then one finding nothing pending
        result = invoke("flush")
        assert "all runs delivered" not in result.output
        assert "1 run set aside, not written" in result.stderr
        assert "sheetlog pending --drop" not in result.stdout
    assert invoke("pending", "--drop", "bad0003").exit_code == 0
    assert invoke("flush").stdout == "nothing to flush: all runs delivered\n"


def test_dropping_a_set_aside_run_for_another_target_drops_nothing(workdir: Path):
    log(workdir, "first")
    target = str((workdir / "runs.xlsx").resolve())
    journal_bad_record(
        workdir / ".sheetlog", "bad0004", BAD_RECORDS["NaT datetime"] % "bad0004", target
    )
    invoke("flush")  # sets it aside, owed to runs.xlsx
    dropped = invoke("pending", "--drop", "bad0004", "-t", "other.xlsx")
    assert dropped.exit_code == 1 and "dropped" not in dropped.stdout
    assert "not pending for other.xlsx" in dropped.stderr
    status = invoke("status")
    assert "run bad0004 is set aside" in status.stdout and status.exit_code == 1
    assert invoke("pending", "--drop", "bad0004", "-t", "runs.xlsx").exit_code == 0
    assert invoke("status").exit_code == 0


def test_retarget_to_the_target_a_run_is_pending_for_says_so(workdir: Path):
    (workdir / "~$runs.xlsx").write_text("owner")  # the workbook is open in Excel
    with pytest.warns(SheetlogWarning, match="kept in the journal"):
        kept = log(workdir, "kept")
    result = invoke("pending", "--retarget", kept["run_id"], "runs.xlsx")
    assert result.exit_code == 1
    assert "is already pending for" in result.stderr and "sheetlog flush" in result.stderr
    assert "set aside" not in result.stderr


def test_a_batch_failing_on_one_record_still_delivers_the_others(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    """Whatever breaks on one record (here: a bug the backend hits on it), the others go."""
    from sheetlog.backends.excel.backend import ExcelBackend

    (workdir / "~$runs.xlsx").write_text("owner")
    with pytest.warns(SheetlogWarning):
        good = log(workdir, "good")
        poison = log(workdir, "poison")
        later = log(workdir, "later")
    (workdir / "~$runs.xlsx").unlink()
    real_write = ExcelBackend.write

    def write(self, records, possibly_written=()):
        if any(record.get("name") == "poison" for record in records):
            raise TypeError("cannot write this value")
        return real_write(self, records, possibly_written)

    monkeypatch.setattr(ExcelBackend, "write", write)
    with pytest.warns(SheetlogWarning, match=f"run {poison['run_id']}: unexpected TypeError"):
        report = sheetlog.flush()
    assert run_ids_in(workdir / "runs.xlsx") == [good["run_id"], later["run_id"]]
    assert report.pending == {str((workdir / "runs.xlsx").resolve()): 1}


# -- item 3: at most one row per run_id per target ----------------------------------------------


def test_a_run_journaled_again_after_delivery_is_not_written_twice(workdir: Path):
    record = log(workdir, "once")
    journal = sheetlog.run.open_journal()
    target = str((workdir / "runs.xlsx").resolve())
    journal.add_run({**record, "status": "KILLED"}, [target])  # e.g. a forked child ending it
    deliver(journal, target)
    log(workdir, "next")  # a group write that takes every pending run
    assert run_ids_in(workdir / "runs.xlsx").count(record["run_id"]) == 1
    assert not journal.has_pending(target)


def test_a_copied_journal_does_not_write_its_runs_again(workdir: Path):
    """A project folder copied with its journal, both copies flushed: one row per run."""
    (workdir / "~$runs.xlsx").write_text("owner")
    with pytest.warns(SheetlogWarning):
        record = log(workdir, "copied")
    target = str((workdir / "runs.xlsx").resolve())
    shutil.copytree(workdir / ".sheetlog", workdir / "copy")
    (workdir / "~$runs.xlsx").unlink()

    sheetlog.flush()
    copy = Journal(workdir / "copy")
    deliver(copy, target)
    assert run_ids_in(workdir / "runs.xlsx") == [record["run_id"]]
    assert not copy.has_pending(target)


# -- item 4: a journal that cannot take a row (full disk) loses nothing -------------------------

FILL_SCRIPT = """
import os, sqlite3, sys

def fill(journal_dir):
    '''Make the journal's disk full: a real tmpfs filled up, or (without the right to mount)
    SQLite's own disk-full through max_page_count on the process's journal connection.'''
    if os.environ["FULL_MODE"] == "tmpfs":
        try:
            with open(os.environ["FULL_FILLER"], "wb") as filler:
                while True:
                    filler.write(bytes(65536))
                    filler.flush()
        except OSError:
            pass
    else:
        from sheetlog.run import open_journal
        conn = open_journal(journal_dir)._conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

def free(journal_dir):
    if os.environ["FULL_MODE"] == "tmpfs":
        os.unlink(os.environ["FULL_FILLER"])
    else:
        from sheetlog.run import open_journal
        open_journal(journal_dir)._conn.execute("PRAGMA max_page_count = 1073741823")
"""


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A journal directory on a 1 MB tmpfs (root may mount one), else on the ordinary disk with
    SQLite's disk-full made by ``max_page_count``; yields (journal dir, fill, free)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    try:
        command = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]
        mounted = subprocess.run(command, capture_output=True).returncode == 0
    except OSError:  # no mount command
        mounted = False
    monkeypatch.setenv("FULL_MODE", "tmpfs" if mounted else "pages")
    monkeypatch.setenv("FULL_FILLER", str(mount / "filler"))
    helpers: dict = {}
    exec(FILL_SCRIPT, helpers)
    try:
        yield mount / "journal", helpers["fill"], helpers["free"]
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_journal_disk_writes_the_run_straight_to_the_workbook(workdir: Path, full_disk):
    journal, fill, _ = full_disk
    first = log(workdir, "before", journal_dir=journal)
    fill(journal)
    with pytest.warns(SheetlogWarning, match="cannot take run .* written straight to"):
        # raised OperationalError before; (a long note needs new pages in either kind of full)
        second = log(workdir, "full", journal_dir=journal, notes="x" * 20_000)
    assert run_ids_in(workdir / "runs.xlsx") == [first["run_id"], second["run_id"]]


def test_a_full_journal_disk_and_a_locked_workbook_keep_the_run_until_exit(
    workdir: Path, full_disk
):
    """Neither the journal nor the workbook can take the row: it is kept in memory, said
    loudly, and written at exit once they can; the script's own exception is what it dies of."""
    journal, _, _ = full_disk
    script = workdir / "train.py"
    script.write_text(
        FILL_SCRIPT
        + f"""
import atexit, pathlib, sheetlog
journal = {str(journal)!r}
sheetlog.log_run({{"lr": 1}}, capture=False, target="runs.xlsx", journal_dir=journal)
pathlib.Path("~$runs.xlsx").write_text("owner")  # open in Excel
fill(journal)

def closed_and_freed():  # registered after sheetlog's exit hook: runs before it
    pathlib.Path("~$runs.xlsx").unlink()
    free(journal)

atexit.register(closed_and_freed)
with sheetlog.start_run({{"lr": 2}}, name="diverged", capture=False, target="runs.xlsx",
                        journal_dir=journal, notes="x" * 20_000) as run:
    run.log_metric("loss", 1e9)
    raise RuntimeError("training diverged")
"""
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    traceback = done.stderr[done.stderr.index("Traceback") :].splitlines()[1:]
    died_of = next(line for line in traceback if not line.startswith(" "))
    assert died_of == "RuntimeError: training diverged", done.stderr
    assert "During handling" not in done.stderr
    assert "IS NOT SAVED YET" in done.stderr
    sheet = CalamineWorkbook.from_path(str(workdir / "runs.xlsx")).get_sheet_by_index(0)
    header, *rows = sheet.to_python()
    status, name = header.index("status"), header.index("name")
    assert [(row[status], row[name]) for row in rows] == [("FINISHED", ""), ("FAILED", "diverged")]


def test_a_process_started_on_a_full_journal_disk_still_writes_its_run(workdir: Path, full_disk):
    """The disk was full before the process started: the journal cannot even be opened (SQLite
    cannot create its -shm file). The run is written straight to the workbook, the CLI says
    what is wrong (it printed a traceback; log_run raised disk I/O error and lost the run)."""
    journal, fill, free = full_disk
    if os.environ["FULL_MODE"] != "tmpfs":
        pytest.skip("needs a real full filesystem (mounting a tmpfs needs root)")
    first = log(workdir, "before", journal_dir=journal)
    open_journal(journal).close()  # this process lets go of it: its -wal and -shm go
    sheetlog.run._journals.clear()
    fill(journal)
    env = {**os.environ, "SHEETLOG_DIR": str(journal)}
    logged = subprocess.run(
        [sys.executable, "-c", LOG_ONE],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert logged.returncode == 0, logged.stderr
    assert "written straight to" in logged.stderr
    assert run_ids_in(workdir / "runs.xlsx") == [first["run_id"], logged.stdout.strip()]
    for command in ("status", "flush", "pending"):
        done = subprocess.run(
            [sys.executable, "-m", "sheetlog", command],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"the journal {journal} cannot be opened" in done.stderr
        assert "is its disk full?" in done.stderr
    free(journal)
    assert invoke("status", "--journal-dir", str(journal)).exit_code == 0


def test_a_damaged_journal_never_stops_a_run(workdir: Path):
    """journal.db is not a database (it raised 'file is not a database' at start_run, so no
    run could start): runs go straight to the workbook; the CLI says what to do."""
    (workdir / ".sheetlog").mkdir()
    (workdir / ".sheetlog" / "journal.db").write_bytes(bytes(range(256)) * 32)
    logged = subprocess.run(
        [sys.executable, "-c", LOG_ONE], cwd=workdir, capture_output=True, text=True, timeout=60
    )
    assert logged.returncode == 0, logged.stderr
    assert "written straight to" in logged.stderr
    assert run_ids_in(workdir / "runs.xlsx") == [logged.stdout.strip()]
    status = invoke("status")
    assert status.exit_code == 1
    assert "cannot be opened (file is not a database): move it away" in status.stderr


LOG_ONE = """
import sheetlog
print(sheetlog.log_run({"lr": 2}, capture=False, target="runs.xlsx")["run_id"])
"""


# -- nothing is invisible: pending runs in ls / show / load, `sheetlog pending`, runs in progress


def test_pending_runs_appear_in_load_ls_and_show_marked_pending(workdir: Path):
    written = log(workdir, "written")
    (workdir / "~$runs.xlsx").write_text("owner")  # the workbook is open in Excel
    with pytest.warns(SheetlogWarning, match="kept in the journal"):
        waiting = log(workdir, "waiting")

    with pytest.warns(SheetlogWarning, match="1 run is not written to .* marked pending"):
        frame = sheetlog.load("runs.xlsx")
    assert list(frame["run_id"]) == [written["run_id"], waiting["run_id"]]
    assert list(frame["pending"]) == [False, True]
    assert frame["params.lr"].tolist() == [0.1, 0.1]

    listing = invoke("ls", "runs.xlsx", "--format", "json")
    assert listing.exit_code == 0
    assert [(r["name"], r["pending"]) for r in json.loads(listing.stdout)] == [
        ("written", False),
        ("waiting", True),
    ]
    assert "marked pending" in listing.stderr
    shown = invoke("show", waiting["run_id"][:8], "--format", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["run"]["pending"] is True

    (workdir / "~$runs.xlsx").unlink()
    assert invoke("flush").exit_code == 0
    assert "pending" not in sheetlog.load("runs.xlsx").columns  # no column once all are written


def test_pending_lists_drops_and_retargets_runs(workdir: Path, fake_sheets):
    key = fake_sheets.create_spreadsheet("team")
    with pytest.warns(SheetlogWarning, match="kept in the journal"):
        # a mistyped Google key: pending forever before `--retarget`
        typo = sheetlog.log_run(
            {"lr": 1}, name="typo", capture=False, target=f"gsheet://{key}x/Runs"
        )
    (workdir / "~$runs.xlsx").write_text("owner")
    with pytest.warns(SheetlogWarning, match="kept in the journal"):
        unwanted = log(workdir, "unwanted")

    listing = invoke("pending")
    assert listing.exit_code == 1
    assert f"{typo['run_id']} (typo)  pending for" in listing.stdout
    assert f"{unwanted['run_id']} (unwanted)  pending for" in listing.stdout
    rows = json.loads(invoke("pending", "--format", "json").stdout)
    assert {row["name"] for row in rows} == {"typo", "unwanted"}

    dropped = invoke("pending", "--drop", unwanted["run_id"][:10])
    assert dropped.exit_code == 0 and unwanted["run_id"] in dropped.stdout
    (workdir / "~$runs.xlsx").unlink()
    moved = invoke("pending", "--retarget", typo["run_id"][:10], f"gsheet://{key}/Runs")
    assert moved.exit_code == 0, moved.output
    assert "now goes to" in moved.stdout and "still pending" not in moved.stdout
    assert list(sheetlog.load(f"gsheet://{key}/Runs")["run_id"]) == [typo["run_id"]]
    assert invoke("pending").stdout.strip() == "no pending runs"
    assert invoke("status").exit_code == 0
    assert not (workdir / "runs.xlsx").exists()  # the dropped run was never written


def test_status_lists_runs_in_progress_and_runs_whose_process_died(workdir: Path):
    script = (
        "import os, sheetlog\n"
        "run = sheetlog.start_run(name='crashed', capture=False, target='runs.xlsx')\n"
        "os._exit(0)  # killed: no exit hook ends it\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=workdir, check=True, timeout=60)
    live = sheetlog.start_run(name="training", capture=False, target="runs.xlsx")

    status = invoke("status")
    assert "in progress: " in status.stdout
    lines = {line for line in status.stdout.splitlines() if line.startswith("in progress")}
    assert any("(training)" in line and "ended without" not in line for line in lines), lines
    assert any("(crashed)" in line and "ended without ending the run" in line for line in lines)
    document = json.loads(invoke("status", "--format", "json").stdout)
    assert {(r["name"], r["alive"]) for r in document["in_progress"]} == {
        ("crashed", False),
        ("training", True),
    }
    live.finish()
    (crashed,) = json.loads(invoke("status", "--format", "json").stdout)["in_progress"]
    assert crashed["name"] == "crashed"
    assert invoke("pending", "--drop", crashed["run_id"][:8]).exit_code == 0
    assert "in progress" not in invoke("status").stdout


def test_a_time_that_cannot_be_read_back_is_journaled_empty(tmp_path: Path):
    """Whatever the value layer lets through, the journal never stores a record it cannot read."""
    import pandas as pd

    journal = Journal(tmp_path)
    with pytest.warns(SheetlogWarning, match="last_seen = 'NaT' is not a time"):
        journal.add_run({"run_id": "r1", "last_seen": pd.NaT, "lr": 0.1}, ["runs.xlsx"])
    (pending,) = journal.pending("runs.xlsx")
    assert pending.record == {"run_id": "r1", "last_seen": None, "lr": 0.1}
