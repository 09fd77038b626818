"""Fatal signals end a run as KILLED, and the program's own signal handlers keep working.

Each test runs a real training script that starts a run, says "ready" and waits for a line on
stdin; the test sends it a signal the way a scheduler, a closed terminal or ``kill`` would, and
reads the row back with ``sheetlog.load``.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import sheetlog
from sheetlog.lifecycle import FATAL_SIGNALS

TIMEOUT_S = 60

SCRIPT = """
import os, signal, sys, sheetlog
TARGET, JOURNAL, MODE = sys.argv[1:4]
handled = []
if MODE == "handler-returns":  # e.g. "finish the epoch, then stop"
    signal.signal(signal.SIGTERM, lambda signum, frame: handled.append(signum))
elif MODE == "handler-exits":
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))
elif MODE == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

def sigterm_when_the_row_is_saved(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "add_run":
        sys.setprofile(None)
        os.kill(os.getpid(), signal.SIGTERM)

with sheetlog.start_run(target=TARGET, journal_dir=JOURNAL, capture=False) as run:
    if MODE == "twice":  # the same signal again while the first one is ending the run
        sys.setprofile(sigterm_when_the_row_is_saved)
    print("ready", flush=True)
    sys.stdin.readline()
    run.log_metrics({"handled": len(handled)})
    if MODE == "while-finishing":  # the run ends normally, a signal comes while it is saved
        sys.setprofile(sigterm_when_the_row_is_saved)
"""


def no_core_dump() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGQUIT and SIGXCPU dump core


def signalled(tmp_path: Path, signum: int | None, mode: str = "plain") -> subprocess.Popen[str]:
    """The script, sent ``signum`` (if any) once it is ready, then a line on stdin; ended."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "runs.xlsx"), str(tmp_path / ".sheetlog")]
        + [mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=no_core_dump,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        if signum is not None:
            process.send_signal(signum)
        try:
            process.communicate("go\n", timeout=TIMEOUT_S)
        except BrokenPipeError:
            process.wait(TIMEOUT_S)  # it died of the signal before reading
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process


@pytest.mark.parametrize("signum", FATAL_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_fatal_signal_ends_the_run_killed_and_the_process_dies_of_it(
    tmp_path: Path, signum: int
) -> None:
    process = signalled(tmp_path, signum)
    assert process.returncode == -signum
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    name = signal.Signals(signum).name
    assert frame[["status", "error"]].values.tolist() == [["KILLED", f"terminated by {name}"]]


def test_a_program_handler_that_returns_keeps_the_run_going(tmp_path: Path) -> None:
    process = signalled(tmp_path, signal.SIGTERM, "handler-returns")
    assert process.returncode == 0
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame[["status", "metrics.handled"]].values.tolist() == [["FINISHED", 1]]


def test_a_program_handler_that_exits_ends_the_run_killed(tmp_path: Path) -> None:
    process = signalled(tmp_path, signal.SIGTERM, "handler-exits")
    assert process.returncode == 3
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame[["status", "error"]].values.tolist() == [["KILLED", "terminated by SIGTERM"]]


def test_a_hangup_ignored_by_the_program_is_still_ignored(tmp_path: Path) -> None:
    process = signalled(tmp_path, signal.SIGHUP, "nohup")
    assert process.returncode == 0
    assert sheetlog.load(tmp_path / "runs.xlsx")["status"].tolist() == ["FINISHED"]


def test_a_second_signal_while_the_run_is_being_ended_does_not_lose_it(tmp_path: Path) -> None:
    """The second SIGTERM lands while the first one's handler commits the row: it used to kill
    the process in the middle of that commit."""
    process = signalled(tmp_path, signal.SIGTERM, "twice")
    assert process.returncode == -signal.SIGTERM
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame[["status", "error"]].values.tolist() == [["KILLED", "terminated by SIGTERM"]]


def test_a_signal_while_a_run_ends_normally_waits_for_its_row(tmp_path: Path) -> None:
    """SIGTERM lands while the row of a run that ended normally is being committed: the row
    used to be lost (the run was no longer active, so the handler killed the process at once)."""
    process = signalled(tmp_path, None, "while-finishing")
    assert process.returncode == -signal.SIGTERM
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame[["status", "metrics.handled"]].values.tolist() == [["FINISHED", 0]]


IN_A_THREAD = """
import os, signal, sys, threading, sheetlog
TARGET, JOURNAL = sys.argv[1:3]

def sigterm_when_the_row_is_saved(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "add_run":
        threading.setprofile(None)
        sys.setprofile(None)
        os.kill(os.getpid(), signal.SIGTERM)

def train():
    sys.setprofile(sigterm_when_the_row_is_saved)
    with sheetlog.start_run(target=TARGET, journal_dir=JOURNAL, capture=False) as run:
        run.log_metrics({"loss": 0.5})

sheetlog.start_run(target=TARGET, journal_dir=JOURNAL, capture=False).finish()  # hooks installed
worker = threading.Thread(target=train)
worker.start()
worker.join()
print("the process went on after SIGTERM", flush=True)
"""


def test_a_signal_while_another_thread_saves_a_row_ends_the_process_after_it(
    tmp_path: Path,
) -> None:
    script = tmp_path / "train.py"
    script.write_text(IN_A_THREAD)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runs.xlsx"), str(tmp_path / ".sheetlog")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == -signal.SIGTERM, done.stdout + done.stderr
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame["status"].tolist() == ["FINISHED", "FINISHED"]
    assert frame["metrics.loss"].tolist()[1] == 0.5
