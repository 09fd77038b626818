"""How show, best and diff lay runs out as text (pandas is imported only when they run)."""

from __future__ import annotations

import math
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..query import BestRun, DiffRow, RunDiff
from ..schema import group_of
from .run_output import is_missing, value_text
from .runs_table import number_text
from .table_text import TextColumn, fit, key_value_lines, render, terminal_text

if TYPE_CHECKING:
    from ..code_changes import CodeChanges

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
        return terminal_text(value_text(value))
    if (value.is_integer() and abs(value) < 2**53) or name.startswith("metrics."):
        return number_text(value)
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


def best_lines(answer: BestRun) -> list[str]:
    """``best``: the winner's id, name, start time and value, its params, and its ties."""
    row, column = answer.run, answer.metric
    head = [(name, row.get(name)) for name in ("run_id", "name", "start_time", column)]
    pairs = [(name, short_text(v)) for name, v in head if not is_missing(v)]
    if _unnamed(row):
        pairs.insert(0, ("row", _ident(row)))
    lines = key_value_lines(pairs)
    params = [(name[len("params.") :], show_text(name, v)) for name, v in params_of(row).items()]
    if params:
        lines += ["Parameters", *key_value_lines(params)]
    if answer.ties:
        lines += [f"Tied (the same {column})", *(f"  {_ident(run)}" for run in answer.ties)]
    return lines


def runner_up_lines(answer: BestRun) -> list[str]:
    """``best``: the runner-up, each metric with its difference from the best run's, and the
    params in which it differs (the best run's value in brackets)."""
    runner = answer.runner_up
    if runner is None:
        return [] if answer.ties else ["No runner-up: no other run has a value"]
    deltas = answer.deltas()
    pairs = [("run", _ident(runner))]
    for name, delta in deltas.items():
        pairs.append((name, f"{short_text(runner[name])}  ({_signed(delta)} from the best)"))
    lines = ["Runner-up", *key_value_lines(pairs)]
    differing = answer.params_differing()
    if differing:
        pairs = [
            (name[len("params.") :], f"{_text(name, theirs)}  (best: {_text(name, ours)})")
            for name, (ours, theirs) in differing.items()
        ]
        lines += ["  params that differ", *key_value_lines(pairs, indent="    ")]
    return lines


def _ident(run: pd.Series) -> str:
    """The run's short id and name; a row with neither (a hand-kept sheet) by its values."""
    if _unnamed(run):
        return "  ".join(f"{name}={short_text(v)}" for name, v in run.items() if not is_missing(v))
    run_id, name = run.get("run_id"), run.get("name")
    parts = [str(run_id)[:8] if not is_missing(run_id) else "", "" if is_missing(name) else name]
    return terminal_text("  ".join(str(part) for part in parts if part))


def _unnamed(run: pd.Series) -> bool:
    return is_missing(run.get("run_id")) and is_missing(run.get("name"))


def short_text(value: Any) -> str:
    """A value for best and diff: whole numbers as integers, other floats to 6 significant
    digits (``number_text``; JSON keeps them whole)."""
    if isinstance(value, float) and not isinstance(value, bool):
        return number_text(value)
    return terminal_text(value_text(value))


def _signed(delta: float) -> str:
    """A difference: a whole one as an integer (+6419754), any other to 4 significant digits."""
    if delta == 0:
        return "±0"
    if float(delta).is_integer() and abs(delta) < 2**53:
        return f"{int(delta):+d}"
    return format(delta, "+.4g")


def _text(name: str, value: Any) -> str:
    return "(none)" if is_missing(value) else show_text(name, value)


def params_of(row: pd.Series) -> dict[str, Any]:
    return {
        name: value
        for name, value in row.items()
        if name.startswith("params.") and not is_missing(value)
    }


def diff_table(answer: RunDiff, width: int | None) -> str:
    """``column | A | B | ...``: numbers after the first run's with their difference, the
    values cut so that the table fits ``width`` (None: nothing cut)."""
    rows = answer.rows
    names = [row.column for row in rows]
    count = len(answer.runs)
    sides = [[_diff_cell(row, i, _precise(row)) for row in rows] for i in range(count)]
    if width is None:
        columns = [TextColumn("column", names, max_width=sys.maxsize)]
        columns += [
            TextColumn(letter, cells, max_width=sys.maxsize)
            for letter, cells in zip(letters(count), sides, strict=True)
        ]
        return render(fit(columns, sys.maxsize, keep=len(columns)))
    room = width - min(max(map(len, names)), 40) - 2 * count
    # a number is not cut for its delta: a run's deltas are shown, left to right, while the
    # table still fits with them
    bare = [[_diff_cell(row, i, _precise(row), delta=False) for row in rows] for i in range(count)]
    spare = room - sum(max(map(len, cells)) for cells in bare)
    for i in range(1, count):
        extra = max(map(len, sides[i])) - max(map(len, bare[i]))
        if extra > spare:
            sides[i] = bare[i]
        else:
            spare -= extra
    widths = _widths(room, sides)
    columns = [TextColumn("column", names)]
    columns += [
        TextColumn(letter, cells, max_width=w)
        for letter, cells, w in zip(letters(count), sides, widths, strict=True)
    ]
    return render(fit(columns, width, keep=len(columns)))


def _widths(room: int, sides: list[list[str]]) -> list[int]:
    """The width of each run's column of ``diff``: an equal share of ``room``, a narrow column
    giving its spare room to the others."""
    natural = [max(map(len, cells)) for cells in sides]
    if sum(natural) <= room:
        return natural
    share = max(room // len(sides), 6)
    spare = sum(max(share - n, 0) for n in natural)
    wide = sum(1 for n in natural if n > share) or 1
    return [n if n <= share else max(share + spare // wide, 6) for n in natural]


def letters(count: int) -> list[str]:
    """The names of the compared runs in ``diff``: A, B, C, ..."""
    return [chr(ord("A") + i) if i < 26 else f"#{i + 1}" for i in range(count)]


def _precise(row: DiffRow) -> bool:
    """Whether 6 significant digits would make different values of the row look the same."""
    floats = {v for v in row.values if isinstance(v, float) and not is_missing(v)}
    return len({format(v, ".6g") for v in floats}) < len(floats)


def _diff_cell(row: DiffRow, i: int, precise: bool, delta: bool = True) -> str:
    value = row.values[i]
    if is_missing(value):
        return "(none)"
    text = repr(float(value)) if precise and isinstance(value, float) else short_text(value)
    text = " ".join(text.split())
    change = row.deltas[i]
    if not delta or change is None or i == 0 or change == 0:
        return text
    return f"{text} ({_signed(change)})"


def code_lines(code: CodeChanges, names: list[str]) -> list[str]:
    """The code change: ``git diff`` from the first run's commit to each other one's, then the
    saved patches (uncommitted changes) when they differ between the runs."""
    lines = []
    for change in code.commits:
        lines.append(
            f"Code: git diff {change.old[:12]} {change.new[:12]}"
            f"  ({names[0]} -> {names[change.run]})"
        )
        if change.note:
            lines.append(f"  # {change.note}")
        elif change.text:
            lines.append(change.text.rstrip("\n"))
        else:
            lines.append("  # no change in the files git tracks")
    for patch in code.patches:
        lines.append(f"Uncommitted changes of {names[patch.run]}: {patch.path}")
        lines.append(f"  # {patch.note}" if patch.note else (patch.text or "").rstrip("\n"))
    return lines
