"""Plain-text tables for a terminal: columns cut to fit a width, text cut with "…"."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

ELLIPSIS = "…"
GAP = "  "


@dataclass
class TextColumn:
    """One column to draw: its header, its cells as text, and whether to right-align them."""

    header: str
    cells: list[str]
    right: bool = False
    max_width: int = 40
    cuttable: bool = True  # numbers and times cut short would mislead: 12345… is not 1234567

    @property
    def width(self) -> int:
        longest = max(map(len, self.cells), default=0)
        return max(len(self.header), min(longest, self.max_width))


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, ending with "…" when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def fit(columns: Iterable[TextColumn], width: int, keep: int = 1) -> list[tuple[TextColumn, int]]:
    """The leading columns that fit in ``width`` characters, with their widths. The first
    ``keep`` columns are always shown, cut if need be, and a text column that does not fit is cut
    to the room left; ``columns`` is consumed only up to the first one that does not fit, so it
    may be built lazily."""
    shown: list[tuple[TextColumn, int]] = []
    used = 0
    for column in columns:
        wanted = column.width
        room = width - used - (len(GAP) if shown else 0)
        if wanted > room:
            if len(shown) >= keep and (not column.cuttable or room < max(len(column.header), 8)):
                break
            shown.append((column, max(room, len(ELLIPSIS) + 3)))
            if len(shown) >= keep:
                break
            used = width
            continue
        shown.append((column, wanted))
        used += wanted + (len(GAP) if len(shown) > 1 else 0)
    return shown


def render(shown: list[tuple[TextColumn, int]]) -> str:
    """The header line, a rule, and one line per row."""
    return "\n".join(render_blocks(shown))


def render_blocks(shown: list[tuple[TextColumn, int]], rows: int = 2000) -> Iterator[str]:
    """``render``'s text in blocks: the header and rule, then ``rows`` lines at a time."""
    header = GAP.join(_align_one(cut(column.header, w), w, column.right) for column, w in shown)
    yield header.rstrip() + "\n" + GAP.join("-" * w for _, w in shown)
    for start in range(0, len(shown[0][0].cells), rows):
        columns = [
            [
                _align_one(cut(text, w), w, column.right)
                for text in column.cells[start : start + rows]
            ]
            for column, w in shown
        ]
        yield "\n".join(GAP.join(line).rstrip() for line in zip(*columns, strict=True))


def _align_one(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


#: Characters a terminal acts on instead of showing: controls (an escape sequence can recolour
#: or retitle the terminal, a carriage return overwrite the line, BEL ring) and the bidi
#: overrides that show ``\u202egnp.exe`` as ``exe.png``.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` safe to print on a terminal: the characters it would act on as visible escapes
    (``\\x1b``); tabs and line feeds stay."""
    return _UNSHOWABLE.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def key_value_lines(pairs: list[tuple[str, str]], indent: str = "  ") -> list[str]:
    """``name  value`` lines with the values aligned; lines of a multi-line value indented."""
    if not pairs:
        return []
    pairs = [(terminal_text(name), terminal_text(value)) for name, value in pairs]
    name_width = max(len(name) for name, _ in pairs)
    continuation = "\n" + " " * (len(indent) + name_width + len(GAP))
    return [
        f"{indent}{name.ljust(name_width)}{GAP}{value.replace(chr(10), continuation)}"
        for name, value in pairs
    ]
