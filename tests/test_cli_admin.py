"""``sheetlog init / status / flush / doctor`` on a fresh directory, a 1,000-run workbook and the
fake Google Sheet, through click's CliRunner and through real ``python -m sheetlog`` processes.

Runs are made pending the way users meet it: the workbook is open in Excel (its ``~$`` owner
file lies next to it) while runs are logged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from cli_support import fake_records, write_records
from click.testing import CliRunner, Result

import sheetlog
from sheetlog import SheetlogWarning
from sheetlog.cli import main

EXCEL_LOCK = "~$runs.xlsx"


@pytest.fixture(scope="module")
def big_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "runs.xlsx"
    write_records(str(path), fake_records(1000))
    return path


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory, with no target or journal coming from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    monkeypatch.delenv("SHEETLOG_DIR", raising=False)
    return tmp_path


@pytest.fixture
def copied_workbook(big_workbook: Path, workdir: Path) -> Path:
    path = workdir / "runs.xlsx"
    shutil.copyfile(big_workbook, path)
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A real ``python -m sheetlog`` process (it inherits the fake Sheets endpoint, if any)."""
    return subprocess.run(
        [sys.executable, "-m", "sheetlog", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def log_pending(target: str | Path, journal: Path, count: int) -> list[str]:
    """Log ``count`` runs that the target cannot take now (each warns and stays pending)."""
    run_ids = []
    for i in range(count):
        with pytest.warns(SheetlogWarning, match="kept in the journal"):
            record = sheetlog.log_run(
                {"lr": 0.1 * (i + 1)}, target=target, capture=False, journal_dir=journal
            )
        run_ids.append(record["run_id"])
    return run_ids


def doctor_json(*args: str) -> tuple[int, dict[str, dict[str, str]]]:
    result = invoke("doctor", *args, "--format", "json")
    checks = json.loads(result.stdout)
    assert all(set(c) == {"check", "status", "detail"} for c in checks)
    return result.exit_code, {c["check"]: c for c in checks}


# -- init -----------------------------------------------------------------------------------------


def test_init_creates_a_formatted_workbook_and_never_replaces_it(workdir: Path) -> None:
    result = invoke("init")
    assert result.exit_code == 0, result.output
    path = workdir / "runs.xlsx"
    assert f"created {path}" in result.stderr
    sheet = openpyxl.load_workbook(path)["Runs"]
    assert sheet["A1"].value == "run_id" and sheet["A1"].font.b
    assert sheet.freeze_panes == "A2"

    before = path.read_bytes()
    again = run("init", "runs.xlsx", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "already exists, left as it is" in again.stderr
    assert path.read_bytes() == before


def test_init_adds_a_sheet_to_a_workbook_of_1000_runs(copied_workbook: Path) -> None:
    lock = copied_workbook.with_name(EXCEL_LOCK)
    lock.touch()
    refused = invoke("init", "runs.xlsx#Sweep2")
    assert refused.exit_code == 1 and "close it first" in refused.stderr
    assert invoke("init", "runs.xlsx").exit_code == 0  # complete: it may stay open
    lock.unlink()

    result = run("init", "runs.xlsx#Sweep2", cwd=copied_workbook.parent)
    assert result.returncode == 0, result.stderr
    assert "added the sheet" in result.stderr
    workbook = openpyxl.load_workbook(copied_workbook, read_only=True)
    assert workbook.sheetnames == ["Runs", "Sweep2"]
    workbook.close()
    assert len(sheetlog.load(copied_workbook)) == 1000
    assert invoke("init", "runs.xlsx").stderr.endswith("already exists, left as it is\n")


def test_init_from_a_template_keeps_its_layout(workdir: Path) -> None:
    template = openpyxl.Workbook()
    template.active.title = "Runs"
    template.active.append(["run_id", "verdict"])
    template.create_sheet("Notes")["A1"] = "how we read these runs"
    template.save(workdir / "layout.xlsx")

    result = invoke("init", "team/runs.xlsx", "--template", "layout.xlsx")
    assert result.exit_code == 0, result.output
    target = workdir / "team" / "runs.xlsx"
    assert openpyxl.load_workbook(target).sheetnames == ["Runs", "Notes"]
    sheetlog.log_run({"lr": 0.1}, target=target, capture=False, journal_dir=workdir / "j")
    frame = sheetlog.load(target)
    assert list(frame.columns[:2]) == ["run_id", "verdict"] and len(frame) == 1

    before = target.read_bytes()
    refused = invoke("init", "team/runs.xlsx", "--template", "layout.xlsx")
    assert refused.exit_code == 1 and "already exists" in refused.stderr
    assert target.read_bytes() == before


def test_init_refuses_a_template_that_is_not_xlsx(workdir: Path) -> None:
    (workdir / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    result = invoke("init", "--template", "old.xls")
    assert result.exit_code == 1
    assert "save it as Excel Workbook (.xlsx)" in result.stderr
    assert not (workdir / "runs.xlsx").exists()


def test_init_adds_the_google_worksheet_with_its_header(fake_sheets, workdir: Path) -> None:
    key = fake_sheets.create_spreadsheet("runs")
    result = run("init", f"gsheet://{key}/Runs", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert f"added the worksheet gsheet://{key}/Runs" in result.stderr
    assert fake_sheets.values(key, "Runs") == [["run_id"]]
    header = fake_sheets.cell(key, "Runs!A1")
    assert header["userEnteredFormat"]["textFormat"]["bold"]

    again = invoke("init", f"gsheet://{key}/Runs")
    assert again.exit_code == 0 and "already exists, left as it is" in again.stderr


# -- status and flush -----------------------------------------------------------------------------


def test_status_and_flush_in_a_fresh_directory(workdir: Path) -> None:
    result = invoke("status")
    assert result.exit_code == 0
    assert "all runs delivered" in result.stdout
    assert invoke("flush").exit_code == 0
    assert json.loads(invoke("status", "--format", "json").stdout) == {
        "journal": str(workdir / ".sheetlog" / "journal.db"),
        "runs": 0,
        "pending": [],
        "set_aside": [],
        "in_progress": [],
    }
    assert not (workdir / ".sheetlog").exists()  # looking does not create a journal


def test_runs_pending_while_the_workbook_is_open_then_flushed(copied_workbook: Path) -> None:
    folder = copied_workbook.parent
    journal = folder / ".sheetlog"
    lock = folder / EXCEL_LOCK
    lock.write_bytes(b"\x0aJane Smith" + b"\x20" * 43)
    run_ids = log_pending(copied_workbook, journal, 3)

    status = run("status", cwd=folder)
    assert status.returncode == 1, status.stderr
    assert f"3 runs pending for {copied_workbook}" in status.stdout
    assert EXCEL_LOCK in status.stdout and "close it" in status.stdout
    report = json.loads(invoke("status", "--format", "json").stdout)
    assert report["runs"] == 3
    assert report["pending"][0]["target"] == str(copied_workbook)
    assert report["pending"][0]["count"] == 3
    assert EXCEL_LOCK in report["pending"][0]["last_error"]

    still = run("flush", cwd=folder)
    assert still.returncode == 1
    assert f"{copied_workbook}: 0 delivered, 3 still pending" in still.stderr
    assert EXCEL_LOCK in still.stderr
    assert "warning" not in still.stderr  # the reason is said once, not also as a warning

    lock.unlink()
    flushed = run("flush", cwd=folder)
    assert flushed.returncode == 0, flushed.stderr
    assert f"{copied_workbook}: 3 runs delivered" in flushed.stdout
    frame = sheetlog.load(copied_workbook)
    assert len(frame) == 1003 and list(frame["run_id"][-3:]) == run_ids
    assert "all runs delivered" in invoke("status").stdout
    assert "nothing to flush" in invoke("flush").stdout


def test_flush_one_google_sheet_after_it_is_shared(fake_sheets, workdir: Path) -> None:
    key = fake_sheets.create_spreadsheet("runs")
    target = f"gsheet://{key}/Runs"
    fake_sheets.forbid(key)
    run_ids = log_pending(target, workdir / ".sheetlog", 2)
    status = invoke("status")
    assert status.exit_code == 1
    assert f"2 runs pending for {target}" in status.stdout
    assert "Share" in status.stdout

    fake_sheets.forbid(key, None)
    result = run("flush", "-t", target, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert f"{target}: 2 runs delivered" in result.stdout
    rows = fake_sheets.values(key, "Runs")
    assert [row[0] for row in rows[1:]] == run_ids


# -- doctor ---------------------------------------------------------------------------------------


def test_doctor_in_a_fresh_directory(workdir: Path) -> None:
    result = run("doctor", cwd=workdir)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["ok", "target"]
    assert "the default, runs.xlsx in the working directory" in lines[0]
    assert all(line.startswith("ok ") for line in lines), result.stdout
    assert not (workdir / "runs.xlsx").exists() and not (workdir / ".sheetlog").exists()


def test_doctor_says_where_the_target_comes_from(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "pyproject.toml").write_text('[tool.sheetlog]\ntarget = "exp/runs.xlsx"\n')
    (workdir / "src").mkdir()
    monkeypatch.chdir(workdir / "src")
    _, checks = doctor_json()
    assert checks["target"]["detail"] == (
        f"{workdir / 'exp' / 'runs.xlsx'} (from {workdir / 'pyproject.toml'})"
    )
    assert "will be created" in checks["folder"]["detail"]
    monkeypatch.setenv("SHEETLOG_TARGET", str(workdir / "other.xlsx"))
    assert "(from SHEETLOG_TARGET)" in doctor_json()[1]["target"]["detail"]


def test_doctor_warns_that_the_workbook_is_open(copied_workbook: Path) -> None:
    folder = copied_workbook.parent
    sheetlog.log_run({"lr": 1}, target=copied_workbook, capture=False)
    (folder / ".~lock.runs.xlsx#").write_text("Jane,host,2026")
    code, checks = doctor_json()
    assert code == 0
    assert checks["workbook"]["status"] == "ok"
    assert checks["lock files"]["status"] == "warn"
    assert ".~lock.runs.xlsx#" in checks["lock files"]["detail"]
    assert checks["journal"]["detail"] == f"{folder / '.sheetlog' / 'journal.db'} holds 1 run"
    assert checks["integrity"]["status"] == "ok"
    assert checks["pending"]["status"] == "ok"


def test_doctor_fails_on_a_file_that_is_not_a_workbook(workdir: Path) -> None:
    (workdir / "runs.xlsx").write_text("run_id,lr\n")
    result = run("doctor", "runs.xlsx", cwd=workdir)
    assert result.returncode == 1
    assert any(
        line.startswith("FAIL  workbook") and "not an Excel workbook" in line
        for line in result.stdout.splitlines()
    ), result.stdout


def test_doctor_fails_on_a_damaged_journal(workdir: Path) -> None:
    (workdir / "j").mkdir()
    (workdir / "j" / "journal.db").write_bytes(b"not a database" * 100)
    code, checks = doctor_json("--journal-dir", "j")
    assert code == 1
    assert checks["journal"]["status"] == "FAIL"
    assert "move it away" in checks["journal"]["detail"]


def test_doctor_on_a_google_sheet(fake_sheets, workdir: Path) -> None:
    key = fake_sheets.create_spreadsheet("team runs")
    fake_sheets.clear_log()
    code, checks = doctor_json(f"gsheet://{key}/Runs")
    assert code == 0, checks
    assert [c["status"] for c in checks.values()].count("FAIL") == 0
    assert checks["credentials"]["detail"].startswith("requests go as anonymous (local endpoint")
    assert checks["spreadsheet"]["detail"] == "'team runs' is reachable"
    assert "will be added" in checks["worksheet"]["detail"]
    assert checks["write access"]["status"] == "ok"
    writes = [r.path for r in fake_sheets.request_log if r.kind == "write"]
    assert writes == [f"/v4/spreadsheets/{key}:batchUpdate"]  # the title set to itself
    assert fake_sheets.metadata(key)["properties"]["title"] == "team runs"
    assert [s["properties"]["title"] for s in fake_sheets.metadata(key)["sheets"]] == ["Sheet1"]


def test_doctor_fails_on_a_google_sheet_not_shared_or_unknown(fake_sheets, workdir: Path) -> None:
    key = fake_sheets.create_spreadsheet("private")
    fake_sheets.forbid(key)
    result = run("doctor", f"gsheet://{key}/Runs", cwd=workdir)
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "spreadsheet" in line.split()[1])
    assert line.startswith("FAIL") and "press Share" in line

    code, checks = doctor_json("gsheet://1AbCdEfGhIjKlMnOpQrStUv/Runs")
    assert code == 1
    assert checks["spreadsheet"]["status"] == "FAIL"
    assert "was not found: check the key" in checks["spreadsheet"]["detail"]
    assert "write access" not in checks


def test_help_shows_an_example_for_each_command() -> None:
    for command in ("init", "status", "flush", "doctor"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "  Example:\n    sheetlog " + command in result.stdout


def test_doctor_explains_how_to_get_google_credentials(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "SHEETLOG_GSHEETS_ENDPOINT",
        "SHEETLOG_CREDENTIALS",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(workdir))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(workdir / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # no probe of a cloud VM's metadata server
    result = run("doctor", "gsheet://1AbCdEfGhIjKlMnOpQrStUv/Runs", cwd=workdir)
    assert result.returncode == 1
    checks = {line.split()[1]: line for line in result.stdout.splitlines()}
    assert checks["credentials"].startswith("FAIL")
    assert "create a service account" in checks["credentials"]
    assert "spreadsheet" not in checks  # checks that need credentials are left out
