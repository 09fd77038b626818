"""An xlsx zip opened for surgery.

Parts are read on demand. On save, every part that was not replaced is copied as stored: the same
compressed bytes, CRC and sizes, so the user's charts, pivots, images and macros cannot change.
Only replaced or added parts are compressed anew.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO

from .chunked import Compressed, chunk_lengths, recompress
from .worksheet import Edit

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_UTF8_FLAG = 0x800
_DATA_DESCRIPTOR_FLAG = 0x08
_ZIP32_LIMIT = 0xFFFFFFFF


class Package:
    """A zip package; ``replace``/``add`` parts, then ``save`` to a new file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._zip = zipfile.ZipFile(self.path)
        self._infos = {info.filename: info for info in self._zip.infolist()}
        self._order = [info.filename for info in self._zip.infolist()]
        self._new: dict[str, bytes] = {}
        self._compressed: dict[str, Compressed] = {}
        self._last: list[str] = []

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    @property
    def names(self) -> list[str]:
        """Parts in the order ``save`` writes them (``put_last`` ones at the end)."""
        names = self._order + [name for name in self._new if name not in self._infos]
        return [n for n in names if n not in self._last] + [n for n in self._last if n in names]

    def info(self, name: str) -> zipfile.ZipInfo:
        return self._infos[name]

    def infos(self) -> list[zipfile.ZipInfo]:
        """The stored parts (not counting parts added in this package)."""
        return list(self._infos.values())

    def changed_parts(self) -> list[str]:
        """Parts replaced, edited or added in this package."""
        return list(self._new)

    def put_last(self, names: list[str]) -> None:
        """Save these parts after all others, in this order: a part at the end of the file can
        grow in place (see ``in_place``)."""
        self._last = list(dict.fromkeys(names))

    def has(self, name: str) -> bool:
        return name in self._infos or name in self._new

    def read(self, name: str) -> bytes:
        if name in self._compressed:
            raise ValueError(f"{name} was edited in this package; read it before editing")
        if name in self._new:
            return self._new[name]
        return self._zip.read(name)

    def open(self, name: str) -> IO[bytes]:
        """A stored part as a stream (decompressed as it is read)."""
        return self._zip.open(name)

    def write(self, name: str, data: bytes) -> None:
        """Replace a part, or add it when the package has none by that name."""
        self._new[name] = data
        self._compressed.pop(name, None)

    def edit(
        self, name: str, old: bytes, edits: list[Edit], level: int, head_end: int | None = None
    ) -> None:
        """Replace part ``name`` (whose content is ``old``) by ``old`` with ``edits`` applied,
        recompressing only the chunks of the stored part that the edits touch (``head_end``:
        see ``recompress``). A part added in this package is compressed whole, in chunks."""
        info = self._infos.get(name)
        chunks = []
        if info is not None and name not in self._new:
            chunks = chunk_lengths(info.extra, info.CRC, info.file_size, info.compress_size)
        stored = None
        if chunks and info is not None and info.compress_type == zipfile.ZIP_DEFLATED:
            with open(self.path, "rb") as source:
                stored = _stored(source, info).data
        compressed = recompress(old, stored, chunks, edits, level, head_end)
        self._new[name] = b""
        self._compressed[name] = compressed

    def save(self, destination: str | os.PathLike[str], compresslevel: int = 6) -> None:
        """Write the package to ``destination`` (a new file)."""
        with open(self.path, "rb") as source, open(destination, "wb") as out:
            central: list[bytes] = []
            for name in self.names:
                info = self._infos.get(name)
                offset = out.tell()
                if name in self._compressed:
                    entry = _precompressed(name, self._compressed[name], info)
                elif name in self._new or info is None:
                    entry = _compress(name, self._new[name], info, compresslevel)
                else:
                    entry = _stored(source, info)
                out.write(entry.local_header())
                out.write(entry.data)
                central.append(entry.central_header(offset))
            directory_offset = out.tell()
            directory = b"".join(central)
            if directory_offset > _ZIP32_LIMIT or len(central) > 0xFFFF:
                raise OSError("sheetlog cannot write workbooks larger than 4 GB")
            out.write(directory)
            out.write(
                _END_RECORD.pack(
                    b"PK\x05\x06",
                    0,
                    0,
                    len(central),
                    len(central),
                    len(directory),
                    directory_offset,
                    0,
                )
            )
            out.flush()
            os.fsync(out.fileno())


class _Entry:
    def __init__(
        self, info: zipfile.ZipInfo, data: bytes, crc: int, size: int, extra: bytes = b""
    ) -> None:
        self.info = info
        self.data = data
        self.crc = crc
        self.size = size
        self.extra = extra
        if len(data) > _ZIP32_LIMIT or size > _ZIP32_LIMIT:
            raise OSError("sheetlog cannot write workbook parts larger than 4 GB")
        try:
            self.name = info.filename.encode("ascii")
            self.flags = info.flag_bits & ~_DATA_DESCRIPTOR_FLAG
        except UnicodeEncodeError:
            self.name = info.filename.encode("utf-8")
            self.flags = (info.flag_bits & ~_DATA_DESCRIPTOR_FLAG) | _UTF8_FLAG

    def _dos_time(self) -> tuple[int, int]:
        year, month, day, hour, minute, second = self.info.date_time
        return (
            hour << 11 | minute << 5 | second // 2,
            (max(year, 1980) - 1980) << 9 | month << 5 | day,
        )

    def local_header(self) -> bytes:
        time_, date = self._dos_time()
        return (
            _LOCAL_HEADER.pack(
                b"PK\x03\x04",
                20,
                self.flags,
                self.info.compress_type,
                time_,
                date,
                self.crc,
                len(self.data),
                self.size,
                len(self.name),
                0,
            )
            + self.name
        )

    def central_header(self, offset: int) -> bytes:
        time_, date = self._dos_time()
        return (
            _CENTRAL_HEADER.pack(
                b"PK\x01\x02",
                self.info.create_version | self.info.create_system << 8,
                20,
                self.flags,
                self.info.compress_type,
                time_,
                date,
                self.crc,
                len(self.data),
                self.size,
                len(self.name),
                len(self.extra),
                0,
                0,
                self.info.internal_attr,
                self.info.external_attr,
                offset,
            )
            + self.name
            + self.extra
        )


def _stored(source, info: zipfile.ZipInfo) -> _Entry:
    """The member exactly as stored: compressed bytes copied, not decompressed."""
    source.seek(info.header_offset)
    header = _LOCAL_HEADER.unpack(source.read(_LOCAL_HEADER.size))
    name_length, extra_length = header[-2], header[-1]
    source.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    data = source.read(info.compress_size)
    return _Entry(info, data, info.CRC, info.file_size, info.extra)


def _new_info(name: str, template: zipfile.ZipInfo | None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(
        name, date_time=template.date_time if template else (1980, 1, 1, 0, 0, 0)
    )
    if template is not None:
        info.external_attr = template.external_attr
        info.create_system = template.create_system
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _precompressed(name: str, part: Compressed, template: zipfile.ZipInfo | None) -> _Entry:
    return _Entry(_new_info(name, template), part.data, part.crc, part.size, part.extra)


def compressed_entry(
    name: str, payload: bytes, template: zipfile.ZipInfo, level: int = 6
) -> _Entry:
    """A part compressed whole, ready to be written (``local_header()``, ``data``)."""
    return _compress(name, payload, template, level)


def _compress(name: str, payload: bytes, template: zipfile.ZipInfo | None, level: int) -> _Entry:
    info = _new_info(name, template)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    data = compressor.compress(payload) + compressor.flush()
    return _Entry(info, data, zlib.crc32(payload), len(payload))
