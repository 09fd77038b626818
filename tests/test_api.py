"""The logging API as a user meets it: runs, their status and times, metrics with steps, models,
how columns grow and are matched, where the workbook is, and the context recorded.

Runs are logged into real workbooks in tmp_path and read back with ``sheetlog.load`` and openpyxl;
what happens when a process ends (atexit, uncaught exception, SIGTERM) is checked on real child
processes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import sheetlog
from sheetlog.journal import Journal

CHILD_TIMEOUT_S = 120


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Keyword arguments that put a run's workbook and journal in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return {
        "target": tmp_path / "runs.xlsx",
        "journal_dir": tmp_path / ".sheetlog",
        "capture": False,
    }


def load(where: dict[str, Any]):
    return sheetlog.load(where["target"])


def sheet_rows(path: Path) -> list[list[Any]]:
    """Every row of the workbook's first sheet as openpyxl reads it (row 1 is the header)."""
    sheet = openpyxl.load_workbook(path).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# -- status ------------------------------------------------------------------------------------


def test_a_run_that_ends_normally_is_finished(where: dict[str, Any]) -> None:
    with sheetlog.start_run({"lr": 0.1}, name="baseline", **where) as run:
        run.log_metrics({"acc": 0.9})
    frame = load(where)
    assert frame[["name", "status", "params.lr", "metrics.acc"]].values.tolist() == [
        ["baseline", "FINISHED", 0.1, 0.9]
    ]
    assert "error" not in frame.columns  # no error, so no column for it
    assert frame["run_id"].tolist() == [run.run_id]


def test_an_exception_marks_the_run_failed_and_is_re_raised(where: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="boom"), sheetlog.start_run({"lr": 0.1}, **where):
        raise ValueError("boom")
    frame = load(where)
    assert frame["status"].tolist() == ["FAILED"]
    assert frame["error"].tolist() == ["ValueError: boom"]


def test_ctrl_c_marks_the_run_killed_and_is_re_raised(where: dict[str, Any]) -> None:
    with pytest.raises(KeyboardInterrupt), sheetlog.start_run({"lr": 0.1}, **where):
        raise KeyboardInterrupt
    assert load(where)["status"].tolist() == ["KILLED"]


def test_finish_twice_is_a_mistake(where: dict[str, Any]) -> None:
    run = sheetlog.start_run(**where)
    run.finish()
    with pytest.raises(RuntimeError, match="already ended"):
        run.finish()
    assert len(load(where)) == 1


# -- what happens when the process ends --------------------------------------------------------


def run_child(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` as a script in a fresh interpreter; ``TARGET`` and ``JOURNAL`` are defined."""
    script = tmp_path / "train.py"
    script.write_text(
        "import os, signal, sys, sheetlog\n"
        f"TARGET = {str(tmp_path / 'runs.xlsx')!r}\n"
        f"JOURNAL = {str(tmp_path / '.sheetlog')!r}\n" + textwrap.dedent(body)
    )
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )


def test_a_run_left_open_in_a_script_that_exits_normally_is_finished(tmp_path: Path) -> None:
    done = run_child(
        tmp_path,
        """
        run = sheetlog.start_run({"lr": 0.1}, target=TARGET, journal_dir=JOURNAL, capture=False)
        run.log_metrics({"acc": 0.75})
        print("end of script")
        """,
    )
    assert done.returncode == 0, done.stderr
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame[["status", "metrics.acc"]].values.tolist() == [["FINISHED", 0.75]]


def test_a_run_left_open_by_an_uncaught_exception_is_failed(tmp_path: Path) -> None:
    done = run_child(
        tmp_path,
        """
        run = sheetlog.start_run({"lr": 0.1}, target=TARGET, journal_dir=JOURNAL, capture=False)
        raise RuntimeError("out of memory")
        """,
    )
    assert done.returncode == 1
    assert "RuntimeError: out of memory" in done.stderr  # the user's traceback is still shown
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame[["status", "error"]].values.tolist() == [["FAILED", "RuntimeError: out of memory"]]


def test_a_run_left_open_by_an_uncaught_ctrl_c_is_killed(tmp_path: Path) -> None:
    done = run_child(
        tmp_path,
        """
        run = sheetlog.start_run({"lr": 0.1}, target=TARGET, journal_dir=JOURNAL, capture=False)
        raise KeyboardInterrupt
        """,
    )
    assert done.returncode != 0
    assert sheetlog.load(tmp_path / "runs.xlsx")["status"].tolist() == ["KILLED"]


TRAINING_LOOP = """
run = sheetlog.start_run({"lr": 0.1}, target=TARGET, journal_dir=JOURNAL, capture=False)
print("training", flush=True)
step = 0
while True:
    run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    step += 1
"""


def wait_killed(process: subprocess.Popen[str]) -> None:
    try:
        process.wait(CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("the process hung after SIGTERM instead of ending")
    stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == -signal.SIGTERM, stderr
    assert "could not end run" not in stderr


@pytest.mark.parametrize("delay", [0.05, 0.4, 1.0])
def test_sigterm_during_training_records_the_run_killed_and_the_process_dies_of_it(
    tmp_path: Path, delay: float
) -> None:
    """A scheduler's SIGTERM lands somewhere in a loop that logs metrics all the time (with 10,000
    steps per journal write, the later delays land after some history has been saved)."""
    script = tmp_path / "train.py"
    script.write_text(
        "import sheetlog\n"
        f"TARGET = {str(tmp_path / 'runs.xlsx')!r}\n"
        f"JOURNAL = {str(tmp_path / '.sheetlog')!r}\n" + TRAINING_LOOP
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "training\n"
    time.sleep(delay)  # let it train a while: not a timing assertion
    process.send_signal(signal.SIGTERM)
    wait_killed(process)
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame[["status", "error"]].values.tolist() == [["KILLED", "terminated by SIGTERM"]]
    assert 0 < frame["metrics.loss"][0] <= 1


# Deterministic moments for the signal: a profile hook sends SIGTERM to the child itself the
# moment a chosen function is entered; Python runs the handler right there.
SIGTERM_INSIDE = """
target_function, steps_before = sys.argv[1], int(sys.argv[2])
run = sheetlog.start_run({"lr": 0.1}, target=TARGET, journal_dir=JOURNAL, capture=False)
for step in range(steps_before):
    run.log_metrics({"loss": 1.0}, step=step)

def hook(frame, event, arg):
    name = arg.__name__ if event == "c_call" else frame.f_code.co_name
    if event in ("call", "c_call") and name == target_function:
        sys.setprofile(None)
        os.kill(os.getpid(), signal.SIGTERM)

sys.setprofile(hook)
run.log_metrics({"loss": 0.5}, step=steps_before)
print("SIGTERM was ignored", flush=True)
"""


@pytest.mark.parametrize(
    ("function", "steps_before"),
    [
        ("index_of", 0),  # while log_metrics holds the run's lock (a metric seen the first time)
        ("_save_history", 4_095),  # while a full block of history goes to the writer thread
    ],
)
def test_sigterm_inside_log_metrics_still_records_the_run(
    tmp_path: Path, function: str, steps_before: int
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import os, signal, sys, sheetlog\n"
        f"TARGET = {str(tmp_path / 'runs.xlsx')!r}\n"
        f"JOURNAL = {str(tmp_path / '.sheetlog')!r}\n" + SIGTERM_INSIDE
    )
    process = subprocess.Popen(
        [sys.executable, str(script), function, str(steps_before)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_killed(process)
    assert process.stdout is not None and "ignored" not in process.stdout.read()
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame["status"].tolist() == ["KILLED"]


def test_ten_thousand_metric_steps_do_not_stall_the_run(tmp_path: Path) -> None:
    """The history goes to the journal in blocks of 4,096 calls, handed over in the middle of
    log_metrics to a writer thread (run in a child process so that a stall fails the test
    instead of hanging it)."""
    done = run_child(
        tmp_path,
        """
        with sheetlog.start_run(target=TARGET, journal_dir=JOURNAL, capture=False) as run:
            for step in range(25_000):
                run.log_metric("loss", 1 / (step + 1), step=step)
        print(run.run_id)
        """,
    )
    assert done.returncode == 0, done.stderr
    history = Journal(tmp_path / ".sheetlog").metric_history(done.stdout.strip(), "loss")
    assert len(history) == 25_000
    assert history[-1] == (24_999, 1 / 25_000)
    assert sheetlog.load(tmp_path / "runs.xlsx")["metrics.loss"].tolist() == [1 / 25_000]


def test_metric_history_keeps_every_value_of_every_type_in_order(where: dict[str, Any]) -> None:
    """Plain floats and ints, numpy scalars (fast path once seen), nested dicts (flattened every
    time) and steps given as numpy integers all land in the history and the columns."""
    import numpy as np

    with sheetlog.start_run(**where) as run:
        for step in range(5_000):
            run.log_metrics(
                {"loss": 1 / (step + 1), "seen": step, "acc": np.float32(step / 5_000)},
                step=np.int64(step),
            )
            if step % 1_000 == 0:
                run.log_metrics({"val": {"loss": step / 1_000}})
    history = sheetlog.load_history(run.run_id, journal_dir=where["journal_dir"])
    loss = history[history["key"] == "loss"]
    assert loss["step"].tolist() == list(range(5_000))
    assert loss["value"].tolist() == [1 / (s + 1) for s in range(5_000)]
    assert history[history["key"] == "acc"]["value"].iloc[-1] == float(np.float32(4_999 / 5_000))
    val = history[history["key"] == "val.loss"]
    assert val["value"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and val["step"].isna().all()
    row = sheetlog.load(where["target"]).iloc[0]
    assert (row["metrics.seen"], row["metrics.val.loss"]) == (4_999, 4.0)


@pytest.mark.parametrize(
    ("step", "error"), [(1.5, TypeError), ("3", TypeError), (2**70, ValueError)]
)
def test_a_step_that_is_not_a_64_bit_integer_is_refused_at_once(
    where: dict[str, Any], step: Any, error: type[Exception]
) -> None:
    with sheetlog.start_run(**where) as run:
        run.log_metrics({"loss": 0.5}, step=1)
        with pytest.raises(error, match="step"):
            run.log_metrics({"loss": 0.4}, step=step)
    history = sheetlog.load_history(run.run_id, journal_dir=where["journal_dir"])
    assert history["step"].tolist() == [1]


def test_a_history_the_journal_refuses_is_reported_and_the_row_still_written(
    where: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(conn: sqlite3.Connection, run_id: str, data: bytes) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Journal, "_insert_metric_block", staticmethod(refuse))
    refused = pytest.warns(sheetlog.SheetlogWarning, match="could not save the metric history")
    with refused, sheetlog.start_run(**where) as run:
        run.log_metrics({"loss": 0.5}, step=1)
    assert sheetlog.load(where["target"])["metrics.loss"].tolist() == [0.5]


# -- metrics and models ------------------------------------------------------------------------


def test_metric_columns_hold_the_last_value_or_the_declared_min_or_max(
    where: dict[str, Any],
) -> None:
    with sheetlog.start_run(**where) as run:
        run.define_metric("val_loss", "min")
        run.define_metric("val_acc", "max")
        for step, (loss, acc) in enumerate([(0.9, 0.5), (0.4, 0.8), (0.6, 0.7)]):
            run.log_metrics({"val_loss": loss, "val_acc": acc, "train_loss": loss}, step=step)
    frame = load(where)
    assert frame["metrics.val_loss"].tolist() == [0.4]
    assert frame["metrics.val_acc"].tolist() == [0.8]
    assert frame["metrics.train_loss"].tolist() == [0.6]  # the last value
    journal = Journal(where["journal_dir"])
    assert journal.metric_history(run.run_id, "val_loss") == [(0, 0.9), (1, 0.4), (2, 0.6)]
    assert journal.metric_history(run.run_id, "val_acc") == [(0, 0.5), (1, 0.8), (2, 0.7)]
    history = sheetlog.load_history(run.run_id, "val_loss", journal_dir=where["journal_dir"])
    assert history["value"].tolist() == [0.9, 0.4, 0.6]


def test_define_metric_rejects_an_unknown_summary(where: dict[str, Any]) -> None:
    with sheetlog.start_run(**where) as run, pytest.raises(ValueError, match="'min' or 'max'"):
        run.define_metric("loss", "mean")  # type: ignore[arg-type]


def test_log_model_records_path_size_and_sha256_of_a_file(
    where: dict[str, Any], tmp_path: Path
) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights" * 1000)
    sheetlog.log_run({"lr": 0.1}, {"acc": 0.9}, model_path=model, **where)
    frame = load(where)
    assert frame["model_path"].tolist() == [str(model.resolve())]
    assert frame["model_size"].tolist() == [7000]
    assert frame["model_sha256"].tolist() == [hashlib.sha256(b"weights" * 1000).hexdigest()]


def test_log_model_of_a_directory_sums_sizes_and_hashes_its_content(
    where: dict[str, Any], tmp_path: Path
) -> None:
    model = tmp_path / "checkpoint"
    (model / "shards").mkdir(parents=True)
    (model / "config.json").write_text('{"layers": 3}')
    (model / "shards" / "0.bin").write_bytes(b"\0" * 100)
    copy = tmp_path / "elsewhere" / "same"
    shutil.copytree(model, copy)
    for path in (model, copy):
        with sheetlog.start_run(**where) as run:
            run.log_model(path)
    (copy / "shards" / "0.bin").write_bytes(b"\1" * 100)
    with sheetlog.start_run(**where) as run:
        run.log_model(copy)
    frame = load(where)
    assert frame["model_size"].tolist() == [113, 113, 113]
    first, same, changed = frame["model_sha256"].tolist()
    assert first == same != changed  # the content decides, not where it is


def test_log_model_of_a_path_that_does_not_exist_yet(where: dict[str, Any]) -> None:
    with pytest.warns(sheetlog.SheetlogWarning, match="does not exist"):
        sheetlog.log_run(model_path="not/saved/yet.pt", **where)
    frame = load(where)
    assert frame["model_path"].tolist() == [str(Path("not/saved/yet.pt").resolve())]
    assert "model_sha256" not in frame.columns


def test_log_run_is_one_call_one_row(where: dict[str, Any]) -> None:
    for lr in (0.1, 0.01, 0.001):
        sheetlog.log_run({"lr": lr}, {"acc": lr * 5}, name=f"lr={lr}", tags={"sweep": "a"}, **where)
    frame = load(where)
    assert frame[["name", "params.lr", "tags.sweep", "status"]].values.tolist() == [
        ["lr=0.1", 0.1, "a", "FINISHED"],
        ["lr=0.01", 0.01, "a", "FINISHED"],
        ["lr=0.001", 0.001, "a", "FINISHED"],
    ]
    assert frame["run_id"].is_unique


def test_times_are_utc_and_duration_matches_them(where: dict[str, Any]) -> None:
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(milliseconds=1)
    with sheetlog.start_run(**where):
        time.sleep(0.2)
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(milliseconds=1)
    frame = load(where)
    start, end = frame["start_time"][0], frame["end_time"][0]
    assert str(start.tz) == "UTC" and str(end.tz) == "UTC"
    assert before <= start < end <= after
    duration = frame["duration_s"][0]
    assert duration >= 0.2
    assert abs(duration - (end - start).total_seconds()) < 0.002
    cell = openpyxl.load_workbook(where["target"]).worksheets[0]
    header = [c.value for c in cell[1]]
    start_cell = cell.cell(2, header.index("start_time") + 1)
    assert start_cell.is_date  # a real date cell: Excel sorts and filters it as a time


# -- columns -----------------------------------------------------------------------------------


def test_a_new_param_adds_a_column_at_the_end_and_earlier_rows_stay_empty_there(
    where: dict[str, Any],
) -> None:
    sheetlog.log_run({"lr": 0.1}, {"acc": 0.8}, **where)
    before = sheet_rows(where["target"])[0]
    sheetlog.log_run({"lr": 0.2, "momentum": 0.9}, {"acc": 0.85, "f1": 0.7}, **where)
    header, first, second = sheet_rows(where["target"])
    assert header[0] == "run_id"  # column A in a workbook sheetlog creates
    assert header[: len(before)] == before  # existing columns never move
    assert header[len(before) :] == ["params.momentum", "metrics.f1"]  # grouped: params first
    assert first[len(before) :] == [None, None]
    assert second[len(before) :] == [0.9, 0.7]


def test_nested_params_flatten_with_dots(where: dict[str, Any]) -> None:
    sheetlog.log_run(
        {"optimizer": {"name": "adam", "lr": 0.001, "betas": {"b1": 0.9}}, "epochs": 3}, **where
    )
    frame = load(where)
    assert frame["params.optimizer.lr"].tolist() == [0.001]
    assert frame["params.optimizer.name"].tolist() == ["adam"]
    assert frame["params.optimizer.betas.b1"].tolist() == [0.9]
    assert frame["params.epochs"].tolist() == [3]


def hand_kept_sheet(path: Path) -> None:
    """A sheet a user typed by hand (made with openpyxl: it is the input, not the result)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Experiments"
    sheet.append(["lr", "accuracy", "Notes"])
    sheet.append([0.1, 0.81, "first try"])
    sheet.append([0.05, 0.84, "better"])
    book.save(path)


def test_adopting_a_hand_kept_sheet_uses_its_bare_column_names(where: dict[str, Any]) -> None:
    hand_kept_sheet(where["target"])
    record = sheetlog.log_run({"lr": 0.01}, {"accuracy": 0.88}, notes="by sheetlog", **where)
    rows = sheet_rows(where["target"])
    header = rows[0]
    assert header[:3] == ["lr", "accuracy", "Notes"]
    assert "run_id" in header[3:]  # added as a new column, after the user's
    assert "params.lr" not in header and "metrics.accuracy" not in header
    assert rows[1][:3] == [0.1, 0.81, "first try"]  # the hand-typed rows are untouched
    assert rows[2][:3] == [0.05, 0.84, "better"]
    assert rows[3][:3] == [0.01, 0.88, "by sheetlog"]
    assert rows[3][header.index("run_id")] == record["run_id"]
    frame = load(where)
    assert frame["lr"].tolist() == [0.1, 0.05, 0.01]


def test_a_bare_name_two_logged_keys_could_mean_gets_prefixed_columns(
    where: dict[str, Any],
) -> None:
    hand_kept_sheet(where["target"])
    sheetlog.log_run({"lr": 0.01}, {"lr": 0.002, "accuracy": 0.9}, **where)
    header, *rows = sheet_rows(where["target"])
    assert {"params.lr", "metrics.lr"} <= set(header[3:])
    last = dict(zip(header, rows[-1], strict=True))
    assert last["lr"] is None  # neither value guessed into the ambiguous column
    assert (last["params.lr"], last["metrics.lr"], last["accuracy"]) == (0.01, 0.002, 0.9)


def test_header_names_match_ignoring_case_spaces_and_hyphens(where: dict[str, Any]) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Learning-rate", "PARAMS.EPOCHS", "Accuracy", "verdict"])
    book.active.append([0.5, 1, 0.3, "bad"])
    book.save(where["target"])
    sheetlog.log_run({"learning_rate": 0.1, "epochs": 3}, {"accuracy": 0.9}, **where)
    header, _, row = sheet_rows(where["target"])
    assert header[:4] == ["Learning-rate", "PARAMS.EPOCHS", "Accuracy", "verdict"]
    assert row[:4] == [0.1, 3, 0.9, None]  # the user's own column is left alone
    assert not {"params.learning_rate", "params.epochs", "metrics.accuracy"} & set(header)


@pytest.mark.parametrize(
    ("sheets", "used"),
    [
        (["Summary", "runs", "Charts"], "runs"),  # a sheet named Runs, in any case
        (["Data"], "Data"),  # else the only worksheet
        (["Summary", "Charts"], "Runs"),  # else a new sheet Runs
    ],
)
def test_which_sheet_a_target_without_a_sheet_name_uses(
    where: dict[str, Any], sheets: list[str], used: str
) -> None:
    book = openpyxl.Workbook()
    book.active.title = sheets[0]
    for name in sheets[1:]:
        book.create_sheet(name)
    book.save(where["target"])
    sheetlog.log_run({"lr": 0.1}, **where)
    book = openpyxl.load_workbook(where["target"])
    assert book.sheetnames == sheets + ([used] if used not in sheets else [])
    for sheet in book.worksheets:
        values = [cell.value for row in sheet.iter_rows() for cell in row]
        assert ("run_id" in values) == (sheet.title == used), sheet.title
    assert book[used]["A1"].value == "run_id"


# -- where the workbook is ---------------------------------------------------------------------


def log_without_target(tmp_path: Path) -> dict:
    return sheetlog.log_run({"lr": 0.1}, capture=False, journal_dir=tmp_path / ".sheetlog")


def workbooks(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.xlsx"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a subfolder the script runs from; no SHEETLOG_TARGET set."""
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    (tmp_path / "project" / "scripts").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "project" / "scripts")
    return tmp_path / "project"


def test_default_target_is_runs_xlsx_in_the_working_directory(project: Path) -> None:
    log_without_target(project)
    assert workbooks(project) == ["scripts/runs.xlsx"]


def test_pyproject_target_is_relative_to_the_pyproject_file(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.sheetlog]\ntarget = "logs/experiments.xlsx"\n')
    (project / "sheetlog.toml").write_text('target = "from-sheetlog-toml.xlsx"\n')
    log_without_target(project)
    assert workbooks(project) == ["logs/experiments.xlsx"]


def test_sheetlog_toml_is_used_when_pyproject_has_no_sheetlog_table(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (project / "sheetlog.toml").write_text('target = "book.xlsx#Sweep"\n')
    log_without_target(project)
    assert workbooks(project) == ["book.xlsx"]
    assert openpyxl.load_workbook(project / "book.xlsx").sheetnames == ["Sweep"]


def test_environment_beats_config_files(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "pyproject.toml").write_text('[tool.sheetlog]\ntarget = "config.xlsx"\n')
    monkeypatch.setenv("SHEETLOG_TARGET", str(project / "env.xlsx"))
    log_without_target(project)
    assert workbooks(project) == ["env.xlsx"]


def test_explicit_target_beats_everything(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "pyproject.toml").write_text('[tool.sheetlog]\ntarget = "config.xlsx"\n')
    monkeypatch.setenv("SHEETLOG_TARGET", str(project / "env.xlsx"))
    sheetlog.log_run(
        {"lr": 0.1},
        target=project / "explicit.xlsx",
        capture=False,
        journal_dir=project / ".sheetlog",
    )
    assert workbooks(project) == ["explicit.xlsx"]
    assert len(sheetlog.load(project / "explicit.xlsx")) == 1


# -- context -----------------------------------------------------------------------------------


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A git repository with one commit, as the working directory; returns (path, commit)."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('train')\n")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)
    return repo, git("rev-parse", "HEAD")


def test_context_is_captured_by_default(git_repo: tuple[Path, str], tmp_path: Path) -> None:
    repo, commit = git_repo
    target = tmp_path / "runs.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("error", sheetlog.SheetlogWarning)
        sheetlog.log_run({"lr": 0.1}, target=target, journal_dir=tmp_path / ".sheetlog")
    frame = sheetlog.load(target)
    assert frame["git.commit"].tolist() == [commit]
    assert frame["git.branch"].tolist() == ["main"]
    assert frame["git.dirty"].tolist() == [False]
    assert frame["sys.python"].tolist() == [".".join(map(str, sys.version_info[:3]))]
    assert frame["host"].notna().all() and frame["command"].notna().all()


def test_capture_false_records_no_context(git_repo: tuple[Path, str], tmp_path: Path) -> None:
    target = tmp_path / "runs.xlsx"
    sheetlog.log_run({"lr": 0.1}, target=target, journal_dir=tmp_path / ".sheetlog", capture=False)
    columns = set(sheetlog.load(target).columns)
    assert not {c for c in columns if c.startswith(("git.", "sys."))}
    assert not columns & {"command", "host", "user"}


def test_the_api_is_imported_on_first_use_and_listed_before() -> None:
    """`import sheetlog` stays quick (the command line's read-only commands need no journal or
    delivery code), while tab completion and `from sheetlog import *` still see the API."""
    script = (
        "import sys, sheetlog\n"
        "before = 'sheetlog.api' in sys.modules\n"
        "listed = {'log_run', 'start_run', 'load', 'Run'} <= set(dir(sheetlog))\n"
        "namespace = {}\n"
        "exec('from sheetlog import *', namespace)\n"
        "print(before, listed, callable(namespace['log_run']), 'sheetlog.api' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True", "True", "True"], done.stderr
