"""Compressing a part as independently deflated chunks, so an edit recompresses only what changed.

Each chunk ends with a zlib full flush (the last one with the end of the stream). A full flush
resets the compressor and aligns the output to a byte, so no chunk refers back into another one and
the compressed bytes of an unchanged chunk can be copied into the part's next version. The chunk
lengths travel in an extra field of the part's central-directory entry (other zip readers skip
unknown extra fields); they are tied to the part's CRC and sizes, so a part rewritten by Excel or
anything else is simply compressed whole again, and the next append cuts it into chunks anew.

Appended rows become a chunk of their own (many rows at once, chunks of about ``ROWS_CHUNK``
bytes); a small chunk next to an edit is recompressed with it, so chunks grow to about
``MERGE_BELOW`` bytes and compression stays close to compressing the whole.

Each chunk's CRC-32 is stored too, and the part's first chunk (everything up to the end of the
header row: ``<dimension>``, ``<cols>``, the header) can be a *head slot*: its compressed bytes
are padded with empty deflate blocks to leave room, so that a later append can rewrite it in
place with a longer ``<dimension>`` ref (see ``in_place``).
"""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import dataclass

from .worksheet import Edit

EXTRA_ID = 0x6C73  # "sl"
_MAGIC_V1 = b"SLC1"  # lengths only (sheetlog 0.1 before head slots)
_MAGIC = b"SLC2"  # lengths and CRCs, and whether chunk 0 is a head slot
MERGE_BELOW = 256 * 1024
ROWS_CHUNK = MERGE_BELOW  # many rows written at once are cut into chunks of about this size
_ROW_END = b"</row>"
_MAX_EXTRA = 60_000
HEAD_SLACK_MIN = 512


@dataclass
class Compressed:
    """A part's new content: raw deflate ``data``, ``crc``/``size`` of the XML, chunk ``extra``."""

    data: bytes
    crc: int
    size: int
    extra: bytes


@dataclass
class ChunkMap:
    """The chunks of a stored part: (uncompressed length, compressed length, CRC-32) each."""

    chunks: list[tuple[int, int, int]]
    head_slot: bool


def read_chunk_map(extra: bytes, crc: int, size: int, compressed: int) -> ChunkMap | None:
    """The chunk map stored in ``extra`` (with CRCs), or None when absent, old or stale."""
    for magic, body in _fields(extra):
        if magic != _MAGIC or len(body) < 5:
            continue
        stored_crc, flags = struct.unpack_from("<LB", body)
        chunks = list(struct.iter_unpack("<LLL", body[5:]))
        if _matches(stored_crc, chunks, crc, size, compressed):
            return ChunkMap(chunks, bool(flags & 1))
    return None


def chunk_lengths(extra: bytes, crc: int, size: int, compressed: int) -> list[tuple[int, int]]:
    """The (uncompressed, compressed) chunk lengths stored in ``extra``, or [] when absent/stale."""
    for magic, body in _fields(extra):
        if magic == _MAGIC and len(body) >= 5:
            stored_crc = struct.unpack_from("<L", body)[0]
            pairs = [(u, c) for u, c, _ in struct.iter_unpack("<LLL", body[5:])]
        elif magic == _MAGIC_V1 and len(body) >= 4:
            stored_crc = struct.unpack_from("<L", body)[0]
            pairs = list(struct.iter_unpack("<LL", body[4:]))
        else:
            continue
        if _matches(stored_crc, pairs, crc, size, compressed):
            return pairs
    return []


def _fields(extra: bytes) -> list[tuple[bytes, bytes]]:
    """(magic, rest) of every sheetlog field in a zip extra block."""
    found, position = [], 0
    while position + 4 <= len(extra):
        field_id, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if field_id == EXTRA_ID and len(body) >= 4:
            found.append((body[:4], body[4:]))
    return found


def _matches(stored_crc: int, chunks: list, crc: int, size: int, compressed: int) -> bool:
    return (
        stored_crc == crc
        and sum(chunk[0] for chunk in chunks) == size
        and sum(chunk[1] for chunk in chunks) == compressed
    )


def chunk_extra(crc: int, chunks: list[tuple[int, int, int]], head_slot: bool) -> bytes:
    """The zip extra field recording ``chunks``; empty when too many to fit."""
    body = (
        _MAGIC
        + struct.pack("<LB", crc, 1 if head_slot else 0)
        + b"".join(struct.pack("<LLL", *chunk) for chunk in chunks)
    )
    if len(body) > _MAX_EXTRA:
        return b""
    return struct.pack("<HH", EXTRA_ID, len(body)) + body


def compress_chunk(data: bytes, level: int, final: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(
        zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH
    )


def head_slot_size(compressed: int) -> int:
    """Room given to a head chunk of ``compressed`` bytes: a quarter more, at least 512 bytes."""
    return compressed + max(HEAD_SLACK_MIN, compressed // 4)


def padded(chunk: bytes, size: int) -> bytes | None:
    """``chunk`` (ending at a full flush) followed by empty deflate blocks up to exactly ``size``
    bytes; None when that cannot be done (1-4 or 8 bytes short, or too long)."""
    groups = _padding_groups(size - len(chunk))
    if groups is None:
        return None
    return chunk + b"".join(_PADDING[group] for group in groups)


def _padding_groups(missing: int) -> list[int] | None:
    if missing < 0 or missing in (1, 2, 3, 4, 8):
        return None
    if missing == 9:
        return [9]
    count, rest = divmod(missing, 5)
    groups = [5] * count
    for i in range(rest):  # each 6 adds one byte, each 7 two
        groups[i % count] += 1
    return groups


def _empty_blocks(fixed: int) -> bytes:
    """``fixed`` empty fixed-Huffman blocks, then an empty stored block (byte-aligned start and
    end): 5, 6, 7 and 9 bytes for 0, 1, 2 and 3 fixed blocks."""
    bits = [0, 1, 0] + [0] * 7  # BFINAL 0, BTYPE 01, end-of-block code (seven 0 bits)
    stream = bits * fixed + [0, 0, 0]  # BFINAL 0, BTYPE 00
    stream += [0] * (-len(stream) % 8)
    data = bytes(
        sum(bit << i for i, bit in enumerate(stream[j : j + 8])) for j in range(0, len(stream), 8)
    )
    return data + b"\x00\x00\xff\xff"


_PADDING = {5: _empty_blocks(0), 6: _empty_blocks(1), 7: _empty_blocks(2), 9: _empty_blocks(3)}


def recompress(
    old_xml: bytes,
    old_data: bytes | None,
    old_chunks: list[tuple[int, int]],
    edits: list[Edit],
    level: int,
    head_end: int | None = None,
) -> Compressed:
    """Compress ``old_xml`` with ``edits`` (sorted, non-overlapping) applied, reusing the
    compressed bytes of every chunk of ``old_data`` that no edit touches. ``head_end`` (a
    position in the new XML): compress everything before it as one padded head slot."""
    document = _Document(old_xml, edits)
    cuts = cut_points(edits)
    pieces: list[tuple[bytes, int]] = []  # (compressed bytes, uncompressed length)
    cursor = 0
    if head_end is not None:
        head = compress_chunk(document.slice(0, head_end), level, final=False)
        pieces.append((padded(head, head_slot_size(len(head))) or head, head_end))
        cursor = head_end
        cuts = [cut for cut in cuts if cut > head_end]
    ends_with_final_chunk = False
    for new_start, chunk in _reusable(old_data, old_chunks, edits):
        if new_start < cursor:
            continue
        pieces.extend(_compress_range(document, cursor, new_start, cuts, level, final=False))
        pieces.append((chunk.data, chunk.length))
        cursor = new_start + chunk.length
        ends_with_final_chunk = chunk.last
    if not (ends_with_final_chunk and cursor == document.size):
        pieces.extend(_compress_range(document, cursor, document.size, cuts, level, final=True))
    chunks, start = [], 0
    for piece, length in pieces:
        crc = zlib.crc32(document.slice(start, start + length))
        chunks.append((length, len(piece), crc))
        start += length
    data = b"".join(piece for piece, _ in pieces)
    extra = chunk_extra(document.crc, chunks, head_slot=head_end is not None)
    return Compressed(data, document.crc, document.size, extra)


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


def cut_points(edits: list[Edit]) -> list[int]:
    """Where the new XML is cut into chunks: around the new text of each isolated edit (the
    new rows), and inside a long one every ``ROWS_CHUNK`` bytes or so, at a row's end: a later
    append then decompresses and recompresses only the last stretch of rows, however many
    were written at once."""
    cuts, shift = [], 0
    for edit in edits:
        start = edit.start + shift
        shift += len(edit.text) - (edit.end - edit.start)
        if edit.isolate:
            cuts += [start, *_row_ends(edit.text, start), start + len(edit.text)]
    return sorted(set(cuts))


def _row_ends(text: bytes, start: int) -> list[int]:
    ends, position = [], ROWS_CHUNK
    while position < len(text):
        end = text.find(_ROW_END, position)
        if end < 0:
            break
        ends.append(start + end + len(_ROW_END))
        position = end + len(_ROW_END) + ROWS_CHUNK
    return ends


def _compress_range(
    document: _Document, start: int, end: int, cuts: list[int], level: int, final: bool
) -> list[tuple[bytes, int]]:
    bounds = [start, *(cut for cut in cuts if start < cut < end), end]
    pieces = []
    for index, (low, high) in enumerate(itertools.pairwise(bounds)):
        last = final and index == len(bounds) - 2
        if low == high and not last:
            continue
        pieces.append((compress_chunk(document.slice(low, high), level, last), high - low))
    return pieces
