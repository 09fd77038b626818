"""Messages that say what went wrong (issue 10, item 16, on the command line): a target that does
not exist is an error on every command that reads runs, not an empty table; contradictory or
malformed options are usage errors (exit 2); a long conflicting value is shortened in a listing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import fake_records, invoke, write_records


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    monkeypatch.setenv("SHEETLOG_DIR", str(tmp_path / "journal"))
    return tmp_path


@pytest.fixture
def book(workdir: Path) -> list[dict]:
    """runs.xlsx with one sheet, Runs, of 5 runs."""
    records = fake_records(5, seed=11)
    write_records("runs.xlsx", records)
    return records


def reading_commands(target: str) -> list[list[str]]:
    return [
        ["ls", "-t", target],
        ["ls", "-t", target, "--format", "json"],
        ["show", "abcd", "-t", target],
        ["best", "-t", target, "-m", "accuracy"],
        ["diff", "abcd", "ef01", "-t", target],
        ["export", "-t", target, "-o", "out.csv"],
    ]


@pytest.mark.parametrize("target", ["missing.xlsx", "missing.csv", "sub/dir/runs.xlsx"])
def test_a_missing_file_is_an_error_on_every_reading_command(workdir: Path, target: str) -> None:
    for args in reading_commands(target):
        result = invoke(*args)
        assert (result.exit_code, result.stdout) == (1, ""), (args, result.output)
        assert f"{target} does not exist" in result.stderr, args
    assert not Path(target).exists() and not Path("out.csv").exists()


def test_a_missing_sheet_is_an_error_that_lists_the_sheets(book: list[dict]) -> None:
    for args in reading_commands("runs.xlsx#Nope"):
        result = invoke(*args)
        assert (result.exit_code, result.stdout) == (1, ""), (args, result.output)
        assert "runs.xlsx has no sheet 'Nope' (its sheets: Runs" in result.stderr, args
    result = invoke("sync", "runs.xlsx#Nope", "copy.csv")
    assert result.exit_code == 1 and "has no sheet 'Nope'" in result.stderr
    assert not Path("copy.csv").exists()
    # The sheet named in any case is found, as writing finds it.
    assert invoke("ls", "-t", "runs.xlsx#runs").exit_code == 0


def test_a_sheet_that_exists_without_runs_is_no_error(workdir: Path) -> None:
    assert invoke("init", "-t", "empty.xlsx").exit_code == 0
    result = invoke("ls", "-t", "empty.xlsx")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "no runs in empty.xlsx" in result.stderr
    assert json.loads(invoke("ls", "-t", "empty.xlsx", "--format", "json").stdout) == []


def test_a_missing_google_worksheet_is_an_error(fake_sheets, workdir: Path) -> None:
    key = fake_sheets.create_spreadsheet("team runs")
    write_records(f"gsheet://{key}/Runs", fake_records(3))
    result = invoke("ls", "-t", f"gsheet://{key}/Nope")
    assert result.exit_code == 1
    assert "the spreadsheet 'team runs' has no worksheet 'Nope'" in result.stderr
    assert (
        len(json.loads(invoke("ls", "-t", f"gsheet://{key}/Runs", "--format", "json").stdout)) == 3
    )


@pytest.mark.parametrize("flags", [["--min", "--max"], ["--max", "--min"]])
def test_best_with_min_and_max_is_a_usage_error(book: list[dict], flags: list[str]) -> None:
    result = invoke("best", "-m", "accuracy", *flags)
    assert result.exit_code == 2
    assert "--min and --max exclude each other" in result.stderr
    assert invoke("best", "-m", "accuracy", flags[0]).exit_code == 0


def test_an_invalid_where_regex_is_a_usage_error_with_the_cause(book: list[dict]) -> None:
    result = invoke("ls", "--where", "name~(", "--format", "json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert "'(' is not a regular expression (missing ), unterminated subpattern" in result.stderr
    # Python's syntax throughout, lookbehind included (RE2, pyarrow's engine, refuses it).
    found = json.loads(invoke("ls", "--where", "name~(?<=sweep-)[24]$", "--format", "json").stdout)
    assert [row["name"] for row in found] == ["sweep-2", "sweep-4"]


def test_a_long_conflicting_text_is_shortened_in_the_sync_listing(workdir: Path) -> None:
    record = fake_records(1, seed=5)[0]
    write_records("a.xlsx", [{**record, "notes": "a" * 32_000}])
    write_records("b.xlsx", [{**record, "notes": "b" * 32_000}])
    result = invoke("sync", "a.xlsx", "b.xlsx")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if "notes:" in line]
    assert len(line) < 250
    assert "32,000 characters" in line and "aaa" in line and "bbb" in line
    whole = json.loads(invoke("sync", "a.xlsx", "b.xlsx", "--format", "json").stdout)
    assert whole["conflicts"][0]["src"] == "a" * 32_000
