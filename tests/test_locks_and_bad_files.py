"""A workbook that is open elsewhere, or a file that is not a workbook sheetlog can write.

In every case the run is kept in the journal (pending), a ``SheetlogWarning`` says why and what to
do, the file is left byte for byte as it was, and once the cause is gone the next flush (or the
next logged run: group commit) writes every kept run. A target that can never work (``runs.txt``,
``runs.xls``) is a mistake in the calling code: ``ValueError`` at ``start_run``, before training.

The .xls, .ods and encrypted workbooks are made by LibreOffice from a sheetlog workbook, and one
test has a real LibreOffice instance hold the workbook open.
"""

from __future__ import annotations

import html
import os
import subprocess
import time
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from libreoffice import find_soffice
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog import SheetlogWarning
from sheetlog.backends.excel import replacing
from sheetlog.backends.excel.undo import undo_path

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _log(target: Path, journal: Path, lr: float) -> str:
    return sheetlog.log_run(
        {"lr": lr}, {"acc": lr / 10}, target=target, capture=False, journal_dir=journal
    )["run_id"]


def _run_ids(path: Path) -> list[str]:
    """run_ids in the workbook, read by both python-calamine and openpyxl (which must agree)."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Runs").to_python()
    by_calamine = [row[rows[0].index("run_id")] for row in rows[1:]]
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        values = list(workbook["Runs"].iter_rows(values_only=True))
    finally:
        workbook.close()
    by_openpyxl = [row[values[0].index("run_id")] for row in values[1:]]
    assert by_openpyxl == by_calamine
    return by_calamine


def _log_kept_pending(target: Path, journal: Path, lr: float) -> tuple[str, str]:
    """Log a run that the target cannot take now; returns its run_id and the warning text."""
    with pytest.warns(SheetlogWarning) as caught:
        run_id = _log(target, journal, lr)
    assert len(caught) == 1, [str(w.message) for w in caught]
    return run_id, str(caught[0].message)


def _flush_still_pending(journal: Path, count: int) -> str:
    with pytest.warns(SheetlogWarning) as caught:
        report = sheetlog.flush(journal_dir=journal)
    assert list(report.pending.values()) == [count]
    assert sum(report.delivered.values()) == 0
    return str(caught[0].message)


def _flush_delivers(journal: Path, count: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        report = sheetlog.flush(journal_dir=journal)
    assert report.pending == {}
    assert sum(report.delivered.values()) == count


# -- open in Excel or LibreOffice ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lock_name"),
    [
        ("runs.xlsx", "~$runs.xlsx"),  # Excel's owner file
        ("experiments.xlsx", "~$periments.xlsx"),  # Excel shortens longer names
        ("runs.xlsx", ".~lock.runs.xlsx#"),  # LibreOffice's lock file
    ],
)
def test_open_workbook_keeps_runs_pending_until_closed(
    tmp_path: Path, name: str, lock_name: str
) -> None:
    target, journal = tmp_path / name, tmp_path / ".sheetlog"
    first = _log(target, journal, 0.1)
    lock = tmp_path / lock_name
    lock.write_bytes(b"\x0aJane Smith" + b"\x20" * 43)  # Excel writes the user's name
    before = target.read_bytes()

    second, message = _log_kept_pending(target, journal, 0.2)
    assert lock_name in message and str(target) in message
    assert "close it" in message
    third, _ = _log_kept_pending(target, journal, 0.3)
    assert target.read_bytes() == before
    assert lock_name in _flush_still_pending(journal, 2)
    assert target.read_bytes() == before

    lock.unlink()
    _flush_delivers(journal, 2)
    assert _run_ids(target) == [first, second, third]


def test_next_run_after_closing_writes_the_kept_runs_too(tmp_path: Path) -> None:
    target, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    first = _log(target, journal, 0.1)
    lock = tmp_path / "~$runs.xlsx"
    lock.touch()
    kept = [_log_kept_pending(target, journal, lr)[0] for lr in (0.2, 0.3, 0.4)]
    lock.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        last = _log(target, journal, 0.5)
    assert _run_ids(target) == [first, *kept, last]


# -- LibreOffice: a real instance holding the workbook open, and the bad files it makes -----------


def _soffice_profile(soffice: str, folder: Path, macro: str | None = None) -> str:
    """A fresh LibreOffice user profile (one per soffice call); optionally with a Basic macro
    as Standard.Module1. Returns the -env:UserInstallation argument."""
    argument = f"-env:UserInstallation={folder.as_uri()}"
    subprocess.run(
        [soffice, argument, "--headless", "--norestore", "--terminate_after_init"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    if macro is not None:
        module = folder / "user" / "basic" / "Standard" / "Module1.xba"
        module.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE script:module PUBLIC'
            ' "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">\n<script:module'
            ' xmlns:script="http://openoffice.org/2000/script" script:name="Module1"'
            f' script:language="StarBasic">{html.escape(macro)}</script:module>',
            encoding="utf-8",
        )
    return argument


def _macro_command(soffice: str, profile: str, macro: str) -> list[str]:
    script = f"vnd.sun.star.script:Standard.Module1.{macro}?language=Basic&location=application"
    return [soffice, profile, "--headless", "--norestore", script]


# Opens the workbook (as a user would) and keeps it open until the stop file appears.
HOLD_OPEN = """Sub Hold
  Dim args(0) As New com.sun.star.beans.PropertyValue
  args(0).Name = "Hidden" : args(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(Environ("SHEETLOG_DOC")), "_blank", 0, args())
  Do While Not FileExists(Environ("SHEETLOG_STOP"))
    Wait 100
  Loop
  doc.close(True)
End Sub
"""

# Saves a password-protected copy (ECMA-376 standard encryption, password "secret").
ENCRYPT = """Sub Encrypt
  Dim args(0) As New com.sun.star.beans.PropertyValue
  args(0).Name = "Hidden" : args(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(Environ("SHEETLOG_DOC")), "_blank", 0, args())
  Dim key(1) As New com.sun.star.beans.NamedValue
  key(0).Name = "OOXPassword" : key(0).Value = "secret"
  key(1).Name = "CryptoType" : key(1).Value = "Standard"
  Dim out(1) As New com.sun.star.beans.PropertyValue
  out(0).Name = "FilterName" : out(0).Value = "Calc MS Excel 2007 XML"
  out(1).Name = "EncryptionData" : out(1).Value = key()
  doc.storeToURL(ConvertToURL(Environ("SHEETLOG_OUT")), out())
  doc.close(True)
End Sub
"""


@pytest.mark.libreoffice
def test_workbook_open_in_libreoffice_is_not_written_until_closed(tmp_path: Path) -> None:
    soffice = find_soffice()
    target, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    first = _log(target, journal, 0.1)
    before = target.read_bytes()
    lock, stop = tmp_path / ".~lock.runs.xlsx#", tmp_path / "stop"
    profile = _soffice_profile(soffice, tmp_path / "profile", HOLD_OPEN)
    office = subprocess.Popen(
        _macro_command(soffice, profile, "Hold"),
        env={**os.environ, "SHEETLOG_DOC": str(target), "SHEETLOG_STOP": str(stop)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not lock.exists() and office.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock.exists(), "LibreOffice did not open the workbook within 60 s"

        second, message = _log_kept_pending(target, journal, 0.2)
        assert ".~lock.runs.xlsx#" in message
        assert target.read_bytes() == before
    finally:
        stop.touch()  # LibreOffice closes the workbook, removes its lock file and exits
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()
            office.wait()
            lock.unlink(missing_ok=True)
    assert not lock.exists()
    _flush_delivers(journal, 1)
    assert _run_ids(target) == [first, second]


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A sheetlog workbook saved by LibreOffice as .xls, as .ods, and encrypted .xlsx."""
    soffice = find_soffice()
    folder = tmp_path_factory.mktemp("office-files")
    source = folder / "runs.xlsx"
    for lr in (0.1, 0.2):
        _log(source, folder / ".sheetlog", lr)
    made = {}
    for kind in ("xls", "ods"):
        profile = _soffice_profile(soffice, folder / f"profile-{kind}")
        subprocess.run(
            [
                soffice,
                profile,
                "--headless",
                "--norestore",
                "--convert-to",
                kind,
                "--outdir",
                str(folder / kind),
                str(source),
            ],
            capture_output=True,
            timeout=180,
            check=True,
        )
        made[kind] = (folder / kind / f"runs.{kind}").read_bytes()
    encrypted = folder / "encrypted.xlsx"
    profile = _soffice_profile(soffice, folder / "profile-encrypt", ENCRYPT)
    subprocess.run(
        _macro_command(soffice, profile, "Encrypt"),
        env={**os.environ, "SHEETLOG_DOC": str(source), "SHEETLOG_OUT": str(encrypted)},
        capture_output=True,
        timeout=180,
        check=True,
    )
    made["encrypted"] = encrypted.read_bytes()

    assert made["xls"].startswith(OLE2)
    assert made["encrypted"].startswith(OLE2)
    assert "EncryptedPackage".encode("utf-16-le") in made["encrypted"]
    assert "EncryptionInfo".encode("utf-16-le") in made["encrypted"]
    assert made["ods"][30:38] == b"mimetype"
    assert b"application/vnd.oasis.opendocument.spreadsheet" in made["ods"][:100]
    return made


def _check_bad_file(tmp_path: Path, content: bytes, says: list[str]) -> None:
    """runs.xlsx holds ``content``: the run is kept, the warning names the file and says what
    to do, the file is untouched; once the file is moved away, flush writes the run."""
    target, journal = tmp_path / "runs.xlsx", tmp_path / ".sheetlog"
    target.write_bytes(content)
    run_id, message = _log_kept_pending(target, journal, 0.5)
    assert str(target) in message
    for phrase in says:
        assert phrase in message
    assert target.read_bytes() == content
    assert str(target) in _flush_still_pending(journal, 1)
    assert target.read_bytes() == content

    moved = tmp_path / "old-runs.bin"
    target.rename(moved)
    _flush_delivers(journal, 1)
    assert _run_ids(target) == [run_id]
    assert moved.read_bytes() == content


@pytest.mark.libreoffice
@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("xls", ["Excel 97-2003 (.xls)", "save it as Excel Workbook (.xlsx)"]),
        ("encrypted", ["password-protected", "Remove the password"]),
        ("ods", ["OpenDocument spreadsheet", "save it as Excel Workbook (.xlsx)"]),
    ],
)
def test_workbook_saved_by_libreoffice_in_another_format_is_left_alone(
    tmp_path: Path, office_files: dict[str, bytes], kind: str, says: list[str]
) -> None:
    _check_bad_file(tmp_path, office_files[kind], says)


def _sheetlog_workbook(folder: Path) -> bytes:
    path = folder / "source.xlsx"
    for lr in (0.1, 0.2):
        _log(path, folder / ".source-journal", lr)
    return path.read_bytes()


def _corrupt_sheet_data(workbook: bytes, folder: Path) -> bytes:
    """The workbook with bytes inside the compressed sheet flipped (its zip directory intact)."""
    path = folder / "corrupt.xlsx"
    path.write_bytes(workbook)
    with zipfile.ZipFile(path) as package:
        info = package.getinfo("xl/worksheets/sheet1.xml")
    with open(path, "rb") as handle:
        handle.seek(info.header_offset + 26)
        name_length, extra_length = (
            int.from_bytes(handle.read(2), "little"),
            int.from_bytes(handle.read(2), "little"),
        )
    start = info.header_offset + 30 + name_length + extra_length + info.compress_size // 2
    data = bytearray(workbook)
    data[start : start + 16] = bytes(b ^ 0xFF for b in data[start : start + 16])
    return bytes(data)


def _plain_zip(folder: Path) -> bytes:
    path = folder / "results.zip"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("results.csv", "lr,acc\n0.1,0.9\n")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("truncated", ["is damaged", "repair it, or restore a backup"]),
        ("corrupt data", ["is damaged", "repair it, or restore a backup"]),
        ("text", ["not an Excel workbook", "move this file away"]),
        ("empty", ["not an Excel workbook", "move this file away"]),
        ("plain zip", ["not an Excel workbook", "move this file away"]),
    ],
)
def test_file_that_is_not_a_workbook_is_left_alone(
    tmp_path: Path, kind: str, says: list[str]
) -> None:
    folder = tmp_path / "made"
    folder.mkdir()
    workbook = _sheetlog_workbook(folder)
    content = {
        "truncated": lambda: workbook[: len(workbook) * 2 // 3],
        "corrupt data": lambda: _corrupt_sheet_data(workbook, folder),
        "text": lambda: b"run_id,lr,acc\nabc,0.1,0.9\n",
        "empty": lambda: b"",
        "plain zip": lambda: _plain_zip(folder),
    }[kind]()
    _check_bad_file(tmp_path, content, says)


# -- misuse: a target that can never be written ---------------------------------------------------


@pytest.mark.parametrize("target", ["runs.txt", "runs.xls", "runs.ods", "runs.xlsb"])
def test_target_sheetlog_cannot_write_is_a_value_error_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"\.xlsx"):
        sheetlog.start_run({"lr": 0.1}, target=target, capture=False)
    with pytest.raises(ValueError, match=r"\.xlsx"):
        sheetlog.log_run({"lr": 0.1}, target=target, capture=False)
    assert list(tmp_path.iterdir()) == []  # no journal, no file created


# -- a workbook whose file must stay the same file: read-only, hard-linked, someone else's --------


def _existing_workbook(folder: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workbook with one run, appended to next by the write path ``how``: ``plain`` (a
    workbook openpyxl made: the whole package is written anew), ``copy`` (a sheetlog workbook:
    the fast path, new file) or ``in-place`` (the fast path, written in place)."""
    path = folder / "runs.xlsx"
    if how == "plain":
        workbook = openpyxl.Workbook()
        workbook.active.title = "Runs"
        workbook.active.append(["run_id", "params.lr"])
        workbook.active.append(["0" * 32, 0.5])
        workbook.save(path)
    else:
        _log(path, folder / ".setup-journal", 0.5)
        _log(path, folder / ".setup-journal", 0.6)
    if how == "in-place":
        monkeypatch.setenv("SHEETLOG_IN_PLACE_ABOVE_BYTES", "0")
    return path


WRITE_PATHS = ["plain", "copy", "in-place"]


@pytest.mark.parametrize("how", WRITE_PATHS)
def test_a_read_only_workbook_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """chmod 444 in a writable folder: a rename could replace it, and must not (also as root)."""
    path = _existing_workbook(tmp_path, how, monkeypatch)
    journal = tmp_path / ".sheetlog"
    path.chmod(0o444)
    content, inode = path.read_bytes(), path.stat().st_ino

    run_id, message = _log_kept_pending(path, journal, 0.1)
    assert "read-only" in message and "chmod u+w" in message
    assert "stay in the journal" in message
    assert path.read_bytes() == content and path.stat().st_ino == inode
    assert path.stat().st_mode & 0o777 == 0o444
    assert "read-only" in _flush_still_pending(journal, 1)

    path.chmod(0o644)
    _flush_delivers(journal, 1)
    assert _run_ids(path)[-1] == run_id


@pytest.mark.parametrize("how", WRITE_PATHS)
def test_a_hard_linked_workbook_keeps_its_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    path = _existing_workbook(tmp_path, how, monkeypatch)
    other_name = tmp_path / "shared" / "team-runs.xlsx"
    other_name.parent.mkdir()
    os.link(path, other_name)
    inode = path.stat().st_ino

    run_id = _log(path, tmp_path / ".sheetlog", 0.1)
    assert path.stat().st_ino == inode and path.stat().st_nlink == 2
    assert _run_ids(other_name)[-1] == run_id
    assert not undo_path(path).exists() or undo_path(path).stat().st_size == 0


@pytest.mark.parametrize("how", WRITE_PATHS)
def test_a_workbook_owned_by_someone_else_keeps_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A workbook of another user that we may write (mode 666): a new file would be ours."""
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    path = _existing_workbook(tmp_path, how, monkeypatch)
    path.chmod(0o666)
    os.chown(path, 65534, 65534)

    run_id = _log(path, tmp_path / ".sheetlog", 0.1)
    status = path.stat()
    assert (status.st_uid, status.st_gid, status.st_mode & 0o777) == (65534, 65534, 0o666)
    assert _run_ids(path)[-1] == run_id


@pytest.mark.parametrize("how", WRITE_PATHS)
def test_a_symlinked_workbook_stays_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    real = _existing_workbook(tmp_path, how, monkeypatch)
    link = tmp_path / "link" / "runs.xlsx"
    link.parent.mkdir()
    link.symlink_to(real)

    run_id = _log(link, tmp_path / ".sheetlog", 0.1)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert _run_ids(real)[-1] == run_id
    assert not list(link.parent.glob(".runs.xlsx.sheetlog-*"))


def test_a_crash_while_a_hard_linked_workbook_is_written_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written into the file itself, under an undo file: a write cut short is put back."""
    path = _existing_workbook(tmp_path, "copy", monkeypatch)
    os.link(path, tmp_path / "other-name.xlsx")
    before = path.read_bytes()
    journal = tmp_path / ".sheetlog"

    def die(_path: Path) -> None:
        with open(path, "r+b") as torn:
            torn.seek(len(before) - 200)
            torn.write(b"\0" * 100)
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as patch:
        patch.setattr(replacing, "clear_undo", die)
        with pytest.raises(KeyboardInterrupt):
            _log(path, journal, 0.1)
    assert path.read_bytes() != before
    assert len(sheetlog.load(str(path))) == 2 and path.read_bytes() == before
    _flush_delivers(journal, 1)
    assert len(_run_ids(tmp_path / "other-name.xlsx")) == 3
