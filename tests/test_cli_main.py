"""The `sheetlog` command group as a whole: help, version, completion, the shell example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import sheetlog
from sheetlog.cli import main

# In the order of the work (record, look, move, look after), as `sheetlog --help` lists them.
COMMANDS = ["log", "run", "ls", "show", "best", "diff", "export", "sync", "status", "flush",
            "pending", "doctor", "init"]  # fmt: skip
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shell_workflow.sh"


def test_help_lists_every_command_and_each_command_has_an_example():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1].split("\n\n")[0]
    listed = [line.split()[0] for line in commands.splitlines() if line[2:3].strip()]
    assert listed[: len(COMMANDS)] == COMMANDS  # commands added later follow, alphabetically
    assert listed[len(COMMANDS) :] == sorted(listed[len(COMMANDS) :])
    for command in COMMANDS:
        text = CliRunner().invoke(main, [command, "--help"]).output
        assert "Example" in text and f"sheetlog {command}" in text, command


def test_unknown_command_is_a_usage_error_and_version_is_printed():
    assert CliRunner().invoke(main, ["lss"]).exit_code == 2
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and sheetlog.__version__ in result.output


def test_shell_completion_completes_commands_and_options():
    script = shutil.which("sheetlog") or ""
    env = {**os.environ, "_SHEETLOG_COMPLETE": "bash_complete", "COMP_CWORD": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "sheetlog"],
        env={**env, "COMP_WORDS": "sheetlog sy"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "plain,sync" in done.stdout.split(), (script, done.stdout, done.stderr)
    done = subprocess.run(
        [sys.executable, "-m", "sheetlog"],
        env={**env, "COMP_WORDS": "sheetlog sync --pre", "COMP_CWORD": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "plain,--prefer" in done.stdout.split()


@pytest.mark.slow  # trains four scikit-learn models
def test_the_shell_example_runs_in_an_empty_directory(tmp_path):
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "150"}
    env.pop("SHEETLOG_TARGET", None)
    done = subprocess.run(
        ["bash", str(EXAMPLE)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    frame = sheetlog.load(str(tmp_path / "runs.xlsx"))
    assert sorted(frame["name"]) == ["by-hand", "lr-0.01", "lr-0.03", "lr-0.1"]
    run = frame.set_index("name").loc["lr-0.03"]
    assert run["params.lr"] == 0.03 and run["params.epochs"] == 3 and run["exit_code"] == 0
    assert 0.5 < run["metrics.accuracy"] <= 1
    assert "runs.csv: up to date" in done.stdout
    copy = sheetlog.load(str(tmp_path / "runs.csv"))
    assert sorted(copy["run_id"]) == sorted(frame["run_id"])
