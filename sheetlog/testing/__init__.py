"""Test support: a faithful local fake of the Google Sheets API v4, and gspread clients for it.

``FakeSheetsServer`` serves the fake over HTTP on loopback (see ``fake_sheets`` for what it
emulates); ``fake_client(base_url)`` returns a real ``gspread.Client`` that talks to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import LocalHTTPClient, fake_client, http_client_class, rewrite_url
from .faults import FAULT_KINDS

if TYPE_CHECKING:
    from .fake_sheets import FakeSheetsServer, LoggedRequest

__all__ = [
    "FAULT_KINDS",
    "FakeSheetsServer",
    "LocalHTTPClient",
    "LoggedRequest",
    "fake_client",
    "http_client_class",
    "rewrite_url",
]


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``python -m sheetlog.testing.fake_sheets`` runs the module once.
    if name in ("FakeSheetsServer", "LoggedRequest"):
        from . import fake_sheets

        return getattr(fake_sheets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
