"""Patching one worksheet part (``xl/worksheets/sheetN.xml``) as bytes.

Only what an append needs is touched: new cells in the header row, new rows after the last row that
holds a value (merged into empty formatted rows already there), ``<dimension>``, the sheet's
``<autoFilter>`` when it starts at the header row, and ``<col>`` widths for new columns no existing
width covers. Everything else in the part is kept byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .cells import EXCEL_MAX_COLUMNS, column_index, column_letter, split_ref
from .sharedstrings import SharedStrings, item_text

_ROOT = re.compile(rb"<(\w+:)?worksheet\b")


@dataclass
class Row:
    """One ``<row>`` element of the sheet: where it is and what it holds."""

    start: int
    end: int
    number: int
    attrs: bytes
    content: bytes

    def has_values(self, prefix: bytes) -> bool:
        return any(
            tag in self.content
            for tag in (b"<" + prefix + b"v>", b"<" + prefix + b"is>", b"<" + prefix + b"f")
        )


@dataclass
class Cell:
    column: int
    attrs: bytes
    content: bytes
    xml: bytes

    def attr(self, name: bytes) -> bytes | None:
        match = re.search(rb"\b" + name + rb'="([^"]*)"', self.attrs)
        return match.group(1) if match else None


@dataclass(frozen=True)
class Edit:
    """Replace ``xml[start:end]`` with ``text``; ``isolate`` asks the compressor to cut the
    stream around the new text, so that the next append can reuse what lies on either side."""

    start: int
    end: int
    text: bytes
    isolate: bool = False


def apply_edits(xml: bytes, edits: list[Edit]) -> bytes:
    """``xml`` with non-overlapping ``edits`` (sorted by position) applied."""
    pieces, position = [], 0
    for edit in edits:
        pieces.append(xml[position : edit.start])
        pieces.append(edit.text)
        position = edit.end
    pieces.append(xml[position:])
    return b"".join(pieces)


@dataclass
class Append:
    """What to add: header cells ``{column: xml}``, data rows ``[{column: xml}]``, and cells to
    set in rows already there ``{row number: {column: xml}}``."""

    header_cells: dict[int, str] = field(default_factory=dict)
    rows: list[dict[int, str]] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)
    updates: dict[int, dict[int, str]] = field(default_factory=dict)


class Worksheet:
    """A worksheet part opened for appending rows."""

    def __init__(self, xml: bytes, shared: SharedStrings) -> None:
        self.xml = xml
        self.shared = shared
        root = _ROOT.search(xml)
        if root is None:
            raise ValueError("not a worksheet part")
        self.prefix = root.group(1) or b""
        p = re.escape(self.prefix)
        self._row_start = re.compile(rb"<" + p + rb"row\b")
        self._cell = re.compile(rb"<" + p + rb"c\b([^>]*?)(?:/>|>(.*?)</" + p + rb"c>)", re.S)
        self._value = re.compile(rb"<" + p + rb"v>(.*?)</" + p + rb"v>", re.S)
        self._inline = re.compile(rb"<" + p + rb"is>(.*?)</" + p + rb"is>", re.S)
        data = re.search(rb"<" + p + rb"sheetData\b[^>]*?(/?)>", xml)
        if data is None:
            raise ValueError("worksheet has no sheetData")
        self.body_start = data.end()
        if data.group(1):  # <sheetData/>
            self._empty_data = (data.start(), data.end())
            self.body_end = data.end()
        else:
            self._empty_data = None
            self.body_end = xml.rindex(b"</" + self.prefix + b"sheetData>", self.body_start)
        self.header_row = self._first_row()
        self._header: list[str | None] | None = None
        self.numbered = True  # rows carry r="N" (else they are counted from the top)
        self._header_edit_made: Edit | None = None
        self.last_row, self.insert_at, self.trailing = self._find_end()

    # -- reading -------------------------------------------------------------------------------

    def header(self) -> list[str | None]:
        """Row 1 as text, index 0 for column A; trailing empty cells dropped."""
        if self._header is None:
            self._header = self._read_header()
        return list(self._header)

    def _read_header(self) -> list[str | None]:
        if self.header_row is None:
            return []
        values: dict[int, str] = {}
        for cell in self.cells(self.header_row.content):
            text = self.cell_text(cell)
            if text is not None and text.strip():
                values[cell.column] = text.strip()
        width = max(values, default=0)
        return [values.get(column) for column in range(1, width + 1)]

    def used_width(self) -> int:
        """The rightmost used column, from the header and the ``<dimension>`` ref."""
        header_width = len(self.header())
        if header_width == 0 and self.last_row <= 1:
            return 0  # no value anywhere, whatever <dimension> says (openpyxl writes A1:A1)
        dimension = self._dimension_ref()
        if dimension and ":" in dimension:
            right = split_ref(dimension.split(":")[1])[0]
            return max(header_width, right)
        return header_width

    def cells(self, row_content: bytes) -> list[Cell]:
        found = []
        previous = 0
        for match in self._cell.finditer(row_content):
            attrs = match.group(1)
            ref = re.search(rb'\br="([A-Z]+)\d*"', attrs)
            column = column_index(ref.group(1).decode()) if ref else previous + 1
            previous = column
            found.append(Cell(column, attrs, match.group(2) or b"", match.group(0)))
        return found

    def cell_text(self, cell: Cell) -> str | None:
        kind = cell.attr(b"t")
        if kind == b"inlineStr":
            inline = self._inline.search(cell.content)
            return item_text(inline.group(1)) if inline else None
        value = self._value.search(cell.content)
        if value is None:
            return None
        raw = value.group(1)
        if kind == b"s":
            return self.shared[int(raw)]
        text = item_text(b"<t>" + raw + b"</t>")
        if kind == b"b":  # as a header cell read by calamine is named (schema.header_name)
            return "TRUE" if text.strip() == "1" else "FALSE"
        if kind in (b"str", b"e"):
            return text
        number = float(text)
        return str(int(number)) if number.is_integer() else text

    def column_texts(self, column: int) -> set[str]:
        """Every text in one column below the header (used to find run_ids already written)."""
        return set(self.column_rows(column))

    def column_rows(self, column: int) -> dict[str, int]:
        """Text of each cell in one column below the header -> its row number (the first)."""
        letters = column_letter(column).encode()
        pattern = re.compile(
            rb"<" + re.escape(self.prefix) + rb'c\b([^>]*?\br="' + letters + rb'(\d+)"[^>]*?)'
            rb"(?:/>|>(.*?)</" + re.escape(self.prefix) + rb"c>)",
            re.S,
        )
        body = self.xml[self.body_start : self.body_end]
        rows: dict[str, int] = {}
        for match in pattern.finditer(body):
            number = int(match.group(2))
            text = self.cell_text(Cell(column, match.group(1), match.group(3) or b"", b""))
            if text is not None and number > 1:
                rows.setdefault(text, number)
        return rows

    def mentions(self, text: str) -> bool:
        """Cheap pre-check: does ``text`` occur anywhere in the sheet or shared strings?"""
        needle = text.encode()
        return needle in self.xml or needle in self.shared

    # -- locating rows -------------------------------------------------------------------------

    def _row_at(self, start: int, number_if_missing: int) -> Row:
        tag_end = self.xml.index(b">", start)
        self_closing = self.xml[tag_end - 1 : tag_end] == b"/"
        attrs = self.xml[start + len(self.prefix) + 4 : tag_end - (1 if self_closing else 0)]
        if self_closing:
            end, content = tag_end + 1, b""
        else:
            close = self.xml.index(b"</" + self.prefix + b"row>", tag_end)
            end = close + len(self.prefix) + 6
            content = self.xml[tag_end + 1 : close]
        number = re.search(rb'\br="(\d+)"', attrs)
        return Row(
            start, end, int(number.group(1)) if number else number_if_missing, attrs, content
        )

    def _row_starts(self, low: int, high: int) -> list[int]:
        return [m.start() for m in self._row_start.finditer(self.xml, low, high)]

    def _first_row(self) -> Row | None:
        match = self._row_start.search(self.xml, self.body_start, self.body_end)
        if match is None:
            return None
        row = self._row_at(match.start(), 1)
        return row if row.number == 1 else None

    def _find_end(self) -> tuple[int, int, list[Row]]:
        """(last row number holding a value or the header, where new rows go, empty rows after)."""
        trailing: list[Row] = []
        floor = self.header_row.end if self.header_row else self.body_start
        high = self.body_end
        while True:
            start = self.xml.rfind(b"<" + self.prefix + b"row", floor, high)
            while start != -1 and self.xml[start + len(self.prefix) + 4] not in b" >/\t\r\n":
                start = self.xml.rfind(b"<" + self.prefix + b"row", floor, start)
            if start == -1:
                break
            row = self._row_at(start, -1)
            if row.number == -1:  # rows without r="": number them from the top
                return self._find_end_counting()
            if row.has_values(self.prefix):
                return row.number, row.end, list(reversed(trailing))
            trailing.append(row)
            high = start
        return 1, floor, list(reversed(trailing))

    def _find_end_counting(self) -> tuple[int, int, list[Row]]:
        self.numbered = False
        rows: list[Row] = []
        number = 0
        for start in self._row_starts(self.body_start, self.body_end):
            row = self._row_at(start, number + 1)
            number = row.number
            rows.append(row)
        last, insert_at, trailing = 1, self.body_start, []
        for row in rows:
            if row.has_values(self.prefix) or row.number == 1:
                last, insert_at, trailing = max(row.number, 1), row.end, []
            else:
                trailing.append(row)
        return last, insert_at, trailing

    # -- writing -------------------------------------------------------------------------------

    def edits(self, append: Append) -> list[Edit]:
        """The changes ``append`` makes, as replacements of spans of the original part."""
        body: list[Edit] = []
        self._header_edit_made = None
        if append.header_cells:
            self._header_edit_made = self._header_edit(append.header_cells)
            body.append(self._header_edit_made)
        if append.rows:
            body.append(self._rows_edit(append.rows, self.last_row + 1))
        for number, cells in sorted(append.updates.items()):
            body.append(self._update_edit(number, cells))
        right = max([*append.header_cells, len(self.header())], default=1)
        bottom = self.last_row + len(append.rows)
        edits = self._body_edits(body)
        for edit in (
            self._dimension_edit(right, bottom),
            self._autofilter_edit(append.header_cells, bottom),
            self._widths_edit(append.widths),
        ):
            if edit is not None:
                edits.append(edit)
        return sorted(edits, key=lambda edit: (edit.start, edit.end))

    def head_end(self, edits: list[Edit]) -> int | None:
        """Where the header row ends once ``edits`` (from ``edits()``) are applied; None for
        ``<sheetData/>``, which ``edits()`` replaces whole."""
        if self._empty_data:
            return None
        shift = 0
        for edit in edits:  # sorted: those before the header row come first
            if edit is self._header_edit_made:
                return edit.start + shift + len(edit.text)
            if self._header_edit_made is None and (
                self.header_row is None or edit.start >= self.header_row.end
            ):
                break
            shift += len(edit.text) - (edit.end - edit.start)
        return self.header_row.end + shift if self.header_row else None

    def _header_edit(self, header_cells: dict[int, str]) -> Edit:
        new_cells = {col: self._prefixed(xml) for col, xml in header_cells.items()}
        if self.header_row is None:
            cells = b"".join(new_cells[col] for col in sorted(new_cells))
            return Edit(self.body_start, self.body_start, self._row_xml(1, b"", cells), True)
        merged = self._merge_cells(self.header_row.content, new_cells)
        attrs = _without_spans(self.header_row.attrs)
        return Edit(
            self.header_row.start, self.header_row.end, self._row_xml(1, attrs, merged), True
        )

    def _rows_edit(self, rows: list[dict[int, str]], first_new: int) -> Edit:
        existing = {row.number: row for row in self.trailing}
        out: dict[int, bytes] = {}
        shown = b""
        if re.search(
            rb'<(?:\w+:)?sheetFormatPr\b[^>]*\bzeroHeight="(?:1|true)"', self.xml[: self.body_start]
        ):
            # rows are hidden unless they say otherwise (how Excel stores "hide all rows
            # below"): new rows get the default height explicitly
            shown = b'ht="%g" customHeight="1"' % self._default_row_height()
        for offset, cells in enumerate(rows):
            number = first_new + offset
            new_cells = {col: self._prefixed(xml) for col, xml in cells.items()}
            row = existing.pop(number, None)
            if row is None:
                merged = b"".join(new_cells[col] for col in sorted(new_cells))
                out[number] = self._row_xml(number, shown, merged)
            else:
                merged = self._merge_cells(row.content, new_cells)
                attrs = _visible(_without_spans(row.attrs), self._default_row_height())
                if shown and b"ht=" not in attrs:
                    attrs = (attrs + b" " + shown).strip()
                out[number] = self._row_xml(number, attrs, merged)
        for number, row in existing.items():
            out[number] = self._row_xml(number, row.attrs, row.content)
        replacement = b"".join(out[number] for number in sorted(out))
        return Edit(self.insert_at, self.body_end, replacement, True)

    def _update_edit(self, number: int, cells: dict[int, str]) -> Edit:
        """Cells set in row ``number``, which holds values already (above ``insert_at``)."""
        p = re.escape(self.prefix)
        found = re.compile(rb"<" + p + rb'row\b[^>]*?\br="' + str(number).encode() + rb'"')
        match = found.search(self.xml, self.body_start, self.insert_at)
        if match is None:
            raise ValueError(f"row {number} is not in the sheet")
        row = self._row_at(match.start(), number)
        new_cells = {col: self._prefixed(xml) for col, xml in cells.items()}
        merged = self._merge_cells(row.content, new_cells)
        return Edit(row.start, row.end, self._row_xml(number, _without_spans(row.attrs), merged))

    def _merge_cells(self, content: bytes, new_cells: dict[int, bytes]) -> bytes:
        """A row's cells with new ones merged in; a new cell without a style keeps the old one's."""
        merged: dict[int, bytes] = {}
        for cell in self.cells(content):
            merged[cell.column] = cell.xml
        for column, xml in new_cells.items():
            old = merged.get(column)
            if old is not None and b' s="' not in xml:
                style = re.search(rb'\bs="(\d+)"', old.split(b">", 1)[0])
                if style:
                    xml = re.sub(
                        rb'^(<[\w:]*c r="[^"]*")', rb'\1 s="' + style.group(1) + b'"', xml, count=1
                    )
            merged[column] = xml
        return b"".join(merged[column] for column in sorted(merged))

    def _row_xml(self, number: int, attrs: bytes, cells: bytes) -> bytes:
        attrs = re.sub(rb'\s*\br="\d+"', b"", attrs).strip()
        head = b"<" + self.prefix + b'row r="' + str(number).encode() + b'"'
        if attrs:
            head += b" " + attrs
        if not cells:
            return head + b"/>"
        return head + b">" + cells + b"</" + self.prefix + b"row>"

    def _default_row_height(self) -> float:
        """``<sheetFormatPr defaultRowHeight>``, in points (15, Excel's, when missing)."""
        match = re.search(
            rb"<" + re.escape(self.prefix) + rb'sheetFormatPr\b[^>]*\bdefaultRowHeight="([^"]*)"',
            self.xml[: self.body_start],
        )
        try:
            return float(match.group(1)) if match else 15.0
        except ValueError:
            return 15.0

    def _prefixed(self, xml: str) -> bytes:
        data = xml.encode("utf-8")
        if not self.prefix:
            return data
        return re.sub(rb"<(/?)(c|v|is|t)\b", rb"<\1" + self.prefix + rb"\2", data)

    def _body_edits(self, edits: list[Edit]) -> list[Edit]:
        """Body edits as they are, or, for an empty ``<sheetData/>``, one edit replacing it."""
        if not (self._empty_data and edits):
            return edits
        start, end = self._empty_data
        body = b"".join(edit.text for edit in sorted(edits, key=lambda e: e.start))
        tag = b"<" + self.prefix + b"sheetData>"
        return [Edit(start, end, tag + body + b"</" + self.prefix + b"sheetData>", True)]

    def _dimension_ref(self) -> str | None:
        match = re.search(
            rb"<" + re.escape(self.prefix) + rb'dimension\b[^>]*\bref="([^"]*)"', self.xml
        )
        return match.group(1).decode() if match else None

    def _dimension_edit(self, right: int, bottom: int) -> Edit | None:
        pattern = re.compile(rb"<" + re.escape(self.prefix) + rb'dimension\b[^>]*\bref="([^"]*)"')
        match = pattern.search(self.xml, 0, self.body_start)
        if match is None:
            return None
        ref = grown_ref(match.group(1).decode(), right, bottom)
        return Edit(match.start(1), match.end(1), ref.encode(), True)

    def _autofilter_edit(self, header_cells: dict[int, str], bottom: int) -> Edit | None:
        pattern = re.compile(rb"<" + re.escape(self.prefix) + rb'autoFilter\b[^>]*\bref="([^"]*)"')
        match = pattern.search(self.xml, self.body_end)
        if match is None:
            return None
        ref = extended_range(match.group(1).decode(), sorted(header_cells), bottom)
        if ref is None:
            return None
        return Edit(match.start(1), match.end(1), ref.encode())

    def _widths_edit(self, widths: dict[int, float]) -> Edit | None:
        if not widths:
            return None
        p = re.escape(self.prefix)
        cols = re.compile(rb"<" + p + rb"cols>(.*?)</" + p + rb"cols>", re.S).search(
            self.xml, 0, self.body_start
        )
        existing = (
            []
            if cols is None
            else [
                (_int_attr(m.group(0), b"min"), _int_attr(m.group(0), b"max"), m.group(0))
                for m in re.finditer(
                    rb"<" + p + rb"col\b[^>]*?(?:/>|>.*?</" + p + rb"col>)", cols.group(1), re.S
                )
            ]
        )
        entries = list(existing)
        for column, width in sorted(widths.items()):
            covering = next((e for e in entries if e[0] <= column <= e[1]), None)
            if covering is not None and not _hides(covering[2]):
                continue  # the user's width for it stays
            if covering is not None:  # a hidden range: the new column is cut out of it, shown
                entries.remove(covering)
                low, high, element = covering
                entries += [
                    (a, b, _col_range(element, a, b))
                    for a, b in ((low, column - 1), (column + 1, high))
                    if a <= b
                ]
            entry = b'col min="%d" max="%d" width="%.2f" customWidth="1"/>' % (
                column,
                column,
                width,
            )
            entries.append((column, column, b"<" + self.prefix + entry))
        entries.sort(key=lambda entry: entry[0])
        block = b"".join(entry[2] for entry in entries)
        block = b"<" + self.prefix + b"cols>" + block + b"</" + self.prefix + b"cols>"
        if cols is not None:
            return Edit(cols.start(), cols.end(), block)
        data = re.compile(rb"<" + p + rb"sheetData\b").search(self.xml)
        return Edit(data.start(), data.start(), block)


def _int_attr(element: bytes, name: bytes) -> int:
    match = re.search(rb"\b" + name + rb'="(\d+)"', element)
    return int(match.group(1)) if match else 0


#: Row attributes that can hide a row: ``hidden`` (also how a filter hides rows), membership of
#: an outline group that may be collapsed.
_HIDING_ROW_ATTRS = re.compile(rb'\s*\b(?:hidden|outlineLevel|collapsed)="[^"]*"')
_HEIGHT_ATTRS = re.compile(rb'\s*\b(?:ht|customHeight)="[^"]*"')


def _visible(attrs: bytes, min_height: float) -> bytes:
    """A row's attributes without what hides it: a new row merged into an empty row a user
    formatted is always visible. A custom height below the sheet's default row height (0 or 2
    points hide a row as well as ``hidden``) is dropped too; a taller one, and the style, stay."""
    attrs = _HIDING_ROW_ATTRS.sub(b"", attrs)
    height = re.search(rb'\bht="([^"]*)"', attrs)
    try:
        low = height is not None and float(height.group(1)) < min_height
    except ValueError:
        low = True
    return _HEIGHT_ATTRS.sub(b"", attrs) if low else attrs


def _hides(col_element: bytes) -> bool:
    """Whether a ``<col>`` element hides its columns (hidden, or narrower than a character)."""
    head = col_element.split(b">", 1)[0]
    if re.search(rb'\bhidden="(?:1|true)"', head):
        return True
    width = re.search(rb'\bwidth="([^"]*)"', head)
    try:
        return width is not None and float(width.group(1)) < 1
    except ValueError:
        return False


def _col_range(col_element: bytes, low: int, high: int) -> bytes:
    """A ``<col>`` element with its ``min``/``max`` set to ``low``/``high``."""
    element = re.sub(rb'\bmin="\d+"', b'min="%d"' % low, col_element, count=1)
    return re.sub(rb'\bmax="\d+"', b'max="%d"' % high, element, count=1)


def _without_spans(attrs: bytes) -> bytes:
    return re.sub(rb'\s*\bspans="[^"]*"', b"", attrs)


def grown_ref(ref: str, right: int, bottom: int) -> str:
    """A range ref grown to cover A1 through (right, bottom)."""
    parts = ref.replace("$", "").split(":")
    (left, top), (old_right, old_bottom) = split_ref(parts[0]), split_ref(parts[-1])
    right, bottom = max(right, old_right), max(bottom, old_bottom)
    return f"{column_letter(min(left, 1))}{min(top, 1)}:{column_letter(right)}{bottom}"


def extended_range(ref: str, new_columns: list[int], bottom: int) -> str | None:
    """Grow a range whose top row is the header: down to ``bottom``, right over adjacent new
    columns. None when the range does not start at row 1 (it is not the runs' range)."""
    parts = ref.replace("$", "").split(":")
    (left, top), (right, old_bottom) = split_ref(parts[0]), split_ref(parts[-1])
    if top != 1:
        return None
    for column in new_columns:
        if column == right + 1:
            right = column
    right = min(right, EXCEL_MAX_COLUMNS)
    return f"{column_letter(left)}1:{column_letter(right)}{max(bottom, old_bottom)}"
