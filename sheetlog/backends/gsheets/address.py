"""Google Sheets target strings: ``gsheet://<key>[/<worksheet>]`` or a pasted browser URL.

``https://docs.google.com/spreadsheets/d/<key>/edit#gid=<n>`` picks the worksheet by its id
(``gid``); without a worksheet, the one named "Runs" is used, else the only worksheet, else a
"Runs" worksheet is added (as for Excel workbooks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from ...errors import ConfigurationError

SCHEME = "gsheet://"
_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_URL = re.compile(r"^https?://docs\.google\.com/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class SheetAddress:
    key: str
    worksheet: str | None = None
    gid: int | None = None

    @property
    def canonical(self) -> str:
        """The target string the journal stores: ``gsheet://key``, ``/worksheet`` or ``#gid=``."""
        if self.worksheet is not None:
            return f"{SCHEME}{self.key}/{self.worksheet}"
        if self.gid is not None:
            return f"{SCHEME}{self.key}#gid={self.gid}"
        return f"{SCHEME}{self.key}"


def is_sheet_target(target: str) -> bool:
    return target.startswith(SCHEME) or bool(_URL.match(target))


def parse_address(target: str) -> SheetAddress:
    """Parse a Google Sheets target; ConfigurationError (a ValueError) saying what a valid
    one looks like."""
    url = _URL.match(target)
    if url:
        parts = urlsplit(target)
        gid = parse_qs(parts.fragment).get("gid") or parse_qs(parts.query).get("gid")
        return SheetAddress(url.group(1), gid=_gid(gid[0], target) if gid else None)
    rest = target[len(SCHEME) :]
    rest, _, fragment = rest.partition("#")
    key, _, worksheet = rest.partition("/")
    if not _KEY.match(key):
        raise ConfigurationError(
            f"{target!r} is not a Google Sheets target: use gsheet://<key>/<worksheet> with the"
            " key from the sheet's URL (https://docs.google.com/spreadsheets/d/<key>/edit),"
            " or paste that URL"
        )
    gid = parse_qs(fragment).get("gid")
    worksheet = unquote(worksheet).strip() or None
    return SheetAddress(key, worksheet, _gid(gid[0], target) if gid and not worksheet else None)


def _gid(text: str, target: str) -> int:
    if not text.isdigit():
        raise ConfigurationError(f"{target!r}: gid must be a number, not {text!r}")
    return int(text)
