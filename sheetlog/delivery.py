"""Moving journaled runs into their targets: group commit, idempotent, never losing a row.

Every delivery takes *all* runs pending for a target (not only the run that just finished) and
writes them in one go. A target that cannot take them leaves them pending, with the reason stored
in the journal and shown as a ``SheetlogWarning``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from .errors import SheetlogWarning, TargetError
from .journal import Journal
from .targets import open_target

BATCH_SIZE = 5_000


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


def deliver(journal: Journal, target: str) -> DeliveryReport:
    """Write every run pending for ``target``; failures are warned about, never raised."""
    report = DeliveryReport()
    report.delivered[target] = 0
    try:
        backend = open_target(target)
    except ValueError as error:
        return _keep_pending(journal, target, journal.pending(target), str(error), report)
    while True:
        records = journal.pending(target, BATCH_SIZE)
        if not records:
            break
        try:
            result = backend.write(records)
        except TargetError as error:
            return _keep_pending(journal, target, records, str(error), report)
        except Exception as error:  # a bug must not cost the user their training run
            reason = f"unexpected {type(error).__name__}: {error} (please report this)"
            return _keep_pending(journal, target, records, reason, report)
        journal.mark_delivered(target, result.written + result.already_present)
        report.delivered[target] += len(result.written)
        for notice in result.notices:
            warnings.warn(f"sheetlog: {target}: {notice}", SheetlogWarning, stacklevel=3)
        for run_id, reason in result.rejected.items():
            journal.note_failure(target, [run_id], reason)
        if result.rejected:
            first = next(iter(result.rejected.items()))
            _warn_pending(target, len(result.rejected), f"run {first[0]}: {first[1]}")
            report.pending[target] = len(result.rejected)
            report.errors[target] = first[1]
            break
        if len(records) < BATCH_SIZE:
            break
    return report


def _keep_pending(
    journal: Journal, target: str, records: list[dict], reason: str, report: DeliveryReport
) -> DeliveryReport:
    journal.note_failure(target, [r["run_id"] for r in records], reason)
    count = len(records)
    _warn_pending(target, count, reason)
    report.pending[target] = count
    report.errors[target] = reason
    return report


def _warn_pending(target: str, count: int, reason: str) -> None:
    runs = "1 run is" if count == 1 else f"{count} runs are"
    warnings.warn(
        f"sheetlog: {runs} kept in the journal but not written to {target}: {reason}"
        " — they will be written by the next logged run or sheetlog.flush().",
        SheetlogWarning,
        stacklevel=3,
    )


def flush(journal: Journal, target: str | None = None) -> DeliveryReport:
    """Deliver what is pending for one target, or for every target the journal knows."""
    report = DeliveryReport()
    for key in [target] if target else journal.pending_targets():
        report.merge(deliver(journal, key))
    return report
