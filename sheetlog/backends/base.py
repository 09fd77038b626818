"""What every backend offers delivery: write records idempotently, read the table back."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class WriteResult:
    """The outcome of one ``Backend.write``: every record is in exactly one of the three."""

    written: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


@dataclass
class Table:
    """A sheet as read back: header names and rows of cell values (``None`` for empty)."""

    header: list[str | None]
    rows: list[list[Any]]
    #: Whether a text ``NaN``, ``inf`` or ``-inf`` may stand for that float (a workbook or a
    #: Google Sheet stores them as text); a CSV file tells them apart (``NaN`` and ``'NaN``).
    nonfinite_texts: bool = True


class Backend(Protocol):
    key: str

    def lock(self) -> AbstractContextManager[None]:
        """Hold the target for one delivery. Raises ``TargetError`` when it cannot be taken."""

    def write(
        self, records: Sequence[dict[str, Any]], possibly_written: Collection[str] = ()
    ) -> WriteResult:
        """Add the columns the records need and append each record not in the target yet.

        The caller holds ``lock()``. Only run_ids in ``possibly_written`` (an earlier delivery of
        them was interrupted) can already be there, so only those are looked for. Raises
        ``TargetError`` when the target cannot take rows now (nothing is written then).
        """

    def read(self) -> Table:
        """The whole runs table."""

    def update(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set cells of rows already in the target, found by run_id (``{run_id: {column:
        value}}``), adding missing columns. The caller holds ``lock()``."""
