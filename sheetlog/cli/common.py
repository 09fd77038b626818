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


class _HiddenArgument(click.Argument):
    """A positional argument kept working for old command lines but left out of the usage."""

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        return []


def takes_target(positional: bool = False) -> Callable[[F], F]:
    """``-t/--target TARGET``, the one way every command that reads or writes runs takes its
    target; ``positional``: ``TARGET`` as an argument too, the older spelling of ls, best,
    export, doctor and init (hidden from the usage line). Both at once must agree."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, target: str | None, **kwargs: Any) -> Any:
            given = kwargs.pop("target_argument", None)
            if given is not None and target is not None and given != target:
                raise click.UsageError(f"two targets given ({given} and -t {target}); give one")
            return command(*args, target=target if given is None else given, **kwargs)

        decorated = target_option(wrapper)
        if positional:
            decorated = click.argument("target_argument", required=False, cls=_HiddenArgument)(
                decorated
            )
        return decorated  # type: ignore[return-value]

    return decorate


class FormatChoice(click.Choice):
    """``--format`` names: table, json and csv wherever rows are printed; an older name (text)
    is still accepted for the one it stood for, without being offered."""

    def __init__(self, choices: list[str], aliases: dict[str, str] | None = None) -> None:
        super().__init__(choices)
        self.aliases = aliases or {}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() in self.aliases:
            value = self.aliases[value.lower()]
        return super().convert(value, param, ctx)


def format_option(*choices: str, help: str, aliases: dict[str, str] | None = None) -> Any:
    """``--format`` with ``choices`` (the first is the default); ``text`` means ``table``."""
    return click.option(
        "--format",
        "output_format",
        type=FormatChoice(list(choices), {"text": choices[0], **(aliases or {})}),
        default=choices[0],
        show_default=True,
        help=help,
    )


class MinOrMax(click.Command):
    """A command with ``--min`` and ``--max`` flags (one destination): giving both is a usage
    error (exit 2), where click would let the last one win silently."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = args[: args.index("--")] if "--" in args else args
        if "--min" in options and "--max" in options:
            raise click.UsageError("--min and --max exclude each other: give one", ctx)
        return super().parse_args(ctx, args)


def target_in_force(target: str | None) -> str:
    return resolve_target(target)


def check_target_exists(target: str) -> None:
    """For a target that read as empty: ``click.ClickException`` (exit 1) saying so when its
    file, sheet or worksheet does not exist (a mistyped target is not a target without runs)."""
    from ..targets import open_target

    backend = open_target(target)
    path = getattr(backend, "path", None)
    if path is not None and not path.exists():
        raise click.ClickException(
            f"{target} does not exist: no run has been written there yet (check the path; the"
            " default target is runs.xlsx in the working directory)"
        )
    has_sheet = getattr(backend, "has_sheet", None)
    if has_sheet is not None and not has_sheet():
        sheet = getattr(backend, "sheet", None) or "Runs"
        names = _sheet_names(path)
        listing = f"its sheets: {', '.join(names)}" if names else "it has no worksheet"
        hint = f"; name one after '#', e.g. {path.name}#{names[0]}" if names else ""
        raise click.ClickException(
            f"{target}: {path.name} has no sheet {sheet!r} ({listing}{hint})"
        )
    inspect = getattr(backend, "inspect", None)
    if inspect is not None:
        title, worksheet = inspect()
        if worksheet is None:
            wanted = getattr(getattr(backend, "address", None), "worksheet", None)
            raise click.ClickException(
                f"{target}: the spreadsheet {title!r} has no worksheet {wanted!r} (check the"
                f" name after the key; `sheetlog init -t {target}` adds it)"
            )


def _sheet_names(path: Any) -> list[str]:
    from ..backends.excel.package import Package
    from ..backends.excel.workbook import WorkbookIndex

    with Package(path) as package:
        return [entry.name for entry in WorkbookIndex(package).sheets() if entry.is_worksheet]


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
