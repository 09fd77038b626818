"""``--where`` conditions: ``NAME OP VALUE`` parsed in plain Python, evaluated with pandas.

Column names contain dots (``params.lr``), so a condition is parsed here rather than handed to
``DataFrame.query`` or ``eval``. Each column is typed as ``sheetlog.load`` types it before the
comparison; a missing value satisfies only ``!=``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .backends.base import Table
from .errors import QueryError

if TYPE_CHECKING:
    import pandas as pd

OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">", "~")
_CONDITION = re.compile(
    r"^\s*(?P<name>[^<>=!~]+?)\s*(?P<op>" + "|".join(map(re.escape, OPERATORS)) + r")\s*"
    r"(?P<value>.*?)\s*$",
    re.DOTALL,
)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?inf$", re.IGNORECASE)


@dataclass
class Condition:
    """One ``NAME OP VALUE``, its name already resolved to a column."""

    column: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str, columns: list[str]) -> Condition:
        from .query import resolve_column

        match = _CONDITION.match(text)
        if not match or not match["name"].strip():
            raise QueryError(
                f"{text!r} is not NAME OP VALUE (OP one of = != < <= > >= ~)", "--where"
            )
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        op = "=" if match["op"] == "==" else match["op"]
        return cls(resolve_column(match["name"], columns, "--where"), op, value)


def matching_rows(table: Table, conditions: list[Condition]) -> list[int]:
    """The positions of the rows of a ``plain_table`` that satisfy every condition."""
    import pandas as pd

    from .reading import to_dataframe

    names = list(dict.fromkeys(condition.column for condition in conditions))
    where = [table.header.index(name) for name in names]
    rows = [[row[i] for i in where] for row in table.rows]
    frame = to_dataframe(Table(names, rows, table.nonfinite_texts))
    keep = pd.Series(True, index=frame.index)
    for condition in conditions:
        keep &= condition_mask(condition, frame)
    return [int(row) for row in keep.to_numpy().nonzero()[0]]


def condition_mask(condition: Condition, frame: pd.DataFrame) -> pd.Series:
    """Which rows of ``frame`` satisfy the condition (a missing value satisfies only ``!=``)."""
    series = frame[condition.column]
    if condition.op == "~":
        # Python's re, not pandas' str.contains: with pyarrow strings that is RE2, which has
        # other syntax and raises its own error (a usage error must say its cause).
        try:
            pattern = re.compile(condition.value, re.IGNORECASE)
        except re.error as error:
            raise QueryError(
                f"{condition.value!r} is not a regular expression ({error})", "--where"
            ) from None
        found = as_text(series).map(lambda text: bool(pattern.search(text)), na_action="ignore")
        return found.fillna(False).astype(bool) & series.notna()
    left, right = _operands(condition, series)
    result = _compare(left, condition.op, right)
    return result.fillna(condition.op == "!=").astype(bool)


def _operands(condition: Condition, series: pd.Series) -> tuple[pd.Series, Any]:
    import pandas as pd

    value = condition.value
    if pd.api.types.is_datetime64_any_dtype(series):
        try:
            when = pd.Timestamp(value)
        except ValueError:
            raise QueryError(
                f"{condition.column} holds times; {value!r} is not one (write a date or a time"
                " in UTC: 2026-01-31, '2026-01-31 14:00')",
                "--where",
            ) from None
        return series, when.tz_localize("UTC") if when.tzinfo is None else when
    if value.lower() in ("true", "false") and not pd.api.types.is_string_dtype(series):
        return series, value.lower() == "true"
    if pd.api.types.is_numeric_dtype(series):
        if not _NUMBER.match(value):
            raise QueryError(f"{condition.column} holds numbers; {value!r} is not one", "--where")
        return series, float(value)
    if _NUMBER.match(value) and condition.op != "=" and condition.op != "!=":
        return pd.to_numeric(series, errors="coerce"), float(value)
    if condition.column == "status":
        value = value.upper()
    if _NUMBER.match(value):  # text or mixed column: 3 matches the number 3 and the text "3"
        numbers = pd.to_numeric(series, errors="coerce")
        same = (numbers == float(value)) | (as_text(series) == value)
        return same, True
    return as_text(series), value


def _compare(left: pd.Series, op: str, right: Any) -> pd.Series:
    if op == "=":
        result = left == right
    elif op == "!=":
        result = left != right
    elif op == "<":
        result = left < right
    elif op == "<=":
        result = left <= right
    elif op == ">":
        result = left > right
    else:
        result = left >= right
    return result.where(left.notna(), None) if op != "!=" else result.where(left.notna(), True)


def as_text(series: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        return series
    return series.map(str, na_action="ignore").astype("str")
