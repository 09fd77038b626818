"""spreadsheets.batchUpdate: the requests the fake models, atomically like Google."""

from __future__ import annotations

from typing import Any

from .a1 import MAX_COLUMNS
from .cells import BOOL, FORMULA, MAX_CELL_CHARS, NUMBER, STRING, Cell
from .grid import (
    MAX_CELLS,
    ApiError,
    Sheet,
    Spreadsheet,
    cells_limit_error,
    grid_limits_error,
    invalid_argument,
)
from .resource import (
    _deep,
    mask_paths,
    masked_merge,
    parse_mask,
    sheet_properties,
    spreadsheet_json,
)
from .values_api import Params

# ---------------------------------------------------------------- batchUpdate

ACCEPTED_UNMODELED = {
    # Cosmetic or protective requests: answered like Google ({} reply) but not modelled.
    "setDataValidation",
    "updateDimensionProperties",
    "autoResizeDimensions",
    "mergeCells",
    "unmergeCells",
    "updateBorders",
    "addConditionalFormatRule",
    "updateConditionalFormatRule",
    "deleteConditionalFormatRule",
    "deleteProtectedRange",
    "updateProtectedRange",
    "updateBanding",
    "deleteBanding",
    "deleteNamedRange",
    "updateNamedRange",
}

KNOWN_UNSUPPORTED = {
    "addNamedRange", "autoFill", "cutPaste", "copyPaste", "addFilterView",
    "deleteEmbeddedObject", "deleteFilterView", "duplicateFilterView", "duplicateSheet",
    "findReplace", "insertRange", "moveDimension", "updateEmbeddedObjectPosition", "pasteData",
    "textToColumns", "updateFilterView", "deleteRange", "sortRange", "addProtectedRange",
    "addChart", "updateChartSpec", "addBanding", "createDeveloperMetadata",
    "updateDeveloperMetadata", "deleteDeveloperMetadata", "randomizeRange", "addDimensionGroup",
    "deleteDimensionGroup", "updateDimensionGroup", "trimWhitespace", "deleteDuplicates",
    "updateEmbeddedObjectBorder", "addSlicer", "updateSlicerSpec", "addDataSource",
    "updateDataSource", "deleteDataSource", "refreshDataSource", "cancelDataSourceRefresh",
    "addTable", "updateTable", "deleteTable",
}  # fmt: skip


def batch_update(ss: Spreadsheet, body: Any) -> dict:
    requests = body.get("requests") if isinstance(body, dict) else None
    if not requests:
        raise invalid_argument("Must specify at least one request.")
    saved = (ss.snapshot(), ss.title, ss.locale, ss.time_zone)
    replies = []
    try:
        for i, request in enumerate(requests):
            replies.append(_one_request(ss, i, request))
    except ApiError:
        ss.sheets, ss.title, ss.locale, ss.time_zone = saved
        raise
    ss.touch()
    out: dict[str, Any] = {"spreadsheetId": ss.id, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        params: Params = {"includeGridData": [str(body.get("responseIncludeGridData", False))]}
        if body.get("responseRanges"):
            params["ranges"] = list(body["responseRanges"])
        out["updatedSpreadsheet"] = spreadsheet_json(ss, params)
    return out


def _one_request(ss: Spreadsheet, i: int, request: Any) -> dict:
    if not isinstance(request, dict) or not request:
        raise invalid_argument(f"Invalid requests[{i}]: No request set.")
    kinds = list(request)
    if len(kinds) > 1:
        raise invalid_argument(
            f"Invalid value at 'requests[{i}]' (oneof), oneof field 'kind' is already set. "
            f"Cannot set '{kinds[1]}'",
            f"requests[{i}]",
        )
    kind = kinds[0]
    args = _without_nulls(request[kind] or {})
    handler = HANDLERS.get(kind)
    if handler is not None:
        return handler(ss, args, f"Invalid requests[{i}].{kind}: ")
    if kind in ACCEPTED_UNMODELED:
        return {}
    if kind in KNOWN_UNSUPPORTED:
        raise ApiError(
            501,
            f"requests[{i}].{kind} is a valid Sheets API request that sheetlog's fake does not "
            "emulate.",
            "UNIMPLEMENTED",
        )
    raise invalid_argument(
        f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{i}]': "
        "Cannot find field.",
        f"requests[{i}]",
    )


def _without_nulls(obj: Any) -> Any:
    """JSON null means "not set" in Google's JSON mapping of protobuf messages."""
    if isinstance(obj, dict):
        return {k: _without_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_without_nulls(v) for v in obj]
    return obj


def _sheet(ss: Spreadsheet, sheet_id: Any, prefix: str) -> Sheet:
    sheet = ss.sheet_by_id(sheet_id if sheet_id is not None else 0)
    if sheet is None:
        raise invalid_argument(
            f"{prefix}No grid with id: {sheet_id if sheet_id is not None else 0}"
        )
    return sheet


def _check_size(ss: Spreadsheet, sheet: Sheet | None, rows: int, cols: int, prefix: str) -> None:
    if cols > MAX_COLUMNS:
        raise invalid_argument(
            f"{prefix}This action would increase the number of columns in the sheet above the "
            f"limit of {MAX_COLUMNS}."
        )
    current = sheet.row_count * sheet.col_count if sheet else 0
    if ss.total_cells() - current + rows * cols > MAX_CELLS:
        raise cells_limit_error(prefix)


def _int(value: Any, prefix: str, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_argument(f"{prefix}Invalid {name}: {value!r}") from None


def _add_sheet(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    props = args.get("properties") or {}
    title = props.get("title")
    if not title:
        n = len(ss.sheets) + 1
        taken = {t.casefold() for t in ss.titles()}
        while f"sheet{n}" in taken:
            n += 1
        title = f"Sheet{n}"
    if any(t.casefold() == title.casefold() for t in ss.titles()):
        raise invalid_argument(
            f'{prefix}A sheet with the name "{title}" already exists. Please enter another name.'
        )
    grid = props.get("gridProperties") or {}
    rows = _int(grid.get("rowCount", 1000), prefix, "rowCount")
    cols = _int(grid.get("columnCount", 26), prefix, "columnCount")
    if rows < 1 or cols < 1:
        raise invalid_argument(f"{prefix}The sheet must have at least one row and one column.")
    _check_size(ss, None, rows, cols, prefix)
    sheet_id = props.get("sheetId")
    if sheet_id is not None and ss.sheet_by_id(sheet_id) is not None:
        raise invalid_argument(
            f"{prefix}Sheet with id {sheet_id} already exists. Please choose another id."
        )
    sheet = ss.add_sheet(
        title,
        rows,
        cols,
        sheet_id=_int(sheet_id, prefix, "sheetId") if sheet_id is not None else ss.new_sheet_id(),
        index=props.get("index"),
    )
    sheet.frozen_rows = int(grid.get("frozenRowCount", 0))
    sheet.frozen_cols = int(grid.get("frozenColumnCount", 0))
    sheet.hidden = bool(props.get("hidden", False))
    for key, value in props.items():
        if key not in ("sheetId", "title", "index", "sheetType", "gridProperties", "hidden"):
            sheet.extra[key] = _deep(value)
    return {"addSheet": {"properties": sheet_properties(sheet)}}


def _delete_sheet(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    sheet = _sheet(ss, args.get("sheetId"), prefix)
    if len(ss.sheets) == 1:
        raise invalid_argument(f"{prefix}You can't remove all the sheets in a document.")
    ss.sheets.remove(sheet)
    ss.reindex()
    return {}


def _update_sheet_properties(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    props = args.get("properties") or {}
    fields = args.get("fields")
    if not fields:
        raise invalid_argument(f"{prefix}At least one field must be specified in 'fields'.")
    sheet = _sheet(ss, props.get("sheetId"), prefix)
    tree = parse_mask(fields)
    if "*" in tree:
        tree = {k: True for k in props if k != "sheetId"}
    grid = props.get("gridProperties") or {}
    paths = mask_paths(tree)
    if ("gridProperties",) in paths:
        paths = [p for p in paths if p != ("gridProperties",)]
        paths += [("gridProperties", k) for k in grid]
    rows, cols = sheet.row_count, sheet.col_count
    for path in paths:
        key = path[0]
        if key == "sheetId":
            continue
        if key == "title":
            title = props.get("title") or ""
            if not title:
                raise invalid_argument(f"{prefix}The sheet name cannot be empty.")
            if any(s is not sheet and s.title.casefold() == title.casefold() for s in ss.sheets):
                raise invalid_argument(
                    f'{prefix}A sheet with the name "{title}" already exists. '
                    "Please enter another name."
                )
            sheet.title = title
        elif key == "index":
            ss.sheets.remove(sheet)
            ss.sheets.insert(max(0, min(int(props.get("index", 0)), len(ss.sheets))), sheet)
            ss.reindex()
        elif key == "hidden":
            hidden = bool(props.get("hidden", False))
            if hidden and all(s.hidden for s in ss.sheets if s is not sheet):
                raise invalid_argument(f"{prefix}You can't hide all the sheets in a document.")
            sheet.hidden = hidden
        elif key == "gridProperties" and len(path) > 1:
            sub = path[1]
            value = grid.get(sub, 0)
            if sub == "rowCount":
                rows = _int(value, prefix, "rowCount")
            elif sub == "columnCount":
                cols = _int(value, prefix, "columnCount")
            elif sub == "frozenRowCount":
                sheet.frozen_rows = _int(value, prefix, "frozenRowCount")
            elif sub == "frozenColumnCount":
                sheet.frozen_cols = _int(value, prefix, "frozenColumnCount")
            else:
                sheet.extra.setdefault("gridProperties", {})[sub] = value
        elif key not in ("sheetType", "gridProperties"):
            if key in props:
                sheet.extra[key] = _deep(props[key])
            else:
                sheet.extra.pop(key, None)
    if (rows, cols) != (sheet.row_count, sheet.col_count):
        if rows < 1:
            raise invalid_argument(f"{prefix}You can't delete all the rows on the sheet.")
        if cols < 1:
            raise invalid_argument(f"{prefix}You can't delete all the columns on the sheet.")
        _check_size(ss, sheet, rows, cols, prefix)
        sheet.resize(rows, cols)
    if sheet.frozen_rows >= sheet.row_count:
        raise invalid_argument(f"{prefix}You can't freeze all visible rows on the sheet.")
    if sheet.frozen_cols >= sheet.col_count:
        raise invalid_argument(f"{prefix}You can't freeze all visible columns on the sheet.")
    return {}


def _dimension_range(ss: Spreadsheet, rng: dict, prefix: str) -> tuple[Sheet, str, int, int | None]:
    sheet = _sheet(ss, rng.get("sheetId"), prefix)
    dimension = rng.get("dimension")
    if dimension not in ("ROWS", "COLUMNS"):
        raise invalid_argument(f"{prefix}range.dimension must be ROWS or COLUMNS.")
    start = _int(rng.get("startIndex", 0), prefix, "startIndex")
    end = rng.get("endIndex")
    return sheet, dimension, start, _int(end, prefix, "endIndex") if end is not None else None


def _insert_dimension(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    sheet, dimension, start, end = _dimension_range(ss, args.get("range") or {}, prefix)
    count = sheet.row_count if dimension == "ROWS" else sheet.col_count
    if end is None or end <= start or start < 0 or start > count:
        raise invalid_argument(f"{prefix}Invalid range: startIndex {start}, endIndex {end}.")
    n = end - start
    rows = sheet.row_count + (n if dimension == "ROWS" else 0)
    cols = sheet.col_count + (n if dimension == "COLUMNS" else 0)
    _check_size(ss, sheet, rows, cols, prefix)
    before = bool(args.get("inheritFromBefore", False))
    source = start - 1 if before else start
    sheet.insert(dimension, start, n)
    source = source if source < start else source + n
    sheet.copy_formats(dimension, source, start, n)
    return {}


def _append_dimension(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    sheet = _sheet(ss, args.get("sheetId"), prefix)
    dimension = args.get("dimension")
    if dimension not in ("ROWS", "COLUMNS"):
        raise invalid_argument(f"{prefix}dimension must be ROWS or COLUMNS.")
    length = _int(args.get("length", 0), prefix, "length")
    if length < 1:
        raise invalid_argument(f"{prefix}length must be at least 1.")
    rows = sheet.row_count + (length if dimension == "ROWS" else 0)
    cols = sheet.col_count + (length if dimension == "COLUMNS" else 0)
    _check_size(ss, sheet, rows, cols, prefix)
    sheet.row_count, sheet.col_count = rows, cols
    return {}


def _delete_dimension(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    sheet, dimension, start, end = _dimension_range(ss, args.get("range") or {}, prefix)
    count = sheet.row_count if dimension == "ROWS" else sheet.col_count
    end = count if end is None else min(end, count)
    if start < 0 or end <= start:
        raise invalid_argument(f"{prefix}Invalid range: startIndex {start}, endIndex {end}.")
    if end - start >= count:
        what = "rows" if dimension == "ROWS" else "columns"
        raise invalid_argument(f"{prefix}You can't delete all the {what} on the sheet.")
    sheet.delete(dimension, start, end)
    return {}


def _grid_bounds(
    ss: Spreadsheet, rng: dict, prefix: str
) -> tuple[Sheet, tuple[int, int, int, int]]:
    sheet = _sheet(ss, rng.get("sheetId"), prefix)
    r0 = _int(rng.get("startRowIndex", 0), prefix, "startRowIndex")
    c0 = _int(rng.get("startColumnIndex", 0), prefix, "startColumnIndex")
    r1 = min(_int(rng.get("endRowIndex", sheet.row_count), prefix, "endRowIndex"), sheet.row_count)
    c1 = min(
        _int(rng.get("endColumnIndex", sheet.col_count), prefix, "endColumnIndex"),
        sheet.col_count,
    )
    if r0 < 0 or c0 < 0 or r0 > r1 or c0 > c1:
        raise invalid_argument(f"{prefix}Invalid range.")
    return sheet, (r0, r1, c0, c1)


def _entered_from(value: Any, prefix: str) -> tuple[str | None, Any]:
    if not value:
        return None, None
    if "formulaValue" in value:
        text = str(value["formulaValue"])
        return (FORMULA, text) if text.startswith("=") else (STRING, text)
    if "stringValue" in value:
        text = str(value["stringValue"])
        if len(text) > MAX_CELL_CHARS:
            raise invalid_argument(
                f"{prefix}Your input contains more than the maximum of 50000 characters in a "
                "single cell."
            )
        return (STRING, text) if text else (None, None)
    if "numberValue" in value:
        return NUMBER, float(value["numberValue"])
    if "boolValue" in value:
        return BOOL, bool(value["boolValue"])
    return None, None


def _write_cell(sheet: Sheet, row: int, col: int, data: dict, tree: dict, prefix: str) -> None:
    """Apply the masked fields of a CellData to one cell, replacing the Cell object."""
    old = sheet.get(row, col)
    new = old.copy() if old is not None else Cell()
    if "*" in tree:
        tree = {"userEnteredValue": True, "userEnteredFormat": True}
    if "userEnteredFormat" in tree:
        new.fmt = masked_merge(new.fmt, data.get("userEnteredFormat"), tree["userEnteredFormat"])
    if "userEnteredValue" in tree:
        new.kind, new.value = _entered_from(data.get("userEnteredValue"), prefix)
    if new.kind is None and not new.fmt:
        if old is not None:
            del sheet.cells[row][col]
            if not sheet.cells[row]:
                del sheet.cells[row]
        return
    sheet.cells.setdefault(row, {})[col] = new


def _repeat_cell(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    fields = args.get("fields")
    if not fields:
        raise invalid_argument(f"{prefix}At least one field must be specified in 'fields'.")
    sheet, (r0, r1, c0, c1) = _grid_bounds(ss, args.get("range") or {}, prefix)
    tree = parse_mask(fields)
    data = args.get("cell") or {}
    for row in range(r0, r1):
        for col in range(c0, c1):
            _write_cell(sheet, row, col, data, tree, prefix)
    return {}


def _update_cells(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    fields = args.get("fields")
    if not fields:
        raise invalid_argument(f"{prefix}At least one field must be specified in 'fields'.")
    if "start" in args:
        start = args["start"] or {}
        sheet = _sheet(ss, start.get("sheetId"), prefix)
        top, left = int(start.get("rowIndex", 0)), int(start.get("columnIndex", 0))
    else:
        sheet, (top, _, left, _) = _grid_bounds(ss, args.get("range") or {}, prefix)
    tree = parse_mask(fields)
    rows = args.get("rows") or []
    for i, row in enumerate(rows):
        for j, data in enumerate((row or {}).get("values") or []):
            if top + i >= sheet.row_count or left + j >= sheet.col_count:
                raise grid_limits_error(sheet, top + i, left + j)
            _write_cell(sheet, top + i, left + j, data or {}, tree, prefix)
    return {}


def _append_cells(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    """Rows go after the last row holding a value anywhere in the sheet; rows the grid lacks are
    added at its end, without formats (like appendDimension)."""
    fields = args.get("fields")
    if not fields:
        raise invalid_argument(f"{prefix}At least one field must be specified in 'fields'.")
    if "tableId" in args:
        raise ApiError(501, f"{prefix}tableId is not emulated by sheetlog's fake.", "UNIMPLEMENTED")
    sheet = _sheet(ss, args.get("sheetId"), prefix)
    tree = parse_mask(fields)
    rows = args.get("rows") or []
    last = sheet.last_filled(0, sheet.row_count, 0, sheet.col_count)
    top = 0 if last is None else last[0] + 1
    width = max((len((row or {}).get("values") or []) for row in rows), default=0)
    if width > sheet.col_count:
        raise grid_limits_error(sheet, top, width - 1)
    if top + len(rows) > sheet.row_count:
        _check_size(ss, sheet, top + len(rows), sheet.col_count, prefix)
        sheet.row_count = top + len(rows)
    for i, row in enumerate(rows):
        for j, data in enumerate((row or {}).get("values") or []):
            _write_cell(sheet, top + i, j, data or {}, tree, prefix)
    return {}


def _set_basic_filter(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    spec = _deep(args.get("filter") or {})
    sheet, (r0, r1, c0, c1) = _grid_bounds(ss, spec.get("range") or {}, prefix)
    spec["range"] = {
        "sheetId": sheet.sheet_id,
        "startRowIndex": r0,
        "endRowIndex": r1,
        "startColumnIndex": c0,
        "endColumnIndex": c1,
    }
    sheet.basic_filter = {"range": spec.pop("range"), **spec}
    return {}


def _clear_basic_filter(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    _sheet(ss, args.get("sheetId"), prefix).basic_filter = None
    return {}


def _update_spreadsheet_properties(ss: Spreadsheet, args: dict, prefix: str) -> dict:
    props = args.get("properties") or {}
    fields = args.get("fields")
    if not fields:
        raise invalid_argument(f"{prefix}At least one field must be specified in 'fields'.")
    tree = parse_mask(fields)
    if "*" in tree or "title" in tree:
        ss.title = props.get("title", ss.title)
    if "*" in tree or "locale" in tree:
        ss.locale = props.get("locale", ss.locale)
    if "*" in tree or "timeZone" in tree:
        ss.time_zone = props.get("timeZone", ss.time_zone)
    return {}


HANDLERS = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "insertDimension": _insert_dimension,
    "appendDimension": _append_dimension,
    "deleteDimension": _delete_dimension,
    "repeatCell": _repeat_cell,
    "updateCells": _update_cells,
    "appendCells": _append_cells,
    "setBasicFilter": _set_basic_filter,
    "clearBasicFilter": _clear_basic_filter,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
}
