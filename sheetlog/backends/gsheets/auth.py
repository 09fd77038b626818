"""Credentials and the gspread client sheetlog talks to Google Sheets with.

Credentials, first found wins:
  1. an explicit key file (``credentials=`` or ``credentials = "..."`` under ``[tool.sheetlog]``,
     or ``SHEETLOG_CREDENTIALS``): a service-account key or an authorized-user (OAuth) file;
  2. ``GOOGLE_APPLICATION_CREDENTIALS``;
  3. gspread's default files: ``~/.config/gspread/service_account.json``, then the OAuth token
     ``~/.config/gspread/authorized_user.json``;
  4. application default credentials (Colab, Compute Engine, ``gcloud auth application-default``).
``SHEETLOG_GSHEETS_ENDPOINT=http://127.0.0.1:PORT`` sends every request to a local server (the
emulator convention) with anonymous credentials instead; an explicit service-account key file
then only names, in messages, the e-mail that requests stand for.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import google.auth
import gspread
import requests
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError
from gspread.auth import DEFAULT_AUTHORIZED_USER_FILENAME, DEFAULT_SERVICE_ACCOUNT_FILENAME

from ...errors import TargetError

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
ENDPOINT_VARIABLE = "SHEETLOG_GSHEETS_ENDPOINT"
TIMEOUT_S = (5.0, 30.0)  # connect, read: gspread waits forever by default
TIMEOUT_VARIABLE = "SHEETLOG_GSHEETS_TIMEOUT_S"  # overrides the read timeout (tests)
_GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com")

NO_CREDENTIALS_HELP = (
    "no Google credentials found. To log to a Google Sheet: create a service account"
    " (Google Cloud console > IAM & Admin > Service Accounts > Keys > Add key > JSON), enable the"
    " Google Sheets API for its project, save the key as ~/.config/gspread/service_account.json"
    " (or point GOOGLE_APPLICATION_CREDENTIALS or SHEETLOG_CREDENTIALS at it), and share the"
    " sheet with the service account's e-mail address as an Editor."
)


def rewrite_url(url: str, base_url: str) -> str:
    """Send a Sheets or Drive URL to ``base_url`` (other URLs are left alone)."""
    for host in _GOOGLE_HOSTS:
        if url.startswith(host):
            return base_url.rstrip("/") + url[len(host) :]
    return url


class BoundedHTTPClient(gspread.HTTPClient):
    """gspread's HTTP client, each request's timeouts cut to what is left until ``deadline``
    (a ``time.monotonic()`` value; None: no deadline). A token request made on the way takes
    the same timeouts (google-auth's ``AuthorizedSession`` passes them on)."""

    deadline: float | None = None

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        if self.deadline is None or self.timeout is None:
            return super().request(method, endpoint, *args, **kwargs)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise requests.Timeout("the time allowed for this delivery ran out")
        configured = self.timeout
        connect, read = configured if isinstance(configured, tuple) else (configured,) * 2
        self.timeout = (min(connect, left), min(read, left))
        try:
            return super().request(method, endpoint, *args, **kwargs)
        finally:
            self.timeout = configured


class EndpointHTTPClient(BoundedHTTPClient):
    """gspread's HTTP client with every Google URL rewritten to ``base_url``.

    gspread copies its URL constants at import, so patching ``gspread.urls`` has no effect;
    rewriting in ``request`` catches every call. Use ``http_client_class`` to bind a URL."""

    base_url = ""

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, rewrite_url(endpoint, self.base_url), *args, **kwargs)


def http_client_class(
    base_url: str, base: type[gspread.HTTPClient] = gspread.HTTPClient
) -> type[gspread.HTTPClient]:
    """A ``gspread.HTTPClient`` subclass (of ``base``, e.g. ``gspread.BackOffHTTPClient``)
    bound to ``base_url``, for ``gspread.Client(auth, http_client=...)``."""
    plain = base in (gspread.HTTPClient, BoundedHTTPClient)
    bases = (EndpointHTTPClient,) if plain else (EndpointHTTPClient, base)
    return type("EndpointHTTPClient", bases, {"base_url": base_url.rstrip("/")})


def make_client(key_file: str | os.PathLike[str] | None = None) -> tuple[gspread.Client, str]:
    """A gspread client and a description of who it acts as (for error messages)."""
    endpoint = os.environ.get(ENDPOINT_VARIABLE)
    if endpoint:
        client = gspread.Client(AnonymousCredentials(), http_client=http_client_class(endpoint))
        identity = _endpoint_identity(key_file, endpoint)
    else:
        credentials = find_credentials(key_file)
        client = gspread.Client(credentials, http_client=BoundedHTTPClient)
        identity = getattr(credentials, "service_account_email", None) or "your Google account"
    client.http_client.set_timeout(_timeout())
    return client, identity


def _endpoint_identity(key_file: str | os.PathLike[str] | None, endpoint: str) -> str:
    """Who requests to a local endpoint stand for: an explicit service-account key file (checked
    as against Google) names its e-mail, although the requests themselves stay anonymous."""
    explicit = key_file or os.environ.get("SHEETLOG_CREDENTIALS")
    credentials = _from_file(Path(explicit).expanduser()) if explicit else None
    email = getattr(credentials, "service_account_email", None)
    return email or f"anonymous (local endpoint {endpoint})"


def _timeout() -> tuple[float, float]:
    return (TIMEOUT_S[0], read_timeout_s())


def read_timeout_s() -> float:
    """How long one request waits for an answer."""
    read = os.environ.get(TIMEOUT_VARIABLE)
    return float(read) if read else TIMEOUT_S[1]


def find_credentials(key_file: str | os.PathLike[str] | None = None) -> Credentials:
    """The first credentials found in the order of the module docstring; TargetError if none."""
    explicit = key_file or os.environ.get("SHEETLOG_CREDENTIALS")
    for path in (explicit, os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")):
        if path:
            return _from_file(Path(path).expanduser())
    for path in (DEFAULT_SERVICE_ACCOUNT_FILENAME, DEFAULT_AUTHORIZED_USER_FILENAME):
        if Path(path).is_file():
            return _from_file(Path(path))
    try:
        credentials, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as error:
        raise TargetError(NO_CREDENTIALS_HELP) from error
    return credentials


def _from_file(path: Path) -> Credentials:
    if not path.is_file():
        raise TargetError(f"the Google credentials file {path} does not exist")
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("type")
        if kind == "service_account":
            from google.oauth2.service_account import Credentials as ServiceAccount

            return ServiceAccount.from_service_account_file(str(path), scopes=SCOPES)
        if kind == "authorized_user":
            from google.oauth2.credentials import Credentials as UserCredentials

            return UserCredentials.from_authorized_user_file(str(path), scopes=SCOPES)
        credentials, _ = google.auth.load_credentials_from_file(str(path), scopes=SCOPES)
        return credentials
    except (ValueError, OSError, GoogleAuthError) as error:
        raise TargetError(
            f"{path} is not a usable Google credentials file ({error}); download a service"
            " account key (JSON) from the Google Cloud console"
        ) from error
