"""The Google Sheets backend under faults, races and quotas, against the fake over real HTTP.

Real parts only: the fake Sheets API (``sheetlog.testing.FakeSheetsServer``) runs in the test
process on loopback, sheetlog talks to it through gspread's real HTTP client
(``SHEETLOG_GSHEETS_ENDPOINT``), the logging processes are real interpreters, the journals real
SQLite. Retries are made fast (``SHEETLOG_GSHEETS_BACKOFF_S``, ``SHEETLOG_GSHEETS_MAX_WAIT_S``)
and the read timeout short (``SHEETLOG_GSHEETS_TIMEOUT_S``) so that a "slow" answer times out.

What a user would notice is checked cell by cell in the fake's own values: the number of rows,
no run twice, no run missing, and every value under its own header.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import sheetlog
import sheetlog.run
from sheetlog.backends.base import Table
from sheetlog.backends.gsheets import backend as gsheets_backend
from sheetlog.backends.gsheets.retry import Backoff
from sheetlog.errors import SheetlogWarning
from sheetlog.reading import to_dataframe
from sheetlog.testing import FAULT_KINDS, FakeSheetsServer, fake_client

CHILD_TIMEOUT_S = 240
READ_TIMEOUT_S = 0.25  # a "slow" answer comes after SLOW_S: the client gives up first
SLOW_S = 0.6


@pytest.fixture
def fake(fake_sheets: FakeSheetsServer, monkeypatch: pytest.MonkeyPatch) -> FakeSheetsServer:
    """The fake (conftest's ``fake_sheets``: no quota, every request of sheetlog and of its
    children sent to it), with a short retry budget and read timeout."""
    monkeypatch.setenv("SHEETLOG_GSHEETS_MAX_WAIT_S", "0.3")
    monkeypatch.setenv("SHEETLOG_GSHEETS_TIMEOUT_S", str(READ_TIMEOUT_S))
    return fake_sheets


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{key}": value for key, value in values.items()}


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, (bool, str)):
        return got == want
    return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(got, want)


def expected_cells(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """run_id -> the cells its process logged, from the children's reports."""
    expected: dict[str, dict[str, Any]] = {}
    for report in reports:
        for run_id, logged in report["runs"].items():
            assert run_id not in expected
            expected[run_id] = {
                "name": logged["name"],
                "status": "FINISHED",
                **_flat("params", logged["params"]),
                **_flat("metrics", logged["metrics"]),
            }
    return expected


@dataclass
class SheetCheck:
    header: list[str]
    displaced: int  # values in a later copy of a repeated name rather than its first column


def check_sheet(values: list[list[Any]], expected: dict[str, dict[str, Any]]) -> SheetCheck:
    """Check the fake's cells against the runs logged.

    Every run exactly once, and each params./metrics./name/status value it logged under a
    column of that name; every other such cell of its row empty. A name added by two writers at
    the same moment can appear twice in the header: the value must then be in exactly one of
    the copies (the first, unless a writer that had not seen the other copy inserted its own in
    front of it; those are counted)."""
    header, rows = values[0], [row for row in values[1:] if row]
    run_ids = [row[0] for row in rows]
    assert header[0] == "run_id"
    assert len(run_ids) == len(set(run_ids)), [i for i, n in Counter(run_ids).items() if n > 1]
    assert set(run_ids) == set(expected), (set(expected) - set(run_ids), len(run_ids))
    logged_names = {name for cells in expected.values() for name in cells}
    assert logged_names <= set(header), logged_names - set(header)
    checked = [
        (position, name)
        for position, name in enumerate(header)
        if name.startswith(("params.", "metrics.")) or name in ("name", "status")
    ]
    displaced = 0
    for row in rows:
        want, found = expected[row[0]], set()
        for position, name in checked:
            got = row[position] if position < len(row) and row[position] != "" else None
            if got is None:
                continue
            assert name in want, f"{row[0]}: {name} (column {position}) holds {got!r}"
            assert name not in found, f"{row[0]}: {name} holds a value in two columns"
            assert _same(got, want[name]), (row[0], name, position, got, want[name])
            found.add(name)
            displaced += position != header.index(name)
        assert found == set(want), f"{row[0]}: no value for {set(want) - found}"
    return SheetCheck(header, displaced)


# Start of every child: ``barrier(name, k, n)`` returns once all n processes have reached it.
PREAMBLE = r"""
import json, sys, time, warnings
from pathlib import Path

import sheetlog
import sheetlog.backends.gsheets.backend  # gspread imported before the race starts


def barrier(name, k, n):
    Path(f"{name}-{k}").touch()
    deadline = time.monotonic() + 120
    while len(list(Path().glob(f"{name}-*"))) < n:
        if time.monotonic() > deadline:
            sys.exit(f"stuck at barrier {name}")
        time.sleep(0.001)
"""


def run_children(script: str, argv: list[list[str]], cwd: Path) -> list[dict[str, Any]]:
    """Run one interpreter per argv in ``cwd``, wait for all; each prints a JSON report last."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", PREAMBLE + script, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        for args in argv
    ]
    reports = []
    for k, child in enumerate(children):
        out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
        assert child.returncode == 0, f"process {k} failed:\n{err}"
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


# -- 1. four processes, 125 runs each, 20% of requests failing -----------------------------------

PROCESSES = 4
RUNS_EACH = 125

# Logs COUNT runs once all processes are ready, then flushes its journal until nothing is
# pending. Prints every run_id with what it logged, the warnings it got, the flushes it needed.
FAULTY_CHILD = r"""
k, target, journal, count = sys.argv[1:5]
k, count = int(k), int(count)
barrier("ready", k, int(sys.argv[5]))
runs, flushes = {}, 0
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for i in range(count):
        params = {"i": i, f"only_{k}": f"p{k}-{i}", "proc": k}
        metrics = {"acc": k + i / 1000, f"loss_{k}": 1 / (i + 1)}
        row = sheetlog.log_run(
            params, metrics, name=f"proc{k}-run{i}", target=target, capture=False,
            journal_dir=journal,
        )
        runs[row["run_id"]] = {"params": params, "metrics": metrics, "name": f"proc{k}-run{i}"}
    while not sheetlog.flush(journal_dir=journal).ok:
        flushes += 1
        if flushes > 100:
            sys.exit("runs still pending after 100 flushes")
print(json.dumps({"runs": runs, "warnings": [str(w.message) for w in caught], "flushes": flushes}))
"""


@pytest.mark.parametrize(
    "journals",
    # shared: the processes of one machine in one directory (the default journal, .sheetlog/)
    ["one per process", "shared"],
)
@pytest.mark.slow  # 2,000 runs through four processes and injected faults
def test_four_processes_500_runs_with_20_percent_faults(
    fake: FakeSheetsServer, tmp_path: Path, journals: str
) -> None:
    """Every kind of fault on 20% of requests, including writes applied whose answer is lost:
    after each process's final flush, exactly 500 rows, no run twice, every value in place.
    Each kind also strikes one write for sure: with a shared journal, group commit leaves so
    few requests that 20% of them need not include every kind."""
    key = fake.create_spreadsheet("team runs")
    target = f"gsheet://{key}/Runs"
    fake.set_fault_rate(0.2, FAULT_KINDS, seed=3, retry_after=0.05, delay=SLOW_S)
    for kind in FAULT_KINDS:
        fake.inject(kind, match=r":batchUpdate$", retry_after=0.05, delay=SLOW_S)
    journal = [
        tmp_path / (f"journal-{k}" if journals == "one per process" else "journal")
        for k in range(PROCESSES)
    ]
    argv = [
        [str(k), target, str(journal[k]), str(RUNS_EACH), str(PROCESSES)] for k in range(PROCESSES)
    ]
    started = time.monotonic()
    reports = run_children(FAULTY_CHILD, argv, tmp_path)
    elapsed = time.monotonic() - started
    fake.set_fault_rate(0)

    expected = expected_cells(reports)
    assert len(expected) == PROCESSES * RUNS_EACH
    header = check_sheet(fake.values(key, "Runs"), expected).header
    # The worksheet was added with the header of its first run: the names every process logs
    # were there before any process looked, so none was added twice.
    assert len(header) == len(set(header)), header

    log = fake.request_log
    faults = Counter(entry.fault for entry in log if entry.fault)
    assert set(faults) == set(FAULT_KINDS), faults  # every kind of fault was met
    warned = [w for report in reports for w in report["warnings"]]
    # Runs were only ever left pending because retries ran out (not by a refused request),
    # and every one of them was delivered by a later run or the final flush (checked above).
    assert all("kept failing after" in w for w in warned), warned
    print(
        f"\n{journals}: {elapsed:.1f} s, {len(log)} requests, faults {dict(faults)},"
        f" {len(warned)} warnings, flushes {[r['flushes'] for r in reports]}"
    )
    for w in warned[:3]:
        print("  ", w)


# -- 2. four processes adding different new parameters at the same moment -----------------------

ROUNDS = 5

# Each round, once all processes are there, logs {"common_R": R, "only_K_R": ...}: names the
# header does not have yet, one shared by every process, one its own.
RACING_CHILD = r"""
k, target, journal, rounds, n = sys.argv[1:6]
k, rounds, n = int(k), int(rounds), int(n)
runs = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for r in range(rounds):
        barrier(f"round{r}", k, n)
        params = {f"common_{r}": r, f"only_{k}_{r}": f"p{k}-{r}"}
        metrics = {f"score_{k}_{r}": k + r / 10}
        row = sheetlog.log_run(
            params, metrics, name=f"proc{k}-round{r}", target=target, capture=False,
            journal_dir=journal,
        )
        runs[row["run_id"]] = {"params": params, "metrics": metrics, "name": f"proc{k}-round{r}"}
print(json.dumps({"runs": runs, "warnings": [str(w.message) for w in caught], "flushes": 0}))
"""


def test_processes_adding_different_parameters_at_once(
    fake: FakeSheetsServer, tmp_path: Path
) -> None:
    """Five rounds of four processes growing the header at the same moment, with names of
    their own and one name they all add: every value under its own header, and ``load`` gives
    one column per name even where the sheet holds a name twice."""
    key = fake.create_spreadsheet("team runs")
    target = f"gsheet://{key}/Runs"
    first = sheetlog.log_run(
        {"lr": 0.1}, name="before", target=target, capture=False, journal_dir=tmp_path / "j"
    )
    argv = [
        [str(k), target, str(tmp_path / f"journal-{k}"), str(ROUNDS), str(PROCESSES)]
        for k in range(PROCESSES)
    ]
    reports = run_children(RACING_CHILD, argv, tmp_path)
    assert [r["warnings"] for r in reports] == [[]] * PROCESSES

    expected = expected_cells(reports)
    expected[first["run_id"]] = {"name": "before", "status": "FINISHED", "params.lr": 0.1}
    check = check_sheet(fake.values(key, "Runs"), expected)
    header = check.header
    repeated = Counter(name for name in header if header.count(name) > 1)

    frame = sheetlog.load(target)
    assert len(frame) == PROCESSES * ROUNDS + 1
    assert list(frame.columns) == list(dict.fromkeys(header))  # one column per name
    by_id = frame.set_index("run_id")
    for run_id, cells in expected.items():
        for name, value in cells.items():
            got = by_id.at[run_id, name]
            assert _same(got.item() if hasattr(got, "item") else got, value), (run_id, name)
    log = fake.request_log
    repairs = sum(1 for e in log if e.path.endswith("values:batchUpdate"))
    print(
        f"\n{len(log)} requests, {repairs} repairs, header {len(header)} columns,"
        f" repeated: {dict(repeated)}, {check.displaced} values not in the first copy"
    )


def test_load_folds_columns_of_the_same_name_unless_they_clash() -> None:
    header = ["run_id", "params.a", "params.b", "params.a", "params.b", "params.c"]
    rows = [["r1", 1, "x", None, "y", None], ["r2", None, None, 2, None, None]]
    frame = to_dataframe(Table(header, rows))
    assert list(frame.columns) == ["run_id", "params.a", "params.b", "params.b.1", "params.c"]
    assert frame["params.a"].tolist() == [1, 2]  # one value per row: folded into the first
    # a row with a value in both copies keeps both
    assert frame["params.b"].fillna("-").tolist() == ["x", "-"]
    assert frame["params.b.1"].fillna("-").tolist() == ["y", "-"]


# -- 3. quota exceeded, and a long outage --------------------------------------------------------


def _journal_pending(journal: Path) -> int:
    return sum(s.count for s in sheetlog.run.open_journal(journal).pending_summary())


@pytest.mark.slow  # waits for the fake's quota to refill
def test_quota_exceeded_rows_wait_in_the_journal_and_arrive_once_it_refills(
    fake: FakeSheetsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google allows 60 writes a minute per user; here 5 per 5 s, and 10 runs come faster."""
    monkeypatch.setenv("SHEETLOG_GSHEETS_MAX_WAIT_S", "0.05")
    window_s = 5.0
    fake.set_quota(reads=None, writes=5, window_s=window_s)
    key = fake.create_spreadsheet("team runs")
    target = f"gsheet://{key}/Runs"
    journal = tmp_path / ".sheetlog"
    expected = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.monotonic()
        for i in range(10):  # no exception may reach the training code
            row = sheetlog.log_run(
                {"i": i}, {"acc": i / 10}, target=target, capture=False, journal_dir=journal
            )
            expected[row["run_id"]] = {"params.i": i, "metrics.acc": i / 10}
    logging_s = time.monotonic() - started
    refused = [e for e in fake.request_log if e.status == 429]
    warned = [str(w.message) for w in caught if issubclass(w.category, SheetlogWarning)]
    assert refused and warned  # the quota was hit, and the user was told
    assert all("Quota exceeded" in w and "sheetlog.flush()" in w for w in warned), warned
    pending = _journal_pending(journal)
    header, rows = _sheet_rows(fake, key)
    assert pending > 0 and len(rows) + pending == 10

    time.sleep(window_s)  # the quota refills
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        report = sheetlog.flush(journal_dir=journal)
    assert report.ok and sum(report.delivered.values()) == pending
    header, rows = _sheet_rows(fake, key)
    assert sorted(r[0] for r in rows) == sorted(expected)
    for row in rows:
        cells = dict(zip(header, row, strict=False))
        assert cells["params.i"] == expected[row[0]]["params.i"]
        assert _same(cells["metrics.acc"], expected[row[0]]["metrics.acc"])
    print(
        f"\n10 runs in {logging_s:.2f} s: {len(refused)} requests refused (429),"
        f" {len(warned)} warnings, {pending} runs pending until the flush"
    )


def test_a_long_outage_keeps_the_run_and_delivers_it_once_when_it_ends(
    fake: FakeSheetsServer, tmp_path: Path
) -> None:
    key = fake.create_spreadsheet("team runs")
    where = {"target": f"gsheet://{key}/Runs", "capture": False, "journal_dir": tmp_path / "j"}
    sheetlog.log_run({"lr": 0.1}, **where)
    fake.clear_log()
    fake.inject("503", times=None)  # every request, until cleared
    with pytest.warns(SheetlogWarning) as caught:
        row = sheetlog.log_run({"lr": 0.2}, {"acc": 0.5}, **where)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "HTTP 503" in message and "The service is currently unavailable" in message
    assert "kept in the journal" in message
    assert len(fake.request_log) <= Backoff().attempts  # bounded: gspread retries forever
    assert _journal_pending(tmp_path / "j") == 1

    fake.clear_faults()
    assert sum(sheetlog.flush(journal_dir=tmp_path / "j").delivered.values()) == 1
    assert sum(sheetlog.flush(journal_dir=tmp_path / "j").delivered.values()) == 0
    header, rows = _sheet_rows(fake, key)
    assert [r[0] for r in rows].count(row["run_id"]) == 1 and len(rows) == 2
    ours = dict(zip(header, next(r for r in rows if r[0] == row["run_id"]), strict=False))
    assert ours["params.lr"] == 0.2 and ours["metrics.acc"] == 0.5


# -- 4. writes whose outcome is unknown ----------------------------------------------------------


def _sheet_rows(fake: FakeSheetsServer, key: str) -> tuple[list[str], list[list[Any]]]:
    values = fake.values(key, "Runs")
    return values[0], [row for row in values[1:] if row]


def _insert_named_column(fake: FakeSheetsServer, key: str, index: int, name: str) -> None:
    """What a writer holding an older header does to add ``name``: insert at its header's end."""
    sheet_id = fake.metadata(key)["sheets"][1]["properties"]["sheetId"]
    fake_client(fake.base_url).http_client.batch_update(
        key,
        {
            "requests": [
                {
                    "insertDimension": {
                        "range": {
                            "sheetId": sheet_id,
                            "dimension": "COLUMNS",
                            "startIndex": index,
                            "endIndex": index + 1,
                        }
                    }
                },
                {
                    "updateCells": {
                        "range": {
                            "sheetId": sheet_id,
                            "startRowIndex": 0,
                            "endRowIndex": 1,
                            "startColumnIndex": index,
                            "endColumnIndex": index + 1,
                        },
                        "rows": [{"values": [{"userEnteredValue": {"stringValue": name}}]}],
                        "fields": "userEnteredValue",
                    }
                },
            ]
        },
    )


@pytest.mark.parametrize("cut_short", [False, True], ids=["repaired", "repair-cut-short"])
@pytest.mark.parametrize("header", ["read-just-before", "from-our-last-write"])
def test_rows_appended_against_a_header_moved_meanwhile_are_put_back(
    fake: FakeSheetsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cut_short: bool,
    header: str,
) -> None:
    """Between the moment we learnt the header and our append (no new column of ours), another
    writer inserts a column in the middle of it. We learnt it either by reading it just before
    (a fresh process: the other writer strikes while our read is answered) or from the answer
    to our previous write (the same process: no read at all). Our append lands under the old
    positions; the header in the append's own answer shows it, and our row is rewritten by
    run_id. With ``cut_short``, the rewrite fails half-way (HTTP 500 on its run_id lookup):
    the retry finds the row already there, checks it and puts it right, without a copy."""
    monkeypatch.setenv("SHEETLOG_GSHEETS_TIMEOUT_S", "10")
    key = fake.create_spreadsheet("team runs")
    where = {"target": f"gsheet://{key}/Runs", "capture": False, "journal_dir": tmp_path / "j"}
    first = sheetlog.log_run({"lr": 0.1, "wd": 0.01}, {"acc": 0.5}, **where)
    middle = fake.values(key, "Runs")[0].index("params.lr")
    fake.clear_log()
    if header == "read-just-before":
        monkeypatch.setattr(gsheets_backend, "_known_sheets", {})  # as in a fresh process

        def other_writer() -> None:
            while not any(entry.fault == "slow" for entry in fake.request_log):
                time.sleep(0.005)
            _insert_named_column(fake, key, middle, "params.beta")

        fake.inject("slow", match=r"^GET /v4/spreadsheets/[^/]+$", delay=0.5)  # our read
        thread = threading.Thread(target=other_writer)
        thread.start()
    else:
        _insert_named_column(fake, key, middle, "params.beta")
    if cut_short:
        fake.inject("500", match=r"^GET .*/values/'Runs'!A2:A$")  # the repair's run_id lookup
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)
        second = sheetlog.log_run({"lr": 0.2, "wd": 0.02}, {"acc": 0.6}, **where)
    if header == "read-just-before":
        thread.join()

    assert fake.faults.pending() == []  # every fault was met: the race did happen
    names, rows = _sheet_rows(fake, key)
    assert names[middle] == "params.beta"
    by_run = {row[0]: dict(zip(names, row + [""] * len(names), strict=False)) for row in rows}
    assert len(rows) == 2 and set(by_run) == {first["run_id"], second["run_id"]}
    assert [by_run[second["run_id"]][n] for n in ("params.lr", "params.wd", "metrics.acc")] == [
        0.2,
        0.02,
        0.6,
    ]
    assert by_run[second["run_id"]]["params.beta"] == ""
    assert [by_run[first["run_id"]][n] for n in ("params.lr", "params.wd", "metrics.acc")] == [
        0.1,
        0.01,
        0.5,
    ]
    rewrites = [e for e in fake.request_log if e.path.endswith("values:batchUpdate")]
    assert len(rewrites) == 1


@pytest.mark.parametrize("kind", ["drop_after", "slow"])
def test_an_append_whose_answer_is_lost_is_not_repeated(
    fake: FakeSheetsServer, tmp_path: Path, kind: str
) -> None:
    """The append is applied but its answer never arrives (connection closed, or later than the
    client waits): the retry looks for the run_id first and does not append it again."""
    key = fake.create_spreadsheet("team runs")
    where = {"target": f"gsheet://{key}/Runs", "capture": False, "journal_dir": tmp_path / "j"}
    sheetlog.log_run({"lr": 0.1}, **where)
    fake.clear_log()
    fake.inject(kind, match=r":batchUpdate$", delay=SLOW_S)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SheetlogWarning)  # the retry succeeds: nothing to say
        row = sheetlog.log_run({"lr": 0.2, "momentum": 0.9}, **where)  # with a new column

    log = [(e.method, e.path.rsplit("/", 1)[-1], e.fault) for e in fake.request_log]
    appends = [entry for entry in log if entry[1].endswith(":batchUpdate")]
    assert appends == [("POST", f"{key}:batchUpdate", kind)]  # the one that was lost, no other
    assert ("GET", "'Runs'!A2:A", None) in log  # the run_id lookup
    header, rows = _sheet_rows(fake, key)
    assert len(rows) == 2 and [r[0] for r in rows].count(row["run_id"]) == 1
    ours = dict(zip(header, next(r for r in rows if r[0] == row["run_id"]), strict=False))
    assert ours["params.lr"] == 0.2 and ours["params.momentum"] == 0.9
    assert sum(sheetlog.flush(journal_dir=tmp_path / "j").delivered.values()) == 0
