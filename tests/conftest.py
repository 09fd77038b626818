"""Shared fixtures. Append small, clearly named fixtures; other test files rely on these."""

from __future__ import annotations

import os

import pytest

# Google Sheets: the local fake, and the same tests against a live spreadsheet.
from gsheet_services import fake_service, live_service, live_status, service_params
from hypothesis import settings

# Property tests explore new random examples on every local run; under CI (CI set) they run a
# fixed sequence, so that a submission's result does not depend on the draw. What a local run
# finds becomes a regression test.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_report_header() -> str:
    return "live Google Sheets tests: " + live_status()[1]


@pytest.fixture
def fake_sheets(monkeypatch):
    """A fresh fake Sheets API (no quotas) that sheetlog talks to through
    SHEETLOG_GSHEETS_ENDPOINT, with retries shortened; child processes inherit the settings."""
    from sheetlog.testing import FakeSheetsServer

    with FakeSheetsServer(quota_reads=None, quota_writes=None) as fake:
        monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", fake.base_url)
        monkeypatch.setenv("SHEETLOG_GSHEETS_BACKOFF_S", "0.01")
        monkeypatch.setenv("SHEETLOG_GSHEETS_MAX_WAIT_S", "0.5")
        yield fake


@pytest.fixture(params=service_params())
def sheet_service(request):
    """A spreadsheet to test the Google Sheets backend in: a fresh one in the fake, and, only
    when SHEETLOG_LIVE_GSHEET_KEY and credentials are set, the live one (see gsheet_services)."""
    if request.param == "fake":
        service = fake_service(request.getfixturevalue("fake_sheets"))
    else:
        service = live_service()
    yield service
    service.cleanup()
