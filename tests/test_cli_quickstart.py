"""The CLI on the quickstart's own workbook, the quickstart run twice as a new user would
(``python examples/quickstart.py``, real processes): the commands take -t, a name the two
sweeps share means the newest run, ``show`` reads well. Slow: the sweep takes ~15 s a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("quickstart")
    env = {k: v for k, v in os.environ.items() if k not in ("SHEETLOG_TARGET", "SHEETLOG_DIR")}
    for _ in range(2):
        subprocess.run(
            [sys.executable, str(QUICKSTART)],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return folder


def sheetlog(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sheetlog", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )


def test_show_a_name_of_both_sweeps_gives_the_newest_with_a_note(twice: Path) -> None:
    runs = json.loads(sheetlog(twice, "ls", "-t", "runs.xlsx", "--format", "json").stdout)
    older, newest = [run for run in runs if run["name"] == "svc-rbf-C10"]
    shown = sheetlog(twice, "show", "svc-rbf-C10")
    assert shown.returncode == 0, shown.stderr
    assert newest["run_id"] in shown.stdout and older["run_id"] not in shown.stdout
    assert "2 runs are named 'svc-rbf-C10'" in shown.stderr
    assert older["run_id"][:8] in shown.stderr
    lines = shown.stdout.splitlines()
    assert "  C       10" in lines  # not 10.0
    assert f"  cwd               {twice}" in lines
    assert (
        "  # this command logged 8 runs in one process (a sweep script): running it repeats all 8"
        in lines
    )
    assert "  # this run's params: model=svc C=10 kernel=rbf gamma=scale" in lines
    diffed = sheetlog(twice, "diff", "svc-rbf-C1", "svc-rbf-C10", "-t", "runs.xlsx")
    assert diffed.returncode == 0, diffed.stderr


def test_show_the_saved_model_size_as_an_integer(twice: Path) -> None:
    shown = sheetlog(twice, "show", "forest-200-balanced", "-t", "runs.xlsx")
    (size,) = [line for line in shown.stdout.splitlines() if line.startswith("  model_size")]
    assert size.split()[-1].isdigit()
    data = json.loads(sheetlog(twice, "show", "forest-200-balanced", "--format", "json").stdout)
    assert str(data["run"]["model_size"]) == size.split()[-1]
    assert len(str(data["run"]["metrics.accuracy"])) > 8  # every digit in JSON
