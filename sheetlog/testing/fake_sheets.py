"""A local stand-in for the Google Sheets API v4 (and Drive v3 file create/get/delete).

Served over real HTTP on loopback so that gspread's own client (see ``fake_client``) and other
processes talk to it exactly as they would to Google. Semantics follow real recorded answers
(``tests/data/gsheets-recordings``): trimmed values, append's table detection, RAW vs
USER_ENTERED, grid limits, error bodies, per-user quotas. Tests can inject faults: 429 with
Retry-After, 408, 5xx, slow answers, and connections dropped before or after the request is
applied.

In-process::

    with FakeSheetsServer() as fake:
        key = fake.create_spreadsheet("runs")
        gc = fake_client(fake.base_url)
        gc.open_by_key(key).sheet1.append_row(["a", 1])

As a program (other processes reach it over HTTP; ``/__fake__/`` endpoints drive it, see
``admin``)::

    python -m sheetlog.testing.fake_sheets --port 8765 --create runs

prints the base URL on the first line, then ``KEY<TAB>TITLE`` per created spreadsheet.

Endpoints: spreadsheets get (``includeGridData``, ``ranges``, ``fields`` masks) / create /
batchUpdate; values get / batchGet / update / append / clear / batchUpdate / batchClear;
Drive v3 files create / get / list / delete. Answers are byte-identical to Google's recorded
ones (2-space JSON, key order), checked by ``tests/test_fake_sheets.py``.

Emulated as Google does it: A1 ranges of every form (quoted and unquoted titles, ``A:A``,
``1:1``, ``A2:2``, whole sheet; clipped to the grid; titles quoted in answers when needed);
trimmed trailing cells and rows, ``[]`` for empty interior rows, no ``values`` for an empty
range; ``""`` and null (skipped) cells; RAW vs USER_ENTERED (numbers, percents, currency,
booleans, dates and times with a date format, ``'`` prefix, formulas); value and date-time
render options; values.update never grows the grid, append does (table detection: a
single-cell range takes the block starting there, any other range the block holding its last
value; OVERWRITE / INSERT_ROWS; rows it inserts or adds take the formats of the row above);
batchUpdate requests addSheet, deleteSheet, updateSheetProperties (fields mask),
insertDimension (formats inherited), appendDimension, deleteDimension, repeatCell,
updateCells, appendCells (after the last row with a value; rows it adds have no formats),
setBasicFilter, clearBasicFilter, updateSpreadsheetProperties, applied atomically, with
``includeSpreadsheetInResponse`` / ``responseRanges`` / ``responseIncludeGridData``; limits
(10 M cells, 18,278 columns, 50,000 characters, 10 MB payload) and error bodies; per-user
quotas (429 RESOURCE_EXHAUSTED).

Not emulated: formula references are not adjusted when rows or columns move, and only a small
formula language is evaluated (see ``formula``); formula results use the automatic number
format unless their cell has one; formats beyond ``numberFormat``/``textFormat`` are stored but
only echoed; cosmetic requests (setDataValidation, mergeCells, borders, conditional formats,
...) answer ``{}`` without effect, other valid requests answer 501; the per-project quota,
Drive permissions, OAuth and revision history are absent. The 18,278-column error wording is
a best guess (not recorded), and so are the table detection for multi-cell ranges other than
the whole sheet (recorded: whole sheet, and a single cell) and appendCells (not recorded).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from . import admin, batch_update, resource, values_api
from .faults import ERROR_KINDS, FAULT_KINDS, Fault, FaultPlan, Quota, fault_response, quota_error
from .formula import Evaluator
from .grid import ApiError, Spreadsheet, dumps, invalid_argument, new_spreadsheet_id, not_found
from .routing import (
    ADMIN_PREFIX,
    DRIVE_PREFIX,
    LoggedRequest,
    Route,
    drive_not_found,
    forbidden_error,
    reject_constant,
    route,
    user_from,
)

MAX_PAYLOAD = 10 * 1024 * 1024  # Google refuses larger request bodies


class _Drop(Exception):
    """Close the connection without answering."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], fake: FakeSheetsServer):
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            self.server.fake._handle(self, self._body())
        except _Drop:
            self.close_connection = True
        except OSError:  # the client went away (timed out) or the server is stopping
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        if "Content-Type" not in headers:
            headers = {
                "Content-Type": "application/json; charset=UTF-8" if body else "text/html",
                **headers,
            }
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body in one send: two small writes on a keep-alive connection would
        # meet Nagle's algorithm and delayed ACKs (a 40 ms stall per request).
        self._headers_buffer.append(b"\r\n")
        if body and self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()


def _sheet_spec(spec: Any) -> tuple[str, int, int]:
    if isinstance(spec, str):
        return spec, 1000, 26
    if isinstance(spec, dict):
        return spec.get("title", "Sheet1"), int(spec.get("rows", 1000)), int(spec.get("cols", 26))
    title, *rest = spec
    rows = int(rest[0]) if rest else 1000
    cols = int(rest[1]) if len(rest) > 1 else 26
    return title, rows, cols


class FakeSheetsServer:
    """The fake Sheets API. ``start()`` it (or use ``with``), then point clients at
    ``base_url`` (``fake_client(base_url)``). Quotas are per user (bearer token; no token =
    one "anonymous" user) over a sliding ``quota_window_s``, reads (GET) and writes counted
    separately, Drive requests not counted; ``None`` disables one. Thread-safe: one lock
    around the model; many threads and processes may call at once."""

    def __init__(
        self,
        quota_reads: int | None = 60,
        quota_writes: int | None = 60,
        quota_window_s: float = 60.0,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self._lock = threading.RLock()
        self._spreadsheets: dict[str, Spreadsheet] = {}
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self.faults = FaultPlan()
        self.quota = Quota(quota_reads, quota_writes, quota_window_s)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSheetsServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-sheets",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSheetsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake Sheets server is not running: call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # spreadsheets ------------------------------------------------------------------------

    def create_spreadsheet(
        self,
        title: str = "Untitled spreadsheet",
        sheets: Sequence[Any] = (("Sheet1", 1000, 26),),
    ) -> str:
        """A new spreadsheet; ``sheets`` holds ``(title, rows, cols)`` tuples (or titles)."""
        specs = [_sheet_spec(s) for s in sheets] or [("Sheet1", 1000, 26)]
        with self._lock:
            ss = Spreadsheet(new_spreadsheet_id(), title)
            for i, (name, rows, cols) in enumerate(specs):
                ss.add_sheet(name, rows, cols, sheet_id=0 if i == 0 else None)
            self._spreadsheets[ss.id] = ss
            return ss.id

    def delete_spreadsheet(self, key: str) -> None:
        with self._lock:
            self._spreadsheets.pop(key, None)

    def spreadsheet_ids(self) -> list[str]:
        with self._lock:
            return list(self._spreadsheets)

    def forbid(self, key: str, reason: str | None = "permission") -> None:
        """Answer every request for this spreadsheet with 403 like Google: reason
        "permission" (not shared with the caller), "scope" (token lacks the scope), or None
        to allow again."""
        if reason not in (None, "permission", "scope"):
            raise ValueError("reason must be 'permission', 'scope' or None")
        with self._lock:
            self._get(key).forbidden = reason

    def _get(self, key: str) -> Spreadsheet:
        ss = self._spreadsheets.get(key)
        if ss is None:
            raise KeyError(f"no spreadsheet {key!r} in the fake")
        return ss

    def values(self, key: str, sheet: str | None = None) -> list[list]:
        """The sheet's effective values (numbers as numbers), trimmed like values.get."""
        with self._lock:
            ss = self._get(key)
            target = ss.sheets[0] if sheet is None else ss.sheet_by_title(sheet)
            if target is None:
                raise KeyError(f"no sheet {sheet!r} in spreadsheet {key!r}")
            return values_api.read_block(
                target,
                Evaluator(ss.sheets),
                (0, target.row_count, 0, target.col_count),
                "ROWS",
                "UNFORMATTED_VALUE",
                "SERIAL_NUMBER",
            )

    def metadata(
        self, key: str, include_grid_data: bool = False, ranges: Iterable[str] = ()
    ) -> dict:
        """What spreadsheets.get would answer (not logged, no quota)."""
        params = {"includeGridData": [str(include_grid_data)], "ranges": list(ranges)}
        with self._lock:
            return resource.spreadsheet_json(self._get(key), params)

    def cell(self, key: str, a1: str) -> dict:
        """One cell's CellData (userEnteredValue, effectiveValue, formats...)."""
        with self._lock:
            ss = self._get(key)
            sheet, rng = ss.resolve(a1)
            return resource.cell_data(sheet, Evaluator(ss.sheets), rng.r0 or 0, rng.c0 or 0)

    # log, faults, quota ------------------------------------------------------------------

    @property
    def request_log(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def inject(
        self,
        kind: str,
        *,
        times: int | None = 1,
        match: str | None = None,
        retry_after: float = 1.0,
        delay: float = 1.0,
    ) -> None:
        """The next ``times`` API requests matching ``match`` (a regex searched in
        ``"METHOD /decoded/path"``, e.g. ``":append$"`` or ``"^GET "``) get this fault;
        ``times=None``: every matching request until ``clear_faults``. Kinds:

        - ``"429"``: RESOURCE_EXHAUSTED with ``Retry-After: retry_after``; nothing applied.
        - ``"408"``, ``"502"``: Google front-end HTML pages; ``"500"``, ``"503"``, ``"504"``:
          JSON errors (INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED); nothing applied.
        - ``"slow"``: applied at once, answered normally after ``delay`` seconds (a client
          that times out first does not know the outcome).
        - ``"drop_before"``: the connection is closed without an answer; nothing applied.
        - ``"drop_after"``: applied, then the connection is closed without an answer.

        Injected faults come before quota checks; admin requests never get faults."""
        self.faults.inject(Fault(kind, times, match, retry_after, delay))

    def set_fault_rate(
        self,
        rate: float,
        kinds: Sequence[str] = FAULT_KINDS,
        seed: int | None = None,
        *,
        match: str | None = None,
        retry_after: float = 1.0,
        delay: float = 1.0,
    ) -> None:
        """Each API request (matching ``match``) gets a fault with probability ``rate``, its
        kind drawn uniformly from ``kinds``. ``rate=0`` turns random faults off."""
        self.faults.set_rate(rate, tuple(kinds), seed, match, retry_after, delay)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_quota(
        self,
        reads: int | None = 60,
        writes: int | None = 60,
        window_s: float = 60.0,
    ) -> None:
        self.quota.configure(reads, writes, window_s)

    def reset(self) -> None:
        """Forget spreadsheets, log, faults and quota use."""
        with self._lock:
            self._spreadsheets.clear()
        self.clear_log()
        self.clear_faults()
        self.quota.reset()

    # request handling --------------------------------------------------------------------

    def _handle(self, handler: _Handler, body: bytes) -> None:
        method = handler.command
        raw_path, _, raw_query = handler.path.partition("?")
        if raw_path.startswith(ADMIN_PREFIX):
            status, payload = admin.handle(self, method, raw_path[len(ADMIN_PREFIX) :], body)
            handler.send(status, {}, dumps(payload))
            return
        path = unquote(raw_path)
        query = parse_qs(raw_query, keep_blank_values=True)
        found = route(method, raw_path)
        entry = LoggedRequest(
            method=method,
            path=path,
            query={k: v[0] if len(v) == 1 else v for k, v in query.items()},
            kind="read" if method == "GET" else "write",
            api=found.api
            if found
            else ("drive" if raw_path.startswith(DRIVE_PREFIX) else "sheets"),
            user=user_from(handler.headers.get("Authorization")),
            time=time.time(),
            spreadsheet_id=found.spreadsheet_id if found else None,
            body_size=len(body),
        )
        fault = self.faults.take(method, path)
        if fault is not None:
            entry.fault = fault.kind
        # The entry is logged before the client can see an answer (or the connection close).
        if fault is not None and fault.kind in ERROR_KINDS:
            limit = self.quota.reads if entry.kind == "read" else self.quota.writes
            status, headers, payload = fault_response(fault, entry.kind, limit)
            self._record(entry, status)
            handler.send(status, headers, payload)
            return
        if fault is not None and fault.kind == "drop_before":
            self._record(entry, None)
            raise _Drop
        status, headers, payload = self._answer(found, entry, query, body)
        if fault is not None and fault.kind == "drop_after":
            self._record(entry, None)
            raise _Drop
        self._record(entry, status)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        handler.send(status, headers, payload)

    def _record(self, entry: LoggedRequest, status: int | None) -> None:
        entry.status = status
        with self._log_lock:
            self._log.append(entry)

    def _answer(
        self, found: Route | None, entry: LoggedRequest, query: dict, body: bytes
    ) -> tuple[int, dict, bytes]:
        try:
            if found is None:
                raise ApiError(404, "Method not found.", "NOT_FOUND")
            if found.api == "sheets" and not self.quota.admit(entry.user, entry.kind):
                limit = self.quota.reads if entry.kind == "read" else self.quota.writes
                raise quota_error(entry.kind, limit)
            payload = self._json_body(body)
            with self._lock:
                result = self._dispatch(found, query, payload)
            if result is None:
                return 204, {}, b""
            fields = query.get("fields")
            if fields and found.api == "sheets":
                result = resource.apply_mask(result, resource.parse_mask(fields[-1]))
            return 200, {}, dumps(result)
        except ApiError as error:
            return error.code, dict(error.headers), dumps(error.payload())

    @staticmethod
    def _json_body(body: bytes) -> Any:
        if len(body) > MAX_PAYLOAD:
            raise invalid_argument(f"Request payload size exceeds the limit: {MAX_PAYLOAD} bytes.")
        if not body.strip():
            return None
        try:
            return json.loads(body.decode("utf-8"), parse_constant=reject_constant)
        except (ValueError, UnicodeDecodeError):
            raise invalid_argument("Invalid JSON payload received. Unexpected token.", "") from None

    def _dispatch(self, found: Route, query: dict, body: Any) -> dict | None:
        op = found.op
        if found.api == "drive":
            return self._drive(op, found.spreadsheet_id, query, body)
        if op == "create":
            ss = Spreadsheet(new_spreadsheet_id(), "Untitled spreadsheet")
            props = (body or {}).get("properties") or {}
            ss.title = props.get("title") or ss.title
            resource.create_spreadsheet_from(ss, body)
            self._spreadsheets[ss.id] = ss
            return resource.spreadsheet_json(ss)
        ss = self._spreadsheets.get(found.spreadsheet_id or "")
        if ss is None:
            raise not_found()
        if ss.forbidden:
            raise forbidden_error(ss.forbidden, op)
        if op == "get_spreadsheet":
            return resource.spreadsheet_json(ss, query)
        if op == "batch_update":
            return batch_update.batch_update(ss, body)
        if op == "values_get":
            return values_api.get_values(ss, found.range or "", query)
        if op == "values_batch_get":
            return values_api.batch_get(ss, query)
        if op == "values_update":
            return values_api.update_values(ss, found.range or "", query, body)
        if op == "values_append":
            return values_api.append_values(ss, found.range or "", query, body)
        if op == "values_clear":
            return values_api.clear_values(ss, found.range or "")
        if op == "values_batch_update":
            return values_api.batch_update_values(ss, body)
        if op == "values_batch_clear":
            return values_api.batch_clear(ss, body)
        raise ApiError(404, "Method not found.", "NOT_FOUND")

    def _drive(self, op: str, file_id: str | None, query: dict, body: Any) -> dict | None:
        fields = (query.get("fields") or [None])[-1]
        if op == "drive_create":
            body = body if isinstance(body, dict) else {}
            mime = body.get("mimeType", resource.DRIVE_MIME)
            if mime != resource.DRIVE_MIME:
                raise invalid_argument(f"The fake Drive API only creates spreadsheets, not {mime}.")
            ss = Spreadsheet(new_spreadsheet_id(), body.get("name") or "Untitled spreadsheet")
            resource.create_spreadsheet_from(ss, None)
            self._spreadsheets[ss.id] = ss
            return resource.drive_file(ss, fields)
        if op == "drive_list":
            q = (query.get("q") or [""])[-1]
            name = None
            for quote in ('"', "'"):
                marker = f"name = {quote}"
                if marker in q:
                    name = q.split(marker, 1)[1].split(quote, 1)[0]
            files = [
                resource.drive_file(ss, "kind,id,name,mimeType,createdTime,modifiedTime")
                for ss in self._spreadsheets.values()
                if ss.forbidden is None and (name is None or ss.title == name)
            ]
            listing = {"kind": "drive#fileList", "incompleteSearch": False, "files": files}
            if fields:
                listing = resource.apply_mask(listing, resource.parse_mask(fields))
            else:
                listing["files"] = [
                    {k: f[k] for k in ("kind", "id", "name", "mimeType")} for f in files
                ]
            return listing
        ss = self._spreadsheets.get(file_id or "")
        if ss is None or ss.forbidden == "permission":
            raise drive_not_found(file_id or "")
        if ss.forbidden == "scope":
            raise forbidden_error("scope", "get_spreadsheet")
        if op == "drive_get":
            return resource.drive_file(ss, fields)
        del self._spreadsheets[ss.id]
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sheetlog.testing.fake_sheets",
        description="Serve a local fake of the Google Sheets API v4 until killed.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--create", action="append", default=[], metavar="TITLE",
        help="create a spreadsheet with this title (repeatable); its key is printed",
    )  # fmt: skip
    parser.add_argument("--quota-reads", type=int, default=60)
    parser.add_argument("--quota-writes", type=int, default=60)
    parser.add_argument("--quota-window", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--no-quota", action="store_true", help="no read/write quotas")
    args = parser.parse_args(argv)

    fake = FakeSheetsServer(
        None if args.no_quota else args.quota_reads,
        None if args.no_quota else args.quota_writes,
        args.quota_window,
        host=args.host,
        port=args.port,
    ).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(fake.base_url, flush=True)
    for title in args.create:
        print(f"{fake.create_spreadsheet(title)}\t{title}", flush=True)
    print(
        f"fake Sheets API at {fake.base_url}; try SHEETLOG_GSHEETS_ENDPOINT={fake.base_url}",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
