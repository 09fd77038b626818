"""Appending to a large worksheet without reading or rewriting it whole.

The plain path (``backend._append``) decompresses the whole sheet part and writes a new file:
both grow with the number of rows. Once the plain path has stored the sheet part as chunks with
CRCs and a head slot (see ``chunked``), and placed it after every part that does not change on
an append, an append only needs:

- the head chunk (up to the end of the header row: ``<dimension>``, ``<cols>``, the header) and
  the last chunks (the last rows, ``</sheetData>`` and what follows), decompressed: the middle of
  the sheet is never read;
- the part's new CRC, from the stored CRCs of the chunks it replaces (``crc``);
- new bytes for the head slot (same size, padded), the part's local header (same size), and
  everything from the first replaced tail chunk to the end of the file: the new tail chunks, the
  small parts stored after the sheet (tables, ...), the central directory.

A workbook under ``IN_PLACE_ABOVE`` bytes gets a new file with those bytes, the rest copied
without being decompressed, renamed over the old one (what the plain path does). A bigger one,
where copying would make appends slow, is written in place: first the bytes about to be
overwritten (a few hundred KB at most) and the file's length go to an undo file next to it
(``.<name>.sheetlog-undo``, see ``undo``: bound to this very file), fsynced; it is emptied once
the workbook is fsynced. A crash in the few milliseconds in between leaves the undo file, and the
next sheetlog call that opens the workbook (``recover``: any append, flush or load) puts the old
bytes back. Until then another
program opening the workbook would find it damaged: that is the price of appends whose cost
does not grow with the workbook.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import crc
from .chunked import ChunkMap, chunk_extra, compress_chunk, cut_points, padded, read_chunk_map
from .package import Package, compressed_entry
from .replacing import replace_file
from .undo import SAMPLE_BYTES, Region, clear_undo, identity_of, write_undo
from .worksheet import Edit, apply_edits

AFTER_LIMIT = 4 * 1024 * 1024  # at most this many bytes after the sheet's data get rewritten
IN_PLACE_ABOVE = 8 * 1024 * 1024  # smaller workbooks are copied whole (atomic for readers)
TAIL_MERGE = 128 * 1024  # small chunks before the last rows are recompressed with them
_LOCAL = struct.Struct("<4s5H3L2H")
_END = struct.Struct("<4s4H2LH")
_CENTRAL_FIXED = 46


@dataclass
class StoredSheet:
    """The head and tail of a stored sheet part, joined as one XML (``xml``) for ``Worksheet``:
    ``head_length`` bytes of head, then the tail, which starts at chunk ``tail_index``."""

    info: zipfile.ZipInfo
    chunk_map: ChunkMap
    data_offset: int
    xml: bytes
    head_length: int
    tail_index: int

    def split(self, edits: list[Edit]) -> tuple[list[Edit], list[Edit]] | None:
        """Edits of the joined XML as (head edits, tail edits in tail coordinates); None when
        one crosses the join."""
        head, tail = [], []
        for edit in edits:
            if edit.end <= self.head_length:
                head.append(edit)
            elif edit.start >= self.head_length:
                shift = self.head_length
                tail.append(Edit(edit.start - shift, edit.end - shift, edit.text, edit.isolate))
            else:
                return None
        return head, tail


def open_stored_sheet(
    package: Package, part: str, has_data_row: Callable[[bytes, int], bool]
) -> StoredSheet | None:
    """Read the head and enough tail chunks of ``part``; None when the part is not stored for
    appending in place. ``has_data_row(xml, head_length)`` says whether the joined XML has
    its last row with values in the tail (else one more chunk is read)."""
    info = package.info(part)
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x08:
        return None
    chunk_map = read_chunk_map(info.extra, info.CRC, info.file_size, info.compress_size)
    if chunk_map is None or not chunk_map.head_slot or len(chunk_map.chunks) < 2:
        return None
    with open(package.path, "rb") as source:
        source.seek(info.header_offset)
        local = _LOCAL.unpack(source.read(_LOCAL.size))
        if local[0] != b"PK\x03\x04" or local[-1] != 0:
            return None
        data_offset = info.header_offset + _LOCAL.size + local[-2]
        offsets = [0]
        for _, compressed, _ in chunk_map.chunks:
            offsets.append(offsets[-1] + compressed)

        def chunk(index: int) -> bytes:
            source.seek(data_offset + offsets[index])
            data = source.read(chunk_map.chunks[index][1])
            return zlib.decompressobj(-15).decompress(data)

        head = chunk(0)
        index = len(chunk_map.chunks) - 1
        tail = chunk(index)
        while index > 1 and not has_data_row(head + tail, len(head)):
            index -= 1
            tail = chunk(index) + tail
        while index > 1 and chunk_map.chunks[index - 1][0] < TAIL_MERGE:
            index -= 1
            tail = chunk(index) + tail
    return StoredSheet(info, chunk_map, data_offset, head + tail, len(head), index)


def append_in_place(package: Package, stored: StoredSheet, edits: list[Edit], level: int) -> bool:
    """Write the sheet part with ``edits`` and the parts ``package`` changed; False (nothing
    written) when that cannot be done in place."""
    split = stored.split(edits)
    if split is None:
        return False
    head_edits, tail_edits = split
    chunks = stored.chunk_map.chunks
    old_head = stored.xml[: stored.head_length]
    old_tail = stored.xml[stored.head_length :]
    new_head = apply_edits(old_head, head_edits)
    head_chunk = padded(compress_chunk(new_head, level, final=False), chunks[0][1])
    if head_chunk is None:
        return False
    new_tail = apply_edits(old_tail, tail_edits)
    tail_chunks = _compress_tail(new_tail, tail_edits, level)

    middle = chunks[1 : stored.tail_index]
    middle_length = sum(u for u, _, _ in middle)
    old_tail_crc = 0
    for u, _, c in chunks[stored.tail_index :]:
        old_tail_crc = crc.combine(old_tail_crc, c, u)
    head_and_middle = crc.uncombine(stored.info.CRC, old_tail_crc, len(old_tail))
    middle_crc = head_and_middle ^ crc.combine(chunks[0][2], 0, middle_length)
    new_crc = crc.combine(
        crc.combine(zlib.crc32(new_head), middle_crc, middle_length),
        zlib.crc32(new_tail),
        len(new_tail),
    )
    new_chunks = [(len(new_head), len(head_chunk), zlib.crc32(new_head)), *middle]
    new_chunks += [(u, len(data), c) for data, u, c in tail_chunks]
    extra = chunk_extra(new_crc, new_chunks, head_slot=True)
    if not extra:
        return False
    size = len(new_head) + middle_length + len(new_tail)
    compressed = sum(c for _, c, _ in new_chunks)
    return _write(package, stored, head_chunk, tail_chunks, new_crc, size, compressed, extra)


def _compress_tail(tail: bytes, edits: list[Edit], level: int) -> list[tuple[bytes, int, int]]:
    """(compressed, length, crc) chunks of the new tail, cut as ``cut_points`` says, the last
    one ending the deflate stream."""
    bounds = sorted({0, len(tail), *(cut for cut in cut_points(edits) if 0 < cut < len(tail))})
    pieces = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        piece = tail[low:high]
        final = high == len(tail)
        pieces.append((compress_chunk(piece, level, final), len(piece), zlib.crc32(piece)))
    return pieces


def _write(
    package: Package,
    stored: StoredSheet,
    head_chunk: bytes,
    tail_chunks: list[tuple[bytes, int, int]],
    new_crc: int,
    size: int,
    compressed: int,
    extra: bytes,
) -> bool:
    info = stored.info
    path = package.path
    changed = set(package.changed_parts())
    infos = sorted(package.infos(), key=lambda i: i.header_offset)
    after = [i for i in infos if i.header_offset > info.header_offset]
    if not changed <= {i.filename for i in after}:
        return False  # a part stored before the sheet changed (or was added): plain path
    with open(path, "rb") as source:
        file_size = source.seek(0, os.SEEK_END)
        end = _end_record(source, file_size)
        if end is None:
            return False
        directory_offset, directory_size, end_record = end
        old_data_end = stored.data_offset + info.compress_size
        if directory_offset + directory_size + len(end_record) != file_size:
            return False
        if file_size - old_data_end > AFTER_LIMIT or size >= 2**32 or compressed >= 2**32:
            return False
        source.seek(info.header_offset)
        old_local = source.read(stored.data_offset - info.header_offset)
        source.seek(stored.data_offset)
        old_head = source.read(len(head_chunk))
        cut = stored.data_offset + sum(
            c for _, c, _ in stored.chunk_map.chunks[: stored.tail_index]
        )
        source.seek(cut)
        old_rest = source.read(file_size - cut)
        source.seek(directory_offset)
        directory = source.read(directory_size)
        members = {}
        bounds = [i.header_offset for i in after] + [directory_offset]
        for member, next_offset in zip(after, bounds[1:], strict=True):
            source.seek(member.header_offset)
            members[member.filename] = source.read(next_offset - member.header_offset)

    new_local = bytearray(old_local)
    struct.pack_into("<3L", new_local, 14, new_crc, compressed, size)
    tail = b"".join(data for data, _, _ in tail_chunks)
    rest = bytearray(tail)
    new_offsets: dict[str, int] = {}
    replaced: dict[str, tuple[bytes, int]] = {}
    position = cut + len(tail)
    for member in after:
        new_offsets[member.filename] = position
        if member.filename in changed:
            entry = compressed_entry(member.filename, package.read(member.filename), member)
            rest += entry.local_header() + entry.data
            replaced[member.filename] = (entry.central_header(position), position)
            position += len(entry.local_header()) + len(entry.data)
        else:
            rest += members[member.filename]
            position += len(members[member.filename])
    new_directory = _directory(directory, info.filename, new_crc, compressed, size, extra,
                               new_offsets, replaced)  # fmt: skip
    if new_directory is None:
        return False
    new_end = bytearray(end_record)
    struct.pack_into("<2L", new_end, 12, len(new_directory), position)
    rest += new_directory + new_end

    pieces = [
        Region(info.header_offset, bytes(new_local)),
        Region(stored.data_offset, head_chunk),
        Region(cut, bytes(rest)),
    ]
    if file_size < in_place_above():
        _write_copy(path, pieces)
        return True
    regions = [
        Region(info.header_offset, old_local),
        Region(stored.data_offset, old_head),
        Region(cut, old_rest),
    ]
    untouched = [
        (0, min(info.header_offset, SAMPLE_BYTES)),
        (max(stored.data_offset + len(old_head), cut - SAMPLE_BYTES), cut),
    ]
    with open(path, "r+b") as target:
        write_undo(path, identity_of(target, untouched, cut + len(rest)), regions)
        for piece in pieces:
            target.seek(piece.offset)
            target.write(piece.data)
        target.truncate()
        target.flush()
        os.fsync(target.fileno())
    clear_undo(path)
    return True


def in_place_above() -> int:
    """Workbooks smaller than this many bytes get a new file (renamed over the old one), bigger
    ones are written in place; ``SHEETLOG_IN_PLACE_ABOVE_BYTES`` overrides it (tests, tuning)."""
    return int(os.environ.get("SHEETLOG_IN_PLACE_ABOVE_BYTES", IN_PLACE_ABOVE))


def _write_copy(path: Path, pieces: list[Region]) -> None:
    """The workbook with ``pieces`` (sorted; the last one runs to the end) written over it, as
    a new file replacing the old one: readers see the old workbook or the new one, never a mix.
    The bytes between the pieces are copied as they are."""
    temporary = path.with_name(f".{path.name}.sheetlog-{os.getpid()}.tmp")
    try:
        with open(path, "rb") as source, open(temporary, "wb") as out:
            position = 0
            for piece in pieces:
                _copy_range(source, out, position, piece.offset)
                out.write(piece.data)
                position = piece.offset + len(piece.data)
            out.flush()
            os.fsync(out.fileno())
        replace_file(path, temporary)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _copy_range(source, out, start: int, end: int) -> None:
    source.seek(start)
    remaining = end - start
    while remaining > 0:
        block = source.read(min(remaining, 1 << 20))
        if not block:
            raise OSError("the workbook changed while it was being written")
        out.write(block)
        remaining -= len(block)


def _end_record(source, file_size: int) -> tuple[int, int, bytes] | None:
    """(central directory offset, size, end record bytes with comment); None for zip64."""
    window = min(file_size, 65_535 + _END.size)
    source.seek(file_size - window)
    data = source.read(window)
    position = data.rfind(b"PK\x05\x06")
    if position < 0:
        return None
    fields = _END.unpack_from(data, position)
    if position >= 20 and data[position - 20 : position - 16] == b"PK\x06\x07":
        return None  # zip64
    return fields[6], fields[5], data[position:]


def _directory(
    directory: bytes,
    sheet: str,
    new_crc: int,
    compressed: int,
    size: int,
    extra: bytes,
    new_offsets: dict[str, int],
    replaced: dict[str, tuple[bytes, int]],
) -> bytes | None:
    """The central directory with the sheet's record updated, offsets of the parts after it
    moved, and the records of rewritten parts replaced."""
    out = bytearray()
    position = 0
    while position < len(directory):
        if directory[position : position + 4] != b"PK\x01\x02":
            return None
        name_length, extra_length, comment_length = struct.unpack_from(
            "<3H", directory, position + 28
        )
        end = position + _CENTRAL_FIXED + name_length + extra_length + comment_length
        record = bytearray(directory[position:end])
        name_bytes = bytes(record[_CENTRAL_FIXED : _CENTRAL_FIXED + name_length])
        flags = struct.unpack_from("<H", record, 8)[0]
        name = name_bytes.decode("utf-8" if flags & 0x800 else "cp437")
        if name == sheet:
            comment = record[_CENTRAL_FIXED + name_length + extra_length :]
            struct.pack_into("<3L", record, 16, new_crc, compressed, size)
            struct.pack_into("<H", record, 30, len(extra))
            record = record[: _CENTRAL_FIXED + name_length] + extra + comment
        elif name in replaced:
            record = bytearray(replaced[name][0])
        elif name in new_offsets:
            struct.pack_into("<L", record, 42, new_offsets[name])
        out += record
        position = end
    return bytes(out)
