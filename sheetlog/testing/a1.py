"""A1 notation as the Sheets API reads and writes it: column letters, sheet names, ranges.

A parsed range keeps unbounded sides as ``None`` (``A:A`` has no row bounds, ``1:1`` no column
bounds, ``'Sheet1'`` none at all); it is resolved against a sheet's grid when used. Indexes are
0-based and half open, like the API's ``GridRange``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_COLUMNS = 18278  # ZZZ

_CELL = re.compile(r"\$?([A-Za-z]{1,3})?\$?([0-9]+)?")
_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOKS_LIKE_CELL = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*")


def col_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_index(letters: str) -> int:
    """A -> 0, AA -> 26."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def cell_name(row: int, col: int) -> str:
    return f"{col_letters(col)}{row + 1}"


def quote_title(title: str) -> str:
    """A sheet title as it appears in a range the API returns: quoted only when it must be."""
    if _PLAIN_TITLE.fullmatch(title) and not _LOOKS_LIKE_CELL.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def format_range(title: str, r0: int, r1: int, c0: int, c1: int) -> str:
    """``Sheet1!A1:D4`` (``Sheet1!B3`` for a single cell); r1 and c1 are exclusive."""
    start = cell_name(r0, c0)
    if r1 - r0 == 1 and c1 - c0 == 1:
        return f"{quote_title(title)}!{start}"
    return f"{quote_title(title)}!{start}:{cell_name(r1 - 1, c1 - 1)}"


@dataclass(frozen=True)
class A1Range:
    """A range as written: the sheet title (``None``: the first sheet) and optional bounds."""

    sheet: str | None
    r0: int | None = None
    r1: int | None = None
    c0: int | None = None
    c1: int | None = None

    @property
    def single_cell(self) -> bool:
        return (
            self.r0 is not None
            and self.c0 is not None
            and self.r1 == self.r0 + 1
            and self.c1 == self.c0 + 1
        )

    @property
    def whole_sheet(self) -> bool:
        return self.r0 is None and self.r1 is None and self.c0 is None and self.c1 is None


def _endpoint(text: str) -> tuple[int | None, int | None] | None:
    """``B3`` -> (col 1, row 2); ``B`` -> (1, None); ``3`` -> (None, 2); else None."""
    m = _CELL.fullmatch(text)
    if not m or not (m.group(1) or m.group(2)):
        return None
    col = col_index(m.group(1)) if m.group(1) else None
    row = int(m.group(2)) - 1 if m.group(2) else None
    if row is not None and row < 0:
        return None
    if col is not None and col >= MAX_COLUMNS:
        return None
    return col, row


def parse_cells(text: str) -> tuple[int | None, int | None, int | None, int | None] | None:
    """The cell part of a range: returns (r0, r1, c0, c1) with None for unbounded sides."""
    text = text.strip()
    if ":" in text:
        left, _, right = text.partition(":")
        a, b = _endpoint(left), _endpoint(right)
        if a is None or b is None:
            return None
        (ca, ra), (cb, rb) = a, b
        # "A:A" and "1:1" need both sides of the same kind; "A2:2" / "A2:B" are open-ended.
        if (ca is None) != (cb is None) and ra is None and rb is None:
            return None
        if (ra is None) != (rb is None) and ca is None and cb is None:
            return None
        rows = sorted(x for x in (ra, rb) if x is not None)
        cols = sorted(x for x in (ca, cb) if x is not None)
        if ra is not None and rb is not None:
            r0, r1 = rows[0], rows[-1] + 1
        elif ra is not None or rb is not None:
            r0, r1 = (ra if ra is not None else 0), None
        else:
            r0 = r1 = None
        if ca is not None and cb is not None:
            c0, c1 = cols[0], cols[-1] + 1
        elif ca is not None or cb is not None:
            c0, c1 = (ca if ca is not None else 0), None
        else:
            c0 = c1 = None
        return r0, r1, c0, c1
    point = _endpoint(text)
    if point is None or point[0] is None or point[1] is None:
        return None
    col, row = point
    return row, row + 1, col, col + 1


def split_sheet(text: str) -> tuple[str | None, str | None] | None:
    """``'My sheet'!A1`` -> ("My sheet", "A1"); ``Sheet1`` -> ("Sheet1", None) is ambiguous
    and returned as (None, "Sheet1"); the caller decides between a title and a range."""
    if text.startswith("'"):
        i, title = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    title.append("'")
                    i += 2
                    continue
                break
            title.append(text[i])
            i += 1
        else:
            return None
        rest = text[i + 1 :]
        if rest == "":
            return "".join(title), None
        if not rest.startswith("!"):
            return None
        return "".join(title), rest[1:]
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return None, text


def parse_a1(text: str, titles: list[str]) -> A1Range | None:
    """Parse a range against the spreadsheet's sheet titles; None when Google could not."""
    parts = split_sheet(text)
    if parts is None:
        return None
    sheet, cells = parts
    if sheet is None:
        # A bare word: an existing sheet's title wins, else a range on the first sheet.
        assert cells is not None
        if _find_title(cells, titles) is not None:
            return A1Range(_find_title(cells, titles))
        bounds = parse_cells(cells)
        return A1Range(None, *bounds) if bounds else None
    found = _find_title(sheet, titles)
    if found is None:
        return None
    if cells is None or cells == "":
        return A1Range(found) if cells is None else None
    bounds = parse_cells(cells)
    return A1Range(found, *bounds) if bounds else None


def _find_title(name: str, titles: list[str]) -> str | None:
    if name in titles:
        return name
    folded = name.casefold()
    for title in titles:
        if title.casefold() == folded:
            return title
    return None
