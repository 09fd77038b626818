"""Compressing a part as independently deflated chunks, so an edit recompresses only what changed.

Each chunk ends with a zlib full flush (the last one with the end of the stream). A full flush
resets the compressor and aligns the output to a byte, so no chunk refers back into another one and
the compressed bytes of an unchanged chunk can be copied into the part's next version. The chunk
lengths travel in an extra field of the part's central-directory entry (other zip readers skip
unknown extra fields); they are tied to the part's CRC and sizes, so a part rewritten by Excel or
anything else is simply compressed whole again, and the next append cuts it into chunks anew.

Appended rows become a chunk of their own; a small chunk next to an edit is recompressed with it,
so chunks grow to about ``MERGE_BELOW`` bytes and compression stays close to compressing the whole.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import dataclass

from .worksheet import Edit

EXTRA_ID = 0x6C73  # "sl"
_MAGIC = b"SLC1"
MERGE_BELOW = 256 * 1024
_MAX_EXTRA = 60_000


@dataclass
class Compressed:
    """A part's new content: raw deflate ``data``, ``crc``/``size`` of the XML, chunk ``extra``."""

    data: bytes
    crc: int
    size: int
    extra: bytes


def chunk_lengths(extra: bytes, crc: int, size: int, compressed: int) -> list[tuple[int, int]]:
    """The (uncompressed, compressed) chunk lengths stored in ``extra``, or [] when absent/stale."""
    position = 0
    while position + 4 <= len(extra):
        field_id, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if field_id != EXTRA_ID or body[:4] != _MAGIC or len(body) < 8:
            continue
        (stored_crc,) = struct.unpack_from("<L", body, 4)
        pairs = list(struct.iter_unpack("<LL", body[8:]))
        if (
            stored_crc == crc
            and sum(u for u, _ in pairs) == size
            and sum(c for _, c in pairs) == compressed
        ):
            return pairs
    return []


def _extra(crc: int, pairs: list[tuple[int, int]]) -> bytes:
    body = _MAGIC + struct.pack("<L", crc) + b"".join(struct.pack("<LL", *p) for p in pairs)
    if len(body) > _MAX_EXTRA:
        return b""
    return struct.pack("<HH", EXTRA_ID, len(body)) + body


def recompress(
    old_xml: bytes,
    old_data: bytes | None,
    old_chunks: list[tuple[int, int]],
    edits: list[Edit],
    level: int,
) -> Compressed:
    """Compress ``old_xml`` with ``edits`` (sorted, non-overlapping) applied, reusing the
    compressed bytes of every chunk of ``old_data`` that no edit touches."""
    document = _Document(old_xml, edits)
    cuts = _cut_points(edits)
    pieces: list[tuple[bytes, int]] = []  # (compressed bytes, uncompressed length)
    cursor = 0
    ends_with_final_chunk = False
    for new_start, chunk in _reusable(old_data, old_chunks, edits):
        pieces.extend(_compress_range(document, cursor, new_start, cuts, level, final=False))
        pieces.append((chunk.data, chunk.length))
        cursor = new_start + chunk.length
        ends_with_final_chunk = chunk.last
    if not (ends_with_final_chunk and cursor == document.size):
        pieces.extend(_compress_range(document, cursor, document.size, cuts, level, final=True))
    lengths = [(length, len(piece)) for piece, length in pieces]
    data = b"".join(piece for piece, _ in pieces)
    return Compressed(data, document.crc, document.size, _extra(document.crc, lengths))


class _Document:
    """The edited XML as a list of pieces (views of the old XML and new texts), never joined
    whole: only the ranges that are compressed anew are copied."""

    def __init__(self, old: bytes, edits: list[Edit]) -> None:
        view = memoryview(old)
        self.pieces: list[tuple[int, memoryview | bytes]] = []
        position = new_position = 0
        for edit in edits:
            for piece in (view[position : edit.start], edit.text):
                if len(piece):
                    self.pieces.append((new_position, piece))
                    new_position += len(piece)
            position = edit.end
        if position < len(old):
            self.pieces.append((new_position, view[position:]))
            new_position += len(old) - position
        self.size = new_position
        crc = 0
        for _, piece in self.pieces:
            crc = zlib.crc32(piece, crc)
        self.crc = crc

    def slice(self, start: int, end: int) -> bytes:
        parts = []
        for piece_start, piece in self.pieces:
            piece_end = piece_start + len(piece)
            if piece_end <= start or piece_start >= end:
                continue
            parts.append(piece[max(start - piece_start, 0) : min(end, piece_end) - piece_start])
        return b"".join(parts)


@dataclass
class _Chunk:
    old_start: int
    length: int
    data: bytes
    last: bool

    @property
    def old_end(self) -> int:
        return self.old_start + self.length

    def touched_by(self, edit: Edit) -> bool:
        if edit.start == edit.end:  # an insertion splits a chunk only strictly inside it
            return self.old_start < edit.start < self.old_end or (
                self.last and edit.start == self.old_end
            )
        return edit.start < self.old_end and edit.end > self.old_start


def _reusable(
    old_data: bytes | None, old_chunks: list[tuple[int, int]], edits: list[Edit]
) -> list[tuple[int, _Chunk]]:
    """(position in the new XML, chunk) for every old chunk that can be copied as it is."""
    if old_data is None or not old_chunks:
        return []
    chunks, u, c = [], 0, 0
    for index, (u_length, c_length) in enumerate(old_chunks):
        last = index == len(old_chunks) - 1
        chunks.append(_Chunk(u, u_length, old_data[c : c + c_length], last))
        u, c = u + u_length, c + c_length
    dirty = [any(chunk.touched_by(edit) for edit in edits) for chunk in chunks]
    edit_starts = {edit.start for edit in edits}
    for index in range(len(chunks) - 2, -1, -1):  # small chunks next to a change join it
        chunk = chunks[index]
        if (
            not dirty[index]
            and chunk.length < MERGE_BELOW
            and (dirty[index + 1] or chunk.old_end in edit_starts)
        ):
            dirty[index] = True
    reusable = []
    for chunk, is_dirty in zip(chunks, dirty, strict=True):
        if not is_dirty:
            shift = sum(len(e.text) - (e.end - e.start) for e in edits if e.end <= chunk.old_start)
            reusable.append((chunk.old_start + shift, chunk))
    return reusable


def _cut_points(edits: list[Edit]) -> list[int]:
    """Where the new XML is cut into chunks: around the new text of each isolated edit."""
    cuts, shift = [], 0
    for edit in edits:
        start = edit.start + shift
        shift += len(edit.text) - (edit.end - edit.start)
        if edit.isolate:
            cuts += [start, start + len(edit.text)]
    return sorted(set(cuts))


def _compress_range(
    document: _Document, start: int, end: int, cuts: list[int], level: int, final: bool
) -> list[tuple[bytes, int]]:
    bounds = [start, *(cut for cut in cuts if start < cut < end), end]
    pieces = []
    for index, (low, high) in enumerate(itertools.pairwise(bounds)):
        last = final and index == len(bounds) - 2
        if low == high and not last:
            continue
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        data = compressor.compress(document.slice(low, high))
        data += compressor.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
        pieces.append((data, high - low))
    return pieces
