"""Housekeeping commands: init, status, flush, doctor."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import click

from ..api import flush as flush_runs
from ..doctor import FAIL, diagnose
from ..errors import SheetlogWarning
from ..initialize import init_target
from ..journal import journal_dir
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
    """Runs not written to their target yet, and why; exit code 1 when there are some.

    With -t, only the runs pending for TARGET.

    \b
    Example:
      sheetlog status
      sheetlog status --format json   # {"journal", "runs", "pending": [{"target",
                                      #   "count", "last_error"}]}
    """
    path = _journal_path(journal_dir)
    summary = []
    runs = 0
    if path.exists():
        journal = open_journal(path.parent)
        runs = journal.run_count()
        summary = journal.pending_summary()
        if target is not None:
            summary = [item for item in summary if item.target == _target_key(target)]
    if output_format == "json":
        pending = [
            {"target": item.target, "count": item.count, "last_error": item.last_error}
            for item in summary
        ]
        click.echo(json.dumps({"journal": str(path), "runs": runs, "pending": pending}, indent=2))
    else:
        click.echo(f"journal: {path} ({runs:,} runs)")
        for item in summary:
            click.echo(f"{item.count:,} {_runs(item.count)} pending for {item.target}")
            click.echo(f"  last error: {item.last_error or 'none yet (not tried)'}")
        if not summary:
            click.echo("all runs delivered")
    if summary:
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
    if not report.delivered and not report.pending:
        click.echo("nothing to flush: all runs delivered")
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
    if not report.ok:
        raise click.exceptions.Exit(1)


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


def _target_key(target: str) -> str:
    """How the journal names ``target`` (an absolute path, or gsheet://key/worksheet)."""
    from ..targets import open_target, resolve_target

    return open_target(resolve_target(target)).key


def _journal_path(directory: str | None) -> Path:
    return journal_dir(directory) / "journal.db"


def _runs(count: int) -> str:
    return "run" if count == 1 else "runs"


COMMANDS = [init, status, flush, doctor]
