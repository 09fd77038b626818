"""Growing the Excel tables (``xl/tables/tableN.xml``) that hold the runs.

Excel tables do not grow by themselves when rows are written below them: a table whose header is
row 1 and that reaches the last row of data takes the appended rows, and the new header cells right
of it. Tables elsewhere on the sheet, or with a totals row, are left alone.
"""

from __future__ import annotations

import html
import posixpath
import re

from .cells import split_ref
from .package import Package
from .worksheet import extended_range

MAX_COLUMN_NAME = 255  # characters in an Excel table column name
_TABLE_REL = re.compile(
    rb'<(?:\w+:)?Relationship\b(?=[^>]*\bType="[^"]*/table")[^>]*\bTarget="([^"]*)"'
)


def table_parts(package: Package, sheet_part: str) -> list[str]:
    """Paths of the table parts a worksheet part refers to."""
    folder, name = posixpath.split(sheet_part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if not package.has(rels):
        return []
    parts = []
    for match in _TABLE_REL.finditer(package.read(rels)):
        target = html.unescape(match.group(1).decode())
        if target.startswith("/"):
            parts.append(target.lstrip("/"))
        else:
            parts.append(posixpath.normpath(posixpath.join(folder, target)))
    return parts


def grow_tables(
    package: Package, sheet_part: str, last_row: int, new_bottom: int, header_cells: dict[int, str]
) -> None:
    """Extend every table that holds the runs down to ``new_bottom`` and over adjacent new columns.

    ``last_row`` is the last row with a value before the append; ``header_cells`` maps the column
    numbers of new header cells to their text.
    """
    for part in table_parts(package, sheet_part):
        if package.has(part):
            grown = _grown_table(package.read(part), last_row, new_bottom, header_cells)
            if grown is not None:
                package.write(part, grown)


def _grown_table(
    xml: bytes, last_row: int, new_bottom: int, header_cells: dict[int, str]
) -> bytes | None:
    root = re.search(rb"<(\w+:)?table\b([^>]*)>", xml)
    if root is None:
        return None
    prefix, attrs = root.group(1) or b"", root.group(2)
    totals = re.search(rb'\btotalsRowCount="(\d+)"', attrs)
    header_count = re.search(rb'\bheaderRowCount="(\d+)"', attrs)
    ref_match = re.search(rb'\bref="([^"]*)"', attrs)
    if (
        ref_match is None
        or (totals and totals.group(1) != b"0")
        or (header_count and header_count.group(1) == b"0")
    ):
        return None
    ref = ref_match.group(1).decode()
    _, bottom = split_ref(ref.split(":")[-1])
    if bottom < last_row:
        return None
    usable = _nameable_columns(xml, ref, header_cells)
    new_ref = extended_range(ref, sorted(usable), new_bottom)
    if new_ref is None:
        return None
    added = _added_columns(ref, new_ref, usable)
    xml = _replace_ref(xml, ref, new_ref)
    return _with_columns(xml, prefix, added) if added else xml


def _nameable_columns(xml: bytes, ref: str, header_cells: dict[int, str]) -> dict[int, str]:
    """The new columns right of the table that it can take, left to right: Excel requires
    table column names to be unique ignoring case (``params.LR`` next to ``params.lr``) and at
    most 255 characters, and repairs the file otherwise. The table stops before the first new
    column that breaks this: that column and those right of it stay outside the table."""
    names = {
        html.unescape(name.decode()).casefold()
        for name in re.findall(rb'<(?:\w+:)?tableColumn\b[^>]*?\bname="([^"]*)"', xml)
    }
    right, _ = split_ref(ref.split(":")[-1])
    usable: dict[int, str] = {}
    for column in sorted(header_cells):
        name = header_cells[column]
        if column != right + 1 or not 0 < len(name) <= MAX_COLUMN_NAME or name.casefold() in names:
            break
        names.add(name.casefold())
        usable[column] = name
        right = column
    return usable


def _added_columns(old_ref: str, new_ref: str, header_cells: dict[int, str]) -> list[str]:
    old_right, _ = split_ref(old_ref.split(":")[-1])
    new_right, _ = split_ref(new_ref.split(":")[-1])
    return [header_cells[column] for column in range(old_right + 1, new_right + 1)]


def _replace_ref(xml: bytes, old: str, new: str) -> bytes:
    """Swap the table's ref and its autoFilter's ref (both equal the table range)."""
    pattern = re.compile(
        rb'(<(?:\w+:)?(?:table|autoFilter)\b[^>]*?\bref=")' + re.escape(old.encode()) + rb'(")'
    )
    return pattern.sub(lambda m: m.group(1) + new.encode() + m.group(2), xml)


def _with_columns(xml: bytes, prefix: bytes, names: list[str]) -> bytes:
    block = re.search(
        rb"(<"
        + re.escape(prefix)
        + rb"tableColumns\b[^>]*>)(.*?)(</"
        + re.escape(prefix)
        + rb"tableColumns>)",
        xml,
        re.S,
    )
    ids = [
        int(i) for i in re.findall(rb'<(?:\w+:)?tableColumn\b[^>]*?\bid="(\d+)"', block.group(2))
    ]
    count = len(re.findall(rb"<(?:\w+:)?tableColumn\b", block.group(2)))
    entries = b"".join(
        b"<"
        + prefix
        + b'tableColumn id="%d" name="%s"/>'
        % (max(ids, default=0) + 1 + i, html.escape(name, quote=True).encode())
        for i, name in enumerate(names)
    )
    head = re.sub(rb'\bcount="\d+"', b'count="%d"' % (count + len(names)), block.group(1))
    return (
        xml[: block.start()] + head + block.group(2) + entries + block.group(3) + xml[block.end() :]
    )
