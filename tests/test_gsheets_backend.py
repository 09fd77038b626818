"""The Google Sheets backend, used as a user uses it: sheetlog.log_run / flush / load on a
``gsheet://`` target, the sheet looked at (and edited) through gspread's real HTTP client.

Part 1 takes the ``sheet_service`` fixture: it runs against the local fake always, and against a
real spreadsheet too when SHEETLOG_LIVE_GSHEET_KEY and credentials are set (the live contract
test; see tests/gsheet_services.py and the README). Part 2, "fake only", needs what only the fake
has: its request log, forbidden spreadsheets, spreadsheets of its own, and environments without
credentials.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sheetlog
from sheetlog import SheetlogWarning
from sheetlog.backends.gsheets.cells import MAX_CELL_CHARS, MAX_COLUMNS
from sheetlog.journal import Journal
from sheetlog.testing import fake_client

# Any warning a test does not expect fails it (tests expecting one use pytest.warns).
pytestmark = pytest.mark.filterwarnings("error::sheetlog.SheetlogWarning")

UTC = dt.timezone.utc
FORMULA_LOOKING = ["=1+1", "+cmd", "@SUM(A1)", "-2+3", '=HYPERLINK("x")']


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No target or journal from the environment or a pyproject.toml in the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    monkeypatch.delenv("SHEETLOG_DIR", raising=False)


@pytest.fixture
def journal_dir(tmp_path) -> Path:
    return tmp_path / ".sheetlog"


@pytest.fixture
def log(journal_dir):
    """``log(target, params, metrics, **kwargs)``: sheetlog.log_run without context capture."""

    def log_run(target: str, params=None, metrics=None, **kwargs):
        return sheetlog.log_run(
            params, metrics, target=target, capture=False, journal_dir=journal_dir, **kwargs
        )

    return log_run


def pending_ids(journal_dir: Path, target: str) -> list[str]:
    return [run.run_id for run in Journal(journal_dir).pending(target)]


def bold(cell: dict) -> bool:
    return bool(cell.get("userEnteredFormat", {}).get("textFormat", {}).get("bold"))


def number_format(cell: dict) -> str | None:
    return cell.get("userEnteredFormat", {}).get("numberFormat", {}).get("type")


def random_key() -> str:
    return "1" + secrets.token_urlsafe(32)[:43].replace("-", "x").replace("_", "y")


# ============================================================================================
# Part 1: the fake, and a live spreadsheet when configured
# ============================================================================================


@pytest.mark.parametrize("label", ["Worksheet Name", "It's runs"])
def test_missing_worksheet_is_added_with_a_formatted_header(sheet_service, log, label):
    title = sheet_service.title(label)
    row = log(sheet_service.target(title), {"lr": 0.1}, {"acc": 0.9})

    header, first = sheet_service.values(title)
    assert header[0] == "run_id" and first[0] == row["run_id"]
    assert {"status", "start_time", "end_time", "params.lr", "metrics.acc"} <= set(header)

    grid = sheet_service.grid(title, "A1:F2")
    assert grid["properties"]["gridProperties"]["frozenRowCount"] == 1
    header_cells, data_cells = (r["values"] for r in grid["data"][0]["rowData"])
    assert all(bold(c) for c in header_cells)
    # The data row is not bold like the header, and its times are date cells.
    assert not any(bold(c) for c in data_cells)
    assert number_format(data_cells[header.index("start_time")]) == "DATE_TIME"
    basic = grid["basicFilter"]["range"]
    assert basic.get("startRowIndex", 0) == 0 and basic.get("startColumnIndex", 0) == 0
    assert basic["endColumnIndex"] >= len(header)


def test_gid_of_a_pasted_url_picks_the_worksheet(sheet_service, log):
    first = sheet_service.add_worksheet("first")
    second = sheet_service.add_worksheet("second")
    url = sheet_service.url(gid=second.id)

    row = log(url, {"lr": 0.1})
    log(url, {"lr": 0.2})

    assert sheet_service.values(first.title) == []
    header, *rows = sheet_service.values(second.title)
    assert header[0] == "run_id" and rows[0][0] == row["run_id"] and len(rows) == 2
    assert sheetlog.load(url)["params.lr"].tolist() == [0.1, 0.2]


def test_values_round_trip_through_load(sheet_service, log):
    title = sheet_service.title()
    target = sheet_service.target(title)
    moment = dt.datetime(2024, 3, 1, 10, 0, 0, 125000, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    params = {
        "int": 3,
        "float": 0.25,
        "yes": True,
        "no": False,
        "maybe": 5,
        "nan": math.nan,
        "inf": math.inf,
        "minus_inf": -math.inf,
        "when": moment,
        "np_float32": np.float32(0.5),
        "np_int64": np.int64(7),
        "np_bool": np.bool_(True),
        "array": np.array([1, 2]),
        "list": [1, "a", None],
        "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
    }
    params.update({f"text{i}": text for i, text in enumerate(FORMULA_LOOKING)})
    first = log(target, params, {"acc": np.float64(0.9), "loss": 1e-12})
    second = log(target, {**params, "maybe": None}, {"acc": 0.5})

    frame = sheetlog.load(target)
    assert frame["run_id"].tolist() == [first["run_id"], second["run_id"]]
    one = frame.iloc[0]
    for name in ("start_time", "end_time"):
        assert str(frame[name].dtype) == "datetime64[us, UTC]" or frame[name].dt.tz == UTC
        assert abs(one[name] - pd.Timestamp(first[name], tz=UTC)) < pd.Timedelta(milliseconds=1)
    assert frame["params.int"].tolist() == [3, 3]
    assert one["params.float"] == 0.25 and one["metrics.loss"] == 1e-12
    assert one["params.yes"] is True and one["params.no"] is False
    assert frame["params.maybe"].iloc[0] == 5 and pd.isna(frame["params.maybe"].iloc[1])
    assert math.isnan(one["params.nan"])
    assert one["params.inf"] == math.inf and one["params.minus_inf"] == -math.inf
    assert one["params.when"] == dt.datetime(2024, 3, 1, 5, 0, 0, 125000)  # in UTC
    assert one["params.np_float32"] == 0.5 and one["params.np_int64"] == 7
    assert one["params.np_bool"] is True
    assert one["params.array"] == [1, 2] and one["params.list"] == [1, "a", None]
    assert one["params.optimizer.name"] == "adam"
    assert one["params.optimizer.betas"] == [0.9, 0.999]
    assert [one[f"params.text{i}"] for i in range(5)] == FORMULA_LOOKING
    assert frame["metrics.acc"].tolist() == [0.9, 0.5]


def test_formula_looking_strings_stay_plain_strings(sheet_service, log):
    title = sheet_service.title()
    log(sheet_service.target(title), {f"text{i}": s for i, s in enumerate(FORMULA_LOOKING)})

    for render in ("FORMULA", "UNFORMATTED_VALUE"):
        (row,) = sheet_service.records(title, render)
        assert [row[f"params.text{i}"] for i in range(5)] == FORMULA_LOOKING, render
    header = sheet_service.values(title)[0]
    first, last = header.index("params.text0"), header.index("params.text4")
    a1 = f"{_letter(first)}2:{_letter(last)}2"
    cells = sheet_service.grid(title, a1)["data"][0]["rowData"][0]["values"]
    assert [c["formattedValue"] for c in cells] == FORMULA_LOOKING  # not "2", not an error


def _letter(index: int) -> str:
    return chr(ord("A") + index)  # the headers here are within column Z


def test_times_are_numbers_that_sort_chronologically(sheet_service, log):
    title = sheet_service.title()
    target = sheet_service.target(title)
    # Chronological order, though their wall-clock times run backwards (time zones differ).
    moments = [
        dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))),  # 05:00 UTC
        dt.datetime(2024, 1, 1, 6, 0, tzinfo=UTC),
        dt.datetime(2024, 1, 1, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),  # 08:00 UTC
    ]
    for moment in moments:
        log(target, {"when": moment})

    rows = sheet_service.records(title)
    for name in ("params.when", "start_time", "end_time"):
        stored = [row[name] for row in rows]
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in stored)
        assert stored == sorted(stored) and len(set(stored)) == 3, name
    frame = sheetlog.load(target)
    in_utc = [m.astimezone(UTC).replace(tzinfo=None) for m in moments]
    assert frame["params.when"].tolist() == in_utc
    assert frame["start_time"].is_monotonic_increasing


def test_a_new_parameter_adds_a_column_and_keeps_the_others(sheet_service, log):
    title = sheet_service.title()
    target = sheet_service.target(title)
    first = log(target, {"lr": 0.1}, {"acc": 0.5})
    header_before = sheet_service.values(title)[0]

    second = log(target, {"lr": 0.2, "momentum": 0.9}, {"acc": 0.7})

    header = sheet_service.values(title)[0]
    assert header[: len(header_before)] == header_before
    assert header[len(header_before) :] == ["params.momentum"]
    rows = {row["run_id"]: row for row in sheet_service.records(title)}
    assert "params.momentum" not in rows[first["run_id"]]
    assert rows[second["run_id"]]["params.momentum"] == 0.9
    assert rows[second["run_id"]]["params.lr"] == 0.2


def test_columns_are_found_by_name_after_the_user_moves_and_inserts_columns(sheet_service, log):
    title = sheet_service.title()
    target = sheet_service.target(title)
    first = log(target, {"lr": 0.1, "batch": 32}, {"acc": 0.5})
    worksheet = sheet_service.worksheet(title)
    # The user moves params.lr to column B and inserts a "verdict" column at C.
    header = worksheet.row_values(1)
    lr_column = header.index("params.lr") + 1
    lr_values = worksheet.col_values(lr_column, value_render_option="UNFORMATTED_VALUE")
    worksheet.delete_columns(lr_column)
    worksheet.insert_cols([lr_values], col=2)
    worksheet.insert_cols([["verdict", "good"]], col=3)
    user_header = worksheet.row_values(1)
    assert user_header[:3] == ["run_id", "params.lr", "verdict"]

    second = log(target, {"lr": 0.2, "batch": 64}, {"acc": 0.7})

    assert sheet_service.values(title)[0] == user_header  # nothing moved, nothing added
    rows = {row["run_id"]: row for row in sheet_service.records(title)}
    assert rows[first["run_id"]]["verdict"] == "good"
    new = rows[second["run_id"]]
    assert (new["params.lr"], new["params.batch"], new["metrics.acc"]) == (0.2, 64, 0.7)
    assert "verdict" not in new
    frame = sheetlog.load(target).set_index("run_id")
    assert frame.loc[second["run_id"], "params.lr"] == 0.2
    assert frame.loc[first["run_id"], "verdict"] == "good"


def test_text_longer_than_a_cell_is_cut_and_kept_whole_in_the_journal(
    sheet_service, log, journal_dir
):
    title = sheet_service.title()
    target = sheet_service.target(title)
    long_text = "x" * 60_000

    with pytest.warns(SheetlogWarning, match="'notes' was cut to fit a Google Sheets cell"):
        row = log(target, {"lr": 0.1}, notes=long_text)

    (stored,) = sheet_service.records(title)
    assert len(stored["notes"]) == MAX_CELL_CHARS == 50_000
    assert stored["notes"].startswith("x" * 49_000)
    marker = "…[truncated from 60,000 characters; full value in the sheetlog journal]"
    assert stored["notes"].endswith(marker)
    assert Journal(journal_dir).get_run(row["run_id"])["notes"] == long_text
    assert pending_ids(journal_dir, target) == []


def test_a_run_wider_than_the_sheet_stays_pending_while_others_are_written(
    sheet_service, log, journal_dir
):
    title = sheet_service.title()
    target = sheet_service.target(title)
    with pytest.warns(SheetlogWarning, match=r"more columns than a Google Sheet holds \(18,278\)"):
        wide = log(target, {f"p{i}": i for i in range(MAX_COLUMNS)})
    assert pending_ids(journal_dir, target) == [wide["run_id"]]

    with pytest.warns(SheetlogWarning, match=f"run {wide['run_id']}: it needs more columns"):
        narrow = log(target, {"lr": 0.1})

    assert [row["run_id"] for row in sheet_service.records(title)] == [narrow["run_id"]]
    assert pending_ids(journal_dir, target) == [wide["run_id"]]


def test_team_target_configured_in_pyproject(sheet_service, tmp_path, journal_dir):
    title = sheet_service.title()
    config = f'[tool.sheetlog]\ntarget = "{sheet_service.target(title)}"\n'
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")

    row = sheetlog.log_run({"lr": 0.1}, capture=False, journal_dir=journal_dir)

    assert [r["run_id"] for r in sheet_service.records(title)] == [row["run_id"]]
    assert sheetlog.load()["run_id"].tolist() == [row["run_id"]]


def test_unknown_spreadsheet_says_check_the_key(sheet_service, log, journal_dir):
    target = f"gsheet://{random_key()}/Runs"
    with pytest.warns(SheetlogWarning, match=r"was not found: check the key") as caught:
        row = log(target, {"lr": 0.1})
    assert "between /d/ and /edit" in str(caught[0].message)
    assert pending_ids(journal_dir, target) == [row["run_id"]]


# ============================================================================================
# Part 2: fake only (a spreadsheet of the test's own, request logs, forbidden spreadsheets,
# credential environments)
# ============================================================================================


class TestFakeOnlyWholeSpreadsheetTargets:
    """Targets without a worksheet pick one of the spreadsheet's: a live spreadsheet is shared
    with other tests, so these need a spreadsheet of their own."""

    def test_key_alone_uses_the_only_worksheet(self, fake_sheets, log):
        key = fake_sheets.create_spreadsheet("one sheet")
        row = log(f"gsheet://{key}", {"lr": 0.1})
        assert fake_sheets.values(key, "Sheet1")[1][0] == row["run_id"]

    @pytest.mark.parametrize(
        ("sheets", "chosen"),
        [(["Notes", "Runs"], "Runs"), (["Only"], "Only"), (["Notes", "Plots"], "Runs")],
    )
    def test_url_without_gid(self, fake_sheets, log, sheets, chosen):
        key = fake_sheets.create_spreadsheet("runs", sheets)
        url = f"https://docs.google.com/spreadsheets/d/{key}/edit"
        row = log(url, {"lr": 0.1})
        assert fake_sheets.values(key, chosen)[1][0] == row["run_id"]
        for other in sheets:
            if other != chosen:
                assert fake_sheets.values(key, other) == []
        if chosen not in sheets:  # added, with sheetlog's header
            added = fake_sheets.metadata(key)["sheets"][-1]
            assert added["properties"]["gridProperties"]["frozenRowCount"] == 1
            assert fake_sheets.cell(key, "Runs!A1")["userEnteredFormat"]["textFormat"]["bold"]

    def test_unknown_gid_keeps_the_run_pending(self, fake_sheets, log, journal_dir):
        key = fake_sheets.create_spreadsheet("runs")
        url = f"https://docs.google.com/spreadsheets/d/{key}/edit#gid=12345"
        with pytest.warns(SheetlogWarning, match="no worksheet with gid 12345"):
            row = log(url, {"lr": 0.1})
        assert pending_ids(journal_dir, f"gsheet://{key}#gid=12345") == [row["run_id"]]


def _dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


class TestFakeOnlyRequestEconomy:
    """Counted from the fake's request log."""

    def test_fresh_process_logging_one_run_makes_one_read_and_one_write(
        self, fake_sheets, log, journal_dir, tmp_path
    ):
        key = fake_sheets.create_spreadsheet("runs")
        target = f"gsheet://{key}/Team runs"
        log(target, {"lr": 0.1, "batch": 32}, {"acc": 0.5})
        fake_sheets.clear_log()

        script = textwrap.dedent(
            """
            import sys, warnings
            import sheetlog
            warnings.simplefilter("error", sheetlog.SheetlogWarning)
            sheetlog.log_run({"lr": 0.2, "batch": 64}, {"acc": 0.7}, target=sys.argv[1],
                             capture=False, journal_dir=sys.argv[2])
            """
        )
        subprocess.run(
            [sys.executable, "-c", script, target, str(journal_dir)],
            check=True,
            cwd=tmp_path,
            timeout=60,
        )

        requests = fake_sheets.request_log
        assert [(r.kind, r.status) for r in requests] == [("read", 200), ("write", 200)]
        assert requests[1].path.endswith(":batchUpdate")  # appendCells, header in the answer
        header, *rows = fake_sheets.values(key, "Team runs")
        assert [row[header.index("params.lr")] for row in rows] == [0.1, 0.2]

    def test_a_pasted_url_costs_an_extra_read_only_the_first_time(
        self, fake_sheets, journal_dir, tmp_path
    ):
        """The worksheet a gid names is remembered in the journal directory; a renamed worksheet
        is looked up again."""
        key = fake_sheets.create_spreadsheet("runs", ["Notes", "Sweep"])
        gid = fake_sheets.metadata(key)["sheets"][1]["properties"]["sheetId"]
        url = f"https://docs.google.com/spreadsheets/d/{key}/edit#gid={gid}"
        script = textwrap.dedent(
            """
            import sys, warnings
            import sheetlog
            warnings.simplefilter("error", sheetlog.SheetlogWarning)
            sheetlog.log_run({"lr": float(sys.argv[3])}, target=sys.argv[1], capture=False,
                             journal_dir=sys.argv[2])
            """
        )

        def fresh_process(lr: float) -> list[tuple[str, int]]:
            fake_sheets.clear_log()
            subprocess.run(
                [sys.executable, "-c", script, url, str(journal_dir), str(lr)],
                check=True,
                cwd=tmp_path,
                timeout=60,
            )
            return [(r.kind, r.status) for r in fake_sheets.request_log]

        assert fresh_process(0.1) == [("read", 200), ("read", 200), ("write", 200)]
        assert fresh_process(0.2) == [("read", 200), ("write", 200)]
        spreadsheet = fake_client(fake_sheets.base_url).open_by_key(key)
        spreadsheet.get_worksheet_by_id(gid).update_title("Sweep 2")
        assert fresh_process(0.3) == [("read", 400), ("read", 200), ("read", 200), ("write", 200)]
        assert fresh_process(0.4) == [("read", 200), ("write", 200)]
        header, *rows = fake_sheets.values(key, "Sweep 2")
        assert [row[header.index("params.lr")] for row in rows] == [0.1, 0.2, 0.3, 0.4]
        assert fake_sheets.values(key, "Notes") == []

    @pytest.mark.slow
    def test_flushing_1000_pending_runs_takes_at_most_5_writes(
        self, fake_sheets, log, journal_dir, monkeypatch
    ):
        key = fake_sheets.create_spreadsheet("runs")
        target = f"gsheet://{key}/Runs"
        log(target, {"i": -1}, {"acc": 0.0})
        # Offline: nothing listens at the endpoint; give up at once instead of backing off.
        monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", _dead_endpoint())
        monkeypatch.setenv("SHEETLOG_GSHEETS_MAX_WAIT_S", "0")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(1000):
                log(target, {"i": i}, {"acc": i / 1000})
        assert "1000 runs are kept in the journal" in str(caught[-1].message)
        assert len(pending_ids(journal_dir, target)) == 1000

        monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", fake_sheets.base_url)
        fake_sheets.clear_log()
        report = sheetlog.flush(journal_dir=journal_dir)

        assert report.delivered == {target: 1000} and report.ok
        writes = [r for r in fake_sheets.request_log if r.kind == "write"]
        assert 1 <= len(writes) <= 5
        header, *rows = fake_sheets.values(key, "Runs")
        column = header.index("params.i")
        assert sorted(row[column] for row in rows) == list(range(-1, 1000))
        assert len({row[0] for row in rows}) == 1001

    def test_runs_too_many_for_one_request_go_as_chunked_appends_then_one_header_check(
        self, fake_sheets, log, journal_dir, monkeypatch
    ):
        key = fake_sheets.create_spreadsheet("runs")
        target = f"gsheet://{key}/Runs"
        monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", _dead_endpoint())
        monkeypatch.setenv("SHEETLOG_GSHEETS_MAX_WAIT_S", "0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SheetlogWarning)
            for i in range(120):
                log(target, {"i": i, "when": dt.datetime(2024, 1, 1, 12, i % 60)}, {"acc": i})
        monkeypatch.setenv("SHEETLOG_GSHEETS_ENDPOINT", fake_sheets.base_url)
        monkeypatch.setattr(
            "sheetlog.backends.gsheets.backend.APPEND_CHUNK_BYTES", 8_000
        )  # a small request size, so that 120 runs need several
        fake_sheets.clear_log()

        assert sheetlog.flush(journal_dir=journal_dir).delivered == {target: 120}

        calls = [(r.kind, r.path.rsplit("/", 1)[-1]) for r in fake_sheets.request_log]
        appends = [c for c in calls if c[1].endswith(":append")]
        assert len(appends) >= 2 and calls[-1] == ("read", "'Runs'!1:1")
        header, *rows = fake_sheets.values(key, "Runs")
        assert [row[header.index("params.i")] for row in rows] == list(range(120))
        when = _letter(header.index("params.when"))
        for row_number in (2, 121):
            assert not bold(fake_sheets.cell(key, f"Runs!A{row_number}"))
            assert number_format(fake_sheets.cell(key, f"Runs!{when}{row_number}")) == "DATE_TIME"

    def test_schema_growth_goes_with_the_rows_in_one_write(self, fake_sheets, log):
        key = fake_sheets.create_spreadsheet("runs")
        target = f"gsheet://{key}/Runs"
        log(target, {"lr": 0.1}, {"acc": 0.5})
        fake_sheets.clear_log()

        log(target, {"lr": 0.2, "momentum": 0.9, "seen": dt.datetime(2024, 1, 1)}, {"f1": 0.4})

        writes = [r.path.rsplit(":", 1)[-1] for r in fake_sheets.request_log if r.kind == "write"]
        assert writes == ["batchUpdate"]
        header = fake_sheets.values(key, "Runs")[0]
        assert header[-3:] == ["params.momentum", "params.seen", "metrics.f1"]
        seen = fake_sheets.cell(key, f"Runs!{_letter(header.index('params.seen'))}3")
        assert seen["userEnteredFormat"]["numberFormat"]["type"] == "DATE_TIME"


# --- credentials ------------------------------------------------------------------------------


@pytest.fixture
def service_account_file(tmp_path) -> tuple[Path, str]:
    """A service-account key file as Google issues them, with a freshly generated RSA key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = "sheetlog-ci@sheetlog-tests.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": "sheetlog-tests",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path, email


class TestFakeOnlyCredentialErrors:
    """Each error of the credentials chain, and what its message tells the user to do."""

    def test_no_credentials_explains_how_to_create_a_service_account(self, tmp_path, journal_dir):
        home = tmp_path / "empty-home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHEETLOG_", "GOOGLE_"))}
        env.pop("CLOUDSDK_CONFIG", None)
        env.update(HOME=str(home), NO_GCE_CHECK="true")
        target = f"gsheet://{random_key()}/Runs"
        script = textwrap.dedent(
            """
            import sys, warnings
            import sheetlog
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sheetlog.log_run({"lr": 0.1}, target=sys.argv[1], capture=False,
                                 journal_dir=sys.argv[2])
            print("\\n".join(str(w.message) for w in caught))
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script, target, str(journal_dir)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        message = done.stdout
        assert "no Google credentials found" in message
        assert "create a service account" in message
        assert "~/.config/gspread/service_account.json" in message
        assert "GOOGLE_APPLICATION_CREDENTIALS" in message
        assert "share the sheet with the service account's e-mail" in message
        assert len(pending_ids(journal_dir, target)) == 1

    def test_forbidden_names_the_service_account_to_share_with(
        self, fake_sheets, log, journal_dir, monkeypatch, service_account_file
    ):
        path, email = service_account_file
        monkeypatch.setenv("SHEETLOG_CREDENTIALS", str(path))
        key = fake_sheets.create_spreadsheet("private")
        target = f"gsheet://{key}/Runs"
        fake_sheets.forbid(key)

        with pytest.warns(SheetlogWarning) as caught:
            row = log(target, {"lr": 0.1})

        message = str(caught[0].message)
        assert f"{email} may not edit spreadsheet {key}:" in message
        assert f"press Share and add {email} as an Editor" in message
        assert pending_ids(journal_dir, target) == [row["run_id"]]

        fake_sheets.forbid(key, None)  # the user shared it
        assert sheetlog.flush(journal_dir=journal_dir).delivered == {target: 1}
        # The key file only named the identity: requests to the endpoint stay anonymous.
        assert {r.user for r in fake_sheets.request_log} == {"anonymous"}

    def test_missing_scope_says_which_scope(self, fake_sheets, log, journal_dir):
        key = fake_sheets.create_spreadsheet("runs")
        target = f"gsheet://{key}/Runs"
        fake_sheets.forbid(key, reason="scope")
        with pytest.warns(SheetlogWarning, match="lack the spreadsheets scope") as caught:
            row = log(target, {"lr": 0.1})
        message = str(caught[0].message)
        assert "insufficient authentication scopes" in message
        assert "https://www.googleapis.com/auth/spreadsheets" in message
        assert pending_ids(journal_dir, target) == [row["run_id"]]

    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            ("{not json", "is not a usable Google credentials file"),
            (json.dumps({"type": "service_account", "client_email": "x@y"}),
             "is not a usable Google credentials file"),
            (json.dumps({"type": "service_account", "private_key": "not a key",
                         "client_email": "x@y", "token_uri": "https://oauth2.googleapis.com/token"}),
             "is not a usable Google credentials file"),
            (None, "does not exist"),
        ],
        ids=["not-json", "fields-missing", "bad-private-key", "missing-file"],
    )  # fmt: skip
    def test_unusable_key_file_says_what_is_wrong(
        self, tmp_path, log, journal_dir, monkeypatch, content, expected
    ):
        path = tmp_path / "key.json"
        if content is not None:
            path.write_text(content, encoding="utf-8")
        monkeypatch.delenv("SHEETLOG_GSHEETS_ENDPOINT", raising=False)
        monkeypatch.setenv("SHEETLOG_CREDENTIALS", str(path))
        target = f"gsheet://{random_key()}/Runs"

        with pytest.warns(SheetlogWarning, match=expected) as caught:
            row = log(target, {"lr": 0.1})

        message = str(caught[0].message)
        assert str(path) in message
        assert content is None or "download a service account key (JSON)" in message
        assert pending_ids(journal_dir, target) == [row["run_id"]]


# --- the README's offline snippet and the offline example --------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _no_google_env(tmp_path: Path) -> dict[str, str]:
    """This environment without any Google credentials or sheetlog settings."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHEETLOG_", "GOOGLE_"))}
    env.update(HOME=str(home), NO_GCE_CHECK="true")
    return env


def _readme_block(after_heading: str, containing: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8").split(after_heading, 1)[1]
    blocks = [b.split("\n", 1)[1] for b in text.split("```")[1::2]]
    return next(b for b in blocks if containing in b)


def test_readme_offline_snippet_works_without_a_google_account(tmp_path):
    serve = _readme_block("### Try it offline", "fake_sheets").strip()
    assert serve == "python -m sheetlog.testing.fake_sheets --port 8765 --create demo"
    snippet = _readme_block("### Try it offline", "SHEETLOG_GSHEETS_ENDPOINT=")
    env = _no_google_env(tmp_path)
    command = [sys.executable, *serve.split()[1:]]
    command[command.index("8765")] = "0"  # any free port
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        base_url = server.stdout.readline().strip()
        key = server.stdout.readline().split("\t")[0]
        port = base_url.rsplit(":", 1)[1]
        script = snippet.replace("<key>", key).replace("8765", port)
        done = subprocess.run(
            ["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=60, check=True,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "[1 rows x" in done.stdout and "run_id" in done.stdout
    assert "Warning" not in done.stderr


def test_offline_example_runs_without_a_google_account(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "team_sheet_offline.py")],
        env=_no_google_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0].startswith("7 runs in gsheet://") and lines[0].endswith("/Runs, best first:")
    assert lines[1].split() == [
        "name", "params.lr", "params.depth", "params.dropout", "metrics.accuracy"
    ]  # fmt: skip
    assert lines[2].split()[0] == "bob-dropout" and lines[2].split()[3] == "0.2"
    assert len(lines) == 9 and "Warning" not in done.stderr
