"""Reading a workbook while another process appends to it in place (``sheetlog sync`` from it,
``load``, ``ls``) waits for that write instead of failing on the half-written file.

Workbooks over 8 MB are appended to in place (see ``sheetlog.backends.excel.in_place``): until
the write ends, the file reads as damaged ("corrupt deflate stream"). Found with four loggers
sharing a journal, killed at random, while ``sheetlog sync runs.xlsx copy.xlsx`` ran: the sync
crashed with calamine's traceback.
"""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import filelock
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog.backends.excel import backend as excel_backend
from sheetlog.backends.excel.backend import ExcelBackend
from sheetlog.cli import main
from sheetlog.errors import UnsupportedWorkbook


def test_a_read_during_an_in_place_append_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "runs.xlsx"
    journal = tmp_path / ".sheetlog"
    for lr in (1, 2, 3):
        sheetlog.log_run({"lr": lr}, target=path, capture=False, journal_dir=journal)
    whole = path.read_bytes()
    waiting = threading.Event()

    class SeenWaiting(filelock.FileLock):
        def acquire(self, *args, **kwargs):
            waiting.set()  # the reader found the file torn and waits for the writer
            return super().acquire(*args, **kwargs)

    monkeypatch.setattr(excel_backend, "FileLock", SeenWaiting)
    read: list[object] = []
    writer = filelock.FileLock(ExcelBackend(path).lock_path)
    with writer:  # a writer in the middle of an in-place append: the tail not written yet
        path.write_bytes(whole[: len(whole) * 2 // 3])

        def reader() -> None:
            try:
                read.append(ExcelBackend(path).read())
            except Exception as error:  # noqa: BLE001 - the assertion below shows it
                read.append(error)

        thread = threading.Thread(target=reader)
        thread.start()
        waiting.wait(timeout=30)
        path.write_bytes(whole)  # the append ends
    thread.join(timeout=60)
    assert len(read) == 1 and not isinstance(read[0], Exception), read
    assert [row[read[0].header.index("params.lr")] for row in read[0].rows] == [1, 2, 3]
    assert len(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()) == 4


def test_a_damaged_sheet_reads_as_damaged_with_what_to_do(tmp_path: Path):
    """Once no writer holds it, a workbook that still cannot be read is damaged: a sheetlog
    error saying so (``sheetlog sync`` printed calamine's traceback)."""
    path = tmp_path / "runs.xlsx"
    sheetlog.log_run({"lr": 1}, target=path, capture=False, journal_dir=tmp_path / "j")
    with zipfile.ZipFile(path) as package:
        sheet = next(i for i in package.infolist() if i.filename.endswith("sheet1.xml"))
    data = bytearray(path.read_bytes())
    start = sheet.header_offset + 30 + len(sheet.filename) + len(sheet.extra)
    data[start + 10 : start + 40] = bytes(30)  # its deflate stream garbled
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedWorkbook, match="is damaged .*restore a backup"):
        ExcelBackend(path).read()
    listed = CliRunner().invoke(main, ["ls", "-t", str(path)])
    assert listed.exit_code == 1 and "is damaged" in listed.output, listed.output


def test_a_damaged_workbook_read_under_its_own_lock_does_not_wait_for_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``sheetlog sync`` reads its destination under the destination's lock: a damaged one
    must fail at once, not wait 120 s for the lock this very process holds."""
    path = tmp_path / "runs.xlsx"
    sheetlog.log_run({"lr": 1}, target=path, capture=False, journal_dir=tmp_path / "j")
    path.write_bytes(path.read_bytes()[:-100])
    backend = ExcelBackend(path)
    with backend.lock():
        tried: list[str] = []

        class Recorded(filelock.FileLock):
            def acquire(self, *args, **kwargs):
                tried.append(str(self.lock_file))
                return super().acquire(*args, **kwargs)

        monkeypatch.setattr(excel_backend, "FileLock", Recorded)
        monkeypatch.setattr(excel_backend, "LOCK_TIMEOUT_S", 0.5)
        with pytest.raises(UnsupportedWorkbook, match="is damaged"):
            backend.read()
    assert tried == []
