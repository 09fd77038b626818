"""Which endpoint a request is for, how it is logged, and the errors shared by endpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote

from .grid import ApiError

SHEETS_PREFIX = "/v4/spreadsheets"
DRIVE_PREFIX = "/drive/v3/files"
ADMIN_PREFIX = "/__fake__/"

_RPC = {
    "get_spreadsheet": "GetSpreadsheet",
    "batch_update": "BatchUpdateSpreadsheet",
    "create": "CreateSpreadsheet",
    "values_get": "GetValues",
    "values_update": "UpdateValues",
    "values_append": "AppendValues",
    "values_clear": "ClearValues",
    "values_batch_get": "BatchGetValues",
    "values_batch_update": "BatchUpdateValues",
    "values_batch_clear": "BatchClearValues",
}


@dataclass
class LoggedRequest:
    """One API request as the fake saw it. Readable as attributes or as ``entry["kind"]``."""

    method: str
    path: str  # decoded, without the query
    query: dict[str, Any]  # a single value as str, a repeated one as a list
    kind: str  # "read" (GET) or "write"
    api: str  # "sheets" or "drive"
    user: str  # the bearer token, or "anonymous"
    time: float  # time.time() when the request arrived
    spreadsheet_id: str | None = None
    status: int | None = None  # None: the connection was dropped without an answer
    fault: str | None = None  # the injected fault kind, if any
    body_size: int = 0  # bytes in the request body

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Route:
    api: str
    op: str
    spreadsheet_id: str | None = None
    range: str | None = None
    extra: dict = field(default_factory=dict)


def route(method: str, raw_path: str) -> Route | None:
    """Which endpoint a request is for; None when the fake (or Google) has no such method."""
    if raw_path.startswith(SHEETS_PREFIX):
        rest = raw_path[len(SHEETS_PREFIX) :]
        if rest in ("", "/"):
            return Route("sheets", "create") if method == "POST" else None
        if not rest.startswith("/"):
            return None
        segment, _, tail = rest[1:].partition("/")
        key, _, action = segment.partition(":")
        key = unquote(key)
        if not tail:
            if not action and method == "GET":
                return Route("sheets", "get_spreadsheet", key)
            if action == "batchUpdate" and method == "POST":
                return Route("sheets", "batch_update", key)
            return None
        if tail.startswith("values:"):
            action = tail[len("values:") :]
            ops = {
                ("GET", "batchGet"): "values_batch_get",
                ("POST", "batchUpdate"): "values_batch_update",
                ("POST", "batchClear"): "values_batch_clear",
            }
            op = ops.get((method, action))
            return Route("sheets", op, key) if op else None
        if tail.startswith("values/"):
            raw_range = tail[len("values/") :]
            op = None
            if raw_range.endswith(":append"):
                raw_range, op = raw_range[: -len(":append")], "values_append"
            elif raw_range.endswith(":clear"):
                raw_range, op = raw_range[: -len(":clear")], "values_clear"
            if op is not None:
                return Route("sheets", op, key, unquote(raw_range)) if method == "POST" else None
            op = {"GET": "values_get", "PUT": "values_update"}.get(method)
            return Route("sheets", op, key, unquote(raw_range)) if op else None
        return None
    if raw_path.startswith(DRIVE_PREFIX):
        rest = raw_path[len(DRIVE_PREFIX) :]
        if rest in ("", "/"):
            op = {"POST": "drive_create", "GET": "drive_list"}.get(method)
            return Route("drive", op) if op else None
        if rest.startswith("/") and "/" not in rest[1:]:
            op = {"GET": "drive_get", "DELETE": "drive_delete"}.get(method)
            return Route("drive", op, unquote(rest[1:])) if op else None
    return None


def user_from(header: str | None) -> str:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or "anonymous"
    return "anonymous"


def reject_constant(name: str) -> Any:
    raise ValueError(name)


def drive_not_found(file_id: str) -> ApiError:
    message = f"File not found: {file_id}."
    body = {
        "error": {
            "code": 404,
            "message": message,
            "errors": [
                {
                    "message": message,
                    "domain": "global",
                    "reason": "notFound",
                    "location": "fileId",
                    "locationType": "parameter",
                }
            ],
        }
    }
    return ApiError(404, message, "NOT_FOUND", body=body)


def forbidden_error(reason: str, op: str) -> ApiError:
    if reason == "scope":
        return ApiError(
            403,
            "Request had insufficient authentication scopes.",
            "PERMISSION_DENIED",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                    "domain": "googleapis.com",
                    "metadata": {
                        "method": "google.apps.sheets.v4.SpreadsheetsService."
                        + _RPC.get(op, "GetSpreadsheet"),
                        "service": "sheets.googleapis.com",
                    },
                }
            ],
        )
    return ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
