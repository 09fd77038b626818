"""`sheetlog sync`: between workbooks, CSV files and the fake Google Sheet, matched by run_id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from cli_support import fake_records, write_records
from click.testing import CliRunner

import sheetlog
from sheetlog.backends.csv_file import CsvBackend
from sheetlog.cli import main
from sheetlog.targets import open_target


def sync(*args: str):
    result = CliRunner().invoke(main, ["sync", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def writes(fake) -> list[str]:
    return [entry.path for entry in fake.request_log if entry.kind == "write"]


def by_run(target: str):
    return sheetlog.load(target).set_index("run_id")


@pytest.mark.slow  # 10,000 runs
def test_10000_runs_reach_the_google_sheet_in_at_most_10_writes_and_a_second_sync_writes_none(
    fake_sheets, tmp_path
):
    workbook = str(tmp_path / "runs.xlsx")
    records = fake_records(10_000)
    write_records(workbook, records)
    key = fake_sheets.create_spreadsheet("team")
    sheet = f"gsheet://{key}/Runs"

    first = sync(workbook, sheet)
    assert first.exit_code == 0, first.output
    assert "append 10000 run(s)" in first.output
    assert 1 <= len(writes(fake_sheets)) <= 10

    fake_sheets.clear_log()
    second = sync(workbook, sheet)
    assert second.exit_code == 0 and "up to date" in second.output
    assert writes(fake_sheets) == []

    local, team = by_run(workbook), by_run(sheet)
    assert len(team) == 10_000 and team.index.is_unique
    assert sorted(team.index) == sorted(local.index)
    for column in ("params.lr", "metrics.accuracy", "status", "git.commit"):
        assert team[column].equals(local.loc[team.index, column]), column
    assert (team["start_time"] == local.loc[team.index, "start_time"]).all()


def _edit(target: str, changes: dict[str, dict]) -> None:
    backend = open_target(target)
    with backend.lock():
        backend.update(changes)


def test_two_way_sync_of_sheets_edited_on_both_sides_converges_and_lists_conflicts(
    fake_sheets, tmp_path
):
    shared = fake_records(40)
    workbook = str(tmp_path / "mine.xlsx")
    key = fake_sheets.create_spreadsheet("team")
    sheet = f"gsheet://{key}/Runs"
    write_records(workbook, shared[:30] + fake_records(5, seed=1))  # 5 runs only here
    write_records(sheet, shared[10:] + fake_records(7, seed=2))  # 7 runs only there
    a, b, c = (r["run_id"] for r in shared[10:13])
    _edit(workbook, {a: {"verdict": "keep"}, b: {"metrics.accuracy": 0.1}})  # a user column
    _edit(sheet, {c: {"notes": "rerun with seed 3"}, b: {"metrics.accuracy": 0.2}})

    result = sync(workbook, sheet, "--two-way")

    assert result.exit_code == 0, result.output
    assert "1 conflict(s), left as they are" in result.output
    assert f"{b}  metrics.accuracy: src=0.1  dst=0.2" in result.output
    mine, team = by_run(workbook), by_run(sheet)
    assert set(mine.index) == set(team.index) and len(mine) == 40 + 5 + 7
    assert mine.loc[c, "notes"] == team.loc[c, "notes"] == "rerun with seed 3"
    assert mine.loc[a, "verdict"] == team.loc[a, "verdict"] == "keep"
    assert (mine.loc[b, "metrics.accuracy"], team.loc[b, "metrics.accuracy"]) == (0.1, 0.2)
    for column in ("params.lr", "status", "start_time"):
        assert (mine[column] == team.loc[mine.index, column]).all(), column
    # The workbook still opens in openpyxl, with the user column named in the header.
    header = [cell.value for cell in next(openpyxl.load_workbook(workbook).active.iter_rows())]
    assert "verdict" in header

    fake_sheets.clear_log()
    again = sync(workbook, sheet, "--two-way", "--format", "json")
    report = json.loads(again.output)
    assert writes(fake_sheets) == []
    assert report["to_dst"]["appended"] == report["to_src"]["appended"] == 0
    assert report["to_dst"]["filled_cells"] == report["to_src"]["filled_cells"] == 0
    assert report["conflicts"] == [
        {"run_id": b, "column": "metrics.accuracy", "src": 0.1, "dst": 0.2}
    ]

    settled = sync(workbook, sheet, "--two-way", "--prefer", "src")
    assert settled.exit_code == 0
    assert by_run(sheet).loc[b, "metrics.accuracy"] == 0.1
    assert "conflict" not in sync(workbook, sheet, "--two-way").output


def test_dry_run_prints_the_plan_and_writes_nothing(fake_sheets, tmp_path):
    workbook = tmp_path / "runs.xlsx"
    write_records(str(workbook), fake_records(25))
    key = fake_sheets.create_spreadsheet("team")
    before = workbook.read_bytes()
    fake_sheets.clear_log()

    result = sync(str(workbook), f"gsheet://{key}/Runs", "--two-way", "--dry-run")

    assert result.exit_code == 0
    assert "would append 25 run(s)" in result.output
    assert writes(fake_sheets) == [] and workbook.read_bytes() == before


def test_csv_copies_keep_text_exactly_and_never_hold_a_live_formula(tmp_path):
    workbook = str(tmp_path / "runs.xlsx")
    copy = tmp_path / "runs.csv"
    records = fake_records(5)
    tricky = ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "0001", "TRUE", "'quoted"]
    for record, text in zip(records, tricky, strict=False):
        record["notes"] = text
    write_records(workbook, records)

    assert sync(workbook, str(copy)).exit_code == 0

    cells = [line.split(",") for line in copy.read_text(encoding="utf-8-sig").splitlines()]
    notes = [row[cells[0].index("notes")] for row in cells[1:]]
    assert all(not n.startswith(("=", "+", "-", "@")) for n in notes)
    assert CsvBackend(copy).read().rows[0][cells[0].index("notes")] == tricky[0]
    assert list(sheetlog.load(str(copy))["notes"]) == tricky[:5]
    assert "up to date" in sync(str(copy), workbook).output  # nothing differs on the way back


def test_a_missing_source_is_an_error_not_an_empty_table(tmp_path):
    result = sync(str(tmp_path / "typo.xlsx"), str(tmp_path / "out.csv"))
    assert result.exit_code == 1
    assert "typo.xlsx does not exist" in result.output
    assert not (tmp_path / "out.csv").exists()


def test_sync_as_a_subprocess_with_json_output(tmp_path: Path):
    write_records(str(tmp_path / "a.xlsx"), fake_records(12))
    write_records(str(tmp_path / "b.xlsx"), fake_records(12)[4:] + fake_records(3, seed=5))
    done = subprocess.run(
        [sys.executable, "-m", "sheetlog", "sync", "a.xlsx", "b.xlsx", "--two-way", "--format",
         "json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["to_dst"]["appended"], report["to_src"]["appended"]) == (4, 3)
    assert len(sheetlog.load(str(tmp_path / "a.xlsx"))) == 15


@pytest.mark.parametrize("args", [["only-one.xlsx"], ["a.xlsx", "b.xlsx", "--prefer", "both"]])
def test_usage_errors_exit_2(args):
    assert CliRunner().invoke(main, ["sync", *args]).exit_code == 2


def test_two_syncs_planned_at_once_append_each_run_once(tmp_path):
    """The interleaving two concurrent syncs meet: both plan from the same reads, then write."""
    from sheetlog.sync import apply_sync, plan_sync, read_side

    source, workbook = str(tmp_path / "a.xlsx"), str(tmp_path / "b.xlsx")
    write_records(source, fake_records(300))
    plans = [plan_sync(read_side(source), read_side(workbook)) for _ in range(2)]
    for plan in plans:
        apply_sync(plan)
    team = by_run(workbook)
    assert len(team) == 300 and team.index.is_unique


@pytest.mark.slow
def test_two_sync_processes_at_once_never_duplicate_rows(tmp_path):
    """Two real `sheetlog sync` processes started while the destination is locked (both plan
    before either writes): every run once (it was twice)."""
    source, destination = str(tmp_path / "src.xlsx"), str(tmp_path / "dst.xlsx")
    write_records(source, fake_records(1000))
    write_records(destination, fake_records(5, seed=1))
    command = [sys.executable, "-m", "sheetlog", "sync", source, destination]
    with open_target(destination).lock():
        syncs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        # Both read and plan meanwhile (reading takes no lock); they then queue for it.
        for process in syncs:
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=4)
    for process in syncs:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    team = by_run(destination)
    assert len(team) == 1005 and team.index.is_unique


@pytest.mark.slow
def test_two_sync_processes_into_one_google_sheet_never_duplicate_rows(tmp_path, fake_sheets):
    """The same, into a Google Sheet: it has no lock file of its own, and two syncs of one
    machine appended every run twice (2,000 rows for 1,000 runs)."""
    source = str(tmp_path / "src.xlsx")
    write_records(source, fake_records(300))
    destination = f"gsheet://{fake_sheets.create_spreadsheet('team', ['Runs'])}/Runs"
    command = [sys.executable, "-m", "sheetlog", "sync", source, destination]
    with open_target(destination).lock():
        syncs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        for process in syncs:  # both read and plan, then queue for the lock
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=4)
    for process in syncs:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    team = by_run(destination)
    assert len(team) == 300 and team.index.is_unique
