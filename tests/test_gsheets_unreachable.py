"""An unreachable Google Sheet costs a training script seconds, not minutes (issue 10, item 9).

Real parts: a real closed port (a socket bound and never listening: the kernel refuses), a real
DNS failure (``.invalid`` never resolves), a real TLS failure (https spoken to the plain-HTTP
fake), a real server that accepts and never answers, the fake Sheets API over real HTTP, real
journals. What is counted is connection attempts (every socket urllib3 opens goes through
``urllib3.util.connection.create_connection``), never time: the timings are measured in
``benchmarks/gsheets_unreachable.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3.util.connection

import sheetlog
from sheetlog.backends.gsheets.retry import Backoff, with_retries
from sheetlog.errors import SheetlogWarning, TargetUnavailable
from sheetlog.journal import Journal
from sheetlog.testing import FakeSheetsServer


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (host, port) a socket was opened to from now on (successful or not)."""
    opened: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def counting(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    return opened


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound on loopback that never listens: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A server that accepts connections and never answers; yields its port and the
    connections it accepted."""
    accepted: list[socket.socket] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    stop.set()
    thread.join()
    listener.close()
    for connection in accepted:
        connection.close()


def _log(target: str, journal: Path, lr: float) -> tuple[dict[str, Any], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = sheetlog.log_run({"lr": lr}, target=target, capture=False, journal_dir=journal)
    return row, [str(w.message) for w in caught if issubclass(w.category, SheetlogWarning)]


def _pending(journal: Path) -> int:
    return sum(s.count for s in Journal(journal).pending_summary())


def _run_ids(fake: FakeSheetsServer, key: str) -> list[str]:
    return [row[0] for row in fake.values(key, "Runs")[1:] if row]


def _backoff_files(journal: Path) -> list[Path]:
    return sorted(journal.glob("backoff-*.json"))


@pytest.mark.parametrize("failure", ["refused", "dns", "tls"])
def test_an_unreachable_sheet_is_tried_once_then_skipped_until_flush(
    fake_sheets: FakeSheetsServer,
    closed_port: int,
    connections: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    failure: str,
) -> None:
    key = fake_sheets.create_spreadsheet("team runs")
    target, journal = f"gsheet://{key}/Runs", tmp_path / "j"
    down = {
        "refused": f"http://127.0.0.1:{closed_port}",
        "dns": "http://sheets.sheetlog-test.invalid",
        "tls": fake_sheets.base_url.replace("http://", "https://"),  # TLS to a plain server
    }[failure]
    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", down)
    monkeypatch.setenv("SHEETLOG_GSHEETS_MAX_WAIT_S", "5")  # the retries would have time

    first, warned = _log(target, journal, 0.1)
    assert len(connections) == 1  # no retry loop for an error retrying will not fix
    assert len(warned) == 1 and "cannot be reached" in warned[0], warned
    assert "kept in the journal" in warned[0]
    assert len(_backoff_files(journal)) == 1

    second, warned = _log(target, journal, 0.2)
    assert len(connections) == 1  # skipped: the back-off is remembered in the journal dir
    assert len(warned) == 1 and "not tried until" in warned[0] and "sheetlog flush" in warned[0]
    assert _pending(journal) == 2

    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", fake_sheets.base_url)  # back online
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        report = sheetlog.flush(journal_dir=journal)  # tries despite the back-off
    assert report.ok and report.delivered == {target: 2}
    assert sorted(_run_ids(fake_sheets, key)) == sorted([first["run_id"], second["run_id"]])
    assert _backoff_files(journal) == []  # success ends the back-off
    third, warned = _log(target, journal, 0.3)
    assert warned == [] and _run_ids(fake_sheets, key)[-1] == third["run_id"]


def test_the_first_run_after_the_back_off_delivers_everything(
    fake_sheets: FakeSheetsServer,
    closed_port: int,
    connections: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    key = fake_sheets.create_spreadsheet("team runs")
    target, journal = f"gsheet://{key}/Runs", tmp_path / "j"
    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    first, _ = _log(target, journal, 0.1)
    second, warned = _log(target, journal, 0.2)
    assert len(connections) == 1 and "not tried until" in warned[0]

    # The back-off ends (its file says until when) and the network is back.
    backoff = _backoff_files(journal)[0]
    state = json.loads(backoff.read_text())
    assert state["failures"] == 1 and "Connection refused" in state["reason"]
    backoff.write_text(json.dumps({**state, "until": state["until"] - 3600}))
    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", fake_sheets.base_url)
    third, warned = _log(target, journal, 0.3)
    assert warned == []
    assert sorted(_run_ids(fake_sheets, key)) == sorted(r["run_id"] for r in (first, second, third))
    assert _pending(journal) == 0 and _backoff_files(journal) == []


def test_repeated_failures_back_off_longer(
    fake_sheets: FakeSheetsServer, closed_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An explicit flush that fails again doubles the back-off."""
    key = fake_sheets.create_spreadsheet("team runs")
    journal = tmp_path / "j"
    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    _log(f"gsheet://{key}/Runs", journal, 0.1)
    waits = []
    for _ in range(3):
        state = json.loads(_backoff_files(journal)[0].read_text())
        waits.append(state["until"])
        with pytest.warns(SheetlogWarning, match="cannot be reached"):
            assert not sheetlog.flush(journal_dir=journal).ok
    state = json.loads(_backoff_files(journal)[0].read_text())
    assert state["failures"] == 4 and state["until"] - waits[0] > 3 * 30


@pytest.mark.parametrize("setting", ["abc", "-5", "nan"])
def test_a_bad_backoff_setting_never_fails_a_run(
    fake_sheets: FakeSheetsServer,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    setting: str,
) -> None:
    monkeypatch.setenv("SHEETLOG_BACKOFF_S", setting)
    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    key = fake_sheets.create_spreadsheet("team runs")
    _, warned = _log(f"gsheet://{key}/Runs", tmp_path / "j", 0.1)
    assert len(warned) == 1 and "cannot be reached" in warned[0]
    state = json.loads(_backoff_files(tmp_path / "j")[0].read_text())
    assert state["failures"] == 1 and state["until"] > 0  # the default first wait, 30 s


def test_a_server_that_never_answers_costs_one_delivery_then_is_skipped(
    fake_sheets: FakeSheetsServer,
    silent_server: tuple[int, list[socket.socket]],
    connections: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    port, _accepted = silent_server
    key = fake_sheets.create_spreadsheet("team runs")
    target, journal = f"gsheet://{key}/Runs", tmp_path / "j"
    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SHEETLOG_GSHEETS_TIMEOUT_S", "0.2")
    first, warned = _log(target, journal, 0.1)
    assert len(warned) == 1 and "kept failing" in warned[0]
    # the last attempt's error: its own timeout, or the delivery's time ran out before it
    assert "no answer within 0.2 s" in warned[0] or "time allowed for this delivery" in warned[0]
    tried = len(connections)
    assert tried >= 1
    second, warned = _log(target, journal, 0.2)
    assert len(connections) == tried and "not tried until" in warned[0]

    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", fake_sheets.base_url)
    assert sheetlog.flush(journal_dir=journal).delivered == {target: 2}
    assert sorted(_run_ids(fake_sheets, key)) == sorted([first["run_id"], second["run_id"]])


def test_retries_stop_at_the_time_limit_however_slow_each_answer() -> None:
    """Each attempt takes 10 s (a server trickling its answer): waits alone never spend the
    30 s budget, the time limit stops the attempts."""
    now = [0.0]

    def slow_failure(_after_failure: bool) -> None:
        now[0] += 10.0
        raise requests.ReadTimeout("no answer")

    def sleep(seconds: float) -> None:
        now[0] += seconds

    calls = []
    with pytest.raises(TargetUnavailable, match="kept failing"):
        with_retries(
            lambda after: calls.append(after) or slow_failure(after),
            Backoff(base_s=0.001),
            str,
            sleep=sleep,
            clock=lambda: now[0],
            limit_s=35.0,
        )
    assert len(calls) == 4 and now[0] < 45.0


@pytest.fixture
def rejecting_token_endpoint() -> Iterator[int]:
    """A token endpoint that refuses every key, as Google does a revoked one; yields its port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Reject(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Reject)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("token_endpoint", ["refused", "silent", "rejects"])
def test_token_requests_fail_fast_time_out_and_explain_themselves(
    fake_sheets: FakeSheetsServer,
    closed_port: int,
    silent_server: tuple[int, list[socket.socket]],
    rejecting_token_endpoint: int,
    connections: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    token_endpoint: str,
) -> None:
    """Service-account credentials whose token request (made before the first Sheets request)
    meets a closed port, a server that never answers, or a refusal of the key. Each used to
    leave the run pending as an 'unexpected TransportError / RefreshError (please report
    this)'; now: unreachable fails fast and backs off, a silent server times out, a refused key
    says what to do (and is no reason to back off: it is not a network failure)."""
    import gspread
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2.service_account import Credentials

    from sheetlog.backends.gsheets import backend as gsheets_backend
    from sheetlog.backends.gsheets.auth import _timeout, http_client_class

    port = {
        "refused": closed_port,
        "silent": silent_server[0],
        "rejects": rejecting_token_endpoint,
    }[token_endpoint]
    monkeypatch.setenv("SHEETLOG_GSHEETS_TIMEOUT_S", "0.2")
    key_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    credentials = Credentials.from_service_account_info(
        {
            "type": "service_account",
            "client_email": "runs@example.iam.gserviceaccount.com",
            "private_key": key_pem.decode(),
            "private_key_id": "1",
            "token_uri": f"http://127.0.0.1:{port}/token",
        },
        scopes=["https://www.googleapis.com/auth/spreadsheets"],
    )

    def make_client(_key_file: Any = None) -> tuple[gspread.Client, str]:
        """make_client's own client, with these credentials and the fake for Sheets."""
        client = gspread.Client(credentials, http_client=http_client_class(fake_sheets.base_url))
        client.http_client.set_timeout(_timeout())
        return client, credentials.service_account_email

    monkeypatch.setattr(gsheets_backend, "make_client", make_client)
    key = fake_sheets.create_spreadsheet("team runs")
    fake_sheets.clear_log()
    _, warned = _log(f"gsheet://{key}/Runs", tmp_path / "j", 0.1)
    assert fake_sheets.request_log == []  # no Sheets request without a token
    assert len(warned) == 1 and "unexpected" not in warned[0], warned
    assert {address[1] for address in connections} == {port}
    if token_endpoint == "refused":
        assert len(connections) == 1 and "cannot be reached" in warned[0]
        assert len(_backoff_files(tmp_path / "j")) == 1
    elif token_endpoint == "silent":
        assert "kept failing" in warned[0] and "timed out" in warned[0]
        assert len(_backoff_files(tmp_path / "j")) == 1
    else:
        who = "runs@example.iam.gserviceaccount.com"
        assert f"Google refused to give {who} an access token" in warned[0]
        assert "invalid_grant" in warned[0] and "renew or replace the credentials" in warned[0]
        assert _backoff_files(tmp_path / "j") == []


CHILD = r"""
import json, sys, warnings
import urllib3.util.connection
opened = []
real = urllib3.util.connection.create_connection
def counting(address, *args, **kwargs):
    opened.append(address)
    return real(address, *args, **kwargs)
urllib3.util.connection.create_connection = counting
import sheetlog
target, journal, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ids = [
        sheetlog.log_run({"i": i}, target=target, journal_dir=journal, capture=False)["run_id"]
        for i in range(runs)
    ]
print(json.dumps({"ids": ids, "connections": len(opened), "warnings": len(caught)}))
"""


def test_processes_sharing_a_journal_share_the_back_off(
    fake_sheets: FakeSheetsServer, closed_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Three real processes, three runs each, one journal, the sheet unreachable: a handful of
    connection attempts in all (a process that ends a run before the back-off file exists tries
    once), every run kept, and one flush delivers all nine."""
    key = fake_sheets.create_spreadsheet("team runs")
    target, journal = f"gsheet://{key}/Runs", tmp_path / "j"
    env = {**os.environ, "SHEETLOG_GSHEETS_ENDPOINT": f"http://127.0.0.1:{closed_port}"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, target, str(journal), "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    reports = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    # At most one try per process, and one more at exit for a process whose runs another
    # took (that one's failure may be recorded just after it lets go of the delivery lock).
    assert 1 <= sum(r["connections"] for r in reports) <= 6
    assert all(r["connections"] <= 2 for r in reports)
    ids = [run_id for r in reports for run_id in r["ids"]]
    assert _pending(journal) == 9
    state = json.loads(_backoff_files(journal)[0].read_text())  # whole, whoever wrote last
    assert state["target"] == target and state["failures"] >= 1
    assert list(journal.glob(".backoff-*")) == []  # no temporary file left behind

    monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", fake_sheets.base_url)
    assert sheetlog.flush(journal_dir=journal).delivered == {target: 9}
    assert sorted(_run_ids(fake_sheets, key)) == sorted(ids)
