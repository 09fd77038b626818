"""Exceptions and warnings sheetlog raises.

A target that cannot take a row right now raises one of the ``TargetError`` subclasses inside
delivery; delivery turns it into a warning and leaves the row pending in the journal.
"""

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def warn(message: str) -> None:
    """Issue a ``SheetlogWarning`` attributed to the first caller outside sheetlog."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, SheetlogWarning, stacklevel=level + 1)


class SheetlogError(Exception):
    """Base class of every error sheetlog raises."""


class TargetError(SheetlogError):
    """A target cannot take rows now; the rows stay pending in the journal."""


class TargetLocked(TargetError):
    """The workbook is open in Excel or LibreOffice; writing now would be lost when they save."""


class UnsupportedWorkbook(TargetError):
    """The file is not a workbook sheetlog can write (.xls, encrypted, corrupt, not a zip)."""


class TargetUnavailable(TargetError):
    """The target cannot be reached (network down, server not answering, retries spent):
    delivery leaves it alone for a while (see ``sheetlog.target_backoff``)."""


class RowRejected(SheetlogError):
    """One row cannot be written to a target as it is (e.g. more columns than the sheet holds)."""


class QueryError(SheetlogError, ValueError):
    """A question about the runs that cannot be answered as asked: an unknown or ambiguous
    column, a condition that is not NAME OP VALUE. ``option`` names the CLI option it came from."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class SheetlogWarning(UserWarning):
    """A run was kept but not (yet) written where it should go, or a value was converted."""


class ConfigurationError(SheetlogError, ValueError):
    """A setting cannot work as given (a target, the journal folder); the message says what to
    do. Raised before anything is journaled."""


class RunEndedError(SheetlogError, RuntimeError):
    """A logging call on a run that has already ended: the value would be lost."""


class RunNotFound(SheetlogError, LookupError):
    """No run answers to the run_id, run_id prefix or name given (or a prefix fits several)."""
