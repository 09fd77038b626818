"""A worksheet's cell values, parsed by python-calamine, on several cores when the sheet is large.

calamine parses a sheet on one core (about 30 MB of XML a second here: 0.65 s for 10,000 runs of
50 columns) and releases the GIL meanwhile. A large sheet is therefore cut between two rows into
pieces; each piece becomes a small package of its own (the sheet's XML head, its rows, and the
parts calamine reads besides: workbook, relationships, styles, shared strings), stored
uncompressed, and each piece is parsed on a thread of its own as soon as its rows are
decompressed (two pieces per core balance the load best, unless the shared strings, which every
piece parses again, are large). The result is what
``to_python(skip_empty_area=False)`` gives for the whole sheet.

Rows carry their position (``r="12"``), so a piece's cells land where they are in the whole
sheet; a sheet with a row lacking it, or written with a namespace prefix, is parsed whole.
"""

from __future__ import annotations

import io
import os
import re
import threading
import zipfile
from collections.abc import Iterator
from typing import Any

from python_calamine import CalamineWorkbook

from .package import Package
from .workbook import SheetEntry, WorkbookIndex

SPLIT_ABOVE_BYTES = 4 << 20  # sheets smaller than this parse faster than they split
_PIECE_BYTES = 2 << 20
_MOST_PIECES = 8
_ROW = b"<row"  # inside sheetData, only rows start so
_ROW_WITH_POSITION = re.compile(rb'<row\b[^>]*?\sr="')
_ROW_END = b"</row>"
_DATA_OPEN = b"<sheetData>"
_DATA_CLOSE = b"</sheetData>"
_TAIL = _DATA_CLOSE + b"</worksheet>"
_READ_BESIDES = ("/styles", "/sharedStrings")  # relationship types calamine needs for values


def sheet_cells(package: Package, entry: SheetEntry) -> list[list[Any]]:
    """Every row of the sheet from A1 to its last cell, empty cells as ``""``."""
    if _cores() > 1 and package.info(entry.part).file_size > SPLIT_ABOVE_BYTES:
        cells = _cells_in_pieces(package, entry)
        if cells is not None:
            return cells
    workbook = CalamineWorkbook.from_path(str(package.path))
    return workbook.get_sheet_by_name(entry.name).to_python(skip_empty_area=False)


class _Uncuttable(Exception):
    """The sheet cannot be cut between rows safely: it is read whole."""


class _PieceParse(threading.Thread):
    """One piece parsed on a thread of its own (calamine releases the GIL while it parses)."""

    def __init__(self, besides: dict[str, bytes], entry: SheetEntry, sheet_xml: bytes) -> None:
        super().__init__(daemon=True)
        self.package = _package(besides, entry.part, sheet_xml)
        self.sheet = entry.name
        self.cells: tuple[tuple[int, int], list[list[Any]]] | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            source = io.BytesIO(self.package)
            self.package = b""  # calamine keeps a copy: hold the piece's bytes no longer
            workbook = CalamineWorkbook.from_filelike(source)
            del source
            sheet = workbook.get_sheet_by_name(self.sheet)
            self.cells = (sheet.start, sheet.to_python(skip_empty_area=True))
        except BaseException as error:  # raised again in the reading thread
            self.error = error

    def result(self) -> tuple[tuple[int, int], list[list[Any]]]:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.cells is not None
        return self.cells


def _cells_in_pieces(package: Package, entry: SheetEntry) -> list[list[Any]] | None:
    """The sheet's cells parsed in pieces, each piece's parse starting as soon as its rows are
    decompressed; None when the sheet cannot be cut safely, or a piece fails to parse (the
    whole sheet is then parsed, and its error, if any, is the one the user sees)."""
    besides = _parts_besides(package)
    parses: list[_PieceParse] = []
    try:
        for sheet_xml in _pieces(package, entry, _piece_count(package, entry, besides)):
            parses.append(_PieceParse(besides, entry, sheet_xml))
        return _joined([parse.result() for parse in parses])
    except Exception:  # noqa: BLE001 - _Uncuttable, or calamine refusing a piece
        for parse in parses:
            parse.join()
        return None


def _piece_count(package: Package, entry: SheetEntry, besides: dict[str, bytes]) -> int:
    """One piece per core; two per core balance the load better, unless the parts every piece
    parses again (shared strings, mostly) would cost more than that gains."""
    size = package.info(entry.part).file_size
    repeated = sum(len(data) for data in besides.values())
    per_core = 2 if 2 * repeated < size else 1
    return min(per_core * _cores(), _MOST_PIECES, max(size // _PIECE_BYTES, 1))


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pieces(package: Package, entry: SheetEntry, count: int) -> Iterator[bytes]:
    """The sheet's XML as ``count`` worksheets of a few rows each, decompressed a piece at a
    time. Raises ``_Uncuttable`` (possibly after some pieces) when it cannot be cut safely."""
    size = package.info(entry.part).file_size
    if count < 2:
        raise _Uncuttable
    head = None
    data = b""
    with package.open(entry.part) as stream:
        for index in range(count):
            last = index == count - 1
            data += stream.read() if last else stream.read(size // count)
            if head is None:
                opened = data.find(_DATA_OPEN)
                if opened < 0:
                    continue  # a long head: the rows start further on
                head, data = data[: opened + len(_DATA_OPEN)], data[opened + len(_DATA_OPEN) :]
            if last:
                cut = data.rfind(_DATA_CLOSE)
            else:
                cut = data.rfind(_ROW_END)
                if cut < 0:
                    continue  # no whole row yet: this piece takes in the next stretch too
                cut += len(_ROW_END)
            rows = data[:cut]
            if cut < 0 or (not last and _DATA_CLOSE in rows) or not _all_placed(rows):
                raise _Uncuttable
            data = data[cut:]
            yield head + rows + _TAIL
    if head is None:
        raise _Uncuttable


def _all_placed(rows: bytes) -> bool:
    """Whether every row says where it is (most writers put ``r`` first: counted fast)."""
    count = rows.count(_ROW)
    return rows.count(b'<row r="') == count or len(_ROW_WITH_POSITION.findall(rows)) == count


def _parts_besides(package: Package) -> dict[str, bytes]:
    """The parts calamine reads besides the sheet (other sheets, drawings, pivot caches and the
    like stay out of the pieces: calamine opens a sheet's part only when asked for it)."""
    index = WorkbookIndex(package)
    names = ["[Content_Types].xml", "_rels/.rels", index.part, index.rels_part]
    names += index.related(_READ_BESIDES)
    return {name: package.read(name) for name in names if package.has(name)}


def _package(besides: dict[str, bytes], part: str, sheet_xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for name, data in besides.items():
            out.writestr(name, data)
        out.writestr(part, sheet_xml)
    return buffer.getvalue()


def _joined(parsed: list[tuple[tuple[int, int], list[list[Any]]]]) -> list[list[Any]]:
    """The pieces' rows as one grid from A1, as calamine gives a whole sheet."""
    parsed = [(start, rows) for start, rows in parsed if rows]  # an empty piece has no start
    width = max((start[1] + len(rows[0]) for start, rows in parsed), default=0)
    cells: list[list[Any]] = []
    for (first_row, first_column), rows in parsed:
        cells.extend([""] * width for _ in range(first_row - len(cells)))
        for row in rows:
            if first_column or len(row) + first_column != width:
                row = [""] * first_column + row + [""] * (width - first_column - len(row))
            cells.append(row)
    return cells
