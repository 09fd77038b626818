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
_UTC_COLUMNS = ("start_time", "end_time")


def to_dataframe(table: Table):  # -> pandas.DataFrame (pandas imported lazily: it is slow)
    import pandas as pd

    width = max([len(table.header), *(len(row) for row in table.rows)])
    header = [_at(table.header, i) or None for i in range(width)]
    merged = _merge_repeated(
        [(i, name, [_at(row, i) for row in table.rows]) for i, name in enumerate(header)]
    )
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

    present = [v for v in values if v is not None]
    numeric = [v for v in present if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if present and all(
        (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in _NONFINITE
        for v in present
    ):
        floats = [_NONFINITE.get(v, v) if isinstance(v, str) else v for v in values]
        whole = all(float(v).is_integer() for v in numeric) and len(numeric) == len(present)
        if whole and name.startswith(("params.", "tags.")):
            return pd.array([None if v is None else int(v) for v in floats], dtype="Int64")
        return pd.array([math.nan if v is None else float(v) for v in floats], dtype="float64")
    if present and all(isinstance(v, (dt.datetime, dt.date)) for v in present):
        return pd.to_datetime(pd.Series(values, dtype="object"))
    return pd.array([_json_or_text(v) for v in values], dtype="object")


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{" and value[-1:] in "]}":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
