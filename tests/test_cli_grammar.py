"""One grammar for the command line: every command that reads or writes runs takes its target as
``-t/--target`` (the older positional TARGET still works where it existed), ``--format`` offers
the same names everywhere, and ``sheetlog --help`` lists the commands in the order of the work
with their descriptions whole."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_support import fake_records, invoke, write_records

import sheetlog

WORKFLOW = ["log", "run", "ls", "show", "best", "diff", "export", "sync", "status", "flush",
            "pending", "doctor", "init"]  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    monkeypatch.setenv("SHEETLOG_DIR", str(tmp_path / "journal"))
    return tmp_path


@pytest.fixture
def sheet(workdir: Path) -> tuple[str, list[dict]]:
    """A workbook of 6 runs that is not the default target (only -t can name it)."""
    records = fake_records(6, seed=3)
    write_records("other.xlsx", records)
    return "other.xlsx", records


def test_every_command_that_reads_or_writes_runs_takes_dash_t(sheet) -> None:
    target, records = sheet
    first, second = records[0]["run_id"], records[1]["run_id"]
    for args in (
        ["ls", "-t", target, "--format", "json"],
        ["ls", "--target", target, "--format", "json"],
        ["show", first, "-t", target, "--format", "json"],
        ["best", "-t", target, "-m", "accuracy", "--format", "json"],
        ["diff", first, second, "--target", target, "--format", "json"],
        ["export", "-t", target, "-o", "out.json"],
        ["status", "-t", target],
        ["flush", "-t", target],
        ["doctor", "-t", target],
        ["init", "-t", target],
    ):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "No such option" not in result.output
    assert len(json.loads(invoke("ls", "-t", target, "--format", "json").stdout)) == 6
    assert len(json.loads(Path("out.json").read_text())) == 6
    assert not Path("runs.xlsx").exists()  # none of them fell back on the default target


def test_log_and_run_write_to_the_dash_t_target(workdir: Path) -> None:
    result = invoke("log", "-t", "logged.xlsx", "-p", "lr=0.1", "-m", "loss=0.5")
    assert result.exit_code == 0, result.output
    result = invoke("run", "--target", "logged.xlsx", "--", "true")
    assert result.exit_code == 0, result.output
    listed = json.loads(invoke("ls", "-t", "logged.xlsx", "--format", "json").stdout)
    assert [row["status"] for row in listed] == ["FINISHED", "FINISHED"]


def test_the_older_positional_target_still_works_and_two_targets_must_agree(sheet) -> None:
    target, records = sheet
    assert len(json.loads(invoke("ls", target, "--format", "json").stdout)) == 6
    best = json.loads(invoke("best", target, "-m", "accuracy", "--format", "json").stdout)
    assert best["candidates"] > 0
    assert invoke("export", target, "-o", "again.csv").exit_code == 0
    assert invoke("doctor", target).exit_code == 0
    assert invoke("ls", target, "-t", target, "--format", "json").exit_code == 0
    result = invoke("ls", target, "-t", "elsewhere.xlsx")
    assert result.exit_code == 2
    assert "two targets given" in result.stderr
    # The positional spelling is accepted, not advertised: usage shows one way.
    assert "[TARGET]" not in invoke("ls", "--help").output
    assert "-t, --target TARGET" in invoke("ls", "--help").output


@pytest.mark.parametrize("command", ["ls", "show", "best", "diff", "status", "doctor", "sync"])
def test_format_offers_the_same_names(command: str) -> None:
    text = invoke(command, "--help").output
    choices = re.search(r"--format \[([a-z|]+)\]", text)
    assert choices is not None, text
    names = choices.group(1).split("|")
    assert names[:2] == ["table", "json"], names
    assert set(names) <= {"table", "json", "csv"}


def test_format_text_is_still_accepted_where_it_was_offered(sheet) -> None:
    target, records = sheet
    for args in (
        ["show", records[0]["run_id"], "-t", target],
        ["best", "-t", target, "-m", "accuracy"],
        ["diff", records[0]["run_id"], records[1]["run_id"], "-t", target],
        ["sync", target, "copy.xlsx"],
    ):
        shown = invoke(*args, "--format", "text")
        assert shown.exit_code == 0, (args, shown.output)
        assert shown.stdout.strip()
    assert invoke("log", "-t", target, "-m", "loss=1", "--format", "text").exit_code == 0
    assert invoke("show", records[0]["run_id"], "-t", target, "--format", "yaml").exit_code == 2


def test_help_lists_commands_in_workflow_order_with_whole_descriptions() -> None:
    text = invoke("--help").output
    block = text.split("Commands:\n")[1].split("\n\n")[0]
    entries: list[list[str]] = []
    for line in block.splitlines():
        if line[2:3].strip():  # a command's first line; deeper lines continue its description
            name, _, description = line.strip().partition(" ")
            entries.append([name, description.strip()])
        else:
            entries[-1][1] += " " + line.strip()
    assert [name for name, _ in entries][: len(WORKFLOW)] == WORKFLOW
    for name, description in entries:
        assert "..." not in description, (name, description)
        assert description.endswith("."), (name, description)  # a whole sentence
    descriptions = dict(entries)
    assert "exit code 1 when some are not written" in descriptions["status"]
    assert "and the journal is sound." in descriptions["doctor"]


def test_status_with_a_target_lists_only_its_pending_runs(workdir: Path) -> None:
    for name in ("a.xlsx", "b.xlsx"):
        write_records(name, fake_records(1))
        Path(f"~${name}").write_text("open in Excel")  # the workbook is open: runs wait
        with pytest.warns(sheetlog.SheetlogWarning, match="kept in the journal"):
            sheetlog.log_run({"lr": 0.1}, target=name, capture=False)
    both = json.loads(invoke("status", "--format", "json").stdout)
    assert sorted(Path(p["target"]).name for p in both["pending"]) == ["a.xlsx", "b.xlsx"]
    result = invoke("status", "-t", "b.xlsx", "--format", "json")
    assert result.exit_code == 1  # b still owes a run
    assert [Path(p["target"]).name for p in json.loads(result.stdout)["pending"]] == ["b.xlsx"]
