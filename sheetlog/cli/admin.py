"""Housekeeping commands: init, status, flush, doctor, pending."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import warnings
from pathlib import Path

import click

from ..api import flush as flush_runs
from ..doctor import FAIL, diagnose
from ..errors import SheetlogWarning
from ..initialize import init_target
from ..journal import RunInProgress, journal_dir
from ..run import open_journal
from .common import fails_cleanly, format_option, journal_option, takes_target, target_option

table_or_json = format_option(
    "table", "json", help="json: stable keys for scripts (see the README)."
)


@click.command()
@takes_target(positional=True)
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False),
    help="Copy this .xlsx workbook (your formats, charts) instead of sheetlog's own.",
)
@fails_cleanly
def init(target: str | None, template: str | None) -> None:
    """Create the workbook, sheet or Google worksheet TARGET, formatted, before any run.

    A workbook or worksheet that exists is left as it is (exit code 0); sheetlog never
    replaces a workbook, so --template with an existing workbook is an error.

    \b
    Example:
      sheetlog init -t results/runs.xlsx#Sweep1
      sheetlog init --template team-layout.xlsx
    """
    result = init_target(target, template)
    click.echo(result.message, err=True)


@click.command()
@target_option
@journal_option
@table_or_json
@fails_cleanly
def status(target: str | None, journal_dir: str | None, output_format: str) -> None:
    """Runs not written to their target yet, and why, and runs in progress; exit code 1 when
    some are not written (pending, or set aside because their record cannot be read).

    With -t, only the runs of TARGET.

    \b
    Example:
      sheetlog status
      sheetlog status --format json   # {"journal", "runs", "pending": [{"target",
                                      #   "count", "last_error"}], "set_aside": [{"run_id",
                                      #   "reason"}], "in_progress": [{"run_id", "name",
                                      #   "target", "host", "pid", "started", "alive"}]}
    """
    path = _journal_path(journal_dir)
    summary = []
    runs = 0
    aside = []
    running = []
    if path.exists():
        journal = open_journal(path.parent)
        runs = journal.run_count()
        summary = journal.pending_summary()
        aside = [entry for entry in journal.entries() if entry.state == "set aside"]
        running = journal.in_progress()
        if target is not None:
            key = _target_key(target)
            summary = [item for item in summary if item.target == key]
            aside = [entry for entry in aside if entry.target in (key, None)]
            running = [run for run in running if run.target == key]
    if output_format == "json":
        pending = [
            {"target": item.target, "count": item.count, "last_error": item.last_error}
            for item in summary
        ]
        document = {
            "journal": str(path),
            "runs": runs,
            "pending": pending,
            "set_aside": [{"run_id": e.run_id, "reason": e.error} for e in aside],
            "in_progress": [
                {**vars(run), "started": _utc(run.started), "alive": process_alive(run)}
                for run in running
            ],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(f"journal: {path} ({runs:,} runs)")
        for item in summary:
            click.echo(f"{item.count:,} {_runs(item.count)} pending for {item.target}")
            click.echo(f"  last error: {item.last_error or 'none yet (not tried)'}")
        for entry in aside:
            click.echo(f"run {entry.run_id} is set aside: {entry.error}")
        if aside:
            click.echo("  `sheetlog pending --export RUN` prints one, `--drop RUN` removes it")
        if not summary and not aside:
            click.echo("all runs delivered")
        for run in running:
            click.echo(f"in progress: {_describe(run)}")
    if summary or aside:
        raise click.exceptions.Exit(1)


@click.command()
@target_option
@journal_option
@fails_cleanly
def flush(target: str | None, journal_dir: str | None) -> None:
    """Write every pending run (of TARGET, or of all targets); exit code 1 if some stay pending.

    \b
    Example:
      sheetlog flush
      sheetlog flush -t gsheet://1AbC.../Runs
    """
    if not _journal_path(journal_dir).exists():
        click.echo("nothing to flush: no journal yet")
        return
    with warnings.catch_warnings():
        # The reasons are printed below, per target, instead of as warnings.
        warnings.filterwarnings(
            "ignore",
            r"sheetlog: (1 run is|\d+ runs are) kept in the journal",
            SheetlogWarning,
        )
        report = flush_runs(target, journal_dir=journal_dir)
    aside = _set_aside(target, journal_dir)
    if not report.delivered and not report.pending:
        click.echo("nothing to flush: " + ("no run pending" if aside else "all runs delivered"))
    for key in sorted({*report.delivered, *report.pending}):
        delivered = report.delivered.get(key, 0)
        pending = report.pending.get(key, 0)
        if pending:
            click.echo(
                f"{key}: {delivered:,} delivered, {pending:,} still pending: {report.errors[key]}",
                err=True,
            )
        elif delivered:
            click.echo(f"{key}: {delivered:,} {_runs(delivered)} delivered")
        else:
            click.echo(f"{key}: nothing pending")
    if aside:
        click.echo(
            f"{aside:,} {_runs(aside)} set aside, not written: "
            + (
                "its record cannot be read. `sheetlog pending` lists it"
                if aside == 1
                else "their records cannot be read. `sheetlog pending` lists them"
            )
            + "; `sheetlog pending --export RUN` prints one, `--drop RUN` removes it",
            err=True,
        )
    if not report.ok:
        raise click.exceptions.Exit(1)


def _set_aside(target: str | None, directory: str | None) -> int:
    """How many runs (owed to ``target``, or to any) are set aside in the journal."""
    from ..pending import pending_runs

    return sum(entry.state == "set aside" for entry in pending_runs(target, journal_dir=directory))


@click.command()
@takes_target(positional=True)
@journal_option
@table_or_json
@fails_cleanly
def doctor(target: str | None, journal_dir: str | None, output_format: str) -> None:
    """Check that runs can reach TARGET (default: the target in force) and the journal is sound.

    Each check prints ok, warn or FAIL with what to do; exit code 1 if any FAIL.

    \b
    Example:
      sheetlog doctor
      sheetlog doctor -t gsheet://1AbC.../Runs --format json   # [{"check", "status", "detail"}]
    """
    checks = diagnose(target, journal_dir)
    if output_format == "json":
        rows = [{"check": c.check, "status": c.status, "detail": c.detail} for c in checks]
        click.echo(json.dumps(rows, indent=2))
    else:
        width = max(len(c.check) for c in checks)
        for c in checks:
            click.echo(f"{c.status:<4}  {c.check:<{width}}  {c.detail}")
    if any(c.status == FAIL for c in checks):
        raise click.exceptions.Exit(1)


@click.command()
@target_option
@journal_option
@click.option(
    "--drop", "drop_run_id", metavar="RUN", help="Never write RUN (an id, id prefix or name)."
)
@click.option(
    "--retarget",
    nargs=2,
    metavar="RUN TARGET",
    help="Write RUN to TARGET instead (e.g. after a mistyped Google key), now.",
)
@click.option(
    "--export", "export_run_id", metavar="RUN", help="Print RUN's record as stored (JSON)."
)
@table_or_json
@fails_cleanly
def pending(
    target: str | None,
    journal_dir: str | None,
    drop_run_id: str | None,
    retarget: tuple[str, str] | None,
    export_run_id: str | None,
    output_format: str,
) -> None:
    """Runs kept in the journal and not written to their target (of TARGET, or of all), and
    runs set aside because their record cannot be read; exit code 1 when there are some.

    --drop gives up a run (with -t, only its delivery to that target), or forgets a run in
    progress whose process died (see `sheetlog status`); --retarget sends a pending run to
    another target; --export prints a run's record, e.g. to save a set-aside run before
    dropping it. RUN is a run_id, an id prefix or the run's name.

    \b
    Example:
      sheetlog pending
      sheetlog pending --retarget 0a5d2f34 gsheet://1AbC.../Runs
      sheetlog pending --export 0a5d2f34 > run.json && sheetlog pending --drop 0a5d2f34
    """
    from ..pending import drop_run, export_run, pending_runs, retarget_run

    if export_run_id:
        click.echo(export_run(export_run_id, journal_dir=journal_dir))
        return
    if drop_run_id:
        dropped = drop_run(drop_run_id, target, journal_dir=journal_dir)
        where = f" to {target}" if target else ""
        click.echo(f"run {dropped} dropped: it will not be written{where}")
        return
    if retarget:
        run_id, key = retarget_run(retarget[0], retarget[1], journal_dir=journal_dir)
        left = pending_runs(key, journal_dir=journal_dir)
        still = any(entry.run_id == run_id for entry in left)
        click.echo(f"run {run_id} now goes to {key}" + (" (still pending)" if still else ""))
        return
    entries = pending_runs(target, journal_dir=journal_dir)
    if output_format == "json":
        rows = [
            {
                "run_id": e.run_id,
                "name": (e.record or {}).get("name"),
                "target": e.target,
                "state": e.state,
                "attempts": e.attempts,
                "error": e.error,
                "journaled": _utc(e.created),
            }
            for e in entries
        ]
        click.echo(json.dumps(rows, indent=2))
    elif not entries:
        click.echo("no pending runs")
    for entry in entries if output_format != "json" else []:
        name = (entry.record or {}).get("name")
        label = f"{entry.run_id}" + (f" ({name})" if name else "")
        click.echo(f"{label}  {entry.state} for {entry.target or '(no target)'}")
        click.echo(f"  {entry.error or 'not tried yet'}")
    if entries:
        raise click.exceptions.Exit(1)


def process_alive(run: RunInProgress) -> bool | None:
    """Whether the process of a run in progress is alive (None: on another host)."""
    if run.host != socket.gethostname():
        return None
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _describe(run: RunInProgress) -> str:
    name = f" ({run.name})" if run.name else ""
    where = f"pid {run.pid} on {run.host}, started {_utc(run.started)}"
    if process_alive(run) is False:
        where += (
            "; that process has ended without ending the run (killed?):"
            f" `sheetlog pending --drop {run.run_id[:8]}` forgets it"
        )
    return f"{run.run_id}{name} -> {run.target} [{where}]"


def _utc(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).isoformat(timespec="seconds")


def _target_key(target: str) -> str:
    """How the journal names ``target`` (an absolute path, or gsheet://key/worksheet)."""
    from ..targets import open_target, resolve_target

    return open_target(resolve_target(target)).key


def _journal_path(directory: str | None) -> Path:
    return journal_dir(directory) / "journal.db"


def _runs(count: int) -> str:
    return "run" if count == 1 else "runs"


COMMANDS = [init, status, flush, doctor, pending]
