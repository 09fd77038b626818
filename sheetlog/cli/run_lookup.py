"""A run looked up by its run_id, a run_id prefix or its name (with pandas)."""

from __future__ import annotations

import click
import pandas as pd

from ..where import as_text as _as_text


def find_run(frame: pd.DataFrame, key: str, target: str) -> pd.Series:
    """The run ``key`` names: its run_id, a unique run_id prefix of 4+ characters, or a unique
    name. ``click.ClickException`` (exit 1) when there is none or more than one."""
    if frame.empty or "run_id" not in frame:
        raise click.ClickException(f"no run {key!r} in {target} (it has no runs)")
    ids = _as_text(frame["run_id"]).fillna("")
    exact = frame[ids == key]
    if len(exact) == 1:
        return exact.iloc[0]
    if len(key) >= 4:
        by_prefix = frame[ids.str.lower().str.startswith(key.lower())]
        if len(by_prefix) == 1:
            return by_prefix.iloc[0]
        if len(by_prefix) > 1:
            raise click.ClickException(
                f"{key!r} is the start of {len(by_prefix)} run_ids in {target}:"
                f" {_listing(by_prefix)}; give more characters"
            )
    if "name" in frame:
        by_name = frame[_as_text(frame["name"]) == key]
        if len(by_name) == 1:
            return by_name.iloc[0]
        if len(by_name) > 1:
            raise click.ClickException(
                f"{len(by_name)} runs in {target} are named {key!r}: {_listing(by_name)};"
                " give a run_id instead"
            )
    raise click.ClickException(
        f"no run {key!r} in {target} (looked for a run_id, a run_id prefix of 4 or more"
        " characters, and a run name)"
    )


def _listing(runs: pd.DataFrame, most: int = 5) -> str:
    names = runs["name"] if "name" in runs else pd.Series("", index=runs.index)
    items = [f"{run_id} ({name})" for run_id, name in zip(runs["run_id"], names, strict=True)]
    return ", ".join(items[:most]) + (", …" if len(items) > most else "")
