"""Build ``runs.xlsx``, the workbook every new sheetlog log starts from.

One sheet, "Runs": a styled header holding ``run_id`` in A1 (sheetlog adds the other header cells
with the same style), the first row frozen, an autofilter over the header, and a date-time cell
format for ``start_time`` / ``end_time``. Run ``python templates/build_templates.py`` to rebuild.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the sheetlog package this script sits beside


def build_runs_template(destination: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Runs"
    header = NamedStyle(name="sheetlog header")
    header.font = Font(bold=True, color="FFFFFF")
    header.fill = PatternFill("solid", fgColor="305496")
    header.alignment = Alignment(vertical="center")
    header.border = Border(bottom=Side(style="thin", color="1F3864"))
    workbook.add_named_style(header)
    moment = NamedStyle(name="sheetlog datetime", number_format="yyyy-mm-dd hh:mm:ss")
    workbook.add_named_style(moment)
    sheet["A1"] = "run_id"
    sheet["A1"].style = header.name
    # openpyxl writes a cell format only for a style in use: A2 holds it until the build drops
    # that cell, leaving the format in the workbook for sheetlog to find.
    sheet["A2"].style = moment.name
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = "A1:A1"
    sheet.column_dimensions["A"].width = 34
    workbook.properties.creator = "sheetlog"
    workbook.save(destination)
    _drop_placeholder_cell(destination)


def _drop_placeholder_cell(path: Path) -> None:
    from sheetlog.backends.excel.package import Package

    part = "xl/worksheets/sheet1.xml"
    with Package(path) as package:
        xml = package.read(part)
        xml = re.sub(rb'<row r="2">.*?</row>', b"", xml)
        xml = xml.replace(b'<dimension ref="A1:A2" />', b'<dimension ref="A1" />')
        package.write(part, xml)
        package.save(path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


if __name__ == "__main__":
    build_runs_template(HERE / "runs.xlsx")
    print(f"wrote {HERE / 'runs.xlsx'}")
