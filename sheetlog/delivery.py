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

A target that cannot be reached is left alone for a while (``sheetlog.target_backoff``): runs
ending meanwhile keep their rows pending at no cost; an explicit flush tries at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import lifecycle
from .backends.base import Backend
from .errors import TargetError, TargetUnavailable, warn
from .journal import Journal, PendingRun
from .target_backoff import TargetBackoff
from .targets import open_target

BATCH_SIZE = 5_000
LOCK_TIMEOUT_S = 120
FRESH_S = 5.0  # a run journaled this recently, never tried, is appended without a look (below)
EXIT_WAIT_S = 10  # how long a process at exit waits for the leader writing its runs to let go
_LEADER_ROUNDS = 1_000  # a leader hands over when others keep it writing that long
_handed_over: dict[tuple[Path, str], Journal] = {}  # (journal directory, target): runs left
_unjournaled: list[tuple[Journal, str, dict[str, Any]]] = []  # rows the journal could not take
lifecycle.in_child_after_fork(_handed_over.clear)  # a forked child checks only its own runs
lifecycle.in_child_after_fork(_unjournaled.clear)  # and never writes its parent's rows


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
    journal: Journal,
    target: str,
    *,
    wait: bool = True,
    timeout: float = LOCK_TIMEOUT_S,
    honour_backoff: bool | None = None,
) -> DeliveryReport:
    """Write every run pending for ``target``; failures are warned about, never raised.

    ``wait=False`` (a run just ended): when another process sharing the journal is delivering
    to ``target``, return at once and leave the run to it (see the module docstring). Else wait
    up to ``timeout`` seconds for it. ``honour_backoff`` (default: ``not wait``): skip a target
    found unreachable lately."""
    report = DeliveryReport(delivered={target: 0})
    backoff = TargetBackoff(journal.directory, target)
    state = backoff.active() if (not wait if honour_backoff is None else honour_backoff) else None
    if state is not None:
        return _keep_pending(journal, target, journal.pending(target), state.describe(), report)
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
                        fetched = journal.pending(target, BATCH_SIZE, offset=rejected)
                        if not fetched:
                            break
                        runs = _without_undecodable(journal, target, fetched)
                        if runs:
                            rejected += _deliver_isolating(journal, target, backend, runs, report)
                        if len(fetched) < BATCH_SIZE:
                            break
        except TargetError as error:
            if isinstance(error, TargetUnavailable):
                backoff.failed(str(error))
            return _keep_pending(
                journal, target, runs or journal.pending(target), str(error), report
            )
        except Exception as error:  # a bug must not cost the user their training run
            reason = f"unexpected {type(error).__name__}: {error} (please report this)"
            return _keep_pending(journal, target, runs or journal.pending(target), reason, report)
        if report.delivered[target] or report.pending:  # the target answered
            backoff.clear()
        if report.pending or not journal.has_pending(target):
            return report
        # Runs committed while we wrote, by processes that left them to us: once more.
    return report


def deliver_unjournaled(
    journal: Journal, target: str, record: dict[str, Any], why: BaseException
) -> None:
    """The journal cannot take a run's row (its disk is full, ...): write the row straight to
    ``target``; when that fails too, keep it in memory and try both again at exit
    (``retry_unjournaled``). Never raises: a training script's own exception must not be
    replaced by sheetlog's. Says so loudly either way."""
    run_id = record["run_id"]
    problem = f"{type(why).__name__}: {why}"
    try:
        _write_straight(journal, target, record)
    except Exception as error:  # noqa: BLE001 - kept in memory instead
        _unjournaled.append((journal, target, record))
        warn(
            f"sheetlog: RUN {run_id} IS NOT SAVED YET: the journal {journal.directory} cannot"
            f" take it ({problem}) and {target} cannot either ({error}). It is kept in memory"
            " and tried again when this process exits: free some disk space now."
        )
        return
    warn(
        f"sheetlog: the journal {journal.directory} cannot take run {run_id} ({problem}): it was"
        f" written straight to {target}. Free some disk space: runs that cannot be journaled"
        " are lost when their target is unreachable too."
    )


def retry_unjournaled() -> None:
    """At exit: rows the journal could not take go to the journal (then their target) or
    straight to their target; a row that still cannot be kept is printed whole as a warning,
    the last place it can go."""
    while _unjournaled:
        journal, target, record = _unjournaled.pop(0)
        try:
            journal.add_run(record, [target])
            # The straight write that failed may have landed (an answer lost): look first.
            journal.note_maybe_written(target, [record["run_id"]])
        except Exception:  # noqa: BLE001 - the journal is still full: try the target
            try:
                _write_straight(journal, target, record)
            except Exception as error:  # noqa: BLE001 - the process is ending: say, don't raise
                row = json.dumps(record, default=str, ensure_ascii=False)
                warn(
                    f"sheetlog: RUN {record['run_id']} IS LOST unless you keep this message:"
                    f" neither the journal {journal.directory} nor {target} could take it"
                    f" ({error}). Its row: {row}"
                )
            continue
        deliver(journal, target)


def _write_straight(journal: Journal, target: str, record: dict[str, Any]) -> None:
    backend = open_target(target, cache_dir=journal.directory)
    with backend.lock():
        result = backend.write([record], {record["run_id"]})
    if result.rejected:
        raise TargetError(next(iter(result.rejected.values())))


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
            deliver(journal, target, honour_backoff=True)


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


def _without_undecodable(journal: Journal, target: str, runs: list[PendingRun]) -> list[PendingRun]:
    """Set aside the runs whose record cannot be decoded, saying so; the others."""
    for run in runs:
        if run.record is None:
            journal.set_aside(run.run_id, run.problem or "its record cannot be read")
            warn(
                f"sheetlog: run {run.run_id} cannot be written to {target}: {run.problem}. It is"
                " set aside in the journal so that the other runs are written;"
                f" `sheetlog pending --export {run.run_id}` prints it as stored,"
                f" `sheetlog pending --drop {run.run_id}` removes it."
            )
    return [run for run in runs if run.record is not None]


def _deliver_isolating(
    journal: Journal,
    target: str,
    backend: Backend,
    runs: list[PendingRun],
    report: DeliveryReport,
) -> int:
    """``_deliver_batch``; when the batch fails for a reason that is not the target's (a bug
    some record triggers), each run is written alone, so that one bad run does not keep the
    others pending. Returns how many runs stay pending."""
    try:
        return _deliver_batch(journal, target, backend, runs, report)
    except TargetError:
        raise
    except Exception as error:
        if len(runs) == 1:
            raise
        first = error
    rejected = 0
    failures: dict[str, str] = {}
    for run in runs:  # the batch's outcome is unknown: each is looked for before it is written
        try:
            rejected += _deliver_batch(journal, target, backend, [run], report, suspect=True)
        except TargetError:
            raise
        except Exception as error:  # noqa: BLE001 - this run alone stays pending
            name = type(error).__name__
            failures[run.run_id] = f"unexpected {name}: {error} (please report this)"
    if len(failures) == len(runs):
        raise first
    for run_id, reason in failures.items():
        journal.note_failure(target, [run_id], reason)
        _warn_pending(target, 1, f"run {run_id}: {reason}")
        report.pending[target] = report.pending.get(target, 0) + 1
        report.errors[target] = reason
    return rejected + len(failures)


def _deliver_batch(
    journal: Journal,
    target: str,
    backend: Backend,
    runs: list[PendingRun],
    report: DeliveryReport,
    suspect: bool = False,
) -> int:
    """Write one batch; returns how many runs the target rejected (they stay pending).
    ``suspect``: every run may be in the target already (an earlier write's outcome is
    unknown), so each is looked for."""
    journal.begin_attempt(target, [run.run_id for run in runs])
    now = time.time()
    possibly_written = {run.run_id for run in runs if suspect or not _fresh(run, now)}
    records = [run.record for run in runs if run.record is not None]
    result = backend.write(records, possibly_written)
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


def _fresh(run: PendingRun, now: float) -> bool:
    """Whether ``run`` can be appended without looking for it in the target first: never tried,
    and journaled moments ago (the steady state: a run's own process writes it as it ends).
    Any other run may be there already: an attempt of unknown outcome, a copy of this journal
    (its original, or the copy: see ``journal._note_home``) or ``sheetlog sync`` may have
    written it. Looking costs a scan of the run_id column (xlsx: 6 ms at 1,000 rows, 300 ms
    at 100,000; Google Sheets: one more read) that the steady state does not pay."""
    return run.attempts == 0 and 0 <= now - run.created < FRESH_S


def _keep_pending(
    journal: Journal, target: str, runs: list[PendingRun], reason: str, report: DeliveryReport
) -> DeliveryReport:
    try:
        journal.note_failure(target, [run.run_id for run in runs], reason)
    except sqlite3.Error as error:  # a full journal disk: the reason is said, not stored
        reason += f" (and the journal cannot record why: {error})"
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
