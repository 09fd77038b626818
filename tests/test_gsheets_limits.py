"""Google's 10-million-cell limit is checked before anything is sent (fake Sheets API)."""

from __future__ import annotations

import warnings

import pytest

import sheetlog


def test_append_past_the_cell_limit_keeps_the_run_pending(fake_sheets, tmp_path):
    key = fake_sheets.create_spreadsheet(title="full", sheets=[("Runs", 500_000, 20)])
    target = f"gsheet://{key}/Runs"
    journal = tmp_path / ".sheetlog"
    fake_sheets.clear_log()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = sheetlog.log_run({"lr": 0.1}, target=target, capture=False, journal_dir=journal)

    messages = [str(w.message) for w in caught if w.category is sheetlog.SheetlogWarning]
    assert any("10,000,000" in m and "new spreadsheet" in m for m in messages), messages
    assert [e.kind for e in fake_sheets.request_log] == ["read"]  # refused before any write
    with pytest.warns(sheetlog.SheetlogWarning, match="10,000,000"):
        report = sheetlog.flush(target, journal_dir=journal)
    assert report.pending == {target: 1}
    assert not any(r and r[0] == row["run_id"] for r in fake_sheets.values(key, "Runs"))


def test_google_refusing_for_the_whole_spreadsheet_says_it_is_full(fake_sheets, tmp_path):
    sheets = [("Data", 499_869, 20), ("Runs", 100, 26)]  # 9,999,980 cells, most in Data
    key = fake_sheets.create_spreadsheet(title="nearly full", sheets=sheets)
    target = f"gsheet://{key}/Runs"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sheetlog.log_run({"lr": 0.1}, target=target, capture=False, journal_dir=tmp_path / "j")

    messages = [str(w.message) for w in caught if w.category is sheetlog.SheetlogWarning]
    assert any("is full" in m and "10,000,000 cells" in m for m in messages), messages
    with pytest.warns(sheetlog.SheetlogWarning, match="is full"):
        assert sheetlog.flush(target, journal_dir=tmp_path / "j").pending == {target: 1}
