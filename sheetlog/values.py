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
import itertools
import json
import math
import numbers
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Union

from .errors import warn

CellValue = Union[None, bool, int, float, dt.datetime, str]  # noqa: UP007 - runtime alias, 3.10

#: Integers beyond this lose digits as spreadsheet numbers (IEEE doubles): they are kept as text.
MAX_EXACT_INT = 2**53

NONFINITE_TEXT = {"nan": "NaN", "inf": "inf", "-inf": "-inf"}

#: The longest text a value becomes (Google Sheets' cell limit, the largest of any backend):
#: a million-element array must not put megabytes into the journal and every write.
MAX_TEXT_CHARS = 50_000

#: The longest text kept of a string: the whole string goes to the journal, each cell gets as
#: much as it holds; beyond this, a string would only slow every write of the journal.
MAX_LOGGED_TEXT_CHARS = 1_000_000
_WHY = {
    MAX_TEXT_CHARS: " (the most a spreadsheet cell holds)",
    MAX_LOGGED_TEXT_CHARS: " (sheetlog keeps at most that much of a text in its journal)",
}
_ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?")
_CELL_TYPES = (type(None), bool, int, float, dt.datetime, str)


def to_cell(value: Any, name: str | None = None) -> CellValue:
    """Convert one logged value to a cell value (see the module docstring for the rules).

    Never raises: a value no rule fits becomes its ``str()``. The result is always of exactly one
    of the ``CellValue`` types (no subclass), so that the journal can store it and read it back.
    ``name`` (the column) is only used in the warning about a text cut to ``MAX_TEXT_CHARS``.
    """
    cell = _convert_safely(value)  # RecursionError, a broken __float__ ...: keep the run
    limit = MAX_LOGGED_TEXT_CHARS if isinstance(value, str) else MAX_TEXT_CHARS
    if type(cell) is str and len(cell) > limit // 2:
        cell, clipped = clip_text(cell, limit, f" …[cut to {limit:,} characters by sheetlog]")
        if clipped:
            where = f" in column {name!r}" if name else ""
            warn(
                f"a value{where} ({_size_of(value)}) was cut to {limit:,} characters"
                f"{_WHY[limit]}. Log a summary, or save the value to a file and log its path."
            )
    return cell


def _convert(value: Any) -> CellValue:
    kind = type(value)
    if value is None or kind is bool or kind is float:
        return value
    if kind is int:
        return _integer(value)
    if kind is str:
        return storable_text(value)
    if isinstance(value, enum.Enum):
        return to_cell(value.value)
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):  # a subclass: its own __str__ may return anything
        return storable_text(str.__str__(value))
    if isinstance(value, float):  # numpy.float64 and other float subclasses
        return float.__float__(value)
    if isinstance(value, int):
        return _integer(int.__int__(value))
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.timedelta):
        return dt.timedelta.total_seconds(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    numpy_time = _numpy_time(value)
    if numpy_time is not _NOT_SCALAR:
        return numpy_time
    if isinstance(value, numbers.Integral):
        return _integer(int(value))
    if isinstance(value, numbers.Real):  # Fraction, numpy.longdouble, other real numbers
        return _real(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_to_text(bytes(value))
    if isinstance(value, os.PathLike):
        return storable_text(os.fspath(value))
    scalar = _array_scalar(value)
    if scalar is not _NOT_SCALAR and type(scalar) is not kind:
        return to_cell(scalar)
    return json_text(value) if _is_container(value) else _text_of(value)


def _is_missing(value: Any) -> bool:
    """pandas' ``NA`` and ``NaT`` (a datetime that is not equal to itself), numpy's ``NaT``."""
    kind = type(value)
    if kind.__name__ in ("NAType", "NaTType") and kind.__module__.startswith("pandas"):
        return True
    if isinstance(value, (dt.datetime, dt.timedelta)):
        return bool(value != value)
    return False


def _integer(number: int) -> int | str:
    """An int as a number, or as its digits when a spreadsheet's double would lose some."""
    if -MAX_EXACT_INT <= number <= MAX_EXACT_INT:
        return number
    return str(Decimal(number))  # str(int) refuses more than 4,300 digits


def _real(value: Any) -> float | str:
    """A float, or the exact text of a number too large for one (``Fraction(10**400, 3)``)."""
    try:
        number = float(value)
    except OverflowError:
        return _text_of(value)
    return number


def _decimal(value: Decimal) -> float | str:
    if value.is_nan():  # quiet and signalling NaN alike: float() refuses the signalling one
        return math.nan
    number = float(value)
    return number if math.isfinite(number) or value.is_infinite() else str(value)


def _datetime(value: dt.datetime) -> dt.datetime | str:
    """A plain naive datetime (a pandas Timestamp's nanoseconds are dropped), UTC if aware."""
    moment = dt.datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, value.tzinfo,
    )  # fmt: skip
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except (OverflowError, ValueError):  # an aware time within hours of year 1 or 9999
        return moment.isoformat()


def _numpy_time(value: Any) -> Any:
    """A numpy ``datetime64`` as a datetime (nanoseconds dropped; ISO text outside the years
    1-9999), a ``timedelta64`` as seconds; ``_NOT_SCALAR`` for anything else."""
    kind = type(value)
    if kind.__module__ != "numpy" or kind.__name__ not in ("datetime64", "timedelta64"):
        return _NOT_SCALAR
    import numpy as np  # already imported: value is a numpy scalar

    if np.isnat(value):
        return None
    if kind.__name__ == "timedelta64":
        try:
            return float(value / np.timedelta64(1, "s"))
        except (TypeError, ValueError):  # years and months have no length in seconds
            return str(value)
    moment = value.astype("datetime64[us]").item()
    return moment if isinstance(moment, dt.datetime) else str(value)


def _size_of(value: Any) -> str:
    kind = type(value).__name__
    try:
        if isinstance(value, str):
            return f"a text of {len(value):,} characters"
        return f"{kind} of {len(value):,} items" if hasattr(value, "__len__") else kind
    except Exception:  # noqa: BLE001
        return kind


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
    """Compact JSON for lists, dicts and array-likes; NaN and ±inf written as JSON5-style words.

    A container inside itself is written ``"[...]"`` (as ``repr`` does), one nested deeper than
    ``_MAX_DEPTH`` levels ``"..."``; only the first ``_MAX_ITEMS`` items of a container are
    converted, as more could not fit in a cell anyway (each item takes at least 3 characters).
    """
    text = json.dumps(
        _jsonable(value, set(), 0), ensure_ascii=False, separators=(", ", ": "), default=_text_of
    )
    return storable_text(text)


_MAX_DEPTH = 100
_JSON_DIGITS = 4_000  # json.loads refuses an int of more than 4,300 digits
_MAX_ITEMS = MAX_TEXT_CHARS // 3 + 1


def _jsonable(value: Any, ancestors: set[int], depth: int) -> Any:
    if isinstance(value, Mapping) or _is_container(value):
        if id(value) in ancestors:
            return "{...}" if isinstance(value, Mapping) else "[...]"
        if depth >= _MAX_DEPTH:
            return "..."
        ancestors.add(id(value))
        try:
            return _container_json(value, ancestors, depth + 1)
        finally:
            ancestors.discard(id(value))
    cell = _convert_safely(value)
    if isinstance(cell, dt.datetime):
        return cell.isoformat()
    if type(cell) is str and isinstance(value, numbers.Integral) and len(cell) <= _JSON_DIGITS:
        return int(cell)  # JSON text keeps every digit of a large int: a number, not text
    return cell


def _container_json(value: Any, ancestors: set[int], depth: int) -> Any:
    if isinstance(value, Mapping):
        pairs = itertools.islice(value.items(), _MAX_ITEMS)
        return {_text_of(k): _jsonable(v, ancestors, depth) for k, v in pairs}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {f.name: _jsonable(getattr(value, f.name), ancestors, depth) for f in fields}
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=_text_of)
    elif not isinstance(value, (list, tuple)):
        value = _items_of(value)  # a numpy array, a pandas Series ...
        if not isinstance(value, list):  # a 0-d array
            return _jsonable(value, ancestors, depth)
    return [_jsonable(v, ancestors, depth) for v in itertools.islice(value, _MAX_ITEMS)]


def _items_of(array: Any) -> Any:
    """``array.tolist()``, except for numpy times: ``tolist()`` of ``datetime64[ns]`` or
    ``timedelta64[ns]`` gives nanoseconds as integers, so those keep their numpy scalars, which
    become dates and seconds like any other ``datetime64`` / ``timedelta64``."""
    if _is_numpy_time_array(array):
        return list(array) if array.ndim > 0 else _convert_safely(array)
    return array.tolist()


def _is_numpy_time_array(value: Any) -> bool:
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return kind in ("m", "M") and type(value).__module__.startswith("numpy")


def _convert_safely(value: Any) -> CellValue:
    try:
        cell = _convert(value)
    except Exception:  # noqa: BLE001
        return _text_of(value)
    return cell if type(cell) in _CELL_TYPES else _text_of(cell)


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
    if _is_numpy_time_array(value):  # item() of a datetime64[ns] is nanoseconds, an int
        return value[()]
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


def clip_text(text: str, limit: int, marker: str | None = None) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters with a visible marker; returns (text, was_clipped).

    Characters are counted as Excel counts them, in UTF-16 code units (an emoji is two). The
    default marker says the journal has the whole value (a cell is cut, not the logged value).
    """
    if len(text) <= limit // 2:
        return text, False
    utf16 = text.encode("utf-16-le")
    if len(utf16) <= 2 * limit:
        return text, False
    if marker is None:
        marker = f" …[truncated from {len(text):,} characters; full value in the sheetlog journal]"
    kept = utf16[: 2 * (limit - len(marker))].decode("utf-16-le", "ignore")  # no half pair
    return kept + marker, True


#: The statuses a run can end with (MLflow's names).
END_STATUSES = ("FINISHED", "FAILED", "KILLED")


def end_status(status: Any) -> str:
    """``status`` in capitals, when it is one a run can end with; else ``ValueError``."""
    text = status.strip().upper() if isinstance(status, str) else None
    if text not in END_STATUSES:
        raise ValueError(
            f"status must be one of FINISHED, FAILED or KILLED (any case), not {status!r}"
        )
    return text


#: Date cells hold moments from the first day every reader agrees on to Excel's last second
#: (a later millisecond shows as 10000-01-01 where seconds are rounded for display); readers
#: (calamine, openpyxl, Excel, LibreOffice, Sheets) return them to the millisecond.
FIRST_CELL_MOMENT = dt.datetime(1900, 3, 1)
LAST_CELL_MOMENT = dt.datetime(9999, 12, 31, 23, 59, 59)
_SERIAL_EPOCH = dt.datetime(1899, 12, 30)


def date_serial(moment: dt.datetime) -> float | str:
    """A naive datetime as a date serial number (days since 1899-12-30), rounded to the
    millisecond; its ISO text (``0001-01-01T00:00:00``) when readers would not all show it.

    Excel counts a 29 February 1900 that never was (its serial 60), LibreOffice and Google
    Sheets do not: a serial before 1 March 1900 is a different day in each, so such dates
    (and those before 1900, which Excel cannot show) are text.
    """
    microseconds = (moment.microsecond + 500) // 1000 * 1000
    try:
        rounded = moment.replace(microsecond=0) + dt.timedelta(microseconds=microseconds)
    except OverflowError:
        return moment.isoformat()
    if not FIRST_CELL_MOMENT <= rounded <= LAST_CELL_MOMENT:
        return moment.isoformat()
    return (rounded - _SERIAL_EPOCH) / dt.timedelta(days=1)


def iso_moment(text: str) -> dt.datetime | None:
    """The datetime of a text ``date_serial`` wrote for a date no cell can show, else None."""
    if len(text) not in (19, 26) or text[10:11] != "T" or not _ISO_MOMENT.fullmatch(text):
        return None
    moment = dt.datetime.fromisoformat(text)
    return None if FIRST_CELL_MOMENT <= moment <= LAST_CELL_MOMENT else moment
