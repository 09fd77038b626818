"""What kind of file a workbook path holds, and whether Excel or LibreOffice has it open."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ...errors import TargetLocked, UnsupportedWorkbook

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"


def office_lock_files(path: Path) -> list[Path]:
    """Owner files Excel (``~$name``) and LibreOffice (``.~lock.name#``) keep by an open file."""
    candidates = [
        path.with_name("~$" + path.name),
        path.with_name("~$" + path.name[2:]),  # Excel shortens long names this way
        path.with_name(".~lock." + path.name + "#"),
    ]
    return [candidate for candidate in dict.fromkeys(candidates) if candidate.exists()]


def check_not_open(path: Path) -> None:
    """Raise TargetLocked when the workbook is open in Excel or LibreOffice."""
    locks = office_lock_files(path)
    if locks:
        raise TargetLocked(
            f"{path} is open in Excel or LibreOffice (lock file {locks[0].name}); a row written now"
            " would be lost when they save; close it first. If nobody has it open, delete"
            f" {locks[0]}."
        )


def check_workbook_file(path: Path) -> None:
    """Raise UnsupportedWorkbook, saying what to do, unless ``path`` is an xlsx/xlsm zip package."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        rest = handle.read() if head.startswith(_OLE2) else b""
    if head.startswith(_OLE2):
        if "EncryptedPackage".encode("utf-16-le") in rest:
            raise UnsupportedWorkbook(
                f"{path} is password-protected (encrypted); sheetlog cannot write into it. Remove"
                " the password (File > Info > Protect Workbook) or log to another workbook."
            )
        raise UnsupportedWorkbook(
            f"{path} is an Excel 97-2003 (.xls) workbook; sheetlog writes .xlsx. Open it in Excel"
            " or LibreOffice and save it as Excel Workbook (.xlsx), then use that file as target."
        )
    if not head.startswith(_ZIP):
        raise UnsupportedWorkbook(
            f"{path} is not an Excel workbook (no .xlsx zip package inside). Point sheetlog at an"
            " .xlsx file, or move this file away so sheetlog can create a new workbook there."
        )
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            mimetype = package.read("mimetype") if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise damaged(path, error) from error
    if b"opendocument" in mimetype:
        raise UnsupportedWorkbook(
            f"{path} is an OpenDocument spreadsheet; save it as Excel Workbook (.xlsx)"
            " and use that."
        )
    if "[Content_Types].xml" not in names or "_rels/.rels" not in names:
        raise UnsupportedWorkbook(
            f"{path} is a zip file but not an Excel workbook. Point sheetlog at an .xlsx file, or"
            " move this file away so sheetlog can create a new workbook there."
        )


def damaged(path: Path, error: Exception) -> UnsupportedWorkbook:
    """The error for a workbook whose zip package cannot be read."""
    return UnsupportedWorkbook(
        f"{path} is damaged ({error}); open it in Excel to repair it, or restore a backup."
    )
