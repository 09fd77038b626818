"""Library messages that say what to do (issue 10, item 16, the library side): a target or a
journal in a folder that cannot be written, a ``#`` in a path, ``SHEETLOG_DIR`` naming a file,
a model path that does not exist, a logging call after the run ended.

Real parts: a real read-only folder (a read-only tmpfs mount when the tests run as root, who may
write anywhere else; a mode 555 folder otherwise), real workbooks read back with openpyxl, real
journals.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import sheetlog
from sheetlog.errors import ConfigurationError, RunEndedError, SheetlogWarning
from sheetlog.journal import Journal


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"root cannot mount a read-only folder here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _journaled(journal: Path) -> int:
    if not (journal / "journal.db").exists():
        return 0
    return sum(s.count for s in Journal(journal).pending_summary())


@pytest.mark.parametrize("name", ["runs.xlsx", "runs.xlsx#Sweep", "runs.csv", "new/runs.xlsx"])
def test_a_target_in_a_read_only_folder_is_refused_before_anything_is_journaled(
    read_only_folder: Path, tmp_path: Path, name: str
) -> None:
    journal = tmp_path / "j"
    target = f"{read_only_folder}/{name}"
    with pytest.raises(ConfigurationError, match="is not writable") as raised:
        sheetlog.start_run({"lr": 0.1}, target=target, journal_dir=journal, capture=False)
    message = str(raised.value)
    assert f"the folder {read_only_folder} is not writable" in message
    assert "folder you can write to" in message
    assert isinstance(raised.value, ValueError)  # a configuration error, as the others
    with pytest.raises(ConfigurationError, match="is not writable"):
        sheetlog.log_run({"lr": 0.1}, target=target, journal_dir=journal, capture=False)
    assert _journaled(journal) == 0  # nothing left pending forever


@pytest.mark.parametrize("name", ["runs.xlsx", "runs.csv"])
def test_a_target_that_is_a_folder_is_refused_naming_a_file_in_it(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / name).mkdir()
    with pytest.raises(ConfigurationError, match="is a folder, not a file") as raised:
        sheetlog.log_run({"lr": 0.1}, target=tmp_path / name, journal_dir=tmp_path / "j")
    assert str(tmp_path / name / "runs.xlsx") in str(raised.value)
    assert _journaled(tmp_path / "j") == 0


def test_a_journal_in_a_read_only_folder_is_refused_naming_sheetlog_dir(
    read_only_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEETLOG_DIR", str(read_only_folder / ".sheetlog"))
    with pytest.raises(ConfigurationError) as raised:
        sheetlog.log_run({"lr": 0.1}, target=tmp_path / "runs.xlsx", capture=False)
    message = str(raised.value)
    assert f"the folder {read_only_folder} is not writable" in message
    assert "SHEETLOG_DIR=" in message and "set SHEETLOG_DIR to a folder" in message


@pytest.mark.parametrize("how", ["SHEETLOG_DIR", "journal_dir"])
def test_sheetlog_dir_naming_a_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    where: dict[str, Any] = {"target": tmp_path / "runs.xlsx", "capture": False}
    if how == "SHEETLOG_DIR":
        monkeypatch.setenv("SHEETLOG_DIR", str(a_file))
    else:
        where["journal_dir"] = a_file
    with pytest.raises(ConfigurationError) as raised:
        sheetlog.log_run({"lr": 0.1}, **where)
    message = str(raised.value)
    assert f"{a_file} is a file, not a folder" in message
    assert (f"SHEETLOG_DIR={a_file}" if how == "SHEETLOG_DIR" else "journal_dir=") in message
    assert a_file.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("target", "path", "sheet"),
    [
        ("exp#3/runs.xlsx", "exp#3/runs.xlsx", "Runs"),
        ("runs#2.xlsx", "runs#2.xlsx", "Runs"),
        ("exp#3/runs#2.xlsx#Sweep", "exp#3/runs#2.xlsx", "Sweep"),
        ("runs.xlsx#A#B", "runs.xlsx", "A#B"),
    ],
)
def test_a_hash_in_a_path_is_part_of_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, path: str, sheet: str
) -> None:
    """'#' starts a sheet name only right after .xlsx/.xlsm: anywhere else it is the path's."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp#3").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        row = sheetlog.log_run({"lr": 0.1}, target=target, journal_dir=tmp_path / "j")
    book = openpyxl.load_workbook(tmp_path / path, read_only=True)
    assert sheet in book.sheetnames
    cells = list(book[sheet].iter_rows(values_only=True))
    assert cells[1][cells[0].index("run_id")] == row["run_id"]
    assert sheetlog.load(target)["run_id"].tolist() == [row["run_id"]]


def test_a_hash_in_a_configured_relative_path_stays_in_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.sheetlog]\ntarget = "exp#3/runs.xlsx#Sweep"\n')
    (tmp_path / "exp#3").mkdir()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    sheetlog.log_run({"lr": 0.1}, journal_dir=tmp_path / "j", capture=False)
    assert "Sweep" in openpyxl.load_workbook(tmp_path / "exp#3" / "runs.xlsx").sheetnames


@pytest.mark.parametrize("target", ["results#1", "runs.csv#Sweep", "runs#1"])
def test_a_target_with_a_hash_that_names_nothing_says_how_to_write_it(
    tmp_path: Path, target: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        sheetlog.log_run({"lr": 0.1}, target=target, journal_dir=tmp_path / "j")
    message = str(raised.value)
    assert "A '#' right after .xlsx or .xlsm starts the sheet name" in message
    assert "any other '#' is part of the path" in message and "exp#3/runs.xlsx" in message


def test_log_model_of_a_missing_path_warns_and_records_it(tmp_path: Path) -> None:
    target = tmp_path / "runs.xlsx"
    with pytest.warns(SheetlogWarning, match="does not exist") as caught:
        row = sheetlog.log_run(
            model_path=tmp_path / "model.pt", target=target, journal_dir=tmp_path / "j"
        )
    assert str(tmp_path / "model.pt") in str(caught[0].message)
    assert row["model_path"] == str(tmp_path / "model.pt")
    assert sheetlog.load(target)["model_path"].tolist() == [str(tmp_path / "model.pt")]


CALLS_AFTER_THE_END = {
    "log_metrics": lambda run: run.log_metrics({"acc": 0.9}),
    "log_metric": lambda run: run.log_metric("acc", 0.9, step=3),
    "log_params": lambda run: run.log_params({"lr": 0.2}),
    "log_param": lambda run: run.log_param("lr", 0.2),
    "set_tags": lambda run: run.set_tags({"stage": "late"}),
    "set_tag": lambda run: run.set_tag("stage", "late"),
    "log_model": lambda run: run.log_model("model.pt"),
}


@pytest.mark.parametrize("call", sorted(CALLS_AFTER_THE_END))
@pytest.mark.parametrize("ended", ["finish", "with", "failed"])
def test_logging_after_the_run_ended_is_an_error_not_a_silent_drop(
    tmp_path: Path, call: str, ended: str
) -> None:
    where = {"target": tmp_path / "runs.xlsx", "journal_dir": tmp_path / "j", "capture": False}
    if ended == "finish":
        run = sheetlog.start_run({"lr": 0.1}, **where)
        run.log_metrics({"acc": 0.5})  # the fast path knows this key
        run.finish()
    elif ended == "with":
        with sheetlog.start_run({"lr": 0.1}, **where) as run:
            run.log_metrics({"acc": 0.5})
    else:
        with pytest.raises(ZeroDivisionError), sheetlog.start_run({"lr": 0.1}, **where) as run:
            run.log_metrics({"acc": 0.5})
            1 / 0  # noqa: B018
    with pytest.raises(RunEndedError, match="has already ended") as raised:
        CALLS_AFTER_THE_END[call](run)
    assert isinstance(raised.value, RuntimeError)
    assert run.run_id in str(raised.value) and "before finish()" in str(raised.value)
    row = sheetlog.load(where["target"]).iloc[0]
    assert row["params.lr"] == 0.1 and row["metrics.acc"] == 0.5
