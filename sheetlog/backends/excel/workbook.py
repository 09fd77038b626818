"""The workbook's list of sheets: finding the runs sheet, and adding one when it is missing.

Adding a sheet touches only what that requires: the workbook part, its relationships and
``[Content_Types].xml``.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass

from ...errors import UnsupportedWorkbook
from .package import Package

DEFAULT_SHEET = "Runs"
_OFFICE_DOCUMENT = re.compile(
    rb'<(?:\w+:)?Relationship\b(?=[^>]*\bType="[^"]*/officeDocument")[^>]*\bTarget="([^"]*)"'
)
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_REL_NS = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STRICT_NS = b"http://purl.oclc.org/ooxml/spreadsheetml/main"
_WORKSHEET_TYPE = _REL_NS + b"/worksheet"
_WORKSHEET_CONTENT = b"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_INVALID_NAME = re.compile(r"[\[\]:*?/\\]")

NEW_SHEET_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<dimension ref="A1"/><sheetViews><sheetView workbookViewId="0">'
    b'<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    b'<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
    b'<sheetFormatPr defaultRowHeight="15"/><sheetData/>'
    b'<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    b"</worksheet>"
)


@dataclass(frozen=True)
class SheetEntry:
    name: str
    part: str
    is_worksheet: bool


def check_sheet_name(name: str) -> str:
    """Excel's rules for a sheet name; raises ValueError saying which one is broken."""
    if (
        not name.strip()
        or len(name.encode("utf-16-le")) > 62  # Excel counts UTF-16 units: an emoji is two
        or _INVALID_NAME.search(name)
        or any(char < " " for char in name)
        or name[0] == "'"
        or name[-1] == "'"
        or name.casefold() == "history"
    ):
        raise ValueError(
            f"{name!r} cannot be an Excel sheet name: use 1 to 31 characters (an emoji counts as"
            " two), none of [ ] : * ? / \\ or control characters,"
            " not starting or ending with an apostrophe, and not 'History'"
        )
    return name


class WorkbookIndex:
    """The sheets of a package, as listed by its workbook part."""

    def __init__(self, package: Package) -> None:
        self.package = package
        root_rels = package.read("_rels/.rels")
        target = _OFFICE_DOCUMENT.search(root_rels)
        if target is None:
            raise UnsupportedWorkbook("the package has no workbook part")
        self.part = _resolve("", html.unescape(target.group(1).decode()))
        folder, name = posixpath.split(self.part)
        self.folder = folder
        self.rels_part = posixpath.join(folder, "_rels", name + ".rels")
        self.xml = package.read(self.part)
        if _STRICT_NS in self.xml[:2000]:
            raise UnsupportedWorkbook(
                "it is saved as Strict Open XML; save it as an ordinary Excel Workbook (.xlsx)"
            )
        self.rels = package.read(self.rels_part)

    def sheets(self) -> list[SheetEntry]:
        targets = {}
        for rel in _RELATIONSHIP.findall(self.rels):
            rel_id, target, kind = _attr(rel, b"Id"), _attr(rel, b"Target"), _attr(rel, b"Type")
            if rel_id and target:
                targets[rel_id] = (_resolve(self.folder, target), kind == _WORKSHEET_TYPE.decode())
        entries = []
        for sheet in _SHEET.findall(self.xml):
            rel_id = _attr(sheet, b"id", any_prefix=True)
            if rel_id in targets:
                part, is_worksheet = targets[rel_id]
                entries.append(SheetEntry(_attr(sheet, b"name") or "", part, is_worksheet))
        return entries

    def related(self, kinds: tuple[str, ...]) -> list[str]:
        """The parts the workbook part relates to by a relationship type ending in one of
        ``kinds`` (``"/styles"``, ``"/sharedStrings"``)."""
        parts = []
        for rel in _RELATIONSHIP.findall(self.rels):
            target, kind = _attr(rel, b"Target"), _attr(rel, b"Type")
            if target and kind and kind.endswith(kinds):
                parts.append(_resolve(self.folder, target))
        return parts

    def find(self, requested: str | None) -> SheetEntry | None:
        """The runs sheet: the one named (case-insensitive); with no name, 'Runs', else the only
        worksheet. None when it has to be added."""
        sheets = self.sheets()
        wanted = (requested or DEFAULT_SHEET).casefold()
        for sheet in sheets:
            if sheet.name.casefold() == wanted:
                if not sheet.is_worksheet:
                    raise UnsupportedWorkbook(
                        f"sheet {sheet.name!r} is a chart sheet, not a worksheet: name another"
                        " sheet"
                        " after '#' in the target"
                    )
                return sheet
        worksheets = [sheet for sheet in sheets if sheet.is_worksheet]
        if requested is None and len(worksheets) == 1:
            return worksheets[0]
        return None

    def add_worksheet(self, name: str) -> SheetEntry:
        """Add an empty worksheet (frozen header row) called ``name``; returns its entry."""
        check_sheet_name(name)
        existing = set(self.package.names)
        number = 1
        while f"{self.folder}/worksheets/sheet{number}.xml" in existing:
            number += 1
        part = f"{self.folder}/worksheets/sheet{number}.xml"
        rel_ids = {_attr(rel, b"Id") for rel in _RELATIONSHIP.findall(self.rels)}
        rel_number = 1
        while f"rId{rel_number}" in rel_ids:
            rel_number += 1
        rel_id = f"rId{rel_number}"
        sheet_ids = [int(i) for i in re.findall(rb'\bsheetId="(\d+)"', self.xml)]
        self.package.write(part, NEW_SHEET_XML)
        target = posixpath.relpath(part, self.folder)
        self.rels = _insert_before_close(
            self.rels,
            b"Relationships",
            b'<Relationship Id="%s" Type="%s" Target="%s"/>'
            % (rel_id.encode(), _WORKSHEET_TYPE, target.encode()),
        )
        self.package.write(self.rels_part, self.rels)
        self.xml = _insert_before_close(
            self.xml,
            b"sheets",
            b'<%ssheet name="%s" sheetId="%d" %s:id="%s"/>'
            % (
                _element_prefix(self.xml, b"sheets"),
                html.escape(name, quote=True).encode(),
                max(sheet_ids, default=0) + 1,
                _rel_prefix(self.xml),
                rel_id.encode(),
            ),
        )
        self.package.write(self.part, self.xml)
        types = self.package.read("[Content_Types].xml")
        self.package.write(
            "[Content_Types].xml",
            _insert_before_close(
                types,
                b"Types",
                b'<Override PartName="/%s" ContentType="%s"/>'
                % (part.encode(), _WORKSHEET_CONTENT),
            ),
        )
        return SheetEntry(name, part, True)


def _attr(element: bytes, name: bytes, any_prefix: bool = False) -> str | None:
    prefix = rb"(?:\w+:)" if any_prefix else rb"(?<![\w:])"
    match = re.search(rb"\s" + prefix + name + rb'="([^"]*)"', element)
    return html.unescape(match.group(1).decode()) if match else None


def _resolve(folder: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(folder, target))


def _element_prefix(xml: bytes, name: bytes) -> bytes:
    match = re.search(rb"<(\w+:)?" + name + rb"\b", xml)
    return (match.group(1) or b"") if match else b""


def _rel_prefix(xml: bytes) -> bytes:
    match = re.search(rb'xmlns:(\w+)="' + re.escape(_REL_NS) + b'"', xml)
    if match is None:
        raise UnsupportedWorkbook("its workbook part declares no relationships namespace")
    return match.group(1)


def _insert_before_close(xml: bytes, element: bytes, entry: bytes) -> bytes:
    """Insert ``entry`` as the last child of ``element`` (handles ``<element/>`` too)."""
    prefix = _element_prefix(xml, element)
    close = xml.rfind(b"</" + prefix + element + b">")
    if close != -1:
        return xml[:close] + entry + xml[close:]
    empty = re.search(rb"<" + re.escape(prefix) + element + rb"\b([^>]*?)/>", xml)
    if empty is None:
        raise UnsupportedWorkbook(f"the package has no <{element.decode()}> element")
    return (
        xml[: empty.start()]
        + b"<"
        + prefix
        + element
        + empty.group(1)
        + b">"
        + entry
        + b"</"
        + prefix
        + element
        + b">"
        + xml[empty.end() :]
    )
