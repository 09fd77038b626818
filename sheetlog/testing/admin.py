"""Endpoints under ``/__fake__/`` that drive the fake from another process.

=======  ==========================================  =========================================
method   path                                        body / answer
=======  ==========================================  =========================================
GET      /__fake__/health                            {"ok": true, "base_url"}
POST     /__fake__/spreadsheets                      {"title", "sheets": [[title, rows, cols]]}
                                                     -> {"spreadsheetId"}
GET      /__fake__/spreadsheets                      {"spreadsheetIds": [...]}
GET      /__fake__/spreadsheets/KEY                  the spreadsheet with grid data
GET      /__fake__/spreadsheets/KEY/values[/SHEET]   {"values": effective values}
DELETE   /__fake__/spreadsheets/KEY
GET      /__fake__/log                               {"requests": [LoggedRequest...]}
DELETE   /__fake__/log                               clear the log
POST     /__fake__/faults                            {"kind", "times", "match", "retry_after",
                                                     "delay"}: like FakeSheetsServer.inject
DELETE   /__fake__/faults                            clear injected faults and the fault rate
POST     /__fake__/fault_rate                        {"rate", "kinds", "seed", "match", ...}
POST     /__fake__/forbid                            {"spreadsheetId", "reason"}
POST     /__fake__/quota                             {"reads", "writes", "window_s"}
POST     /__fake__/reset                             forget everything
=======  ==========================================  =========================================

Admin requests bypass faults, quotas and the request log. Errors answer 400 ``{"error"}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .faults import FAULT_KINDS

if TYPE_CHECKING:
    from .fake_sheets import FakeSheetsServer


def handle(fake: FakeSheetsServer, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """Answer an admin request: (status, JSON payload)."""
    try:
        data = json.loads(body) if body.strip() else {}
        parts = [unquote(p) for p in path.strip("/").split("/")]
        return 200, _op(fake, method, parts, data)
    except (KeyError, ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}


def _op(fake: FakeSheetsServer, method: str, parts: list[str], data: dict) -> Any:
    head = parts[0]
    if head == "health" and method == "GET":
        return {"ok": True, "base_url": fake.base_url}
    if head == "spreadsheets":
        if method == "POST" and len(parts) == 1:
            sheets = data.get("sheets") or [("Sheet1", 1000, 26)]
            key = fake.create_spreadsheet(data.get("title", "Untitled spreadsheet"), sheets)
            return {"spreadsheetId": key}
        if method == "GET" and len(parts) == 1:
            return {"spreadsheetIds": fake.spreadsheet_ids()}
        if method == "DELETE" and len(parts) == 2:
            fake.delete_spreadsheet(parts[1])
            return {}
        if method == "GET" and len(parts) in (3, 4) and parts[2] == "values":
            return {"values": fake.values(parts[1], parts[3] if len(parts) == 4 else None)}
        if method == "GET" and len(parts) == 2:
            return fake.metadata(parts[1], include_grid_data=True)
    if head == "log":
        if method == "GET":
            return {"requests": [e.to_json() for e in fake.request_log]}
        if method == "DELETE":
            fake.clear_log()
            return {}
    if head == "faults":
        if method == "POST":
            fake.inject(
                data["kind"],
                times=data.get("times", 1),
                match=data.get("match"),
                retry_after=float(data.get("retry_after", 1.0)),
                delay=float(data.get("delay", 1.0)),
            )
            return {"pending": len(fake.faults.pending())}
        if method == "DELETE":
            fake.clear_faults()
            return {}
    if head == "fault_rate" and method == "POST":
        fake.set_fault_rate(
            float(data["rate"]),
            data.get("kinds") or FAULT_KINDS,
            data.get("seed"),
            match=data.get("match"),
            retry_after=float(data.get("retry_after", 1.0)),
            delay=float(data.get("delay", 1.0)),
        )
        return {}
    if head == "forbid" and method == "POST":
        fake.forbid(data["spreadsheetId"], data.get("reason", "permission"))
        return {}
    if head == "quota" and method == "POST":
        fake.set_quota(
            data.get("reads", fake.quota.reads),
            data.get("writes", fake.quota.writes),
            float(data.get("window_s", fake.quota.window_s)),
        )
        return {}
    if head == "reset" and method == "POST":
        fake.reset()
        return {}
    raise ValueError(f"no admin endpoint {method} /__fake__/{'/'.join(parts)}")
