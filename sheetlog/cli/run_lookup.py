"""Runs looked up by value, with pandas: the rows ``--where`` conditions select, and a run by its
run_id, a run_id prefix or its name."""

from __future__ import annotations

import re
from typing import Any

import click
import pandas as pd

from ..backends.base import Table
from ..reading import to_dataframe
from ..run_names import RunRef, pick_run
from .run_query import Condition

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?inf$", re.IGNORECASE)


def matching_rows(table: Table, conditions: list[Condition]) -> list[int]:
    """The positions of the rows of a ``plain_table`` that satisfy every condition (each
    column typed as ``sheetlog.load`` types it)."""
    names = list(dict.fromkeys(condition.column for condition in conditions))
    where = [table.header.index(name) for name in names]
    frame = to_dataframe(Table(names, [[row[i] for i in where] for row in table.rows]))
    keep = pd.Series(True, index=frame.index)
    for condition in conditions:
        keep &= condition_mask(condition, frame)
    return [int(row) for row in keep.to_numpy().nonzero()[0]]


def condition_mask(condition: Condition, frame: pd.DataFrame) -> pd.Series:
    """Which rows satisfy the condition (a missing value satisfies only ``!=``)."""
    series = frame[condition.column]
    if condition.op == "~":
        # Python's re, not pandas' str.contains: with pyarrow strings that is RE2, which has
        # other syntax and raises its own error (a usage error must exit 2, with the cause).
        try:
            pattern = re.compile(condition.value, re.IGNORECASE)
        except re.error as error:
            raise click.BadParameter(
                f"{condition.value!r} is not a regular expression ({error})", param_hint="--where"
            ) from None
        found = _as_text(series).map(lambda text: bool(pattern.search(text)), na_action="ignore")
        return found.fillna(False).astype(bool) & series.notna()
    left, right = _operands(condition, series)
    result = _compare(left, condition.op, right)
    return result.fillna(condition.op == "!=").astype(bool)


def _operands(condition: Condition, series: pd.Series) -> tuple[pd.Series, Any]:
    value = condition.value
    if pd.api.types.is_datetime64_any_dtype(series):
        when = pd.Timestamp(value)
        return series, when.tz_localize("UTC") if when.tzinfo is None else when
    if value.lower() in ("true", "false") and not pd.api.types.is_string_dtype(series):
        return series, value.lower() == "true"
    if pd.api.types.is_numeric_dtype(series):
        if not _NUMBER.match(value):
            raise click.BadParameter(
                f"{condition.column} holds numbers; {value!r} is not one", param_hint="--where"
            )
        return series, float(value)
    if _NUMBER.match(value) and condition.op != "=" and condition.op != "!=":
        return pd.to_numeric(series, errors="coerce"), float(value)
    if condition.column == "status":
        value = value.upper()
    if _NUMBER.match(value):  # text or mixed column: 3 matches the number 3 and the text "3"
        numbers = pd.to_numeric(series, errors="coerce")
        same = (numbers == float(value)) | (_as_text(series) == value)
        return same, True
    return _as_text(series), value


def _compare(left: pd.Series, op: str, right: Any) -> pd.Series:
    if op == "=":
        result = left == right
    elif op == "!=":
        result = left != right
    elif op == "<":
        result = left < right
    elif op == "<=":
        result = left <= right
    elif op == ">":
        result = left > right
    else:
        result = left >= right
    return result.where(left.notna(), None) if op != "!=" else result.where(left.notna(), True)


def _as_text(series: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        return series
    return series.map(str, na_action="ignore").astype("str")


def find_run(frame: pd.DataFrame, key: str, target: str) -> pd.Series:
    """The run ``key`` names (``sheetlog.run_names``: a run_id, a unique run_id prefix of 4+
    characters, or a name, the newest run of that name); a note on stderr when that name is
    shared. ``RunNotFound`` (exit 1) when there is none."""
    runs = []
    if not frame.empty and "run_id" in frame:
        missing = [None] * len(frame)
        names = frame["name"].tolist() if "name" in frame else missing
        starts = frame["start_time"].tolist() if "start_time" in frame else missing
        for position, value in enumerate(frame["run_id"].tolist()):
            run_id = _id_text(value)
            if run_id:
                name = names[position]
                name = None if name is None or name != name else str(name)
                runs.append(RunRef(run_id, name, starts[position], position))
    pick = pick_run(key, runs, target)
    if pick.note:
        click.echo(f"note: {pick.note}", err=True)
    return frame.iloc[pick.run.position]


def _id_text(value: Any) -> str | None:
    """A run_id cell as text (a hand-kept sheet may hold numbers there)."""
    if value is None or value != value or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
