"""Sync two runs tables (workbook, CSV, Google Sheet): rows matched by run_id, never deleted.

``plan_sync`` compares what both targets hold and says what to do: runs to append, empty cells
to fill from the other side, and conflicts (both sides hold different values), which are left as
they are unless a side is preferred. ``apply_sync`` carries a plan out. A second sync of two
targets in step finds nothing to do and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .backends.base import Backend, Table
from .errors import warn
from .journal import journal_dir
from .reading import with_nonfinite_floats
from .run import open_journal
from .schema import match_header, order_columns
from .targets import open_target
from .values import to_cell

BATCH_RUNS = 2_000
Prefer = Literal["src", "dst"] | None


@dataclass
class Side:
    """One target as read: its named columns and its rows by run_id."""

    target: str
    backend: Backend
    header: list[str]
    rows: dict[str, dict[str, Any]]
    without_run_id: int = 0
    duplicates: int = 0


@dataclass
class Conflict:
    run_id: str
    column: str
    src: Any
    dst: Any


@dataclass
class Changes:
    """What one side receives."""

    append: list[dict[str, Any]] = field(default_factory=list)
    fill: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_columns: list[str] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return sum(len(cells) for cells in self.fill.values())

    @property
    def empty(self) -> bool:
        return not self.append and not self.fill


@dataclass
class SyncPlan:
    src: Side
    dst: Side
    to_dst: Changes
    to_src: Changes
    conflicts: list[Conflict]

    @property
    def empty(self) -> bool:
        return self.to_dst.empty and self.to_src.empty


def read_side(target: str, must_exist: bool = False) -> Side:
    """``target`` as read; ``must_exist``: a workbook or CSV file that is not there is an
    error (a source that does not exist is a typo more often than an empty table)."""
    backend = open_target(target)
    path = getattr(backend, "path", None)
    if must_exist and path is not None and not path.exists():
        raise FileNotFoundError(f"{target} does not exist")
    return side_of(target, backend, backend.read())


def side_of(target: str, backend: Backend, table: Table) -> Side:
    table = with_nonfinite_floats(table)  # a workbook's "NaN" text: a float, as load() says
    header = [name for name in table.header if name]
    side = Side(target, backend, header, {})
    id_column = match_header(table.header, ["run_id"]).get("run_id")
    for row in table.rows:
        run_id = row[id_column] if id_column is not None and id_column < len(row) else None
        if run_id in (None, ""):
            side.without_run_id += 1
            continue
        run_id = str(run_id)
        if run_id in side.rows:
            side.duplicates += 1
            continue
        side.rows[run_id] = {
            name: to_cell(value)
            for name, value in zip(table.header, row, strict=False)
            if name and value is not None
        }
    return side


def plan_sync(src: Side, dst: Side, *, two_way: bool = False, prefer: Prefer = None) -> SyncPlan:
    plan = SyncPlan(src, dst, Changes(), Changes(), [])
    _one_way(src, dst, plan.to_dst, plan.conflicts, overwrite=prefer == "src")
    if two_way:
        conflicts: list[Conflict] = []  # the same ones, seen from the other side
        _one_way(dst, src, plan.to_src, conflicts, overwrite=prefer == "dst")
    return plan


def _one_way(
    source: Side, sink: Side, changes: Changes, conflicts: list[Conflict], *, overwrite: bool
) -> None:
    names = order_columns(dict.fromkeys(name for row in source.rows.values() for name in row))
    in_sink = match_header(sink.header, names)
    for run_id, row in source.rows.items():
        there = sink.rows.get(run_id)
        if there is None:
            changes.append.append(row)
            continue
        for name, value in row.items():
            theirs = there.get(sink.header[in_sink[name]]) if name in in_sink else None
            if theirs is None:
                changes.fill.setdefault(run_id, {})[name] = value
            elif not same_value(value, theirs):
                conflicts.append(Conflict(run_id, name, value, theirs))
                if overwrite:
                    changes.fill.setdefault(run_id, {})[name] = value
    used = {n for row in changes.append for n in row} | {
        n for cells in changes.fill.values() for n in cells
    }
    changes.new_columns = [n for n in names if n not in in_sink and n in used]


def note_synced(target: str, run_ids: list[str]) -> None:
    """Tell the local journal (``SHEETLOG_DIR`` or ``.sheetlog``, when there is one) that these
    runs are in ``target`` now: any of them it still owes ``target`` is looked for there
    before it is written, and never appended twice."""
    directory = journal_dir()
    if not run_ids or not (directory / "journal.db").is_file():
        return
    try:
        open_journal(directory).note_maybe_written(target, run_ids)
    except sqlite3.Error as error:  # the sync itself is done: say it, don't fail it
        warn(
            f"sheetlog: the runs this sync wrote to {target} could not be noted in the journal"
            f" {directory} ({error}); the sync itself is complete"
        )


def same_value(a: Any, b: Any) -> bool:
    """Equal as a user would see it: numbers to 1e-9, times to the millisecond (what a
    workbook keeps), text exactly."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (not isinstance(a, str) and not isinstance(b, str) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a != a or b != b:  # NaN
            return a != a and b != b
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return abs(_naive_utc(a) - _naive_utc(b)) <= dt.timedelta(milliseconds=1)
    return str(a) == str(b)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def apply_sync(plan: SyncPlan, progress: Callable[[int], None] | None = None) -> None:
    """Carry the plan out: appends in batches of ``BATCH_RUNS`` (``progress(n)`` after each),
    then the cells to fill. Nothing is written to a side with nothing to receive.

    Runs to append are looked for again under the side's lock: another sync (or a run's
    delivery) may have written them since the plan read the side, and a run is never
    appended twice. Runs appended that the local journal still owes that side are then
    looked for there before the journal writes them (``note_synced``)."""
    for side, changes in ((plan.dst, plan.to_dst), (plan.src, plan.to_src)):
        if changes.empty:
            continue
        with side.backend.lock():
            appends = changes.append
            if appends:
                there = side_of(side.target, side.backend, side.backend.read()).rows
                appends = [row for row in appends if row["run_id"] not in there]
                if progress is not None and len(appends) < len(changes.append):
                    progress(len(changes.append) - len(appends))
            for start in range(0, len(appends), BATCH_RUNS):
                batch = appends[start : start + BATCH_RUNS]
                result = side.backend.write(batch)
                if result.rejected:
                    run_id, why = next(iter(result.rejected.items()))
                    raise ValueError(
                        f"{side.target} refused {len(result.rejected)} run(s), e.g. {run_id}: {why}"
                    )
                note_synced(side.backend.key, result.written)
                if progress is not None:
                    progress(len(batch))
            if changes.fill:
                side.backend.update(changes.fill)
