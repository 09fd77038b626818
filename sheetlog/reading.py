"""A runs table as a pandas DataFrame, with the types sheetlog wrote restored.

- Columns keep the header's names; unnamed columns become ``Unnamed: N`` (as in pandas), and a
  repeated name gets ``.1``, ``.2``.
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

    names = _column_names(table.header, max((len(row) for row in table.rows), default=0))
    columns = {name: [_at(row, i) for row in table.rows] for i, name in enumerate(names)}
    frame = pd.DataFrame(
        {name: _restore(name, values) for name, values in columns.items()}, columns=names
    )
    for name in _UTC_COLUMNS:
        if name in frame and pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.tz_localize("UTC")
    return frame


def _at(row: list[Any], index: int) -> Any:
    return row[index] if index < len(row) else None


def _column_names(header: list[str | None], width: int) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for index in range(max(len(header), width)):
        name = header[index] if index < len(header) and header[index] else f"Unnamed: {index}"
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
