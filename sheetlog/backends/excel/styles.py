"""Finding, or adding, the cell styles an append needs in ``xl/styles.xml``.

The styles part is only ever *extended*: a missing number format, font or cell format is appended
at the end of its list, and every existing entry keeps its index, so no existing cell changes.
"""

from __future__ import annotations

import html
import re

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_BUILTIN_DATETIME_IDS = {22}
_NUMFMT = re.compile(rb"<(?:\w+:)?numFmt\b[^>]*>")


def _number_formats(xml: bytes) -> dict[int, str]:
    """Custom number formats, id -> code, whatever the attribute order (LibreOffice writes
    ``formatCode`` first)."""
    formats = {}
    for element in _NUMFMT.findall(xml):
        number = re.search(rb'\bnumFmtId="(\d+)"', element)
        code = re.search(rb'\bformatCode="([^"]*)"', element)
        if number and code:
            formats[int(number.group(1))] = html.unescape(code.group(1).decode())
    return formats


class Styles:
    """``xl/styles.xml`` opened for lookups; ``xml`` holds any extension made."""

    def __init__(self, xml: bytes) -> None:
        self.xml = xml
        self.changed = False
        root = re.search(rb"<(\w+:)?styleSheet\b", xml)
        self.prefix = (root.group(1) or b"") if root else b""

    def _block(self, name: bytes) -> re.Match[bytes] | None:
        p = re.escape(self.prefix)
        return re.search(
            rb"<" + p + name + rb"\b[^>]*?(?:/>|>(.*?)</" + p + name + rb">)", self.xml, re.S
        )

    def _entries(self, block: bytes, name: bytes) -> list[bytes]:
        p = re.escape(self.prefix)
        pattern = rb"<" + p + name + rb"\b[^>]*?(?:/>|>.*?</" + p + name + rb">)"
        return (
            re.findall(pattern, self._block(block).group(1) or b"", re.S)
            if self._block(block)
            else []
        )

    def datetime_style(self) -> int:
        """Index of a cell format showing date and time; added when the workbook has none."""
        datetime_ids = set(_BUILTIN_DATETIME_IDS)
        for number, code in _number_formats(self.xml).items():
            code = code.lower()
            if "y" in code and "d" in code and "h" in code:
                datetime_ids.add(number)
        for index, xf in enumerate(self._entries(b"cellXfs", b"xf")):
            number_format = re.search(rb'\bnumFmtId="(\d+)"', xf)
            if number_format and int(number_format.group(1)) in datetime_ids:
                return index
        return self._add_xf(
            f'numFmtId="{self._add_numfmt(DATETIME_FORMAT)}" fontId="0" '
            'fillId="0" borderId="0" xfId="0" applyNumberFormat="1"'
        )

    def bold_style(self) -> int:
        """Index of a plain bold cell format (for a header sheetlog writes); added when missing."""
        fonts = self._entries(b"fonts", b"font")
        for index, xf in enumerate(self._entries(b"cellXfs", b"xf")):
            font = re.search(rb'\bfontId="(\d+)"', xf)
            fill = re.search(rb'\bfillId="(\d+)"', xf)
            number_format = re.search(rb'\bnumFmtId="(\d+)"', xf)
            font_id = int(font.group(1)) if font else 0
            if (
                font_id < len(fonts)
                and re.search(rb"<(\w+:)?b\s*/>", fonts[font_id])
                and (not number_format or number_format.group(1) == b"0")
                and (not fill or fill.group(1) == b"0")
            ):
                return index
        base_font = fonts[0] if fonts else b"<" + self.prefix + b"font></" + self.prefix + b"font>"
        bold = re.sub(
            rb"^(<[\w:]*font\b[^>]*>)", rb"\1<" + self.prefix + rb"b/>", base_font, count=1
        )
        if bold == base_font:  # self-closing <font/>
            bold = b"<" + self.prefix + b"font><" + self.prefix + b"b/></" + self.prefix + b"font>"
        font_id = self._append(b"fonts", bold)
        return self._add_xf(
            f'numFmtId="0" fontId="{font_id}" fillId="0" borderId="0" xfId="0" applyFont="1"'
        )

    def _add_numfmt(self, code: str) -> int:
        ids = list(_number_formats(self.xml))
        new_id = max([163, *ids]) + 1
        entry = (
            b"<" + self.prefix + b'numFmt numFmtId="%d" formatCode="%s"/>' % (new_id, code.encode())
        )
        if self._block(b"numFmts") is None:
            root = re.search(rb"<(\w+:)?styleSheet\b[^>]*>", self.xml)
            block = b"<" + self.prefix + b'numFmts count="0"></' + self.prefix + b"numFmts>"
            self.xml = self.xml[: root.end()] + block + self.xml[root.end() :]
        self._append(b"numFmts", entry)
        return new_id

    def _add_xf(self, attributes: str) -> int:
        return self._append(b"cellXfs", b"<" + self.prefix + b"xf " + attributes.encode() + b"/>")

    def _append(self, block_name: bytes, entry: bytes) -> int:
        """Append ``entry`` to a list element, update its count, return the entry's index."""
        child = {b"numFmts": b"numFmt", b"fonts": b"font", b"cellXfs": b"xf"}[block_name]
        index = len(self._entries(block_name, child))
        block = self._block(block_name)
        p = self.prefix
        open_tag = re.match(rb"<[^>]*?(/?)>", block.group(0))
        if open_tag.group(1):  # <cellXfs/> with no entries
            head = block.group(0)[:-2] + b">"
            new_block = head + entry + b"</" + p + block_name + b">"
        else:
            close = block.group(0).rindex(b"</")
            new_block = block.group(0)[:close] + entry + block.group(0)[close:]
        new_block = re.sub(
            rb'(^<[^>]*?\bcount=")\d+(")', rb"\g<1>%d\2" % (index + 1), new_block, count=1
        )
        self.xml = self.xml[: block.start()] + new_block + self.xml[block.end() :]
        self.changed = True
        return index
