"""Values in CSV files, both ways: the one convention of the CSV target, ``sheetlog export`` and
``sheetlog ls --format csv`` (docs/values.md, "CSV files").

A CSV field has no type, so the text itself says what it is:

- empty: a missing value;
- a number: ``3``, ``-0.5``, ``1e-05`` (Python's ``repr``: it reads back exactly), and the words
  ``NaN``, ``inf``, ``-inf`` (as pandas and Python's ``float()`` read them);
- ``TRUE`` / ``FALSE``: a boolean;
- ``YYYY-MM-DD HH:MM:SS`` (``.ffffff`` when there are microseconds): a time, in UTC;
- anything else: text. Text that would read back as one of the above (``"0001"``, ``"TRUE"``,
  ``""``), that starts with ``'``, or that a spreadsheet opening the file would run as a formula
  (``=``, ``+``, ``-``, ``@``, a tab or carriage return first, or their full-width forms) gets a
  leading ``'``, which sheetlog removes when reading: ``csv_value(csv_field(t)) == t`` for
  every text ``t``, and a text never becomes a formula.

Fields follow RFC 4180: lines end with CRLF, and a field holding a comma, a quote, ``\\r`` or
``\\n`` is quoted (Python's ``csv`` quotes a lone ``\\r`` only when it is in the line ending).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from typing import Any, TextIO

from .values import MAX_EXACT_INT, nonfinite_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
LINE_END = "\r\n"

_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_INTEGER = re.compile(r"-?\d+")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d{1,6})?)?")
_NONFINITE = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}
_BOOLEANS = {"TRUE": True, "FALSE": False}


def csv_field(value: Any) -> str:
    """The CSV field for one cell value (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return nonfinite_text(value) or repr(value)
    if isinstance(value, dt.datetime):
        value = dt.datetime(*value.timetuple()[:6], value.microsecond, value.tzinfo)  # a Timestamp
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return csv_safe(str(value))


def csv_value(field: str) -> Any:
    """The value a CSV field stands for: None, a number, a boolean, a datetime or text."""
    if field.startswith("'"):
        return field[1:]
    if field == "":
        return None
    typed = _typed(field)
    return field if typed is None else typed


def csv_safe(text: str) -> str:
    """``text`` as a CSV field that reads back as this very text (a leading ``'`` if needed)."""
    if text.startswith(("'", *FORMULA_STARTS)) or text == "" or _typed(text) is not None:
        return "'" + text
    return text


def csv_unsafe(field: str) -> str:
    """The text of a field ``csv_safe`` wrote."""
    return field[1:] if field.startswith("'") else field


def write_csv_rows(stream: TextIO, rows: Iterable[Iterable[str]]) -> None:
    """Fields to ``stream`` per RFC 4180 (CRLF line ends; ``\\r``, ``\\n``, ``,``, ``"`` quoted)."""
    csv.writer(stream, lineterminator=LINE_END).writerows(rows)


def _typed(text: str) -> Any:
    """The number, boolean or time ``text`` stands for; None for text (and for "")."""
    if text == "":
        return None
    if _NUMBER.fullmatch(text):
        if _INTEGER.fullmatch(text) and len(text) <= 17:
            number = int(text)
            if abs(number) <= MAX_EXACT_INT:  # as cells hold them: beyond, a double loses digits
                return number
        return float(text)
    if text in _NONFINITE:
        return _NONFINITE[text]
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    if _TIME.fullmatch(text):
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    return None
