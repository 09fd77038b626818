"""Putting a workbook's new bytes at its path without changing anything else the user sees.

A write makes the new workbook in a temporary file next to it and renames it over the old one:
readers see the old workbook or the new one, never a mix. A rename makes a new file, though, and
where that is visible it is not done:

- a read-only workbook (no write permission bit: ``chmod 444``, Windows' read-only attribute) is
  not written at all, although the folder would allow the rename: the runs stay pending and the
  error says how to make it writable;
- a hard-linked workbook (``st_nlink > 1``): a rename would cut the link, and the other names
  would keep showing the old workbook;
- a workbook owned by another user or group than a new file gets: a rename would make it ours,
  and its owner could lose the right to write it.

The last two get the new bytes written into the file itself, from the first byte that differs (a
zip's leading parts rarely change), under an undo file like an in-place append (see ``undo``).
A symbolic link is resolved when the backend is opened, so the file it points to is the one
written and the link stays as it is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from ...errors import TargetError
from .undo import SAMPLE_BYTES, Region, clear_undo, identity_of, write_undo

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_BLOCK = 1 << 20


def check_writable(path: Path) -> None:
    """Raise TargetError, saying what to do, when the workbook is read-only."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not mode & _WRITE_BITS or not os.access(path, os.W_OK):
        fix = (
            "untick Read-only in its Properties"
            if os.name == "nt"
            else f"make it writable (chmod u+w '{path}')"
        )
        raise TargetError(
            f"{path} is read-only, so sheetlog does not change it: {fix}, or log to another"
            " workbook; the runs stay in the journal until then"
        )


def replace_file(path: Path, temporary: Path) -> None:
    """Put ``temporary``'s bytes at ``path`` (``temporary`` is gone afterwards)."""
    try:
        current = path.stat()
    except FileNotFoundError:
        os.replace(temporary, path)
        return
    new = temporary.stat()
    if current.st_nlink == 1 and (current.st_uid, current.st_gid) == (new.st_uid, new.st_gid):
        with contextlib.suppress(OSError):
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
        return
    try:
        _write_into(path, temporary)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _write_into(path: Path, temporary: Path) -> None:
    """Write ``temporary``'s bytes into the file at ``path`` itself (same inode)."""
    with open(path, "r+b") as target, open(temporary, "rb") as source:
        same = _common_prefix(target, source)
        target.seek(same)
        old_rest = target.read()
        source.seek(same)
        new_rest = source.read()
        untouched = [(0, min(same, SAMPLE_BYTES)), (max(0, same - SAMPLE_BYTES), same)]
        identity = identity_of(target, untouched, same + len(new_rest))
        write_undo(path, identity, [Region(same, old_rest)])
        target.seek(same)
        target.write(new_rest)
        target.truncate()
        target.flush()
        os.fsync(target.fileno())
    clear_undo(path)


def _common_prefix(first, second) -> int:
    """How many leading bytes two open files share."""
    position = 0
    while True:
        a, b = first.read(_BLOCK), second.read(_BLOCK)
        if a != b:
            limit = min(len(a), len(b))
            start = next(
                (j for j in range(0, limit, 4096) if a[j : j + 4096] != b[j : j + 4096]), limit
            )
            index = next((i for i in range(start, limit) if a[i] != b[i]), limit)
            return position + index
        if not a:
            return position
        position += len(a)
