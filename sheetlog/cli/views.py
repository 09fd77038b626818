"""The read-only commands: ls, show, best, diff, export.

pandas and the modules that use it are imported inside the commands: importing pandas takes
about half a second, which other commands (and ``--help``) should not pay. The commands that
need it start that import in a thread and read the target meanwhile
(``import_pandas_meanwhile``); ``ls`` lays out its table without it.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import shutil
import sys
import threading
from typing import TYPE_CHECKING

import click

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

    from ..reading import Column

text_or_json = format_option(
    "table", "json", help="json: one object with documented keys, for scripts."
)


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
    help="Only the N most recent runs (by start time); 0 for all. Default on a terminal: a"
    " screenful; otherwise all.",
)
@format_option(
    "table",
    "json",
    "csv",
    help="json and csv print every selected run and column, whatever the terminal's size.",
)
@fails_cleanly
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
    reverses that). --limit N keeps the N most recent runs that --where selects, shown in the
    --sort order. On a terminal, the table shows a screenful without --limit: the most recent
    runs, or with --sort the first ones in its order; stderr says how many are left out. Piped
    or redirected, and with --limit 0, it shows them all.

    The table fits the terminal: run_id (its first 8 characters; `show` takes such a prefix),
    name and status first, then the columns whose values differ between the runs shown, then
    those that are the same in all of them; what does not fit is left out and counted on stderr.
    Headers drop params./metrics./tags. where the short name is unambiguous, and any column may be
    named that way in options (lr for params.lr). Times are UTC, to the minute.

    --format json prints a list of objects {column: value} with every selected column: times in
    ISO-8601 (UTC), missing values, NaN and infinities as null. --format csv prints the same
    columns, text made safe to open in a spreadsheet.

    \b
    Example:
      sheetlog ls
      sheetlog ls -t runs.xlsx --where "lr<0.05" --where status=FINISHED --sort accuracy --desc
      sheetlog ls -c name,lr,accuracy --limit 20
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
    from ..reading import plain_table, typed_columns
    from .run_query import parse_where, pick_rows, resolve_column, resolve_columns

    runs = plain_table(table)
    every = runs.header
    sort_name = resolve_column(sort_column, every, "--sort") if sort_column else None
    chosen = resolve_columns(columns, every) if columns else None
    conditions = parse_where(where, every)
    screen = None
    if output_format == "table" and limit is None and sys.stdout.isatty():
        screen = max(shutil.get_terminal_size().lines - 5, 5)  # header, rule, notes, prompt
    rows = list(range(len(runs.rows)))
    if conditions:
        from .run_lookup import matching_rows

        rows = matching_rows(runs, conditions)
    # Only the columns that decide the order are typed for every run (typing all the columns
    # of 10,000 runs takes a good part of a second); a table types only the rows it shows.
    deciding = [name for name in ("start_time", sort_name) if name in every]
    typed = typed_columns(runs, deciding, range(len(runs.rows)))
    sort = typed[sort_name] if sort_name else None
    picked = pick_rows(rows, typed.get("start_time"), sort, desc, limit, screen)
    if output_format != "table":
        from ..reading import to_dataframe
        from .run_output import csv_text, dump_json, json_records

        frame = to_dataframe(runs).iloc[picked]
        frame = frame[chosen] if chosen else frame
        click.echo(dump_json(json_records(frame)) if output_format == "json" else csv_text(frame))
        return
    if not picked:
        click.echo(f"no runs in {target} match {' and '.join(where)}", err=True)
        return
    print_table(typed_columns(runs, every, picked), chosen)
    if len(picked) < len(rows) and screen:
        which = "first" if sort_name else "most recent"
        click.echo(
            f"showing the {which} {len(picked)} of {len(rows)} runs"
            " (--limit 0 shows all, --format csv every column)",
            err=True,
        )


def print_table(columns: dict[str, Column], chosen: list[str] | None) -> None:
    """The runs table on stdout, a block of lines at a time (the first screen need not wait for
    the rest), then what did not fit on stderr."""
    from .runs_table import runs_table

    blocks, hidden = runs_table(columns, chosen, terminal_width())
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
@text_or_json
@fails_cleanly
def best(target: str | None, metric: str, direction: str | None, output_format: str) -> None:
    """The best FINISHED run by a metric.

    Higher is better, unless the metric's name contains loss, error, err, mae, mse, rmse or
    perplexity; --min or --max says otherwise. Runs without a finite value of the metric are left
    out; of equal values the earliest run in the sheet wins.

    --format json prints {"target", "metric" (full column name), "direction" ("min" or "max"),
    "value", "run_id", "name", "params": {name without params.: value}, "candidates" (FINISHED
    runs with a value)}.

    \b
    Example:
      sheetlog best --metric accuracy
      sheetlog best -t runs.xlsx -m val_loss --format json
    """
    import_pandas_meanwhile()
    target = target_in_force(target)
    frame = load_runs(target)
    from .run_layout import best_lines, best_run, lower_is_better, params_of
    from .run_output import dump_json, json_value
    from .run_query import metric_column

    if frame.empty:
        raise click.ClickException(f"no runs in {target}")
    column = metric_column(metric, list(frame.columns), target)
    direction = direction or ("min" if lower_is_better(column) else "max")
    row, candidates = best_run(frame, column, direction)
    if row is None:
        raise click.ClickException(f"no FINISHED run in {target} has a value for {column}")
    if output_format == "json":
        params = {name[len("params.") :]: json_value(v) for name, v in params_of(row).items()}
        summary = {
            "target": target,
            "metric": column,
            "direction": direction,
            "value": json_value(row[column]),
            "run_id": json_value(row.get("run_id")),
            "name": json_value(row.get("name")),
            "params": params,
            "candidates": candidates,
        }
        click.echo(dump_json(summary))
        return
    word = "lowest" if direction == "min" else "highest"
    click.echo(f"{word} {column} of {candidates} FINISHED runs in {target}", err=True)
    click.echo("\n".join(best_lines(row, column)))


@click.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@takes_target()
@click.option("--all", "show_all", is_flag=True, help="Show the identical columns too.")
@text_or_json
@fails_cleanly
def diff(run_a: str, run_b: str, target: str | None, show_all: bool, output_format: str) -> None:
    """What differs between two runs.

    Parameters first, then metrics, then tags, model and context, then the run's own columns
    (name, status, times).
    RUN_A and RUN_B are run_ids, unique prefixes of 4 or more characters, or names (the newest
    run of a name).
    Columns that are the same in both (or empty in both) are left out and counted.

    --format json prints {"target", "a": {"run_id", "name"}, "b": {...}, "columns": [{"column",
    "a", "b", "same"}] (identical ones only with --all), "identical" (their number)}.

    \b
    Example:
      sheetlog diff 0a5d2f34 fb97d435
      sheetlog diff baseline resnet-adam --all
    """
    import_pandas_meanwhile()
    target = target_in_force(target)
    frame = load_runs(target)
    from .run_layout import diff_rows, diff_table
    from .run_lookup import find_run
    from .run_output import dump_json, is_missing, json_value

    a, b = find_run(frame, run_a, target), find_run(frame, run_b, target)
    rows, identical = diff_rows(a, b, show_all)
    if output_format == "json":
        sides = {
            side: {"run_id": json_value(run.get("run_id")), "name": json_value(run.get("name"))}
            for side, run in (("a", a), ("b", b))
        }
        listed = [
            {"column": name, "a": json_value(x), "b": json_value(y), "same": same}
            for name, x, y, same in rows
        ]
        click.echo(
            dump_json({"target": target, **sides, "columns": listed, "identical": identical})
        )
        return
    for side, run in (("A", a), ("B", b)):
        name = "" if is_missing(run.get("name")) else run["name"]
        click.echo(f"{side}  {run.get('run_id')}  {name}")
    if rows:
        click.echo("\n" + diff_table(rows, terminal_width()))
    if identical and not show_all:
        click.echo(f"{identical} identical columns not shown (--all shows them)", err=True)
    elif not rows:
        click.echo("no column differs", err=True)


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
