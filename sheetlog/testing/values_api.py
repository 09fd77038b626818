"""spreadsheets.values: get, batchGet, update, append, clear, batchUpdate, batchClear."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .a1 import MAX_COLUMNS, A1Range, col_letters, format_range
from .cells import FORMULA, CellError, Entered, parse_input, render
from .formula import Evaluator
from .grid import (
    MAX_CELLS,
    Sheet,
    Spreadsheet,
    cells_limit_error,
    clip,
    grid_limits_error,
    invalid_argument,
)

Params = dict[str, list[str]]

VALUE_RENDER = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
DATETIME_RENDER = ("SERIAL_NUMBER", "FORMATTED_STRING")
DIMENSIONS = ("ROWS", "COLUMNS")
INPUT_OPTIONS = ("RAW", "USER_ENTERED")
INSERT_OPTIONS = ("OVERWRITE", "INSERT_ROWS")


def param(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def enum_param(params: Params, name: str, field: str, allowed: tuple, default: str | None) -> Any:
    value = param(params, name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise invalid_argument(f"Invalid value at '{field}' (TYPE_ENUM), \"{value}\"", field)
    return value


def bool_param(params: Params, name: str) -> bool:
    value = param(params, name)
    return value is not None and value.lower() in ("true", "1")


def input_option(params: Params) -> bool:
    """True for USER_ENTERED; Google refuses a write without valueInputOption."""
    value = enum_param(params, "valueInputOption", "value_input_option", INPUT_OPTIONS, None)
    if value is None:
        raise invalid_argument("'valueInputOption' is required but not specified")
    return value == "USER_ENTERED"


def render_options(params: Params, prefix: str = "") -> tuple[str, str]:
    vr_name = "responseValueRenderOption" if prefix else "valueRenderOption"
    dt_name = "responseDateTimeRenderOption" if prefix else "dateTimeRenderOption"
    vr = enum_param(params, vr_name, _snake(vr_name), VALUE_RENDER, "FORMATTED_VALUE")
    dt = enum_param(params, dt_name, _snake(dt_name), DATETIME_RENDER, "SERIAL_NUMBER")
    return vr, dt


def _snake(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)


# ---------------------------------------------------------------- reading


def read_block(
    sheet: Sheet,
    ev: Evaluator,
    bounds: tuple[int, int, int, int],
    major: str,
    value_render: str,
    datetime_render: str,
) -> list[list]:
    """The values of a block as the API returns them: trailing empties trimmed, ``""`` for
    empty cells before the last value of a row, ``[]`` for an empty row before the last row."""
    r0, r1, c0, c1 = bounds
    lines: dict[int, dict[int, Any]] = {}
    for row in [r for r in sheet.cells if r0 <= r < r1]:
        for col, cell in sheet.cells[row].items():
            if c0 <= col < c1 and cell.kind is not None:
                value = ev.value(sheet, row, col) if cell.kind == FORMULA else cell.value
                out = render(cell, value, value_render, datetime_render)
                if out is not None and out != "":
                    i, j = (row - r0, col - c0) if major == "ROWS" else (col - c0, row - r0)
                    lines.setdefault(i, {})[j] = out
    result: list[list] = []
    for i in range(max(lines) + 1 if lines else 0):
        line = lines.get(i)
        result.append([line.get(j, "") for j in range(max(line) + 1)] if line else [])
    return result


def value_range(
    ss: Spreadsheet,
    text: str,
    major: str,
    value_render: str,
    datetime_render: str,
) -> dict:
    sheet, rng = ss.resolve(text)
    bounds = clip(sheet, rng)
    out: dict[str, Any] = {"range": format_range(sheet.title, *bounds), "majorDimension": major}
    values = read_block(sheet, Evaluator(ss.sheets), bounds, major, value_render, datetime_render)
    if values:
        out["values"] = values
    return out


def get_values(ss: Spreadsheet, text: str, params: Params) -> dict:
    major = enum_param(params, "majorDimension", "major_dimension", DIMENSIONS, "ROWS")
    return value_range(ss, text, major, *render_options(params))


def batch_get(ss: Spreadsheet, params: Params) -> dict:
    major = enum_param(params, "majorDimension", "major_dimension", DIMENSIONS, "ROWS")
    options = render_options(params)
    out: dict[str, Any] = {"spreadsheetId": ss.id}
    ranges = params.get("ranges", [])
    if ranges:
        out["valueRanges"] = [value_range(ss, text, major, *options) for text in ranges]
    return out


# ---------------------------------------------------------------- writing


@dataclass
class Plan:
    """Cells one ValueRange will write, checked but not applied yet."""

    sheet: Sheet
    cells: list[tuple[int, int, Entered]]
    top: int
    left: int
    rows: int
    cols: int

    def updated(self, ss: Spreadsheet) -> dict:
        out: dict[str, Any] = {"spreadsheetId": ss.id}
        if not self.cells:
            return out
        rows = {r for r, _, _ in self.cells}
        cols = {c for _, c, _ in self.cells}
        out["updatedRange"] = format_range(
            self.sheet.title, min(rows), max(rows) + 1, min(cols), max(cols) + 1
        )
        out["updatedRows"] = len(rows)
        out["updatedColumns"] = len(cols)
        out["updatedCells"] = len(self.cells)
        return out

    def bounds(self) -> tuple[int, int, int, int]:
        rows = [r for r, _, _ in self.cells]
        cols = [c for _, c, _ in self.cells]
        return min(rows), max(rows) + 1, min(cols), max(cols) + 1

    def apply(self) -> None:
        for row, col, entered in self.cells:
            self.sheet.put(row, col, entered)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def checked_values(body: Any, field: str) -> tuple[list[list], str]:
    """The ``values`` and ``majorDimension`` of a ValueRange body, validated like Google."""
    if not isinstance(body, dict):
        raise invalid_argument(
            f"Invalid value at '{field}' (type.googleapis.com/google.apps.sheets.v4.ValueRange), "
            f"{_json_text(body)}",
            field,
        )
    major = body.get("majorDimension") or "ROWS"
    if major not in DIMENSIONS:
        msg = (
            f"Invalid value at '{field}.major_dimension' "
            f"(type.googleapis.com/google.apps.sheets.v4.Dimension), {_json_text(major)}"
        )
        raise invalid_argument(msg, f"{field}.major_dimension")
    values = body.get("values")
    if values is None:
        return [], major
    if not isinstance(values, list):
        msg = (
            f"Invalid value at '{field}.values' (type.googleapis.com/google.protobuf.ListValue), "
            f"{_json_text(values)}"
        )
        raise invalid_argument(msg, f"{field}.values")
    for i, line in enumerate(values):
        if not isinstance(line, list):
            msg = (
                f"Invalid value at '{field}.values[{i}]' "
                f"(type.googleapis.com/google.protobuf.ListValue), {_json_text(line)}"
            )
            raise invalid_argument(msg, f"{field}.values[{i}]")
    return values, major


def plan_write(
    sheet: Sheet,
    top: int,
    left: int,
    values: list[list],
    major: str,
    user_entered: bool,
) -> Plan:
    cells = []
    rows = cols = 0
    for i, line in enumerate(values):
        for j, value in enumerate(line):
            try:
                entered = parse_input(value, user_entered)
            except CellError as exc:
                if str(exc) == "too long":
                    raise invalid_argument(
                        "Your input contains more than the maximum of 50000 characters in a "
                        "single cell."
                    ) from None
                kind = "struct_value" if isinstance(value, dict) else "list_value"
                raise invalid_argument(
                    f"Invalid values[{i}][{j}]: {kind} {_json_text(value)}"
                ) from None
            r, c = (top + i, left + j) if major == "ROWS" else (top + j, left + i)
            rows, cols = max(rows, r - top + 1), max(cols, c - left + 1)
            if entered is not None:
                cells.append((r, c, entered))
    return Plan(sheet, cells, top, left, rows, cols)


def _plan_update(ss: Spreadsheet, text: str, body: Any, field: str, user_entered: bool) -> Plan:
    values, major = checked_values(body, field)
    sheet, rng = ss.resolve(text)
    top, left = rng.r0 or 0, rng.c0 or 0
    plan = plan_write(sheet, top, left, values, major, user_entered)
    _check_within(sheet, rng, plan)
    if plan.rows and (top + plan.rows > sheet.row_count or left + plan.cols > sheet.col_count):
        if left + plan.cols > sheet.col_count:
            raise grid_limits_error(sheet, top, max(left, sheet.col_count))
        raise grid_limits_error(sheet, max(top, sheet.row_count), left)
    return plan


def _check_within(sheet: Sheet, rng: A1Range, plan: Plan) -> None:
    """A range with explicit bounds (other than a single cell) limits what may be written."""
    if rng.single_cell or not plan.rows:
        return
    r1 = rng.r1
    c1 = rng.c1
    shown = format_range(
        sheet.title,
        plan.top,
        r1 if r1 is not None else sheet.row_count,
        plan.left,
        c1 if c1 is not None else sheet.col_count,
    )
    if r1 is not None and plan.top + plan.rows > r1:
        raise invalid_argument(
            f"Requested writing within range [{shown}], but tried writing to row [{r1 + 1}]"
        )
    if c1 is not None and plan.left + plan.cols > c1:
        raise invalid_argument(
            f"Requested writing within range [{shown}], but tried writing to column "
            f"[{col_letters(c1)}]"
        )


def _with_data(ss: Spreadsheet, plan: Plan, out: dict, params: Params, major: str) -> dict:
    if bool_param(params, "includeValuesInResponse") and plan.cells:
        vr, dt = render_options(params, prefix="response")
        bounds = plan.bounds()
        data: dict[str, Any] = {
            "range": format_range(plan.sheet.title, *bounds),
            "majorDimension": major,
        }
        values = read_block(plan.sheet, Evaluator(ss.sheets), bounds, major, vr, dt)
        if values:
            data["values"] = values
        out["updatedData"] = data
    return out


def update_values(ss: Spreadsheet, text: str, params: Params, body: Any) -> dict:
    user_entered = input_option(params)
    plan = _plan_update(ss, text, body, "data", user_entered)
    plan.apply()
    ss.touch()
    major = (body or {}).get("majorDimension") or "ROWS"
    return _with_data(ss, plan, plan.updated(ss), params, major)


def append_values(ss: Spreadsheet, text: str, params: Params, body: Any) -> dict:
    user_entered = input_option(params)
    insert = enum_param(params, "insertDataOption", "insert_data_option", INSERT_OPTIONS, None)
    values, major = checked_values(body, "data")
    sheet, rng = ss.resolve(text)
    r0, r1, c0, c1 = clip(sheet, rng)
    table = None
    if rng.single_cell:
        if sheet.filled(r0, c0):
            table = sheet.region(r0, c0, (r0, sheet.row_count, c0, sheet.col_count))
    else:
        last = sheet.last_filled(r0, r1, c0, c1)
        if last is not None:
            table = sheet.region(*last, (r0, r1, c0, c1))
    top, left = (table[1], table[2]) if table else (r0, c0)
    plan = plan_write(sheet, top, left, values, major, user_entered)
    rows, cols = sheet.row_count, sheet.col_count
    inserting = insert == "INSERT_ROWS" and plan.rows > 0 and top < rows
    new_rows = rows + plan.rows if inserting else max(rows, top + plan.rows)
    new_cols = max(cols, left + plan.cols)
    if new_cols > MAX_COLUMNS:
        raise invalid_argument(
            f"This action would increase the number of columns in the sheet above the limit "
            f"of {MAX_COLUMNS}."
        )
    if ss.total_cells() - rows * cols + new_rows * new_cols > MAX_CELLS:
        raise cells_limit_error()
    if inserting:
        sheet.insert("ROWS", top, plan.rows)
        created = (top, plan.rows)
    else:
        created = (rows, new_rows - rows)
    sheet.row_count, sheet.col_count = new_rows, new_cols
    # Rows the append inserts (or adds at the end) take the formats of the row above them:
    # Google users see appended rows copy the table's last row (a bold header makes them bold).
    sheet.copy_formats("ROWS", created[0] - 1, *created)
    plan.apply()
    ss.touch()
    out: dict[str, Any] = {"spreadsheetId": ss.id}
    if table:
        out["tableRange"] = format_range(sheet.title, *table)
    out["updates"] = _with_data(ss, plan, plan.updated(ss), params, major)
    return out


def clear_values(ss: Spreadsheet, text: str) -> dict:
    sheet, rng = ss.resolve(text)
    bounds = clip(sheet, rng)
    sheet.clear_values(*bounds)
    ss.touch()
    return {"spreadsheetId": ss.id, "clearedRange": format_range(sheet.title, *bounds)}


def batch_update_values(ss: Spreadsheet, body: Any) -> dict:
    if not isinstance(body, dict):
        body = {}
    option = body.get("valueInputOption")
    if option is None:
        raise invalid_argument("'valueInputOption' is required but not specified")
    if option not in INPUT_OPTIONS:
        raise invalid_argument(
            f"Invalid value at 'value_input_option' "
            f"(type.googleapis.com/google.apps.sheets.v4.ValueInputOption), {_json_text(option)}",
            "value_input_option",
        )
    data = body.get("data") or []
    plans = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not item.get("range"):
            raise invalid_argument(f"Invalid data[{i}]: Missing range.")
        plans.append(
            (
                _plan_update(ss, item["range"], item, f"data[{i}]", option == "USER_ENTERED"),
                item.get("majorDimension") or "ROWS",
            )
        )
    for plan, _ in plans:
        plan.apply()
    if plans:
        ss.touch()
    params: Params = {
        k: [str(body[k])]
        for k in (
            "includeValuesInResponse",
            "responseValueRenderOption",
            "responseDateTimeRenderOption",
        )
        if k in body
    }
    responses = [_with_data(ss, plan, plan.updated(ss), params, major) for plan, major in plans]
    out: dict[str, Any] = {"spreadsheetId": ss.id}
    if plans:
        out["totalUpdatedRows"] = sum(r.get("updatedRows", 0) for r in responses)
        out["totalUpdatedColumns"] = sum(r.get("updatedColumns", 0) for r in responses)
        out["totalUpdatedCells"] = sum(r.get("updatedCells", 0) for r in responses)
        out["totalUpdatedSheets"] = len({id(p.sheet) for p, _ in plans if p.cells})
        out["responses"] = responses
    return out


def batch_clear(ss: Spreadsheet, body: Any) -> dict:
    ranges = (body or {}).get("ranges") or [] if isinstance(body, dict) else []
    resolved = []
    for text in ranges:
        sheet, rng = ss.resolve(text)
        resolved.append((sheet, clip(sheet, rng)))
    for sheet, bounds in resolved:
        sheet.clear_values(*bounds)
    if resolved:
        ss.touch()
    out: dict[str, Any] = {"spreadsheetId": ss.id}
    if resolved:
        out["clearedRanges"] = [format_range(s.title, *b) for s, b in resolved]
    return out
