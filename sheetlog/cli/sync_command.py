"""``sheetlog sync SRC DST``: copy missing runs and cells between two targets."""

from __future__ import annotations

import json
from typing import Any

import click

from ..sync import Changes, SyncPlan, apply_sync, plan_sync, read_side
from .common import FormatChoice, check_target_exists, fails_cleanly

_SHOWN_CONFLICTS = 20
_SHOWN_CHARACTERS = 60


@click.command()
@click.argument("src")
@click.argument("dst")
@click.option("--two-way", is_flag=True, help="Also copy what DST has and SRC lacks into SRC.")
@click.option(
    "--prefer",
    type=click.Choice(["src", "dst"]),
    help="On a conflict, overwrite the other side with this side's value (default: report"
    " conflicts and leave both values as they are).",
)
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option(
    "--format",
    "output",
    type=FormatChoice(["table", "json"], {"text": "table"}),
    default="table",
    show_default=True,
    help="json: {src, dst, dry_run, to_dst, to_src, conflicts}, each of to_dst/to_src"
    " {appended, filled_cells, filled_runs, new_columns}; conflicts [{run_id, column, src, dst}].",
)
@fails_cleanly
def sync(src: str, dst: str, two_way: bool, prefer: str | None, dry_run: bool, output: str):
    """Sync runs from SRC to DST (workbooks, CSV files, Google Sheets), matched by run_id.

    Runs missing in DST are appended (in batches, with a progress bar), missing columns are
    created (your own columns too), and cells empty in DST are filled from SRC. A cell holding
    different values on both sides is a conflict: it is listed and left alone unless --prefer
    says which side wins. Nothing is ever deleted. Syncing again right away finds nothing to do
    and writes nothing. Exit code 0 even when conflicts are listed.

    \b
    Examples:
      sheetlog sync runs.xlsx gsheet://<key>/Runs          # push local runs to the team sheet
      sheetlog sync runs.xlsx gsheet://<key>/Runs --two-way --dry-run
      sheetlog sync gsheet://<key>/Runs team.csv          # a CSV copy of the team sheet
    """
    sides = read_side(src, must_exist=True), read_side(dst, must_exist=two_way)
    if not sides[0].header:  # a source sheet that is not there is a typo, not an empty table
        check_target_exists(src)
    plan = plan_sync(*sides, two_way=two_way, prefer=prefer)  # type: ignore[arg-type]
    if not dry_run and not plan.empty:
        total = len(plan.to_dst.append) + len(plan.to_src.append)
        with click.progressbar(
            length=total, label="appending runs", file=click.get_text_stream("stderr")
        ) as bar:
            apply_sync(plan, progress=bar.update)
    if output == "json":
        click.echo(json.dumps(_as_json(plan, dry_run, two_way), indent=2, default=str))
    else:
        _print_text(plan, dry_run, two_way)


def _as_json(plan: SyncPlan, dry_run: bool, two_way: bool) -> dict[str, Any]:
    def changes(c: Changes) -> dict[str, Any]:
        return {
            "appended": len(c.append),
            "filled_cells": c.cells,
            "filled_runs": len(c.fill),
            "new_columns": c.new_columns,
        }

    return {
        "src": plan.src.target,
        "dst": plan.dst.target,
        "dry_run": dry_run,
        "to_dst": changes(plan.to_dst),
        "to_src": changes(plan.to_src) if two_way else None,
        "conflicts": [
            {"run_id": c.run_id, "column": c.column, "src": c.src, "dst": c.dst}
            for c in plan.conflicts
        ],
    }


def _print_text(plan: SyncPlan, dry_run: bool, two_way: bool) -> None:
    verb = "would " if dry_run else ""
    directions = [(plan.dst.target, plan.to_dst)]
    if two_way:
        directions.append((plan.src.target, plan.to_src))
    for target, changes in directions:
        if changes.empty:
            click.echo(f"{target}: up to date")
            continue
        parts = []
        if changes.append:
            parts.append(f"{verb}append {len(changes.append)} run(s)")
        if changes.fill:
            parts.append(f"{verb}fill {changes.cells} cell(s) in {len(changes.fill)} run(s)")
        if changes.new_columns:
            shown = ", ".join(changes.new_columns[:8])
            hidden = len(changes.new_columns) - 8
            more = f" and {hidden} more" if hidden > 0 else ""
            parts.append(f"{verb}add column(s) {shown}{more}")
        click.echo(f"{target}: " + "; ".join(parts))
    for side in (plan.src, plan.dst):
        if side.without_run_id or side.duplicates:
            click.echo(
                f"{side.target}: ignored {side.without_run_id} row(s) without run_id and"
                f" {side.duplicates} repeated run_id(s)",
                err=True,
            )
    if plan.conflicts:
        click.echo(
            f"{len(plan.conflicts)} conflict(s), left as they are"
            " (use --prefer src or --prefer dst to settle them):"
        )
        for c in plan.conflicts[:_SHOWN_CONFLICTS]:
            click.echo(
                f"  {c.run_id}  {c.column}: src={_shortened(c.src)}  dst={_shortened(c.dst)}"
            )
        if len(plan.conflicts) > _SHOWN_CONFLICTS:
            click.echo(f"  ... and {len(plan.conflicts) - _SHOWN_CONFLICTS} more (--format json)")


def _shortened(value: Any, most: int = _SHOWN_CHARACTERS) -> str:
    """A conflicting value as listed: its repr, cut in the middle when long (a 32,000-character
    text would fill the terminal); --format json gives it whole."""
    text = repr(value)
    if len(text) <= most:
        return text
    half = (most - 1) // 2
    return f"{text[:half]}…{text[-half:]} ({len(str(value)):,} characters)"


COMMANDS = [sync]
