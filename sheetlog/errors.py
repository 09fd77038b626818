"""Exceptions and warnings sheetlog raises.

A target that cannot take a row right now raises one of the ``TargetError`` subclasses inside
delivery; delivery turns it into a warning and leaves the row pending in the journal.
"""


class SheetlogError(Exception):
    """Base class of every error sheetlog raises."""


class TargetError(SheetlogError):
    """A target cannot take rows now; the rows stay pending in the journal."""


class TargetLocked(TargetError):
    """The workbook is open in Excel or LibreOffice; writing now would be lost when they save."""


class UnsupportedWorkbook(TargetError):
    """The file is not a workbook sheetlog can write (.xls, encrypted, corrupt, not a zip)."""


class RowRejected(SheetlogError):
    """One row cannot be written to a target as it is (e.g. more columns than the sheet holds)."""


class SheetlogWarning(UserWarning):
    """A run was kept but not (yet) written where it should go, or a value was converted."""
