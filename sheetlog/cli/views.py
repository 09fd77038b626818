"""The read-only commands: ls, show, best, diff, export.

pandas and the modules that use it are imported inside the commands: importing pandas takes
about half a second, which other commands (and ``--help``) should not pay. The commands that
need it start that import in a thread and read the target meanwhile
(``import_pandas_meanwhile``); ``ls`` lays out its table without it.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import shutil
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import QueryError
from ..targets import open_target
from .common import (
    MinOrMax,
    check_target_exists,
    fails_cleanly,
    format_option,
    takes_target,
    target_in_force,
    terminal_width,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..query import BestRun, RunDiff
    from ..reading import Column

F = TypeVar("F", bound=Callable[..., Any])

text_or_json = format_option(
    "table", "json", help="json: one object with documented keys, for scripts."
)


def query_errors(command: F) -> F:
    """A question the runs cannot answer as asked: about an option (an unknown column, a bad
    --where) it is a usage error (exit 2), otherwise a failure (exit 1)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except QueryError as error:
            if error.option:
                raise click.BadParameter(str(error), param_hint=error.option) from None
            raise click.ClickException(str(error)) from None

    return wrapper  # type: ignore[return-value]


def import_pandas_meanwhile() -> None:
    """Import pandas (~0.5 s) in a background thread: reading a workbook releases the GIL, so
    the import and the read overlap."""
    threading.Thread(target=importlib.import_module, args=("pandas",), daemon=True).start()
    skip_collection_at_exit()


def load_runs(target: str) -> pd.DataFrame:
    """The runs of ``target``; exit 1 when its file or sheet does not exist."""
    from ..api import load  # with the journal and delivery code that ls does not need

    frame = load(target)
    if frame.empty:
        check_target_exists(target)
    return frame


def skip_collection_at_exit() -> None:
    """Leave the objects of a read table out of the interpreter's last garbage collection (with
    10,000 runs or pandas loaded it takes ~0.15 s at exit); the OS frees them."""
    atexit.unregister(gc.freeze)  # once per process, however many commands run in it
    atexit.register(gc.freeze)


@click.command("ls")
@takes_target(positional=True)
@click.option("--sort", "sort_column", metavar="COLUMN", help="Sort by this column.")
@click.option("--desc", is_flag=True, help="Sort descending (without --sort: newest first).")
@click.option(
    "--where",
    multiple=True,
    metavar="EXPR",
    help="Keep runs where NAME OP VALUE holds; OP is = != < <= > >= or ~ (regular expression,"
    " case-insensitive). Repeat for AND.",
)
@click.option(
    "--columns",
    "-c",
    multiple=True,
    metavar="NAMES",
    help="Only these columns, in this order (comma list, repeatable, patterns like params.*).",
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only N runs: the N most recent, or with --sort METRIC the N best; 0 for all. Default"
    " on a terminal: a screenful; otherwise all.",
)
@format_option(
    "table",
    "json",
    "csv",
    help="json and csv print every selected run and column, whatever the terminal's size.",
)
@fails_cleanly
@query_errors
def ls(
    target: str | None,
    sort_column: str | None,
    desc: bool,
    where: tuple[str, ...],
    columns: tuple[str, ...],
    limit: int | None,
    output_format: str,
) -> None:
    """List the runs of TARGET as a table, newest at the bottom.

    Runs are in start-time order, oldest first, so the newest is next to the prompt (--desc
    reverses that). --limit N keeps, of the runs --where selects, the N most recent; with
    --sort on a metric the N best (lower or higher as the runs declared it with define_metric,
    else as its name suggests: stderr says so); with --sort on another column the first N in
    its order. On a terminal without --limit the table shows a screenful chosen the same way;
    stderr says how many are left out. Piped or redirected, and with --limit 0, it shows all.

    On a terminal the table fits its width: name and status first (run_id before them when the
    names do not tell the runs apart; `show` takes its first 8 characters), the --sort column,
    the metrics, the params that differ between the runs shown, then run_id and start_time, the
    other columns that differ, and those the same in all of them; what does not fit is left out
    and counted on stderr. Piped, every column is printed and nothing is cut. Headers drop
    params./metrics./tags. where the short name is unambiguous, and any column may be named that
    way in options (lr for params.lr). Times are UTC, to the minute.

    --format json prints a list of objects {column: value} with every selected column: times in
    ISO-8601 (UTC), missing values, NaN and infinities as null, a column of whole numbers as
    integers. --format csv prints the same
    columns, text made safe to open in a spreadsheet.

    \b
    Example:
      sheetlog ls
      sheetlog ls -t runs.xlsx --where "lr<0.05" --where status=FINISHED --sort accuracy --desc
      sheetlog ls -c name,lr,accuracy --limit 20
      sheetlog ls --sort accuracy --limit 3           # the 3 most accurate runs
      sheetlog ls --where "name~^sweep" --format json > runs.json
    """
    if output_format != "table" or where:
        import_pandas_meanwhile()
    else:  # a table of all runs, or a screenful, is laid out without pandas
        skip_collection_at_exit()
    target = target_in_force(target)
    backend = open_target(target)
    from ..pending import with_pending  # runs not written yet are shown too, marked

    table = with_pending(backend.read(), backend.key)
    if not table.rows:
        check_target_exists(target)
        click.echo(f"no runs in {target}", err=True)
        if output_format == "json":
            click.echo("[]")
        return
    from ..query import resolve_columns, select_rows
    from ..reading import plain_table, typed_columns

    runs = plain_table(table)
    chosen = resolve_columns(columns, runs.header) if columns else None
    screen = None
    if output_format == "table" and limit is None and sys.stdout.isatty():
        screen = max(shutil.get_terminal_size().lines - 5, 5)  # header, rule, notes, prompt
    picked = select_rows(runs, where, sort_column, desc, limit, screen)
    cut = len(picked.rows) < picked.matched
    if cut and picked.sort:
        note = picked.goal.note(picked.sort) if picked.goal else picked.note
        if note:
            click.echo(f"note: {note}", err=True)
    if output_format != "table":
        from ..reading import to_dataframe
        from .run_output import csv_text, dump_json, json_records

        frame = to_dataframe(runs).iloc[picked.rows]
        frame = frame[chosen] if chosen else frame
        click.echo(dump_json(json_records(frame)) if output_format == "json" else csv_text(frame))
        return
    if not picked.rows:
        click.echo(f"no runs in {target} match {' and '.join(where)}", err=True)
        return
    width = terminal_width() if sys.stdout.isatty() else None  # piped: every column, uncut
    print_table(typed_columns(runs, runs.header, picked.rows), chosen, picked.sort, width)
    if cut and screen:
        which = "best" if picked.goal else "first" if picked.sort else "most recent"
        click.echo(
            f"showing the {which} {len(picked.rows)} of {picked.matched} runs"
            " (--limit 0 shows all, --format csv every column)",
            err=True,
        )


def print_table(
    columns: dict[str, Column], chosen: list[str] | None, sort: str | None, width: int | None
) -> None:
    """The runs table on stdout, a block of lines at a time (the first screen need not wait for
    the rest), then what did not fit on stderr."""
    from .runs_table import runs_table

    blocks, hidden = runs_table(columns, chosen, width, sort)
    for block in blocks:
        click.echo(block)
    if hidden:
        listed = ", ".join(hidden[:8]) + (", …" if len(hidden) > 8 else "")
        click.echo(
            f"{len(hidden)} more columns do not fit the terminal: {listed}"
            " (choose with --columns, or see all with --format csv)",
            err=True,
        )


@click.command("show")
@click.argument("run")
@takes_target()
@text_or_json
@fails_cleanly
def show(run: str, target: str | None, output_format: str) -> None:
    """Every column of one run, grouped, and how to reproduce it.

    RUN is a run_id, a unique run_id prefix of 4 or more characters, or a run name (a name
    several runs share means the newest; stderr lists the others). Whole numbers show as
    integers, metrics to 6 significant digits (--format json keeps every digit).

    The recipe goes to the run's working directory, checks out its git commit, applies the saved
    patch of its uncommitted changes (when there was one and the file is on this machine), and
    repeats its command. When that command logged other runs too (a sweep script), it says so
    and gives this run's params.

    --format json prints {"target", "run": {column: value} (columns with a value), "reproduce":
    [shell lines]}.

    \b
    Example:
      sheetlog show 0a5d2f34
      sheetlog show baseline -t results/runs.xlsx --format json
    """
    import_pandas_meanwhile()
    target = target_in_force(target)
    frame = load_runs(target)
    from .run_layout import (
        grouped_lines,
        recipe,
        same_process_runs,
        show_value,
        whole_number_columns,
    )
    from .run_lookup import find_run
    from .run_output import dump_json, is_missing, json_value

    row = find_run(frame, run, target)
    whole = whole_number_columns(frame)
    steps = recipe(row, same_process_runs(frame, row), whole)
    if output_format == "json":
        values = {
            name: json_value(show_value(name, value, whole))
            for name, value in row.items()
            if not is_missing(value)
        }
        click.echo(dump_json({"target": target, "run": values, "reproduce": steps}))
        return
    lines = grouped_lines(row, whole)
    if steps:
        lines += ["Reproduce", *(f"  {line}" for line in steps)]
    click.echo("\n".join(lines))


@click.command("best", cls=MinOrMax)
@takes_target(positional=True)
@click.option(
    "--metric", "-m", required=True, help="The metric to rank by (accuracy or full name)."
)
@click.option("--min", "direction", flag_value="min", help="Lower is better.")
@click.option("--max", "direction", flag_value="max", help="Higher is better.")
@click.option(
    "--where", multiple=True, metavar="EXPR", help="Only among the runs where this holds (as ls)."
)
@text_or_json
@fails_cleanly
@query_errors
def best(
    target: str | None,
    metric: str,
    direction: str | None,
    where: tuple[str, ...],
    output_format: str,
) -> None:
    """The best FINISHED run by a metric, the runs tied with it, and the runner-up.

    Lower or higher is better as --min or --max says, else as the runs declared it
    (run.define_metric(key, "min") or goal="min"; kept in their metric_goals column), else as
    the metric's name suggests (loss, error, wer, time...: lower), and stderr says it guessed.
    Runs that declared opposite goals are reported; the majority wins. Runs without a finite
    value of the metric are left out; of equal values the earliest run in the sheet wins and the
    others are listed as ties. The runner-up is the best run with a worse value, shown with the
    difference of each metric and the params that differ.

    --format json prints {"target", "metric" (full column name), "direction" ("min" or "max"),
    "direction_source" ("given", "declared" or "name"), "value", "run_id", "name", "params":
    {name without params.: value}, "candidates" (FINISHED runs with a value), "ties": [{"run_id",
    "name"}], "runner_up": {"run_id", "name", "value", "deltas": {metric: runner-up minus best},
    "params": {name: value where it differs}} or null}.

    \b
    Example:
      sheetlog best --metric accuracy
      sheetlog best -t runs.xlsx -m val_loss --format json
      sheetlog best -m wer --where model=conformer
    """
    import_pandas_meanwhile()
    target = target_in_force(target)
    from ..api import select
    from ..query import best as best_of

    frame = select(target, where=where) if where else load_runs(target)
    from .run_layout import best_lines, runner_up_lines
    from .run_output import dump_json

    if frame.empty:
        matching = f" match {' and '.join(where)}" if where else ""
        raise click.ClickException(f"no runs in {target}{matching}")
    answer = best_of(frame, metric, direction, target)  # type: ignore[arg-type]
    note = answer.goal.note(answer.metric)
    if note:
        click.echo(f"note: {note}", err=True)
    if output_format == "json":
        click.echo(dump_json(best_summary(answer, target)))
        return
    word = "lowest" if answer.goal.direction == "min" else "highest"
    why = {"given": "as asked", "declared": "as the runs declared", "name": "guessed"}
    click.echo(
        f"{word} {answer.metric} ({why[answer.goal.source]}) of {answer.candidates} FINISHED"
        f" run{'' if answer.candidates == 1 else 's'} in {target}",
        err=True,
    )
    click.echo("\n".join(best_lines(answer) + runner_up_lines(answer)))


def best_summary(answer: BestRun, target: str) -> dict[str, Any]:
    """``best --format json``: see the command's help."""
    from .run_output import json_value

    row = answer.run

    def ident(run: Any) -> dict[str, Any]:
        return {"run_id": json_value(run.get("run_id")), "name": json_value(run.get("name"))}

    params = {
        name[len("params.") :]: json_value(value)
        for name, value in row.items()
        if name.startswith("params.") and json_value(value) is not None
    }
    runner = answer.runner_up
    return {
        "target": target,
        "metric": answer.metric,
        "direction": answer.goal.direction,
        "direction_source": answer.goal.source,
        "value": json_value(row[answer.metric]),
        **ident(row),
        "params": params,
        "candidates": answer.candidates,
        "ties": [ident(run) for run in answer.ties],
        "runner_up": None
        if runner is None
        else {
            **ident(runner),
            "value": json_value(runner[answer.metric]),
            "deltas": {name: json_value(delta) for name, delta in answer.deltas().items()},
            "params": {
                name[len("params.") :]: json_value(theirs)
                for name, (_, theirs) in answer.params_differing().items()
            },
        },
    }


@click.command("diff")
@click.argument("runs", nargs=-1, required=True)
@takes_target()
@click.option("--all", "show_all", is_flag=True, help="Show identical columns, times and ids too.")
@text_or_json
@fails_cleanly
@query_errors
def diff(runs: tuple[str, ...], target: str | None, show_all: bool, output_format: str) -> None:
    """What differs between two or more runs, and the code change between them.

    Parameters first, then metrics, then tags, model and context, then the run's own columns;
    numbers that differ from the first run's show the difference (+0.012). RUNS are run_ids,
    unique prefixes of 4 or more characters, or names (the newest
    run of a name). Columns the same in every run (or empty
    in all) and the times and ids (run_id, start/end time, duration, model hash, patch path) are
    left out and counted; --all shows them. When the runs' git commits or saved uncommitted
    changes differ, the code change follows: `git diff` between the commits (run in the git
    repository of the working directory, which must have them) and each run's patch.

    --format json prints {"target", "runs": [{"run_id", "name"}], "a", "b" (the first two
    runs), "columns": [{"column", "values", "deltas" (minus the first run's value, or null),
    "a", "b", "same"}], "identical" (their number), "hidden" (times and ids left out), "code":
    {"commits": [{"from", "to", "run", "diff", "note"}], "patches": [{"run", "path", "text",
    "note"}]} or null}.

    \b
    Example:
      sheetlog diff 0a5d2f34 fb97d435
      sheetlog diff logreg-C1 svc-rbf-C10 forest-50
      sheetlog diff baseline resnet-adam --all
    """
    if len(runs) < 2:
        raise click.UsageError("diff compares two runs or more: give at least two RUNS")
    import_pandas_meanwhile()
    target = target_in_force(target)
    frame = load_runs(target)
    from ..query import diff as diff_of
    from .run_layout import code_lines, diff_table, letters
    from .run_lookup import find_run
    from .run_output import dump_json, is_missing

    rows = [find_run(frame, key, target) for key in runs]
    named = letters(len(rows))
    first: dict[Any, str] = {}
    for letter, run in zip(named, rows, strict=True):
        run_id = run.get("run_id")
        if not is_missing(run_id) and run_id in first:
            same = f"{first[run_id]} and {letter} are the same run ({str(run_id)[:8]})"
            click.echo(f"note: {same}", err=True)
        first.setdefault(run_id, letter)
    answer = diff_of(rows, show_all)
    if output_format == "json":
        click.echo(dump_json(diff_summary(answer, target)))
        return
    for letter, run in zip(letters(len(rows)), rows, strict=True):
        name = "" if is_missing(run.get("name")) else run["name"]
        click.echo(f"{letter}  {run.get('run_id')}  {name}")
    if answer.rows:
        width = terminal_width() if sys.stdout.isatty() else None
        click.echo("\n" + diff_table(answer, width))
    if answer.code:
        click.echo("\n" + "\n".join(code_lines(answer.code, letters(len(rows)))))
    left_out = []
    if answer.identical and not show_all:
        left_out.append(f"{answer.identical} identical columns")
    if answer.noise:
        left_out.append(f"{answer.noise} columns of times and ids")
    if left_out:
        click.echo(f"{' and '.join(left_out)} not shown (--all shows them)", err=True)
    elif not answer.rows:
        click.echo("no column differs", err=True)


def diff_summary(answer: RunDiff, target: str) -> dict[str, Any]:
    """``diff --format json``: see the command's help."""
    from dataclasses import asdict

    from .run_output import json_value

    idents = [
        {"run_id": json_value(run.get("run_id")), "name": json_value(run.get("name"))}
        for run in answer.runs
    ]
    columns = []
    for row in answer.rows:
        values = [json_value(value) for value in row.values]
        columns.append(
            {
                "column": row.column,
                "values": values,
                "deltas": [json_value(delta) for delta in row.deltas],
                "a": values[0],
                "b": values[1],
                "same": row.same,
            }
        )
    code = None
    if answer.code:
        commits = [
            {"from": c.old, "to": c.new, "run": c.run, "diff": c.text, "note": c.note}
            for c in answer.code.commits
        ]
        code = {"commits": commits, "patches": [asdict(patch) for patch in answer.code.patches]}
    return {
        "target": target,
        "runs": idents,
        "a": idents[0],
        "b": idents[1],
        "columns": columns,
        "identical": answer.identical,
        "hidden": answer.noise,
        "code": code,
    }


@click.command("export")
@takes_target(positional=True)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="FILE.csv, FILE.json or FILE.parquet (the suffix chooses the format).",
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@fails_cleanly
def export(target: str | None, output: str, force: bool) -> None:
    """Write the whole runs table to a CSV, JSON or Parquet file.

    CSV is the CSV target's format (docs/values.md): numbers stay numbers, and text that a
    spreadsheet would run as a formula (=, +, -, @ first) or read as a number gets a leading
    ' (sheetlog.csv_text.csv_unsafe removes it). JSON is a list of objects {column: value}
    with ISO-8601 times and null for missing values, NaN and infinities. Parquet needs pyarrow.

    \b
    Example:
      sheetlog export -o runs.csv
      sheetlog export -t gsheet://1AbC.../Runs -o runs.parquet --force
    """
    import_pandas_meanwhile()
    target = target_in_force(target)
    frame = load_runs(target)
    from .run_output import write_export

    write_export(frame, output, force)
    click.echo(f"wrote {len(frame)} runs to {output}", err=True)


COMMANDS = [ls, show, best, diff, export]
