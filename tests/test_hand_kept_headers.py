"""A user's bare headers and sheetlog's own columns: one quantity, one column, one meaning.

A hand-kept sheet ``lr | error`` (error: an error rate the user logs as a metric) must keep the
error rate under ``error`` on every run, finished or failed, and sheetlog's exception text must
go to a column of its own (``sheetlog.error``), never under the user's ``error``. In a sheet
sheetlog started, its own ``error`` / ``status`` columns stay its own even when the user later
logs a metric or param with that bare name. The same rules hold for every backend: an Excel
workbook, a CSV file and a Google Sheet (the local fake, over HTTP).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from gsheet_services import fake_service

import sheetlog
from sheetlog.schema import match_header


class _Target:
    """Make a hand-kept sheet with a header and rows, and read the sheet back."""

    def __init__(self, kind: str, folder: Path, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        if kind == "xlsx":
            self.target = str(folder / "runs.xlsx")
        elif kind == "csv":
            self.target = str(folder / "runs.csv")
        else:
            self.service = fake_service(request.getfixturevalue("fake_sheets"))
            self.title = self.service.title()
            self.target = self.service.target(self.title)

    def hand_kept(self, rows: list[list[Any]]) -> None:
        if self.kind == "xlsx":
            workbook = openpyxl.Workbook()
            workbook.active.title = "Runs"
            for row in rows:
                workbook.active.append(row)
            workbook.save(self.target)
        elif self.kind == "csv":
            with open(self.target, "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(rows)
        else:
            worksheet = self.service.spreadsheet.add_worksheet(self.title, 20, 10)
            worksheet.update(rows, "A1", raw=True)

    def table(self) -> list[dict[str, Any]]:
        """The rows as load() gives them, an empty cell as None (a CSV file has only text)."""
        frame = sheetlog.load(self.target)
        assert len(set(frame.columns)) == len(frame.columns), list(frame.columns)
        return [
            {
                k: (None if v == "" or (isinstance(v, float) and math.isnan(v)) else v)
                for k, v in row.items()
            }
            for row in frame.to_dict("records")
        ]


@pytest.fixture(params=["xlsx", "csv", "gsheet"])
def target(request, tmp_path: Path) -> _Target:
    return _Target(request.param, tmp_path, request)


def _runs(target: str, journal: Path) -> Callable[..., str]:
    def run(lr: float, error_rate: float | None, fails: bool = False) -> str:
        try:
            with sheetlog.start_run(
                params={"lr": lr}, target=target, capture=False, journal_dir=journal
            ) as current:
                if error_rate is not None:
                    current.log_metric("error", error_rate)
                if fails:
                    raise ValueError(f"boom at lr={lr}")
        except ValueError:
            pass
        return current.run_id

    return run


@pytest.mark.parametrize("first_fails_without_metric", [False, True])
def test_a_hand_kept_error_column_keeps_the_error_rate(
    target: _Target, tmp_path: Path, first_fails_without_metric: bool
) -> None:
    target.hand_kept([["lr", "error"], [0.5, 0.25]])
    run = _runs(target.target, tmp_path / ".sheetlog")
    plan = [(0.1, 0.2, False), (0.2, 0.3, True), (0.3, None, True), (0.4, 0.1, False)]
    if first_fails_without_metric:
        plan.insert(0, (0.05, None, True))
    ids = [run(lr, rate, fails) for lr, rate, fails in plan]

    rows = target.table()
    assert "metrics.error" not in rows[0] and "params.lr" not in rows[0]
    assert [row["lr"] for row in rows] == [0.5] + [lr for lr, _, _ in plan]
    assert [row["error"] for row in rows] == [0.25] + [rate for _, rate, _ in plan]
    assert [row["run_id"] for row in rows[1:]] == ids
    texts = [row["sheetlog.error"] for row in rows[1:]]
    assert texts == [f"ValueError: boom at lr={lr}" if fails else None for lr, _, fails in plan]
    assert [row["status"] for row in rows[1:]] == [
        "FAILED" if fails else "FINISHED" for _, _, fails in plan
    ]


def test_sheetlogs_own_columns_stay_its_own_when_a_user_key_has_their_name(
    target: _Target, tmp_path: Path
) -> None:
    """A sheet sheetlog started: ``metrics.error`` and ``params.status`` logged later get their
    own prefixed columns on every run, whether or not the run failed."""
    run = _runs(target.target, tmp_path / ".sheetlog")
    run(0.1, None, fails=True)  # the sheet gets sheetlog's own error column
    journal = tmp_path / ".sheetlog"
    sheetlog.log_run(
        {"lr": 0.2, "status": "tuned"},
        {"error": 0.3},
        target=target.target,
        capture=False,
        journal_dir=journal,
    )
    run(0.3, 0.4, fails=True)
    run(0.4, 0.5, fails=False)

    rows = target.table()
    assert [row["metrics.error"] for row in rows] == [None, 0.3, 0.4, 0.5]
    assert [row["error"] for row in rows] == [
        "ValueError: boom at lr=0.1",
        None,
        "ValueError: boom at lr=0.3",
        None,
    ]
    assert [row["status"] for row in rows] == ["FAILED", "FINISHED", "FAILED", "FINISHED"]
    assert [row["params.status"] for row in rows] == [None, "tuned", None, None]
    assert not any(column.startswith("sheetlog.") for column in rows[0])


def test_a_hand_kept_notes_column_takes_notes_and_never_a_param() -> None:
    """``notes`` is what the user gives sheetlog: a hand-kept ``Notes`` column takes it (as
    documented), and a param called ``notes`` never splits it."""
    header = ["lr", "Notes"]
    assert match_header(header, ["params.lr", "notes", "params.notes"]) == {
        "params.lr": 0,
        "notes": 1,
    }
    assert match_header(header, ["params.lr", "params.notes"]) == {"params.lr": 0}
    header = ["lr", "Notes", "run_id", "status"]
    assert match_header(header, ["params.notes", "params.status"]) == {}
