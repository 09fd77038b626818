"""Where the Google Sheets backend tests run: the local fake, or a real spreadsheet ("live").

Live mode is on when ``SHEETLOG_LIVE_GSHEET_KEY`` names a spreadsheet and credentials are set
(``SHEETLOG_CREDENTIALS``, ``GOOGLE_APPLICATION_CREDENTIALS``, gspread's default files or
``gcloud auth application-default login``), or when ``SHEETLOG_GSHEETS_ENDPOINT`` points at a
Sheets API server of your own. Each live test works in fresh worksheets of that spreadsheet
(titles starting ``sheetlog-test``), deleted afterwards. Without live mode the live tests are not
collected at all, so they never count as passed.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import gspread
from gspread.auth import DEFAULT_AUTHORIZED_USER_FILENAME, DEFAULT_SERVICE_ACCOUNT_FILENAME

from sheetlog.backends.gsheets.auth import ENDPOINT_VARIABLE, find_credentials
from sheetlog.testing import FakeSheetsServer, fake_client

LIVE_KEY_VARIABLE = "SHEETLOG_LIVE_GSHEET_KEY"
LIVE_PACE_VARIABLE = "SHEETLOG_LIVE_PACE_S"
TITLE_PREFIX = "sheetlog-test"
_live_started = [0.0]  # monotonic time the last live test started


def _credentials_configured() -> bool:
    """Whether credentials are set up, checked without asking Google or a metadata server."""
    if os.environ.get("SHEETLOG_CREDENTIALS") or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    gcloud = Path(os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud")
    files = (
        DEFAULT_SERVICE_ACCOUNT_FILENAME,
        DEFAULT_AUTHORIZED_USER_FILENAME,
        gcloud / "application_default_credentials.json",
    )
    return any(Path(path).is_file() for path in files)


def live_status() -> tuple[bool, str]:
    """(whether the live contract tests are collected, a line saying why)."""
    key = os.environ.get(LIVE_KEY_VARIABLE)
    if not key:
        return False, f"not collected ({LIVE_KEY_VARIABLE} is not set)"
    endpoint = os.environ.get(ENDPOINT_VARIABLE)
    if endpoint:
        return True, f"spreadsheet {key} at {endpoint}"
    if _credentials_configured():
        return True, f"spreadsheet {key} on Google Sheets"
    return False, f"not collected ({LIVE_KEY_VARIABLE} is set but no Google credentials are)"


def service_params() -> list[str]:
    return ["fake", "live"] if live_status()[0] else ["fake"]


def quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


@dataclass
class SheetService:
    """One spreadsheet the test may add worksheets to, and a gspread client to look at it as a
    user would (or to edit it as a user would)."""

    mode: str  # "fake" or "live"
    key: str
    client: gspread.Client
    fake: FakeSheetsServer | None = None
    titles: list[str] = field(default_factory=list)

    def title(self, label: str = "Runs") -> str:
        """A worksheet title unique to this test; it is deleted after the test (live)."""
        title = f"{TITLE_PREFIX} {label} {uuid.uuid4().hex[:8]}"
        self.titles.append(title)
        return title

    def target(self, title: str) -> str:
        return f"gsheet://{self.key}/{title}"

    def url(self, gid: int | None = None) -> str:
        url = f"https://docs.google.com/spreadsheets/d/{self.key}/edit"
        return url if gid is None else f"{url}#gid={gid}"

    @cached_property
    def spreadsheet(self) -> gspread.Spreadsheet:
        return self.client.open_by_key(self.key)

    def add_worksheet(self, label: str) -> gspread.Worksheet:
        return self.spreadsheet.add_worksheet(self.title(label), rows=100, cols=26)

    def worksheet(self, title: str) -> gspread.Worksheet:
        return self.spreadsheet.worksheet(title)

    def values(self, title: str, render: str = "UNFORMATTED_VALUE") -> list[list[Any]]:
        """The worksheet's cells as the Sheets API returns them (serial numbers for times)."""
        reply = self.spreadsheet.values_get(
            quoted(title),
            params={"valueRenderOption": render, "dateTimeRenderOption": "SERIAL_NUMBER"},
        )
        return reply.get("values", [])

    def records(self, title: str, render: str = "UNFORMATTED_VALUE") -> list[dict[str, Any]]:
        """Each data row as {header name: value}, empty cells left out."""
        header, *rows = self.values(title, render)
        pairs = (zip(header, row, strict=False) for row in rows)  # rows are trimmed
        return [{name: value for name, value in pair if name and value != ""} for pair in pairs]

    def grid(self, title: str, a1: str) -> dict[str, Any]:
        """The worksheet's properties, basic filter and the cells (values and formats) of ``a1``."""
        reply = self.client.http_client.fetch_sheet_metadata(
            self.key,
            params={
                "includeGridData": "true",
                "ranges": f"{quoted(title)}!{a1}",
                "fields": "sheets(properties,basicFilter,"
                "data(rowData(values(formattedValue,userEnteredFormat))))",
            },
        )
        return reply["sheets"][0]

    def cleanup(self) -> None:
        if self.mode != "live":
            return
        for worksheet in self.client.open_by_key(self.key).worksheets():
            if worksheet.title in self.titles:
                self.spreadsheet.del_worksheet(worksheet)


def fake_service(fake: FakeSheetsServer) -> SheetService:
    key = fake.create_spreadsheet("sheetlog backend tests")
    return SheetService("fake", key, fake_client(fake.base_url), fake)


def pace_live_tests() -> None:
    """Start live tests at most every SHEETLOG_LIVE_PACE_S seconds (10 by default): Google
    allows 60 reads and 60 writes per minute per user, and a test makes up to about 15 of each.
    sheetlog's own bounded retries would otherwise give up, and leave runs pending, within a
    burst over quota."""
    wait = _live_started[0] + float(os.environ.get(LIVE_PACE_VARIABLE, "10")) - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    _live_started[0] = time.monotonic()


def live_service() -> SheetService:
    """The live spreadsheet, seen through a client that waits out Google's per-minute quota."""
    pace_live_tests()
    endpoint = os.environ.get(ENDPOINT_VARIABLE)
    if endpoint:
        client = fake_client(endpoint, http_client=gspread.BackOffHTTPClient)
    else:
        client = gspread.Client(find_credentials(), http_client=gspread.BackOffHTTPClient)
        client.set_timeout(60)
    return SheetService("live", os.environ[LIVE_KEY_VARIABLE], client)
