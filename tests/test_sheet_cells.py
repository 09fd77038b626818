"""Reading a large sheet in pieces, one per core (``backends/excel/sheet_cells``), gives exactly
the cells calamine reads from the whole sheet: on the real workbooks, on sheets with gaps, and
through ``sheetlog.load``. The pieces are forced here (small sheets are normally read whole).
"""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

import sheetlog
from sheetlog.backends.excel import sheet_cells as pieces_module
from sheetlog.backends.excel.package import Package
from sheetlog.backends.excel.workbook import WorkbookIndex

REAL_WORKBOOKS = Path(__file__).resolve().parent / "data" / "real-workbooks"


@pytest.fixture
def split_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut every sheet into as many as 4 pieces, whatever its size and the machine's cores."""
    monkeypatch.setattr(pieces_module, "SPLIT_ABOVE_BYTES", 0)
    monkeypatch.setattr(pieces_module, "_piece_count", lambda *_: 4)
    monkeypatch.setattr(pieces_module, "_cores", lambda: 4)


def _whole(path: Path, sheet: str) -> list[list]:
    workbook = CalamineWorkbook.from_path(str(path))
    return workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def _in_pieces(path: Path, sheet: str) -> tuple[list[list], int]:
    with Package(path) as package:
        entry = next(e for e in WorkbookIndex(package).sheets() if e.name == sheet)
        try:
            count = len(list(pieces_module._pieces(package, entry, 4)))
        except pieces_module._Uncuttable:
            count = 0
        return pieces_module.sheet_cells(package, entry), count


def test_every_sheet_of_the_real_workbooks_reads_the_same_in_pieces(split_everything) -> None:
    workbooks = sorted(REAL_WORKBOOKS.glob("*.xlsx"))
    assert workbooks, f"no workbooks in {REAL_WORKBOOKS}"
    split = 0
    for path in workbooks:
        with Package(path) as package:
            sheets = [e.name for e in WorkbookIndex(package).sheets() if e.is_worksheet]
        for sheet in sheets:
            cells, count = _in_pieces(path, sheet)
            assert cells == _whole(path, sheet), f"{path.name} / {sheet} ({count} pieces)"
            split += count > 1
    assert split >= 10, f"only {split} sheets were cut into pieces: the test compares too little"


def test_gaps_and_ragged_edges_land_where_they_are(tmp_path: Path, split_everything) -> None:
    """Empty rows at the top and in the middle, a stretch of rows starting in column D, a
    stretch ending before the last column, dates, booleans and formula text."""
    path = tmp_path / "gaps.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Runs"
    for row in range(3, 400):
        if 120 <= row < 160:
            continue  # a gap inside the sheet
        if 200 <= row < 260:
            sheet.cell(row, 4, f"from D {row}")  # a stretch of rows starting in column D
            continue
        sheet.cell(row, 1, f"run {row}")
        sheet.cell(row, 2, row * 0.5)
        sheet.cell(row, 3, dt.datetime(2025, 1, 1) + dt.timedelta(hours=row))
        sheet.cell(row, 5, row % 2 == 0)
        if row < 300:
            sheet.cell(row, 7, "=1+1" if row % 7 == 0 else "last column")
    workbook.save(path)

    cells, count = _in_pieces(path, "Runs")

    assert count == 4
    assert cells == _whole(path, "Runs")
    assert cells[2][:2] == ["run 3", 1.5] and cells[0] == [""] * 7
    assert cells[210][:4] == ["", "", "", "from D 211"]


def test_rows_without_positions_are_read_whole(tmp_path: Path, split_everything) -> None:
    path = tmp_path / "unplaced.xlsx"
    workbook = openpyxl.Workbook()
    for row in range(1, 50):
        workbook.active.append([f"r{row}", row])
    workbook.save(path)
    _strip_row_positions(path)

    cells, count = _in_pieces(path, "Sheet")

    assert count == 0
    assert cells == _whole(path, "Sheet")
    assert cells[48] == ["r49", 49]


def test_a_piece_calamine_refuses_means_the_sheet_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_everything
) -> None:
    path = tmp_path / "runs.xlsx"
    workbook = openpyxl.Workbook()
    for row in range(1, 200):
        workbook.active.append([f"r{row}", row])
    workbook.save(path)

    def refuse(self) -> None:
        self.error = ValueError("a piece calamine cannot read")

    monkeypatch.setattr(pieces_module._PieceParse, "run", refuse)
    cells, _ = _in_pieces(path, "Sheet")
    assert cells == _whole(path, "Sheet") and len(cells) == 199


def test_large_shared_strings_mean_one_piece_per_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every piece parses the shared strings again: with many of them, two pieces per core
    would cost more than they gain."""
    path = tmp_path / "texts.xlsx"
    workbook = openpyxl.Workbook()
    for row in range(1, 3000):
        workbook.active.append([f"text {row}", row])
    workbook.save(path)
    strings = b"".join(b"<si><t>unique text number %d</t></si>" % i for i in range(40_000))
    _add_shared_strings(path, b'<sst xmlns="%s">%s</sst>' % (MAIN_NS, strings))
    monkeypatch.setattr(pieces_module, "_PIECE_BYTES", 1)
    monkeypatch.setattr(pieces_module, "_cores", lambda: 2)
    with Package(path) as package:
        entry = WorkbookIndex(package).find("Sheet")
        besides = pieces_module._parts_besides(package)
        assert pieces_module._piece_count(package, entry, besides) == 2
        assert pieces_module._piece_count(package, entry, {}) == 4


def test_load_reads_the_same_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_everything
) -> None:
    path = tmp_path / "runs.xlsx"
    journal = tmp_path / "journal"
    monkeypatch.setenv("SHEETLOG_DIR", str(journal))
    for i in range(40):
        extra = {"dropout": 0.1} if i >= 25 else {}
        sheetlog.log_run({"lr": 0.1 * i, **extra}, {"acc": i / 40}, target=str(path))
    in_pieces = sheetlog.load(str(path))
    with monkeypatch.context() as whole:
        whole.setattr(pieces_module, "SPLIT_ABOVE_BYTES", 1 << 40)
        read_whole = sheetlog.load(str(path))
    assert len(in_pieces) == 40
    pd.testing.assert_frame_equal(in_pieces, read_whole)


MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_STRINGS_REL = (
    b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.'
    b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
)


def _add_shared_strings(path: Path, xml: bytes) -> None:
    copy = path.with_suffix(".tmp")
    shutil.move(path, copy)
    with zipfile.ZipFile(copy) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", SHARED_STRINGS_REL + b"</Relationships>")
            target.writestr(info, data)
        target.writestr("xl/sharedStrings.xml", xml)


def _strip_row_positions(path: Path) -> None:
    copy = path.with_suffix(".tmp")
    shutil.move(path, copy)
    with zipfile.ZipFile(copy) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<row r=", b"<row data-r=")
            target.writestr(info, data)
