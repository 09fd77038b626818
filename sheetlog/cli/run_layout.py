"""How show, best and diff lay runs out as text (pandas is imported only when they run)."""

from __future__ import annotations

import math
import os
import shlex
from typing import Any

import pandas as pd

from ..schema import group_of
from .run_output import is_missing, value_text
from .table_text import TextColumn, fit, key_value_lines, render

_LOWER_IS_BETTER = ("loss", "error", "err", "mae", "mse", "rmse", "perplexity")
_GROUP_TITLES = {3: "Parameters", 4: "Metrics", 5: "Tags", 6: "Model", 8: "Context"}


def whole_number_columns(frame: pd.DataFrame) -> set[str]:
    """The float columns that hold only whole numbers (model_size, exit_code, a batch size):
    pandas makes a column of integers with an empty cell float, ``show`` prints them as the
    integers they are."""
    whole = set()
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_float_dtype(series):
            values = series.dropna()
            finite = values[values.map(math.isfinite)]
            if len(finite) and (finite % 1 == 0).all() and (finite.abs() < 2**53).all():
                whole.add(name)
    return whole


def show_value(name: str, value: Any, whole: set[str] | frozenset[str] = frozenset()) -> Any:
    """A float of a whole-number column as an int (JSON and text); anything else as it is."""
    if name in whole and isinstance(value, float) and math.isfinite(value):
        return int(value)
    return value


def show_text(name: str, value: Any, whole: set[str] | frozenset[str] = frozenset()) -> str:
    """``show``'s text for one value: whole numbers as integers (a workbook keeps every number
    as a float: ``C`` logged as 10 reads back 10.0), metrics to 6 significant digits
    (``--format json`` keeps every digit), everything else in full."""
    value = show_value(name, value, whole)
    if not isinstance(value, float) or not math.isfinite(value):
        return value_text(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if name.startswith("metrics."):
        text = f"{value:.6g}"
        return f"{value:.1f}" if "e+" in text else text
    return value_text(value)


def grouped_lines(row: pd.Series, whole: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """``show``: the run's values under Run, Parameters, Metrics, Tags, Model, Context."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(row.index, key=_show_rank):
        value = row[name]
        if is_missing(value):
            continue
        group = group_of(name)
        label = name.split(".", 1)[1] if group in (3, 4, 5) else name
        text = show_text(name, value, whole)
        groups.setdefault(_GROUP_TITLES.get(group, "Run"), []).append((label, text))
    lines: list[str] = []
    for title, pairs in groups.items():
        lines += [title, *key_value_lines(pairs)]
    return lines


def _show_rank(name: str) -> int:
    group = group_of(name)
    return 2 if group == 7 else group  # notes and error belong with the run itself


def same_process_runs(frame: pd.DataFrame, row: pd.Series) -> tuple[int, bool]:
    """How many runs of ``frame`` the run's command logged (itself included), and whether they
    are known to come from one process (same host and pid), rather than only the same command."""
    command = row.get("command")
    if is_missing(command) or "command" not in frame:
        return 1, True
    same = frame["command"] == command
    for column in ("host", "cwd"):
        if column in frame and not is_missing(row.get(column)):
            same &= frame[column] == row[column]
    pid = row.get("pid")
    if "pid" in frame and not is_missing(pid):
        return int((same & (frame["pid"] == pid)).sum()), True
    return int(same.sum()), False


def recipe(
    row: pd.Series,
    siblings: tuple[int, bool] = (1, True),
    whole: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Shell lines that rebuild the run's code and repeat its command (# lines explain gaps).

    ``siblings`` (``same_process_runs``): when the command logged other runs too, the recipe
    says that repeating it repeats them all, and gives this run's own parameters."""
    lines = []
    cwd = row.get("cwd")
    if not is_missing(cwd):
        lines.append(f"cd {shlex.quote(str(cwd))}")
    commit, patch = row.get("git.commit"), row.get("git.patch")
    if not is_missing(commit):
        lines.append(f"git checkout {commit}")
        if not is_missing(patch) and os.path.isfile(patch):
            lines.append(f"git apply {shlex.quote(str(patch))}")
        elif not is_missing(patch):
            lines.append(f"# the uncommitted changes were saved as {patch}, not on this machine")
        elif row.get("git.dirty") is True:
            lines.append("# the working tree had uncommitted changes that were not saved")
    if is_missing(row.get("command")):
        return lines
    count, one_process = siblings
    if count > 1:
        if one_process:
            lines.append(
                f"# this command logged {count} runs in one process (a sweep script):"
                f" running it repeats all {count}"
            )
        else:
            lines.append(
                f"# this command logged {count} runs (a script that logs several, or the same"
                " command run again): running it may repeat them all"
            )
        params = [
            f"{name[len('params.') :]}={show_text(name, value, whole)}"
            for name, value in params_of(row).items()
        ]
        if params:
            lines.append(f"# this run's params: {' '.join(params)}")
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
    names = [row[0] for row in rows]
    sides = [[_diff_cell(row[i]) for row in rows] for i in (1, 2)]
    room = width - min(max(map(len, names)), 40) - 4
    natural = [max(map(len, cells)) for cells in sides]
    a_width = max(min(natural[0], max(room // 2, room - natural[1])), 6)
    columns = [
        TextColumn("column", names),
        TextColumn("A", sides[0], max_width=a_width),
        TextColumn("B", sides[1], max_width=max(room - a_width, 6)),
    ]
    return render(fit(columns, width, keep=3))


def _diff_cell(value: Any) -> str:
    return "(none)" if is_missing(value) else " ".join(value_text(value).split())
