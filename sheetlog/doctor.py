"""``sheetlog doctor``: check that runs can reach their target, each check saying what to do.

Each check is ``ok``, ``warn`` (runs are kept, but something needs a look) or ``FAIL`` (runs will
stay pending until it is fixed). Checks that depend on a failed one are left out.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .backends.base import Backend
from .backends.csv_file import CsvBackend
from .backends.excel.backend import ExcelBackend
from .backends.excel.files import office_lock_files
from .backends.excel.undo import inspect as inspect_undo
from .backends.excel.undo import needs_recovery, undo_path
from .errors import SheetlogWarning, TargetError
from .journal import JournalEntry, JournalUnavailable, journal_dir
from .run import open_journal
from .targets import (
    DEFAULT_TARGET,
    configured_setting,
    open_target,
    read_config,
    resolve_target,
)

OK, WARN, FAIL = "ok", "warn", "FAIL"
LOW_DISK_BYTES = 100 * 1024**2


@dataclass(frozen=True)
class Check:
    check: str
    status: str  # "ok", "warn" or "FAIL"
    detail: str


def diagnose(
    target: str | os.PathLike[str] | None = None,
    journal: str | os.PathLike[str] | None = None,
) -> list[Check]:
    """Every check for ``target`` (default: the one in force) and the journal directory."""
    return [*target_checks(target), *journal_checks(journal)]


def target_checks(explicit: str | os.PathLike[str] | None = None) -> Iterator[Check]:
    target = resolve_target(explicit)
    try:
        backend = open_target(target)
    except ValueError as error:
        yield Check("target", FAIL, str(error))
        return
    yield Check("target", OK, f"{backend.key} (from {target_source(explicit)})")
    if isinstance(backend, ExcelBackend):
        yield _folder_check(backend.path)
        yield from _workbook_checks(backend)
    elif isinstance(backend, CsvBackend):
        yield _folder_check(backend.path)
        yield _file_check(backend)
    else:
        yield from _sheet_checks(backend)


def target_source(explicit: str | os.PathLike[str] | None) -> str:
    """Where the target in force comes from, in words."""
    if explicit:
        return "the argument"
    if os.environ.get("SHEETLOG_TARGET"):
        return "SHEETLOG_TARGET"
    configured = configured_setting("target")
    if configured is not None:
        return str(_config_file(configured[1]))
    return f"the default, {DEFAULT_TARGET} in the working directory"


def _config_file(folder: Path) -> Path:
    """Which of the folder's config files sets the target (pyproject.toml comes first)."""
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        settings = read_config(pyproject)
        if settings.get("tool", {}).get("sheetlog", {}).get("target"):
            return pyproject
    return folder / "sheetlog.toml"


def _folder_check(path: Path) -> Check:
    folder = path.parent
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        return Check(
            "folder",
            FAIL,
            f"cannot write in {existing}: change its permissions, or log to another folder",
        )
    if existing != folder:
        return Check("folder", OK, f"{folder} will be created with the first run")
    return Check("folder", OK, f"{folder} is writable")


def _workbook_checks(backend: ExcelBackend) -> Iterator[Check]:
    path = backend.path
    undo = _undo_check(backend)
    if undo is not None:
        yield undo
        if undo.status == FAIL:
            return
    if not path.exists():
        yield Check("workbook", OK, f"{path.name} will be created by the first run (or init)")
    else:
        try:
            has_sheet = backend.has_sheet()
        except (TargetError, OSError) as error:
            yield Check("workbook", FAIL, str(error))
            return
        sheet = backend.sheet or "Runs"
        where = f"sheet {sheet!r} is there" if has_sheet else f"sheet {sheet!r} will be added"
        yield Check("workbook", OK, f"{path.name} is a readable workbook; {where}")
    locks = office_lock_files(path)  # checked by every write, even of a new workbook
    if locks:
        yield Check(
            "lock files",
            WARN,
            f"{path.name} is open in Excel or LibreOffice ({locks[0].name}): runs stay pending"
            f" in the journal until it is closed. If nobody has it open, delete {locks[0]}.",
        )
    else:
        yield Check("lock files", OK, f"{path.name} is not open in Excel or LibreOffice")


def _undo_check(backend: ExcelBackend) -> Check | None:
    """The undo file an append cut short left next to the workbook: named, with what sheetlog
    does with it (put the workbook back, or discard it when it was made for another file); the
    workbook's lock, taken here, does it."""
    path = backend.path
    if not needs_recovery(path):
        return None
    try:
        verdict = inspect_undo(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SheetlogWarning)  # said by this check
            with backend.lock():
                pass
    except (TargetError, OSError) as error:
        return Check("interrupted append", FAIL, f"{undo_path(path)}: {error}")
    return Check("interrupted append", WARN, f"{undo_path(path)}: {verdict.reason}")


def _file_check(backend: CsvBackend) -> Check:
    if not backend.path.exists():
        return Check("file", OK, f"{backend.path.name} will be created by the first run")
    try:
        backend.read()
    except TargetError as error:
        return Check("file", FAIL, str(error))
    return Check("file", OK, f"{backend.path.name} is a readable CSV file")


def _sheet_checks(backend: Backend) -> Iterator[Check]:
    from .backends.gsheets.backend import GoogleSheetBackend  # gspread is slow to import

    assert isinstance(backend, GoogleSheetBackend), backend
    try:
        identity = backend.identity
    except TargetError as error:
        yield Check("credentials", FAIL, str(error))
        return
    yield Check("credentials", OK, f"requests go as {identity}")
    try:
        title, worksheet = backend.inspect()
    except TargetError as error:
        yield Check("spreadsheet", FAIL, str(error))
        return
    yield Check("spreadsheet", OK, f"{title!r} is reachable")
    if worksheet is None:
        name = backend.address.worksheet or "Runs"
        yield Check("worksheet", OK, f"{name!r} will be added by the first run (or init)")
    else:
        yield Check("worksheet", OK, f"{worksheet!r} is there")
    try:
        backend.check_can_edit()
    except TargetError as error:
        yield Check("write access", FAIL, str(error))
        return
    yield Check("write access", OK, f"{identity} may edit the spreadsheet")


def journal_checks(directory: str | os.PathLike[str] | None = None) -> Iterator[Check]:
    folder = journal_dir(directory)
    path = folder / "journal.db"
    if path.exists():
        try:
            journal = open_journal(folder)
            runs = journal.run_count()
        except JournalUnavailable as error:  # a full disk, most likely
            yield Check("journal", FAIL, str(error))
            yield _disk_check(folder)
            return
        except sqlite3.Error as error:
            yield Check(
                "journal",
                FAIL,
                f"cannot open {path} ({error}): move it away (a new one is started; runs still"
                " pending in it can be recovered with sqlite3's .recover)",
            )
            return
        yield Check("journal", OK, f"{path} holds {runs:,} run{'' if runs == 1 else 's'}")
        yield _integrity_check(journal.integrity_problems(), path)
        yield _pending_check(sum(item.count for item in journal.pending_summary()))
        yield _set_aside_check([e for e in journal.entries() if e.state == "set aside"])
    else:
        yield Check("journal", OK, f"{path} will be created by the first run")
    yield _disk_check(folder)


def _integrity_check(problems: list[str], path: Path) -> Check:
    if problems:
        return Check(
            "integrity",
            FAIL,
            f"{path} is damaged ({problems[0]}): stop logging, copy it away and rebuild it"
            f" with: sqlite3 {path.name} .recover | sqlite3 recovered.db",
        )
    return Check("integrity", OK, "SQLite quick_check passed")


def _pending_check(count: int) -> Check:
    if count:
        runs = "1 run is" if count == 1 else f"{count:,} runs are"
        return Check(
            "pending",
            WARN,
            f"{runs} not written yet: 'sheetlog status' says why, 'sheetlog flush' retries",
        )
    return Check("pending", OK, "every run is written")


def _set_aside_check(entries: list[JournalEntry]) -> Check:
    if not entries:
        return Check("unreadable runs", OK, "every run in the journal can be read")
    first = entries[0]
    more = f" and {len(entries) - 1:,} more" if len(entries) > 1 else ""
    return Check(
        "unreadable runs",
        FAIL,
        f"run {first.run_id}{more} cannot be written: {first.error}. Save it with"
        f" `sheetlog pending --export {first.run_id}` (fix it by hand and log it again if you"
        f" like), then `sheetlog pending --drop {first.run_id}`",
    )


def _disk_check(folder: Path) -> Check:
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    free = shutil.disk_usage(existing).free
    detail = f"{free / 1024**3:,.1f} GB free for the journal"
    if free < LOW_DISK_BYTES:
        return Check("disk space", WARN, detail + ": runs cannot be kept when the disk is full")
    return Check("disk space", OK, detail)
