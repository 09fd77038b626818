"""Cell contents the way Sheets stores and renders them.

A cell holds what the user entered (a number, a string, a boolean or a formula) and its format
(``userEnteredFormat``). ``RAW`` input is stored as given; ``USER_ENTERED`` input is parsed as
the Sheets UI would in the en_US locale: numbers (``1,234``, ``12%``, ``$5``, ``1e3``),
booleans, dates and times (stored as serial numbers with a date format), and formulas (``=``,
and ``+``/``@`` followed by an expression). Rendering follows ``valueRenderOption`` and
``dateTimeRenderOption``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_CELL_CHARS = 50000
EPOCH = datetime(1899, 12, 30)

# Kinds of entered value.
NUMBER, STRING, BOOL, FORMULA = "n", "s", "b", "f"


class CellError(Exception):
    """An input value Google refuses (too long, wrong JSON type)."""


@dataclass(frozen=True)
class FormulaError:
    """A formula's error result, e.g. ``#DIV/0!``."""

    type: str
    message: str

    @property
    def display(self) -> str:
        return {
            "DIVIDE_BY_ZERO": "#DIV/0!",
            "NAME": "#NAME?",
            "VALUE": "#VALUE!",
            "REF": "#REF!",
            "N_A": "#N/A",
            "NUM": "#NUM!",
            "NULL_VALUE": "#NULL!",
        }.get(self.type, "#ERROR!")


class Cell:
    """One cell: ``kind`` None means no value (the cell may still carry a format)."""

    __slots__ = ("kind", "value", "fmt")

    def __init__(self, kind: str | None = None, value: Any = None, fmt: dict | None = None):
        self.kind = kind
        self.value = value
        self.fmt = fmt

    def copy(self) -> Cell:
        return Cell(self.kind, self.value, _deepcopy(self.fmt) if self.fmt else None)

    @property
    def number_format(self) -> dict | None:
        return (self.fmt or {}).get("numberFormat")


def _deepcopy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deepcopy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deepcopy(v) for v in obj]
    return obj


def json_number(x: float) -> int | float:
    """Google writes 2, not 2.0."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


# ---------------------------------------------------------------- input


@dataclass
class Entered:
    """A parsed input value: kind None clears the cell; number_format is set by parsing."""

    kind: str | None
    value: Any
    number_format: dict | None = None


_NUM = re.compile(r"([+-]?)(\$?)((?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?)(?:[eE]([+-]?\d+))?(%?)")
_DATE_ISO = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})")
_DATE_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*([AaPp][Mm])?")
_FUNC_CALL = re.compile(r"[A-Za-z][A-Za-z0-9_.]*\(")


def parse_input(value: Any, user_entered: bool) -> Entered | None:
    """None: leave the cell as it is (JSON null). Raises CellError for values Google refuses."""
    if value is None:
        return None
    if isinstance(value, bool):
        return Entered(BOOL, value)
    if isinstance(value, (int, float)):
        return Entered(NUMBER, float(value))
    if not isinstance(value, str):
        raise CellError(type(value).__name__)
    if len(value) > MAX_CELL_CHARS:
        raise CellError("too long")
    if value == "":
        return Entered(None, None)
    if not user_entered:
        return Entered(STRING, value)
    return parse_user_string(value)


def parse_user_string(text: str) -> Entered:
    if text.startswith("'"):
        rest = text[1:]
        return Entered(STRING, rest) if rest else Entered(None, None)
    if text.startswith("=") and len(text) > 1:
        return Entered(FORMULA, text)
    stripped = text.strip()
    if stripped.upper() in ("TRUE", "FALSE"):
        return Entered(BOOL, stripped.upper() == "TRUE")
    number = _parse_number(stripped)
    if number is not None:
        return number
    when = _parse_datetime(stripped)
    if when is not None:
        return when
    if text.startswith("+") and len(text) > 1:
        return Entered(FORMULA, "=" + text)
    if text.startswith("@") and _FUNC_CALL.match(text[1:]):
        return Entered(FORMULA, "=" + text[1:])
    return Entered(STRING, text)


def _parse_number(text: str) -> Entered | None:
    m = _NUM.fullmatch(text)
    if not m or not re.search(r"\d", m.group(3)):
        return None
    sign, dollar, digits, exponent, percent = m.groups()
    value = float(digits.replace(",", "").rstrip(".") + (f"e{exponent}" if exponent else ""))
    if math.isinf(value):
        return None
    if sign == "-":
        value = -value
    decimals = len(digits.partition(".")[2])
    frac = "." + "0" * decimals if decimals else ""
    if percent:
        if dollar or exponent:
            return None
        return Entered(NUMBER, value / 100, {"type": "PERCENT", "pattern": f"0{frac}%"})
    if dollar:
        return Entered(NUMBER, value, {"type": "CURRENCY", "pattern": f'"$"#,##0{frac or ".00"}'})
    if exponent:
        return Entered(NUMBER, value, {"type": "SCIENTIFIC", "pattern": "0.00E+00"})
    if "," in digits:
        return Entered(NUMBER, value, {"type": "NUMBER", "pattern": f"#,##0{frac}"})
    return Entered(NUMBER, value)


def _parse_datetime(text: str) -> Entered | None:
    date_part, _, time_part = text.partition(" ")
    day = None
    m = _DATE_ISO.fullmatch(date_part)
    if m:
        y, sep, mo, d = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        pattern = f"yyyy{sep}mm{sep}dd"
    else:
        m = _DATE_US.fullmatch(date_part)
        if m:
            mo, d, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            pattern = "M/d/yyyy"
    if m:
        try:
            day = datetime(y, mo, d)
        except ValueError:
            return None
    if day is None:
        t = _parse_time(text)
        if t is None:
            return None
        seconds, time_pattern = t
        return Entered(NUMBER, seconds / 86400, {"type": "TIME", "pattern": time_pattern})
    serial = (day - EPOCH).days
    if not time_part:
        return Entered(NUMBER, float(serial), {"type": "DATE", "pattern": pattern})
    t = _parse_time(time_part.strip())
    if t is None:
        return None
    seconds, time_pattern = t
    return Entered(
        NUMBER,
        serial + seconds / 86400,
        {"type": "DATE_TIME", "pattern": f"{pattern} {time_pattern}"},
    )


def _parse_time(text: str) -> tuple[float, str] | None:
    m = _TIME.fullmatch(text)
    if not m:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    s = int(m.group(3) or 0)
    frac = float(m.group(4) or 0)
    ampm = m.group(5)
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm.lower() == "pm" else 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    pattern = "hh:mm:ss" if m.group(3) else "hh:mm"
    if ampm:
        pattern = pattern.replace("hh", "h") + " am/pm"
    return h * 3600 + mi * 60 + s + frac, pattern


# ---------------------------------------------------------------- output


def auto_format(x: float) -> str:
    """The automatic number format: up to 10 significant digits, E notation when huge/tiny."""
    if x == 0:
        return "0"
    if math.isnan(x) or math.isinf(x):
        return "#NUM!"
    ax = abs(x)
    if x.is_integer() and ax < 1e15:
        return str(int(x))
    if 1e-4 <= ax < 1e9:
        return f"{x:.10g}"
    if ax >= 1e15 or ax < 1e-9:
        mantissa, _, exp = f"{x:.9E}".partition("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mantissa}E{sign}{abs(int(exp)):02d}"
    before = math.floor(math.log10(ax)) + 1
    decimals = max(0, 10 - before)
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_DEFAULT_PATTERNS = {
    "DATE": "M/d/yyyy",
    "TIME": "h:mm:ss am/pm",
    "DATE_TIME": "M/d/yyyy H:mm:ss",
    "NUMBER": "#,##0.00",
    "PERCENT": "0.00%",
    "CURRENCY": '"$"#,##0.00',
    "SCIENTIFIC": "0.00E+00",
}


def is_datetime_format(nf: dict | None) -> bool:
    return bool(nf) and nf.get("type") in ("DATE", "TIME", "DATE_TIME")


def format_number(x: float, nf: dict | None) -> str:
    if not nf or nf.get("type") in (None, "TEXT", "NUMBER_FORMAT_TYPE_UNSPECIFIED"):
        if nf and nf.get("pattern") and nf.get("type") != "TEXT":
            return _format_numeric(x, nf["pattern"])
        return auto_format(x)
    pattern = nf.get("pattern") or _DEFAULT_PATTERNS.get(nf["type"], "")
    if not pattern:
        return auto_format(x)
    if is_datetime_format(nf):
        return format_datetime(x, pattern)
    return _format_numeric(x, pattern)


def _format_numeric(x: float, pattern: str) -> str:
    pattern = pattern.split(";")[0]
    m = re.search(r"[#0][#0,]*(?:\.[#0]*)?(?:E\+0+)?", pattern)
    if not m:
        return pattern.replace('"', "")
    prefix = pattern[: m.start()].replace('"', "").replace("\\", "")
    suffix = pattern[m.end() :].replace('"', "").replace("\\", "")
    body = m.group(0)
    if "%" in suffix:
        x *= 100
    mantissa_part, _, exp_part = body.partition("E+")
    int_part, _, frac_part = mantissa_part.partition(".")
    min_dec, max_dec = frac_part.count("0"), len(frac_part)
    if exp_part:
        text = f"{abs(x):.{max_dec}E}"
        mant, _, exp = text.partition("E")
        exp_sign = "-" if exp.startswith("-") else "+"
        digits = f"{mant}E{exp_sign}{abs(int(exp)):0{len(exp_part)}d}"
    else:
        text = f"{abs(x):.{max_dec}f}"
        whole, _, frac = text.partition(".")
        frac = frac[:max_dec]
        while len(frac) > min_dec and frac.endswith("0"):
            frac = frac[:-1]
        if "," in int_part:
            whole = f"{int(whole):,}"
        if whole == "0" and not int_part.replace(",", "").endswith("0"):
            whole = ""
        digits = whole + ("." + frac if frac else "")
    sign = "-" if x < 0 and float(re.sub(r"[^0-9.]", "", digits) or 0) != 0 else ""
    return f"{sign}{prefix}{digits}{suffix}"


_DT_TOKEN = re.compile(
    r'"[^"]*"|\\.|yyyy|yy|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|HH|H|ss|s|\.0+|am/pm|AM/PM|a/p|.',
    re.IGNORECASE,
)


def serial_to_datetime(x: float) -> datetime:
    return EPOCH + timedelta(days=x)


def format_datetime(x: float, pattern: str) -> str:
    when = EPOCH + timedelta(milliseconds=round(x * 86400000))  # exact to the millisecond
    tokens = _DT_TOKEN.findall(pattern)
    has_ampm = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    out = []
    for i, tok in enumerate(tokens):
        low = tok.lower()
        prev_time = any(t.lower() in ("h", "hh") for t in tokens[max(0, i - 2) : i])
        next_secs = any(t.lower() in ("s", "ss") for t in tokens[i + 1 : i + 3])
        if tok.startswith('"'):
            out.append(tok[1:-1])
        elif tok.startswith("\\"):
            out.append(tok[1:])
        elif low == "yyyy":
            out.append(f"{when.year:04d}")
        elif low == "yy":
            out.append(f"{when.year % 100:02d}")
        elif low in ("mm", "m") and (prev_time or next_secs):
            out.append(f"{when.minute:02d}" if low == "mm" else str(when.minute))
        elif low == "mmmm":
            out.append(when.strftime("%B"))
        elif low == "mmm":
            out.append(when.strftime("%b"))
        elif low == "mm":
            out.append(f"{when.month:02d}")
        elif low == "m":
            out.append(str(when.month))
        elif low == "dddd":
            out.append(when.strftime("%A"))
        elif low == "ddd":
            out.append(when.strftime("%a"))
        elif low == "dd":
            out.append(f"{when.day:02d}")
        elif low == "d":
            out.append(str(when.day))
        elif low in ("hh", "h"):
            hour = (when.hour % 12 or 12) if has_ampm else when.hour
            out.append(f"{hour:02d}" if low == "hh" else str(hour))
        elif low == "ss":
            out.append(f"{when.second:02d}")
        elif low == "s":
            out.append(str(when.second))
        elif low.startswith("."):
            digits = len(tok) - 1
            out.append("." + f"{when.microsecond:06d}"[:digits].ljust(digits, "0"))
        elif low in ("am/pm", "a/p"):
            text = "AM" if when.hour < 12 else "PM"
            out.append(text if low == "am/pm" else text[0])
        else:
            out.append(tok)
    return "".join(out)


def effective_json(value: Any) -> dict:
    """An effective (or entered, non-formula) value as an ExtendedValue."""
    if isinstance(value, FormulaError):
        return {"errorValue": {"type": value.type, "message": value.message}}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, (int, float)):
        return {"numberValue": json_number(float(value))}
    return {"stringValue": value}


def formatted(value: Any, nf: dict | None) -> str:
    if isinstance(value, FormulaError):
        return value.display
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return format_number(float(value), nf)
    return str(value)


def render(
    cell: Cell | None,
    effective: Any,
    value_render: str,
    datetime_render: str,
) -> Any:
    """One cell for values.get; None for an empty cell."""
    if cell is None or cell.kind is None:
        return None
    nf = cell.number_format
    if value_render == "FORMULA" and cell.kind == FORMULA:
        return cell.value
    if value_render == "FORMATTED_VALUE":
        return formatted(effective, nf)
    # UNFORMATTED_VALUE, or FORMULA for a non-formula cell
    if isinstance(effective, FormulaError):
        return effective.display
    if isinstance(effective, (bool, str)):
        return effective
    if datetime_render == "FORMATTED_STRING" and is_datetime_format(nf):
        return formatted(effective, nf)
    return json_number(float(effective))
