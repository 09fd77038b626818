"""``sheetlog log`` (one row from the shell) and ``sheetlog run`` (wrap a training command)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shlex
import signal
from typing import Any

import click

from .. import attach
from ..api import log_run, start_run
from ..run import Run
from ..schema import clean_key
from ..values import CellValue, nonfinite_text
from .arguments import assignments, command_params
from .common import FormatChoice, fails_cleanly, journal_option, target_option
from .output_metrics import OutputMetrics
from .wrap import Outcome, run_command

_STATUSES = ["FINISHED", "FAILED", "KILLED"]


def _key_values(_ctx: click.Context, _param: click.Parameter, texts: tuple[str, ...]) -> dict:
    try:
        return assignments(texts)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _metric_values(ctx: click.Context, param: click.Parameter, texts: tuple[str, ...]) -> dict:
    metrics = _key_values(ctx, param, texts)
    for key, value in metrics.items():
        if not isinstance(value, (int, float)):
            raise click.BadParameter(f"metric {key!r} must be a number, not {value!r}")
    return metrics


def _key_value_option(*names: str, callback: Any = _key_values, help: str) -> Any:
    return click.option(*names, multiple=True, metavar="KEY=VALUE", callback=callback, help=help)


@click.command("log")
@target_option
@journal_option
@_key_value_option(
    "-p", "--param", "params", help="A hyper-parameter (repeatable); optimizer.lr=0.1 nests."
)
@_key_value_option(
    "-m", "--metric", "metrics", callback=_metric_values, help="A metric, a number (repeatable)."
)
@click.option(
    "--model",
    "model_path",
    metavar="PATH",
    help="The model file or directory: model_path, model_size and model_sha256 columns.",
)
@click.option("--name", help="The run's name.")
@_key_value_option("--tag", "tags", help="A tag (repeatable).")
@click.option("--notes", help="Free text for the notes column.")
@click.option(
    "--status",
    type=click.Choice(_STATUSES, case_sensitive=False),
    default="FINISHED",
    show_default=True,
    help="How the run ended.",
)
@click.option(
    "--format",
    "output",
    type=FormatChoice(["id", "json"], {"text": "id", "table": "id"}),
    default="id",
    show_default=True,
    help="id: the run_id; json: the row as written, {column: value}, times in ISO 8601 UTC,"
    ' NaN and infinities as "NaN", "inf", "-inf".',
)
@fails_cleanly
def log(
    target: str | None,
    journal_dir: str | None,
    params: dict[str, CellValue],
    metrics: dict[str, CellValue],
    model_path: str | None,
    name: str | None,
    tags: dict[str, CellValue],
    notes: str | None,
    status: str,
    output: str,
) -> None:
    """Log one finished run from the shell: one row. Prints its run_id.

    Values are typed: 3 is a number, 0.01 and 1e-4 too, true/false (any case) booleans,
    nan/inf/-inf numbers, null an empty cell; anything else is text, and so is a value in double
    quotes (-p 'id="007"'). The context (git, host, ...) is that of the shell's directory.

    \b
    Example:
      sheetlog log -p lr=0.01 -p optimizer.name=adam -m accuracy=0.91 --name baseline
      run_id=$(sheetlog log -t results.xlsx -p lr=0.1 -m loss=0.25 --status FAILED)
    """
    row = log_run(
        params,
        metrics,
        model_path=model_path,
        name=name,
        tags=tags,
        notes=notes,
        status=status.upper(),
        target=target,
        journal_dir=journal_dir,
    )
    click.echo(_json_row(row) if output == "json" else row["run_id"])


def _json_row(row: dict[str, CellValue]) -> str:
    def plain(value: CellValue) -> Any:
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.timezone.utc).isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            return nonfinite_text(value)
        return value

    return json.dumps({column: plain(value) for column, value in row.items()}, ensure_ascii=False)


@click.command("run", context_settings={"allow_interspersed_args": False})
@target_option
@journal_option
@_key_value_option(
    "-p",
    "--param",
    "params",
    help="A hyper-parameter (repeatable); wins over the command's options and what it logs.",
)
@click.option("--name", help="The run's name.")
@_key_value_option("--tag", "tags", help="A tag (repeatable).")
@click.option(
    "--metrics-from-output",
    is_flag=True,
    help="Read metrics from what the command prints: key=value or key: value with a number"
    " (the last value of each key wins; epoch=/step= on a line is its step; tracebacks and code"
    " are skipped, and a traceback's last line is the error). Its output then passes through"
    " sheetlog, and Python commands run unbuffered.",
)
@click.argument(
    "command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]..."
)
@fails_cleanly
def run(
    target: str | None,
    journal_dir: str | None,
    params: dict[str, CellValue],
    name: str | None,
    tags: dict[str, CellValue],
    metrics_from_output: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND and log it as one row, with no change to its code.

    The row holds the command line, its long options as parameters (--lr 0.01 and --lr=0.01 give
    params.lr, --batch-size 32 params.batch_size, a bare --flag true), its duration, its
    exit_code, and a status: FINISHED on exit code 0, FAILED on any other, KILLED when it died
    of a signal or was stopped with Ctrl-C, SIGTERM, SIGHUP or SIGQUIT (passed on to it; the
    row is written once the command has ended). A command that uses
    sheetlog.start_run() fills this same row (what it logs wins over the parsed options; -p,
    --name and --tag win over both), and the row goes to the target of that run: the target it
    names in start_run(target=...), else -t (which the command gets as SHEETLOG_TARGET, so that
    every run it starts without a target of its own goes there too), else the usual default.
    Exits with the command's exit code (128 + N when it died of signal N).

    \b
    Example:
      sheetlog run -- python train.py --lr 0.01 --epochs 3
      sheetlog run -t gsheet://<key>/Runs --metrics-from-output -- ./train.sh --lr 0.1
    """
    current = start_run(
        {**command_params(command[1:]), **params},
        name=name,
        tags=tags,
        target=target,
        journal_dir=journal_dir,
    )
    _describe_command(current, command)
    env = {**os.environ, **attach.child_environment(current.run_id, current.journal.directory)}
    if target:
        env["SHEETLOG_TARGET"] = current.target  # resolved: the command may change directory
    output = OutputMetrics() if metrics_from_output else None
    if output is not None:
        env["PYTHONUNBUFFERED"] = "1"  # else Python prints nothing until its buffer is full
    try:
        outcome = run_command(command, env, output.reader if output else None)
    except OSError as error:
        current.finish("FAILED", error=f"{type(error).__name__}: {error}")
        click.echo(f"sheetlog: cannot run {command[0]!r}: {error}", err=True)
        raise click.exceptions.Exit(127 if isinstance(error, FileNotFoundError) else 126) from None
    joined = attach.take(attach.attach_file(current.run_id, current.journal.directory))
    if output is not None:
        _record_output_metrics(current, output, joined)
    if joined:
        current.absorb(joined.record)
        current.name = name or current.name  # what the sheetlog command line says wins
        current.log_params(params)
        current.set_tags(tags)
        _follow_target(current, joined.target, explicit=target)
    current.context["exit_code"] = outcome.exit_code
    status = _status(outcome)
    error = None
    if status != "FINISHED":
        joined_error = joined.record.get("error") if joined else None
        printed = output.error if output is not None and status == "FAILED" else None
        error = joined_error or printed or _cause(outcome)
    current.finish(status, error=error)
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
        click.echo(f"sheetlog: run {current.run_id} {status} -> {current.target}", err=True)
    raise click.exceptions.Exit(outcome.exit_code)


def _follow_target(current: Run, joined_target: str | None, explicit: str | None) -> None:
    """The row goes where the command's own run chose to go (see ``run``'s help)."""
    if not joined_target or joined_target == current.target:
        return
    if explicit:
        click.echo(
            f"sheetlog: the command's run names its own target, {joined_target}: its row goes"
            f" there, not to -t {explicit}",
            err=True,
        )
    current.target = joined_target


def _describe_command(current: Run, command: tuple[str, ...]) -> None:
    """The context is sheetlog's own: record the wrapped command line instead of this one, and
    leave out the versions of the packages sheetlog imported (a command that uses sheetlog's
    API reports those it imported)."""
    if "command" in current.context:
        current.context["command"] = shlex.join(command)
    for column in list(current.context):
        if column.startswith("sys.") and column not in ("sys.python", "sys.platform"):
            del current.context[column]


def _record_output_metrics(
    current: Run, output: OutputMetrics, joined: attach.Joined | None
) -> None:
    """The metrics read from the output, with their steps and times, except those the command
    logged itself through the API (its values and history win; never recorded twice)."""
    logged = {
        column.removeprefix("metrics.")
        for column in (joined.record if joined else {})
        if column.startswith("metrics.")
    }
    printed_and_logged = {name for name in output.names if clean_key(name) in logged}
    for when, step, values in output.calls(skip=printed_and_logged):
        current.log_metrics_at(when, values, step=step)


def _status(outcome: Outcome) -> str:
    if outcome.interrupted_by is not None or outcome.died_of is not None:
        return "KILLED"
    return "FINISHED" if outcome.exit_code == 0 else "FAILED"


def _cause(outcome: Outcome) -> str:
    if outcome.interrupted_by == signal.SIGINT:
        return "interrupted (Ctrl-C)"
    if outcome.interrupted_by is not None:
        return f"terminated by {outcome.interrupted_by.name}"
    if outcome.died_of is not None:
        return f"killed by {_signal_name(outcome.died_of)}"
    return f"exit code {outcome.exit_code}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


COMMANDS = [log, run]
