"""A runs table as a pandas DataFrame, with the types sheetlog wrote restored.

- Columns keep the header's names; unnamed columns become ``Unnamed: N`` (as in pandas). Columns
  sharing a name (two writers of a Google Sheet added it at the same moment) become one when no
  row has a value in both; otherwise the later ones get ``.1``, ``.2``.
- Empty cells are missing values (NaN / None).
- In a column of numbers, the texts ``NaN``, ``inf`` and ``-inf`` (how sheetlog stores them, since
  a cell cannot hold them as numbers) become floats again.
- ``params.*`` and ``tags.*`` columns holding only whole numbers become integers (nullable
  ``Int64`` when some runs lack the value).
- Text holding a JSON list or object (how lists and dicts are stored) becomes that list or dict.
- A column of dates is ``datetime64[us]`` (years 1 to 9999). Dates a date cell cannot show
  (before 1900-03-01, after 9999-12-31 23:59:59) are ISO texts such as ``0001-01-01T00:00:00``:
  those texts are dates again when every other value of their column is one.
- ``start_time`` and ``end_time`` are time-zone aware (UTC), as sheetlog writes them in UTC.

The typing itself (``typed_column``) is plain Python, so that ``sheetlog ls`` can type the few
rows it shows without importing pandas.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .backends.base import Table
from .values import iso_moment

_NONFINITE = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}
_NUMBER_TYPES = {int, float}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UTC_COLUMNS = ("start_time", "end_time")

Kind = Literal["integer", "float", "time", "object"]


@dataclass
class Column:
    """A column's values as ``to_dataframe`` types them, in plain Python: ``integer`` (int or
    None), ``float`` (NaN when missing), ``time`` (naive datetimes in UTC, or None) and
    ``object`` (anything, None when missing)."""

    kind: Kind
    values: list[Any]


def to_dataframe(table: Table):  # -> pandas.DataFrame (pandas imported lazily: it is slow)
    import pandas as pd

    plain = plain_table(table)
    values = [list(column) for column in zip(*plain.rows, strict=True)] if plain.rows else None
    frame = pd.DataFrame(
        {
            name: _array(
                name, typed_column(name, values[i] if values else [], plain.nonfinite_texts)
            )
            for i, name in enumerate(plain.header)
        },
        columns=plain.header,
    )
    return frame


def plain_table(table: Table) -> Table:
    """``table`` with a name of its own for every column and every row as wide as the header:
    repeated names merged or numbered and unnamed columns named (see the module docstring).
    A table that is already so is returned as it is."""
    header = table.header
    width = max([len(header), *map(len, table.rows)])
    rows = table.rows
    if any(len(row) != width for row in rows):
        rows = [r if len(r) == width else [*r, *[None] * (width - len(r))] for r in rows]
    if len(header) == width and None not in header and len(set(header)) == len(header):
        return table if rows is table.rows else Table(header, rows, table.nonfinite_texts)
    header = [_at(header, i) or None for i in range(width)]
    values = [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
    indexed = list(zip(range(width), header, values, strict=True))
    named = [name for name in header if name]
    merged = _merge_repeated(indexed) if len(set(named)) < len(named) else indexed
    names = _column_names([(index, name) for index, name, _ in merged])
    columns = [values for _, _, values in merged]
    rows = [list(row) for row in zip(*columns, strict=True)] if rows else []
    return Table(names, rows, table.nonfinite_texts)


def with_nonfinite_floats(table: Table) -> Table:
    """``table`` with the texts ``NaN``, ``inf``, ``-inf`` as floats where ``load()`` reads
    them so (columns of numbers), for copying a workbook's values to a sheet of another kind."""
    if not table.nonfinite_texts:
        return table
    rows = [list(row) for row in table.rows]
    for index, name in enumerate(table.header):
        values = [row[index] if index < len(row) else None for row in rows]
        texts = any(type(v) is str and v in _NONFINITE for v in values)
        if texts and typed_column(name or "", values).kind == "float":
            for row in rows:
                if index < len(row) and type(row[index]) is str:
                    row[index] = _NONFINITE[row[index]]
    return Table(table.header, rows, nonfinite_texts=False)


def typed_columns(table: Table, names: Sequence[str], rows: Sequence[int]) -> dict[str, Column]:
    """The ``names`` columns of a ``plain_table``, for the rows at positions ``rows`` only,
    typed as if those rows were the whole table."""
    where = {name: index for index, name in enumerate(table.header)}
    return {
        name: typed_column(
            name, [table.rows[row][where[name]] for row in rows], table.nonfinite_texts
        )
        for name in names
    }


def typed_column(name: str, values: list[Any], nonfinite_texts: bool = True) -> Column:
    """The column ``name`` holding ``values`` (as read from a sheet), typed. ``nonfinite_texts``:
    whether the texts ``NaN``, ``inf``, ``-inf`` may be how the sheet stored those floats."""
    kinds = set(map(type, values))
    gaps = type(None) in kinds
    kinds.discard(type(None))
    if (
        kinds
        and kinds <= _NUMBER_TYPES | {str}
        and (
            str not in kinds
            or (nonfinite_texts and all(v in _NONFINITE for v in values if type(v) is str))
        )
        and (int not in kinds or all(_fits_int64(v) for v in values if type(v) is int))
    ):  # (an int beyond 64 bits, from a CSV file or a Sheets API reply, keeps the column object)
        if str in kinds:
            values = [_NONFINITE[v] if type(v) is str else v for v in values]
        whole = (
            name.startswith(("params.", "tags."))
            and str not in kinds
            and all(v is None or _fits_int64(v) for v in values)
        )
        if whole:
            return Column("integer", [None if v is None else int(v) for v in values])
        return Column("float", [math.nan if v is None else float(v) for v in values])
    if kinds and kinds <= {dt.datetime, dt.date, str}:
        moments = [v if type(v) is not str else iso_moment(v) for v in values]
        if None not in (moments[i] for i, v in enumerate(values) if type(v) is str):
            return Column("time", [None if v is None else _naive_utc(v) for v in moments])
    if str in kinds:
        strings = [v for v in values if type(v) is str] if gaps or len(kinds) > 1 else values
        texts = "\0" + "\0".join(strings)
        if "\0[" in texts or "\0{" in texts:  # some text may be a JSON list or object
            values = [_json_or_text(v) for v in values]
    if float in kinds or dt.date in kinds:
        whole = name.startswith(("params.", "tags."))
        values = [_as_logged(v, whole) for v in values]
    return Column("object", list(values))


def _as_logged(value: Any, whole: bool) -> Any:
    """A value of a mixed column as every kind of sheet gives it back: a whole number of a
    ``params.*`` / ``tags.*`` column an int (a workbook's numbers are all floats, a CSV file's
    and a Google Sheet's are not), a date a datetime (a workbook gives a date cell at midnight
    as a date)."""
    if type(value) is float and whole and _fits_int64(value):
        return int(value)
    if type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)
    return value


def _fits_int64(number: int | float) -> bool:
    """Whether ``number`` is whole and an ``Int64`` column can hold it (a float of 2**63 or more
    cannot: it stays a float, as does any non-finite one)."""
    if type(number) is int:
        return _INT64_MIN <= number <= _INT64_MAX
    return math.isfinite(number) and number.is_integer() and _INT64_MIN <= number < 2.0**63


def _array(name: str, column: Column):  # -> a pandas array or Series
    import pandas as pd

    if column.kind == "integer":
        return pd.array(column.values, dtype="Int64")
    if column.kind == "float":
        return pd.array(column.values, dtype="float64")
    if column.kind == "time":
        # microseconds: the years 1 to 9999 fit (nanoseconds span only 1677 to 2262)
        times = pd.Series(column.values, dtype="datetime64[us]")
        return times.dt.tz_localize("UTC") if name in _UTC_COLUMNS else times
    return pd.array(column.values, dtype="object")


def _naive_utc(value: dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _at(row: list[Any], index: int) -> Any:
    return row[index] if index < len(row) else None


def _merge_repeated(
    columns: list[tuple[int, str | None, list[Any]]],
) -> list[tuple[int, str | None, list[Any]]]:
    """Fold each column into the first one of the same name when no row has a value in both."""
    kept: list[tuple[int, str | None, list[Any]]] = []
    first: dict[str, list[Any]] = {}
    for index, name, values in columns:
        earlier = first.get(name) if name else None
        if earlier is not None and all(
            a is None or b is None for a, b in zip(earlier, values, strict=True)
        ):
            for row, value in enumerate(values):
                if value is not None:
                    earlier[row] = value
            continue
        if name and name not in first:
            first[name] = values
        kept.append((index, name, values))
    return kept


def _column_names(columns: list[tuple[int, str | None]]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for index, header_name in columns:
        name = header_name or f"Unnamed: {index}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{" and value[-1:] in "]}":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
