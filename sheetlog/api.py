"""The functions most users call: ``start_run``, ``log_run``, ``flush``, ``load``, and the
questions asked of the runs: ``select``, ``best``, ``diff`` (see ``sheetlog.query``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .context import CaptureOptions
from .delivery import DeliveryReport
from .delivery import flush as _flush
from .run import Run, open_journal
from .targets import open_target, resolve_target
from .values import end_status

if TYPE_CHECKING:
    import pandas

    from .query import BestRun, RunDiff


def start_run(
    params: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    notes: str | None = None,
    target: str | os.PathLike[str] | None = None,
    capture: bool | CaptureOptions | Iterable[str] | None = True,
    journal_dir: str | os.PathLike[str] | None = None,
) -> Run:
    """Start a run; use it as a context manager, or call ``run.finish()`` yourself.

    ``target`` defaults to ``SHEETLOG_TARGET``, then the project's config, then ``runs.xlsx``.
    ``capture`` chooses the context recorded: True (all), False (none), or names among
    ``"git"``, ``"command"``, ``"host"``, ``"system"``.
    """
    return Run(
        name=name,
        params=params,
        tags=tags,
        notes=notes,
        target=target,
        capture=capture,
        journal_dir=journal_dir,
    )


def log_run(
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    *,
    model_path: str | os.PathLike[str] | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    notes: str | None = None,
    status: str = "FINISHED",
    target: str | os.PathLike[str] | None = None,
    capture: bool | CaptureOptions | Iterable[str] | None = True,
    journal_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Log a finished run in one call: one row. Returns the row as written."""
    status = end_status(status)  # before the run starts: a mistake must not leave it running
    run = start_run(
        params,
        name=name,
        tags=tags,
        notes=notes,
        target=target,
        capture=capture,
        journal_dir=journal_dir,
    )
    if metrics:
        run.log_metrics(metrics)
    if model_path is not None:
        run.log_model(model_path)
    return run.finish(status)


def flush(
    target: str | os.PathLike[str] | None = None,
    *,
    journal_dir: str | os.PathLike[str] | None = None,
) -> DeliveryReport:
    """Write every pending run (of one target, or of all); returns what was delivered and what
    is still pending, and why."""
    key = open_target(resolve_target(target)).key if target else None
    return _flush(open_journal(journal_dir), key)


def load(
    target: str | os.PathLike[str] | None = None,
    *,
    pending: bool = True,
    journal_dir: str | os.PathLike[str] | None = None,
) -> pandas.DataFrame:
    """The runs table as a pandas DataFrame, one row per run, values typed.

    Runs the journal has not written to the target yet (workbook open in Excel, sheet
    unreachable) are included, with a warning, and a ``pending`` column True for them, unless
    ``pending=False``."""
    from .pending import with_pending
    from .reading import to_dataframe

    backend = open_target(resolve_target(target))
    table = backend.read()
    return to_dataframe(with_pending(table, backend.key, journal_dir) if pending else table)


def load_history(
    run_id: str, key: str | None = None, *, journal_dir: str | os.PathLike[str] | None = None
) -> pandas.DataFrame:
    """Every metric value a run logged (columns ``key``, ``step``, ``value``, ``time`` in UTC),
    from the journal of the machine that ran it.

    ``run_id`` may name the run as the command line does: a run_id, a unique run_id prefix of 4
    or more characters, or a name (the newest run of that name; a warning names the others)."""
    import pandas as pd

    from .errors import RunNotFound, warn
    from .history import writer
    from .run_names import RunRef, pick_run

    writer.wait()  # blocks of runs of this process still on their way to the journal
    journal = open_journal(journal_dir)
    refs = [
        RunRef(found, name if isinstance(name, str) else None, created, position)
        for position, (found, name, created) in enumerate(journal.runs_answering(run_id))
    ]
    try:
        pick = pick_run(run_id, refs, f"the journal {journal.directory}")
        run_id = pick.run.run_id
        if pick.note:
            warn(f"sheetlog: {pick.note}")
    except RunNotFound:
        # A run still in progress has history before it has a record: its run_id as given.
        if refs or not journal.metric_steps(run_id):
            raise
    steps = journal.metric_steps(run_id, key)
    frame = pd.DataFrame(steps, columns=["key", "step", "value", "time"])
    frame["step"] = frame["step"].astype("Int64")
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame


def select(
    target: str | os.PathLike[str] | None = None,
    *,
    where: Iterable[str] | str = (),
    sort: str | None = None,
    desc: bool = False,
    limit: int | None = None,
) -> pandas.DataFrame:
    """The runs ``sheetlog ls`` lists, as a DataFrame: those ``where`` selects
    (``"lr<0.05"``, ``"name~^sweep"``; all must hold), by ``sort`` or oldest first; ``limit``
    keeps the N most recent, or with a metric ``sort`` the N best (see ``sheetlog.query``)."""
    from .query import select_rows
    from .reading import plain_table, to_dataframe

    table = plain_table(open_target(resolve_target(target)).read())
    chosen = select_rows(table, [where] if isinstance(where, str) else where, sort, desc, limit)
    return to_dataframe(table).iloc[chosen.rows]


def best(
    metric: str,
    target: str | os.PathLike[str] | None = None,
    *,
    direction: Literal["min", "max"] | None = None,
    where: Iterable[str] | str = (),
) -> BestRun:
    """The FINISHED run with the best value of ``metric``, its ties and the runner-up.

    Lower or higher is better as ``direction`` says, else as the runs declared with
    ``run.define_metric`` (kept in their ``metric_goals`` column), else as the metric's name
    suggests (``result.goal.source == "name"``)."""
    from .query import best as best_of

    name = str(target) if target is not None else resolve_target(None)
    return best_of(select(target, where=where), metric, direction, name)


def diff(
    *runs: str, target: str | os.PathLike[str] | None = None, with_all: bool = False
) -> RunDiff:
    """Compare two or more runs (run_ids, unique run_id prefixes or names): the columns that
    differ, numeric deltas against the first run, and the code changes between them."""
    from .query import diff as diff_of
    from .query import find_run

    frame = load(target)
    name = str(target) if target is not None else resolve_target(None)
    return diff_of([find_run(frame, key, name) for key in runs], with_all)
