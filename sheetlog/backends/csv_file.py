"""The CSV backend: a runs table kept as a plain CSV file (for sync and hand-off).

A CSV file has no types: values are written and read back by the convention of
``sheetlog.csv_text`` (the one ``sheetlog export`` uses too): numbers stay numbers, ``NaN`` /
``inf`` / ``-inf``, ``TRUE`` / ``FALSE``, ``YYYY-MM-DD HH:MM:SS`` times, and text with a leading
``'`` where it would read back as something else or run as a formula in a spreadsheet; header
names follow the same rule. The file is UTF-8 with a byte-order mark (so that Excel shows
accents right) and is rewritten whole, through a temporary file, on every write: a crash
leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..csv_text import csv_field, csv_safe, csv_unsafe, csv_value, write_csv_rows
from ..errors import TargetError
from ..schema import header_text, match_header, order_columns, reserved_columns
from .base import Table, WriteResult

LOCK_TIMEOUT_S = 120


class CsvBackend:
    """Keeps runs in one CSV file, one row per run, header in the first line."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self.key = str(self.path)

    def __repr__(self) -> str:
        return f"CsvBackend({self.key!r})"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        lock_path = self.path.with_name(f".{self.path.name}.sheetlog-lock")
        try:
            with FileLock(lock_path, timeout=LOCK_TIMEOUT_S):
                yield
        except Timeout as error:
            raise TargetError(
                f"{self.path} stayed locked by another sheetlog process for {LOCK_TIMEOUT_S} s;"
                f" if none is running, delete {lock_path}"
            ) from error

    def read(self) -> Table:
        header, rows = self._load()
        return Table(
            [name or None for name in header],
            [[csv_value(text) for text in row] for row in rows if any(row)],
            nonfinite_texts=False,
        )

    def write(
        self, records: Sequence[dict[str, Any]], possibly_written: Collection[str] = ()
    ) -> WriteResult:
        """Append the records not in the file yet (every run_id is checked: the file is read
        whole anyway)."""
        header, rows = self._load()
        result = WriteResult()
        present = set(_column(header, rows, "run_id"))
        fresh = []
        for record in records:
            if record["run_id"] in present:
                result.already_present.append(record["run_id"])
            else:
                present.add(record["run_id"])
                fresh.append(record)
                result.written.append(record["run_id"])
        if not fresh:
            return result
        header, columns = _grown(header, fresh)
        for record in fresh:
            row = [""] * len(header)
            for name, value in record.items():
                if value is not None:
                    row[columns[name]] = csv_field(value)
            rows.append(row)
        self._save(header, rows)
        return result

    def update(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set cells of rows already in the file, found by run_id; missing columns are added."""
        header, rows = self._load()
        numbers = {run_id: i for i, run_id in enumerate(_column(header, rows, "run_id"))}
        records = [{**cells, "run_id": r} for r, cells in changes.items() if r in numbers]
        if not records:
            return
        header, columns = _grown(header, records)
        for record in records:
            row = rows[numbers[record["run_id"]]]
            row.extend([""] * (len(header) - len(row)))
            for name, value in record.items():
                if value is not None:
                    row[columns[name]] = csv_field(value)
        self._save(header, rows)

    def _load(self) -> tuple[list[str], list[list[str]]]:
        if not self.path.exists():
            return [], []
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as file:
                lines = list(csv.reader(file))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise TargetError(f"cannot read {self.path} as a CSV file: {error}") from error
        if not lines:
            return [], []
        return [csv_unsafe(name).strip() for name in lines[0]], lines[1:]  # names are text

    def _save(self, header: list[str], rows: list[list[str]]) -> None:
        buffer = io.StringIO()
        write_csv_rows(buffer, [[csv_safe(name) if name else "" for name in header], *rows])
        temporary = self.path.with_name(f".{self.path.name}.sheetlog-{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("w", encoding="utf-8-sig", newline="") as file:
                file.write(buffer.getvalue())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            raise TargetError(f"cannot write {self.path}: {error}") from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


def _column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    position = match_header(header, [name]).get(name)
    if position is None:
        return []
    return [csv_unsafe(row[position]) if position < len(row) else "" for row in rows]


def _grown(
    header: list[str], records: Sequence[Mapping[str, Any]]
) -> tuple[list[str], dict[str, int]]:
    names = [n for r in records for n, v in r.items() if v is not None]
    names = order_columns(dict.fromkeys([*names, *(reserved_columns(header) if records else [])]))
    columns = match_header(header, names)
    grown = list(header)
    for name in names:
        if name not in columns:
            columns[name] = len(grown)
            grown.append(header_text(header, name))
    return grown, columns
