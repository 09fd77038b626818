"""From a target string to a backend, and where the default target comes from.

Target strings: a path ending ``.xlsx`` or ``.xlsm``, optionally followed by ``#SheetName``; a
path ending ``.csv``;
``gsheet://<key>[/<worksheet>]`` or a pasted ``https://docs.google.com/spreadsheets/d/...`` URL.
Resolution order: explicit argument > ``SHEETLOG_TARGET`` > ``target`` under ``[tool.sheetlog]`` in
``pyproject.toml`` or in ``sheetlog.toml`` (the nearest one in the working directory or above it;
a relative path there is relative to that file) > ``runs.xlsx`` in the working directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .backends.gsheets.address import is_sheet_target, parse_address

if TYPE_CHECKING:
    from .backends.base import Backend

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_TARGET = "runs.xlsx"
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
OTHER_SPREADSHEET_SUFFIXES = (".xls", ".xlsb", ".ods")


def resolve_target(explicit: str | os.PathLike[str] | None = None) -> str:
    """The target string in force (see the module docstring for the order)."""
    if explicit:
        return os.fspath(explicit)
    from_env = os.environ.get("SHEETLOG_TARGET")
    if from_env:
        return from_env
    configured = configured_setting("target")
    if configured is None:
        return DEFAULT_TARGET
    target, folder = configured
    return target if is_sheet_target(target) else _relative_to(target, folder)


def configured_setting(name: str, start: Path | None = None) -> tuple[str, Path] | None:
    """``name`` under ``[tool.sheetlog]`` in the nearest ``pyproject.toml``, or in
    ``sheetlog.toml``, with the folder of the file it came from."""
    start = start or Path.cwd()
    for folder in (start, *start.parents):
        for file_name, table in (("pyproject.toml", ("tool", "sheetlog")), ("sheetlog.toml", ())):
            config = folder / file_name
            if not config.is_file():
                continue
            settings = tomllib.loads(config.read_text(encoding="utf-8"))
            for key in table:
                settings = settings.get(key, {})
            if settings.get(name):
                return str(settings[name]), folder
    return None


def _relative_to(target: str, folder: Path) -> str:
    path, _, sheet = target.partition("#")
    if Path(path).expanduser().is_absolute():
        return target
    resolved = str(folder / path)
    return f"{resolved}#{sheet}" if sheet else resolved


def _credentials_file() -> str | None:
    configured = configured_setting("credentials")
    if configured is None:
        return None
    path, folder = configured
    return str((folder / Path(path).expanduser()).resolve())


def target_key(target: str | os.PathLike[str]) -> str:
    """The key runs are journaled under for a target string (ValueError, as ``open_target``,
    for a string that names no target), without importing a backend's library: gspread and
    google-auth take about a second to import, which a run that ends while its Google Sheet is
    in back-off should not pay."""
    text = os.fspath(target)
    if is_sheet_target(text):
        return parse_address(text).canonical
    return open_target(text).key


def open_target(
    target: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
) -> Backend:
    """The backend for a target string; ValueError, saying which targets exist, for others.

    ``cache_dir`` (the journal's directory): where a backend may remember what it looked up."""
    text = os.fspath(target)
    if is_sheet_target(text):
        from .backends.gsheets.backend import GoogleSheetBackend  # gspread is slow to import

        return GoogleSheetBackend(
            parse_address(text), credentials=_credentials_file(), cache_dir=cache_dir
        )
    path, _, sheet = text.partition("#")
    # Backends are imported on first use: a run whose target is in back-off imports none.
    if path.lower().endswith(EXCEL_SUFFIXES):
        from .backends.excel.backend import ExcelBackend

        return ExcelBackend(path, sheet or None)
    if text.lower().endswith(".csv"):
        from .backends.csv_file import CsvBackend

        return CsvBackend(text)
    if path.lower().endswith(OTHER_SPREADSHEET_SUFFIXES):
        raise ValueError(
            f"target {text!r}: sheetlog writes .xlsx workbooks, not {Path(path).suffix} files. Use"
            " a target ending in .xlsx; to keep logging into this file, open it in Excel or"
            " LibreOffice and save it as Excel Workbook (.xlsx)."
        )
    raise ValueError(
        f"unknown target {text!r}: sheetlog writes to a path ending in .xlsx (optionally followed"
        " by #SheetName), e.g. runs.xlsx or results/runs.xlsx#Sweep1, to a .csv file, or to a"
        " Google Sheet:"
        " gsheet://<key>/<worksheet> or the sheet's https://docs.google.com/spreadsheets/ URL"
    )
