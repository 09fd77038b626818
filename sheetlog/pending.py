"""Runs the journal holds but their target does not (yet): list them, show them with the target's
rows, drop them, send them elsewhere, export the ones set aside.

A run stays pending while its target cannot take it (workbook open in Excel, sheet unreachable, a
mistyped Google key: then forever, unless it is retargeted). A record that cannot be decoded is
set aside by delivery (see ``journal``) and listed here too. Reading a target (``load``, ``ls``,
``show``) adds its pending runs, marked in a ``pending`` column, so no run is invisible.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from .backends.base import Table
from .errors import SheetlogError, warn
from .journal import Journal, JournalEntry, RunInProgress, journal_dir
from .schema import match_header
from .targets import open_target, resolve_target

PENDING_COLUMN = "pending"


def existing_journal(directory: str | os.PathLike[str] | None = None) -> Journal | None:
    """The journal of ``directory`` when there is one (reading never creates a journal)."""
    if not (journal_dir(directory) / "journal.db").exists():
        return None
    from .run import open_journal

    return open_journal(directory)


def pending_runs(
    target: str | os.PathLike[str] | None = None,
    *,
    journal_dir: str | os.PathLike[str] | None = None,
) -> list[JournalEntry]:
    """Runs pending (for ``target``, or for every target), then runs set aside, oldest first."""
    journal = existing_journal(journal_dir)
    if journal is None:
        return []
    return journal.entries(_key(target) if target else None)


def runs_in_progress(*, journal_dir: str | os.PathLike[str] | None = None) -> list[RunInProgress]:
    """Runs started with this journal and not ended (their process may have died)."""
    journal = existing_journal(journal_dir)
    return journal.in_progress() if journal is not None else []


def drop_run(
    run: str,
    target: str | os.PathLike[str] | None = None,
    *,
    journal_dir: str | os.PathLike[str] | None = None,
) -> str:
    """Give up writing the pending or set-aside run ``run`` (an id or a unique id prefix) to
    ``target`` (default: every target it is owed to); returns its full id."""
    journal, run_id = _find(run, journal_dir)
    if not journal.drop(run_id, _key(target) if target else None):
        raise SheetlogError(f"run {run_id} is not pending for {target}")
    return run_id


def retarget_run(
    run: str,
    new_target: str | os.PathLike[str],
    *,
    journal_dir: str | os.PathLike[str] | None = None,
) -> tuple[str, str]:
    """Send the pending run ``run`` to ``new_target`` instead of the target it was logged to
    (and then try to write it); returns its full id and the new target's key."""
    from .delivery import deliver

    journal, run_id = _find(run, journal_dir)
    key = _key(new_target)
    if not journal.retarget(run_id, key):
        if any(
            entry.state == "pending" for entry in journal.entries(key) if entry.run_id == run_id
        ):
            raise SheetlogError(
                f"run {run_id} is already pending for {key}: `sheetlog flush` writes it"
            )
        raise SheetlogError(
            f"run {run_id} has nothing pending to move (set aside? export or drop it instead)"
        )
    deliver(journal, key)
    return run_id, key


def export_run(run: str, *, journal_dir: str | os.PathLike[str] | None = None) -> str:
    """The record of a pending or set-aside run as the journal stores it (JSON text)."""
    journal, run_id = _find(run, journal_dir)
    raw = journal.raw_record(run_id)
    if raw is None:
        raise SheetlogError(f"the journal holds no record for run {run_id}")
    return raw


def with_pending(
    table: Table, target_key: str, journal_dir: str | os.PathLike[str] | None = None
) -> Table:
    """``table`` (as read from ``target_key``) with the runs still pending for it added, and a
    ``pending`` column (True for those) — with a warning that says so. Unchanged when nothing
    is pending."""
    try:
        entries = [
            entry
            for entry in pending_runs(None, journal_dir=journal_dir)
            if entry.target == target_key
        ]
    except sqlite3.Error as error:  # a journal that cannot be read must not hide the target
        warn(f"sheetlog: runs pending in the journal are not shown: it cannot be read ({error})")
        return table
    if not entries:
        return table
    header = list(table.header)
    id_column = match_header(header, ["run_id"]).get("run_id")
    present = {str(row[id_column]) for row in table.rows if id_column is not None}
    records = [
        record
        for record in (entry.record for entry in entries if entry.state == "pending")
        if record is not None and record["run_id"] not in present
    ]
    aside = [entry.run_id for entry in entries if entry.state != "pending"]
    if aside:
        warn(
            f"sheetlog: {len(aside)} run(s) for {target_key} are set aside in the journal"
            f" (their record cannot be read), e.g. {aside[0]}: see `sheetlog pending`"
        )
    if not records:
        return table
    names = list(dict.fromkeys(name for record in records for name in record))
    where = match_header(header, names)
    for name in names:
        if name not in where:
            where[name] = len(header)
            header.append(name)
    where[PENDING_COLUMN] = len(header)
    header.append(PENDING_COLUMN)
    width = len(header)
    rows = [[*row, *[None] * (width - len(row) - 1), False] for row in table.rows]
    for record in records:
        row: list[Any] = [None] * width
        for name, value in record.items():
            row[where[name]] = value
        row[-1] = True
        rows.append(row)
    warn(
        f"sheetlog: {_runs(len(records))} not written to {target_key} yet and shown from the"
        " journal, marked pending; `sheetlog status` says why, `sheetlog pending` lists them"
    )
    return Table(header, rows, table.nonfinite_texts)


def _runs(count: int) -> str:
    return "1 run is" if count == 1 else f"{count:,} runs are"


def _key(target: str | os.PathLike[str]) -> str:
    return open_target(resolve_target(target)).key


def _find(run: str, directory: str | os.PathLike[str] | None) -> tuple[Journal, str]:
    journal = existing_journal(directory)
    if journal is None:
        raise SheetlogError(f"there is no journal in {Path(journal_dir(directory))}")
    names = {entry.run_id: (entry.record or {}).get("name") for entry in journal.entries()}
    names |= {r.run_id: r.name for r in journal.in_progress()}
    ids = sorted(names)
    matches = [run_id for run_id in ids if run_id == run] or [
        run_id for run_id in ids if run_id.startswith(run)
    ]
    if not matches:  # a run name, as every other command takes
        matches = [run_id for run_id in ids if names[run_id] == run]
        if len(matches) > 1:
            raise SheetlogError(
                f"{len(matches)} pending runs are named {run!r}: give the id of one"
                " (`sheetlog pending` lists them)"
            )
    if not matches:
        raise SheetlogError(
            f"no pending, set-aside or in-progress run {run!r}: `sheetlog pending` and"
            " `sheetlog status` list them"
        )
    if len(matches) > 1:
        raise SheetlogError(f"{run!r} matches {len(matches)} pending runs: give more of the id")
    return journal, matches[0]
