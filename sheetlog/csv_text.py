"""Text in CSV files that Excel or LibreOffice will never run as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to a
spreadsheet that opens the CSV. Such text is written with a leading ``'`` (what spreadsheets
show as "text as typed") and the ``'`` is removed again when sheetlog reads the file, so that
text round-trips exactly: ``csv_unsafe(csv_safe(t)) == t`` for every ``t``.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escaped_form(text: str) -> bool:
    """Whether ``text`` is one that ``csv_safe`` prefixes."""
    while text.startswith("'"):
        text = text[1:]
    return text.startswith(FORMULA_STARTS)


def csv_safe(text: str) -> str:
    return "'" + text if _escaped_form(text) else text


def csv_unsafe(text: str) -> str:
    return text[1:] if text.startswith("'") and _escaped_form(text[1:]) else text
