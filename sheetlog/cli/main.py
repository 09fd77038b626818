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


class LazyGroup(click.Group):
    """A group whose commands are imported from their modules when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMAND_MODULES})

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

    TARGET is a workbook path (runs.xlsx, results/runs.xlsx#Sweep1), a CSV file (runs.csv), or a
    Google Sheet (gsheet://<key>/<worksheet>, or the sheet's URL). Without one, SHEETLOG_TARGET,
    then target under [tool.sheetlog] in pyproject.toml or sheetlog.toml, then runs.xlsx.
    """
