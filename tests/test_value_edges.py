"""Values at the edges (issue 10, items 1, 8, 11 and 15): what could not round-trip, raise, crash
the reading side or come back as another date. Each test logs real runs into a workbook (or the
fake Google Sheet) through the journal and reads them back with ``sheetlog.load`` and with an
independent reader (python-calamine, openpyxl, LibreOffice)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import fractions
import json
import math
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from cli_support import invoke
from click.testing import CliRunner
from libreoffice import find_soffice
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog.cli import main
from sheetlog.journal import Journal
from sheetlog.values import to_cell

MAX_TEXT_CHARS = 50_000  # the most a Google Sheets cell holds, the largest of any backend


def log_run(folder: Path, params: dict, target: str | Path | None = None, **kw: Any):
    """``sheetlog.log_run`` into ``folder/runs.xlsx`` (or ``target``); (record, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = sheetlog.log_run(
            params,
            target=str(target or folder / "runs.xlsx"),
            capture=False,
            journal_dir=folder / ".sheetlog",
            **kw,
        )
    return record, [str(w.message) for w in caught if w.category is sheetlog.SheetlogWarning]


def journaled(folder: Path, run_id: str) -> dict[str, Any]:
    return Journal(folder / ".sheetlog").get_run(run_id)


# --- item 1: a value that cannot round-trip is made safe before the journal -----------------


NAT_KIN = {
    "pd_nat": pd.NaT,
    "np_nat": np.datetime64("NaT"),
    "np_nat_ns": np.datetime64("NaT", "ns"),
    "td_nat": np.timedelta64("NaT"),
    "pd_na": pd.NA,
}


def test_nat_and_its_kin_are_empty_cells_and_never_block_later_runs(tmp_path: Path) -> None:
    first, caught = log_run(tmp_path, {**NAT_KIN, "lr": 0.1})
    assert caught == []
    assert all(first[f"params.{key}"] is None for key in NAT_KIN)
    assert journaled(tmp_path, first["run_id"])["params.lr"] == 0.1
    second, caught = log_run(tmp_path, {"lr": 0.2, "when": pd.Timestamp("2024-01-02 03:04:05")})
    assert caught == []  # nothing pending, nothing failing
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert frame["run_id"].tolist() == [first["run_id"], second["run_id"]]
    assert frame["params.lr"].tolist() == [0.1, 0.2]
    assert frame["params.when"][1] == pd.Timestamp("2024-01-02 03:04:05")
    assert not any(f"params.{key}" in frame.columns for key in NAT_KIN)  # None in every run


class Weird(float):
    def __float__(self):  # a subclass whose conversion is not what it holds
        return self


class Loud(str):
    def __str__(self):
        return "not the text"


class Big(int):
    def __int__(self):
        return self


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Weird(1.5), 1.5),
        (Loud("the text"), "the text"),
        (Big(7), 7),
        (np.float16(0.5), 0.5),
        (np.longdouble(1.5), 1.5),
        (
            pd.Timestamp("2024-01-02 03:04:05.123456789", tz="Europe/Paris"),
            dt.datetime(2024, 1, 2, 2, 4, 5, 123456),
        ),  # fmt: skip
        (np.datetime64("2024-01-02T03:04:05.123456789"), dt.datetime(2024, 1, 2, 3, 4, 5, 123456)),
        (np.timedelta64(1500, "ms"), 1.5),
        (pd.Timedelta("90min"), 5400.0),
    ],
)
def test_every_cell_is_of_exactly_a_cell_type(value: Any, cell: Any) -> None:
    """What the journal stores is a plain None / bool / int / float / datetime / str."""
    converted = to_cell(value)
    assert converted == cell
    assert type(converted) is type(cell)


def test_numpy_times_inside_arrays_and_lists_are_dates_and_seconds(tmp_path: Path) -> None:
    """``tolist()`` of a ``datetime64[ns]`` array (pandas' own unit) gives nanoseconds since 1970
    as integers: an array of dates or durations must read back as dates and seconds, like the
    same values logged one by one, never as 19-digit numbers."""
    params = {
        "dates": np.array(["2024-01-02T03:04:05.5", "NaT"], dtype="datetime64[ns]"),
        "grid": np.array([["2024-01-02"]], dtype="datetime64[ns]"),
        "waits": np.array([1500, 2_000_000_000], dtype="timedelta64[ns]"),
        "listed": [np.datetime64("2024-01-02T00:00:00.000000001"), np.timedelta64(3, "s")],
        "zero_d": np.array(np.datetime64("2024-01-02T03:04:05.123456789")),
    }
    record, caught = log_run(tmp_path, params)
    assert caught == []
    row = sheetlog.load(tmp_path / "runs.xlsx").iloc[0]
    assert row["params.dates"] == ["2024-01-02T03:04:05.500000", None]
    assert row["params.grid"] == [["2024-01-02T00:00:00"]]
    assert row["params.waits"] == [1.5e-06, 2.0]
    assert row["params.listed"] == ["2024-01-02T00:00:00", 3.0]
    assert row["params.zero_d"] == pd.Timestamp("2024-01-02 03:04:05.123")
    assert record["params.zero_d"] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456)


def test_large_ints_inside_lists_stay_numbers(tmp_path: Path) -> None:
    """An int beyond 2**53 alone is text (a cell's double would lose digits), but inside a
    list or array it is JSON text anyway, which keeps every digit: it must come back as that
    int, not as a string of its digits."""
    seeds = [2**60, 3, -(2**63)]
    log_run(tmp_path, {"seeds": seeds, "array": np.array(seeds), "nested": [{"s": 2**64}]})
    row = sheetlog.load(tmp_path / "runs.xlsx").iloc[0]
    assert row["params.seeds"] == seeds
    assert row["params.array"] == seeds
    assert row["params.nested"] == [{"s": 2**64}]


# --- item 15: values never raise where docs/values.md says they don't -----------------------


def test_values_that_used_to_raise_are_kept(tmp_path: Path) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    cycle: dict[str, Any] = {"x": 1}
    cycle["self"] = cycle
    params = {
        "snan": decimal.Decimal("sNaN"),
        "huge_fraction": fractions.Fraction(10**400, 3),
        "huge_decimal": decimal.Decimal("1e400"),
        "huge_int": 10**5000,
        "loop": loop,
        "cycle_list": [cycle],
        "deep": _nested(500),
    }
    record, caught = log_run(tmp_path, params)
    assert caught == []
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    row = frame.iloc[0]
    assert math.isnan(row["params.snan"])
    assert row["params.huge_fraction"] == str(fractions.Fraction(10**400, 3))
    assert row["params.huge_decimal"] == "1E+400"  # not inf: the number is finite
    assert row["params.huge_int"] == "1" + "0" * 5000
    assert row["params.loop"] == [1, "[...]"]
    assert row["params.cycle_list"] == [{"x": 1, "self": "{...}"}]
    depth, deep = 0, row["params.deep"]
    while isinstance(deep, list):
        depth, deep = depth + 1, deep[0]
    assert (depth, deep) == (100, "...")


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def test_a_million_element_array_is_cut_to_a_cell_with_a_warning(tmp_path: Path) -> None:
    record, caught = log_run(tmp_path, {"weights": np.arange(1_000_000), "lr": 0.1})
    text = journaled(tmp_path, record["run_id"])["params.weights"]
    assert len(text) == MAX_TEXT_CHARS
    assert text.startswith("[0, 1, 2, 3") and text.endswith("characters by sheetlog]")
    assert "'params.weights'" in caught[0] and "1,000,000 items" in caught[0]
    assert "32,767" in caught[1]  # then the Excel cell, as for any long text
    cell = CalamineWorkbook.from_path(tmp_path / "runs.xlsx").get_sheet_by_index(0).to_python()
    header, row = cell[0], cell[1]
    assert len(row[header.index("params.weights")]) == 32_767  # Excel's cell limit
    assert row[header.index("params.lr")] == 0.1


def test_keys_that_clash_after_flattening_warn_naming_both(tmp_path: Path) -> None:
    record, caught = log_run(tmp_path, {"a": {"b": 1}, "a.b": 2})
    assert record["params.a.b"] == 2
    assert len(caught) == 1
    assert "['a']['b']" in caught[0] and "['a.b']" in caught[0] and "params.a.b" in caught[0]
    record, caught = log_run(tmp_path, {"x y": 1, "x\ny": 2})
    assert record["params.x y"] == 2 and "params.x y" in caught[0]


@pytest.mark.parametrize("status", ["finished", "Failed", " KILLED "])
def test_status_accepts_the_three_end_statuses_in_any_case(tmp_path: Path, status: str) -> None:
    record, _ = log_run(tmp_path, {"lr": 0.1}, status=status)
    assert record["status"] == status.strip().upper()
    assert sheetlog.load(tmp_path / "runs.xlsx")["status"].tolist() == [record["status"]]


@pytest.mark.parametrize("status", ["DONE", "RUNNING", "", None, 1])
def test_any_other_status_is_a_clear_error_and_no_run_is_left(tmp_path: Path, status) -> None:
    with pytest.raises(ValueError, match="FINISHED, FAILED or KILLED"):
        log_run(tmp_path, {"lr": 0.1}, status=status)
    assert not (tmp_path / "runs.xlsx").exists()
    run = sheetlog.start_run(target=str(tmp_path / "runs.xlsx"), capture=False,
                             journal_dir=tmp_path / ".sheetlog")  # fmt: skip
    with pytest.raises(ValueError, match="FINISHED, FAILED or KILLED"):
        run.finish(status)
    assert run.finish("finished")["status"] == "FINISHED"


def test_a_header_cell_typed_as_a_number_is_that_column(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["run_id", 2024, True, "lr"])
    sheet.append(["by-hand", 1.5, "yes", 0.01])
    book.save(tmp_path / "runs.xlsx")
    record, caught = log_run(tmp_path, {"lr": 0.1})
    assert caught == []
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    assert list(frame.columns)[:4] == ["run_id", "2024", "TRUE", "lr"]
    assert frame["2024"].tolist()[0] == 1.5
    written = openpyxl.load_workbook(tmp_path / "runs.xlsx").active
    assert [c.value for c in written[1]][:4] == ["run_id", 2024, True, "lr"]  # not re-added


def test_a_key_too_long_for_a_header_cell_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32,767"):
        log_run(tmp_path, {"k" * 32_767: 1})
    with pytest.raises(ValueError, match="32,767"):
        log_run(tmp_path, {"k" * 20_000: {"k" * 20_000: 1}})
    with pytest.raises(ValueError, match="32,767"):
        sheetlog.log_run(metrics={"m" * 40_000: 1.0}, target=str(tmp_path / "runs.xlsx"),
                         capture=False, journal_dir=tmp_path / ".sheetlog")  # fmt: skip
    record, _ = log_run(tmp_path, {"k" * (32_767 - len("params.")): 1})  # exactly fits
    assert f"params.{'k' * 32_760}" in sheetlog.load(tmp_path / "runs.xlsx").columns


@pytest.mark.parametrize("name", ["😀" * 16, "a" * 30 + "😀", "tab\there"])
def test_a_sheet_name_excel_cannot_hold_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="cannot be an Excel sheet name"):
        log_run(tmp_path, {"lr": 0.1}, target=f"{tmp_path / 'runs.xlsx'}#{name}")


def test_a_sheet_name_of_31_utf16_units_is_taken(tmp_path: Path) -> None:
    name = "a" * 29 + "😀"
    log_run(tmp_path, {"lr": 0.1}, target=f"{tmp_path / 'runs.xlsx'}#{name}")
    assert openpyxl.load_workbook(tmp_path / "runs.xlsx").sheetnames[-1] == name


# --- item 8: reading never crashes on a value sheetlog wrote ---------------------------------


HUGE = {
    "big": 2.0**64,
    "edge": 2.0**63,
    "neg_edge": -(2.0**63) - 4096,
    "top": 1.7976931348623157e308,
    "seed": 2**60,  # an int beyond 2**53: stored as text
}


def test_huge_and_odd_numbers_read_back_in_load_export_best_and_ls(tmp_path: Path) -> None:
    target = str(tmp_path / "runs.xlsx")
    log_run(tmp_path, {**HUGE, "lr": 0.1}, metrics={"acc": 0.5})
    log_run(tmp_path, {"big": 3.0, "edge": None, "neg_edge": 1, "top": 2, "seed": 7, "lr": 0.2},
            metrics={"acc": 0.7})  # fmt: skip
    frame = sheetlog.load(target)
    assert frame["params.big"].tolist() == [2.0**64, 3.0]
    assert frame["params.big"].dtype == "float64"
    assert frame["params.edge"].tolist()[0] == 2.0**63
    assert frame["params.neg_edge"].tolist() == [-(2.0**63) - 4096, 1.0]
    assert frame["params.top"].tolist() == [1.7976931348623157e308, 2.0]
    assert frame["params.seed"].tolist() == [str(2**60), 7]
    listed = invoke("ls", target, "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert sorted(r["params.big"] for r in json.loads(listed.stdout)) == [3.0, 2.0**64]
    for fmt in ("csv", "table"):
        assert invoke("ls", target, "--format", fmt).exit_code == 0
    best = invoke("best", target, "--metric", "acc")
    assert best.exit_code == 0, best.output
    out = tmp_path / "out.csv"
    assert invoke("export", target, "-o", str(out)).exit_code == 0
    assert sheetlog.load(str(out))["params.big"].tolist() == [2.0**64, 3.0]


@pytest.mark.parametrize("hand_typed", [10**30, 1e300, -(2**70), float(2**63), "1" + "0" * 400])
def test_a_huge_number_typed_in_any_column_reads(tmp_path: Path, hand_typed) -> None:
    """Every kind of column of a hand-kept CSV file, including the time columns."""
    target = tmp_path / "runs.csv"
    names = ["run_id", "start_time", "params.x", "tags.t", "metrics.m", "notes"]
    with target.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([names, ["r1", *[hand_typed] * 5]])
    frame = sheetlog.load(str(target))
    assert len(frame) == 1
    for fmt in ("json", "csv", "table"):
        assert invoke("ls", str(target), "--format", fmt).exit_code == 0


# --- item 11: dates right in every reader --------------------------------------------------

DATES = {
    "mar1": dt.datetime(1900, 3, 1),
    "mar1_noon": dt.datetime(1900, 3, 1, 12),
    "modern": dt.datetime(2026, 5, 17, 8, 30, 15, 250000),
    "last_second": dt.datetime(9999, 12, 31, 23, 59, 59),
}
OUTSIDE = {  # dates readers disagree on or Excel cannot show: ISO text, read back as dates
    "leap_bug_side": dt.datetime(1900, 1, 15),  # serial 15 is the 15th in Excel, 14th in LO
    "feb28": dt.datetime(1900, 2, 28, 6),
    "first_day": dt.datetime(1900, 1, 1),
    "eve": dt.datetime(1899, 12, 31),
    "date_min": dt.date.min,
    "max": dt.datetime.max,
    "last_ms": dt.datetime(9999, 12, 31, 23, 59, 59, 999000),
    "victorian": dt.datetime(1850, 6, 1, 13, 45, 10, 123456),
}


def expected_moment(value: dt.date) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month,
                                                                     value.day)  # fmt: skip
    return moment


def test_dates_read_back_as_logged_by_load_calamine_and_openpyxl(tmp_path: Path) -> None:
    log_run(tmp_path, {**DATES, **OUTSIDE, "ns": np.datetime64("2024-01-02T03:04:05.5000001")})
    frame = sheetlog.load(tmp_path / "runs.xlsx")
    for key, value in {**DATES, **OUTSIDE}.items():
        assert frame[f"params.{key}"][0] == expected_moment(value), key
    assert frame["params.ns"][0] == pd.Timestamp("2024-01-02 03:04:05.5")
    sheet = CalamineWorkbook.from_path(tmp_path / "runs.xlsx").get_sheet_by_index(0).to_python()
    seen = dict(zip(sheet[0], sheet[1], strict=True))
    book = openpyxl.load_workbook(tmp_path / "runs.xlsx").active
    cells = {h.value: c.value for h, c in zip(book[1], book[2], strict=True)}
    for key, value in DATES.items():
        calamine = seen[f"params.{key}"]
        if not isinstance(calamine, dt.datetime):
            calamine = dt.datetime(calamine.year, calamine.month, calamine.day)
        assert calamine == value, key
        assert cells[f"params.{key}"] == value, key
    for key, value in OUTSIDE.items():
        assert seen[f"params.{key}"] == expected_moment(value).isoformat(), key


def test_dates_read_back_from_google_sheets(tmp_path: Path, fake_sheets) -> None:
    key = fake_sheets.create_spreadsheet("dates")
    target = f"gsheet://{key}/Runs"
    log_run(tmp_path, {**DATES, **OUTSIDE}, target=target)
    frame = sheetlog.load(target)
    for name, value in {**DATES, **OUTSIDE}.items():
        assert frame[f"params.{name}"][0] == expected_moment(value), name


def test_microseconds_round_to_the_millisecond_readers_keep(tmp_path: Path) -> None:
    log_run(tmp_path, {"t": dt.datetime(2026, 1, 1, 0, 0, 0, 999700)})
    assert sheetlog.load(tmp_path / "runs.xlsx")["params.t"][0] == pd.Timestamp(
        "2026-01-01 00:00:01"
    )


@pytest.mark.libreoffice
def test_libreoffice_shows_the_dates_as_logged(tmp_path: Path) -> None:
    log_run(tmp_path, {**DATES, **OUTSIDE})
    out = tmp_path / "csv"
    subprocess.run(
        [find_soffice(), f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(out),
         str(tmp_path / "runs.xlsx")],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    with open(out / "runs.csv", encoding="utf-8", newline="") as handle:
        header, row = list(csv.reader(handle))
    shown = dict(zip(header, row, strict=True))
    for key, value in DATES.items():  # the date-time format sheetlog gives the column
        assert shown[f"params.{key}"] == value.strftime("%Y-%m-%d %H:%M:%S"), key
    for key, value in OUTSIDE.items():
        assert shown[f"params.{key}"] == expected_moment(value).isoformat(), key


def test_a_number_in_a_column_added_right_of_a_date_column_stays_a_number(
    tmp_path: Path, fake_sheets
) -> None:
    """Google Sheets gives an inserted column the format of the one before it: a new column
    right of a date column must not show its numbers as dates."""
    target = f"gsheet://{fake_sheets.create_spreadsheet('formats')}/Runs"
    log_run(tmp_path, {"when": dt.datetime(2000, 1, 1)}, target=target)
    log_run(tmp_path, {"when": dt.datetime(2000, 1, 2), "epochs": 5, "lr": 0.5}, target=target)
    frame = sheetlog.load(target)
    assert frame["params.epochs"].tolist()[1] == 5
    assert frame["params.lr"].tolist()[1] == 0.5
    assert frame["params.when"].tolist()[1] == pd.Timestamp("2000-01-02")


def test_a_mixed_column_reads_back_alike_from_a_workbook_and_a_csv_file(tmp_path: Path) -> None:
    """A column holding a number in one run and a text in another is an ``object`` column. A
    workbook gives back every number as a float and a date at midnight as a ``date``; a CSV
    file gives ``7`` and a datetime. ``load()`` must return the same values from both (else
    ``sync`` between them lists false conflicts): whole numbers of params as ints, as in a
    column of numbers only, and dates as datetimes."""
    runs = [
        {"seed": 7, "when": "unknown", "lr": 0.5},
        {"seed": "random", "when": dt.datetime(2024, 1, 2), "lr": "auto"},
    ]
    frames = {}
    for target in ("runs.xlsx", "runs.csv"):
        for params in runs:
            log_run(tmp_path, params, target=tmp_path / target)
        frames[target] = sheetlog.load(tmp_path / target)
    for frame in frames.values():
        assert frame["params.seed"].tolist() == [7, "random"]
        assert type(frame["params.seed"][0]) is int
        assert frame["params.when"].tolist() == ["unknown", dt.datetime(2024, 1, 2)]
        assert type(frame["params.when"][1]) is dt.datetime
        assert frame["params.lr"].tolist() == [0.5, "auto"]


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_ls_show_and_export_json_of_mixed_columns_is_strict_json(tmp_path: Path) -> None:
    """A date in a column that also holds text, and NaN or inf inside a logged list, come back
    from ``load()`` as Python objects in an ``object`` column: ``ls``, ``show`` and ``export``
    must still print JSON (times ISO-8601, NaN and infinities null), never crash or write the
    ``NaN`` that JSON parsers refuse."""
    first, _ = log_run(tmp_path, {"when": dt.datetime(2024, 1, 2, 3, 4, 5), "curve": [1, math.nan]})
    log_run(tmp_path, {"when": "later", "curve": [math.inf]})
    target = str(tmp_path / "runs.xlsx")
    runner = CliRunner()
    listed = runner.invoke(main, ["ls", target, "--format", "json"])
    assert listed.exit_code == 0, listed.output
    rows = strict_json(listed.output)
    assert [r["params.when"] for r in rows] == ["2024-01-02T03:04:05", "later"]
    assert [r["params.curve"] for r in rows] == [[1, None], [None]]
    shown = runner.invoke(main, ["show", first["run_id"], "-t", target, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert strict_json(shown.output)["run"]["params.when"] == "2024-01-02T03:04:05"
    out = tmp_path / "runs.json"
    exported = runner.invoke(main, ["export", "-t", target, "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert strict_json(out.read_text(encoding="utf-8"))[0]["params.curve"] == [1, None]


def test_a_metric_too_large_for_a_float_is_infinite_whatever_its_type(tmp_path: Path) -> None:
    """``10**400`` and ``Decimal("1e400")`` are metrics of ``inf``; a ``Fraction`` as large is
    a number too and must not raise ``TypeError`` ("must be a number") at the call."""
    huge = {
        "as_int": 10**400,
        "as_decimal": decimal.Decimal("-1e400"),
        "as_fraction": fractions.Fraction(10**400, 3),
        "as_negative_fraction": fractions.Fraction(-(10**400), 3),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sheetlog.SheetlogWarning)
        record = sheetlog.log_run(
            metrics=huge,
            target=str(tmp_path / "runs.xlsx"),
            capture=False,
            journal_dir=tmp_path / ".sheetlog",
        )
    expected = [math.inf, -math.inf, math.inf, -math.inf]
    assert [record[f"metrics.{key}"] for key in huge] == expected
    row = sheetlog.load(tmp_path / "runs.xlsx").iloc[0]
    assert [row[f"metrics.{key}"] for key in huge] == expected


@pytest.mark.parametrize("name", ["model-\udcff", Path("sweep") / "a", 7])
def test_a_run_name_of_any_kind_is_logged_like_a_value(tmp_path: Path, name: Any) -> None:
    """A name made from an undecodable file name (a lone surrogate), a path or a number is
    converted like any value (docs/values.md), never an error before the run even starts."""
    record, caught = log_run(tmp_path, {"lr": 0.1}, name=name)
    assert caught == []
    assert record["name"] == to_cell(name)
    assert sheetlog.load(tmp_path / "runs.xlsx")["name"].tolist() == [to_cell(name)]


def test_a_model_file_with_an_undecodable_name_is_logged(tmp_path: Path) -> None:
    """``log_model`` of a file whose name is not UTF-8 (``os.fsdecode`` gives a lone surrogate,
    as ``os.listdir`` and ``glob`` do) records the path with a visible escape, its size and
    hash; the run was lost ("could not end run: UnicodeEncodeError")."""
    raw = os.fsencode(tmp_path) + b"/model-\xff.pt"
    with open(raw, "wb") as stream:
        stream.write(b"weights")
    path = os.fsdecode(raw)
    record, caught = log_run(tmp_path, {"lr": 0.1}, model_path=path)
    assert caught == []
    assert record["model_path"] == path.encode("utf-8", "backslashreplace").decode()
    row = sheetlog.load(tmp_path / "runs.xlsx").iloc[0]
    assert row["model_path"].endswith("model-\\udcff.pt")
    assert row["model_size"] == 7


def test_a_target_in_a_folder_with_an_undecodable_name_is_a_clear_error(tmp_path: Path) -> None:
    """A target path with a non-UTF-8 folder name (``os.fsdecode`` gives a lone surrogate)
    is refused with a ConfigurationError that says what to do, before the run starts; it
    raised UnicodeEncodeError from the journal."""
    folder = os.fsencode(tmp_path) + b"/results-\xff"
    os.mkdir(folder)
    target = os.fsdecode(folder + b"/runs.xlsx")
    with pytest.raises(sheetlog.ConfigurationError, match="not UTF-8.*rename it"):
        log_run(tmp_path, {"lr": 0.1}, target=target)
    journal = tmp_path / ".sheetlog"
    assert not journal.exists() or Journal(journal).in_progress() == []


def test_ls_and_show_never_print_characters_a_terminal_acts_on(tmp_path: Path) -> None:
    """A logged text is shown, never run by the terminal: an escape sequence (recolour, clear,
    retitle), BEL, a carriage return that overwrites the line, NUL, a bidi override that shows
    ``\\u202egnp.exe`` as ``exe.png`` come out as visible escapes in ``ls`` and ``show``."""
    hostile = {
        "colour": "a\x1b[31mred\x1b[0m",
        "bell": "ring\x07",
        "over": "good\rbad",
        "nul": "a\x00b",
        "bidi": "\u202egnp.exe",
    }
    hostile["key\u202e"] = "in a column name"
    record, _ = log_run(tmp_path, hostile, name="run\x1b]0;title\x07")
    target = str(tmp_path / "runs.xlsx")
    runner = CliRunner()
    listed = runner.invoke(main, ["ls", target], env={"COLUMNS": "300"}, color=True)
    shown = runner.invoke(main, ["show", record["run_id"], "-t", target], color=True)
    for result in (listed, shown):
        assert result.exit_code == 0, result.output
        assert not set(result.output) & set("\x1b\x07\r\x00\u202e"), repr(result.output)
        assert "a\\x1b[31mred\\x1b[0m" in result.output
        assert "\\u202egnp.exe" in result.output
