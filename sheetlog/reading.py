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
- ``start_time`` and ``end_time`` are time-zone aware (UTC), as sheetlog writes them in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from .backends.base import Table

_NONFINITE = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}
_NUMBER_TYPES = {int, float}
_UTC_COLUMNS = ("start_time", "end_time")


def to_dataframe(table: Table):  # -> pandas.DataFrame (pandas imported lazily: it is slow)
    import pandas as pd

    width = max([len(table.header), *map(len, table.rows)])
    header = [_at(table.header, i) or None for i in range(width)]
    rows = [r if len(r) == width else [*r, *[None] * (width - len(r))] for r in table.rows]
    values = [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
    indexed = list(zip(range(width), header, values, strict=True))
    named = [name for name in header if name]
    merged = _merge_repeated(indexed) if len(set(named)) < len(named) else indexed
    names = _column_names([(index, name) for index, name, _ in merged])
    columns = {name: values for name, (_, _, values) in zip(names, merged, strict=True)}
    frame = pd.DataFrame(
        {name: _restore(name, values) for name, values in columns.items()}, columns=names
    )
    for name in _UTC_COLUMNS:
        if name in frame and pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.tz_localize("UTC")
    return frame


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


def _restore(name: str, values: list[Any]):
    import pandas as pd

    kinds = set(map(type, values))
    gaps = type(None) in kinds
    kinds.discard(type(None))
    if (
        kinds
        and kinds <= _NUMBER_TYPES | {str}
        and (str not in kinds or all(v in _NONFINITE for v in values if type(v) is str))
    ):
        if str in kinds:
            values = [_NONFINITE[v] if type(v) is str else v for v in values]
        whole = name.startswith(("params.", "tags.")) and (
            kinds <= {int}
            or (str not in kinds and all(v is None or float(v).is_integer() for v in values))
        )
        if whole:
            return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
        return pd.array([math.nan if v is None else v for v in values], dtype="float64")
    if kinds and kinds <= {dt.datetime, dt.date}:
        return pd.to_datetime(pd.Series(values, dtype="object"))
    if str in kinds:
        strings = [v for v in values if type(v) is str] if gaps or len(kinds) > 1 else values
        texts = "\0" + "\0".join(strings)
        if "\0[" in texts or "\0{" in texts:  # some text may be a JSON list or object
            values = [_json_or_text(v) for v in values]
    return pd.array(values, dtype="object")


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{" and value[-1:] in "]}":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
