"""The fake's model of a spreadsheet: sheets holding sparse grids of cells, and API errors."""

from __future__ import annotations

import json
import random
import secrets
import time
from typing import Any

from .a1 import A1Range, format_range, parse_a1
from .cells import Cell, Entered

MAX_CELLS = 10_000_000
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


def dumps(obj: Any) -> bytes:
    """JSON the way Google's front end writes it: 2-space indent, UTF-8, a final newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


class ApiError(Exception):
    """An error answer: Google's ``{"error": {"code", "message", "status", "details"}}``."""

    def __init__(
        self,
        code: int,
        message: str,
        status: str,
        details: list | None = None,
        headers: dict[str, str] | None = None,
        body: dict | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.headers = headers or {}
        self._body = body

    def payload(self) -> dict:
        if self._body is not None:
            return self._body
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid_argument(message: str, field: str | None = None) -> ApiError:
    details = None
    if field is not None:
        details = [
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [{"field": field, "description": message}],
            }
        ]
    return ApiError(400, message, "INVALID_ARGUMENT", details)


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.", "NOT_FOUND")


def cells_limit_error(prefix: str = "") -> ApiError:
    return invalid_argument(
        f"{prefix}This action would increase the number of cells in the workbook above the "
        f"limit of {MAX_CELLS} cells."
    )


class Sheet:
    """One worksheet: grid size, properties and a sparse ``{row: {col: Cell}}`` map."""

    def __init__(self, sheet_id: int, title: str, index: int, rows: int = 1000, cols: int = 26):
        self.sheet_id = sheet_id
        self.title = title
        self.index = index
        self.row_count = rows
        self.col_count = cols
        self.frozen_rows = 0
        self.frozen_cols = 0
        self.hidden = False
        self.extra: dict[str, Any] = {}  # other SheetProperties fields, stored as sent
        self.basic_filter: dict | None = None
        self.cells: dict[int, dict[int, Cell]] = {}

    # cells -------------------------------------------------------------------------------

    def get(self, row: int, col: int) -> Cell | None:
        r = self.cells.get(row)
        return r.get(col) if r else None

    def filled(self, row: int, col: int) -> bool:
        cell = self.get(row, col)
        return cell is not None and cell.kind is not None

    def ensure(self, row: int, col: int) -> Cell:
        r = self.cells.setdefault(row, {})
        cell = r.get(col)
        if cell is None:
            cell = r[col] = Cell()
        return cell

    def put(self, row: int, col: int, entered: Entered) -> None:
        if entered.kind is None:
            cell = self.get(row, col)
            if cell is not None:
                cell.kind = cell.value = None
                self._drop_if_bare(row, col)
            return
        cell = self.ensure(row, col)
        cell.kind, cell.value = entered.kind, entered.value
        if entered.number_format is not None:
            cell.fmt = dict(cell.fmt or {})
            cell.fmt["numberFormat"] = dict(entered.number_format)

    def clear_values(self, r0: int, r1: int, c0: int, c1: int) -> None:
        for row in [r for r in self.cells if r0 <= r < r1]:
            cols = self.cells[row]
            for col in [c for c in cols if c0 <= c < c1]:
                cols[col].kind = cols[col].value = None
                self._drop_if_bare(row, col)

    def _drop_if_bare(self, row: int, col: int) -> None:
        cols = self.cells.get(row)
        if cols is None:
            return
        cell = cols.get(col)
        if cell is not None and cell.kind is None and not cell.fmt:
            del cols[col]
        if not cols:
            del self.cells[row]

    def row_has_value(self, row: int, c0: int, c1: int) -> bool:
        cols = self.cells.get(row)
        if not cols:
            return False
        return any(c0 <= c < c1 and cell.kind is not None for c, cell in cols.items())

    def last_filled(self, r0: int, r1: int, c0: int, c1: int) -> tuple[int, int] | None:
        """The last cell with a value in the block, scanning rows bottom-up."""
        for row in sorted((r for r in self.cells if r0 <= r < r1), reverse=True):
            cols = [c for c, cell in self.cells[row].items() if c0 <= c < c1 and cell.kind]
            if cols:
                return row, max(cols)
        return None

    def region(
        self, row: int, col: int, bounds: tuple[int, int, int, int]
    ) -> tuple[int, int, int, int]:
        """The block of cells connected to (row, col), as (r0, r1, c0, c1), like Excel's
        CurrentRegion: grow the rectangle while a cell with a value touches it (diagonals too)."""
        R0, R1, C0, C1 = bounds
        top = bottom = row
        left = right = col

        def col_has(c: int, lo: int, hi: int) -> bool:
            return any(self.filled(r, c) for r in range(max(lo, R0), min(hi, R1 - 1) + 1))

        def row_has(r: int) -> bool:
            return self.row_has_value(r, max(left - 1, C0), min(right + 1, C1 - 1) + 1)

        changed = True
        while changed:
            changed = False
            while bottom + 1 < R1 and row_has(bottom + 1):
                bottom += 1
                changed = True
            while top - 1 >= R0 and row_has(top - 1):
                top -= 1
                changed = True
            while right + 1 < C1 and col_has(right + 1, top - 1, bottom + 1):
                right += 1
                changed = True
            while left - 1 >= C0 and col_has(left - 1, top - 1, bottom + 1):
                left -= 1
                changed = True
        return top, bottom + 1, left, right + 1

    # dimensions --------------------------------------------------------------------------

    def insert(self, dimension: str, start: int, count: int) -> None:
        if dimension == "ROWS":
            self.cells = {(r + count if r >= start else r): v for r, v in self.cells.items()}
            self.row_count += count
        else:
            for r, cols in self.cells.items():
                self.cells[r] = {(c + count if c >= start else c): v for c, v in cols.items()}
            self.col_count += count
        self._shift_filter(dimension, start, count)

    def delete(self, dimension: str, start: int, end: int) -> None:
        count = end - start
        if dimension == "ROWS":
            self.cells = {
                (r - count if r >= end else r): v
                for r, v in self.cells.items()
                if not start <= r < end
            }
            self.row_count -= count
        else:
            for r in list(self.cells):
                cols = {
                    (c - count if c >= end else c): v
                    for c, v in self.cells[r].items()
                    if not start <= c < end
                }
                if cols:
                    self.cells[r] = cols
                else:
                    del self.cells[r]
            self.col_count -= count
        self._shift_filter(dimension, start, -count)

    def copy_formats(self, dimension: str, source: int, start: int, count: int) -> None:
        """Give the (empty) rows or columns ``start..start+count`` the formats of ``source``,
        as Google does for inserted rows and columns. New Cell objects only (see ``copy``)."""
        if source < 0:
            return
        if dimension == "ROWS":
            formats = {c: cell.fmt for c, cell in self.cells.get(source, {}).items() if cell.fmt}
            for row in range(start, start + count):
                for col, fmt in formats.items():
                    self.cells.setdefault(row, {})[col] = Cell(fmt=_deep(fmt))
        else:
            for cols in self.cells.values():
                cell = cols.get(source)
                if cell is not None and cell.fmt:
                    for col in range(start, start + count):
                        cols[col] = Cell(fmt=_deep(cell.fmt))

    def resize(self, rows: int, cols: int) -> None:
        if rows < self.row_count:
            self.delete("ROWS", rows, self.row_count)
        self.row_count = rows
        if cols < self.col_count:
            self.delete("COLUMNS", cols, self.col_count)
        self.col_count = cols

    def _shift_filter(self, dimension: str, at: int, delta: int) -> None:
        if not self.basic_filter:
            return
        rng = self.basic_filter["range"]
        lo, hi = (
            ("startRowIndex", "endRowIndex")
            if dimension == "ROWS"
            else (
                "startColumnIndex",
                "endColumnIndex",
            )
        )
        start, end = rng.get(lo, 0), rng.get(hi)
        if delta > 0:
            if at < start:
                start += delta
            if end is not None and at < end:
                end += delta
        else:
            gone_end = at - delta

            def moved(i: int) -> int:
                if i <= at:
                    return i
                return at if i <= gone_end else i + delta

            start = moved(start)
            end = moved(end) if end is not None else None
        rng[lo] = start
        if end is not None:
            rng[hi] = end

    def copy(self) -> Sheet:
        clone = Sheet(self.sheet_id, self.title, self.index, self.row_count, self.col_count)
        clone.frozen_rows, clone.frozen_cols, clone.hidden = (
            self.frozen_rows,
            self.frozen_cols,
            self.hidden,
        )
        clone.extra = _deep(self.extra)
        clone.basic_filter = _deep(self.basic_filter)
        # Cells are shared: code that may be rolled back (batchUpdate) replaces Cell objects
        # instead of changing them in place.
        clone.cells = {r: dict(cols) for r, cols in self.cells.items()}
        return clone


def _deep(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deep(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep(v) for v in obj]
    return obj


def new_spreadsheet_id() -> str:
    """44 characters like Google's: '1' then URL-safe base64."""
    return "1" + secrets.token_urlsafe(33)[:43]


class Spreadsheet:
    def __init__(self, spreadsheet_id: str, title: str):
        self.id = spreadsheet_id
        self.title = title
        self.locale = "en_US"
        self.time_zone = "Etc/GMT"
        self.sheets: list[Sheet] = []
        self.created = self.modified = time.time()
        self.forbidden: str | None = None  # None, "permission" or "scope"
        self._rng = random.Random()

    def touch(self) -> None:
        self.modified = time.time()

    def titles(self) -> list[str]:
        return [s.title for s in self.sheets]

    def new_sheet_id(self) -> int:
        taken = {s.sheet_id for s in self.sheets}
        while True:
            candidate = self._rng.randrange(1, 2**31 - 1)
            if candidate not in taken:
                return candidate

    def add_sheet(
        self,
        title: str,
        rows: int = 1000,
        cols: int = 26,
        sheet_id: int | None = None,
        index: int | None = None,
    ) -> Sheet:
        if sheet_id is None:
            sheet_id = 0 if not self.sheets else self.new_sheet_id()
        index = len(self.sheets) if index is None else max(0, min(index, len(self.sheets)))
        sheet = Sheet(sheet_id, title, index, rows, cols)
        self.sheets.insert(index, sheet)
        self.reindex()
        return sheet

    def reindex(self) -> None:
        for i, sheet in enumerate(self.sheets):
            sheet.index = i

    def sheet_by_id(self, sheet_id: Any) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        return None

    def sheet_by_title(self, title: str) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        return None

    def total_cells(self) -> int:
        return sum(s.row_count * s.col_count for s in self.sheets)

    def resolve(self, text: str) -> tuple[Sheet, A1Range]:
        """A range string -> its sheet and parsed bounds, or Google's 400."""
        parsed = parse_a1(text, self.titles())
        if parsed is None:
            raise invalid_argument(f"Unable to parse range: {text}")
        if parsed.sheet is None:
            visible = [s for s in self.sheets if not s.hidden] or self.sheets
            return visible[0], parsed
        sheet = self.sheet_by_title(parsed.sheet)
        assert sheet is not None
        return sheet, parsed

    def snapshot(self) -> list[Sheet]:
        return [s.copy() for s in self.sheets]


def clip(sheet: Sheet, rng: A1Range) -> tuple[int, int, int, int]:
    """Resolve open bounds against the grid and clip; 400 when the range starts outside it."""
    r0 = rng.r0 or 0
    c0 = rng.c0 or 0
    r1 = sheet.row_count if rng.r1 is None else min(rng.r1, sheet.row_count)
    c1 = sheet.col_count if rng.c1 is None else min(rng.c1, sheet.col_count)
    if r0 >= sheet.row_count or c0 >= sheet.col_count:
        raise grid_limits_error(sheet, r0, c0)
    return r0, r1, c0, c1


def grid_limits_error(sheet: Sheet, row: int, col: int) -> ApiError:
    where = format_range(sheet.title, row, row + 1, col, col + 1)
    return invalid_argument(
        f"Range ({where}) exceeds grid limits. Max rows: {sheet.row_count}, "
        f"max columns: {sheet.col_count}"
    )
