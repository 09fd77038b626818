"""From a target string to a backend, and where the default target comes from.

Target strings: a path ending ``.xlsx`` or ``.xlsm``, optionally followed by ``#SheetName`` (a
``#`` anywhere else is part of the path, see ``split_sheet``); a path ending ``.csv``;
``gsheet://<key>[/<worksheet>]`` or a pasted ``https://docs.google.com/spreadsheets/d/...`` URL.
Resolution order: explicit argument > ``SHEETLOG_TARGET`` > ``target`` under ``[tool.sheetlog]`` in
``pyproject.toml`` or in ``sheetlog.toml`` (the nearest one in the working directory or above it;
a relative path there is relative to that file) > ``runs.xlsx`` in the working directory.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .backends.gsheets.address import is_sheet_target, parse_address
from .errors import ConfigurationError
from .folders import check_writable_folder
from .values import storable_text

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
            settings = read_config(config)
            for key in table:
                settings = settings.get(key, {})
            if settings.get(name):
                if not isinstance(settings[name], str):
                    raise ConfigurationError(
                        f'{config}: {name} must be a text in quotes, e.g. {name} = "runs.xlsx",'
                        f" not {settings[name]!r}"
                    )
                return settings[name], folder
    return None


def read_config(config: Path) -> dict:
    """A ``pyproject.toml`` or ``sheetlog.toml``; ``ConfigurationError`` naming the file when
    it is not valid TOML (every run and command reads it: the error must say which file)."""
    try:
        return tomllib.loads(config.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"{config} is not valid TOML ({error}): fix it, or name the target with -t or"
            " SHEETLOG_TARGET"
        ) from None


def _relative_to(target: str, folder: Path) -> str:
    path, sheet = split_sheet(target)
    if Path(path).expanduser().is_absolute():
        return target
    resolved = str(folder / path)
    return f"{resolved}#{sheet}" if sheet else resolved


def split_sheet(target: str) -> tuple[str, str | None]:
    """A file target's path and sheet name: ``#`` starts the sheet name only right after
    ``.xlsx`` / ``.xlsm`` (and not when what follows holds a ``/``, which no sheet name may);
    any other ``#`` is part of the path (``exp#3/runs#1.xlsx#Sweep``: the path
    ``exp#3/runs#1.xlsx``, the sheet ``Sweep``)."""
    start = 0
    while (found := target.find("#", start)) >= 0:
        rest = target[found + 1 :]
        if target[:found].lower().endswith(EXCEL_SUFFIXES) and not re.search(r"[/\\]", rest):
            return target[:found], rest or None
        start = found + 1
    return target, None


def _credentials_file() -> str | None:
    configured = configured_setting("credentials")
    if configured is None:
        return None
    path, folder = configured
    return str((folder / Path(path).expanduser()).resolve())


def target_key(target: str | os.PathLike[str]) -> str:
    """The key runs are journaled under for a target string, checked as a run starts:
    ConfigurationError for a string that names no target or a file in a folder sheetlog cannot
    write. It imports no backend's library: gspread and google-auth take about a second to
    import, which a run that ends while its Google Sheet is in back-off should not pay."""
    text = os.fspath(target)
    if storable_text(text) != text:  # a lone surrogate: os.fsdecode of a non-UTF-8 name
        raise ConfigurationError(
            f"target {storable_text(text)!r} has a file or folder name that is not UTF-8, which"
            " the journal cannot record: rename it, or log to a file in another folder"
        )
    if is_sheet_target(text):
        return parse_address(text).canonical
    backend = open_target(text)
    path = Path(getattr(backend, "path", ""))
    if path.name and path.is_dir():
        raise ConfigurationError(
            f"target {text!r} is a folder, not a file: name a file in it, e.g."
            f" {path / DEFAULT_TARGET}"
        )
    if path.name:
        check_writable_folder(
            path.parent,
            f"the runs file {path.name}",
            "log to a file in a folder you can write to (e.g. target='~/runs.xlsx'), or make"
            " that folder writable",
        )
    return backend.key


def open_target(
    target: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
) -> Backend:
    """The backend for a target string; ConfigurationError (a ``ValueError``), saying which
    targets exist, for others.

    ``cache_dir`` (the journal's directory): where a backend may remember what it looked up."""
    text = os.fspath(target)
    if is_sheet_target(text):
        from .backends.gsheets.backend import GoogleSheetBackend  # gspread is slow to import

        return GoogleSheetBackend(
            parse_address(text), credentials=_credentials_file(), cache_dir=cache_dir
        )
    path, sheet = split_sheet(text)
    # Backends are imported on first use: a run whose target is in back-off imports none.
    if path.lower().endswith(EXCEL_SUFFIXES):
        from .backends.excel.backend import ExcelBackend

        return ExcelBackend(path, sheet)
    if text.lower().endswith(".csv"):
        from .backends.csv_file import CsvBackend

        return CsvBackend(text)
    if path.lower().endswith(OTHER_SPREADSHEET_SUFFIXES):
        raise ConfigurationError(
            f"target {text!r}: sheetlog writes .xlsx workbooks, not {Path(path).suffix} files. Use"
            " a target ending in .xlsx; to keep logging into this file, open it in Excel or"
            " LibreOffice and save it as Excel Workbook (.xlsx)."
        )
    raise ConfigurationError(
        f"unknown target {text!r}: sheetlog writes to a path ending in .xlsx (optionally followed"
        " by #SheetName), e.g. runs.xlsx or results/runs.xlsx#Sweep1, to a .csv file, or to a"
        " Google Sheet:"
        " gsheet://<key>/<worksheet> or the sheet's https://docs.google.com/spreadsheets/ URL"
        + (_HASH_HELP if "#" in text else "")
    )


_HASH_HELP = (
    ". A '#' right after .xlsx or .xlsm starts the sheet name (runs.xlsx#Sweep1); any other '#'"
    " is part of the path, written as it is (exp#3/runs.xlsx, runs#2.xlsx#Sweep1). A .csv file"
    " has no sheets: a .csv target ends in .csv"
)
