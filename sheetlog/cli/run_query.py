"""Picking runs and columns out of a runs table: short column names, --where, the order of ls.

Column names contain dots (``params.lr``), so ``--where`` is parsed here as ``NAME OP VALUE``
rather than handed to ``DataFrame.query`` or ``eval`` (``run_lookup`` evaluates it). Plain
Python: ``ls`` without ``--where`` never imports pandas.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass
from typing import Any

import click

from ..reading import Column
from ..schema import ADOPTABLE_PREFIXES

_OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">", "~")
_CONDITION = re.compile(
    r"^\s*(?P<name>[^<>=!~]+?)\s*(?P<op>" + "|".join(map(re.escape, _OPERATORS)) + r")\s*"
    r"(?P<value>.*?)\s*$",
    re.DOTALL,
)


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


def parse_where(where: tuple[str, ...], columns: list[str]) -> list[Condition]:
    return [Condition.parse(text, columns) for text in where]


def pick_rows(
    rows: list[int],
    start_times: Column | None,
    sort: Column | None,
    desc: bool,
    limit: int | None,
    screen: int | None,
) -> list[int]:
    """The rows (positions) ``ls`` shows, in order: of ``rows``, the ``limit`` most recent (by
    start time, missing ones first, else sheet order), in ``sort``'s order (missing values last,
    ties as they were) or oldest first (``desc``: reversed); only the first ``screen`` of a sort,
    or else the ``screen`` most recent, when a screenful is wanted."""
    if start_times is not None:
        rows = _sorted(rows, start_times.values, missing_first=True)
    if limit:
        rows = rows[-limit:]
    if sort is not None:
        rows = _sorted(rows, sort.values, descending=desc)
        return rows[:screen] if screen else rows
    if screen:
        rows = rows[-screen:]
    return rows[::-1] if desc else rows


def _sorted(
    rows: list[int], values: list[Any], descending: bool = False, missing_first: bool = False
) -> list[int]:
    present = [row for row in rows if not _missing(values[row])]
    missing = [row for row in rows if _missing(values[row])]
    try:
        present = sorted(present, key=values.__getitem__, reverse=descending)
    except TypeError:  # numbers and text in one column: order them as text
        present = sorted(present, key=lambda row: str(values[row]), reverse=descending)
    return missing + present if missing_first else present + missing


def _missing(value: Any) -> bool:
    return value is None or value != value  # NaN is the only value unequal to itself
