"""Moving journaled runs into their targets: group commit, idempotent, never losing a row.

Every delivery takes *all* runs pending for a target (not only the run that just finished) and
writes them in one go. A target that cannot take them leaves them pending, with the reason stored
in the journal and shown as a ``SheetlogWarning``.

Group commit: processes sharing a journal deliver one at a time (a lock file per target in the
journal directory). A run that ends while another process is delivering to its target does not
wait for it: that process, the *leader*, takes every run pending when it starts a write, and
before it lets go it looks again, so a run committed meanwhile is written by it or by the next
leader (``deliver(..., wait=False)``). An explicit flush waits its turn instead. A process that
left runs to a leader checks at exit that they were written (``deliver_handed_over``): if that
leader failed, it tries itself, and warns when it cannot either.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from . import lifecycle
from .backends.base import Backend
from .errors import TargetError, warn
from .journal import Journal, PendingRun
from .targets import open_target

BATCH_SIZE = 5_000
LOCK_TIMEOUT_S = 120
EXIT_WAIT_S = 10  # how long a process at exit waits for the leader writing its runs to let go
_LEADER_ROUNDS = 1_000  # a leader hands over when others keep it writing that long
_handed_over: dict[tuple[Path, str], Journal] = {}  # (journal directory, target): runs left
lifecycle.in_child_after_fork(_handed_over.clear)  # a forked child checks only its own runs


@dataclass
class DeliveryReport:
    """What one flush did, per target key."""

    delivered: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.pending

    def merge(self, other: DeliveryReport) -> None:
        for name in ("delivered", "pending"):
            mine = getattr(self, name)
            for key, count in getattr(other, name).items():
                mine[key] = mine.get(key, 0) + count
        self.errors.update(other.errors)


def deliver(
    journal: Journal, target: str, *, wait: bool = True, timeout: float = LOCK_TIMEOUT_S
) -> DeliveryReport:
    """Write every run pending for ``target``; failures are warned about, never raised.

    ``wait=False`` (a run just ended): when another process sharing the journal is delivering
    to ``target``, return at once and leave the run to it (see the module docstring). Else wait
    up to ``timeout`` seconds for it."""
    report = DeliveryReport(delivered={target: 0})
    try:
        backend = open_target(target, cache_dir=journal.directory)
    except ValueError as error:
        return _keep_pending(journal, target, journal.pending(target), str(error), report)
    for _ in range(_LEADER_ROUNDS):
        runs: list[PendingRun] = []
        try:
            with _journal_lock(journal, target, wait, timeout) as held:
                if not held:  # the leader will write our runs
                    _handed_over[(journal.directory, target)] = journal
                    return report
                with backend.lock():
                    rejected = 0
                    while True:
                        runs = journal.pending(target, BATCH_SIZE, offset=rejected)
                        if not runs:
                            break
                        rejected += _deliver_batch(journal, target, backend, runs, report)
                        if len(runs) < BATCH_SIZE:
                            break
        except TargetError as error:
            return _keep_pending(
                journal, target, runs or journal.pending(target), str(error), report
            )
        except Exception as error:  # a bug must not cost the user their training run
            reason = f"unexpected {type(error).__name__}: {error} (please report this)"
            return _keep_pending(journal, target, runs or journal.pending(target), reason, report)
        if report.pending or not journal.has_pending(target):
            return report
        # Runs committed while we wrote, by processes that left them to us: once more.
    return report


def deliver_handed_over(timeout: float = EXIT_WAIT_S) -> None:
    """At exit: once the leader this process left runs to lets go (``timeout`` seconds at
    most), runs still pending (that leader failed) are written now, or warned about. A leader
    still at work after ``timeout`` is left to finish: it writes them, or warns itself."""
    handed_over = dict(_handed_over)
    _handed_over.clear()
    for (_, target), journal in handed_over.items():
        try:
            if not journal.has_pending(target):
                continue
            with _journal_lock(journal, target, wait=True, timeout=timeout):
                pass  # the leader has let go
        except TargetError:
            continue
        except Exception as error:  # noqa: BLE001 - the process is ending: say, don't raise
            warn(f"sheetlog could not check the runs left for {target}: {error}")
            continue
        if journal.has_pending(target):
            deliver(journal, target)


@contextlib.contextmanager
def _journal_lock(
    journal: Journal, target: str, wait: bool, timeout: float = LOCK_TIMEOUT_S
) -> Iterator[bool]:
    """Held while this journal's runs go to ``target``: processes sharing a journal would
    otherwise read the same pending runs and both send them (a Google Sheet, unlike a workbook
    file, has no lock of its own). Yields whether it is held (``wait=False`` does not wait)."""
    digest = hashlib.sha256(target.encode()).hexdigest()[:16]
    lock = FileLock(journal.directory / f"delivery-{digest}.lock")
    try:
        lock.acquire(timeout=timeout if wait else 0, poll_interval=0.01)
    except Timeout as error:
        if not wait:
            yield False
            return
        raise TargetError(
            f"another sheetlog process sharing the journal {journal.directory} was still"
            f" writing to {target} after {timeout:g} s"
        ) from error
    try:
        yield True
    finally:
        lock.release()


def _deliver_batch(
    journal: Journal,
    target: str,
    backend: Backend,
    runs: list[PendingRun],
    report: DeliveryReport,
) -> int:
    """Write one batch; returns how many runs the target rejected (they stay pending)."""
    journal.begin_attempt(target, [run.run_id for run in runs])
    possibly_written = {run.run_id for run in runs if run.attempts > 0}
    result = backend.write([run.record for run in runs], possibly_written)
    journal.mark_delivered(target, result.written + result.already_present)
    report.delivered[target] += len(result.written)
    for notice in result.notices:
        warn(f"sheetlog: {target}: {notice}")
    for run_id, reason in result.rejected.items():
        journal.note_failure(target, [run_id], reason)
    if result.rejected:
        run_id, reason = next(iter(result.rejected.items()))
        _warn_pending(target, len(result.rejected), f"run {run_id}: {reason}")
        report.pending[target] = report.pending.get(target, 0) + len(result.rejected)
        report.errors[target] = reason
    return len(result.rejected)


def _keep_pending(
    journal: Journal, target: str, runs: list[PendingRun], reason: str, report: DeliveryReport
) -> DeliveryReport:
    journal.note_failure(target, [run.run_id for run in runs], reason)
    count = len(runs)
    _warn_pending(target, count, reason)
    report.pending[target] = count
    report.errors[target] = reason
    return report


def _warn_pending(target: str, count: int, reason: str) -> None:
    runs, they = ("1 run is", "it") if count == 1 else (f"{count} runs are", "they")
    warn(
        f"sheetlog: {runs} kept in the journal but not written to {target}: {reason}"
        f" — {they} will be written by the next logged run or sheetlog.flush()."
    )


def flush(journal: Journal, target: str | None = None) -> DeliveryReport:
    """Deliver what is pending for one target, or for every target the journal knows."""
    report = DeliveryReport()
    for key in [target] if target else journal.pending_targets():
        report.merge(deliver(journal, key))
    return report
