"""The README's two commands for a fresh machine, run as written in a fresh virtual environment.

Each test copies the repository (the files git would commit: tracked plus untracked-but-not-
ignored, so a new README or example counts before its commit while `.venv/`, `runs.xlsx`,
`.sheetlog/` and caches do not leak in) into tmp_path, then runs the command taken from README.md
in bash there: `python -m venv`, `pip install` from the package registry (pip's cache makes it
quicker), and the program. The commands are read from the README, so changing them there changes
what is tested.

Slow (each installs pandas, numpy, scikit-learn, ... into a new environment): marked `venv` and
`slow`.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from sheetlog.journal import Journal

pytestmark = [pytest.mark.venv, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT_S = 1200

# The test command, as the README gives it, runs the whole suite, this file included: it would
# recurse (every level building another venv) and take as long as the suite. What this test must
# show is that the `[test]` extras install and pytest runs against the fresh install, so it
# appends a small selection: one committed test module, no venv / slow / LibreOffice tests.
# pytest's last `-m` wins and explicit paths replace `testpaths`.
TEST_SELECTION = '-m "not venv and not slow and not libreoffice" -x -q tests/test_context.py'


def readme_commands() -> dict[str, str]:
    """The fresh-machine commands from README.md, keyed by the extra they install."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```(?:bash|sh)\n(.*?)^```$", readme, re.S | re.M)
    commands = [b.strip() for b in blocks if b.strip().startswith("python -m venv")]
    by_extra = {}
    for command in commands:
        extra = re.search(r'pip install -e "\.\[(\w+)\]"', command)
        assert extra, f"README command installs no extra: {command}"
        by_extra[extra.group(1)] = command
    assert sorted(by_extra) == ["examples", "test"], f"README fresh-machine commands: {commands}"
    return by_extra


def fresh_copy(destination: Path) -> Path:
    """Copy what git would commit from the repository into ``destination``."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout of sheetlog to know which files belong to it")
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # tracked files deleted in the work tree are skipped
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def run_in_bash(command: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in bash with `python` meaning this interpreter, outside any venv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS")
        and not key.startswith("SHEETLOG_")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_QUIET"] = "1"  # as `pip install --quiet`, keeping the README's command verbatim
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"`{command}` exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-5000:]}\n--- stderr\n{result.stderr[-5000:]}"
    )
    return result


def read_sheet(path: Path) -> list[dict[str, object]]:
    """The runs sheet as dicts, read with python-calamine directly (not through sheetlog)."""
    workbook = CalamineWorkbook.from_path(str(path))
    assert workbook.sheet_names == ["Runs"]
    cells = workbook.get_sheet_by_name("Runs").to_python()
    header = cells[0]
    return [
        {h: v for h, v in zip(header, row, strict=False) if v != ""}
        for row in cells[1:]
        if any(row)
    ]


def test_readme_quickstart_command_writes_a_sweep_into_runs_xlsx(tmp_path: Path) -> None:
    repo = fresh_copy(tmp_path / "sheetlog")
    result = run_in_bash(readme_commands()["examples"], repo, tmp_path)

    runs = read_sheet(repo / "runs.xlsx")
    assert len(runs) >= 6
    assert {run["status"] for run in runs} == {"FINISHED"}
    assert len({run["run_id"] for run in runs}) == len(runs)
    for run in runs:
        assert 0.5 < run["metrics.accuracy"] <= 1.0, run
        assert isinstance(run["metrics.fit_time_s"], float)
    # The schema grew: some parameter columns are filled for only some runs.
    params = {key for run in runs for key in run if key.startswith("params.")}
    partial = {key for key in params if 0 < sum(key in run for run in runs) < len(runs)}
    assert "params.class_weight" in partial
    # The saved model is where its row says, with the size and checksum recorded.
    saved = [run for run in runs if "model_path" in run]
    assert len(saved) == 1
    model = Path(saved[0]["model_path"])
    assert model.parent == repo / "models" and model.stat().st_size == saved[0]["model_size"]
    assert len(saved[0]["model_sha256"]) == 64
    # The epoch-by-epoch run: every step in the journal, the column holding the best one.
    (sgd,) = [run for run in runs if run["name"] == "sgd-epochs"]
    steps = Journal(repo / ".sheetlog").metric_history(sgd["run_id"], "val_accuracy")
    assert [step for step, _ in steps] == list(range(15))
    assert math.isclose(sgd["metrics.val_accuracy"], max(value for _, value in steps))
    # It ends by printing the best runs read back with sheetlog.load().
    assert f"{len(runs)} runs in runs.xlsx; the best:" in result.stdout


def test_readme_test_command_installs_and_runs_pytest(tmp_path: Path) -> None:
    repo = fresh_copy(tmp_path / "sheetlog")
    command = f"{readme_commands()['test']} {TEST_SELECTION}"
    result = run_in_bash(command, repo, tmp_path)

    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b[1-9]\d* passed\b", summary), result.stdout[-3000:]
    assert "failed" not in summary and "error" not in summary, summary
