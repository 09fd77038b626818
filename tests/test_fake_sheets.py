"""The fake Google Sheets API (sheetlog.testing): replayed against Google's recorded answers,
then driven through gspread's real HTTP client and raw HTTP for each endpoint and semantic,
quotas, injected faults, the command line and the admin endpoints.

The replay compares status codes and response bodies byte for byte, after mapping ids. It
ignores only what cannot match: spreadsheet ids and sheetIds (random; mapped recorded <-> fake
in both directions) and Drive's createdTime / modifiedTime (timestamps).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import gspread
import pytest
import requests

from sheetlog.testing import FAULT_KINDS, FakeSheetsServer, fake_client, rewrite_url
from sheetlog.testing.a1 import col_index, col_letters, parse_a1, quote_title

GOOGLE = ("https://sheets.googleapis.com", "https://www.googleapis.com")


RECORDINGS = Path(__file__).resolve().parent / "data" / "gsheets-recordings"
RECORDING_FILES = sorted(RECORDINGS.glob("*.json"))


@pytest.fixture(scope="module")
def server():
    with FakeSheetsServer(quota_reads=None, quota_writes=None) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.set_quota(None, None)
    yield server
    server.reset()


@pytest.fixture
def gc(fake):
    return fake_client(fake.base_url, timeout=10)


@pytest.fixture
def sh(gc):
    return gc.create("sheetlog fake test")


@pytest.fixture
def ws(sh):
    return sh.sheet1


def api_error(call, *args, **kwargs) -> gspread.exceptions.APIError:
    with pytest.raises(gspread.exceptions.APIError) as info:
        call(*args, **kwargs)
    return info.value


# ------------------------------------------------------------------ replay of recordings

_ID_IN_URI = re.compile(r"/(?:spreadsheets|files)/([^/?:]+)")
_VOLATILE = re.compile(r'"(createdTime|modifiedTime)": "[^"]*"')


def _collect_sheet_ids(recorded, got, mapping: dict) -> None:
    """Walk both answers side by side: each recorded sheetId -> the fake's at the same place."""
    if isinstance(recorded, dict) and isinstance(got, dict):
        for key, value in recorded.items():
            if key == "sheetId" and isinstance(value, int) and isinstance(got.get(key), int):
                mapping[value] = got[key]
            elif key in got:
                _collect_sheet_ids(value, got[key], mapping)
    elif isinstance(recorded, list) and isinstance(got, list):
        for a, b in zip(recorded, got, strict=False):
            _collect_sheet_ids(a, b, mapping)


def _map_sheet_ids(obj, mapping: dict):
    if isinstance(obj, dict):
        return {
            k: mapping.get(v, v) if k == "sheetId" else _map_sheet_ids(v, mapping)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_map_sheet_ids(v, mapping) for v in obj]
    return obj


def replay(fake: FakeSheetsServer, interactions: list) -> tuple[int, list]:
    """Send every recorded request to the fake, in order; returns (compared, mismatches)."""
    ids: dict[str, str] = {}  # recorded spreadsheet id -> the fake's
    sheet_ids: dict[int, int] = {}  # recorded sheetId -> the fake's
    mismatches = []
    for n, interaction in enumerate(interactions):
        req, resp = interaction["request"], interaction["response"]
        uri = req["uri"]
        m = _ID_IN_URI.search(uri)
        if m and m.group(1) not in ids and resp["status"]["code"] == 403:
            # someone else's private spreadsheet: the fake needs one it refuses to share
            ids[m.group(1)] = fake.create_spreadsheet("someone else's")
            fake.forbid(ids[m.group(1)])
        url = uri
        for host in GOOGLE:
            url = url.replace(host, fake.base_url)
        body = req["body"]
        for recorded_id, fake_id in ids.items():
            url = url.replace(recorded_id, fake_id)
            body = body.replace(recorded_id, fake_id) if body else body
        if body:
            body = json.dumps(_map_sheet_ids(json.loads(body), sheet_ids))
        answer = requests.request(
            req["method"],
            url,
            data=body.encode() if body else None,
            headers={"Content-Type": "application/json"} if body else {},
            timeout=10,
        )
        expected = resp["body"]["string"]
        got = answer.text
        if req["method"] == "POST" and "/drive/v3/files?" in url and answer.ok:
            ids[json.loads(expected)["id"]] = answer.json()["id"]
        for recorded_id, fake_id in ids.items():
            got = got.replace(fake_id, recorded_id)
        if expected.strip() and got.strip():
            _collect_sheet_ids(json.loads(expected), json.loads(got), sheet_ids)
        back = {v: k for k, v in sheet_ids.items()}
        got = re.sub(
            r'"sheetId": (\d+)',
            lambda g, back=back: f'"sheetId": {back.get(int(g[1]), g[1])}',
            got,
        )
        got, expected = _VOLATILE.sub(r'"\1": "-"', got), _VOLATILE.sub(r'"\1": "-"', expected)
        if answer.status_code != resp["status"]["code"] or got != expected:
            mismatches.append((n, req["method"], uri, answer.status_code, got, expected))
    return len(interactions), mismatches


@pytest.mark.parametrize("recording", RECORDING_FILES, ids=lambda p: p.stem)
def test_replay_matches_google_recording(fake, recording):
    interactions = json.loads(recording.read_text())["interactions"]
    compared, mismatches = replay(fake, interactions)
    assert compared == len(interactions) > 0
    assert mismatches == [], "\n\n".join(
        f"#{n} {method} {uri}: status {status}\n--- fake\n{got}\n--- google\n{exp}"
        for n, method, uri, status, got, exp in mismatches
    )


def test_replay_reports_a_difference(fake):
    """The comparison is not vacuous: one changed cell in a recorded answer is caught."""
    recording = RECORDINGS / "WorksheetTest.test_update_and_get.json"
    interactions = json.loads(recording.read_text())["interactions"]
    body = interactions[6]["response"]["body"]
    body["string"] = body["string"].replace('"b2"', '"B2"')
    _, mismatches = replay(fake, interactions)
    assert [m[0] for m in mismatches] == [6]


# ------------------------------------------------------------------ Drive and spreadsheets


def test_create_open_and_delete_through_drive(fake, gc):
    sh = gc.create("my runs")
    assert sh.title == "my runs" and len(sh.id) == 44
    assert [w.title for w in sh.worksheets()] == ["Sheet1"]
    assert (sh.sheet1.id, sh.sheet1.row_count, sh.sheet1.col_count) == (0, 1000, 26)
    meta = gc.get_file_drive_metadata(sh.id)
    assert set(meta) == {"id", "name", "createdTime", "modifiedTime"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", meta["createdTime"])
    assert [f["name"] for f in gc.list_spreadsheet_files("my runs")] == ["my runs"]
    assert gc.open_by_key(sh.id).title == "my runs"
    gc.del_spreadsheet(sh.id)
    assert sh.id not in fake.spreadsheet_ids()
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key(sh.id)


def test_unknown_and_forbidden_spreadsheets(fake, gc):
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key("test")
    key = fake.create_spreadsheet("private")
    fake.forbid(key)
    with pytest.raises(PermissionError):
        gc.open_by_key(key)
    answer = requests.get(f"{fake.base_url}/v4/spreadsheets/{key}/values/A1", timeout=5)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": {
            "code": 403,
            "message": "The caller does not have permission",
            "status": "PERMISSION_DENIED",
        }
    }
    fake.forbid(key, reason="scope")
    answer = requests.post(f"{fake.base_url}/v4/spreadsheets/{key}:batchUpdate", timeout=5)
    error = answer.json()["error"]
    assert (answer.status_code, error["status"]) == (403, "PERMISSION_DENIED")
    assert error["message"] == "Request had insufficient authentication scopes."
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert error["details"][0]["metadata"]["method"].endswith("BatchUpdateSpreadsheet")
    fake.forbid(key, reason=None)
    assert gc.open_by_key(key).title == "private"


def test_create_spreadsheet_with_sheets_and_metadata(fake, gc):
    key = fake.create_spreadsheet("two", sheets=[("Runs", 5, 3), "Notes"])
    sh = gc.open_by_key(key)
    grids = [(w.title, w.row_count, w.col_count, w.index) for w in sh.worksheets()]
    assert grids == [("Runs", 5, 3, 0), ("Notes", 1000, 26, 1)]
    meta = fake.metadata(key)
    assert meta["spreadsheetUrl"] == f"https://docs.google.com/spreadsheets/d/{key}/edit"
    assert meta["properties"]["locale"] == "en_US"


# ------------------------------------------------------------------ values.get and A1 ranges


def test_values_are_trimmed_like_google(ws):
    ws.update(
        [["A1", "B1", "", "D1"], ["", "b2", "", ""], ["", "", "", ""], ["A4", "B4", "", "D4"]]
    )
    got = ws.spreadsheet.values_get("'Sheet1'!A1:D4")
    assert got == {
        "range": "Sheet1!A1:D4",
        "majorDimension": "ROWS",
        "values": [["A1", "B1", "", "D1"], ["", "b2"], [], ["A4", "B4", "", "D4"]],
    }
    assert ws.spreadsheet.values_get("'Sheet1'!A2:2")["range"] == "Sheet1!A2:Z2"
    empty = ws.spreadsheet.values_get("'Sheet1'!F10:G12")
    assert empty == {"range": "Sheet1!F10:G12", "majorDimension": "ROWS"}
    by_column = ws.spreadsheet.values_get("Sheet1!A1:D4", params={"majorDimension": "COLUMNS"})
    assert by_column["values"] == [
        ["A1", "", "", "A4"],
        ["B1", "b2", "", "B4"],
        [],
        ["D1", "", "", "D4"],
    ]


def test_a1_range_forms(sh):
    ws = sh.add_worksheet("🌵 my sheet", rows=10, cols=5)
    ws.update([[1, 2, 3], [4, 5, 6]], "A1")
    get = sh.values_get
    assert get("🌵 my sheet!A:A")["range"] == "'🌵 my sheet'!A1:A10"
    assert get("'🌵 my sheet'!2:2") == {
        "range": "'🌵 my sheet'!A2:E2",
        "majorDimension": "ROWS",
        "values": [["4", "5", "6"]],
    }
    assert get("'🌵 my sheet'!B2:C")["range"] == "'🌵 my sheet'!B2:C10"
    assert get("'🌵 MY SHEET'")["range"] == "'🌵 my sheet'!A1:E10"
    assert get("'🌵 my sheet'!$C$1")["values"] == [["3"]]
    assert get("A1:B2")["range"] == "Sheet1!A1:B2"  # no sheet: the first one
    assert get("Sheet1")["range"] == "Sheet1!A1:Z1000"
    error = api_error(get, "Nope!A1")
    assert (error.code, error.error["message"]) == (400, "Unable to parse range: Nope!A1")
    error = api_error(get, "Sheet1!A2000")
    assert error.error["message"] == (
        "Range (Sheet1!A2000) exceeds grid limits. Max rows: 1000, max columns: 26"
    )


def test_batch_get_reads_several_ranges(sh, fake):
    sh.sheet1.update([["a", "b"], ["c", "d"]])
    got = sh.values_batch_get(["Sheet1!A:A", "Sheet1!B1"])
    assert [v["range"] for v in got["valueRanges"]] == ["Sheet1!A1:A1000", "Sheet1!B1"]
    assert [v["values"] for v in got["valueRanges"]] == [[["a"], ["c"]], [["b"]]]
    entry = fake.request_log[-1]
    assert entry.path.endswith("/values:batchGet")
    assert entry["query"]["ranges"] == ["Sheet1!A:A", "Sheet1!B1"]
    assert (entry.kind, entry.status, entry.method) == ("read", 200, "GET")


def test_render_options_as_recorded(ws):
    data = [["=4/2", "2020-01-01", "string", 53], ["=3/2", 0.12, "1999-01-02", ""]]
    ws.update(data, "A1", raw=False)

    def get(vr, dt="SERIAL_NUMBER"):
        return ws.get("A1:D2", value_render_option=vr, date_time_render_option=dt)

    assert get("UNFORMATTED_VALUE") == [[2, 43831, "string", 53], [1.5, 0.12, 36162]]
    assert get("UNFORMATTED_VALUE", "FORMATTED_STRING") == [
        [2, "2020-01-01", "string", 53],
        [1.5, 0.12, "1999-01-02"],
    ]
    formatted = [["2", "2020-01-01", "string", "53"], ["1.5", "0.12", "1999-01-02"]]
    assert get("FORMATTED_VALUE") == formatted
    assert get("FORMATTED_VALUE", "FORMATTED_STRING") == formatted
    assert get("FORMULA") == [["=4/2", 43831, "string", 53], ["=3/2", 0.12, 36162]]


def test_raw_keeps_formula_looking_strings_as_text(fake, ws):
    texts = ["=1+1", "+cmd", "@SUM(A1)", '=HYPERLINK("http://x","y")', "'quoted", "TRUE", "1e3"]
    ws.update([texts], "A1", raw=True)
    for option in ("FORMULA", "UNFORMATTED_VALUE", "FORMATTED_VALUE"):
        assert ws.get("A1:G1", value_render_option=option) == [texts]
    assert fake.cell(ws.spreadsheet.id, "A1")["userEnteredValue"] == {"stringValue": "=1+1"}
    ws.update([[7, True, None, -0.5]], "A2", raw=True)
    assert ws.get("A2:D2", value_render_option="UNFORMATTED_VALUE") == [[7, True, "", -0.5]]
    assert ws.get("A2:D2") == [["7", "TRUE", "", "-0.5"]]


def test_user_entered_parses_numbers_dates_and_formulas(fake, ws):
    row = ["1,234", "12%", "true", "'007", "007", "2020-01-01", "10:30", "$5", "x y"]
    ws.update([row, ["=A1*2", "=B1+1", "=1/0", "+1+1", "@SUM(A1,E1)", "+cmd", "=A1&\"!\""]],
              "A1", raw=False)  # fmt: skip
    values = ws.get("A1:I2", value_render_option="UNFORMATTED_VALUE")
    assert values[0] == [1234, 0.12, True, "007", 7, 43831, 0.4375, 5, "x y"]
    assert values[1] == [2468, 1.12, "#DIV/0!", 2, 1241, "#NAME?", "1234!"]
    shown = ws.get("A1:I2")
    assert shown[0] == ["1,234", "12%", "TRUE", "007", "7", "2020-01-01", "10:30", "$5.00", "x y"]
    assert shown[1][:3] == ["2468", "1.12", "#DIV/0!"]  # formula results: automatic format
    formulas = ws.get("A2:G2", value_render_option="FORMULA")
    assert formulas == [["=A1*2", "=B1+1", "=1/0", "=+1+1", "=SUM(A1,E1)", "=+cmd", '=A1&"!"']]
    date_cell = fake.cell(ws.spreadsheet.id, "F1")
    assert date_cell["userEnteredFormat"]["numberFormat"] == {
        "type": "DATE",
        "pattern": "yyyy-mm-dd",
    }
    assert date_cell["effectiveValue"] == {"numberValue": 43831}
    error_cell = fake.cell(ws.spreadsheet.id, "C2")
    assert error_cell["effectiveValue"]["errorValue"]["type"] == "DIVIDE_BY_ZERO"


# ------------------------------------------------------------------ values.update / append / clear


def test_update_grows_a_single_cell_range_but_never_the_grid(fake, ws):
    result = ws.update([["A1", "B1", "", "D1"], ["", "b2", "", ""]], "A1")
    assert (result["updatedRange"], result["updatedCells"]) == ("Sheet1!A1:D2", 8)
    error = api_error(ws.update, [["x"]], "A1001")
    assert error.code == 400
    assert error.error["message"] == (
        "Range (Sheet1!A1001) exceeds grid limits. Max rows: 1000, max columns: 26"
    )
    error = api_error(ws.update, [list(range(30))], "A5")
    assert error.error["message"].startswith("Range (Sheet1!AA5) exceeds grid limits.")
    error = api_error(ws.update, [[1, 2, 3]], "A1:B1")
    assert error.error["message"] == (
        "Requested writing within range [Sheet1!A1:B1], but tried writing to column [C]"
    )
    assert fake.metadata(ws.spreadsheet.id)["sheets"][0]["properties"]["gridProperties"] == {
        "rowCount": 1000,
        "columnCount": 26,
    }
    assert fake.values(ws.spreadsheet.id) == [["A1", "B1", "", "D1"], ["", "b2"]]


def test_update_skips_null_cells_and_can_echo_values(ws):
    ws.update([["keep", "keep too"]], "A1")
    result = ws.update([[None, "new"]], "A1", include_values_in_response=True)
    assert (result["updatedRange"], result["updatedCells"]) == ("Sheet1!B1", 1)
    assert result["updatedData"] == {
        "range": "Sheet1!B1",
        "majorDimension": "ROWS",
        "values": [["new"]],
    }
    assert ws.get("A1:B1") == [["keep", "new"]]
    ws.update([["c1", "c2"]], "D1", major_dimension="COLUMNS")
    assert ws.get("D1:D2") == [["c1"], ["c2"]]


def test_append_table_detection_as_recorded(ws):
    first = ws.append_row(["x 1", "", "x 3"])
    assert "tableRange" not in first and first["updates"]["updatedRange"] == "Sheet1!A1:C1"
    second = ws.append_row(["x 1", "", "x 3"])  # whole-sheet range: block of the last value
    assert (second["tableRange"], second["updates"]["updatedRange"]) == (
        "Sheet1!C1",
        "Sheet1!C2:E2",
    )
    pinned = ws.append_row(["y 1", "", "y 3"], table_range="A1")  # pinned to the A1 block
    assert (pinned["tableRange"], pinned["updates"]["updatedRange"]) == (
        "Sheet1!A1",
        "Sheet1!A2:C2",
    )


def test_append_under_a_header_table_ignores_stray_cells(fake, ws):
    ws.update([["run_id", "lr", "acc"], ["r1", 0.1, ""], ["r2", "", 0.9]], "A1")
    ws.update([["a note far away"]], "H40")
    pinned = ws.append_rows([["r3", 0.3, 0.7], ["r4", 0.4]], table_range="A1")
    assert pinned["tableRange"] == "Sheet1!A1:C3"
    assert pinned["updates"]["updatedRange"] == "Sheet1!A4:C5"
    whole = ws.append_row(["lost"])  # the whole sheet: lands under the stray note
    assert (whole["tableRange"], whole["updates"]["updatedRange"]) == ("Sheet1!H40", "Sheet1!H41")
    assert fake.values(ws.spreadsheet.id)[:5] == [
        ["run_id", "lr", "acc"],
        ["r1", 0.1],
        ["r2", "", 0.9],
        ["r3", 0.3, 0.7],
        ["r4", 0.4],
    ]


def test_append_grows_the_grid_and_can_insert_rows(fake, gc):
    key = fake.create_spreadsheet("small", sheets=[("Log", 2, 2)])
    ws = gc.open_by_key(key).sheet1
    ws.update([["h1", "h2"], ["a", "b"]], "A1")
    result = ws.append_rows([["c", "d", "e"], ["f"]], table_range="A1")
    assert result["updates"]["updatedRange"] == "Log!A3:C4"
    grid = fake.metadata(key)["sheets"][0]["properties"]["gridProperties"]
    assert grid == {"rowCount": 4, "columnCount": 3}
    ws.resize(rows=6)
    ws.update([["after"]], "A6")  # row 5 stays empty: "after" is not part of the table
    inserted = ws.append_rows([["ins"]], insert_data_option="INSERT_ROWS", table_range="A1")
    assert (inserted["tableRange"], inserted["updates"]["updatedRange"]) == ("Log!A1:C4", "Log!A5")
    assert ws.col_values(1) == ["h1", "a", "c", "f", "ins", "", "after"]  # shifted down
    over = ws.append_rows([["over"]], table_range="A1")  # OVERWRITE: the empty row 6
    assert over["updates"]["updatedRange"] == "Log!A6"
    assert ws.col_values(1) == ["h1", "a", "c", "f", "ins", "over", "after"]
    grid = fake.metadata(key)["sheets"][0]["properties"]["gridProperties"]
    assert grid == {"rowCount": 7, "columnCount": 3}


def test_clear_keeps_formats_and_batch_clear(fake, ws):
    ws.update([["a", "b"], ["c", "d"]], "A1")
    ws.format("A1:B1", {"textFormat": {"bold": True}})
    assert ws.spreadsheet.values_clear("Sheet1!A1:A2") == {
        "spreadsheetId": ws.spreadsheet.id,
        "clearedRange": "Sheet1!A1:A2",
    }
    assert ws.get_values("A1:B2") == [["", "b"], ["", "d"]]
    assert fake.cell(ws.spreadsheet.id, "A1")["userEnteredFormat"]["textFormat"]["bold"] is True
    cleared = ws.batch_clear(["B1", "B2"])
    assert cleared["clearedRanges"] == ["Sheet1!B1", "Sheet1!B2"]
    assert fake.values(ws.spreadsheet.id) == []
    assert ws.clear()["clearedRange"] == "Sheet1!A1:Z1000"


def test_values_batch_update(fake, ws):
    result = ws.batch_update(
        [{"range": "A1", "values": [["a", "b"]]}, {"range": "C3:C4", "values": [["=1+1"], [2]]}],
        raw=False,
    )
    assert (result["totalUpdatedCells"], result["totalUpdatedRows"]) == (4, 3)
    assert result["totalUpdatedSheets"] == 1
    assert [r["updatedRange"] for r in result["responses"]] == ["Sheet1!A1:B1", "Sheet1!C3:C4"]
    assert fake.values(ws.spreadsheet.id) == [["a", "b"], [], ["", "", 2], ["", "", 2]]
    error = api_error(
        ws.spreadsheet.values_batch_update,
        {"valueInputOption": "RAW", "data": [{"range": "A1", "values": [["z"]]},
                                              {"range": "A5000", "values": [["z"]]}]},
    )  # fmt: skip
    assert error.code == 400
    assert fake.values(ws.spreadsheet.id)[0] == ["a", "b"]  # nothing applied


def test_writes_need_a_value_input_option(ws):
    error = api_error(ws.spreadsheet.values_update, "A1", params={}, body={"values": [[1]]})
    assert error.error["message"] == "'valueInputOption' is required but not specified"
    error = api_error(
        ws.spreadsheet.values_update, "A1", params={"valueInputOption": "raw"}, body={}
    )
    assert error.error["message"] == "Invalid value at 'value_input_option' (TYPE_ENUM), \"raw\""


def test_malformed_values_are_refused_like_google(fake, ws):
    error = api_error(
        ws.spreadsheet.values_update,
        "'Sheet1'!A1",
        params={"valueInputOption": "RAW"},
        body={"values": "X", "majorDimension": None},
    )
    message = (
        "Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), \"X\""
    )
    assert error.error == {
        "code": 400,
        "message": message,
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {
                        "field": "data.values",
                        "description": message,
                    }
                ],
            }
        ],
    }
    error = api_error(
        ws.spreadsheet.values_update, "A1", params={"valueInputOption": "RAW"},
        body={"values": [[{"a": 1}]]},
    )  # fmt: skip
    assert error.code == 400 and error.error["message"].startswith("Invalid values[0][0]")
    answer = requests.put(
        f"{fake.base_url}/v4/spreadsheets/{ws.spreadsheet.id}/values/A1?valueInputOption=RAW",
        data=b'{"values": [[NaN]]}',
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("Invalid JSON payload received.")


def test_limits_like_google(fake, ws):
    ws.update([["x" * 50000]], "A1")
    assert len(ws.acell("A1").value) == 50000
    error = api_error(ws.update, [["x" * 50001]], "A2")
    assert error.error["message"] == (
        "Your input contains more than the maximum of 50000 characters in a single cell."
    )
    error = api_error(ws.resize, cols=18279)
    assert error.error["message"] == (
        "Invalid requests[0].updateSheetProperties: This action would increase the number of "
        "columns in the sheet above the limit of 18278."
    )
    ws.resize(rows=100, cols=18278)
    error = api_error(ws.spreadsheet.add_worksheet, "big", rows=9_000_000, cols=1)
    assert error.error["message"] == (
        "Invalid requests[0].addSheet: This action would increase the number of cells in the "
        "workbook above the limit of 10000000 cells."
    )
    error = api_error(ws.append_row, ["x"] * 18279, table_range="A1")
    assert "above the limit of 18278" in error.error["message"]
    assert [w.title for w in ws.spreadsheet.worksheets()] == ["Sheet1"]


# ------------------------------------------------------------------ spreadsheets.batchUpdate


def test_add_and_delete_sheets(fake, sh):
    reply = sh.batch_update(
        {"requests": [{"addSheet": {"properties": {"title": "runs", "gridProperties": {
            "rowCount": 10, "columnCount": 4, "frozenRowCount": 1}}}}]}
    )  # fmt: skip
    props = reply["replies"][0]["addSheet"]["properties"]
    assert isinstance(props["sheetId"], int) and props["sheetId"] > 0
    assert {k: v for k, v in props.items() if k != "sheetId"} == {
        "title": "runs",
        "index": 1,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": 10, "columnCount": 4, "frozenRowCount": 1},
    }
    error = api_error(sh.add_worksheet, "RUNS", rows=5, cols=5)
    assert error.error["message"] == (
        'Invalid requests[0].addSheet: A sheet with the name "RUNS" already exists. '
        "Please enter another name."
    )
    sh.del_worksheet(sh.worksheet("runs"))
    assert [w.title for w in sh.worksheets()] == ["Sheet1"]
    error = api_error(sh.del_worksheet, sh.sheet1)
    assert "You can't remove all the sheets in a document." in error.error["message"]


def test_dimensions_insert_append_delete(fake, ws):
    ws.update([["h"], ["a"], ["b"]], "A1")
    ws.insert_row(["new"], 2)
    assert [r[0] for r in fake.values(ws.spreadsheet.id)] == ["h", "new", "a", "b"]
    ws.delete_rows(3)
    assert [r[0] for r in fake.values(ws.spreadsheet.id)] == ["h", "new", "b"]
    ws.spreadsheet.batch_update({"requests": [
        {"insertDimension": {"range": {"sheetId": 0, "dimension": "COLUMNS", "startIndex": 0,
                                       "endIndex": 2}, "inheritFromBefore": False}},
        {"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 5}},
    ]})  # fmt: skip
    ws = ws.spreadsheet.sheet1
    assert (ws.row_count, ws.col_count) == (1005, 28)
    assert fake.values(ws.spreadsheet.id)[0] == ["", "", "h"]
    error = api_error(ws.delete_rows, 1, 1005)
    assert "You can't delete all the rows on the sheet." in error.error["message"]


def test_sheet_properties_format_and_filter(fake, ws):
    ws.update([["run_id", "start_time"], ["r1", 45000.5]], "A1")
    ws.update_title("runs log")
    ws.freeze(rows=1)
    ws.format("A1:B1", {"textFormat": {"bold": True}})
    ws.format("B2:B", {"numberFormat": {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm:ss"}})
    ws.set_basic_filter("A1:B2")
    ws.resize(rows=50, cols=6)
    sheet = fake.metadata(ws.spreadsheet.id)["sheets"][0]
    assert sheet["properties"]["title"] == "runs log"
    assert sheet["properties"]["gridProperties"] == {
        "rowCount": 50,
        "columnCount": 6,
        "frozenRowCount": 1,
    }
    assert sheet["basicFilter"]["range"] == {
        "sheetId": 0,
        "startRowIndex": 0,
        "endRowIndex": 2,
        "startColumnIndex": 0,
        "endColumnIndex": 2,
    }
    header = fake.cell(ws.spreadsheet.id, "'runs log'!A1")
    assert header["userEnteredFormat"] == {"textFormat": {"bold": True}}
    assert header["effectiveFormat"]["textFormat"]["bold"] is True
    assert ws.get("B2") == [["2023-03-15 12:00:00"]]
    assert ws.get("B2", value_render_option="UNFORMATTED_VALUE") == [[45000.5]]
    ws.freeze(rows=0)
    grid = fake.metadata(ws.spreadsheet.id)["sheets"][0]["properties"]["gridProperties"]
    assert "frozenRowCount" not in grid


def test_batch_update_is_atomic_and_refuses_unknown_requests(fake, sh):
    error = api_error(
        sh.batch_update,
        {"requests": [{"addSheet": {"properties": {"title": "kept?"}}}, {"fooBar": {}}]},
    )
    assert error.error["message"] == (
        "Invalid JSON payload received. Unknown name \"fooBar\" at 'requests[1]': "
        "Cannot find field."
    )
    assert error.error["details"][0]["fieldViolations"][0]["field"] == "requests[1]"
    assert [w.title for w in sh.worksheets()] == ["Sheet1"]
    error = api_error(sh.batch_update, {"requests": []})
    assert error.error["message"] == "Must specify at least one request."
    accepted = sh.batch_update({"requests": [{"setDataValidation": {"range": {"sheetId": 0}}}]})
    assert accepted == {"spreadsheetId": sh.id, "replies": [{}]}


def test_update_cells_and_grid_data_with_field_mask(fake, sh):
    sh.batch_update({"requests": [{"updateCells": {
        "start": {"sheetId": 0, "rowIndex": 0, "columnIndex": 0},
        "rows": [{"values": [{"userEnteredValue": {"stringValue": "x"}},
                             {"userEnteredValue": {"numberValue": 3}}]},
                 {"values": [{}, {"userEnteredValue": {"formulaValue": "=B1*2"}}]}],
        "fields": "userEnteredValue"}}]})  # fmt: skip
    meta = sh.fetch_sheet_metadata(
        {
            "includeGridData": "true",
            "ranges": "Sheet1!A1:C3",
            "fields": "sheets(properties(title),data.rowData.values.effectiveValue)",
        }
    )
    assert meta == {
        "sheets": [
            {
                "properties": {"title": "Sheet1"},
                "data": [
                    {
                        "rowData": [
                            {
                                "values": [
                                    {"effectiveValue": {"stringValue": "x"}},
                                    {"effectiveValue": {"numberValue": 3}},
                                ]
                            },
                            {"values": [{}, {"effectiveValue": {"numberValue": 6}}]},
                        ]
                    }
                ],
            }
        ]
    }
    full = sh.fetch_sheet_metadata({"includeGridData": "true", "ranges": "B2"})
    data = full["sheets"][0]["data"][0]
    assert (data["startRow"], data["startColumn"], len(data["rowMetadata"])) == (1, 1, 1)
    cell = data["rowData"][0]["values"][0]
    assert cell["userEnteredValue"] == {"formulaValue": "=B1*2"}
    assert cell["formattedValue"] == "6"


def test_append_cells_goes_after_the_last_row_with_a_value_and_answers_with_the_header(fake, sh):
    ws = sh.sheet1
    ws.update([["run_id", "note"], ["r1", "x"]], "A1")
    ws.resize(rows=3)
    ws.update([["stray"]], "D3")  # the last row with a value anywhere in the sheet
    reply = sh.client.request(
        "post",
        f"{fake.base_url}/v4/spreadsheets/{sh.id}:batchUpdate",
        params={"fields": "replies,updatedSpreadsheet(sheets(properties(gridProperties),"
                "data(rowData(values(formattedValue)))))"},
        json={
            "requests": [{"appendCells": {"sheetId": 0, "fields": "userEnteredValue", "rows": [
                {"values": [{"userEnteredValue": {"stringValue": "r2"}},
                            {"userEnteredValue": {"stringValue": "=1+1"}}]},
                {"values": [{"userEnteredValue": {"stringValue": "r3"}}, {},
                            {"userEnteredValue": {"boolValue": True}}]},
            ]}}],
            "includeSpreadsheetInResponse": True,
            "responseRanges": ["Sheet1!1:1"],
            "responseIncludeGridData": True,
        },
    ).json()  # fmt: skip
    assert reply["replies"] == [{}]
    answered = reply["updatedSpreadsheet"]["sheets"][0]
    assert answered["properties"]["gridProperties"]["rowCount"] == 5  # two rows added
    header = answered["data"][0]["rowData"][0]["values"]
    assert [cell["formattedValue"] for cell in header] == ["run_id", "note"]
    assert fake.values(sh.id)[3:] == [["r2", "=1+1"], ["r3", "", True]]
    formula = ws.get("B4", value_render_option="FORMULA")
    assert formula == [["=1+1"]]  # a stringValue is text, never a formula
    error = api_error(
        sh.batch_update,
        {"requests": [{"appendCells": {"sheetId": 0, "rows": [{"values": [{}] * 27}],
                                       "fields": "userEnteredValue"}}]},
    )  # fmt: skip
    assert "exceeds grid limits" in error.error["message"]


# ------------------------------------------------------------------ quotas


def _until_ok(call, deadline_s: float = 10.0):
    """Call until it stops answering 429 (the quota window refilled)."""
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            return call()
        except gspread.exceptions.APIError as error:
            if error.code != 429 or time.monotonic() > give_up:
                raise
            time.sleep(0.1)


def test_quota_per_user_and_minute_then_recovery():
    with FakeSheetsServer(quota_reads=4, quota_writes=2, quota_window_s=1.0) as fake:
        key = fake.create_spreadsheet("quota")
        alice = fake_client(fake.base_url, user="alice").open_by_key(key).sheet1  # 1 read
        alice.update([["a1"]], "A1")
        alice.update([["a2"]], "A2")
        error = api_error(alice.update, [["a3"]], "A3")
        assert (error.code, error.error["status"]) == (429, "RESOURCE_EXHAUSTED")
        assert error.error["message"] == (
            "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per "
            "minute per user' of service 'sheets.googleapis.com' for consumer "
            "'project_number:000000000000'."
        )
        assert (
            error.error["details"][0]["metadata"]["quota_limit"] == "WriteRequestsPerMinutePerUser"
        )
        assert alice.get("A1:A2") == [["a1"], ["a2"]]  # reads are counted apart
        bob = fake_client(fake.base_url, user="bob").open_by_key(key).sheet1
        bob.update([["b"]], "B1")  # another user has his own quota
        assert fake.values(key) == [["a1", "b"], ["a2"]]
        _until_ok(lambda: alice.update([["a3"]], "A3"))
        assert fake.values(key) == [["a1", "b"], ["a2"], ["a3"]]
        statuses = [(e.user, e.status) for e in fake.request_log if e.method == "PUT"]
        assert statuses[:3] == [("alice", 200), ("alice", 200), ("alice", 429)]
        assert statuses[-1] == ("alice", 200)


def test_anonymous_clients_share_one_quota(fake):
    fake.set_quota(reads=2, writes=None, window_s=60)
    key = fake.create_spreadsheet("anon")
    one, two = fake_client(fake.base_url), fake_client(fake.base_url)
    one.open_by_key(key)
    two.open_by_key(key)
    error = api_error(one.open_by_key, key)
    assert error.error["message"].startswith("Quota exceeded for quota metric 'Read requests'")
    assert "Retry-After" not in error.response.headers  # Google sends none for quotas
    assert [e.user for e in fake.request_log] == ["anonymous"] * 3


# ------------------------------------------------------------------ injected faults


def _append_url(fake, key):
    return f"{fake.base_url}/v4/spreadsheets/{key}/values/Sheet1!A1:append?valueInputOption=RAW"


def _append(fake, key, value, timeout=5.0):
    return requests.post(_append_url(fake, key), json={"values": [[value]]}, timeout=timeout)


def test_fault_429_with_retry_after(fake):
    key = fake.create_spreadsheet("faults")
    fake.inject("429", retry_after=7)
    answer = _append(fake, key, "x")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    assert answer.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert fake.values(key) == []
    assert _append(fake, key, "y").status_code == 200  # times=1: only one
    assert fake.values(key) == [["y"]]


@pytest.mark.parametrize(
    ("kind", "status_text"),
    [("408", None), ("500", "INTERNAL"), ("502", None), ("503", "UNAVAILABLE"),
     ("504", "DEADLINE_EXCEEDED")],
)  # fmt: skip
def test_fault_error_statuses_apply_nothing(fake, kind, status_text):
    key = fake.create_spreadsheet("faults")
    fake.inject(kind)
    answer = _append(fake, key, "x")
    assert answer.status_code == int(kind)
    if status_text is None:  # Google's front end answers these with an HTML page
        assert answer.headers["Content-Type"].startswith("text/html")
        assert f"<b>{kind}.</b>" in answer.text
    else:
        assert answer.json()["error"]["status"] == status_text
    assert fake.values(key) == []
    assert fake.request_log[-1].fault == kind and fake.request_log[-1].status == int(kind)


def test_fault_seen_through_gspread(fake, gc):
    key = fake.create_spreadsheet("faults")
    ws = gc.open_by_key(key).sheet1
    fake.inject("503", match=r":append$")
    assert ws.get("A1") == [[]]  # a read does not match
    error = api_error(ws.append_row, ["x"])
    assert error.code == 503
    ws.append_row(["x"])
    assert fake.values(key) == [["x"]]


def test_fault_slow_answers_late_but_applies(fake):
    key = fake.create_spreadsheet("faults")
    fake.inject("slow", delay=0.3)
    answer = _append(fake, key, "late")
    assert answer.status_code == 200 and fake.request_log[-1].fault == "slow"
    fake.inject("slow", delay=3.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _append(fake, key, "unknown outcome", timeout=0.2)
    assert fake.values(key) == [["late"], ["unknown outcome"]]


def test_fault_drop_before_applies_nothing(fake):
    key = fake.create_spreadsheet("faults")
    fake.inject("drop_before")
    with pytest.raises(requests.exceptions.ConnectionError):
        _append(fake, key, "x")
    assert fake.values(key) == []
    entry = fake.request_log[-1]
    assert (entry.fault, entry.status) == ("drop_before", None)


def test_fault_drop_after_applies_the_write(fake):
    key = fake.create_spreadsheet("faults")
    fake.inject("drop_after")
    with pytest.raises(requests.exceptions.ConnectionError):
        _append(fake, key, "written anyway")
    assert fake.values(key) == [["written anyway"]]
    entry = fake.request_log[-1]
    assert (entry.fault, entry.status, entry.kind) == ("drop_after", None, "write")


def test_fault_times_and_match(fake):
    key = fake.create_spreadsheet("faults")
    fake.inject("500", times=2, match="^POST ")
    url = f"{fake.base_url}/v4/spreadsheets/{key}/values/A1"
    assert requests.get(url, timeout=5).status_code == 200
    assert [_append(fake, key, i).status_code for i in range(3)] == [500, 500, 200]
    fake.inject("503", times=None)
    assert [requests.get(url, timeout=5).status_code for _ in range(3)] == [503] * 3
    fake.clear_faults()
    assert requests.get(url, timeout=5).status_code == 200
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake.inject("418")


def test_random_fault_rate_is_seeded(fake):
    key = fake.create_spreadsheet("faults")
    url = f"{fake.base_url}/v4/spreadsheets/{key}/values/A1"

    def statuses():
        return [requests.get(url, timeout=5).status_code for _ in range(40)]

    fake.set_fault_rate(0.5, kinds=["500", "503"], seed=7)
    first = statuses()
    fake.set_fault_rate(0.5, kinds=["500", "503"], seed=7)
    assert statuses() == first
    assert {200, 500, 503} == set(first)
    faulted = [e.fault for e in fake.request_log[:40] if e.fault]
    assert len(faulted) == sum(s != 200 for s in first)
    fake.set_fault_rate(0)
    assert set(statuses()) == {200}
    assert set(FAULT_KINDS) >= {"429", "slow", "drop_before", "drop_after"}


# ------------------------------------------------------------------ concurrency


def test_concurrent_appends_from_threads(fake):
    key = fake.create_spreadsheet("threads")

    def writer(n):
        ws = fake_client(fake.base_url, user=f"u{n}").open_by_key(key).sheet1
        for i in range(10):
            ws.append_row([f"t{n}-{i}", n], table_range="A1")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = fake.values(key)
    assert len(rows) == 80
    assert sorted(r[0] for r in rows) == sorted(f"t{n}-{i}" for n in range(8) for i in range(10))


WRITER = """
import sys, requests
base, key, n = sys.argv[1], sys.argv[2], sys.argv[3]
url = f"{base}/v4/spreadsheets/{key}/values/A1:append?valueInputOption=RAW"
for i in range(10):
    r = requests.post(url, json={"values": [[f"p{n}-{i}"]]}, timeout=10,
                      headers={"Authorization": f"Bearer proc{n}"})
    r.raise_for_status()
"""


def test_concurrent_appends_from_processes(fake):
    key = fake.create_spreadsheet("processes")
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, fake.base_url, key, str(n)])
        for n in range(3)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert sorted(r[0] for r in fake.values(key)) == sorted(
        f"p{n}-{i}" for n in range(3) for i in range(10)
    )
    assert {e.user for e in fake.request_log} == {"proc0", "proc1", "proc2"}


# ------------------------------------------------------------------ command line and admin


def test_command_line_server_starts_and_answers(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sheetlog.testing.fake_sheets", "--port", "0",
         "--create", "runs", "--create", "other"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    try:
        base_url = proc.stdout.readline().strip()
        created = [proc.stdout.readline().rstrip("\n").split("\t") for _ in range(2)]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        assert [title for _, title in created] == ["runs", "other"]
        health = requests.get(f"{base_url}/__fake__/health", timeout=5).json()
        assert health == {"ok": True, "base_url": base_url}
        ws = fake_client(base_url).open_by_key(created[0][0]).sheet1
        ws.append_row(["from another process"])
        assert ws.get_all_values() == [["from another process"]]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        watchdog.cancel()
        errors = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert errors == f"fake Sheets API at {base_url}; try SHEETLOG_GSHEETS_ENDPOINT={base_url}\n"


def test_admin_endpoints(fake):
    admin = f"{fake.base_url}/__fake__"
    key = requests.post(
        f"{admin}/spreadsheets", json={"title": "admin", "sheets": [["Runs", 10, 5]]}, timeout=5
    ).json()["spreadsheetId"]
    assert requests.get(f"{admin}/spreadsheets", timeout=5).json() == {"spreadsheetIds": [key]}
    gc = fake_client(fake.base_url)
    gc.open_by_key(key).sheet1.update([["a", 1]], "A1")
    values = requests.get(f"{admin}/spreadsheets/{key}/values/Runs", timeout=5).json()
    assert values == {"values": [["a", 1]]}
    grid = requests.get(f"{admin}/spreadsheets/{key}", timeout=5).json()
    assert grid["sheets"][0]["data"][0]["rowData"][0]["values"][1]["formattedValue"] == "1"
    log = requests.get(f"{admin}/log", timeout=5).json()["requests"]
    assert [(e["method"], e["kind"], e["status"]) for e in log] == [
        ("GET", "read", 200),  # open_by_key
        ("GET", "read", 200),  # .sheet1 fetches the metadata again
        ("PUT", "write", 200),
    ]  # admin requests are not logged
    assert requests.delete(f"{admin}/log", timeout=5).status_code == 200
    assert fake.request_log == []
    fault = {"kind": "drop_after", "match": "PUT"}
    assert requests.post(f"{admin}/faults", json=fault, timeout=5).json() == {"pending": 1}
    requests.delete(f"{admin}/faults", timeout=5)
    assert fake.faults.pending() == []
    requests.post(f"{admin}/fault_rate", json={"rate": 1.0, "kinds": ["503"]}, timeout=5)
    assert api_error(gc.open_by_key, key).code == 503
    requests.post(f"{admin}/fault_rate", json={"rate": 0}, timeout=5)
    requests.post(f"{admin}/forbid", json={"spreadsheetId": key}, timeout=5)
    with pytest.raises(PermissionError):
        gc.open_by_key(key)
    requests.post(f"{admin}/quota", json={"reads": 0}, timeout=5)
    assert fake.quota.reads == 0
    bad = requests.post(f"{admin}/nope", timeout=5)
    assert bad.status_code == 400 and "no admin endpoint" in bad.json()["error"]
    requests.post(f"{admin}/reset", timeout=5)
    assert fake.spreadsheet_ids() == [] and fake.request_log == []


# ------------------------------------------------------------------ helpers


def test_client_helpers_and_a1_primitives():
    assert (
        rewrite_url("https://sheets.googleapis.com/v4/x?a=1", "http://h:1/")
        == "http://h:1/v4/x?a=1"
    )
    assert rewrite_url("https://www.googleapis.com/drive/v3/files", "http://h:1") == (
        "http://h:1/drive/v3/files"
    )
    assert rewrite_url("https://oauth2.googleapis.com/token", "http://h:1").startswith("https://")
    assert [col_letters(i) for i in (0, 25, 26, 701, 18277)] == ["A", "Z", "AA", "ZZ", "ZZZ"]
    assert col_index("ZZZ") == 18277
    assert [quote_title(t) for t in ("Sheet1", "my runs", "A1", "it's")] == [
        "Sheet1",
        "'my runs'",
        "'A1'",
        "'it''s'",
    ]
    parsed = parse_a1("'it''s'!B2:C", ["it's"])
    assert (parsed.sheet, parsed.r0, parsed.r1, parsed.c0, parsed.c1) == ("it's", 1, None, 1, 3)
    assert parse_a1("Nope!A1", ["Sheet1"]) is None


def test_logged_request_fields(fake, gc):
    key = fake.create_spreadsheet("log")
    fake.clear_log()
    ws = gc.open_by_key(key).sheet1
    ws.get("A1:B2", value_render_option="FORMULA")
    entry = fake.request_log[-1]
    assert entry.method == "GET" and entry.path == f"/v4/spreadsheets/{key}/values/'Sheet1'!A1:B2"
    assert entry.query == {"valueRenderOption": "FORMULA"}
    assert (entry.kind, entry.api, entry.status, entry.spreadsheet_id) == (
        "read",
        "sheets",
        200,
        key,
    )
    assert entry["user"] == "anonymous" and isinstance(entry.time, float)
    assert entry.to_json()["path"] == entry.path


def test_backoff_client_variant_reaches_the_fake(fake):
    key = fake.create_spreadsheet("backoff")
    gc = fake_client(fake.base_url, http_client=gspread.BackOffHTTPClient)
    assert isinstance(gc.http_client, gspread.BackOffHTTPClient)
    assert gc.open_by_key(key).title == "backoff"


def test_payload_limit_and_body_size_in_log(fake):
    key = fake.create_spreadsheet("payload")
    url = f"{fake.base_url}/v4/spreadsheets/{key}/values/A1:append?valueInputOption=RAW"
    small = requests.post(url, json={"values": [["x"]]}, timeout=5)
    assert small.status_code == 200
    assert fake.request_log[-1].body_size == len(b'{"values": [["x"]]}')
    big = requests.post(url, json={"values": [["y" * 40000]] * 270}, timeout=30)
    assert big.status_code == 400
    assert big.json()["error"]["message"] == (
        "Request payload size exceeds the limit: 10485760 bytes."
    )
    assert fake.values(key) == [["x"]]


def test_sheets_create_and_drive_errors(fake):
    created = requests.post(
        f"{fake.base_url}/v4/spreadsheets",
        json={"properties": {"title": "via sheets"}, "sheets": [{"properties": {"title": "A"}}]},
        timeout=5,
    ).json()
    assert created["properties"]["title"] == "via sheets"
    assert [s["properties"]["title"] for s in created["sheets"]] == ["A"]
    files = f"{fake.base_url}/drive/v3/files"
    missing = requests.get(f"{files}/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["errors"][0]["reason"] == "notFound"
    gone = requests.delete(f"{files}/{created['spreadsheetId']}", timeout=5)
    assert (gone.status_code, gone.text) == (204, "")
    assert requests.delete(f"{files}/{created['spreadsheetId']}", timeout=5).status_code == 404
    unknown = requests.get(f"{fake.base_url}/v4/nothing/here", timeout=5)
    assert unknown.status_code == 404


def test_appended_rows_take_the_formats_of_the_row_above(fake, ws):
    """Google users report appended rows copying the last row's format (a bold header makes
    the first appended row bold); rows written over keep their own format."""
    ws.update([["run_id", "start"]], "A1")
    ws.format("A1:B1", {"textFormat": {"bold": True}})
    ws.format("B2:B", {"numberFormat": {"type": "DATE", "pattern": "yyyy-mm-dd"}})
    ws.append_rows([["r1", 45000]], insert_data_option="INSERT_ROWS", table_range="A1")
    key = ws.spreadsheet.id
    inserted = fake.cell(key, "B2")
    assert inserted["userEnteredFormat"] == {"textFormat": {"bold": True}}  # from the header
    assert fake.cell(key, "B3")["userEnteredFormat"]["numberFormat"]["type"] == "DATE"  # moved
    ws.append_rows([["r2", 45001]], table_range="A1")  # OVERWRITE: row 3 keeps its format
    assert ws.get("A2:B3") == [["r1", "45000"], ["r2", "2023-03-16"]]
    ws.spreadsheet.batch_update(
        {
            "requests": [
                {
                    "repeatCell": {
                        "range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": None},
                        "cell": {"userEnteredFormat": None},
                        "fields": "userEnteredFormat",
                    }
                }
            ]
        }
    )  # JSON null means "not set": the whole column below the header loses its formats
    assert "userEnteredFormat" not in fake.cell(key, "B3")
