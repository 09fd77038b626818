"""From a target string to a backend, and where the default target comes from.

Target strings: a path ending ``.xlsx`` or ``.xlsm``, optionally followed by ``#SheetName``.
Resolution order: explicit argument > ``SHEETLOG_TARGET`` > ``target`` under ``[tool.sheetlog]`` in
``pyproject.toml`` or in ``sheetlog.toml`` (the nearest one in the working directory or above it;
a relative path there is relative to that file) > ``runs.xlsx`` in the working directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .backends.base import Backend
from .backends.excel.backend import ExcelBackend

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
    configured = _configured_target(Path.cwd())
    return configured or DEFAULT_TARGET


def _configured_target(start: Path) -> str | None:
    for folder in (start, *start.parents):
        for name, table in (("pyproject.toml", ("tool", "sheetlog")), ("sheetlog.toml", ())):
            config = folder / name
            if not config.is_file():
                continue
            settings = tomllib.loads(config.read_text(encoding="utf-8"))
            for key in table:
                settings = settings.get(key, {})
            target = settings.get("target")
            if target:
                return _relative_to(target, folder)
    return None


def _relative_to(target: str, folder: Path) -> str:
    path, _, sheet = target.partition("#")
    if Path(path).expanduser().is_absolute():
        return target
    resolved = str(folder / path)
    return f"{resolved}#{sheet}" if sheet else resolved


def open_target(target: str | os.PathLike[str]) -> Backend:
    """The backend for a target string; ValueError, saying which targets exist, for others."""
    text = os.fspath(target)
    path, _, sheet = text.partition("#")
    if path.lower().endswith(EXCEL_SUFFIXES):
        return ExcelBackend(path, sheet or None)
    if path.lower().endswith(OTHER_SPREADSHEET_SUFFIXES):
        raise ValueError(
            f"target {text!r}: sheetlog writes .xlsx workbooks, not {Path(path).suffix} files. Use"
            " a target ending in .xlsx; to keep logging into this file, open it in Excel or"
            " LibreOffice and save it as Excel Workbook (.xlsx)."
        )
    raise ValueError(
        f"unknown target {text!r}: sheetlog writes to a path ending in .xlsx (optionally followed"
        " by #SheetName), e.g. runs.xlsx or results/runs.xlsx#Sweep1"
    )
