"""CSV files are exact (issue 10, item 6): the CSV target, ``sheetlog export`` and
``sheetlog ls --format csv`` write one convention (``sheetlog.csv_text``, docs/values.md), which
sheetlog reads back exactly and pandas, Python's csv module and LibreOffice read sensibly."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_support import invoke
from libreoffice import find_soffice

import sheetlog
from sheetlog import csv_text

TEXTS = {
    "bare_cr": "line one\rline two",
    "crlf": "a\r\nb",
    "lf": "a\nb",
    "quote": 'say "hi", then go',
    "formula": '=HYPERLINK("http://x","y")',
    "plus": "+cmd",
    "minus": "-2+3",
    "at": "@SUM(A1)",
    "tab_first": "\tx",
    "cr_first": "\rx",
    "fullwidth": "＝1+1",
    "apostrophe": "'quoted",
    "two_apostrophes": "''=x",
    "digits": "0001",
    "number_text": "3.5",
    "true_text": "TRUE",
    "time_text": "2024-01-02 03:04:05",
    "empty": "",
    "spaces": "  padded  ",
    "unicode": "größe µ 😀",
}
NUMBERS = {"three": 3, "half": 0.5, "tiny": 1e-05, "huge": 1.5e300, "whole": 2.0, "neg": -7}
SPECIAL = {"nan": math.nan, "inf": math.inf, "minus_inf": -math.inf, "yes": True, "no": False}


def log_runs(target: str, folder: Path) -> list[dict[str, Any]]:
    records = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", sheetlog.SheetlogWarning)
        for params in (
            {**TEXTS, **NUMBERS, **SPECIAL, "when": dt.datetime(2024, 5, 6, 7, 8, 9, 123456)},
            {"three": 4, "half": None, "layers": [64, 32]},
        ):
            records.append(
                sheetlog.log_run(
                    params, target=target, capture=False, journal_dir=folder / ".sheetlog"
                )  # fmt: skip
            )
    return records


def check_loaded(frame: pd.DataFrame, from_workbook: bool = False) -> None:
    """``from_workbook``: the values went through a workbook first, which keeps times to the
    millisecond and "" as an empty cell, and then through ``load()``, where NaN is missing."""
    first = frame.iloc[0]
    for key, text in TEXTS.items():
        expected = None if from_workbook and text == "" else text
        assert first[f"params.{key}"] == expected, key
    assert frame["params.three"].tolist() == [3, 4]
    assert str(frame["params.three"].dtype) == "Int64"
    for key in ("half", "tiny", "huge", "neg"):
        assert first[f"params.{key}"] == NUMBERS[key], key
    if from_workbook:  # export writes load()'s frame: a NaN there may be a missing value
        assert pd.isna(first["params.nan"])
    else:
        assert math.isnan(first["params.nan"])
    assert (first["params.inf"], first["params.minus_inf"]) == (math.inf, -math.inf)
    assert (first["params.yes"], first["params.no"]) == (True, False)
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123000 if from_workbook else 123456)
    assert first["params.when"] == pd.Timestamp(when)
    assert frame["params.layers"].tolist()[1] == [64, 32]


def test_the_csv_target_keeps_numbers_numbers_and_text_exact(tmp_path: Path) -> None:
    target = tmp_path / "runs.csv"
    log_runs(str(target), tmp_path)
    check_loaded(sheetlog.load(str(target)))
    raw = list(csv.DictReader(target.open(encoding="utf-8-sig", newline="")))
    assert len(raw) == 2  # the bare \r is inside a quoted field, not a row of its own
    assert raw[0]["params.three"] == "3" and raw[1]["params.three"] == "4"
    assert (raw[0]["params.half"], raw[0]["params.whole"]) == ("0.5", "2.0")
    assert (raw[0]["params.nan"], raw[0]["params.inf"]) == ("NaN", "inf")
    assert raw[0]["params.yes"] == "TRUE"
    assert raw[0]["params.when"] == "2024-05-06 07:08:09.123456"
    assert raw[0]["params.digits"] == "'0001" and raw[0]["params.formula"].startswith("'=")
    assert raw[0]["params.empty"] == "'" and raw[1]["params.empty"] == ""
    assert raw[0]["params.bare_cr"] == TEXTS["bare_cr"]
    assert b'"line one\rline two"' in target.read_bytes()
    assert target.read_bytes().endswith(b'"[64, 32]"\r\n')  # RFC 4180 line ends


def test_pandas_reads_the_csv_target_with_numbers_as_numbers(tmp_path: Path) -> None:
    target = tmp_path / "runs.csv"
    log_runs(str(target), tmp_path)
    frame = pd.read_csv(target, encoding="utf-8-sig")
    assert len(frame) == 2
    assert frame["params.three"].tolist() == [3, 4]
    assert frame["params.half"].tolist()[0] == 0.5
    assert math.isnan(frame["params.nan"][0]) and frame["params.inf"][0] == math.inf
    assert frame["params.bare_cr"][0] == "line one\rline two"


def test_export_and_ls_write_the_csv_target_convention(tmp_path: Path) -> None:
    workbook = str(tmp_path / "runs.xlsx")
    log_runs(workbook, tmp_path)
    out = tmp_path / "export.csv"
    result = invoke("export", workbook, "-o", str(out))
    assert result.exit_code == 0, result.output
    listed = invoke("ls", workbook, "--format", "csv")
    assert listed.exit_code == 0, listed.output
    for text in (out.read_text(encoding="utf-8"), listed.stdout):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == 3, "a bare \\r must not split a row"
        assert len(pd.read_csv(io.StringIO(text))) == 2
    check_loaded(sheetlog.load(str(out)), from_workbook=True)
    raw = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert raw[0]["params.three"] == "3" and raw[0]["params.half"] == "0.5"
    assert raw[0]["params.formula"] == "'" + TEXTS["formula"]


@pytest.mark.parametrize(
    "text", [*TEXTS.values(), "'", "''", "-", "1e5", "NaN", "inf", "-inf", ".5", "1900-01-01 00:00"]
)
def test_a_text_field_reads_back_as_that_text(text: str) -> None:
    field = csv_text.csv_field(text)
    assert csv_text.csv_value(field) == text
    assert csv_text.csv_unsafe(csv_text.csv_safe(text)) == text
    assert not field.startswith(("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"))


@pytest.mark.parametrize(
    "value", [0, -5, 2**53, 0.1, -1e-300, 1.7976931348623157e308, True, False, None,
              dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)],
)  # fmt: skip
def test_a_value_field_reads_back_as_that_value(value: Any) -> None:
    back = csv_text.csv_value(csv_text.csv_field(value))
    assert back == value and type(back) is type(value)


@pytest.mark.libreoffice
def test_libreoffice_opens_the_csv_with_numbers_and_no_formulas(tmp_path: Path) -> None:
    target = tmp_path / "runs.csv"
    log_runs(str(target), tmp_path)
    subprocess.run(
        [find_soffice(), f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
         "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo-out"),
         str(target)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    import openpyxl

    sheet = openpyxl.load_workbook(tmp_path / "lo-out" / "runs.xlsx").active
    rows = [[cell for cell in row] for row in sheet.iter_rows()]
    assert len(rows) == 3
    header = [cell.value for cell in rows[0]]
    first = dict(zip(header, rows[1], strict=True))
    assert first["params.three"].value == 3 and first["params.three"].data_type == "n"
    assert first["params.half"].value == 0.5
    for cells in rows:
        assert all(cell.data_type != "f" for cell in cells)  # no text became a formula
    assert first["params.formula"].value == "'" + TEXTS["formula"]


def test_header_names_are_read_as_the_text_written(tmp_path: Path) -> None:
    target = tmp_path / "runs.csv"
    target.write_text("run_id,1.0,'=x,2024,TRUE\r\nr1,1,2,3,4\r\n", encoding="utf-8")
    assert list(sheetlog.load(str(target)).columns) == ["run_id", "1.0", "=x", "2024", "TRUE"]
    sheetlog.log_run({"-y": 5}, target=str(target), capture=False,
                     journal_dir=tmp_path / ".sheetlog")  # fmt: skip
    header = target.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header[:5] == ["run_id", "'1.0", "'=x", "'2024", "'TRUE"]  # texts, as written
    assert "params.-y" in header


def test_the_texts_nan_and_inf_read_back_as_texts_from_a_csv_file(tmp_path: Path) -> None:
    """A CSV file tells the text ``'NaN`` from the float ``NaN`` (a workbook cannot: both are
    the text ``NaN`` there), so ``load()``, ``ls`` and ``--where`` give the texts back as
    texts, and the floats as floats, also in a column holding nothing else."""
    target = str(tmp_path / "runs.csv")
    texts = {"mode": "inf", "missing": "NaN", "low": "-inf"}
    numbers = {"mode_n": math.inf, "missing_n": math.nan, "low_n": -math.inf}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sheetlog.log_run({**texts, **numbers}, target=target, capture=False,
                         journal_dir=tmp_path / ".sheetlog")  # fmt: skip
    row = sheetlog.load(target).iloc[0]
    assert [row[f"params.{key}"] for key in texts] == ["inf", "NaN", "-inf"]
    assert row["params.mode_n"] == math.inf and row["params.low_n"] == -math.inf
    assert math.isnan(row["params.missing_n"])
    listed = invoke("ls", target, "--where", "params.mode=inf", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert [r["params.mode"] for r in json.loads(listed.output)] == ["inf"]


def test_nan_and_inf_synced_from_a_workbook_to_a_csv_file_stay_numbers(tmp_path: Path) -> None:
    """A workbook stores NaN and ±inf as the texts ``NaN``, ``inf``, ``-inf``; ``sync`` to a CSV
    file must write the floats (``NaN``), not those texts (``'NaN``), so that ``load()`` gives
    the same values from both files, and a second sync finds nothing to do (NaN equals NaN)."""
    workbook, copy = str(tmp_path / "runs.xlsx"), str(tmp_path / "copy.csv")
    params = [{"dropout": math.nan, "clip": math.inf}, {"dropout": 0.5, "clip": -math.inf}]
    for values in params:
        sheetlog.log_run(values, target=workbook, capture=False, journal_dir=tmp_path / ".sl")
    assert invoke("sync", workbook, copy).exit_code == 0
    by_pandas = pd.read_csv(copy)  # the file itself holds numbers
    assert by_pandas["params.dropout"].dtype == "float64"
    assert by_pandas["params.clip"].tolist() == [math.inf, -math.inf]
    for target in (workbook, copy):
        frame = sheetlog.load(target)
        assert frame["params.dropout"].dtype == "float64"
        assert math.isnan(frame["params.dropout"][0]) and frame["params.dropout"][1] == 0.5
        assert frame["params.clip"].tolist() == [math.inf, -math.inf]
    again = invoke("sync", workbook, copy, "--two-way", "--format", "json")
    assert again.exit_code == 0, again.output
    answer = json.loads(again.output)
    assert answer["conflicts"] == []
    assert answer["to_dst"]["filled_cells"] == 0 and answer["to_src"]["filled_cells"] == 0
