"""Cell references and the XML of one cell, both ways.

Strings are always written as inline string cells, so text such as ``=HYPERLINK(...)`` or ``+cmd``
can never become a formula. Characters XML cannot carry use the OOXML escape ``_xHHHH_``, a
carriage return ``&#13;`` (a raw one reads back as a line feed). Readers decode ``_xHHHH_`` within
one ``<t>``, so a text holding a literal ``_xHHHH_`` is split into runs after its ``_x``: Excel,
LibreOffice, calamine and openpyxl (which decodes no escapes in inline strings) all read it back
unchanged, where the ``_x005F_`` escape would show in openpyxl and pandas.read_excel.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re

from ...values import CellValue, date_serial, nonfinite_text

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_CHARS = 32_767

_REF = re.compile(r"([A-Z]{1,3})(\d+)$")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# After the "_x" of a literal "_xHHHH_", or of "_xHHHH" followed by a character escaped as "_x..._".
_LITERAL_ESCAPE = re.compile(
    "(?<=_x)(?=[0-9A-Fa-f]{4}[_\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff])"
)
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def column_letter(index: int) -> str:
    """1 -> 'A', 27 -> 'AA'."""
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def column_index(letters: str) -> int:
    """'A' -> 1, 'AA' -> 27."""
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index


def split_ref(ref: str) -> tuple[int, int]:
    """'B7' -> (column 2, row 7)."""
    match = _REF.match(ref.replace("$", ""))
    if not match:
        raise ValueError(f"not a cell reference: {ref!r}")
    return column_index(match.group(1)), int(match.group(2))


def escape_text(text: str) -> str:
    """The content of one ``<t>`` (literal ``_xHHHH_`` sequences are ``text_xml``'s business)."""
    text = _XML_ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    return html.escape(text, quote=False).replace("\r", "&#13;")


def text_xml(text: str) -> str:
    """``<t>`` for ``text``, or ``<r><t>`` runs when it holds a literal ``_xHHHH_``."""
    pieces = _LITERAL_ESCAPE.split(text)
    if len(pieces) == 1:
        return _t(text)
    return "".join(f"<r>{_t(piece)}</r>" for piece in pieces)


def _t(text: str) -> str:
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    return f"<t{space}>{escape_text(text)}</t>"


def unescape_text(text: str) -> str:
    """Text of a ``<t>`` element as a reader shows it (entities and ``_xHHHH_`` decoded)."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), html.unescape(text))


def cell_xml(ref: str, value: CellValue, style: int | None = None) -> str:
    """The ``<c>`` element for one value; '' for an empty value without a style."""
    style_attr = f' s="{style}"' if style else ""
    if value is None:
        return f'<c r="{ref}"{style_attr}/>' if style_attr else ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{style_attr} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        text = nonfinite_text(value) if isinstance(value, float) else None
        if text is not None:
            return _inline(ref, style_attr, text)
        return f'<c r="{ref}"{style_attr}><v>{_number(value)}</v></c>'
    if isinstance(value, dt.datetime):
        serial = date_serial(value)
        if isinstance(serial, str):  # see date_serial: ISO text, read back as a date
            return _inline(ref, style_attr, serial)
        return f'<c r="{ref}"{style_attr}><v>{_number(serial)}</v></c>'
    return _inline(ref, style_attr, value)


def _inline(ref: str, style_attr: str, text: str) -> str:
    return f'<c r="{ref}"{style_attr} t="inlineStr"><is>{text_xml(text)}</is></c>'


def _number(value: int | float) -> str:
    if (
        isinstance(value, float)
        and math.isfinite(value)
        and value == int(value)
        and abs(value) < 1e15
    ):
        return str(int(value))
    return repr(value)
