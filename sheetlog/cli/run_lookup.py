"""Runs looked up by value, with pandas: the rows ``--where`` conditions select, and a run by its
run_id, a run_id prefix or its name."""

from __future__ import annotations

import re
from typing import Any

import click
import pandas as pd

from ..backends.base import Table
from ..reading import to_dataframe
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
        try:
            found = _as_text(series).str.contains(condition.value, case=False, regex=True)
        except re.error as error:
            raise click.BadParameter(
                f"{condition.value!r} is not a regular expression ({error})", param_hint="--where"
            ) from None
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
