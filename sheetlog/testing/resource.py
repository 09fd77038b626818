"""The spreadsheet resource (spreadsheets.get), field masks, and Drive file resources."""

from __future__ import annotations

import time
from typing import Any

from .cells import FORMULA, Cell, effective_json, formatted
from .formula import Evaluator
from .grid import Sheet, Spreadsheet, clip
from .values_api import Params, bool_param

DEFAULT_FORMAT: dict = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {
        "foregroundColor": {},
        "fontFamily": "arial,sans,sans-serif",
        "fontSize": 10,
        "bold": False,
        "italic": False,
        "strikethrough": False,
        "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    },
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}

_THEME_COLORS = [
    ("TEXT", {}),
    ("BACKGROUND", {"red": 1, "green": 1, "blue": 1}),
    ("ACCENT1", {"red": 0.25882354, "green": 0.52156866, "blue": 0.95686275}),
    ("ACCENT2", {"red": 0.91764706, "green": 0.2627451, "blue": 0.20784314}),
    ("ACCENT3", {"red": 0.9843137, "green": 0.7372549, "blue": 0.015686275}),
    ("ACCENT4", {"red": 0.20392157, "green": 0.65882355, "blue": 0.3254902}),
    ("ACCENT5", {"red": 1, "green": 0.42745098, "blue": 0.003921569}),
    ("ACCENT6", {"red": 0.27450982, "green": 0.7411765, "blue": 0.7764706}),
    ("LINK", {"red": 0.06666667, "green": 0.33333334, "blue": 0.8}),
]
THEME: dict = {
    "primaryFontFamily": "Arial",
    "themeColors": [{"colorType": t, "color": {"rgbColor": c}} for t, c in _THEME_COLORS],
}

# CellFormat fields in proto field order: Google writes JSON in that order.
_FORMAT_ORDER = [
    "numberFormat",
    "backgroundColor",
    "borders",
    "padding",
    "horizontalAlignment",
    "verticalAlignment",
    "wrapStrategy",
    "textDirection",
    "textFormat",
    "hyperlinkDisplayType",
    "textRotation",
    "backgroundColorStyle",
]
_TEXT_FORMAT_ORDER = [
    "foregroundColor",
    "fontFamily",
    "fontSize",
    "bold",
    "italic",
    "strikethrough",
    "underline",
    "link",
    "foregroundColorStyle",
]


# ---------------------------------------------------------------- field masks


def parse_mask(text: str) -> dict:
    """``a.b,c(d,e/f)`` -> {"a": {"b": True}, "c": {"d": True, "e": {"f": True}}}."""
    tree: dict = {}
    _parse_into(text.replace(" ", ""), 0, tree)
    return tree


def _parse_into(text: str, pos: int, tree: dict) -> int:
    while pos < len(text):
        start = pos
        while pos < len(text) and text[pos] not in ",()":
            pos += 1
        path = [p for p in text[start:pos].replace("/", ".").split(".") if p]
        node = tree
        for name in path[:-1]:
            child = node.get(name)
            if child is True:
                break
            node = node.setdefault(name, {})
        else:
            if path:
                last = path[-1]
                if pos < len(text) and text[pos] == "(":
                    child = node.get(last)
                    if child is True:
                        pos = _parse_into(text, pos + 1, {})
                    else:
                        pos = _parse_into(text, pos + 1, node.setdefault(last, {}))
                else:
                    node[last] = True
        if pos < len(text) and text[pos] == ")":
            return pos + 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
    return pos


def apply_mask(obj: Any, tree: Any) -> Any:
    if tree is True:
        return obj
    if isinstance(obj, list):
        return [apply_mask(item, tree) for item in obj]
    if isinstance(obj, dict):
        if "*" in tree:
            return obj
        return {k: apply_mask(v, tree[k]) for k, v in obj.items() if k in tree}
    return obj


def mask_paths(tree: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for key, sub in tree.items():
        if sub is True:
            out.append((*prefix, key))
        else:
            out.extend(mask_paths(sub, (*prefix, key)))
    return out


def masked_merge(target: dict | None, source: dict | None, tree: Any) -> dict | None:
    """Copy the masked fields of source over target (fields absent in source are reset)."""
    source = source or {}
    if tree is True or "*" in tree:
        return _deep(source) or None
    out = dict(target or {})
    for key, sub in tree.items():
        if sub is True:
            if key in source:
                out[key] = _deep(source[key])
            else:
                out.pop(key, None)
        else:
            merged = masked_merge(out.get(key), source.get(key), sub)
            if merged:
                out[key] = merged
            else:
                out.pop(key, None)
    return out or None


def _deep(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deep(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep(v) for v in obj]
    return obj


# ---------------------------------------------------------------- spreadsheet resource


def sheet_properties(sheet: Sheet) -> dict:
    grid: dict[str, Any] = {"rowCount": sheet.row_count, "columnCount": sheet.col_count}
    if sheet.frozen_rows:
        grid["frozenRowCount"] = sheet.frozen_rows
    if sheet.frozen_cols:
        grid["frozenColumnCount"] = sheet.frozen_cols
    props: dict[str, Any] = {
        "sheetId": sheet.sheet_id,
        "title": sheet.title,
        "index": sheet.index,
        "sheetType": "GRID",
        "gridProperties": grid,
    }
    if sheet.hidden:
        props["hidden"] = True
    props.update(_deep(sheet.extra))
    return props


def _ordered_format(fmt: dict) -> dict:
    out = {k: fmt[k] for k in _FORMAT_ORDER if k in fmt}
    out.update({k: v for k, v in fmt.items() if k not in out})
    if isinstance(out.get("textFormat"), dict):
        tf = out["textFormat"]
        ordered = {k: tf[k] for k in _TEXT_FORMAT_ORDER if k in tf}
        ordered.update({k: v for k, v in tf.items() if k not in ordered})
        out["textFormat"] = ordered
    return out


def _merge(base: dict, over: dict) -> dict:
    out = _deep(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _deep(value)
    return out


def entered_json(cell: Cell) -> dict:
    if cell.kind == FORMULA:
        return {"formulaValue": cell.value}
    return effective_json(cell.value)


def cell_data(sheet: Sheet, ev: Evaluator, row: int, col: int) -> dict:
    cell = sheet.get(row, col)
    if cell is None:
        return {}
    out: dict[str, Any] = {}
    if cell.kind is not None:
        value = ev.value(sheet, row, col)
        out["userEnteredValue"] = entered_json(cell)
        out["effectiveValue"] = effective_json(value)
        out["formattedValue"] = formatted(value, cell.number_format)
    if cell.fmt:
        out["userEnteredFormat"] = _ordered_format(_deep(cell.fmt))
    if cell.kind is not None or cell.fmt:
        out["effectiveFormat"] = _ordered_format(_merge(DEFAULT_FORMAT, cell.fmt or {}))
    return out


def grid_data(sheet: Sheet, ev: Evaluator, bounds: tuple[int, int, int, int]) -> dict:
    r0, r1, c0, c1 = bounds
    rows: dict[int, list[int]] = {}
    for row, cols in sheet.cells.items():
        if r0 <= row < r1:
            inside = [c for c in cols if c0 <= c < c1]
            if inside:
                rows[row] = inside
    out: dict[str, Any] = {}
    if r0:
        out["startRow"] = r0
    if c0:
        out["startColumn"] = c0
    row_data = []
    if rows:
        for row in range(r0, max(rows) + 1):
            if row not in rows:
                row_data.append({})
                continue
            last = max(rows[row])
            row_data.append({"values": [cell_data(sheet, ev, row, c) for c in range(c0, last + 1)]})
    if row_data:
        out["rowData"] = row_data
    out["rowMetadata"] = [{"pixelSize": 21} for _ in range(r0, r1)]
    out["columnMetadata"] = [{"pixelSize": 100} for _ in range(c0, c1)]
    return out


def spreadsheet_json(ss: Spreadsheet, params: Params | None = None) -> dict:
    params = params or {}
    include = bool_param(params, "includeGridData")
    ranges = params.get("ranges") or []
    ev = Evaluator(ss.sheets)
    wanted: dict[int, list[tuple[int, int, int, int]]] = {}
    for text in ranges:
        sheet, rng = ss.resolve(text)
        wanted.setdefault(sheet.sheet_id, []).append(clip(sheet, rng))
    sheets = []
    for sheet in ss.sheets:
        if ranges and sheet.sheet_id not in wanted:
            continue
        entry: dict[str, Any] = {"properties": sheet_properties(sheet)}
        if include:
            blocks = wanted.get(sheet.sheet_id) or [(0, sheet.row_count, 0, sheet.col_count)]
            entry["data"] = [grid_data(sheet, ev, b) for b in blocks]
        if sheet.basic_filter:
            entry["basicFilter"] = _deep(sheet.basic_filter)
        sheets.append(entry)
    return {
        "spreadsheetId": ss.id,
        "properties": {
            "title": ss.title,
            "locale": ss.locale,
            "autoRecalc": "ON_CHANGE",
            "timeZone": ss.time_zone,
            "defaultFormat": _deep(DEFAULT_FORMAT),
            "spreadsheetTheme": _deep(THEME),
        },
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{ss.id}/edit",
    }


def rfc3339(timestamp: float) -> str:
    t = time.gmtime(timestamp)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(timestamp * 1000) % 1000:03d}Z"


DRIVE_MIME = "application/vnd.google-apps.spreadsheet"


def drive_file(ss: Spreadsheet, fields: str | None) -> dict:
    full = {
        "kind": "drive#file",
        "id": ss.id,
        "name": ss.title,
        "mimeType": DRIVE_MIME,
        "createdTime": rfc3339(ss.created),
        "modifiedTime": rfc3339(ss.modified),
    }
    if not fields:
        return {k: full[k] for k in ("kind", "id", "name", "mimeType")}
    return apply_mask(full, parse_mask(fields))


def create_spreadsheet_from(ss: Spreadsheet, body: Any) -> None:
    """Fill a new spreadsheet from a spreadsheets.create body (or Drive defaults)."""
    body = body if isinstance(body, dict) else {}
    sheets = body.get("sheets") or [{}]
    for i, entry in enumerate(sheets):
        props = (entry or {}).get("properties") or {}
        grid = props.get("gridProperties") or {}
        sheet = ss.add_sheet(
            props.get("title") or f"Sheet{i + 1}",
            int(grid.get("rowCount", 1000)),
            int(grid.get("columnCount", 26)),
            sheet_id=props.get("sheetId", 0 if i == 0 else None),
        )
        sheet.frozen_rows = int(grid.get("frozenRowCount", 0))
        sheet.frozen_cols = int(grid.get("frozenColumnCount", 0))
