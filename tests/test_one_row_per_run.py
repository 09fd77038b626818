"""At most one row per run_id per target, whatever else wrote the run there first.

A run pending in a journal can reach its target by another path than that journal's delivery:
a copy of the journal (a project folder copied) delivers it, or ``sheetlog sync`` copies it from
another target that holds it. The journal's own delivery must then find it there, not append it
again. Real processes (the CLI and ``log_run`` in fresh interpreters), real files, read back with
python-calamine.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog import delivery
from sheetlog.cli import main
from sheetlog.errors import SheetlogWarning
from sheetlog.journal import Journal
from sheetlog.run import open_journal
from sheetlog.sync import apply_sync, plan_sync, read_side
from sheetlog.targets import open_target


def _log_while_open(target: Path, journal: Path) -> str:
    """A run logged while the workbook is open in LibreOffice: it stays pending."""
    lock = target.with_name(f".~lock.{target.name}#")
    lock.write_text("someone,host,1;")
    with pytest.warns(SheetlogWarning, match="open in Excel or LibreOffice"):
        row = sheetlog.log_run(
            {"lr": 0.1}, {"acc": 0.9}, target=target, capture=False, journal_dir=journal
        )
    lock.unlink()
    return row["run_id"]


def _run_ids(path: Path) -> Counter[str]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    column = rows[0].index("run_id")
    return Counter(str(row[column]) for row in rows[1:] if row[column] != "")


def test_copied_journal_original_does_not_rewrite_what_the_copy_delivered(tmp_path: Path):
    target, original, copy = tmp_path / "runs.xlsx", tmp_path / "original", tmp_path / "copy"
    sheetlog.log_run({"lr": 1}, target=target, capture=False, journal_dir=tmp_path / "seed")
    run_id = _log_while_open(target, original)
    with sqlite3.connect(original / "journal.db") as db:  # pending a minute (Excel was open)
        db.execute("UPDATE runs SET created = created - 60")
    shutil.copytree(original, copy)  # the project folder copied, journal and all
    flushed = subprocess.run(  # the copy delivers it, in another process
        [sys.executable, "-m", "sheetlog", "flush"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SHEETLOG_DIR": str(copy)},
        cwd=tmp_path,
    )
    assert flushed.returncode == 0, flushed.stderr
    assert _run_ids(target)[run_id] == 1
    report = sheetlog.flush(journal_dir=original)  # then the original
    assert report.ok and report.delivered == {str(target): 0}
    assert _run_ids(target)[run_id] == 1
    assert not open_journal(original).has_pending(str(target))


def test_sync_into_a_target_the_journal_still_owes_is_not_appended_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(delivery, "FRESH_S", 1e9)  # however fresh the run, sync's mark counts
    journal = tmp_path / ".sheetlog"
    monkeypatch.setenv("SHEETLOG_DIR", str(journal))
    owed, other = tmp_path / "owed.xlsx", tmp_path / "other.xlsx"
    sheetlog.log_run({"lr": 1}, target=owed, capture=False, journal_dir=tmp_path / "seed")
    run_id = _log_while_open(owed, journal)  # pending for owed.xlsx
    record = open_journal(journal).get_run(run_id)
    backend = open_target(other)  # another target holds the run (a colleague's copy)
    with backend.lock():
        backend.write([record])
    apply_sync(plan_sync(read_side(str(other)), read_side(str(owed))))
    assert _run_ids(owed)[run_id] == 1
    report = sheetlog.flush(journal_dir=journal)  # the journal still owed it to owed.xlsx
    assert report.ok
    assert _run_ids(owed)[run_id] == 1
    assert not open_journal(journal).has_pending(str(owed))


def test_a_row_the_journal_could_not_take_is_looked_for_when_retried_at_exit(tmp_path: Path):
    """The journal's disk was full and the straight write failed, its outcome unknown (a
    Google Sheets append applied whose answer was lost): at exit the row goes to the journal
    and is delivered; it must be looked for first, not appended again. The row the lost
    answer left is put in the workbook by hand here."""
    target = tmp_path / "runs.xlsx"
    sheetlog.log_run({"lr": 1}, target=target, capture=False, journal_dir=tmp_path / "seed")
    journal = Journal(tmp_path / "journal")
    record = {"run_id": "f" * 32, "name": "full-disk", "params.lr": 0.1}
    lock = target.with_name(f".~lock.{target.name}#")
    lock.write_text("someone,host,1;")
    with pytest.warns(SheetlogWarning, match="IS NOT SAVED YET"):
        delivery.deliver_unjournaled(journal, str(target), record, OSError("disk full"))
    lock.unlink()
    backend = open_target(target)
    with backend.lock():
        backend.write([record])  # what the write of unknown outcome did
    delivery.retry_unjournaled()  # as at exit, the disk freed meanwhile
    assert _run_ids(target)["f" * 32] == 1
    assert not journal.has_pending(str(target))


def test_a_sync_completes_when_the_local_journal_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_DIR", raising=False)
    (tmp_path / ".sheetlog").mkdir()
    (tmp_path / ".sheetlog" / "journal.db").write_bytes(bytes(range(256)) * 32)  # damaged
    sheetlog.log_run({"lr": 1}, target="a.xlsx", capture=False, journal_dir=tmp_path / "j")
    synced = CliRunner().invoke(main, ["sync", "a.xlsx", "b.xlsx"])
    assert synced.exit_code == 0, synced.output
    assert "could not be noted in the journal" in synced.stderr
    assert sum(_run_ids(tmp_path / "b.xlsx").values()) == 1
