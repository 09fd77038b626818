"""The Google Sheets backend: append runs to one worksheet through gspread's HTTP client.

Steady state, one read (the worksheet's properties and header row together) and one write (one
``values.append`` carrying every pending row) per delivery. New columns cost one ``batchUpdate``
and a check afterwards; see ``_repair`` for what happens when two writers grow the header at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import gspread
import requests
from filelock import FileLock, Timeout
from google.auth.exceptions import RefreshError
from gspread.exceptions import APIError
from gspread.urls import SPREADSHEET_BATCH_UPDATE_URL

from ...errors import TargetError
from ...schema import header_name, header_text, match_header, order_columns, reserved_columns
from ..base import Table, WriteResult
from ..excel.cells import column_letter
from .address import SheetAddress
from .auth import BoundedHTTPClient, make_client, read_timeout_s
from .cells import (
    DATETIME_PATTERN,
    MAX_CELLS,
    MAX_COLUMNS,
    TIME_COLUMNS,
    from_serial,
    parse_formatted_datetime,
    to_json,
)
from .retry import Backoff, root_cause, with_retries
from .titles import WorksheetTitles

DEFAULT_WORKSHEET = "Runs"
LOCK_TIMEOUT_S = 120  # as for a workbook: how long a write waits for another local process
_known_sheets: dict[str, _Sheet] = {}  # per process, by target key: see _write_once
APPEND_CHUNK_BYTES = 1_800_000
# What one read (and every append's answer) tells: properties, filter, the cells read.
SHEET_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties),basicFilter(range),"
    "data(rowData(values(formattedValue))))"
)
_REPAIR_ROUNDS = 5
# The least time one operation may take in all, retries included, however short the budget and
# timeouts are set: the limit is there to stop minute-long hangs, not a quick series of retries.
MIN_DELIVERY_S = 10.0


@dataclass
class _Sheet:
    """What one read tells about the worksheet."""

    sheet_id: int
    title: str
    columns: int
    header: list[str | None]
    filter_columns: int | None = None
    rows: int = 1000
    has_rows: bool = True  # whether row 2 holds anything

    @property
    def a1(self) -> str:
        return "'" + self.title.replace("'", "''") + "'"


@dataclass
class _Plan:
    columns: dict[str, int] = field(default_factory=dict)  # name -> 0-based column
    new: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    result: WriteResult = field(default_factory=WriteResult)


class GoogleSheetBackend:
    """Appends runs to a worksheet of a Google spreadsheet."""

    def __init__(
        self,
        address: SheetAddress,
        credentials: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """``cache_dir``: where worksheet titles of URL and bare-key targets are remembered."""
        self.address = address
        self._titles = WorksheetTitles(cache_dir)
        self.key = address.canonical
        self._credentials = credentials
        self._client: gspread.Client | None = None
        self._identity = ""
        self.backoff = Backoff.from_environment()

    def __repr__(self) -> str:
        return f"GoogleSheetBackend({self.key!r})"

    @property
    def http(self) -> BoundedHTTPClient:
        if self._client is None:
            self._client, self._identity = make_client(self._credentials)
        return cast(BoundedHTTPClient, self._client.http_client)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the worksheet against the other sheetlog processes of this machine (two
        ``sheetlog sync`` at once, each re-reading it under the lock, appended every run twice
        without it). Writers on other machines cannot be locked out (see ``_repair``)."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"sheetlog-locks-{_user()}"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            held = FileLock(folder / f"{digest}.lock", timeout=LOCK_TIMEOUT_S)
            held.acquire()
        except Timeout as error:
            raise TargetError(
                f"{self.key} stayed locked by another sheetlog process of this machine for"
                f" {LOCK_TIMEOUT_S} s (a long `sheetlog sync`?); runs stay pending meanwhile"
            ) from error
        except OSError:  # no temporary folder to lock in: as before, unlocked
            yield
            return
        try:
            yield
        finally:
            held.release()

    # -- checks (sheetlog init / doctor) -------------------------------------------------------

    @property
    def identity(self) -> str:
        """Who requests go as (e.g. a service account's e-mail); TargetError without credentials."""
        self.http  # noqa: B018 - finds the credentials
        return self._identity

    def inspect(self) -> tuple[str, str | None]:
        """The spreadsheet's title and the worksheet's (None: a write would add it); one read."""

        def attempt(_after_failure: bool) -> tuple[str, str | None]:
            reply = self.http.fetch_sheet_metadata(
                self.address.key,
                params={"fields": "properties(title),sheets(properties(sheetId,title,sheetType))"},
            )
            sheets = [s["properties"] for s in reply.get("sheets", [])]
            wanted = self.address.worksheet
            if wanted is None:
                title = _choose(sheets, self.address.gid)
                if title is None and self.address.gid is not None:
                    raise TargetError(
                        f"{self.key}: the spreadsheet has no worksheet with gid"
                        f" {self.address.gid}; copy the URL of the worksheet again"
                    )
            else:
                found = [s["title"] for s in sheets if s["title"].casefold() == wanted.casefold()]
                title = found[0] if found else None
            return reply["properties"]["title"], title

        return self._call(attempt)

    def check_can_edit(self) -> None:
        """TargetError unless the credentials may edit the spreadsheet. Google has no dry run:
        this sets the spreadsheet's title to itself, a write that changes nothing."""

        def attempt(_after_failure: bool) -> None:
            title = self.http.fetch_sheet_metadata(
                self.address.key, params={"fields": "properties(title)"}
            )["properties"]["title"]
            same = {"properties": {"title": title}, "fields": "title"}
            self.http.batch_update(
                self.address.key, {"requests": [{"updateSpreadsheetProperties": same}]}
            )

        self._call(attempt)

    def ensure_worksheet(self) -> None:
        """Add the worksheet, with its formatted header, unless the spreadsheet has it."""
        self._call(lambda _after_failure: self._sheet())

    # -- writing -------------------------------------------------------------------------------

    def write(
        self, records: Sequence[dict[str, Any]], possibly_written: Collection[str] = ()
    ) -> WriteResult:
        suspects = set(possibly_written)

        def attempt(after_failure: bool) -> WriteResult:
            if after_failure:
                suspects.update(record["run_id"] for record in records)
            try:
                return self._write_once(records, suspects)
            except APIError as error:
                if error.response.status_code != 400 or "insertDimension" not in _message(error):
                    raise
            # Rows or columns were deleted since our read: read again, once (earlier chunks
            # may have landed, so look for every run).
            suspects.update(record["run_id"] for record in records)
            return self._write_once(records, suspects)

        return self._call(attempt)

    def update(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set cells of rows already in the worksheet, found by run_id: ``{run_id: {column:
        value}}``. Missing columns are added (one batchUpdate); the cells go in one
        values.batchUpdate per ~2 MB."""

        def attempt(_after_failure: bool) -> None:
            sheet = self._sheet()
            id_column = match_header(sheet.header, ["run_id"]).get("run_id")
            if id_column is None:
                return
            rows = self._column_values(sheet, id_column)
            records = [{**cells, "run_id": r} for r, cells in changes.items() if r in rows]
            plan = _plan(sheet.header, records)
            if plan.new:
                self.http.batch_update(
                    self.address.key, {"requests": self._grow_requests(sheet, plan)}
                )
            data = [
                {
                    "range": f"{sheet.a1}!{column_letter(plan.columns[name] + 1)}"
                    f"{rows[record['run_id']]}",
                    "values": [[to_json(value)[0]]],
                }
                for record in plan.rows
                for name, value in record.items()
                if value is not None and name != "run_id"
            ]
            for chunk in _chunks(data):
                self.http.values_batch_update(
                    self.address.key, {"valueInputOption": "RAW", "data": chunk}
                )

        self._call(attempt)

    def _call(self, operation: Any) -> Any:
        """Run ``operation`` with retries. No attempt starts, and no request waits for a
        connection or for an answer to begin, past the retry budget plus one read timeout, or
        ``MIN_DELIVERY_S`` if longer (a server trickling an answer byte by byte is not cut off:
        requests' read timeout is per read)."""
        http = self.http
        outer = http.deadline
        limit = max(MIN_DELIVERY_S, self.backoff.budget_s + read_timeout_s())
        mine = time.monotonic() + limit
        http.deadline = mine if outer is None else min(outer, mine)
        try:
            return with_retries(operation, self.backoff, self._describe, limit_s=limit)
        except APIError as error:
            raise TargetError(self._explain(error)) from error
        except RefreshError as error:
            raise TargetError(
                f"Google refused to give {self._identity} an access token ({error}); renew or"
                " replace the credentials file"
            ) from error
        finally:
            http.deadline = outer

    def _write_once(self, records: Sequence[dict[str, Any]], suspects: set[str]) -> WriteResult:
        # The worksheet as this process's last write left it (its answer carries the header)
        # saves the read: if another writer moved columns since, the append's answer shows it
        # and our rows are put right. Dropped first, so that a failure leads to a fresh read.
        known = _known_sheets.pop(self.key, None)
        sheet = known if known is not None and not suspects else self._sheet(records)
        plan = _plan(sheet.header, records)
        if "run_id" in plan.columns and suspects:
            present = self._column_values(sheet, plan.columns["run_id"])
            found = [r for r in plan.rows if r["run_id"] in present]
            _drop_present(plan, present)
            self._check_rows(sheet, found, present)
        if not plan.rows:
            return plan.result
        _check_cells(sheet, plan)
        setup = self._grow_requests(sheet, plan) if plan.new else []
        rows = [_row_cells(plan, record) for record in plan.rows]
        if len(json.dumps(rows, separators=(",", ":"))) <= APPEND_CHUNK_BYTES:
            if not sheet.has_rows:
                setup += _first_rows_formats(sheet, plan)
            self._append(sheet, plan, rows, setup)
        else:
            self._append_in_bulk(sheet, plan, setup)
        sheet.has_rows = True
        _known_sheets[self.key] = sheet
        return plan.result

    def _append(
        self,
        sheet: _Sheet,
        plan: _Plan,
        rows: list[list[dict[str, Any]]],
        setup: list[dict[str, Any]],
    ) -> None:
        """Append the plan's rows (``rows``: their cells) with one batchUpdate that also
        carries ``setup`` (new columns, formats) and answers with the header as it was right
        after the rows landed.

        The batch is atomic, so the header in the answer tells whether another writer moved
        columns between our read and our rows: then our rows are rewritten by run_id."""
        count = len(rows)
        requests = [
            *setup,
            {  # rows at the end of the grid that take its last row's formats
                "insertDimension": {
                    "range": _dimension(sheet.sheet_id, "ROWS", sheet.rows, sheet.rows + count),
                    "inheritFromBefore": True,
                }
            },
        ]
        if sheet.rows == 1:  # the last row is the bold header
            requests.append(_not_bold(sheet.sheet_id, 1, 1 + count))
        requests.append(
            {
                "appendCells": {
                    "sheetId": sheet.sheet_id,
                    "rows": [{"values": cells} for cells in rows],
                    "fields": "userEnteredValue",
                }
            }
        )
        reply = self.http.request(
            "post",
            SPREADSHEET_BATCH_UPDATE_URL % self.address.key,
            params={"fields": "updatedSpreadsheet(" + SHEET_FIELDS + ")"},
            json={
                "requests": requests,
                "includeSpreadsheetInResponse": True,
                "responseRanges": [f"{sheet.a1}!1:1"],
                "responseIncludeGridData": True,
            },
        ).json()
        after = _parse_sheet(_sheet_in(reply.get("updatedSpreadsheet", {}), sheet.sheet_id))
        sheet.rows, sheet.columns = after.rows, after.columns
        if after.header[: len(sheet.header)] != sheet.header:
            self._repair(sheet, plan, plan.rows, after.header)
        else:  # columns others added at the end: known from now on
            sheet.header, sheet.filter_columns = after.header, after.filter_columns

    def _append_in_bulk(self, sheet: _Sheet, plan: _Plan, setup: list[dict[str, Any]]) -> None:
        """Rows too many for one request (a sync, a long offline spell): plain values.append
        in chunks (about a sixth of the bytes of cell data), then one header read to check that
        no other writer moved columns meanwhile (our rows are rewritten by run_id if one did)."""
        if setup:
            self.http.batch_update(self.address.key, {"requests": setup})
        for chunk in _chunks([_row_values(plan, record) for record in plan.rows]):
            reply = self.http.values_append(
                self.address.key,
                f"{sheet.a1}!A1",
                params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                body={"majorDimension": "ROWS", "values": chunk},
            )
            if _first_row(reply) == 2:  # rows inserted under the header copy its format
                requests = [_not_bold(sheet.sheet_id, 1, 1 + len(chunk))]
                requests += _first_rows_formats(sheet, plan)
                self.http.batch_update(self.address.key, {"requests": requests})
        self._repair(sheet, plan, plan.rows)

    def _grow_requests(self, sheet: _Sheet, plan: _Plan) -> list[dict[str, Any]]:
        """Insert the new columns right of the header, name them, format time columns.

        Inserting (rather than writing into empty columns) means a writer that grows the header
        at the same moment shifts our columns instead of overwriting their names."""
        start = len(sheet.header)
        end = start + len(plan.new)
        requests: list[dict[str, Any]] = [
            {
                "insertDimension": {
                    "range": _dimension(sheet.sheet_id, "COLUMNS", start, end),
                    "inheritFromBefore": start > 0,
                }
            },
            {
                "updateCells": {
                    "range": _grid(sheet.sheet_id, 0, 1, start, end),
                    "rows": [
                        {
                            "values": [
                                {"userEnteredValue": {"stringValue": header_text(sheet.header, n)}}
                                for n in plan.new
                            ]
                        }
                    ],
                    "fields": "userEnteredValue",
                }
            },
        ]
        if start > 0:  # the inherited format of a time column would show numbers as dates
            requests.append(_plain_format(sheet.sheet_id, start, end))
        for offset, name in enumerate(plan.new):
            if any(isinstance(r.get(name), dt.datetime) for r in plan.rows):
                requests.append(_datetime_format(sheet.sheet_id, start + offset))
        if sheet.filter_columns is not None and sheet.filter_columns >= start:
            requests.append(
                {"setBasicFilter": {"filter": {"range": _grid(sheet.sheet_id, 0, None, 0, end)}}}
            )
        sheet.header = sheet.header + list(plan.new)
        sheet.columns += len(plan.new)
        for offset, name in enumerate(plan.new):
            plan.columns[name] = start + offset
        return requests

    def _repair(
        self,
        sheet: _Sheet,
        plan: _Plan,
        records: list[dict[str, Any]],
        current: list[str | None] | None = None,
    ) -> None:
        """Put every value of ``records`` (rows of ours already in the sheet) under its own
        header, and make ``sheet``/``plan`` follow the header as it is now.

        ``sheet.header`` is the header the rows were written against; ``current`` the header
        seen since (read when not given). While it does not start with the header we wrote
        against, our rows (only those) are rewritten by run_id under the current header. The
        first column of a name is the one every writer uses: a writer that added the same name
        at the same moment moves its values there (its copy stays, emptied)."""
        names = list(dict.fromkeys(n for r in records for n, v in r.items() if v is not None))
        written = list(sheet.header)
        for _ in range(_REPAIR_ROUNDS):
            if current is None:
                current = self._header(sheet)
            if current[: len(written)] == written:
                sheet.header = current
                plan.columns.update(match_header(current, list(plan.columns)))
                return
            missing = [n for n in names if n not in match_header(current, names)]
            if missing:  # a user deleted or renamed one of our new columns meanwhile
                sheet.header = current
                requests = self._grow_requests(sheet, _Plan(new=missing, rows=records))
                self.http.batch_update(self.address.key, {"requests": requests})
                current = sheet.header
            self._rewrite_rows(sheet, records, current)
            written, current = current, None
        raise TargetError(
            f"the header of {self.key} kept changing while runs were written; written runs are"
            " kept and will be checked again"
        )

    def _check_rows(
        self, sheet: _Sheet, records: list[dict[str, Any]], row_numbers: dict[str, int]
    ) -> None:
        """Rows of ours that an earlier attempt wrote (its answer lost, or its ``_repair`` cut
        short): rewrite, by run_id, those whose values are not under their own headers."""
        if not records:
            return
        numbers = [row_numbers[r["run_id"]] for r in records]
        reply = self.http.values_get(
            self.address.key,
            f"{sheet.a1}!{min(numbers)}:{max(numbers)}",
            params={
                "valueRenderOption": "UNFORMATTED_VALUE",
                "dateTimeRenderOption": "SERIAL_NUMBER",
            },
        )
        block = reply.get("values", [])
        columns = match_header(sheet.header, [n for r in records for n in r])
        wrong = [
            record
            for record, number in zip(records, numbers, strict=True)
            if not _in_place(record, columns, _row_at(block, number - min(numbers)))
        ]
        if wrong:
            self._rewrite_rows(sheet, wrong, sheet.header)
            self._repair(sheet, _Plan(), wrong)

    def _rewrite_rows(
        self, sheet: _Sheet, records: list[dict[str, Any]], header: list[str | None]
    ) -> None:
        run_ids = self._column_values(sheet, match_header(header, ["run_id"])["run_id"])
        mapping = match_header(header, [n for r in records for n in r])
        by_position = {position: name for name, position in mapping.items()}
        data = []
        for record in records:
            row_number = run_ids.get(record["run_id"])
            if row_number is None:
                continue
            values = []
            for position in range(len(header)):
                name = by_position.get(position)
                value, _ = to_json(record.get(name)) if name else (None, False)
                values.append("" if value is None else value)
            data.append({"range": f"{sheet.a1}!A{row_number}", "values": [values]})
        if data:
            self.http.values_batch_update(
                self.address.key, {"valueInputOption": "RAW", "data": data}
            )

    # -- reading -------------------------------------------------------------------------------

    def _sheet(self, records: Sequence[dict[str, Any]] = (), looked_up: bool = False) -> _Sheet:
        """The worksheet's properties, header and first row in one request; the worksheet is
        added if missing, with the header ``records`` need."""
        title = self._title()
        if title is None:
            return self._add_worksheet(self.address.worksheet or DEFAULT_WORKSHEET, records)
        try:
            reply = self.http.spreadsheets_get(
                self.address.key,
                params={
                    "ranges": f"'{title.replace(chr(39), chr(39) * 2)}'!1:2",
                    "includeGridData": "true",
                    "fields": SHEET_FIELDS,
                },
            )
        except APIError as error:
            if error.response.status_code != 400:
                raise
            if self.address.worksheet is not None:
                return self._add_worksheet(self.address.worksheet, records)
            self._titles.forget(self.address.key, self.address.gid)  # renamed or deleted
            if looked_up:
                raise
            return self._sheet(records, looked_up=True)
        return _parse_sheet(reply["sheets"][0])

    def _title(self) -> str | None:
        """The worksheet's title; None when it must be added."""
        if self.address.worksheet is not None:
            return self.address.worksheet
        title = self._titles.get(self.address.key, self.address.gid)
        if title is None:
            reply = self.http.fetch_sheet_metadata(
                self.address.key, params={"fields": "sheets(properties(sheetId,title,sheetType))"}
            )
            sheets = [s["properties"] for s in reply.get("sheets", [])]
            title = _choose(sheets, self.address.gid)
            if title is None:
                if self.address.gid is not None:
                    raise TargetError(
                        f"{self.key}: the spreadsheet has no worksheet with gid"
                        f" {self.address.gid}; copy the URL of the worksheet again"
                    )
                return None
            self._titles.remember(self.address.key, self.address.gid, title)
        return title

    def _add_worksheet(self, title: str, records: Sequence[dict[str, Any]]) -> _Sheet:
        """Add the worksheet with its header in one request: writers that add it at the same
        moment then find the header there, instead of each inserting the same columns."""
        names = order_columns(n for r in records for n, v in r.items() if v is not None)
        try:
            return self._request_worksheet(title, names if names else ["run_id"])
        except APIError as error:
            if error.response.status_code != 400 or "already exists" not in _message(error):
                raise
        return self._sheet(records)  # another writer added it at the same moment

    def _request_worksheet(self, title: str, header: list[str]) -> _Sheet:
        if len(header) > MAX_COLUMNS:  # the runs that need so many are refused by _plan
            header = ["run_id"]
        sheet_id = random.randrange(1, 2**31 - 1)
        columns = max(26, len(header))
        header_cells = [{"userEnteredValue": {"stringValue": name}} for name in header]
        self.http.batch_update(
            self.address.key,
            {
                "requests": [
                    {
                        "addSheet": {
                            "properties": {
                                "sheetId": sheet_id,
                                "title": title,
                                "gridProperties": {
                                    "rowCount": 1000,
                                    "columnCount": columns,
                                    "frozenRowCount": 1,
                                },
                            }
                        }
                    },
                    {
                        "repeatCell": {
                            "range": _grid(sheet_id, 0, 1, None, None),
                            "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                            "fields": "userEnteredFormat.textFormat.bold",
                        }
                    },
                    {
                        "updateCells": {
                            "range": _grid(sheet_id, 0, 1, 0, len(header)),
                            "rows": [{"values": header_cells}],
                            "fields": "userEnteredValue",
                        }
                    },
                    {
                        "setBasicFilter": {
                            "filter": {"range": _grid(sheet_id, 0, None, 0, len(header))}
                        }
                    },
                ]
            },
        )
        self._titles.remember(self.address.key, self.address.gid, title)
        return _Sheet(
            sheet_id, title, columns, list(header), filter_columns=len(header), has_rows=False
        )

    def _header(self, sheet: _Sheet) -> list[str | None]:
        reply = self.http.values_get(self.address.key, f"{sheet.a1}!1:1")
        row = (reply.get("values") or [[]])[0]
        return _trimmed([header_name(v) for v in row])

    def _column_values(self, sheet: _Sheet, column: int) -> dict[str, int]:
        """Text of one column -> its row number (1-based), header row excluded."""
        letter = column_letter(column + 1)
        reply = self.http.values_get(self.address.key, f"{sheet.a1}!{letter}2:{letter}")
        return {str(row[0]): number for number, row in enumerate(reply.get("values", []), 2) if row}

    def read(self) -> Table:
        def attempt(_after_failure: bool) -> Table:
            title = self._title()
            if title is None:
                return Table([], [])
            quoted = "'" + title.replace("'", "''") + "'"
            try:
                reply = self.http.values_get(
                    self.address.key,
                    quoted,
                    params={
                        "valueRenderOption": "UNFORMATTED_VALUE",
                        "dateTimeRenderOption": "FORMATTED_STRING",
                    },
                )
            except APIError as error:
                if error.response.status_code == 400 and self.address.worksheet is not None:
                    return Table([], [])  # the worksheet does not exist (yet)
                raise
            rows = reply.get("values", [])
            if not rows:
                return Table([], [])
            header = [header_name(v) for v in rows[0]]
            times = {i for i, name in enumerate(header) if name in TIME_COLUMNS}
            return Table(
                header,
                [
                    [
                        from_serial(_read_value(v)) if i in times else _read_value(v)
                        for i, v in enumerate(row)
                    ]
                    for row in rows[1:]
                    if row
                ],
            )

        return self._call(attempt)

    # -- errors --------------------------------------------------------------------------------

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, APIError):
            return f"HTTP {error.response.status_code}: {_message(error)}"
        if isinstance(error, requests.ReadTimeout):
            return f"ReadTimeout: no answer within {read_timeout_s():g} s"
        cause = root_cause(error)  # the reason, without the request's whole URL
        return f"{type(cause).__name__}: {cause}"

    def _explain(self, error: APIError) -> str:
        status, message = error.response.status_code, _message(error)
        key = self.address.key
        if status == 403 and "scope" in message.lower():
            return (
                f"the Google credentials lack the spreadsheets scope ({message}); create them"
                " with https://www.googleapis.com/auth/spreadsheets"
            )
        if status == 403:
            return (
                f"{self._identity} may not edit spreadsheet {key}: open the sheet, press Share"
                f" and add {self._identity} as an Editor"
            )
        if status == 404:
            return (
                f"spreadsheet {key} was not found: check the key (the part of the sheet's URL"
                " between /d/ and /edit)"
            )
        if status == 400 and "limit of 10000000 cells" in message:
            return (
                f"spreadsheet {key} is full: Google allows {MAX_CELLS:,} cells in all of its"
                " worksheets; log to a new spreadsheet (or delete unused rows/columns)"
            )
        if status == 401:
            return f"Google rejected the credentials ({message}); renew or replace the key file"
        return f"Google Sheets refused the request for {self.key}: HTTP {status}: {message}"


def _message(error: APIError) -> str:
    try:
        return error.response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        text = error.response.text
    page_title = re.search(r"<title>(.*?)</title>", text, re.DOTALL)  # Google's front-end pages
    return " ".join((page_title.group(1).rstrip("!1") if page_title else text[:300]).split())


def _choose(sheets: list[dict[str, Any]], gid: int | None) -> str | None:
    if gid is not None:
        return next((s["title"] for s in sheets if s.get("sheetId") == gid), None)
    grids = [s for s in sheets if s.get("sheetType", "GRID") == "GRID"]
    named = [s for s in grids if s["title"].casefold() == DEFAULT_WORKSHEET.casefold()]
    if named:
        return named[0]["title"]
    return grids[0]["title"] if len(grids) == 1 else None


def _check_cells(sheet: _Sheet, plan: _Plan) -> None:
    """Refuse, before sending, an append that would take the worksheet past Google's cell limit
    (the limit counts every worksheet of the spreadsheet; Google's own answer covers the rest)."""
    columns = max(sheet.columns, len(sheet.header) + len(plan.new))
    cells = (sheet.rows + len(plan.rows)) * columns
    if cells > MAX_CELLS:
        raise TargetError(
            f"worksheet {sheet.title!r} would hold {cells:,} cells, more than a Google spreadsheet"
            f" may ({MAX_CELLS:,}); log to a new spreadsheet (or delete unused rows/columns)"
        )


def _parse_sheet(data: dict[str, Any]) -> _Sheet:
    properties = data["properties"]
    grid_data = (data.get("data") or [{}])[0].get("rowData") or [{}]
    cells = grid_data[0].get("values", [])
    header = _trimmed([(c.get("formattedValue") or "").strip() or None for c in cells])
    second = grid_data[1].get("values", []) if len(grid_data) > 1 else []
    basic = data.get("basicFilter", {}).get("range")
    filter_columns = None
    if basic is not None and basic.get("startRowIndex", 0) == 0:
        filter_columns = basic.get("endColumnIndex")
    return _Sheet(
        properties["sheetId"],
        properties["title"],
        properties.get("gridProperties", {}).get("columnCount", 26),
        header,
        filter_columns,
        properties.get("gridProperties", {}).get("rowCount", 1000),
        has_rows=any(c.get("formattedValue") not in (None, "") for c in second),
    )


def _sheet_in(spreadsheet: dict[str, Any], sheet_id: int) -> dict[str, Any]:
    for data in spreadsheet.get("sheets", []):
        if data.get("properties", {}).get("sheetId") == sheet_id:
            return data
    raise TargetError("the worksheet was deleted while runs were written to it")


def _trimmed(header: list[str | None]) -> list[str | None]:
    while header and header[-1] is None:
        header.pop()
    return header


def _plan(header: list[str | None], records: Sequence[dict[str, Any]]) -> _Plan:
    plan = _Plan()
    names = order_columns(n for r in records for n, v in r.items() if v is not None)
    plan.columns = match_header(header, names)
    width = len(header)
    for record in records:
        new = [
            n
            for n, v in record.items()
            if v is not None and n not in plan.columns and n not in plan.new
        ]
        if width + len(plan.new) + len(new) > MAX_COLUMNS:
            plan.result.rejected[record["run_id"]] = (
                f"it needs more columns than a Google Sheet holds ({MAX_COLUMNS:,}); log fewer"
                " keys per run, or use another worksheet"
            )
            continue
        plan.new.extend(new)
        plan.rows.append(record)
    if plan.rows:  # the first write to a hand-kept sheet marks the user's cells as theirs
        reserved = reserved_columns(header)
        plan.new += [n for n in reserved if n not in plan.columns and n not in plan.new]
    plan.new = order_columns(plan.new)
    for offset, name in enumerate(plan.new):
        plan.columns[name] = width + offset
    plan.result.written = [r["run_id"] for r in plan.rows]
    return plan


def _drop_present(plan: _Plan, present: dict[str, int]) -> None:
    kept = [r for r in plan.rows if r["run_id"] not in present]
    plan.result.already_present = [r["run_id"] for r in plan.rows if r["run_id"] in present]
    plan.result.written = [r["run_id"] for r in kept]
    plan.rows = kept
    used = {n for r in kept for n, v in r.items() if v is not None}
    plan.new = [n for n in plan.new if n in used]


def _row_at(block: list[list[Any]], index: int) -> list[Any]:
    return block[index] if index < len(block) else []


def _in_place(record: dict[str, Any], columns: dict[str, int], row: list[Any]) -> bool:
    """Whether ``row`` holds each value of ``record`` under its own header."""
    for name, value in record.items():
        if value is None:
            continue
        if name not in columns:
            return False
        position = columns[name]
        cell = row[position] if position < len(row) else ""
        if cell != to_json(value)[0]:
            return False
    return True


def _row_cells(plan: _Plan, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The CellData of one row: typed values (a string is a stringValue, never a formula)."""
    columns = plan.columns
    row: list[dict[str, Any]] = [{}] * (
        max((columns[n] for n in record if n in columns), default=0) + 1
    )
    for name, value in record.items():
        if value is None or name not in columns:
            continue
        encoded, clipped = to_json(value)
        notice = (
            f"text in {name!r} was cut to fit a Google Sheets cell;"
            " the full value stays in the sheetlog journal"
        )
        if clipped and notice not in plan.result.notices:
            plan.result.notices.append(notice)
        row[columns[name]] = {"userEnteredValue": _extended_value(encoded)}
    return row


def _extended_value(encoded: Any) -> dict[str, Any]:
    if isinstance(encoded, bool):
        return {"boolValue": encoded}
    if isinstance(encoded, (int, float)):
        return {"numberValue": encoded}
    return {"stringValue": str(encoded)}


def _row_values(plan: _Plan, record: dict[str, Any]) -> list[Any]:
    """A row for values.append (RAW: strings stay text)."""
    return [
        cell["userEnteredValue"].popitem()[1] if cell else None for cell in _row_cells(plan, record)
    ]


def _first_row(append_reply: dict[str, Any]) -> int | None:
    """The sheet row number where a values.append put its first row."""
    updated = append_reply.get("updates", {}).get("updatedRange", "")
    found = re.match(r"\$?[A-Z]+\$?(\d+)", updated.rpartition("!")[2])
    return int(found.group(1)) if found else None


def _chunks(rows: list[Any]) -> Iterator[list[Any]]:
    """Rows (or other items) in groups whose request stays under ``APPEND_CHUNK_BYTES``."""
    chunk: list[Any] = []
    size = 0
    for row in rows:
        row_size = len(json.dumps(row, default=str))
        if chunk and size + row_size > APPEND_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row_size
    if chunk:
        yield chunk


def _read_value(value: Any) -> Any:
    if value == "":
        return None
    if isinstance(value, str):
        moment = parse_formatted_datetime(value)
        if moment is not None:
            return moment
    return value


def _grid(
    sheet_id: int,
    row_start: int | None,
    row_end: int | None,
    column_start: int | None,
    column_end: int | None,
) -> dict[str, int]:
    grid = {
        "sheetId": sheet_id,
        "startRowIndex": row_start,
        "endRowIndex": row_end,
        "startColumnIndex": column_start,
        "endColumnIndex": column_end,
    }
    return {k: v for k, v in grid.items() if v is not None}


def _dimension(sheet_id: int, dimension: str, start: int, end: int) -> dict[str, Any]:
    return {"sheetId": sheet_id, "dimension": dimension, "startIndex": start, "endIndex": end}


def _first_rows_formats(sheet: _Sheet, plan: _Plan) -> list[dict[str, Any]]:
    """Date-time formats for the time columns of a worksheet that has no run yet (columns
    sheetlog adds get theirs when added; later rows take the formats of the rows above)."""
    return [
        _datetime_format(sheet.sheet_id, column)
        for name, column in plan.columns.items()
        if column < len(sheet.header) - len(plan.new)
        and any(isinstance(r.get(name), dt.datetime) for r in plan.rows)
    ]


def _not_bold(sheet_id: int, row_start: int, row_end: int) -> dict[str, Any]:
    return {
        "repeatCell": {
            "range": _grid(sheet_id, row_start, row_end, None, None),
            "cell": {"userEnteredFormat": {"textFormat": {"bold": False}}},
            "fields": "userEnteredFormat.textFormat.bold",
        }
    }


def _plain_format(sheet_id: int, start: int, end: int) -> dict[str, Any]:
    """No number format below the header of columns ``start`` to ``end`` (other formats stay)."""
    return {
        "repeatCell": {
            "range": _grid(sheet_id, 1, None, start, end),
            "cell": {"userEnteredFormat": {}},
            "fields": "userEnteredFormat.numberFormat",
        }
    }


def _datetime_format(sheet_id: int, column: int) -> dict[str, Any]:
    return {
        "repeatCell": {
            "range": _grid(sheet_id, 1, None, column, column + 1),
            "cell": {
                "userEnteredFormat": {
                    "numberFormat": {"type": "DATE_TIME", "pattern": DATETIME_PATTERN}
                }
            },
            "fields": "userEnteredFormat.numberFormat",
        }
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return str(os.getuid()) if hasattr(os, "getuid") else "user"
