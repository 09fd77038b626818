"""Read-only access to a workbook's shared strings table (``xl/sharedStrings.xml``)."""

from __future__ import annotations

import re

from .cells import unescape_text

_ITEM = re.compile(rb"<(?:\w+:)?si\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?si>)", re.S)
_PHONETIC = re.compile(rb"<(?:\w+:)?rPh\b.*?</(?:\w+:)?rPh>", re.S)
_TEXT = re.compile(rb"<(?:\w+:)?t\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?t>)", re.S)


class SharedStrings:
    """The strings of ``xl/sharedStrings.xml`` by index, parsed on first use."""

    def __init__(self, xml: bytes | None) -> None:
        self.xml = xml or b""
        self._items: list[str] | None = None

    def __getitem__(self, index: int) -> str:
        if self._items is None:
            self._items = [item_text(m.group(1) or b"") for m in _ITEM.finditer(self.xml)]
        return self._items[index]

    def __contains__(self, needle: bytes) -> bool:
        return needle in self.xml


def item_text(content: bytes) -> str:
    """The visible text of an ``<si>`` or ``<is>`` element's content (rich-text runs joined)."""
    content = _PHONETIC.sub(b"", content)
    return "".join(
        unescape_text((m.group(1) or b"").decode("utf-8")) for m in _TEXT.finditer(content)
    )
