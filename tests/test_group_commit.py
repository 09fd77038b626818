"""Group commit between processes sharing a journal: a run that ends while another process is
delivering is left to that process (the leader). These tests play the leader with a real
process holding the journal's delivery lock, and check what the process that left its run does
at exit: once a leader that never wrote the run lets go, it writes the run itself; a leader
still at work is left to finish, without holding up the exit.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import sheetlog

# Plays a leader: holds the delivery lock of the target for HOLD seconds, writes nothing (as a
# leader whose write failed), and lets go.
LEADER = r"""
import sys, time
from pathlib import Path
from sheetlog.delivery import _journal_lock
from sheetlog.journal import Journal
from sheetlog.targets import open_target

target, journal, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
with _journal_lock(Journal(journal), open_target(target).key, wait=True) as held:
    assert held
    Path(journal, "leader-holds").touch()
    time.sleep(hold)
"""

# Logs one run while the leader holds the lock, says whether the row was in the workbook when
# log_run returned, then exits (EXIT_WAIT_S seconds at most for the leader).
FOLLOWER = r"""
import sys
import sheetlog
from sheetlog import delivery

target, journal, exit_wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
delivery.EXIT_WAIT_S = exit_wait
row = sheetlog.log_run({"lr": 0.1}, {"acc": 0.9}, target=target, journal_dir=journal,
                       capture=False)
print(row["run_id"])
print("written at once" if row["run_id"] in set(sheetlog.load(target)["run_id"]) else "left")
"""


def _start_leader(target: Path, journal: Path, hold: float) -> subprocess.Popen:
    leader = subprocess.Popen([sys.executable, "-c", LEADER, str(target), str(journal), str(hold)])
    deadline = time.monotonic() + 60
    while not (journal / "leader-holds").exists():
        assert leader.poll() is None and time.monotonic() < deadline, "the leader did not start"
        time.sleep(0.01)
    return leader


def _follow(target: Path, journal: Path, exit_wait: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", FOLLOWER, str(target), str(journal), str(exit_wait)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _prepared(tmp_path: Path) -> tuple[Path, Path]:
    target, journal = tmp_path / "runs.xlsx", tmp_path / "journal"
    sheetlog.log_run({"lr": 1.0}, {"acc": 0.1}, target=str(target), journal_dir=str(journal))
    return target, journal


@pytest.mark.slow  # waits out the exit-time hand-over (about 5 s)
def test_a_run_left_to_a_leader_that_failed_is_written_at_exit(tmp_path: Path) -> None:
    target, journal = _prepared(tmp_path)
    leader = _start_leader(target, journal, hold=5.0)

    done = _follow(target, journal, exit_wait=30)
    leader.wait(timeout=60)

    assert done.returncode == 0, done.stderr
    run_id, when = done.stdout.split()[:2]
    assert when == "left"  # log_run returned at once, the run left to the leader
    assert run_id in set(sheetlog.load(str(target))["run_id"])  # written by its process at exit
    assert "kept in the journal" not in done.stderr


@pytest.mark.slow  # waits out the exit-time hand-over (about 10 s)
def test_a_leader_still_writing_at_exit_is_left_to_finish(tmp_path: Path) -> None:
    """The process does not wait for ever, nor warn: the leader writes the run (or warns in its
    own process); meanwhile the run is pending in the journal."""
    target, journal = _prepared(tmp_path)
    leader = _start_leader(target, journal, hold=30.0)

    started = time.monotonic()
    done = _follow(target, journal, exit_wait=0.5)
    took = time.monotonic() - started
    leader.kill()
    leader.wait(timeout=60)

    assert done.returncode == 0 and took < 25, done.stderr
    run_id = done.stdout.split()[0]
    assert "kept in the journal" not in done.stderr
    assert run_id not in set(sheetlog.load(str(target))["run_id"])
    report = sheetlog.flush(str(target), journal_dir=str(journal))  # the run was never lost
    assert report.ok and run_id in set(sheetlog.load(str(target))["run_id"])
