"""The undo file of an in-place write (``.<name>.sheetlog-undo``), bound to its workbook.

Before a write overwrites parts of a workbook in place, the bytes about to be overwritten go to
the undo file, fsynced; it is emptied once the workbook is fsynced. A crash in between leaves it,
and the next sheetlog call puts the old bytes back (``recover``).

An undo file must only ever repair the file it was made for: after a crash the user may put
another file at the path (a backup, Excel's repaired copy), and writing old bytes into that one
makes a corrupt zip. So the undo file records the workbook's identity when it was made, and
``recover`` plays it back only while all of it still holds:

- the same file: device and inode (a file moved or saved over the path by rename is another one);
- a size between the size before the write and the size the write ends with (a torn write
  leaves one of those, or something in between; anything else is another file);
- a modification time no older than before the write (2 s of slack for coarse file systems);
- the same bytes in samples of what the write leaves alone (the start of the zip and the end of
  the sheet part's unchanged middle: 64 KB each at most, BLAKE2b), so that a file copied into the
  same inode (``cp backup.xlsx runs.xlsx``) is told apart too.

A stale undo file (any of these fails, the workbook is gone, or an undo file from an older
sheetlog without an identity) is emptied with a warning and the workbook left as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ...errors import TargetError, warn

_MAGIC = b"SLUNDO2\n"
_OLD_MAGIC = b"SLUNDO1\n"
_IDENTITY = struct.Struct("<QQQQqI")  # device, inode, size before, size after, mtime_ns, samples
_SAMPLE = struct.Struct("<QQ16s")  # offset, length, digest
_REGION = struct.Struct("<QQ")  # offset, length (then the bytes)
SAMPLE_BYTES = 64 * 1024
MTIME_SLACK_NS = 2_000_000_000


def undo_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.sheetlog-undo")


@dataclass(frozen=True)
class Region:
    """``data`` at ``offset`` of the workbook."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class Identity:
    """What the workbook was when the undo file was made."""

    device: int
    inode: int
    size_before: int
    size_after: int
    mtime_ns: int
    samples: tuple[tuple[int, int, bytes], ...]  # (offset, length, digest) of unchanged bytes


def sample_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def identity_of(workbook: BinaryIO, untouched: list[tuple[int, int]], size_after: int) -> Identity:
    """The identity of the open ``workbook`` about to be written: the file itself, its size and
    time now and after, and digests of the ``(low, high)`` byte ranges the write leaves as
    they are."""
    status = os.fstat(workbook.fileno())
    samples = []
    for low, high in untouched:
        if high > low:
            workbook.seek(low)
            samples.append((low, high - low, sample_digest(workbook.read(high - low))))
    return Identity(
        status.st_dev,
        status.st_ino,
        status.st_size,
        size_after,
        status.st_mtime_ns,
        tuple(samples),
    )


def write_undo(path: Path, identity: Identity, regions: list[Region]) -> None:
    """Save what is about to be overwritten, durably, before the workbook is touched. The undo
    file is kept between appends (emptied, not deleted), like SQLite's persistent journal."""
    body = bytearray(_MAGIC)
    body += _IDENTITY.pack(
        identity.device,
        identity.inode,
        identity.size_before,
        identity.size_after,
        identity.mtime_ns,
        len(identity.samples),
    )
    for offset, length, digest in identity.samples:
        body += _SAMPLE.pack(offset, length, digest)
    body += struct.pack("<I", len(regions))
    for region in regions:
        body += _REGION.pack(region.offset, len(region.data)) + region.data
    body += struct.pack("<L", zlib.crc32(body))
    undo = undo_path(path)
    existed = undo.exists()
    with open(undo, "r+b" if existed else "wb") as file:
        file.write(body)
        file.truncate()
        file.flush()
        os.fsync(file.fileno())
    if not existed:
        _sync_directory(path.parent)


def clear_undo(path: Path) -> None:
    """Mark the undo file empty (durably): the workbook is complete again."""
    with open(undo_path(path), "r+b") as file:
        file.truncate(0)
        file.flush()
        os.fsync(file.fileno())


def needs_recovery(path: Path) -> bool:
    try:
        return undo_path(path).stat().st_size > 0
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class Verdict:
    """What ``recover`` does with an undo file: ``"repair"`` the workbook, ``"discard"`` a
    stale or incomplete undo file, or nothing (``"none"``: no undo file, or an empty one)."""

    action: str
    reason: str
    stale: bool = False  # a discard that deserves a warning (not an undo file cut short)


def inspect(path: Path) -> Verdict:
    """What ``recover`` would do now, and why (``sheetlog doctor`` says it)."""
    return _parse(path)[0]


def recover(path: Path) -> bool:
    """Undo an append that a crash cut short (the caller holds the workbook lock); True when
    the workbook was put back. A stale undo file is emptied with a warning."""
    verdict, regions, size_before = _parse(path)
    if verdict.action == "none":
        return False
    try:
        if verdict.action == "repair":
            with open(path, "r+b") as target:
                for region in regions:
                    target.seek(region.offset)
                    target.write(region.data)
                target.truncate(size_before)
                target.flush()
                os.fsync(target.fileno())
        clear_undo(path)
    except OSError as error:
        raise TargetError(
            f"{path} needs the bytes of an append that was cut short put back from"
            f" {undo_path(path).name}, and that failed ({error}); make both files writable, and"
            " the next sheetlog call retries"
        ) from error
    if verdict.stale:
        warn(f"sheetlog: {verdict.reason}")
    return verdict.action == "repair"


def _parse(path: Path) -> tuple[Verdict, list[Region], int]:
    undo = undo_path(path)
    try:
        body = undo.read_bytes()
    except FileNotFoundError:
        return Verdict("none", ""), [], 0
    except OSError as error:
        raise TargetError(f"cannot read {undo} ({error}): make it readable") from error
    if not body:
        return Verdict("none", ""), [], 0
    name = undo.name
    if not _complete(body):
        # cut short while it was written: the workbook was not touched yet
        reason = (
            f"{name} was cut short while it was written, so {path.name} was not touched yet:"
            " the undo file is discarded"
        )
        return Verdict("discard", reason), [], 0
    if body.startswith(_OLD_MAGIC):
        return (
            Verdict(
                "discard",
                f"{name} was left by an older sheetlog and does not say which file it was made"
                f" for; it is discarded and {path.name} left as it is (if Excel reports"
                f" {path.name} damaged, let it repair the file or restore a backup)",
                stale=True,
            ),
            [],
            0,
        )
    identity, regions = _decode(body)
    mismatch = _mismatch(path, identity)
    if mismatch:
        return (
            Verdict(
                "discard",
                f"{name} holds the bytes of an append to {path.name} that was cut short, but"
                f" {mismatch}: it is not the file the undo file was made for, so it is left as"
                f" it is and the undo file is discarded (runs not written stay pending)",
                stale=True,
            ),
            [],
            0,
        )
    return (
        Verdict(
            "repair",
            f"{name} holds the bytes of an append to {path.name} that was cut short (crash or"
            " kill); it matches the workbook (same file, size and unchanged bytes), so the old"
            " bytes are put back; the runs are still in the journal and go with the next run"
            " or `sheetlog flush`",
        ),
        regions,
        identity.size_before,
    )


def _complete(body: bytes) -> bool:
    return (
        body[:8] in (_MAGIC, _OLD_MAGIC)
        and len(body) >= len(_MAGIC) + 16
        and struct.unpack_from("<L", body, len(body) - 4)[0] == zlib.crc32(body[:-4])
    )


def _decode(body: bytes) -> tuple[Identity, list[Region]]:
    position = len(_MAGIC)
    device, inode, before, after, mtime_ns, count = _IDENTITY.unpack_from(body, position)
    position += _IDENTITY.size
    samples = []
    for _ in range(count):
        samples.append(_SAMPLE.unpack_from(body, position))
        position += _SAMPLE.size
    (count,) = struct.unpack_from("<I", body, position)
    position += 4
    regions = []
    for _ in range(count):
        offset, length = _REGION.unpack_from(body, position)
        position += _REGION.size
        regions.append(Region(offset, body[position : position + length]))
        position += length
    return Identity(device, inode, before, after, mtime_ns, tuple(samples)), regions


def _mismatch(path: Path, identity: Identity) -> str:
    """Why the file at ``path`` is not the one ``identity`` describes ('' when it is)."""
    try:
        with open(path, "rb") as source:
            status = os.fstat(source.fileno())
            if (status.st_dev, status.st_ino) != (identity.device, identity.inode):
                return f"{path.name} is another file now (moved or saved over it)"
            low, high = sorted((identity.size_before, identity.size_after))
            if not low <= status.st_size <= high:
                return f"{path.name} has a size ({status.st_size:,} bytes) the append cannot leave"
            if status.st_mtime_ns < identity.mtime_ns - MTIME_SLACK_NS:
                return f"{path.name} is older than the append (a copy put back over it)"
            for offset, length, digest in identity.samples:
                source.seek(offset)
                if sample_digest(source.read(length)) != digest:
                    return f"{path.name} has other contents (bytes the append left alone differ)"
    except FileNotFoundError:
        return f"{path.name} no longer exists"
    except IsADirectoryError:
        return f"{path.name} is a folder now"
    return ""


def _sync_directory(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
