"""``show`` and naming runs: a sweep script run twice (real processes, real capture), then
``show``, ``diff`` and ``load_history`` by name and by id prefix.

A name several runs share means the newest of them, with a note on stderr naming the others; the
shown values read as they were logged (integers as integers, metrics to 6 digits, full precision
in JSON); the working directory is recorded and shown; and the recipe of a run made by a sweep
script says that repeating the command repeats the whole sweep, and gives the run's params.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from cli_support import invoke, write_records

import sheetlog
from sheetlog import SheetlogWarning

SWEEP = textwrap.dedent(
    """
    import sheetlog

    for C in (1, 10):
        with sheetlog.start_run(params={"C": C, "kernel": "rbf"}, name=f"svc-rbf-C{C}") as run:
            for step in range(3):
                run.log_metrics({"val_loss": 1.0 / (step + C)}, step=step)
            run.log_metrics({"accuracy": 0.9822222222222222 + C / 1000})
            if C == 10:
                with open("model.bin", "wb") as model:
                    model.write(b"x" * 123457)
                run.log_model("model.bin")
    """
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sweep script run twice, then a failing command under ``sheetlog run``."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "sweep.py").write_text(SWEEP)
    env = {k: v for k, v in os.environ.items() if k not in ("SHEETLOG_TARGET", "SHEETLOG_DIR")}
    for _ in range(2):
        subprocess.run([sys.executable, "sweep.py"], cwd=folder, env=env, check=True, timeout=120)
    failing = [sys.executable, "-m", "sheetlog", "run", "--", sys.executable, "-c", "exit(1)"]
    done = subprocess.run(failing, cwd=folder, env=env, capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr
    return folder


@pytest.fixture
def inside(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    monkeypatch.delenv("SHEETLOG_DIR", raising=False)
    return project


def runs_named(name: str) -> list[dict]:
    """The runs of that name, oldest first."""
    frame = sheetlog.load("runs.xlsx")
    return frame[frame["name"] == name].sort_values("start_time").to_dict("records")


def test_a_name_shared_by_several_runs_means_the_newest_with_a_note(inside: Path) -> None:
    older, newest = runs_named("svc-rbf-C10")
    result = invoke("show", "svc-rbf-C10")
    assert result.exit_code == 0, result.output
    assert f"run_id      {newest['run_id']}" in result.stdout
    assert older["run_id"] not in result.stdout
    note = result.stderr
    assert "2 runs are named 'svc-rbf-C10'" in note and "newest" in note
    assert older["run_id"][:8] in note
    assert older["start_time"].strftime("%Y-%m-%d %H:%M:%S") in note
    # diff by names: the newest of each
    compared = json.loads(invoke("diff", "svc-rbf-C1", "svc-rbf-C10", "--format", "json").stdout)
    assert compared["b"]["run_id"] == newest["run_id"]
    assert compared["a"]["run_id"] == runs_named("svc-rbf-C1")[-1]["run_id"]


def test_load_history_takes_a_name_or_an_id_prefix(inside: Path) -> None:
    older, newest = runs_named("svc-rbf-C10")
    shared = f"2 runs are named 'svc-rbf-C10'.*{older['run_id'][:8]}"
    with pytest.warns(SheetlogWarning, match=shared):
        by_name = sheetlog.load_history("svc-rbf-C10", "val_loss")
    by_id = sheetlog.load_history(newest["run_id"], "val_loss")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a unique prefix needs no note
        by_prefix = sheetlog.load_history(newest["run_id"][:8], "val_loss")
    assert len(by_id) == 3
    assert by_name.equals(by_id) and by_prefix.equals(by_id)
    assert by_id["value"].tolist() == [1 / 10, 1 / 11, 1 / 12]
    with pytest.raises(sheetlog.RunNotFound, match="no run 'nope-nope' in the journal"):
        sheetlog.load_history("nope-nope")  # a typo is not a run without history


def test_show_prints_integers_as_integers_and_metrics_to_six_digits(inside: Path) -> None:
    newest = runs_named("svc-rbf-C10")[-1]
    lines = invoke("show", newest["run_id"][:8]).stdout.splitlines()
    assert "  model_size    123457" in lines
    assert "  C       10" in lines
    assert "  accuracy  0.992222" in lines
    assert not [line for line in lines if line.endswith(".0")]
    data = json.loads(invoke("show", newest["run_id"], "--format", "json").stdout)["run"]
    assert data["model_size"] == 123457 and isinstance(data["model_size"], int)
    assert data["metrics.accuracy"] == 0.9822222222222222 + 10 / 1000  # every digit
    shown = invoke("show", _the_wrapped_run()["run_id"]).stdout.splitlines()
    assert "  exit_code     1" in shown


def _the_wrapped_run() -> dict:
    frame = sheetlog.load("runs.xlsx")
    return frame[frame["status"] == "FAILED"].iloc[0].to_dict()


def test_show_gives_the_working_directory_and_an_honest_recipe_for_a_sweep(inside: Path) -> None:
    newest = runs_named("svc-rbf-C10")[-1]
    assert newest["cwd"] == str(inside)
    result = invoke("show", "svc-rbf-C10")
    assert f"  cwd           {inside}" in result.stdout.splitlines()
    steps = json.loads(invoke("show", "svc-rbf-C10", "--format", "json").stdout)["reproduce"]
    assert steps[0] == f"cd {inside}"
    assert steps[-1] == newest["command"]
    assert "this command logged 2 runs in one process (a sweep script)" in steps[-3]
    assert "running it repeats all 2" in steps[-3]
    assert steps[-2] == "# this run's params: C=10 kernel=rbf"
    # A command that logged one run gets no such comment.
    failed = json.loads(invoke("show", _the_wrapped_run()["run_id"], "--format", "json").stdout)
    assert not [step for step in failed["reproduce"] if step.startswith("#")]
    assert failed["reproduce"][0] == f"cd {inside}"


def test_a_whole_number_in_a_column_of_fractions_shows_as_an_integer(tmp_path: Path) -> None:
    """A workbook keeps numbers as floats: C=10 next to C=0.1 reads back as 10.0."""
    target = str(tmp_path / "runs.xlsx")
    sheetlog.log_run({"C": 0.1}, {"acc": 0.5}, name="small", target=target, journal_dir=tmp_path)
    sheetlog.log_run({"C": 10}, {"acc": 1.0}, name="big", target=target, journal_dir=tmp_path)
    assert sheetlog.load(target)["params.C"].tolist() == [0.1, 10.0]
    lines = invoke("show", "big", "-t", target).stdout.splitlines()
    assert "  C  10" in lines and "  acc  1" in lines
    assert "  C  0.1" in invoke("show", "small", "-t", target).stdout.splitlines()


def test_the_recipe_quotes_paths_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "my project"
    folder.mkdir()
    patch = folder / "changes 1.patch"
    patch.write_text("diff --git a/x b/x\n")
    target = str(tmp_path / "runs.xlsx")
    record = {"run_id": "a" * 32, "name": "spaced", "git.commit": "c" * 40, "git.patch": str(patch)}
    write_records(target, [{**record, "command": "python train.py", "cwd": str(folder)}])
    steps = json.loads(invoke("show", "spaced", "-t", target, "--format", "json").stdout)
    assert steps["reproduce"] == [
        f"cd '{folder}'",
        f"git checkout {'c' * 40}",
        f"git apply '{patch}'",
        "python train.py",
    ]
