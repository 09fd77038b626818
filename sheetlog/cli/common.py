"""What the commands share: the target and journal options, turning errors into exit codes."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from ..errors import SheetlogError, SheetlogWarning
from ..targets import resolve_target

F = TypeVar("F", bound=Callable[..., Any])

target_option = click.option(
    "-t",
    "--target",
    metavar="TARGET",
    help="Workbook, CSV file or Google Sheet (default: SHEETLOG_TARGET, the project's config,"
    " then runs.xlsx).",
)
journal_option = click.option(
    "--journal-dir",
    type=click.Path(file_okay=False),
    envvar="SHEETLOG_DIR",
    help="The journal directory (default: SHEETLOG_DIR, then .sheetlog in the working directory).",
)


def target_in_force(target: str | None) -> str:
    return resolve_target(target)


def fails_cleanly(command: F) -> F:
    """Errors sheetlog knows about become one line on stderr and exit code 1 (not a traceback);
    warnings go to stderr as ``warning: ...``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings_to_stderr():
            try:
                return command(*args, **kwargs)
            except (SheetlogError, ValueError, OSError) as error:
                raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def warnings_to_stderr() -> Iterator[None]:
    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        prefix = "warning" if issubclass(category, SheetlogWarning) else category.__name__
        click.echo(f"{prefix}: {message}", err=True)

    previous = warnings.showwarning
    warnings.showwarning = show  # type: ignore[assignment]
    try:
        yield
    finally:
        warnings.showwarning = previous


def terminal_width() -> int:
    """Columns of the terminal (COLUMNS wins; 100 when stdout is not a terminal)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if sys.stdout.isatty():
        return os.get_terminal_size().columns
    return 100
