"""A run looked up by its run_id, a run_id prefix or its name (with pandas)."""

from __future__ import annotations

import click
import pandas as pd

from ..run_names import pick_in_frame


def find_run(frame: pd.DataFrame, key: str, target: str) -> pd.Series:
    """The run ``key`` names (``sheetlog.run_names``: a run_id, a unique run_id prefix of 4+
    characters, or a name, the newest run of that name); a note on stderr when that name is
    shared. ``RunNotFound`` (exit 1) when there is none."""
    row, note = pick_in_frame(frame, key, target)
    if note:
        click.echo(f"note: {note}", err=True)
    return row
