"""The ``sheetlog`` command group; each command lives in a module named for what it does.

A command's module is imported only when that command runs (or ``--help`` lists them all):
``sheetlog ls`` need not import what ``sheetlog run`` or ``sheetlog sync`` use.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

_COMMAND_MODULES = {
    "init": "admin",
    "status": "admin",
    "flush": "admin",
    "doctor": "admin",
    "pending": "admin",
    "log": "logging_commands",
    "run": "logging_commands",
    "ls": "views",
    "show": "views",
    "best": "views",
    "diff": "views",
    "export": "views",
    "sync": "sync_command",
}


# `sheetlog --help` lists commands in the order of the work: record runs, look at them, move
# them, look after the journal; commands not named here follow in alphabetical order.
_WORKFLOW_ORDER = [
    "log", "run", "ls", "show", "best", "diff", "export", "sync", "status", "flush", "pending",
    "doctor", "init",
]  # fmt: skip


class LazyGroup(click.Group):
    """A group whose commands are imported from their modules when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = {*super().list_commands(ctx), *_COMMAND_MODULES}
        ordered = [name for name in _WORKFLOW_ORDER if name in names]
        return ordered + sorted(names.difference(ordered))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with its first sentence in full, wrapped (click cuts it to one line and
        ends it with "...")."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.short_help or _first_sentence(command.help or "")))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMAND_MODULES and cmd_name not in self.commands:
            module = importlib.import_module(f".{_COMMAND_MODULES[cmd_name]}", __package__)
            for command in module.COMMANDS:
                self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run 'sheetlog COMMAND --help' for a command's options and an example.",
)
@click.version_option(__version__, prog_name="sheetlog")
def main() -> None:
    """Keep your machine-learning experiment log as a spreadsheet: one row per run.

    Every command that reads or writes runs takes -t/--target TARGET (sync takes SRC DST): a
    workbook path (runs.xlsx, results/runs.xlsx#Sweep1), a CSV file (runs.csv), or a Google Sheet
    (gsheet://<key>/<worksheet>, or the sheet's URL). Without one, SHEETLOG_TARGET, then target
    under [tool.sheetlog] in pyproject.toml or sheetlog.toml, then runs.xlsx.
    """


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]
