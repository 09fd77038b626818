"""Appending runs to real workbooks made by Excel, LibreOffice and Google Sheets.

For every workbook in ``tests/data/real-workbooks/`` (copied into the repository; its README
gives each file's source and license) two copies get three runs each: one into a new sheet
(``#Runs``) and one into an existing sheet that has a header row. Then:

* every zip part sheetlog has no reason to touch is byte-identical, compressed bytes included;
  adding a sheet changes ``workbook.xml``, its rels and ``[Content_Types].xml`` by one element each;
  ``styles.xml`` is only extended;
* openpyxl, python-calamine and LibreOffice headless (real ``soffice``, one call converting every
  result to CSV) each find the new values under their headers, formula-looking text as text, and
  the user's existing cells unchanged.
"""

from __future__ import annotations

import csv
import os
import posixpath
import re
import shutil
import subprocess
import uuid
import warnings
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from libreoffice import find_soffice
from openpyxl.utils.cell import range_boundaries
from python_calamine import CalamineWorkbook

import sheetlog

REAL_DIR = Path(__file__).resolve().parent / "data" / "real-workbooks"
WORKBOOKS = sorted(p.name for p in REAL_DIR.glob("*.xlsx"))
CASES = ("new", "existing")
NEW_SHEET = "Runs"
TEXTS = ["=1+1", "+cmd", "@SUM(A1)"]
NEGATIVE_LOOKING = "-2+3"
#: Workbooks whose chosen existing sheet holds an Excel table that the runs must join.
TABLES_HOLDING_RUNS = {
    "calamine__temperature-table.xlsx": "Temperature",
    "poi__ExcelPivotTableSample.xlsx": "Tabelle1",
    "phpspreadsheet__TableFormat.xlsx": "Table_1",
}
SHEET_ADDING_PARTS = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
STYLES = "xl/styles.xml"
STYLE_LISTS = {
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
}
WORKSHEET_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def test_real_workbooks_are_present() -> None:
    assert len(WORKBOOKS) == 12, f"tests/data/real-workbooks/ should hold 12 workbooks: {WORKBOOKS}"


# --- preparing the results (once per module, so LibreOffice converts them in one call) --------


@dataclass
class Outcome:
    """One copy of a real workbook with three runs appended, and what to compare it against."""

    workbook: str
    case: str
    before: Path  # the state the 3 runs were appended to
    after: Path
    sheet: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None

    def check(self) -> Outcome:
        if self.error is not None:
            raise self.error
        return self


def _expected_params(index: int) -> dict[str, Any]:
    return {"sl_lr": 0.1 * (index + 1), "sl_text": TEXTS[index], "sl_neg": NEGATIVE_LOOKING}


def _log(path: Path, sheet: str, index: int, journal: Path) -> dict[str, Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = sheetlog.log_run(
            _expected_params(index),
            {"sl_acc": 0.5 + index / 10},
            target=f"{path}#{sheet}",
            capture=False,
            journal_dir=journal,
        )
    problems = [str(w.message) for w in caught if issubclass(w.category, sheetlog.SheetlogWarning)]
    assert not problems, problems
    return record


def _sheet_with_header(path: Path) -> str | None:
    """The first worksheet whose row 1 holds a value (openpyxl reads the original to choose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        if any(cell.value is not None for cell in sheet[1]):
            return sheet.title
    return None


def _prepare(source: Path, case: str, folder: Path) -> Outcome:
    stem = f"{source.stem}-{case}"
    after = folder / f"{stem}.xlsx"
    before = folder / "before" / f"{stem}.xlsx"
    before.parent.mkdir(exist_ok=True)
    outcome = Outcome(source.name, case, before, after)
    journal = folder / "journals" / stem
    try:
        shutil.copyfile(source, after)
        sheet = _sheet_with_header(after) if case == "existing" else None
        if sheet is None:
            sheet = NEW_SHEET
            if case == "existing":  # no header anywhere: the first run makes the sheet
                _log(after, sheet, 0, journal)
        shutil.copyfile(after, before)
        outcome.sheet = sheet
        outcome.runs = [_log(after, sheet, index, journal) for index in range(3)]
    except Exception as error:  # reported by every test of this workbook
        outcome.error = error
    return outcome


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    assert REAL_DIR is not None
    folder = tmp_path_factory.mktemp("real-workbooks")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return {
            (name, case): _prepare(REAL_DIR / name, case, folder)
            for name in WORKBOOKS
            for case in CASES
        }


# --- zip parts -------------------------------------------------------------------------------


def _raw_members(path: Path) -> dict[str, tuple[zipfile.ZipInfo, bytes, bytes]]:
    """name -> (info, compressed bytes as stored, decompressed content)."""
    members = {}
    with zipfile.ZipFile(path) as package, open(path, "rb") as handle:
        for info in package.infolist():
            handle.seek(info.header_offset)
            header = handle.read(30)
            name_length = int.from_bytes(header[26:28], "little")
            extra_length = int.from_bytes(header[28:30], "little")
            handle.seek(info.header_offset + 30 + name_length + extra_length)
            stored = handle.read(info.compress_size)
            members[info.filename] = (info, stored, package.read(info.filename))
    return members


def _assert_untouched(before: dict, after: dict, names: set[str]) -> None:
    for name in sorted(names):
        old_info, old_stored, old_data = before[name]
        new_info, new_stored, new_data = after[name]
        assert new_data == old_data, f"{name} changed"
        assert new_stored == old_stored, f"{name} was recompressed"
        assert (new_info.CRC, new_info.compress_type, new_info.file_size) == (
            old_info.CRC,
            old_info.compress_type,
            old_info.file_size,
        ), name


def _children(element: ET.Element) -> list[bytes]:
    return [ET.tostring(child) for child in element]


def _assert_styles_extended(before: bytes, after: bytes) -> None:
    """Every existing entry of every style list is still there, in order, at its index."""
    old_root, new_root = ET.fromstring(before), ET.fromstring(after)
    assert new_root.attrib == old_root.attrib
    local = {child.tag.split("}")[-1]: child for child in new_root}
    old_tags = [child.tag.split("}")[-1] for child in old_root]
    new_tags = [tag for tag in local if tag in old_tags]
    assert new_tags == old_tags, "the style lists were reordered or removed"
    assert set(local) - set(old_tags) <= STYLE_LISTS
    for old in old_root:
        tag = old.tag.split("}")[-1]
        new = local[tag]
        if tag in STYLE_LISTS:
            old_entries, new_entries = _children(old), _children(new)
            assert new_entries[: len(old_entries)] == old_entries, f"<{tag}> entries changed"
            assert {k: v for k, v in new.attrib.items() if k != "count"} == {
                k: v for k, v in old.attrib.items() if k != "count"
            }
        else:
            assert ET.tostring(new) == ET.tostring(old), f"<{tag}> changed"
    number_formats = [
        element.attrib["numFmtId"] for element in new_root.iter() if element.tag.endswith("}numFmt")
    ]
    assert len(set(number_formats)) == len(number_formats), "a number format id is used twice"
    for tag, element in local.items():
        if tag in STYLE_LISTS and "count" in element.attrib:
            assert int(element.attrib["count"]) == len(element), f"<{tag}> count is wrong"


def _without_one(xml: bytes, pattern: bytes) -> tuple[bytes, re.Match[bytes]]:
    matches = list(re.finditer(pattern, xml))
    assert len(matches) == 1, (pattern, len(matches))
    match = matches[0]
    return xml[: match.start()] + xml[match.end() :], match


@pytest.mark.parametrize("workbook", WORKBOOKS)
def test_new_sheet_changes_only_what_adding_a_sheet_needs(
    outcomes: dict[tuple[str, str], Outcome], workbook: str
) -> None:
    outcome = outcomes[workbook, "new"].check()
    before, after = _raw_members(outcome.before), _raw_members(outcome.after)
    added = set(after) - set(before)
    assert set(before) <= set(after)
    assert len(added) == 1
    sheet_part = added.pop()
    assert re.fullmatch(r"xl/worksheets/sheet\d+\.xml", sheet_part)
    _assert_untouched(before, after, set(before) - SHEET_ADDING_PARTS - {STYLES})
    _assert_styles_extended(before[STYLES][2], after[STYLES][2])

    workbook_xml, sheet = _without_one(
        after["xl/workbook.xml"][2], rb'<(?:\w+:)?sheet\b[^>]*\bname="Runs"[^>]*/>'
    )
    assert workbook_xml == before["xl/workbook.xml"][2]
    rel_id = re.search(rb'\b\w+:id="([^"]+)"', sheet.group(0)).group(1)
    rels, relationship = _without_one(
        after["xl/_rels/workbook.xml.rels"][2],
        rb'<Relationship\b[^>]*\bId="' + re.escape(rel_id) + rb'"[^>]*/>',
    )
    assert rels == before["xl/_rels/workbook.xml.rels"][2]
    target = re.search(rb'\bTarget="([^"]+)"', relationship.group(0)).group(1).decode()
    assert f"xl/{target}" == sheet_part
    types, override = _without_one(
        after["[Content_Types].xml"][2],
        rb'<Override\b[^>]*\bPartName="/' + re.escape(sheet_part.encode()) + rb'"[^>]*/>',
    )
    assert types == before["[Content_Types].xml"][2]
    assert WORKSHEET_CONTENT.encode() in override.group(0)


def _sheet_parts(path: Path, sheet: str) -> tuple[str, list[str]]:
    """The part of ``sheet`` and the table parts it refers to."""
    with zipfile.ZipFile(path) as package:
        workbook = package.read("xl/workbook.xml").decode()
        rels = package.read("xl/_rels/workbook.xml.rels").decode()
        element = re.search(
            r'<(?:\w+:)?sheet\b[^>]*\bname="' + re.escape(sheet) + '"[^>]*>', workbook
        )
        rel_id = re.search(r'\b\w+:id="([^"]+)"', element.group(0)).group(1)
        relationship = re.search(r'<Relationship\b[^>]*\bId="' + rel_id + '"[^>]*>', rels)
        part = _resolve("xl", re.search(r'\bTarget="([^"]+)"', relationship.group(0)).group(1))
        folder, name = posixpath.split(part)
        sheet_rels = f"{folder}/_rels/{name}.rels"
        tables = []
        if sheet_rels in package.namelist():
            for element in re.findall(r"<Relationship\b[^>]*>", package.read(sheet_rels).decode()):
                if re.search(r'\bType="[^"]*/table"', element):
                    target = re.search(r'\bTarget="([^"]+)"', element).group(1)
                    tables.append(_resolve(folder, target))
    return part, tables


def _resolve(folder: str, target: str) -> str:
    return (
        target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"{folder}/{target}")
    )


@pytest.mark.parametrize("workbook", WORKBOOKS)
def test_existing_sheet_changes_only_its_part_and_tables(
    outcomes: dict[tuple[str, str], Outcome], workbook: str
) -> None:
    outcome = outcomes[workbook, "existing"].check()
    before, after = _raw_members(outcome.before), _raw_members(outcome.after)
    assert set(after) == set(before)
    sheet_part, tables = _sheet_parts(outcome.after, outcome.sheet)
    assert after[sheet_part][2] != before[sheet_part][2]
    _assert_untouched(before, after, set(before) - {sheet_part, STYLES, *tables})
    _assert_styles_extended(before[STYLES][2], after[STYLES][2])
    if workbook in TABLES_HOLDING_RUNS:
        assert tables, "the table holding the data should be among the sheet's parts"
    for table in tables:
        xml = after[table][2]
        ids = re.findall(rb'<(?:\w+:)?tableColumn\b[^>]*?\bid="(\d+)"', xml)
        count = re.search(rb'<(?:\w+:)?tableColumns\b[^>]*?\bcount="(\d+)"', xml)
        assert len(set(ids)) == len(ids), f"{table}: duplicate tableColumn ids"
        assert count is None or int(count.group(1)) == len(ids), f"{table}: wrong count"


# --- reading the results back ----------------------------------------------------------------


def _grid_openpyxl(path: Path, sheet: str) -> tuple[list[list[Any]], Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "Data Validation extension is not supported"
        book = openpyxl.load_workbook(path)
    worksheet = book[sheet]
    grid = [[cell.value for cell in row] for row in worksheet.iter_rows()]
    return grid, worksheet


def _columns(header: list[Any]) -> dict[str, int]:
    names = [str(value) if value is not None else None for value in header]
    wanted = [
        "run_id",
        "status",
        "params.sl_lr",
        "params.sl_text",
        "params.sl_neg",
        "metrics.sl_acc",
    ]
    for name in wanted:
        assert names.count(name) == 1, f"header {name!r} found {names.count(name)} times"
    return {name: names.index(name) for name in wanted}


def _run_rows(grid: list[list[Any]], outcome: Outcome) -> list[int]:
    """0-based row indexes of the three runs, checked against the values logged."""
    columns = _columns(grid[0])
    found = []
    for index, record in enumerate(outcome.runs):
        rows = [
            i
            for i, row in enumerate(grid)
            if len(row) > columns["run_id"] and row[columns["run_id"]] == record["run_id"]
        ]
        assert len(rows) == 1, f"run {record['run_id']} found in rows {rows}"
        row = grid[rows[0]]
        params = _expected_params(index)
        assert row[columns["status"]] == "FINISHED"
        assert _number(row[columns["params.sl_lr"]]) == pytest.approx(params["sl_lr"])
        assert row[columns["params.sl_text"]] == TEXTS[index]
        assert row[columns["params.sl_neg"]] == NEGATIVE_LOOKING
        assert _number(row[columns["metrics.sl_acc"]]) == pytest.approx(0.5 + index / 10)
        found.append(rows[0])
    assert found == list(range(found[0], found[0] + 3)), "runs are not consecutive rows"
    return found


def _number(value: Any) -> float:
    assert not isinstance(value, bool)
    return float(value)


def _last_value_row(grid: list[list[Any]]) -> int:
    """1-based number of the last row holding a value (0 when none)."""
    rows = [i + 1 for i, row in enumerate(grid) if any(v not in (None, "") for v in row)]
    return max(rows, default=0)


def _all_values(path: Path) -> dict[str, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path)
    return {
        sheet.title: {
            cell.coordinate: cell.value
            for row in sheet.iter_rows()
            for cell in row
            if cell.value is not None
        }
        for sheet in book.worksheets
    }


OUTCOME_IDS = [(workbook, case) for workbook in WORKBOOKS for case in CASES]


def _id(param: tuple[str, str]) -> str:
    return f"{param[0]}-{param[1]}"


@pytest.mark.parametrize("key", OUTCOME_IDS, ids=_id)
def test_openpyxl_reads_runs_and_user_cells(
    outcomes: dict[tuple[str, str], Outcome], key: tuple[str, str]
) -> None:
    outcome = outcomes[key].check()
    grid, worksheet = _grid_openpyxl(outcome.after, outcome.sheet)
    before_grid = (
        _grid_openpyxl(outcome.before, outcome.sheet)[0] if outcome.case == "existing" else []
    )
    rows = _run_rows(grid, outcome)
    first_run_row = rows[0] + 1
    expected_first = _last_value_row(before_grid) + 1 if before_grid else 2
    assert first_run_row == expected_first, "runs not appended right below the last value"
    text_column = _columns(grid[0])["params.sl_text"] + 1
    for row in rows:
        assert worksheet.cell(row + 1, text_column).data_type == "s"
    before_values, after_values = _all_values(outcome.before), _all_values(outcome.after)
    for sheet, cells in before_values.items():
        kept = {ref: after_values[sheet].get(ref) for ref in cells}
        assert kept == cells, f"user cells of sheet {sheet!r} changed"


@pytest.mark.parametrize("key", OUTCOME_IDS, ids=_id)
def test_excel_tables_take_the_runs(
    outcomes: dict[tuple[str, str], Outcome], key: tuple[str, str]
) -> None:
    outcome = outcomes[key].check()
    grid, worksheet = _grid_openpyxl(outcome.after, outcome.sheet)
    last_run_row = _run_rows(grid, outcome)[-1] + 1
    expected = TABLES_HOLDING_RUNS.get(outcome.workbook) if outcome.case == "existing" else None
    if expected is not None:
        ref = worksheet.tables[expected].ref
        assert range_boundaries(ref)[3] == last_run_row, f"table {expected} is {ref}"
    for table in worksheet.tables.values():
        left_top, right_bottom = table.ref.split(":")
        cells = worksheet[table.ref][0]
        header = [str(cell.value) if cell.value is not None else None for cell in cells]
        names = [column.name for column in table.tableColumns]
        assert names == header, f"table {table.name} {left_top}:{right_bottom} header mismatch"


@pytest.mark.parametrize("key", OUTCOME_IDS, ids=_id)
def test_calamine_reads_runs(
    outcomes: dict[tuple[str, str], Outcome], key: tuple[str, str]
) -> None:
    outcome = outcomes[key].check()
    workbook = CalamineWorkbook.from_path(str(outcome.after))
    grid = workbook.get_sheet_by_name(outcome.sheet).to_python(skip_empty_area=False)
    rows = _run_rows(grid, outcome)
    column = _columns(grid[0])["params.sl_text"]
    assert all(isinstance(grid[row][column], str) for row in rows)


# --- LibreOffice -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def libreoffice_csv(
    outcomes: dict[tuple[str, str], Outcome], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Every result converted to one CSV per sheet by a single soffice call."""
    soffice = find_soffice()
    folder = tmp_path_factory.mktemp("libreoffice")
    files = [str(o.after) for o in outcomes.values() if o.error is None]
    profile = folder / f"profile-{uuid.uuid4().hex}"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            CSV_FILTER,
            "--outdir",
            str(folder / "csv"),
            *files,
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "SAL_USE_VCLPLUGIN": "svp"},
    )
    return folder / "csv"


@pytest.mark.libreoffice
@pytest.mark.parametrize("key", OUTCOME_IDS, ids=_id)
def test_libreoffice_reads_runs(
    outcomes: dict[tuple[str, str], Outcome], libreoffice_csv: Path, key: tuple[str, str]
) -> None:
    outcome = outcomes[key].check()
    exported = libreoffice_csv / f"{outcome.after.stem}-{outcome.sheet}.csv"
    assert exported.exists(), f"LibreOffice did not export sheet {outcome.sheet!r}"
    with open(exported, newline="", encoding="utf-8") as handle:
        grid: list[list[Any]] = [row for row in csv.reader(handle)]
    rows = _run_rows(grid, outcome)
    column = _columns(grid[0])["params.sl_text"]
    assert [grid[row][column] for row in rows] == TEXTS  # literal text, not "2"
