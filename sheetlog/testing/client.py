"""gspread clients that talk to a local server (the fake, or any emulator) instead of Google."""

from __future__ import annotations

import gspread
from google.auth.credentials import AnonymousCredentials

from ..backends.gsheets.auth import EndpointHTTPClient as LocalHTTPClient
from ..backends.gsheets.auth import http_client_class, rewrite_url

__all__ = ["LocalHTTPClient", "fake_client", "http_client_class", "rewrite_url"]


def fake_client(
    base_url: str,
    *,
    timeout: float | tuple[float, float] | None = 10.0,
    user: str | None = None,
    http_client: type[gspread.HTTPClient] = gspread.HTTPClient,
) -> gspread.Client:
    """A real ``gspread.Client`` with anonymous credentials talking to ``base_url``.

    ``timeout`` defaults to 10 s (gspread's own default is none: a lost answer hangs forever).
    ``user`` sends ``Authorization: Bearer <user>``, which the fake counts quotas against."""
    client = gspread.Client(
        auth=AnonymousCredentials(), http_client=http_client_class(base_url, http_client)
    )
    client.set_timeout(timeout)
    if user is not None:
        client.http_client.session.headers["Authorization"] = f"Bearer {user}"
    return client
