"""The ``sheetlog`` command group; each command lives in a module named for what it does."""

from __future__ import annotations

import click

from .. import __version__
from . import admin, logging_commands, sync_command, views


@click.group(
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


for module in (admin, logging_commands, views, sync_command):
    for command in module.COMMANDS:
        main.add_command(command)
