"""Turn whatever a user logs into a value a spreadsheet cell can hold, without losing it.

Cell values are ``None``, ``bool``, ``int``, ``float`` (NaN and ±inf included), ``datetime``
(naive, UTC when the input was time-zone aware) or ``str``. Everything else is converted here,
once, when the run is recorded: numpy / torch scalars become plain numbers, arrays, lists and dicts
JSON text, bytes UTF-8 text (or ``base64:`` text when they are not UTF-8), any other object its
``str()``. Lone surrogates in text (undecodable file names) become visible ``\\udcxx`` escapes.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import fractions
import json
import math
import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Union

CellValue = Union[None, bool, int, float, dt.datetime, str]  # noqa: UP007 - runtime alias, 3.10

#: Integers beyond this lose digits as spreadsheet numbers (IEEE doubles): they are kept as text.
MAX_EXACT_INT = 2**53

NONFINITE_TEXT = {"nan": "NaN", "inf": "inf", "-inf": "-inf"}


def to_cell(value: Any) -> CellValue:
    """Convert one logged value to a cell value (see the module docstring for the rules)."""
    if isinstance(value, enum.Enum):
        return to_cell(value.value)
    if value is None or type(value) in (bool, float):
        return value
    if isinstance(value, str):
        return storable_text(str(value))
    if isinstance(value, bool):  # numpy.bool_ is not a bool; subclasses of bool are rare
        return bool(value)
    if isinstance(value, float):  # numpy.float64 and other float subclasses
        return float(value)
    if isinstance(value, int):
        number = int(value)
        return number if abs(number) <= MAX_EXACT_INT else str(number)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (Decimal, fractions.Fraction)):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_to_text(bytes(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    scalar = _array_scalar(value)
    if scalar is not _NOT_SCALAR:
        return to_cell(scalar)
    return json_text(value) if _is_container(value) else _text_of(value)


def storable_text(text: str) -> str:
    """``text``, with lone surrogates (undecodable bytes of file names or ``sys.argv``) written as
    visible ``\\udcff`` escapes: UTF-8, hence the journal and the workbook, cannot hold them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _text_of(value: Any) -> str:
    """``str(value)``; a broken ``__str__`` must not cost the user their run."""
    try:
        return storable_text(str(value))
    except Exception:  # noqa: BLE001
        return f"<{type(value).__qualname__} object: str() failed>"


def json_text(value: Any) -> str:
    """Compact JSON for lists, dicts and array-likes; NaN and ±inf written as JSON5-style words."""
    text = json.dumps(
        _jsonable(value), ensure_ascii=False, separators=(", ", ": "), default=_text_of
    )
    return storable_text(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    if hasattr(value, "tolist") and callable(value.tolist):
        return _jsonable(value.tolist())
    cell = to_cell(value) if not isinstance(value, (dict, list)) else value
    if isinstance(cell, dt.datetime):
        return cell.isoformat()
    return cell


def _is_container(value: Any) -> bool:
    return (
        isinstance(value, (Mapping, list, tuple, set, frozenset))
        or (dataclasses.is_dataclass(value) and not isinstance(value, type))
        or (hasattr(value, "tolist") and hasattr(value, "shape"))
    )


_NOT_SCALAR = object()


def _array_scalar(value: Any) -> Any:
    """The Python number inside a numpy / torch / jax scalar or 0-d array, else ``_NOT_SCALAR``."""
    item = getattr(value, "item", None)
    if item is None or not callable(item):
        return _NOT_SCALAR
    shape = getattr(value, "shape", ())
    if tuple(shape) != ():
        return _NOT_SCALAR
    try:
        return item()
    except (TypeError, ValueError, RuntimeError):
        return _NOT_SCALAR


def _bytes_to_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def nonfinite_text(number: float) -> str | None:
    """The text a NaN or ±inf is stored as in a sheet ('NaN', 'inf', '-inf'), None if finite."""
    return None if math.isfinite(number) else NONFINITE_TEXT[repr(number)]


def clip_text(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters with a visible marker; returns (text, was_clipped).

    Characters are counted as Excel counts them, in UTF-16 code units (an emoji is two).
    """
    if len(text) <= limit // 2:
        return text, False
    utf16 = text.encode("utf-16-le")
    if len(utf16) <= 2 * limit:
        return text, False
    marker = f" …[truncated from {len(text):,} characters; full value in the sheetlog journal]"
    kept = utf16[: 2 * (limit - len(marker))].decode("utf-16-le", "ignore")  # no half pair
    return kept + marker, True
