"""Picking runs and columns out of a runs table: short column names, --where, a run by id.

Column names contain dots (``params.lr``), so ``--where`` is parsed here as ``NAME OP VALUE``
rather than handed to ``DataFrame.query`` or ``eval``.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
import pandas as pd

from ..backends.base import Table
from ..reading import to_dataframe
from ..schema import ADOPTABLE_PREFIXES

_OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">", "~")
_CONDITION = re.compile(
    r"^\s*(?P<name>[^<>=!~]+?)\s*(?P<op>" + "|".join(map(re.escape, _OPERATORS)) + r")\s*"
    r"(?P<value>.*?)\s*$",
    re.DOTALL,
)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?inf$", re.IGNORECASE)


def resolve_column(name: str, columns: list[str], option: str) -> str:
    """The column ``name`` stands for: itself, or ``params.``/``metrics.``/``tags.`` + it when
    exactly one of those exists. ``click.BadParameter`` (exit 2) naming close names otherwise."""
    if name in columns:
        return name
    prefixed = [prefix + name for prefix in ADOPTABLE_PREFIXES if prefix + name in columns]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise click.BadParameter(
            f"{name!r} is ambiguous: {', '.join(prefixed)}; write the full name",
            param_hint=option,
        )
    folded = [column for column in columns if column.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise click.BadParameter(unknown_column_message(name, columns), param_hint=option)


def unknown_column_message(name: str, columns: list[str]) -> str:
    short = {column.split(".", 1)[1]: column for column in columns if "." in column}
    containing = [column for column in columns if name.casefold() in column.casefold()]
    close = difflib.get_close_matches(name, [*columns, *short], n=5, cutoff=0.6)
    names = list(dict.fromkeys([*containing, *(short.get(match, match) for match in close)]))
    if names:
        return f"no column {name!r}; close names: {', '.join(names[:6])}"
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    return f"no column {name!r}; the columns are: {shown}"


def metric_column(metric: str, columns: list[str], target: str) -> str:
    """``--metric``: ``metrics.<metric>`` first, then any column the name stands for;
    ``click.ClickException`` (exit 1) when the runs have no such column."""
    if metric not in columns and f"metrics.{metric}" in columns:
        return f"metrics.{metric}"
    if metric in columns or any(prefix + metric in columns for prefix in ADOPTABLE_PREFIXES):
        return resolve_column(metric, columns, "--metric")
    raise click.ClickException(
        f"no run in {target} has the metric: {unknown_column_message(metric, columns)}"
    )


def resolve_columns(requested: tuple[str, ...], columns: list[str]) -> list[str]:
    """``--columns`` values (comma lists, repeated, ``params.*`` patterns) as column names."""
    chosen: list[str] = []
    for item in (part.strip() for value in requested for part in value.split(",")):
        if not item:
            continue
        if any(char in item for char in "*?["):
            matched = fnmatch.filter(columns, item)
            if not matched:
                raise click.BadParameter(f"no column matches {item!r}", param_hint="--columns")
            chosen.extend(matched)
        else:
            chosen.append(resolve_column(item, columns, "--columns"))
    return list(dict.fromkeys(chosen))


@dataclass
class Condition:
    """One ``--where NAME OP VALUE``."""

    column: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str, columns: list[str]) -> Condition:
        match = _CONDITION.match(text)
        if not match or not match["name"].strip():
            raise click.BadParameter(
                f"{text!r} is not NAME OP VALUE (OP one of = != < <= > >= ~)", param_hint="--where"
            )
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        op = "=" if match["op"] == "==" else match["op"]
        return cls(resolve_column(match["name"], columns, "--where"), op, value)

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """Which rows satisfy the condition (a missing value satisfies only ``!=``)."""
        series = frame[self.column]
        if self.op == "~":
            try:
                found = _as_text(series).str.contains(self.value, case=False, regex=True)
            except re.error as error:
                raise click.BadParameter(
                    f"{self.value!r} is not a regular expression ({error})", param_hint="--where"
                ) from None
            return found.fillna(False).astype(bool) & series.notna()
        left, right = self._operands(series)
        result = _compare(left, self.op, right)
        return result.fillna(self.op == "!=").astype(bool)

    def _operands(self, series: pd.Series) -> tuple[pd.Series, Any]:
        value = self.value
        if pd.api.types.is_datetime64_any_dtype(series):
            when = pd.Timestamp(value)
            return series, when.tz_localize("UTC") if when.tzinfo is None else when
        if value.lower() in ("true", "false") and not pd.api.types.is_string_dtype(series):
            return series, value.lower() == "true"
        if pd.api.types.is_numeric_dtype(series):
            if not _NUMBER.match(value):
                raise click.BadParameter(
                    f"{self.column} holds numbers; {value!r} is not one", param_hint="--where"
                )
            return series, float(value)
        if _NUMBER.match(value) and self.op != "=" and self.op != "!=":
            return pd.to_numeric(series, errors="coerce"), float(value)
        if self.column == "status":
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


def select(frame: pd.DataFrame, conditions: list[Condition]) -> pd.DataFrame:
    """The rows satisfying every ``--where`` condition."""
    keep = pd.Series(True, index=frame.index)
    for condition in conditions:
        keep &= condition.mask(frame)
    return frame[keep]


def pick_runs(
    frame: pd.DataFrame,
    conditions: list[Condition],
    sort_column: str | None,
    desc: bool,
    limit: int | None,
    screen: int | None,
) -> tuple[pd.DataFrame, int]:
    """The runs ``ls`` shows, in order, and how many satisfy ``conditions``: the ``limit`` most
    recent (start-time order, or ``sort_column``'s), then, when a screen's worth of ``screen``
    rows is wanted, the first of them by ``--sort`` or else the most recent."""
    frame = newest_last(select(frame, conditions))
    matched = len(frame)
    if limit:
        frame = frame.tail(limit)
    if sort_column:
        frame = sort_by(frame, sort_column, desc)
        return (frame.head(screen) if screen else frame), matched
    if screen:
        frame = frame.tail(screen)
    return (frame.iloc[::-1] if desc else frame), matched


def plain_names(table: Table) -> list[str] | None:
    """The column names of ``table`` when every column has a name of its own (as sheetlog writes
    them): then each column is typed on its own, and ``typed_runs`` can type a few at a time."""
    header = table.header
    width = max([len(header), *map(len, table.rows)])
    if len(header) < width or None in header or len(set(header)) < len(header):
        return None
    return header


def typed_runs(
    table: Table, names: list[str], columns: list[str], rows: Sequence[int]
) -> pd.DataFrame:
    """``columns`` of the ``rows`` (positions) of a table with ``plain_names``, typed as
    ``sheetlog.load`` types them when those rows are all there is, indexed by position."""
    if columns == names:
        picked = [table.rows[position] for position in rows]
    else:
        where = [names.index(name) for name in columns]
        picked = [[_at(table.rows[position], i) for i in where] for position in rows]
    frame = to_dataframe(Table(columns, picked)) if columns else pd.DataFrame(index=rows)
    frame.index = rows
    return frame


def parse_where(where: tuple[str, ...], columns: list[str]) -> list[Condition]:
    return [Condition.parse(text, columns) for text in where]


def newest_last(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by start time, oldest first (sheet order where there is no start time)."""
    if "start_time" not in frame:
        return frame
    return frame.sort_values("start_time", kind="stable", na_position="first")


def sort_by(frame: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Rows sorted by ``column`` (missing values last); ties stay in their current order."""
    try:
        return frame.sort_values(
            column, ascending=not descending, kind="stable", na_position="last"
        )
    except TypeError:  # numbers and text in one column: order them as text
        return frame.sort_values(
            column,
            ascending=not descending,
            kind="stable",
            na_position="last",
            key=_as_text,
        )


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


def _at(row: list[Any], index: int) -> Any:
    return row[index] if index < len(row) else None


def _listing(runs: pd.DataFrame, most: int = 5) -> str:
    names = runs["name"] if "name" in runs else pd.Series("", index=runs.index)
    items = [f"{run_id} ({name})" for run_id, name in zip(runs["run_id"], names, strict=True)]
    return ", ".join(items[:most]) + (", …" if len(items) > most else "")
