"""The table ``ls`` prints: which columns come first, their headers, and each cell as one line of
text. Plain Python over typed columns (``reading.Column``): ``ls`` need not import pandas."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ..reading import Column
from ..schema import ADOPTABLE_PREFIXES, group_of
from .table_text import TextColumn, fit, render_blocks

_LEADING = ("run_id", "name", "status")
_CONTEXT = re.compile(r"(command|host|user)$|(sys|git|packages)\.")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def runs_table(
    columns: dict[str, Column], chosen: list[str] | None, width: int
) -> tuple[Iterator[str], list[str]]:
    """The table for ``ls`` (blocks of lines, see ``render_blocks``) and the headers of the
    columns that did not fit.

    Without ``chosen`` columns: run_id, name and status, then the columns whose values differ
    between these runs, then the constant ones (see ``_table_rank`` for the order inside each).
    """
    if chosen:
        order, keep = chosen, 1
    else:
        leading = [name for name in _LEADING if name in columns]
        rest = [name for name in columns if name not in leading]
        varies = {name: _varies(columns[name].values) for name in rest}
        order = leading + sorted(rest, key=lambda name: (not varies[name], _table_rank(name)))
        keep = len(leading)
    headers = short_names(list(columns))
    shown = fit(_text_columns(columns, order, headers), width, keep)
    return render_blocks(shown), [headers[name] for name in order[len(shown) :]]


def short_names(columns: list[str]) -> dict[str, str]:
    """Headers for the table: ``lr`` for ``params.lr`` when no other column shortens to ``lr``."""
    short = {}
    for column in columns:
        prefix = next((p for p in ADOPTABLE_PREFIXES if column.startswith(p)), None)
        short[column] = column[len(prefix) :] if prefix else column
    counts: dict[str, int] = {}
    for name in [*short.values(), *(c for c in columns if short[c] != c)]:
        counts[name] = counts.get(name, 0) + 1
    return {column: name if counts[name] == 1 else column for column, name in short.items()}


def cell_texts(column: Column) -> list[str]:
    """The column as one-line text for the terminal (missing values empty, times to the
    minute, numbers to 6 significant digits)."""
    values = column.values
    if column.kind == "time":
        return ["" if v is None else v.strftime("%Y-%m-%d %H:%M") for v in values]
    if column.kind == "float":
        return ["" if v != v else format(v, ".6g") for v in values]  # NaN is missing
    if column.kind == "integer":
        return ["" if v is None else str(v) for v in values]
    texts = ["" if _missing(v) else v if type(v) is str else object_text(v) for v in values]
    if any("\n" in text or "\r" in text for text in texts):
        texts = [_LINE_BREAKS.sub(" ", text) for text in texts]
    return texts


def object_text(value: Any) -> str:
    """A value of a column of mixed or unusual types: lists and dicts as JSON, others as str."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (type(value) is float and value != value)


def _text_columns(
    columns: dict[str, Column], order: list[str], headers: dict[str, str]
) -> Iterator[TextColumn]:
    """Columns ready to draw, made one at a time (only those that fit are ever formatted)."""
    for name in order:
        column = columns[name]
        if name == "run_id":
            ids = ["" if _missing(v) else str(v) for v in column.values]
            yield TextColumn("run_id", _short_ids(ids))
            continue
        widest = 30 if name == "name" else 40
        number = column.kind in ("integer", "float")
        cuttable = column.kind == "object"
        yield TextColumn(headers[name], cell_texts(column), number, widest, cuttable)


def _short_ids(ids: list[str]) -> list[str]:
    """The shortest prefix (8 characters or more) that tells the runs shown apart."""
    distinct = len(set(ids))
    for length in (8, 12, 16):
        if len({run_id[:length] for run_id in ids}) == distinct:
            return [run_id[:length] for run_id in ids]
    return ids


def _varies(values: list[Any]) -> bool:
    keys = [None if _missing(value) else value for value in values]
    try:
        return len(set(keys)) > 1
    except TypeError:  # lists or dicts in the column
        return len(set(map(repr, keys))) > 1


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
