"""The Excel writer on small workbooks built here (input files made with openpyxl / XlsxWriter).

What is checked is what a user sees when opening the result: values under the right headers,
their own columns and formatting left alone, macros kept, a fresh log that looks finished.
Results are read back with openpyxl and python-calamine, never trusted from our own code.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from openpyxl.styles import PatternFill
from openpyxl.utils.cell import range_boundaries
from python_calamine import CalamineWorkbook

import sheetlog

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
VBA_REL_TYPE = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
MACRO_WORKBOOK = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
PLAIN_WORKBOOK = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
VBA_CONTENT = "application/vnd.ms-office.vbaProject"


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``log(target, params, metrics, **kw)``: one run, delivered now; fails on any warning."""
    monkeypatch.chdir(tmp_path)

    def log_one(target: Path | str, params: dict, metrics: dict | None = None, **kw: Any) -> dict:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = sheetlog.log_run(
                params,
                metrics,
                target=str(target),
                capture=False,
                journal_dir=tmp_path / ".sheetlog",
                **kw,
            )
        problems = [
            str(w.message) for w in caught if issubclass(w.category, sheetlog.SheetlogWarning)
        ]
        assert not problems, problems
        return record

    return log_one


def read_sheet(path: Path, sheet: str | None = None, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path, **kw)
    return book[sheet] if sheet else book.worksheets[0]


def header_of(worksheet: Any) -> list[Any]:
    return [cell.value for cell in worksheet[1]]


def records_by_header(worksheet: Any) -> list[dict[str, Any]]:
    """Rows below the header as {header: value}; the header names must be unique."""
    header = header_of(worksheet)
    names = [name for name in header if name is not None]
    assert len(names) == len(set(names)), f"duplicate header cells: {header}"
    return [
        {name: row[i] for i, name in enumerate(header) if name is not None}
        for row in worksheet.iter_rows(min_row=2, values_only=True)
    ]


def calamine_records(path: Path, sheet: str) -> list[dict[str, Any]]:
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    header = grid[0]
    return [{name: row[i] for i, name in enumerate(header) if name != ""} for row in grid[1:]]


def sheet_part(path: Path, sheet: str) -> bytes:
    with zipfile.ZipFile(path) as package:
        workbook = package.read("xl/workbook.xml").decode()
        rels = package.read("xl/_rels/workbook.xml.rels").decode()
        element = re.search(r'<(?:\w+:)?sheet\b[^>]*\bname="' + re.escape(sheet) + '"', workbook)
        rel_id = re.search(r'\b\w+:id="([^"]+)"', workbook[element.start() :]).group(1)
        relationship = re.search(r'<Relationship\b[^>]*\bId="' + rel_id + '"[^>]*>', rels)
        target = re.search(r'\bTarget="([^"]+)"', relationship.group(0)).group(1)
        return package.read("xl/" + target.lstrip("/").removeprefix("xl/"))


def assert_rows_well_formed(xml: bytes) -> None:
    """Row numbers strictly increase, each cell sits in its own row, columns strictly increase."""
    root = ET.fromstring(xml)
    numbers = []
    for row in root.iter(f"{{{MAIN_NS}}}row"):
        number = int(row.attrib["r"])
        numbers.append(number)
        columns = []
        for cell in row.iter(f"{{{MAIN_NS}}}c"):
            column, cell_row = range_boundaries(cell.attrib["r"])[:2]
            assert cell_row == number, f"cell {cell.attrib['r']} inside row {number}"
            columns.append(column)
        assert columns == sorted(set(columns)), f"row {number}: cells out of order {columns}"
    assert numbers == sorted(set(numbers)), f"rows duplicated or out of order: {numbers}"


# --- schema growth and columns found by name ---------------------------------------------------


def test_new_parameter_adds_a_column_at_the_end(tmp_path: Path, log) -> None:
    book = tmp_path / "runs.xlsx"
    first = log(book, {"lr": 0.1}, {"acc": 0.8})
    before = header_of(read_sheet(book))
    second = log(book, {"lr": 0.2, "batch": 64}, {"acc": 0.9})
    sheet = read_sheet(book)
    after = header_of(sheet)
    assert after == [*before, "params.batch"]
    assert range_boundaries(sheet.auto_filter.ref) == (1, 1, len(after), 3)
    rows = records_by_header(sheet)
    assert [r["run_id"] for r in rows] == [first["run_id"], second["run_id"]]
    assert rows[0]["params.batch"] is None
    assert rows[1]["params.batch"] == 64
    assert [r["params.lr"] for r in rows] == [0.1, 0.2]
    assert [r["metrics.acc"] for r in rows] == [0.8, 0.9]


def test_user_inserted_column_keeps_working(tmp_path: Path, log) -> None:
    book = tmp_path / "runs.xlsx"
    first = log(book, {"lr": 0.1}, {"acc": 0.8})
    workbook = openpyxl.load_workbook(book)  # the user's edit, made with openpyxl
    sheet = workbook.active
    sheet.insert_cols(2)
    sheet["B1"] = "verdict"
    sheet["B2"] = "promising"
    workbook.save(book)
    header = header_of(read_sheet(book))
    second = log(book, {"lr": 0.2}, {"acc": 0.9})
    sheet = read_sheet(book)
    assert header_of(sheet) == header
    rows = records_by_header(sheet)
    assert [r["run_id"] for r in rows] == [first["run_id"], second["run_id"]]
    assert [r["verdict"] for r in rows] == ["promising", None]
    assert [r["params.lr"] for r in rows] == [0.1, 0.2]
    assert [r["metrics.acc"] for r in rows] == [0.8, 0.9]
    assert [r["status"] for r in rows] == ["FINISHED", "FINISHED"]


def test_reordered_hand_made_header_is_matched_by_name(tmp_path: Path, log) -> None:
    book = tmp_path / "mine.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Runs"
    sheet.append(["metrics.acc", "my notes", "run_id", "params.lr"])
    sheet.append([0.5, "by hand", "manual-1", 0.01])
    workbook.save(book)
    record = log(book, {"lr": 0.3}, {"acc": 0.95})
    sheet = read_sheet(book)
    header = header_of(sheet)
    assert header[:4] == ["metrics.acc", "my notes", "run_id", "params.lr"]
    rows = records_by_header(sheet)
    assert rows[0]["run_id"] == "manual-1" and rows[0]["my notes"] == "by hand"
    assert rows[0]["metrics.acc"] == 0.5 and rows[0]["params.lr"] == 0.01
    assert rows[1]["run_id"] == record["run_id"]
    assert (rows[1]["metrics.acc"], rows[1]["params.lr"], rows[1]["my notes"]) == (0.95, 0.3, None)
    assert rows[1]["status"] == "FINISHED"
    assert calamine_records(book, "Runs")[1]["params.lr"] == 0.3


def test_rows_go_below_the_last_value_into_formatted_empty_rows(tmp_path: Path, log) -> None:
    book = tmp_path / "formatted.xlsx"
    fill = PatternFill("solid", fgColor="FFFF00")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Runs"
    sheet.append(["run_id", "params.lr"])
    sheet.append(["manual-1", 0.01])
    sheet.append(["manual-2", 0.02])
    for row in range(4, 9):  # formatted, empty rows the user prepared
        sheet.row_dimensions[row].height = 20
        for column in (1, 2):
            sheet.cell(row, column).fill = fill
    workbook.save(book)
    first = log(book, {"lr": 0.1})
    second = log(book, {"lr": 0.2})
    assert_rows_well_formed(sheet_part(book, "Runs"))
    sheet = read_sheet(book)
    assert [sheet.cell(row, 1).value for row in range(1, 9)] == [
        "run_id",
        "manual-1",
        "manual-2",
        first["run_id"],
        second["run_id"],
        None,
        None,
        None,
    ]
    assert [sheet.cell(row, 2).value for row in (4, 5)] == [0.1, 0.2]
    for row in range(4, 9):  # the user's formatting is still on every prepared row
        assert sheet.cell(row, 1).fill.fgColor.rgb == "00FFFF00"
        assert sheet.row_dimensions[row].height == 20
    assert sheet.max_row == 8


# --- namespace prefixes and macros ---------------------------------------------------------------


def _xlsxwriter_book(path: Path, sheet: str = "Data") -> None:
    workbook = xlsxwriter.Workbook(str(path))
    worksheet = workbook.add_worksheet(sheet)
    worksheet.write_row(0, 0, ["run_id", "params.lr", "user note"])
    worksheet.write_row(1, 0, ["old-run", 0.5, "keep me"])
    workbook.close()


def _rewrite(path: Path, destination: Path, replace: dict[str, bytes]) -> None:
    """Copy a zip package, replacing or adding some parts."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(destination, "w") as out:
        for info in source.infolist():
            data = replace.pop(info.filename, None)
            out.writestr(info, source.read(info.filename) if data is None else data)
        for name, data in replace.items():
            out.writestr(name, data, zipfile.ZIP_DEFLATED)


def test_sheet_written_with_namespace_prefix(tmp_path: Path, log) -> None:
    plain, book = tmp_path / "plain.xlsx", tmp_path / "prefixed.xlsx"
    _xlsxwriter_book(plain)
    with zipfile.ZipFile(plain) as package:
        root = ET.fromstring(package.read("xl/worksheets/sheet1.xml"))
    ET.register_namespace("x", MAIN_NS)  # serialise as <x:worksheet xmlns:x="...">
    prefixed = ET.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert b"<x:worksheet" in prefixed and b"<x:row" in prefixed
    _rewrite(plain, book, {"xl/worksheets/sheet1.xml": prefixed})

    record = log(f"{book}#Data", {"lr": 0.1, "new": "=1+1"}, {"acc": 0.9})
    xml = sheet_part(book, "Data")
    root = ET.fromstring(xml)
    outside = {e.tag for e in root.iter() if not e.tag.startswith(f"{{{MAIN_NS}}}")}
    assert not outside, f"elements written outside the sheet's namespace: {outside}"
    assert_rows_well_formed(xml)
    rows = records_by_header(read_sheet(book, "Data"))
    old = {"run_id": "old-run", "params.lr": 0.5, "user note": "keep me"}
    assert {name: value for name, value in rows[0].items() if value is not None} == old
    expected = {"run_id": record["run_id"], "params.lr": 0.1, "params.new": "=1+1"}
    expected |= {"metrics.acc": 0.9, "status": "FINISHED"}
    assert {name: rows[1][name] for name in expected} == expected
    calamine_row = calamine_records(book, "Data")[1]
    assert {name: calamine_row[name] for name in expected} == expected


def _xlsm_book(tmp_path: Path) -> tuple[Path, bytes]:
    plain, book = tmp_path / "plain.xlsx", tmp_path / "macros.xlsm"
    _xlsxwriter_book(plain)
    macro = bytes(range(256)) * 40 + b'Attribute VB_Name = "Module1"'
    with zipfile.ZipFile(plain) as package:
        types = package.read("[Content_Types].xml")
        rels = package.read("xl/_rels/workbook.xml.rels")
    assert PLAIN_WORKBOOK.encode() in types
    types = types.replace(PLAIN_WORKBOOK.encode(), MACRO_WORKBOOK.encode()).replace(
        b"</Types>",
        b'<Override PartName="/xl/vbaProject.bin" ContentType="' + VBA_CONTENT.encode() + b'"/>'
        b"</Types>",
    )
    rels = rels.replace(
        b"</Relationships>",
        b'<Relationship Id="rId99" Type="' + VBA_REL_TYPE.encode() + b'" Target="vbaProject.bin"/>'
        b"</Relationships>",
    )
    _rewrite(
        plain,
        book,
        {
            "[Content_Types].xml": types,
            "xl/_rels/workbook.xml.rels": rels,
            "xl/vbaProject.bin": macro,
        },
    )
    return book, macro


@pytest.mark.parametrize("sheet", [None, "Runs"], ids=["existing-sheet", "new-sheet"])
def test_xlsm_keeps_its_macros(tmp_path: Path, log, sheet: str | None) -> None:
    book, macro = _xlsm_book(tmp_path)
    with zipfile.ZipFile(book) as package:
        vba_before = package.getinfo("xl/vbaProject.bin")
    target = f"{book}#{sheet}" if sheet else book
    record = log(target, {"lr": 0.1}, {"acc": 0.9})
    with zipfile.ZipFile(book) as package:
        assert package.read("xl/vbaProject.bin") == macro
        vba_after = package.getinfo("xl/vbaProject.bin")
        types = package.read("[Content_Types].xml")
        rels = package.read("xl/_rels/workbook.xml.rels")
    assert (vba_after.CRC, vba_after.compress_size) == (vba_before.CRC, vba_before.compress_size)
    assert MACRO_WORKBOOK.encode() in types and PLAIN_WORKBOOK.encode() not in types
    assert b'PartName="/xl/vbaProject.bin" ContentType="' + VBA_CONTENT.encode() in types
    assert VBA_REL_TYPE.encode() in rels
    sheet_name = sheet or "Data"
    worksheet = read_sheet(book, sheet_name)
    rows = records_by_header(worksheet)
    assert rows[-1]["run_id"] == record["run_id"] and rows[-1]["params.lr"] == 0.1
    assert calamine_records(book, sheet_name)[-1]["metrics.acc"] == 0.9


# --- sheets: adding one, refusing bad names ------------------------------------------------------


def test_named_sheet_is_added_to_an_existing_workbook(tmp_path: Path, log) -> None:
    book = tmp_path / "book.xlsx"
    _xlsxwriter_book(book)
    first = log(f"{book}#My Runs", {"lr": 0.1}, {"acc": 0.8})
    second = log(f"{book}#My Runs", {"lr": 0.2}, {"acc": 0.9})
    workbook = read_sheet(book).parent
    assert workbook.sheetnames == ["Data", "My Runs"]
    assert [[c.value for c in row] for row in workbook["Data"].iter_rows()] == [
        ["run_id", "params.lr", "user note"],
        ["old-run", 0.5, "keep me"],
    ]
    rows = records_by_header(workbook["My Runs"])
    assert header_of(workbook["My Runs"])[0] == "run_id"
    assert [r["run_id"] for r in rows] == [first["run_id"], second["run_id"]]
    assert [r["params.lr"] for r in rows] == [0.1, 0.2]
    assert [r["metrics.acc"] for r in calamine_records(book, "My Runs")] == [0.8, 0.9]


@pytest.mark.parametrize(
    "name", ["Bad/Name", "a:b", "what?", "[x]", "x" * 32, "'quoted'", "History", "  "]
)
def test_invalid_sheet_name_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    book = tmp_path / "book.xlsx"
    with pytest.raises(ValueError, match="sheet name"):
        sheetlog.start_run(
            {"lr": 0.1}, target=f"{book}#{name}", capture=False, journal_dir=tmp_path / "j"
        )
    with pytest.raises(ValueError, match="sheet name"):
        sheetlog.log_run({"lr": 0.1}, target=f"{book}#{name}", capture=False)
    assert not book.exists()


# --- a new workbook from the template ----------------------------------------------------------


def test_new_workbook_looks_finished(tmp_path: Path, log) -> None:
    book = tmp_path / "runs.xlsx"
    when = dt.datetime(2024, 5, 17, 13, 45, 10)
    records = [
        log(book, {"lr": 0.1 * i, "data_date": when}, {"acc": 0.5 + i / 10}, name=f"trial-{i}")
        for i in range(3)
    ]
    sheet = read_sheet(book)
    assert sheet.title == "Runs"
    header = header_of(sheet)
    assert header[0] == "run_id"
    assert sheet.freeze_panes == "A2"
    assert range_boundaries(sheet.auto_filter.ref) == (1, 1, len(header), 4)

    def look(cell: Any) -> tuple:
        return cell.font.b, cell.font.color.rgb, cell.fill.fill_type, cell.fill.fgColor.rgb

    assert look(sheet["A1"])[:3] == (True, "00FFFFFF", "solid")
    for cell in sheet[1]:  # every header cell, also the ones sheetlog added, looks the same
        assert look(cell) == look(sheet["A1"]), cell.coordinate
    rows = records_by_header(sheet)
    assert [r["run_id"] for r in rows] == [r["run_id"] for r in records]
    assert [r["name"] for r in rows] == ["trial-0", "trial-1", "trial-2"]
    for name in ("start_time", "end_time", "params.data_date"):
        column = header.index(name) + 1
        for row in range(2, 5):
            cell = sheet.cell(row, column)
            assert cell.is_date, f"{name} in row {row}: format {cell.number_format!r}"
    assert rows[0]["params.data_date"] == when
    assert all(isinstance(r["start_time"], dt.datetime) for r in rows)
    for cell in sheet[2]:
        if cell.value is not None and not cell.is_date:
            assert not cell.font.b, f"data cell {cell.coordinate} is bold like the header"


# --- new rows and columns are visible; an Excel table over the runs stays valid ----------------


def _sheet_with_hidden_rows_and_columns(path: Path) -> None:
    """``run_id | params.lr`` and one run, then empty rows a user hid in every way Excel has
    (hidden, 2 points high, a collapsed outline group, rows a filter hid), and every column
    right of the data hidden or 0 wide."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Runs"
    sheet.append(["run_id", "params.lr"])
    sheet.append(["manual-1", 0.01])
    for row in (3, 4):
        sheet.row_dimensions[row].hidden = True
    for row in (5, 6):
        sheet.row_dimensions[row].height = 2
    sheet.row_dimensions.group(7, 8, outline_level=1, hidden=True)
    sheet.auto_filter.ref = "A1:B10"
    sheet.auto_filter.add_filter_column(1, ["0.01"])
    for row in (9, 10):
        sheet.row_dimensions[row].hidden = True
    sheet.row_dimensions[30].hidden = True  # below where the runs go: stays hidden
    sheet.column_dimensions.group("C", "E", hidden=True)
    sheet.column_dimensions["F"].width = 0
    sheet.column_dimensions.group("G", "Z", hidden=True)
    workbook.save(path)


def _shown(dimension: Any, default: float) -> bool:
    return (
        not dimension.hidden
        and not dimension.outlineLevel
        and (dimension.height is None or dimension.height >= default)
    )


def test_new_rows_and_columns_never_land_where_a_user_hid_them(tmp_path: Path, log) -> None:
    book = tmp_path / "hidden.xlsx"
    _sheet_with_hidden_rows_and_columns(book)
    runs = [log(book, {"lr": 0.1 * i}, {"acc": 0.5}, notes="visible") for i in range(9)]

    assert_rows_well_formed(sheet_part(book, "Runs"))
    sheet = read_sheet(book)
    assert [sheet.cell(row, 1).value for row in range(3, 12)] == [r["run_id"] for r in runs]
    for row in range(3, 12):
        assert _shown(sheet.row_dimensions[row], 15), row
    assert sheet.row_dimensions[30].hidden  # the user's own hidden rows stay hidden
    header = header_of(sheet)
    new_columns = [i + 1 for i, name in enumerate(header) if name not in ("run_id", "params.lr")]
    assert len(new_columns) == 6
    for column in new_columns:
        letter = openpyxl.utils.get_column_letter(column)
        width = sheet.column_dimensions[letter].width
        assert not sheet.column_dimensions[letter].hidden and width and width >= 1, letter
    unused = sheet.column_dimensions["I"]  # what is left of G:Z, as the user had it
    assert (unused.min, unused.max, unused.hidden) == (9, 26, True)


@pytest.mark.libreoffice
@pytest.mark.slow
def test_new_rows_and_columns_are_printed_by_libreoffice(tmp_path: Path, log) -> None:
    """LibreOffice leaves hidden rows and columns out of a PDF: every value of the runs is in
    it, on rows and in columns the user had hidden."""
    from libreoffice import find_soffice

    book = tmp_path / "hidden.xlsx"
    _sheet_with_hidden_rows_and_columns(book)
    runs = [log(book, {"lr": 0.1 * i}, {"acc": 0.5}, notes=f"note-{i}") for i in range(9)]
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    subprocess.run(
        [find_soffice(), profile, "--headless", "--convert-to", "pdf", "--outdir",
         str(tmp_path / "pdf"), str(book)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "pdf" / "hidden.pdf"), "-"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    for i, run in enumerate(runs):
        assert f"note-{i}" in text and run["run_id"][:8] in text, i
    assert "FINISHED" in text and "notes" in text


def _book_with_a_table(path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Runs"
    sheet.append(["run_id", "params.lr", "Notes"])
    sheet.append(["manual-1", 0.01, "by hand"])
    table = openpyxl.worksheet.table.Table(displayName="Runs", ref="A1:C2")
    sheet.add_table(table)
    workbook.save(path)


def _table_columns(path: Path) -> tuple[list[str], str, list[Any]]:
    sheet = read_sheet(path)
    table = sheet.tables["Runs"]
    return [column.name for column in table.tableColumns], table.ref, header_of(sheet)


def test_an_excel_table_never_gets_two_names_equal_up_to_case(tmp_path: Path, log) -> None:
    """Excel repairs (drops) a table whose column names repeat ignoring case or run over 255
    characters: the table stops before such a column; the values are all in the sheet."""
    book = tmp_path / "table.xlsx"
    _book_with_a_table(book)
    long_key = "k" * 300
    first = log(book, {"LR": 1.0, "lr": 2.0, "batch": 32}, notes="one")
    second = log(book, {"lr": 3.0, long_key: 1, "depth": 4}, {"Acc": 0.5, "acc": 0.6})

    names, ref, header = _table_columns(book)
    folded = [name.casefold() for name in names]
    assert len(folded) == len(set(folded)), names
    assert all(0 < len(name) <= 255 for name in names)
    left, top, right, bottom = range_boundaries(ref)
    assert (left, top, bottom) == (1, 1, 4)
    assert names == header[left - 1 : right]  # table column names are the header cells
    records = calamine_records(book, "Runs")
    assert [r["run_id"] for r in records] == ["manual-1", first["run_id"], second["run_id"]]
    assert records[1]["params.LR"] == 1.0 and records[1]["params.lr"] == 2.0
    assert records[2][f"params.{long_key}"] == 1 and records[2]["metrics.Acc"] == 0.5
    assert records[1]["Notes"] == "one"


def test_new_rows_are_shown_in_a_sheet_whose_rows_are_hidden_by_default(
    tmp_path: Path, log
) -> None:
    """Excel stores "hide every row below" as ``<sheetFormatPr zeroHeight="1">``: rows are
    hidden unless they say otherwise, so a new row carries its height."""
    book = tmp_path / "zero.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Runs"
    sheet.append(["run_id", "params.lr"])
    sheet.append(["manual-1", 0.01])
    for row in (1, 2):
        sheet.row_dimensions[row].height = 15
    sheet.row_dimensions[3].hidden = True
    sheet.sheet_format.zeroHeight = True
    workbook.save(book)
    runs = [log(book, {"lr": 0.1 * i}) for i in range(3)]

    sheet = read_sheet(book)
    assert [sheet.cell(row, 1).value for row in (3, 4, 5)] == [r["run_id"] for r in runs]
    for row in (3, 4, 5):
        dimension = sheet.row_dimensions[row]
        assert not dimension.hidden and dimension.customHeight and dimension.height == 15, row
