"""``sheetlog log`` and ``sheetlog run`` as a user meets them: rows logged from the shell, and
training commands wrapped without a code change (their options, printed metrics, exit codes,
signals, and a wrapped script that uses the Python API).

Commands run through click's CliRunner and as real processes (``python -m sheetlog``), in fresh
directories (default target runs.xlsx) and against the fake Google Sheet over HTTP; rows are
read back with ``sheetlog.load``.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import sheetlog
from sheetlog.cli import main

TIMEOUT_S = 60

TRAIN = """
import sys
print("arguments:", sys.argv[1:])
for epoch, accuracy in enumerate([0.5, 0.8, 0.91]):
    print(f"epoch {epoch}: accuracy={accuracy}")
print("loss: 0.2", file=sys.stderr)
"""

# A script that uses the Python API; under `sheetlog run` it fills the wrapper's row.
USES_API = """
import sys, time, sheetlog
with sheetlog.start_run({"lr": 0.5, "model": {"depth": 4}}, name="from-script") as run:
    for step in range(3):
        run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    run.set_tags({"stage": "dev"})
    with open("model.pt", "wb") as model:
        model.write(b"weights")
    run.log_model("model.pt")
    if "--wait" in sys.argv:
        print("ready", flush=True)
        time.sleep(TIMEOUT_S)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory holding the training scripts; no target or journal configured."""
    monkeypatch.chdir(tmp_path)
    for variable in ("SHEETLOG_TARGET", "SHEETLOG_DIR"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "uses_api.py").write_text(f"TIMEOUT_S = {TIMEOUT_S}\n" + USES_API)
    return tmp_path


def sheetlog_command(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``sheetlog ARGS`` as a real process in ``project``."""
    return subprocess.run(
        [sys.executable, "-m", "sheetlog", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def only_row(target: str | Path = "runs.xlsx") -> dict:
    frame = sheetlog.load(target)
    assert len(frame) == 1, frame
    return frame.iloc[0].to_dict()


# -- sheetlog log ------------------------------------------------------------------------------


def test_log_writes_one_row_with_typed_values_and_prints_its_run_id(project: Path) -> None:
    (project / "model.pt").write_bytes(b"weights")
    result = CliRunner().invoke(
        main,
        [
            "log",
            *("-p", "lr=0.01", "-p", "epochs=3", "-p", "optimizer.name=adam"),
            *("-p", "augment=TRUE", "-p", 'id="007"', "-p", "eps=nan", "-p", "seed=null"),
            *("-m", "accuracy=0.91", "-m", "loss=1e-3"),
            *("--model", "model.pt", "--name", "baseline", "--tag", "team=vision"),
            *("--notes", "first try"),
        ],
    )
    assert result.exit_code == 0, result.output
    row = only_row()
    assert result.stdout == f"{row['run_id']}\n"
    assert row["status"] == "FINISHED"
    assert row["params.lr"] == 0.01 and isinstance(row["params.lr"], float)
    assert row["params.epochs"] == 3 and not isinstance(row["params.epochs"], float)
    assert row["params.optimizer.name"] == "adam"
    assert row["params.augment"] is True
    assert row["params.id"] == "007"
    assert math.isnan(row["params.eps"])
    assert "params.seed" not in row  # null: an empty cell, so no column for it yet
    assert (row["metrics.accuracy"], row["metrics.loss"]) == (0.91, 0.001)
    assert row["model_path"] == str(project / "model.pt") and row["model_size"] == 7
    assert (row["name"], row["tags.team"], row["notes"]) == ("baseline", "vision", "first try")


def test_log_format_json_prints_the_row_as_written(project: Path) -> None:
    result = CliRunner().invoke(
        main, ["log", "-p", "lr=0.1", "-m", "loss=inf", "--status", "failed", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["run_id"] == only_row()["run_id"]
    assert written["status"] == "FAILED"
    assert (written["params.lr"], written["metrics.loss"]) == (0.1, "inf")
    assert written["start_time"].endswith("+00:00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "lr"], "Invalid value for '-p' / '--param': 'lr' is not key=value"),
        (["-m", "accuracy=high"], "metric 'accuracy' must be a number, not 'high'"),
    ],
)
def test_log_rejects_a_malformed_argument_and_writes_nothing(
    project: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["log", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (project / "runs.xlsx").exists()


def test_log_to_a_google_sheet_from_a_real_process(project: Path, fake_sheets) -> None:
    key = fake_sheets.create_spreadsheet("runs")
    target = f"gsheet://{key}/Runs"
    done = sheetlog_command(project, "log", "-t", target, "-p", "lr=0.01", "-m", "acc=0.9")
    assert done.returncode == 0, done.stderr
    row = only_row(target)
    assert done.stdout.strip() == row["run_id"]
    assert (row["params.lr"], row["metrics.acc"]) == (0.01, 0.9)


# -- sheetlog run ------------------------------------------------------------------------------


def test_run_records_the_command_its_options_printed_metrics_and_status(project: Path) -> None:
    command = [sys.executable, "train.py", "data/", "--lr", "0.01", "--epochs", "3"]
    command += ["--batch-size=32", "--augment", "--offset", "-1", "--", "--not-a-param", "1"]
    result = CliRunner().invoke(main, ["run", "--metrics-from-output", "--", *command])
    assert result.exit_code == 0, result.output
    assert "epoch 2: accuracy=0.91\n" in result.stdout  # the output still reaches the terminal
    assert "loss: 0.2\n" in result.stderr
    row = only_row()
    assert row["status"] == "FINISHED" and row["exit_code"] == 0
    assert row["command"] == shlex.join(command)
    params = {column: value for column, value in row.items() if column.startswith("params.")}
    assert params == {
        "params.lr": 0.01,
        "params.epochs": 3,
        "params.batch_size": 32,
        "params.augment": True,
        "params.offset": -1,
    }
    assert (row["metrics.accuracy"], row["metrics.loss"]) == (0.91, 0.2)  # the last value wins
    assert row["duration_s"] > 0
    assert row["end_time"] > row["start_time"]


def test_run_without_metrics_from_output_records_no_metrics(project: Path) -> None:
    done = sheetlog_command(project, "run", sys.executable, "train.py", "--lr", "0.01")
    assert done.returncode == 0, done.stderr
    assert "epoch 2: accuracy=0.91" in done.stdout
    row = only_row()
    assert row["params.lr"] == 0.01
    assert not [column for column in row if column.startswith("metrics.")]


def test_a_failing_command_is_failed_and_sheetlog_exits_with_its_code(project: Path) -> None:
    done = sheetlog_command(project, "run", "--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert done.returncode == 3
    row = only_row()
    assert (row["status"], row["exit_code"], row["error"]) == ("FAILED", 3, "exit code 3")
    assert f"run {row['run_id']} FAILED" in done.stderr


def test_a_command_that_cannot_start_is_failed_with_exit_code_127(project: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--", "no-such-program-here", "--lr", "1"])
    assert result.exit_code == 127
    assert "cannot run 'no-such-program-here'" in result.stderr
    row = only_row()
    assert row["status"] == "FAILED" and "FileNotFoundError" in row["error"]


def test_a_command_killed_by_sigterm_is_killed(project: Path) -> None:
    suicide = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    done = sheetlog_command(project, "run", "--", sys.executable, "-c", suicide)
    assert done.returncode == 128 + signal.SIGTERM
    row = only_row()
    assert (row["status"], row["exit_code"]) == ("KILLED", 128 + signal.SIGTERM)
    assert row["error"] == "killed by SIGTERM"


def test_a_script_using_the_api_fills_the_wrappers_row(project: Path) -> None:
    command = [sys.executable, "uses_api.py", "--lr", "0.01", "--epochs", "3"]
    done = sheetlog_command(project, "run", "--tag", "who=cli", "--", *command)
    assert done.returncode == 0, done.stderr
    row = only_row()  # one row, not two
    assert row["status"] == "FINISHED"
    assert row["params.lr"] == 0.5  # what the script logged wins over its command line
    assert (row["params.epochs"], row["params.model.depth"]) == (3, 4)
    assert row["metrics.loss"] == pytest.approx(1 / 3)
    assert (row["name"], row["tags.stage"], row["tags.who"]) == ("from-script", "dev", "cli")
    assert (row["model_path"], row["model_size"]) == (str(project / "model.pt"), 7)
    assert row["command"] == shlex.join(command)
    history = sheetlog.load_history(row["run_id"], "loss", journal_dir=project / ".sheetlog")
    assert history["step"].tolist() == [0, 1, 2]
    assert not list((project / ".sheetlog" / "attach").iterdir())


@pytest.mark.parametrize(
    ("signum", "error"),
    [
        (signal.SIGTERM, "terminated by SIGTERM"),
        (signal.SIGINT, "interrupted (Ctrl-C)"),
        (signal.SIGHUP, "terminated by SIGHUP"),  # the terminal closed, SSH dropped
        (signal.SIGQUIT, "terminated by SIGQUIT"),
    ],
    ids=["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"],
)
def test_ctrl_c_or_a_fatal_signal_is_passed_on_and_the_run_is_killed(
    project: Path, signum: int, error: str
) -> None:
    """The signal goes to sheetlog alone (no terminal: its own session), as `kill` would send it;
    the wrapped script, which logs through the API, ends its run and dies of it."""
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "sheetlog", "run", "--metrics-from-output", "--"]
        + [sys.executable, "uses_api.py", "--wait"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),  # SIGQUIT: no core
    )
    try:
        # The script prints "ready" and sleeps: its output comes through while it runs.
        assert wrapper.stdout is not None and wrapper.stdout.readline() == "ready\n"
        wrapper.send_signal(signum)
        wrapper.wait(TIMEOUT_S)
        wrapper.communicate(timeout=TIMEOUT_S)  # its output ends: the script is gone too
    finally:
        if wrapper.poll() is None:
            os.killpg(wrapper.pid, signal.SIGKILL)
            wrapper.wait()
    with pytest.raises(ProcessLookupError):  # nothing left behind as an orphan
        os.killpg(wrapper.pid, 0)
    assert wrapper.returncode == 128 + signum
    row = only_row()
    assert (row["status"], row["exit_code"]) == ("KILLED", 128 + signum)
    assert row["params.lr"] == 0.5  # the script's run ended and joined the wrapper's
    assert row["error"] == error


def test_run_into_a_google_sheet_from_a_real_process(project: Path, fake_sheets) -> None:
    key = fake_sheets.create_spreadsheet("runs")
    target = f"gsheet://{key}/Runs"
    command = [sys.executable, "uses_api.py", "--epochs", "3"]
    done = sheetlog_command(project, "run", "-t", target, "--metrics-from-output", "--", *command)
    assert done.returncode == 0, done.stderr
    row = only_row(target)
    assert (row["status"], row["params.lr"], row["params.epochs"]) == ("FINISHED", 0.5, 3)
    assert fake_sheets.values(key, "Runs")[0][0] == "run_id"
    assert not (project / "runs.xlsx").exists()


# -- sheetlog run: where the row goes, and who joins it -------------------------------------


OWN_TARGET = """
import sheetlog
with sheetlog.start_run({"lr": 0.5}, target="other.xlsx") as run:
    run.log_metrics({"loss": 0.25})
"""


def test_the_row_goes_to_the_target_the_wrapped_script_names(project: Path) -> None:
    (project / "own_target.py").write_text(OWN_TARGET)
    done = sheetlog_command(project, "run", "--", sys.executable, "own_target.py")
    assert done.returncode == 0, done.stderr
    row = only_row("other.xlsx")
    assert (row["params.lr"], row["metrics.loss"], row["exit_code"]) == (0.5, 0.25, 0)
    assert not (project / "runs.xlsx").exists()
    assert "other.xlsx" in done.stderr


def test_the_scripts_own_target_wins_over_t_and_the_wrapper_says_so(project: Path) -> None:
    (project / "own_target.py").write_text(OWN_TARGET)
    command = ["run", "-t", "chosen.xlsx", "--", sys.executable, "own_target.py"]
    done = sheetlog_command(project, *command)
    assert done.returncode == 0, done.stderr
    assert only_row("other.xlsx")["params.lr"] == 0.5
    assert not (project / "chosen.xlsx").exists()
    assert "names its own target" in done.stderr


SWEEP = """
import subprocess, sys, sheetlog
for lr in (0.1, 0.2, 0.3):
    sheetlog.log_run({"lr": lr}, {"loss": lr / 2})
"""


def test_t_is_the_target_of_every_run_the_command_starts(project: Path) -> None:
    (project / "sweep.py").write_text(SWEEP)
    done = sheetlog_command(project, "run", "-t", "chosen.xlsx", "--", sys.executable, "sweep.py")
    assert done.returncode == 0, done.stderr
    frame = sheetlog.load("chosen.xlsx")
    assert sorted(frame["params.lr"]) == [0.1, 0.2, 0.3]
    assert frame["exit_code"].notna().sum() == 1  # the first run joined the wrapper's row
    assert not (project / "runs.xlsx").exists()


def test_of_processes_started_at_once_one_joins_and_the_others_keep_their_rows(
    project: Path,
) -> None:
    """A shell line that starts three scripts at once: each one's first run used to claim the
    wrapper's run, and all but one row were lost."""
    script = "import sys, sheetlog; sheetlog.log_run({'worker': int(sys.argv[1])})"
    (project / "worker.py").write_text(script)
    starts = " & ".join(f"{shlex.quote(sys.executable)} worker.py {i}" for i in range(3))
    done = sheetlog_command(project, "run", "--", "sh", "-c", f"{starts} & wait")
    assert done.returncode == 0, done.stderr
    frame = sheetlog.load("runs.xlsx")
    assert sorted(frame["params.worker"]) == [0, 1, 2]
    assert frame["exit_code"].notna().sum() == 1
    assert not list((project / ".sheetlog" / "attach").iterdir())


def test_p_adds_params_that_win_over_the_command_line_and_the_script(project: Path) -> None:
    command = [sys.executable, "uses_api.py", "--lr", "0.01", "--epochs", "3"]
    done = sheetlog_command(project, "run", "-p", "lr=0.7", "-p", "data=v2", "--", *command)
    assert done.returncode == 0, done.stderr
    row = only_row()
    assert (row["params.lr"], row["params.data"], row["params.epochs"]) == (0.7, "v2", 3)


# -- sheetlog run --metrics-from-output: metrics, not code ------------------------------------

DIVERGES = """
import math
for epoch in range(2):
    print(f"epoch={epoch} loss={0.5 - epoch / 10} acc: {0.6 + epoch / 10}")

def sigmoid(x):
    p = 1 / (1 + math.exp(x))
    return p

sigmoid(1000)
"""


def test_metrics_from_output_reads_metrics_not_a_traceback(project: Path) -> None:
    (project / "diverges.py").write_text(DIVERGES)
    command = ["run", "--metrics-from-output", "--", sys.executable, "diverges.py"]
    done = sheetlog_command(project, *command)
    assert done.returncode == 1
    assert "p = 1 / (1 + math.exp(x))" in done.stderr  # the traceback still reaches the user
    row = only_row()
    metrics = sorted(column for column in row if column.startswith("metrics."))
    assert metrics == ["metrics.acc", "metrics.loss"]  # not p, not epoch (the step)
    assert (row["status"], row["error"]) == ("FAILED", "OverflowError: math range error")
    history = sheetlog.load_history(row["run_id"], "loss", journal_dir=project / ".sheetlog")
    assert history[["step", "value"]].values.tolist() == [[0, 0.5], [1, 0.4]]


PRINTS_AND_LOGS = """
import sheetlog
with sheetlog.start_run() as run:
    for step in range(3):
        run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
        print(f"step={step} loss={1.0 / (step + 1)} printed_only={step}")
"""


def test_a_script_that_also_uses_the_api_does_not_get_its_history_twice(project: Path) -> None:
    (project / "both.py").write_text(PRINTS_AND_LOGS)
    command = ["run", "--metrics-from-output", "--", sys.executable, "both.py"]
    done = sheetlog_command(project, *command)
    assert done.returncode == 0, done.stderr
    row = only_row()
    journal = project / ".sheetlog"
    loss = sheetlog.load_history(row["run_id"], "loss", journal_dir=journal)
    assert loss["step"].tolist() == [0, 1, 2]  # from the API only
    printed = sheetlog.load_history(row["run_id"], "printed_only", journal_dir=journal)
    assert printed[["step", "value"]].values.tolist() == [[0, 0], [1, 1], [2, 2]]
    assert (row["metrics.loss"], row["metrics.printed_only"]) == (pytest.approx(1 / 3), 2)


def test_a_hangup_ignored_with_nohup_is_not_passed_on(project: Path) -> None:
    """Under nohup, SIGHUP is ignored by sheetlog run and by the command: it runs to its end."""
    script = "import time; print('ready', flush=True); time.sleep(1)"
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "sheetlog", "run", "--", sys.executable, "-c", script],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    assert wrapper.stdout is not None and wrapper.stdout.readline() == "ready\n"
    wrapper.send_signal(signal.SIGHUP)
    _, errors = wrapper.communicate(timeout=TIMEOUT_S)
    assert wrapper.returncode == 0, errors
    assert only_row()["status"] == "FINISHED"
