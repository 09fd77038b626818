"""The Excel backend: one workbook path (and optional sheet name) that rows are appended to."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import importlib.resources
import os
import re
import shutil
import zipfile
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from python_calamine import CalamineError

from ...errors import RowRejected, TargetError
from ...schema import header_name, header_text, match_header, order_columns, reserved_columns
from ...values import clip_text
from ..base import Table, WriteResult
from .cells import EXCEL_MAX_CHARS, EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, cell_xml, column_letter
from .files import check_not_open, check_workbook_file, damaged
from .in_place import append_in_place, open_stored_sheet
from .package import Package
from .replacing import check_writable, replace_file
from .sharedstrings import SharedStrings
from .sheet_cells import sheet_cells
from .styles import Styles
from .tables import grow_tables, table_parts
from .undo import needs_recovery, recover
from .workbook import DEFAULT_SHEET, SheetEntry, WorkbookIndex, check_sheet_name
from .worksheet import Append, Worksheet

LOCK_TIMEOUT_S = 120
COMPRESS_LEVEL = 6


class ExcelBackend:
    """Appends runs to one sheet of an .xlsx/.xlsm workbook by patching its worksheet part."""

    def __init__(self, path: str | os.PathLike[str], sheet: str | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        self.sheet = check_sheet_name(sheet) if sheet else None
        self.key = f"{self.path}#{sheet}" if sheet else str(self.path)
        self._holding = False  # whether this object holds the lock (see read)

    def __repr__(self) -> str:
        return f"ExcelBackend({self.key!r})"

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.sheetlog-lock")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the workbook for one delivery (other sheetlog processes wait)."""
        check_not_open(self.path)
        try:
            with FileLock(self.lock_path, timeout=LOCK_TIMEOUT_S):
                recover(self.path)
                self._remove_stale_temporaries()
                self._holding = True
                try:
                    yield
                finally:
                    self._holding = False
        except Timeout as error:
            raise TargetError(
                f"{self.path} stayed locked by another sheetlog process for {LOCK_TIMEOUT_S} s; "
                f"if none is running, delete {self.lock_path}"
            ) from error

    def write(
        self, records: Sequence[dict[str, Any]], possibly_written: Collection[str] = ()
    ) -> WriteResult:
        """Append ``records`` (the caller holds ``lock()``); see ``Backend.write``."""
        try:
            return self._write(records, possibly_written)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise damaged(self.path, error) from error
        except OSError as error:
            raise TargetError(f"cannot write {self.path}: {error}") from error

    def _write(
        self, records: Sequence[dict[str, Any]], possibly_written: Collection[str]
    ) -> WriteResult:
        if not self.path.exists():
            self._create()
        check_writable(self.path)
        check_workbook_file(self.path)
        if not possibly_written:
            with Package(self.path) as package:
                result = _append_in_place(package, self.sheet, records)
            if result is not None:
                return result
        with Package(self.path) as package:
            result, changed = _append(package, self.sheet, records, set(possibly_written))
            if changed:
                self._replace_with(package)
        return result

    def update(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set cells of rows already in the sheet, found by run_id: ``{run_id: {column: value}}``
        (the caller holds ``lock()``). Missing columns are added; rows not found are skipped."""
        try:
            check_writable(self.path)
            check_workbook_file(self.path)
            with Package(self.path) as package:
                if _update(package, self.sheet, changes):
                    self._replace_with(package)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise damaged(self.path, error) from error
        except OSError as error:
            raise TargetError(f"cannot write {self.path}: {error}") from error

    def create(self, template: str | os.PathLike[str] | None = None) -> None:
        """Create the workbook, from ``template`` (a workbook of the user's) or sheetlog's own,
        with the target's sheet (added when the template lacks it). The caller holds ``lock()``;
        FileExistsError when the workbook exists (it is never replaced)."""
        if self.path.exists():
            raise FileExistsError(f"{self.path} already exists")
        if template is not None:
            check_workbook_file(Path(template))
        self._create(template)
        self.write([])

    def has_sheet(self) -> bool:
        """Whether the workbook exists and holds the target's sheet (else a write adds it)."""
        if not self.path.exists():
            return False
        check_workbook_file(self.path)
        try:
            with Package(self.path) as package:
                return WorkbookIndex(package).find(self.sheet) is not None
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise damaged(self.path, error) from error

    def _create(self, template: str | os.PathLike[str] | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._temporary_path()
        if template is not None:
            shutil.copyfile(template, temporary)
            os.replace(temporary, self.path)
            return
        packaged = importlib.resources.files("sheetlog.templates").joinpath("runs.xlsx")
        with importlib.resources.as_file(packaged) as source:
            shutil.copyfile(source, temporary)
        if self.sheet and self.sheet != DEFAULT_SHEET:
            with Package(temporary) as package:
                _rename_template_sheet(package, self.sheet)
                package.save(temporary.with_suffix(".renamed"))
            os.replace(temporary.with_suffix(".renamed"), temporary)
        os.replace(temporary, self.path)

    def _temporary_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.sheetlog-{os.getpid()}.tmp")

    def _remove_stale_temporaries(self) -> None:
        """Delete temp files left by writers that were killed mid-write (called under the lock)."""
        pattern = re.compile(rf"\.{re.escape(self.path.name)}\.sheetlog-(\d+)\.(?:tmp|renamed)")
        for leftover in self.path.parent.glob(f".{glob.escape(self.path.name)}.sheetlog-*"):
            match = pattern.fullmatch(leftover.name)
            if match and _writer_gone(int(match.group(1))):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _replace_with(self, package: Package) -> None:
        temporary = self._temporary_path()
        try:
            package.save(temporary, COMPRESS_LEVEL)
            replace_file(self.path, temporary)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def read(self) -> Table:
        if not self.path.exists():
            return Table([], [])
        if needs_recovery(self.path):  # an append was cut short: put the workbook back
            with self.lock():
                pass
        try:
            return self._read()
        except Exception as error:
            # A workbook being appended to in place by another process reads as damaged until
            # that write ends: read it again once the writer lets go (a damaged file stays so).
            if self._holding:  # under our own lock (a sync): nobody else is writing
                raise
            writer = FileLock(self.lock_path, timeout=LOCK_TIMEOUT_S)
            try:
                writer.acquire()
            except (OSError, Timeout):  # no lock to wait for (a read-only folder): as it was
                raise error from None
            try:
                recover(self.path)
                return self._read()
            finally:
                writer.release()

    def _read(self) -> Table:
        if not self.path.exists():
            return Table([], [])
        check_workbook_file(self.path)
        with Package(self.path) as package:
            entry = WorkbookIndex(package).find(self.sheet)
            try:
                cells = sheet_cells(package, entry) if entry is not None else []
            except (CalamineError, zipfile.BadZipFile, zlib.error) as error:
                raise damaged(self.path, error) from error
        if not cells:
            return Table([], [])
        header = [header_name(value) for value in cells[0]]
        return Table(header, _values_rows(cells[1:]))


def _values_rows(cells: list[list[Any]]) -> list[list[Any]]:
    """calamine's rows with empty cells as None, empty rows left out."""
    rows = []
    for row in cells:
        if "" in row:  # rows without an empty cell (most of them) are kept as they are
            if row.count("") == len(row):
                continue
            row = [None if value == "" else value for value in row]
        rows.append(row)
    return rows


def _writer_gone(pid: int) -> bool:
    """Whether the process that wrote a temp file has ended (its temp file is garbage then)."""
    if pid == os.getpid():
        return False
    if os.name == "nt":
        return True  # os.kill would end the process; Windows refuses to delete an open file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _append(
    package: Package,
    sheet_name: str | None,
    records: Sequence[dict[str, Any]],
    possibly_written: set[str],
) -> tuple[WriteResult, bool]:
    """Patch ``package`` in memory; returns the result and whether anything changed."""
    index = WorkbookIndex(package)
    entry: SheetEntry | None = index.find(sheet_name)
    added_sheet = entry is None
    if entry is None:
        entry = index.add_worksheet(sheet_name or DEFAULT_SHEET)
    shared = SharedStrings(
        package.read("xl/sharedStrings.xml") if package.has("xl/sharedStrings.xml") else None
    )
    sheet = Worksheet(package.read(entry.part), shared)
    styles = Styles(package.read("xl/styles.xml")) if package.has("xl/styles.xml") else None
    plan = _Plan(sheet, records, possibly_written)
    result = plan.result
    if not plan.rows and not added_sheet:
        return result, False
    header_style = _header_style(sheet, styles, added_sheet)
    date_style = styles.datetime_style() if styles and plan.needs_dates else None
    append = plan.build(header_style, date_style)
    edits = sheet.edits(append)  # a new sheet too is laid out for in-place appends at once
    package.edit(entry.part, sheet.xml, edits, COMPRESS_LEVEL, sheet.head_end(edits))
    new_names = {c: header_text(sheet.header(), n) for n, c in plan.new_columns.items()}
    grow_tables(package, entry.part, sheet.last_row, sheet.last_row + len(append.rows), new_names)
    if styles is not None and styles.changed:
        package.write("xl/styles.xml", styles.xml)
    package.put_last([entry.part, *table_parts(package, entry.part)])  # see in_place
    return result, True


def _append_in_place(
    package: Package, sheet_name: str | None, records: Sequence[dict[str, Any]]
) -> WriteResult | None:
    """The append of ``_append`` written in place, reading only the head and tail of the sheet
    (see ``in_place``); None, with nothing written, when the workbook is not laid out for it."""
    entry = WorkbookIndex(package).find(sheet_name)
    if entry is None:
        return None
    shared = SharedStrings(
        package.read("xl/sharedStrings.xml") if package.has("xl/sharedStrings.xml") else None
    )

    def has_data_row(xml: bytes, head_length: int) -> bool:
        try:
            return Worksheet(xml, shared).insert_at > head_length
        except ValueError:
            return True  # not enough to tell; the checks below refuse it

    stored = open_stored_sheet(package, entry.part, has_data_row)
    if stored is None:
        return None
    try:
        sheet = Worksheet(stored.xml, shared)
    except ValueError:
        return None
    if sheet.header_row is None or sheet.header_row.end != stored.head_length:
        return None
    if not sheet.numbered or (sheet.insert_at <= stored.head_length and stored.tail_index > 1):
        return None
    styles = Styles(package.read("xl/styles.xml")) if package.has("xl/styles.xml") else None
    plan = _Plan(sheet, records, set())
    if not plan.rows:
        return plan.result
    date_style = styles.datetime_style() if styles and plan.needs_dates else None
    append = plan.build(_header_style(sheet, styles, False), date_style)
    new_names = {c: header_text(sheet.header(), n) for n, c in plan.new_columns.items()}
    grow_tables(package, entry.part, sheet.last_row, sheet.last_row + len(append.rows), new_names)
    if styles is not None and styles.changed:
        package.write("xl/styles.xml", styles.xml)
    if not append_in_place(package, stored, sheet.edits(append), COMPRESS_LEVEL):
        return None
    return plan.result


def _update(
    package: Package, sheet_name: str | None, changes: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Patch cells of existing rows in ``package``; returns whether anything changed."""
    entry = WorkbookIndex(package).find(sheet_name)
    if entry is None:
        return False
    shared = SharedStrings(
        package.read("xl/sharedStrings.xml") if package.has("xl/sharedStrings.xml") else None
    )
    sheet = Worksheet(package.read(entry.part), shared)
    styles = Styles(package.read("xl/styles.xml")) if package.has("xl/styles.xml") else None
    id_column = match_header(sheet.header(), ["run_id"]).get("run_id")
    if id_column is None:
        return False
    rows = sheet.column_rows(id_column + 1)
    changes = {run_id: cells for run_id, cells in changes.items() if run_id in rows}
    names = order_columns(
        dict.fromkeys(
            name for cells in changes.values() for name, v in cells.items() if v is not None
        )
    )
    mapping = match_header(sheet.header(), names)
    first_new = sheet.used_width() + 1
    new_columns = {
        name: first_new + i for i, name in enumerate(n for n in names if n not in mapping)
    }
    columns = {name: position + 1 for name, position in mapping.items()} | new_columns
    append = Append()
    _add_header_cells(append, new_columns, _header_style(sheet, styles, False), sheet.header())
    date_style = None
    for run_id, cells in changes.items():
        number = rows[run_id]
        row: dict[int, str] = {}
        for name, value in cells.items():
            if value is None:
                continue
            style = None
            if isinstance(value, dt.datetime):
                date_style = date_style or (styles.datetime_style() if styles else None)
                style = date_style
            elif isinstance(value, str):
                value = clip_text(value, EXCEL_MAX_CHARS)[0]
            column = columns[name]
            row[column] = cell_xml(f"{column_letter(column)}{number}", value, style)
        if row:
            append.updates[number] = row
    if not append.updates:
        return False
    package.edit(entry.part, sheet.xml, sheet.edits(append), COMPRESS_LEVEL)
    names_by_column = {c: header_text(sheet.header(), n) for n, c in new_columns.items()}
    grow_tables(package, entry.part, sheet.last_row, sheet.last_row, names_by_column)
    if styles is not None and styles.changed:
        package.write("xl/styles.xml", styles.xml)
    return True


def _add_header_cells(
    append: Append, new_columns: dict[str, int], style: int | None, header: list[str | None]
) -> None:
    for name, column in new_columns.items():
        text = header_text(header, name)
        append.header_cells[column] = cell_xml(f"{column_letter(column)}1", text, style)
        append.widths[column] = 20.0 if name.endswith("_time") else min(max(len(text) + 3, 10), 50)


class _Plan:
    """Which records to write, in which columns: header matching, new columns, limits."""

    def __init__(
        self, sheet: Worksheet, records: Sequence[dict[str, Any]], possibly_written: set[str]
    ) -> None:
        self.sheet = sheet
        self.result = WriteResult()
        header = sheet.header()
        names = order_columns(
            name for record in records for name, value in record.items() if value is not None
        )
        mapping = match_header(header, names)
        present = self._present_run_ids(mapping, possibly_written)
        self.columns = {name: position + 1 for name, position in mapping.items()}
        first_new = sheet.used_width() + 1
        added: set[str] = set()
        self.rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for record in records:
            run_id = record["run_id"]
            if run_id in present or run_id in seen:
                self.result.already_present.append(run_id)
                continue
            needs = {n for n, v in record.items() if v is not None and n not in self.columns}
            needs -= added
            try:
                self._check(len(needs), first_new + len(added), sheet.last_row + len(self.rows) + 1)
            except RowRejected as error:
                self.result.rejected[run_id] = str(error)
                continue
            added |= needs
            seen.add(run_id)
            self.rows.append(record)
            self.result.written.append(run_id)
        # Only the new columns of rows written, in group order, right of the last used column:
        # a rejected row's columns neither leave gaps nor push other rows' columns out of the sheet.
        if self.rows:  # the first write to a hand-kept sheet marks the user's cells as theirs
            added |= {name for name in reserved_columns(header) if name not in self.columns}
        ordered = [name for name in order_columns([*names, *added]) if name in added]
        self.new_columns = {name: first_new + i for i, name in enumerate(ordered)}
        self.columns.update(self.new_columns)
        self.needs_dates = any(isinstance(v, dt.datetime) for r in self.rows for v in r.values())

    def _present_run_ids(self, mapping: dict[str, int], possibly_written: set[str]) -> set[str]:
        """Which of the runs an earlier, interrupted delivery may have written are in the sheet."""
        if "run_id" not in mapping:
            return set()
        candidates = [run_id for run_id in possibly_written if self.sheet.mentions(run_id)]
        if not candidates:
            return set()
        existing = self.sheet.column_texts(mapping["run_id"] + 1)
        return {run_id for run_id in candidates if run_id in existing}

    def _check(self, new_columns: int, next_column: int, row_number: int) -> None:
        if row_number > EXCEL_MAX_ROWS:
            raise RowRejected(
                f"the sheet is full ({EXCEL_MAX_ROWS:,} rows); log to a new sheet, e.g. a target"
                " ending in #Runs2"
            )
        if next_column + new_columns - 1 > EXCEL_MAX_COLUMNS:
            room = max(EXCEL_MAX_COLUMNS - next_column + 1, 0)
            raise RowRejected(
                f"it needs {new_columns:,} new columns and the sheet has room for {room:,} (an"
                f" Excel sheet holds {EXCEL_MAX_COLUMNS:,} columns). Log fewer keys per run, or"
                " use a new sheet (a target ending in #Runs2)."
            )

    def build(self, header_style: int | None, date_style: int | None) -> Append:
        append = Append()
        _add_header_cells(append, self.new_columns, header_style, self.sheet.header())
        clipped: set[str] = set()
        for offset, record in enumerate(self.rows):
            row_number = self.sheet.last_row + 1 + offset
            cells = {}
            for name, value in record.items():
                if value is None:
                    continue
                column = self.columns[name]
                if isinstance(value, str):
                    value, was_clipped = clip_text(value, EXCEL_MAX_CHARS)
                    if was_clipped:
                        clipped.add(name)
                style = date_style if isinstance(value, dt.datetime) else None
                cells[column] = cell_xml(f"{column_letter(column)}{row_number}", value, style)
            append.rows.append(cells)
        if clipped:
            self.result.notices.append(
                f"text longer than Excel's {EXCEL_MAX_CHARS:,} characters was cut in column(s) "
                f"{', '.join(sorted(clipped))}; the full value stays in the sheetlog journal"
            )
        return append


def _header_style(sheet: Worksheet, styles: Styles | None, added_sheet: bool) -> int | None:
    """New header cells look like the last existing one; a header sheetlog starts is bold."""
    if sheet.header_row is not None:
        cells = sheet.cells(sheet.header_row.content)
        if cells:
            style = cells[-1].attr(b"s")
            return int(style) if style else None
    if styles is not None and (added_sheet or sheet.header_row is None):
        return styles.bold_style()
    return None


def _rename_template_sheet(package: Package, name: str) -> None:
    from html import escape

    quoted = escape(name, quote=True).encode()
    xml = package.read("xl/workbook.xml")
    xml = xml.replace(b'name="Runs"', b'name="' + quoted + b'"', 1)
    xml = xml.replace(b"'Runs'!", b"'" + escape(name.replace("'", "''")).encode() + b"'!")
    package.write("xl/workbook.xml", xml)
    if package.has("docProps/app.xml"):
        app = package.read("docProps/app.xml").replace(
            b">Runs<", b">" + escape(name).encode() + b"<"
        )
        package.write("docProps/app.xml", app)
