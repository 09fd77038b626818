"""Runs as text, JSON and CSV: how each kind of column is shown, and the export file formats.

JSON and CSV output are for scripts, so they are stable: every selected column is a key (or a CSV
column), times are ISO-8601 in UTC, missing values, NaN and infinities are ``null`` in JSON and
empty in CSV, lists and dicts stay JSON; a column of whole numbers holds integers (a workbook
keeps every number as a float), in every command alike. CSV files follow
``sheetlog.csv_text`` (RFC 4180 quoting; a text never runs as a formula in a spreadsheet opening
the file).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import math
import os
from typing import Any, TextIO

import click
import pandas as pd

from ..csv_text import LINE_END, csv_field, csv_safe, write_csv_rows
from ..values import to_cell
from .runs_table import object_text

EXPORT_FORMATS = (".csv", ".json", ".parquet")


def value_text(value: Any) -> str:
    """One value in full, as ``show`` and ``diff`` print it."""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return object_text(value)


def is_missing(value: Any) -> bool:
    return not isinstance(value, (list, dict)) and bool(pd.isna(value))


def json_column(series: pd.Series) -> list[Any]:
    """The column as JSON-ready Python values (see the module docstring)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(t) else t.isoformat() for t in series]
    if pd.api.types.is_float_dtype(series):
        finite = series.map(math.isfinite)
        number = int if _whole(series[finite]) else float
        return [number(v) if ok else None for v, ok in zip(series, finite, strict=True)]
    return [None if is_missing(v) else _json_ready(v) for v in series.astype(object)]


def _json_ready(value: Any) -> Any:
    """A value of a mixed column (times, numbers, texts, lists and dicts read from JSON text)
    as strict JSON can hold it: times ISO-8601, NaN and infinities ``null``, also inside lists."""
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def _whole(numbers: pd.Series) -> bool:
    """Whether a column's finite numbers are all whole: a workbook keeps every number as a float
    (9427721 reads back 9427721.0), JSON gives them as the integers they are, as ``show`` does."""
    return bool(len(numbers)) and bool(((numbers % 1 == 0) & (numbers.abs() < 2**53)).all())


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = {name: json_column(frame[name]) for name in frame.columns}
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def json_value(value: Any) -> Any:
    """One cell as JSON-ready Python (for ``show``, ``best`` and ``diff``)."""
    return json_column(pd.Series([value]))[0]


def dump_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False)


def write_csv(frame: pd.DataFrame, stream: TextIO) -> None:
    """The frame in the CSV convention of ``sheetlog.csv_text`` (the CSV target's too). A float
    column's NaN is empty: ``load()`` gives NaN for a missing value and for a logged NaN alike;
    a column of whole numbers is written as integers."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_float_dtype(series):
            values = series.astype(object).where(series.notna(), None).tolist()
            if _whole(series[series.map(math.isfinite)]):  # 9427721, not 9427721.0, as in JSON
                values = [v if v is None or not math.isfinite(v) else int(v) for v in values]
        else:
            values = [None if is_missing(v) else to_cell(v) for v in series.astype(object)]
        columns.append([csv_field(value) for value in values])
    header = [csv_safe(str(name)) for name in frame.columns]
    write_csv_rows(stream, [header, *zip(*columns, strict=True)])


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV of ``frame`` for ``click.echo``, which ends the last line itself."""
    buffer = io.StringIO()
    write_csv(frame, buffer)
    return buffer.getvalue().removesuffix(LINE_END)


def write_export(frame: pd.DataFrame, path: str, force: bool) -> None:
    """Write ``frame`` to ``path`` as CSV, JSON or Parquet (chosen by the file's suffix)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in EXPORT_FORMATS:
        raise click.BadParameter(
            f"{path!r}: the file name must end in .csv, .json or .parquet", param_hint="-o"
        )
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise click.ClickException("install pyarrow to write parquet (pip install pyarrow)")
    if os.path.exists(path) and not force:
        raise click.ClickException(f"{path} exists; add --force to overwrite it")
    if suffix == ".parquet":
        _for_parquet(frame).to_parquet(path, index=False)
        return
    with open(path, "w", encoding="utf-8", newline="") as stream:
        if suffix == ".csv":
            write_csv(frame, stream)
        else:
            stream.write(dump_json(json_records(frame)) + "\n")


def _for_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of mixed Python values (text and numbers, lists) become text: Parquet columns
    have one type."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_object_dtype(out[name]):
            out[name] = out[name].map(value_text, na_action="ignore").astype("str")
    return out
