"""``sheetlog init``: create a target's workbook or worksheet before the first run.

What exists is never replaced: a workbook that holds the sheet, or a worksheet that is there,
is left as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .backends.csv_file import CsvBackend
from .backends.excel.backend import ExcelBackend
from .targets import open_target, resolve_target


@dataclass(frozen=True)
class InitResult:
    target: str  # the backend's key (an absolute path, or gsheet://key/worksheet)
    created: bool
    message: str


def init_target(
    target: str | os.PathLike[str] | None = None, template: str | os.PathLike[str] | None = None
) -> InitResult:
    """Create what ``target`` (default: the target in force) lacks: the workbook (a copy of
    ``template``, an .xlsx, or of sheetlog's own), its sheet, or a Google Sheet's worksheet.

    FileExistsError when ``template`` is given for a workbook that exists."""
    backend = open_target(resolve_target(target))
    if isinstance(backend, ExcelBackend):
        return _init_workbook(backend, Path(template) if template else None)
    if template is not None:
        raise ValueError("--template is for workbook (.xlsx) targets only")
    if isinstance(backend, CsvBackend):
        if backend.path.exists():
            return InitResult(backend.key, False, f"{backend.key} already exists, left as it is")
        return InitResult(
            backend.key, False, f"nothing to create: {backend.key} is written with the first run"
        )
    from .backends.gsheets.backend import GoogleSheetBackend  # gspread is slow to import

    assert isinstance(backend, GoogleSheetBackend), backend
    _, worksheet = backend.inspect()
    if worksheet is not None:
        message = f"{backend.key}: worksheet {worksheet!r} already exists, left as it is"
        return InitResult(backend.key, False, message)
    backend.ensure_worksheet()
    return InitResult(backend.key, True, f"added the worksheet {backend.key}")


def _init_workbook(backend: ExcelBackend, template: Path | None) -> InitResult:
    if template is not None:
        _check_template(template, backend.path.suffix)
        if backend.path.exists():
            raise FileExistsError(
                f"{backend.path} already exists; sheetlog never replaces a workbook, so"
                " --template only makes new ones: pick another path, or move that file away"
            )
    # Looked at before locking too: a complete workbook may be open in Excel, which is fine.
    if not backend.has_sheet():
        with backend.lock():
            if backend.path.exists() and not backend.has_sheet():
                backend.write([])  # adds the missing sheet, with a frozen header row
                return InitResult(backend.key, True, f"added the sheet {backend.key}")
            if not backend.path.exists():
                backend.create(template)
                source = f" from {template}" if template else ""
                return InitResult(backend.key, True, f"created {backend.key}{source}")
    return InitResult(backend.key, False, f"{backend.key} already exists, left as it is")


def _check_template(template: Path, suffix: str) -> None:
    if template.suffix.lower() != suffix.lower():
        raise ValueError(
            f"template {template}: the workbook is a {suffix} file, so the template must be one"
            f" too, not {template.suffix or 'a file without suffix'}. Open it in Excel or"
            " LibreOffice and save it as Excel Workbook (.xlsx)."
        )
