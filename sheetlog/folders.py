"""Checks that a folder sheetlog must write to can be written, before a run relies on it.

A workbook is written through a temporary file next to it and a lock file, and the journal is
a SQLite database with its own side files: all of them need the folder writable, not only the
file. Checked when a run starts, so a run is refused with a message saying what to do instead
of ending up pending with "PermissionError" (or not journaled at all). ``os.access`` answers
for the real user, read-only mounts included (root may write into a mode 555 folder, and can).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigurationError


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (where a missing folder would be made)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def check_writable_folder(folder: Path, purpose: str, fix: str) -> None:
    """ConfigurationError unless ``folder`` (made if missing) can hold new files.

    ``purpose``: what sheetlog keeps there (for the message); ``fix``: what the user can do."""
    existing = nearest_existing(folder)
    if not existing.is_dir():
        raise ConfigurationError(
            f"{existing} is a file, not a folder, so sheetlog cannot keep {purpose} in {folder};"
            f" {fix}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"the folder {existing} is not writable, so sheetlog cannot keep {purpose} in"
            f" {folder}; {fix}"
        )


def check_journal_folder(folder: Path, explicit: str | os.PathLike[str] | None = None) -> None:
    """``check_writable_folder`` for the journal, the message naming where the folder came
    from (``SHEETLOG_DIR``, ``journal_dir=`` or the default ``.sheetlog``)."""
    variable = os.environ.get("SHEETLOG_DIR")
    if variable and Path(variable).expanduser().resolve() == folder:
        source = f"SHEETLOG_DIR={variable} names it: set SHEETLOG_DIR to a folder"
    elif explicit:
        source = f"journal_dir={os.fspath(explicit)!r} names it: pass a folder"
    else:
        source = "it is the default (.sheetlog in the working directory): set SHEETLOG_DIR"
        source += " to a folder"
    check_writable_folder(
        folder,
        "its journal (where every run is saved before it is written anywhere)",
        f"{source} you can write to (it is made if missing)",
    )
