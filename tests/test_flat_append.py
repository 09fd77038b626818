"""Appends that read and write only the ends of a large worksheet (``backends/excel/in_place``).

Once sheetlog has laid a sheet out (chunked, with a head slot and CRCs), an append decompresses
only the head and the last chunks and writes only what changes: in a new file for small
workbooks, in place (with an undo file) for large ones. These tests check that this fast path
gives the same workbook as the plain path, that it really leaves the middle alone, and that an
in-place write cut short is undone by the next sheetlog call.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog.backends.excel import backend as excel_backend
from sheetlog.backends.excel import in_place, undo
from sheetlog.backends.excel.backend import ExcelBackend
from sheetlog.cli import main

REAL_WORKBOOKS = Path(__file__).resolve().parent / "data" / "real-workbooks"


def _record(i: int, **extra) -> dict:
    start = dt.datetime(2025, 3, 1) + dt.timedelta(minutes=i)
    return {
        "run_id": uuid.UUID(int=i + 1).hex,
        "name": f"run-{i}",
        "status": "FINISHED",
        "start_time": start,
        "end_time": start + dt.timedelta(seconds=42),
        "params.lr": 0.5 ** (i % 12),
        "params.layers": i % 7,
        "metrics.acc": i / 1000,
        "notes": f"=SUM(A1:A{i})" if i % 5 == 0 else f"note {i}",
        **extra,
    }


def _write(path: Path, records: list[dict], sheet: str | None = None) -> None:
    backend = ExcelBackend(path, sheet)
    with backend.lock():
        assert backend.write(records).written == [r["run_id"] for r in records]


def _appends(path: Path, sheet: str | None = None) -> None:
    """The same sequence of appends for both paths: single runs, a new column (the header
    grows), a new datetime column, a group of runs."""
    _write(path, [_record(i) for i in range(300)], sheet)
    for i in range(300, 320):
        _write(path, [_record(i)], sheet)
    _write(path, [_record(320, **{"params.dropout": 0.1})], sheet)
    _write(path, [_record(321, **{"params.seen_at": dt.datetime(2025, 1, 2, 3, 4, 5)})], sheet)
    _write(path, [_record(i) for i in range(322, 372)], sheet)
    for i in range(372, 380):
        _write(path, [_record(i)], sheet)


def _contents(path: Path, sheet: str) -> tuple[list, list, dict]:
    """(calamine rows, openpyxl rows, table refs): what other programs read."""
    by_calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    workbook = openpyxl.load_workbook(path)
    by_openpyxl = [list(row) for row in workbook[sheet].iter_rows(values_only=True)]
    tables = {name: table.ref for name, table in workbook[sheet].tables.items()}
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    return by_calamine, by_openpyxl, tables


@pytest.mark.parametrize(
    ("source", "sheet"),
    [(None, "Runs"), ("calamine__temperature-table.xlsx", "Temperature")],
    ids=["new-workbook", "sheet-with-an-excel-table"],
)
@pytest.mark.parametrize("in_place_writes", [False, True], ids=["new-file", "in-place"])
def test_fast_path_and_plain_path_give_the_same_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source, sheet, in_place_writes
) -> None:
    fast, plain = tmp_path / "fast.xlsx", tmp_path / "plain.xlsx"
    if source is not None:
        shutil.copy(REAL_WORKBOOKS / source, fast)
        shutil.copy(REAL_WORKBOOKS / source, plain)
    if in_place_writes:
        monkeypatch.setenv("SHEETLOG_IN_PLACE_ABOVE_BYTES", "0")
    used = []
    original = excel_backend._append_in_place

    def counted(*args):
        result = original(*args)
        used.append(result is not None)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(excel_backend, "_append_in_place", counted)
        _appends(fast, sheet if source else None)
    with monkeypatch.context() as patch:
        patch.setattr(excel_backend, "_append_in_place", lambda *args: None)
        _appends(plain, sheet if source else None)

    assert sum(used) >= 25  # most appends took the fast path (the first lays the sheet out)
    fast_contents, plain_contents = _contents(fast, sheet), _contents(plain, sheet)
    assert fast_contents == plain_contents
    by_calamine = fast_contents[0]
    header = by_calamine[0]
    assert "params.dropout" in header and "params.seen_at" in header
    assert [row[header.index("run_id")] for row in by_calamine[-380:]] == [
        uuid.UUID(int=i + 1).hex for i in range(380)
    ]
    assert not undo.needs_recovery(fast)


def test_an_append_to_a_large_sheet_decompresses_only_its_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also the first append after 20,000 rows written at once: a bulk write cuts its rows
    into chunks, so that appends never recompress all of them."""
    path = tmp_path / "big.xlsx"
    _write(path, [_record(i) for i in range(20_000)])
    with zipfile.ZipFile(path) as package:
        sheet_size = package.getinfo("xl/worksheets/sheet1.xml").file_size
    seen = []
    original = in_place.open_stored_sheet

    def measured(*args):
        stored = original(*args)
        seen.append(len(stored.xml))
        return stored

    monkeypatch.setattr(excel_backend, "open_stored_sheet", measured)
    for i in range(20_000, 20_005):
        _write(path, [_record(i)])

    assert len(seen) == 5 and max(seen) < min(sheet_size / 20, 400_000)
    frame = sheetlog.load(str(path))
    assert len(frame) == 20_005 and frame["run_id"].is_unique


def test_an_in_place_write_cut_short_is_undone_by_the_next_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the workbook was partly overwritten (simulated: the step that
    marks the write complete fails, and the new tail is torn): the next sheetlog call puts the
    workbook back byte for byte, and the run, still pending, is delivered once."""
    path = tmp_path / "runs.xlsx"
    journal = tmp_path / ".sheetlog"
    monkeypatch.setenv("SHEETLOG_IN_PLACE_ABOVE_BYTES", "0")
    _write(path, [_record(i) for i in range(500)])
    _write(path, [_record(500)])
    before = path.read_bytes()

    def die(_path):
        with open(path, "r+b") as torn:  # a write cut short inside the new tail
            torn.seek(len(before) - 700)
            torn.write(b"\0" * 300)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(in_place, "clear_undo", die)
    with pytest.raises(KeyboardInterrupt):
        sheetlog.log_run({"lr": 9.0}, target=str(path), capture=False, journal_dir=journal)
    monkeypatch.undo()
    assert undo.needs_recovery(path) and path.read_bytes() != before

    doctor = CliRunner().invoke(main, ["doctor", str(path), "--journal-dir", str(journal)])
    assert "warn  interrupted append" in doctor.output and "are put back" in doctor.output

    assert path.read_bytes() == before and not undo.needs_recovery(path)
    frame = sheetlog.load(str(path))
    assert len(frame) == 501
    assert sheetlog.flush(journal_dir=journal).delivered == {str(path): 1}
    frame = sheetlog.load(str(path))
    assert len(frame) == 502 and list(frame["params.lr"])[-1] == 9.0


def test_an_undo_file_cut_short_means_the_workbook_was_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "runs.xlsx"
    _write(path, [_record(i) for i in range(50)])
    before = path.read_bytes()
    undo_file = undo.undo_path(path)
    status = path.stat()
    identity = undo.Identity(status.st_dev, status.st_ino, len(before), len(before), 0, ())
    undo.write_undo(path, identity, [undo.Region(100, b"x" * 400)])
    undo_file.write_bytes(undo_file.read_bytes()[:-10])  # the crash came while it was written

    assert len(sheetlog.load(str(path))) == 50
    assert path.read_bytes() == before and undo_file.read_bytes() == b""
