"""How ls, show, best and diff lay runs out as text (pandas is imported only when they run)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd

from ..schema import group_of
from .run_output import cells_for_table, is_missing, is_numeric, short_names, value_text
from .table_text import TextColumn, fit, key_value_lines, render, render_blocks

_LEADING = ("run_id", "name", "status")
_CONTEXT = re.compile(r"(command|host|user)$|(sys|git|packages)\.")
_LOWER_IS_BETTER = ("loss", "error", "err", "mae", "mse", "rmse", "perplexity")
_GROUP_TITLES = {3: "Parameters", 4: "Metrics", 5: "Tags", 6: "Model", 8: "Context"}


def runs_table(
    frame: pd.DataFrame, chosen: list[str] | None, width: int
) -> tuple[Iterator[str], list[str]]:
    """The table for ``ls`` (blocks of lines, see ``render_blocks``) and the headers of the
    columns that did not fit.

    Without ``chosen`` columns: run_id, name and status, then the columns whose values differ
    between these runs, then the constant ones (see ``_table_rank`` for the order inside each).
    """
    if chosen:
        order, keep = chosen, 1
    else:
        leading = [name for name in _LEADING if name in frame]
        rest = [name for name in frame.columns if name not in leading]
        varies = {name: _varies(frame[name]) for name in rest}
        order = leading + sorted(rest, key=lambda name: (not varies[name], _table_rank(name)))
        keep = len(leading)
    headers = short_names(list(frame.columns))
    shown = fit(_text_columns(frame, order, headers), width, keep)
    return render_blocks(shown), [headers[name] for name in order[len(shown) :]]


def _text_columns(
    frame: pd.DataFrame, order: list[str], headers: dict[str, str]
) -> Iterator[TextColumn]:
    """Columns ready to draw, made one at a time (only those that fit are ever formatted)."""
    for name in order:
        series = frame[name]
        if name == "run_id":
            yield TextColumn("run_id", _short_ids(series.fillna("").astype("str")))
            continue
        widest = 30 if name == "name" else 40
        number = is_numeric(series)
        cuttable = not (number or pd.api.types.is_datetime64_any_dtype(series))
        yield TextColumn(headers[name], cells_for_table(series), number, widest, cuttable)


def _short_ids(ids: pd.Series) -> pd.Series:
    """The shortest prefix (8 characters or more) that tells the runs shown apart."""
    distinct = ids.nunique()
    for length in (8, 12, 16):
        if ids.str.slice(0, length).nunique() == distinct:
            return ids.str.slice(0, length)
    return ids


def _varies(series: pd.Series) -> bool:
    try:
        return series.nunique(dropna=False) > 1
    except TypeError:  # lists or dicts in the column
        return series.map(repr).nunique() > 1


def _table_rank(name: str) -> int:
    """start_time, params, metrics, tags, model, notes/error and the user's own columns, the
    other times, then context."""
    if name == "start_time":
        return 0
    group = group_of(name)
    if group == 2:
        return 6
    if group in (3, 4, 5, 6):
        return group - 2
    return 7 if group == 8 and _CONTEXT.match(name) else 5


def grouped_lines(row: pd.Series) -> list[str]:
    """``show``: the run's values under Run, Parameters, Metrics, Tags, Model, Context."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(row.index, key=_show_rank):
        value = row[name]
        if is_missing(value):
            continue
        group = group_of(name)
        label = name.split(".", 1)[1] if group in (3, 4, 5) else name
        groups.setdefault(_GROUP_TITLES.get(group, "Run"), []).append((label, value_text(value)))
    lines: list[str] = []
    for title, pairs in groups.items():
        lines += [title, *key_value_lines(pairs)]
    return lines


def _show_rank(name: str) -> int:
    group = group_of(name)
    return 2 if group == 7 else group  # notes and error belong with the run itself


def recipe(row: pd.Series) -> list[str]:
    """Shell lines that rebuild the run's code and repeat its command (# lines explain gaps)."""
    lines = []
    commit, patch = row.get("git.commit"), row.get("git.patch")
    if not is_missing(commit):
        lines.append(f"git checkout {commit}")
        if not is_missing(patch) and os.path.isfile(patch):
            lines.append(f"git apply {patch}")
        elif not is_missing(patch):
            lines.append(f"# the uncommitted changes were saved as {patch}, not on this machine")
        elif row.get("git.dirty") is True:
            lines.append("# the working tree had uncommitted changes that were not saved")
    if not is_missing(row.get("command")):
        lines.append(str(row["command"]))
    return lines


def lower_is_better(column: str) -> bool:
    short = column.split(".", 1)[1] if column.startswith("metrics.") else column
    return any(word in short.lower() for word in _LOWER_IS_BETTER)


def best_run(frame: pd.DataFrame, column: str, direction: str) -> tuple[pd.Series | None, int]:
    """The FINISHED run with the lowest or highest finite value in ``column`` (the first of
    equal ones), and how many runs were candidates."""
    values = pd.to_numeric(frame[column], errors="coerce")
    finished = frame["status"] == "FINISHED" if "status" in frame else True
    candidates = values[finished & values.map(_finite, na_action="ignore").fillna(False)]
    if candidates.empty:
        return None, 0
    best = candidates.idxmin() if direction == "min" else candidates.idxmax()
    return frame.loc[best], len(candidates)


def _finite(value: float) -> bool:
    return math.isfinite(value)


def best_lines(row: pd.Series, column: str) -> list[str]:
    head = [(name, row.get(name)) for name in ("run_id", "name", "start_time", column)]
    lines = key_value_lines([(name, value_text(v)) for name, v in head if not is_missing(v)])
    params = [(name[len("params.") :], value) for name, value in params_of(row).items()]
    if params:
        lines += ["Parameters", *key_value_lines([(k, value_text(v)) for k, v in params])]
    return lines


def params_of(row: pd.Series) -> dict[str, Any]:
    return {
        name: value
        for name, value in row.items()
        if name.startswith("params.") and not is_missing(value)
    }


def diff_rows(a: pd.Series, b: pd.Series, with_same: bool) -> tuple[list[tuple], int]:
    """``(column, value in a, value in b, same)`` for the columns that differ (all of them with
    ``with_same``): params, metrics, tags, model, context, then the run's own; and how many are
    the same."""
    names = sorted((name for name in a.index if name != "run_id"), key=_diff_rank)
    rows = [(name, a[name], b[name], _same(a[name], b[name])) for name in names]
    same = sum(row[3] for row in rows)
    return [row for row in rows if with_same or not row[3]], same


def _diff_rank(name: str) -> int:
    return {3: 0, 4: 1, 5: 2, 6: 3, 8: 4}.get(group_of(name), 5)


def _same(a: Any, b: Any) -> bool:
    if is_missing(a) or is_missing(b):
        return is_missing(a) and is_missing(b)
    return bool(a == b)


def diff_table(rows: list[tuple], width: int) -> str:
    """``column | A | B``, the values cut so that the table fits ``width``."""
    names = pd.Series([row[0] for row in rows], dtype="str")
    sides = [pd.Series([_diff_cell(row[i]) for row in rows], dtype="str") for i in (1, 2)]
    room = width - min(int(names.str.len().max()), 40) - 4
    natural = [int(cells.str.len().max()) for cells in sides]
    a_width = max(min(natural[0], max(room // 2, room - natural[1])), 6)
    columns = [
        TextColumn("column", names),
        TextColumn("A", sides[0], max_width=a_width),
        TextColumn("B", sides[1], max_width=max(room - a_width, 6)),
    ]
    return render(fit(columns, width, keep=3))


def _diff_cell(value: Any) -> str:
    return "(none)" if is_missing(value) else " ".join(value_text(value).split())
