"""The table ``ls`` prints: which columns come first, their headers, and each cell as one line of
text. Plain Python over typed columns (``reading.Column``): ``ls`` need not import pandas."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from typing import Any

from ..query import is_missing, varies
from ..reading import Column
from ..schema import ADOPTABLE_PREFIXES, group_of
from .table_text import TextColumn, fit, render_blocks, terminal_text

_IDENTITY = ("name", "status")
_CONTEXT = re.compile(r"(command|host|user|metric_goals)$|(sys|git|packages)\.")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def runs_table(
    columns: dict[str, Column],
    chosen: list[str] | None,
    width: int | None,
    sort: str | None = None,
) -> tuple[Iterator[str], list[str]]:
    """The table for ``ls`` (blocks of lines, see ``render_blocks``) and the headers of the
    columns that did not fit in ``width`` (None: no limit, nothing is cut).

    The ``sort`` column is always shown. Without ``chosen`` columns the results come first (see
    ``column_order``)."""
    if chosen:
        order = chosen + ([sort] if sort and sort not in chosen else [])
        keep = len(order) if sort and sort not in chosen else 1
    else:
        order, keep = column_order(columns, sort)
    headers = short_names(list(columns))
    limit = width if width is not None else sys.maxsize
    text = _text_columns(columns, order, headers, cut=width is not None)
    shown = fit(text, limit, keep)
    return render_blocks(shown), [headers[name] for name in order[len(shown) :]]


def column_order(columns: dict[str, Column], sort: str | None = None) -> tuple[list[str], int]:
    """The columns of ``ls`` in order, and how many of them are always shown: name and status
    (run_id before them when the names do not tell the runs apart), the ``sort`` column, the
    metrics, the params that differ between these runs, then run_id and start_time, then the
    other columns that differ, then those the same in every run (see ``_table_rank``)."""
    names = columns["name"].values if "name" in columns else [None]
    unique = not any(map(is_missing, names)) and len(set(map(str, names))) == len(names)
    leading = [name for name in ("run_id",) if name in columns and not unique]
    leading += [name for name in _IDENTITY if name in columns]
    if sort and sort not in leading:
        leading.append(sort)
    rest = [name for name in columns if name not in leading]
    differs = {name: varies(columns[name]) for name in rest}
    filled = {name: any(not is_missing(v) for v in columns[name].values) for name in rest}

    def rank(name: str) -> tuple[int, int]:
        if name.startswith("metrics.") and filled[name]:
            return (0, 0)
        if name.startswith("params.") and differs[name]:
            return (1, 0)
        if name in ("run_id", "start_time"):
            return (2, 0)
        return (3 if differs[name] else 4, _table_rank(name))

    return leading + sorted(rest, key=rank), len(leading)


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
        return ["" if v != v else number_text(v) for v in values]  # NaN is missing
    if column.kind == "integer":
        return ["" if v is None else str(v) for v in values]
    texts = ["" if is_missing(v) else v if type(v) is str else object_text(v) for v in values]
    if any("\n" in text or "\r" in text for text in texts):
        texts = [_LINE_BREAKS.sub(" ", text) for text in texts]
    return [terminal_text(text.replace("\t", " ")) for text in texts]


def number_text(value: float) -> str:
    """A number as ``ls``, ``show``, ``best`` and ``diff`` print it: a whole number as the integer
    it is (a workbook keeps every number as a float: ``model_size`` 9427721 reads back
    9427721.0, which 6 significant digits would print 9.42772e+06), any other to 6 significant
    digits, without an exponent when it is large."""
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    text = format(value, ".6g")
    return format(value, ".1f") if "e+" in text else text


def object_text(value: Any) -> str:
    """A value of a column of mixed or unusual types: lists and dicts as JSON, others as str."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _text_columns(
    columns: dict[str, Column], order: list[str], headers: dict[str, str], cut: bool = True
) -> Iterator[TextColumn]:
    """Columns ready to draw, made one at a time (only those that fit are ever formatted);
    long text is cut only when ``cut``."""
    for name in order:
        column = columns[name]
        if name == "run_id":
            ids = ["" if is_missing(v) else str(v) for v in column.values]
            yield TextColumn("run_id", _short_ids(ids))
            continue
        widest = (30 if name == "name" else 40) if cut else sys.maxsize
        number = column.kind in ("integer", "float")
        cuttable = column.kind == "object"
        header = terminal_text(headers[name])
        yield TextColumn(header, cell_texts(column), number, widest, cuttable)


def _short_ids(ids: list[str]) -> list[str]:
    """The shortest prefix (8 characters or more) that tells the runs shown apart."""
    distinct = len(set(ids))
    for length in (8, 12, 16):
        if len({run_id[:length] for run_id in ids}) == distinct:
            return [run_id[:length] for run_id in ids]
    return ids


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
