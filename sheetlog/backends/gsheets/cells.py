"""Cell values as JSON for the Sheets API, written with valueInputOption=RAW.

RAW keeps every string a string (``=1+1`` is never a formula). JSON cannot carry NaN or ±inf:
they are written as the texts ``NaN``, ``inf``, ``-inf`` (read back as floats, as in Excel
workbooks). Times are date serial numbers, so they sort chronologically; columns sheetlog
creates for them get a date-time format, and they read back as datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...values import CellValue, clip_text, date_serial, nonfinite_text

MAX_CELL_CHARS = 50_000
MAX_COLUMNS = 18_278
MAX_CELLS = 10_000_000
DATETIME_PATTERN = "yyyy-mm-dd hh:mm:ss.000"
_FORMATTED = "%Y-%m-%d %H:%M:%S.%f"
_EPOCH = dt.datetime(1899, 12, 30)
TIME_COLUMNS = ("start_time", "end_time")


def to_json(value: CellValue) -> tuple[Any, bool]:
    """(JSON value, whether text was cut to fit a cell)."""
    if isinstance(value, dt.datetime):
        return date_serial(value), False  # ISO text before 1900-03-01 and after 9999
    if isinstance(value, float):
        text = nonfinite_text(value)
        return (value if text is None else text), False
    if isinstance(value, str):
        return clip_text(value, MAX_CELL_CHARS)
    return value, False


def parse_formatted_datetime(text: str) -> dt.datetime | None:
    """A cell in the date-time format, as the API renders it (``2026-11-27 22:03:51.690``)."""
    if len(text) != 23 or text[4] != "-" or text[10] != " ":
        return None
    try:
        return dt.datetime.strptime(text + "000", _FORMATTED)
    except ValueError:
        return None


def from_serial(value: object) -> object:
    """A date serial number as a datetime (for the time columns, whatever their format)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return _EPOCH + dt.timedelta(days=value)
        except (OverflowError, ValueError):  # not a date: a number typed in by hand
            return value
    return value
