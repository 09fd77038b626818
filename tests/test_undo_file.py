"""The undo file of an in-place append repairs only the workbook it was made for.

A crash inside an in-place write leaves ``.runs.xlsx.sheetlog-undo``. Before the next sheetlog
call, the user may put another file at the path: a backup (moved, or copied into the same file),
Excel's repaired copy, or nothing (the workbook deleted). Writing the old bytes into any of those
would make a corrupt zip; the undo file is discarded instead, with a warning naming it, the file
is left byte for byte, and the runs still pending are written (to whatever workbook is there).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import uuid
import warnings
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from libreoffice import find_soffice
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog import SheetlogWarning
from sheetlog.backends.excel import in_place
from sheetlog.backends.excel.backend import ExcelBackend
from sheetlog.backends.excel.undo import needs_recovery, undo_path
from sheetlog.cli import main


def _record(i: int) -> dict:
    return {
        "run_id": uuid.UUID(int=i + 1).hex,
        "status": "FINISHED",
        "start_time": dt.datetime(2025, 3, 1) + dt.timedelta(minutes=i),
        "params.lr": 0.5 ** (i % 12),
        "metrics.acc": i / 1000,
    }


def _write(path: Path, records: list[dict]) -> None:
    backend = ExcelBackend(path)
    with backend.lock():
        backend.write(records)


def _crash_inside_an_append(path: Path, journal: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A workbook of 200 runs whose next in-place append (a logged run) dies after tearing the
    new tail, before the undo file is emptied. Returns the workbook's bytes before it."""
    monkeypatch.setenv("SHEETLOG_IN_PLACE_ABOVE_BYTES", "0")
    _write(path, [_record(i) for i in range(200)])
    _write(path, [_record(200)])
    before = path.read_bytes()

    def die(_path: Path) -> None:
        with open(path, "r+b") as torn:
            torn.seek(len(before) - 500)
            torn.write(b"\0" * 300)
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as patch:
        patch.setattr(in_place, "clear_undo", die)
        with pytest.raises(KeyboardInterrupt):
            sheetlog.log_run({"lr": 9.0}, target=str(path), capture=False, journal_dir=journal)
    assert needs_recovery(path) and path.read_bytes() != before
    return before


def _another_workbook(folder: Path) -> Path:
    other = folder / "backup.xlsx"
    _write(other, [_record(i) for i in range(1000, 1003)])
    return other


def _moved_over(path: Path, other: Path) -> None:
    os.replace(other, path)  # a new file (inode) at the path


def _copied_into(path: Path, other: Path) -> None:
    shutil.copyfile(other, path)  # the same file (inode), other contents


def _copied_back_with_its_times(path: Path, other: Path) -> None:
    shutil.copy2(other, path)  # same inode, older modification time


@pytest.mark.parametrize(
    "put_back", [_moved_over, _copied_into, _copied_back_with_its_times], ids=lambda f: f.__name__
)
def test_an_undo_file_never_repairs_another_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, put_back
) -> None:
    path, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    _crash_inside_an_append(path, journal, monkeypatch)
    put_back(path, _another_workbook(tmp_path))
    placed = path.read_bytes()

    with pytest.warns(SheetlogWarning, match=r"\.runs\.xlsx\.sheetlog-undo.*not the file"):
        frame = sheetlog.load(str(path))
    assert len(frame) == 3
    assert path.read_bytes() == placed and not needs_recovery(path)
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        report = sheetlog.flush(journal_dir=journal)
    assert report.delivered == {str(path): 1} and not report.pending
    assert list(sheetlog.load(str(path))["params.lr"])[-1] == 9.0


def test_a_copy_of_the_same_workbook_from_before_the_append_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup a user made just before the crash, moved over the torn workbook: it is the
    workbook as it was, in another file; it is kept, not written over."""
    path, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    before = _crash_inside_an_append(path, journal, monkeypatch)
    backup = tmp_path / "backup.xlsx"
    backup.write_bytes(before)
    os.replace(backup, path)

    with pytest.warns(SheetlogWarning, match="another file now"):
        sheetlog.flush(journal_dir=journal)
    rows = sheetlog.load(str(path))
    assert len(rows) == 202 and list(rows["params.lr"])[-1] == 9.0


def test_a_deleted_workbook_with_an_undo_file_gets_a_new_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    _crash_inside_an_append(path, journal, monkeypatch)
    path.unlink()

    with pytest.warns(SheetlogWarning, match="no longer exists") as caught:
        report = sheetlog.flush(journal_dir=journal)
    assert not any("unexpected" in str(w.message) for w in caught)
    assert report.delivered == {str(path): 1} and not report.pending
    assert list(sheetlog.load(str(path))["params.lr"]) == [9.0]
    assert not needs_recovery(path)


def test_the_workbook_it_was_made_for_is_still_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    before = _crash_inside_an_append(path, journal, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        assert len(sheetlog.load(str(path))) == 201
    assert path.read_bytes() == before


@pytest.mark.parametrize("stale", [False, True], ids=["own-workbook", "another-workbook"])
def test_doctor_names_the_undo_file_and_what_it_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stale: bool
) -> None:
    path, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    before = _crash_inside_an_append(path, journal, monkeypatch)
    if stale:
        _moved_over(path, _another_workbook(tmp_path))
    placed = path.read_bytes()

    doctor = CliRunner().invoke(main, ["doctor", str(path), "--journal-dir", str(journal)])
    line = next(line for line in doctor.output.splitlines() if "interrupted append" in line)
    assert line.startswith("warn") and str(undo_path(path)) in doctor.output
    if stale:
        assert "is discarded" in doctor.output and "left as it is" in doctor.output
        assert path.read_bytes() == placed
    else:
        assert "are put back" in doctor.output
        assert path.read_bytes() == before
    assert "ok    workbook" in doctor.output


@pytest.mark.slow
def test_excels_repaired_copy_saved_over_the_path_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The torn workbook opened and saved by an office program (LibreOffice here: it repairs
    what it can and writes a new file at the path) is kept as the user's."""
    path, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    before = _crash_inside_an_append(path, journal, monkeypatch)
    source = tmp_path / "good" / "runs.xlsx"
    source.parent.mkdir()
    source.write_bytes(before)
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    out = tmp_path / "saved"
    subprocess.run(
        [find_soffice(), profile, "--headless", "--convert-to", "xlsx", "--outdir", str(out),
         str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    shutil.copyfile(out / "runs.xlsx", tmp_path / "saved.xlsx")
    os.replace(tmp_path / "saved.xlsx", path)
    placed = path.read_bytes()

    with pytest.warns(SheetlogWarning, match="not the file"):
        sheetlog.flush(journal_dir=journal)
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Runs").to_python()
    assert len(sheet) == 1 + 201 + 1 and path.read_bytes() != placed
