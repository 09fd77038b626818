"""A small formula evaluator: enough of Sheets' formula language for tests and recordings.

Supported: numbers, "strings", TRUE/FALSE, cell references (``A1``, ``$B$2``, ``Sheet2!C3``,
``'My sheet'!A1``) and ranges as function arguments (``A1:B3``), the operators
``+ - * / ^ & % = <> < > <= >=``, parentheses, and the functions in ``FUNCTIONS``. Anything else
evaluates to ``#NAME?`` like an unknown function in Sheets. References are not adjusted when
rows or columns are inserted or deleted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .a1 import col_index
from .cells import FORMULA, FormulaError, auto_format

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<str>"(?:[^"]|"")*")
    | (?P<ref>(?:(?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_]*)!)?
              \$?[A-Za-z]{1,3}\$?[0-9]+(?::\$?[A-Za-z]{1,3}\$?[0-9]+)?)(?![A-Za-z0-9_(])
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<op><>|<=|>=|[-+*/^&=<>%(),;])
    )""",
    re.VERBOSE,
)
_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]+)")

PARSE_ERROR = FormulaError("ERROR", "Formula parse error.")


class _ParseError(Exception):
    pass


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _ParseError(text[pos:])
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _ParseError("end")
        self.i += 1
        return tok

    def accept(self, *ops: str) -> str | None:
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in ops:
            self.i += 1
            return tok[1]
        return None

    def parse(self) -> tuple:
        node = self.compare()
        if self.peek() is not None:
            raise _ParseError("trailing")
        return node

    def compare(self) -> tuple:
        node = self.concat()
        while op := self.accept("=", "<>", "<", ">", "<=", ">="):
            node = ("bin", op, node, self.concat())
        return node

    def concat(self) -> tuple:
        node = self.additive()
        while self.accept("&"):
            node = ("bin", "&", node, self.additive())
        return node

    def additive(self) -> tuple:
        node = self.term()
        while op := self.accept("+", "-"):
            node = ("bin", op, node, self.term())
        return node

    def term(self) -> tuple:
        node = self.power()
        while op := self.accept("*", "/"):
            node = ("bin", op, node, self.power())
        return node

    def power(self) -> tuple:
        node = self.unary()
        while self.accept("^"):
            node = ("bin", "^", node, self.unary())
        return node

    def unary(self) -> tuple:
        if op := self.accept("+", "-"):
            return ("neg", self.unary()) if op == "-" else self.unary()
        node = self.primary()
        while self.accept("%"):
            node = ("pct", node)
        return node

    def primary(self) -> tuple:
        kind, text = self.take()
        if kind == "num":
            return ("val", float(text))
        if kind == "str":
            return ("val", text[1:-1].replace('""', '"'))
        if kind == "ref":
            sheet, _, cells = text.rpartition("!")
            if sheet.startswith("'"):
                sheet = sheet[1:-1].replace("''", "'")
            first, _, last = cells.partition(":")
            r0, c0 = _cell(first)
            r1, c1 = _cell(last) if last else (r0, c0)
            return ("ref", sheet or None, min(r0, r1), max(r0, r1), min(c0, c1), max(c0, c1))
        if kind == "name":
            if self.accept("("):
                args = []
                if not self.accept(")"):
                    args.append(self.compare())
                    while self.accept(",", ";"):
                        args.append(self.compare())
                    if not self.accept(")"):
                        raise _ParseError(")")
                return ("call", text.upper(), args)
            if text.upper() in ("TRUE", "FALSE"):
                return ("val", text.upper() == "TRUE")
            return ("name", text)
        if kind == "op" and text == "(":
            node = self.compare()
            if not self.accept(")"):
                raise _ParseError(")")
            return node
        raise _ParseError(text)


def _cell(text: str) -> tuple[int, int]:
    m = _CELL.fullmatch(text)
    assert m
    return int(m.group(2)) - 1, col_index(m.group(1))


class _Range(list):
    """The values of a range argument, row by row."""


class Evaluator:
    """Evaluates formula cells of one spreadsheet; results are cached for one request."""

    def __init__(self, sheets: list):
        self.sheets = sheets
        self._cache: dict[tuple[int, int, int], Any] = {}
        self._stack: set[tuple[int, int, int]] = set()

    def value(self, sheet: Any, row: int, col: int) -> Any:
        """The effective value of a cell: None when empty."""
        cell = sheet.get(row, col)
        if cell is None or cell.kind is None:
            return None
        if cell.kind != FORMULA:
            return cell.value
        key = (sheet.sheet_id, row, col)
        if key in self._cache:
            return self._cache[key]
        if key in self._stack:
            return FormulaError(
                "REF",
                "Circular dependency detected. To resolve with iterative calculation, "
                "see File > Settings.",
            )
        self._stack.add(key)
        try:
            result = self.evaluate(cell.value, sheet)
        finally:
            self._stack.discard(key)
        self._cache[key] = result
        return result

    def evaluate(self, formula: str, sheet: Any) -> Any:
        try:
            node = _Parser(tokenize(formula[1:])).parse()
        except (_ParseError, AssertionError):
            return PARSE_ERROR
        try:
            result = self._eval(node, sheet)
        except _Raised as raised:
            return raised.error
        if isinstance(result, _Range):
            result = result[0][0] if result and result[0] else None
        if result is None:
            return 0.0
        if isinstance(result, float) and (math.isnan(result) or math.isinf(result)):
            return FormulaError("NUM", "The result is not a finite number.")
        return result

    # evaluation -------------------------------------------------------------------------

    def _eval(self, node: tuple, sheet: Any) -> Any:
        kind = node[0]
        if kind == "val":
            return node[1]
        if kind == "ref":
            _, name, r0, r1, c0, c1 = node
            target = sheet if name is None else self._sheet(name)
            if (r0, c0) == (r1, c1):
                return _check(self.value(target, r0, c0))
            return _Range(
                [[self.value(target, r, c) for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]
            )
        if kind == "name":
            raise _Raised(FormulaError("NAME", f"Unknown range name: '{node[1].upper()}'."))
        if kind == "neg":
            return -_num(self._scalar(node[1], sheet), "UMINUS", 1)
        if kind == "pct":
            return _num(self._scalar(node[1], sheet), "UNARY_PERCENT", 1) / 100
        if kind == "bin":
            return self._binary(node[1], node[2], node[3], sheet)
        if kind == "call":
            fn = FUNCTIONS.get(node[1])
            if fn is None:
                raise _Raised(FormulaError("NAME", f"Unknown function: '{node[1].lower()}'."))
            if node[1] == "IF":
                return self._if(node[2], sheet)
            return fn([self._eval(arg, sheet) for arg in node[2]])
        raise _Raised(PARSE_ERROR)

    def _scalar(self, node: tuple, sheet: Any) -> Any:
        value = self._eval(node, sheet)
        if isinstance(value, _Range):
            value = value[0][0] if value and value[0] else None
        return _check(value)

    def _binary(self, op: str, left: tuple, right: tuple, sheet: Any) -> Any:
        a, b = self._scalar(left, sheet), self._scalar(right, sheet)
        if op == "&":
            return _text(a) + _text(b)
        if op in ("=", "<>", "<", ">", "<=", ">="):
            ka, kb = _sort_key(a), _sort_key(b)
            return {
                "=": ka == kb,
                "<>": ka != kb,
                "<": ka < kb,
                ">": ka > kb,
                "<=": ka <= kb,
                ">=": ka >= kb,
            }[op]
        name = {"+": "ADD", "-": "MINUS", "*": "MULTIPLY", "/": "DIVIDE", "^": "POW"}[op]
        x, y = _num(a, name, 1), _num(b, name, 2)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            if y == 0:
                raise _Raised(
                    FormulaError("DIVIDE_BY_ZERO", "Function DIVIDE parameter 2 cannot be zero.")
                )
            return x / y
        try:
            return float(x**y)
        except (OverflowError, ZeroDivisionError, TypeError):
            raise _Raised(FormulaError("NUM", "Function POW result is not a number.")) from None

    def _if(self, args: list, sheet: Any) -> Any:
        if not 2 <= len(args) <= 3:
            raise _Raised(_arg_count("IF", len(args)))
        cond = self._scalar(args[0], sheet)
        if _truthy(cond, "IF"):
            return self._eval(args[1], sheet)
        return self._eval(args[2], sheet) if len(args) == 3 else False

    def _sheet(self, name: str) -> Any:
        for sheet in self.sheets:
            if sheet.title.casefold() == name.casefold():
                return sheet
        raise _Raised(FormulaError("REF", f"Unresolved sheet name '{name}'."))


class _Raised(Exception):
    def __init__(self, error: FormulaError):
        self.error = error


def _check(value: Any) -> Any:
    if isinstance(value, FormulaError):
        raise _Raised(value)
    return value


def _num(value: Any, fn: str, position: int) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Raised(
            FormulaError(
                "VALUE",
                f"Function {fn} parameter {position} expects number values. But '{value}' is a "
                "text and cannot be coerced to a number.",
            )
        ) from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return auto_format(value)
    return str(value)


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0.0)
    if isinstance(value, bool):
        return (2, float(value))
    if isinstance(value, float):
        return (0, value)
    return (1, str(value).casefold())


def _truthy(value: Any, fn: str) -> bool:
    if isinstance(value, str):
        if value.upper() in ("TRUE", "FALSE"):
            return value.upper() == "TRUE"
        raise _Raised(FormulaError("VALUE", f"Function {fn} parameter 1 expects boolean values."))
    return bool(_num(value, fn, 1))


def _arg_count(fn: str, n: int) -> FormulaError:
    return FormulaError("N_A", f"Wrong number of arguments to {fn}. Found {n} arguments.")


def _numbers(args: list, fn: str) -> list[float]:
    """Numbers among the arguments: ranges contribute only their number cells."""
    out = []
    for position, arg in enumerate(args, 1):
        if isinstance(arg, _Range):
            for row in arg:
                for v in row:
                    _check(v)
                    if isinstance(v, float):
                        out.append(v)
        else:
            out.append(_num(_check(arg), fn, position))
    return out


def _scalars(args: list) -> list:
    out = []
    for arg in args:
        if isinstance(arg, _Range):
            out.extend(_check(v) for row in arg for v in row)
        else:
            out.append(_check(arg))
    return out


def _fixed(fn: str, lo: int, hi: int, impl: Callable[..., Any]) -> Callable[[list], Any]:
    def call(args: list) -> Any:
        if not lo <= len(args) <= hi:
            raise _Raised(_arg_count(fn, len(args)))
        values = [_check(a[0][0] if isinstance(a, _Range) and a and a[0] else a) for a in args]
        return impl(*values)

    return call


def _average(args: list) -> float:
    nums = _numbers(args, "AVERAGE")
    if not nums:
        raise _Raised(
            FormulaError(
                "DIVIDE_BY_ZERO", "Evaluation of function AVERAGE caused a divide by zero error."
            )
        )
    return sum(nums) / len(nums)


def _round(x: Any, digits: Any = 0.0) -> float:
    q = 10.0 ** int(_num(digits, "ROUND", 2))
    v = _num(x, "ROUND", 1) * q
    return float(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1) / q


def _mod(a: Any, b: Any) -> float:
    x, y = _num(a, "MOD", 1), _num(b, "MOD", 2)
    if y == 0:
        raise _Raised(FormulaError("DIVIDE_BY_ZERO", "Function MOD parameter 2 cannot be zero."))
    return x - y * math.floor(x / y)


def _sqrt(x: Any) -> float:
    v = _num(x, "SQRT", 1)
    if v < 0:
        raise _Raised(
            FormulaError(
                "NUM", "Function SQRT parameter 1 value is negative. It should be positive or zero."
            )
        )
    return math.sqrt(v)


FUNCTIONS: dict[str, Callable[[list], Any]] = {
    "SUM": lambda args: float(sum(_numbers(args, "SUM"))),
    "AVERAGE": _average,
    "MIN": lambda args: float(min(_numbers(args, "MIN"), default=0.0)),
    "MAX": lambda args: float(max(_numbers(args, "MAX"), default=0.0)),
    "COUNT": lambda args: float(
        sum(1 for v in _scalars(args) if isinstance(v, float) and not isinstance(v, bool))
    ),
    "COUNTA": lambda args: float(sum(1 for v in _scalars(args) if v not in (None, ""))),
    "CONCATENATE": lambda args: "".join(_text(v) for v in _scalars(args)),
    "CONCAT": _fixed("CONCAT", 2, 2, lambda a, b: _text(a) + _text(b)),
    "IF": lambda args: None,  # evaluated lazily by Evaluator._if
    "AND": lambda args: all(_truthy(v, "AND") for v in _scalars(args) if v is not None),
    "OR": lambda args: any(_truthy(v, "OR") for v in _scalars(args) if v is not None),
    "NOT": _fixed("NOT", 1, 1, lambda v: not _truthy(v, "NOT")),
    "ABS": _fixed("ABS", 1, 1, lambda v: abs(_num(v, "ABS", 1))),
    "INT": _fixed("INT", 1, 1, lambda v: float(math.floor(_num(v, "INT", 1)))),
    "ROUND": _fixed("ROUND", 1, 2, _round),
    "MOD": _fixed("MOD", 2, 2, _mod),
    "SQRT": _fixed("SQRT", 1, 1, _sqrt),
    "POWER": _fixed("POWER", 2, 2, lambda a, b: _num(a, "POWER", 1) ** _num(b, "POWER", 2)),
    "PI": _fixed("PI", 0, 0, lambda: math.pi),
    "LEN": _fixed("LEN", 1, 1, lambda v: float(len(_text(v)))),
    "UPPER": _fixed("UPPER", 1, 1, lambda v: _text(v).upper()),
    "LOWER": _fixed("LOWER", 1, 1, lambda v: _text(v).lower()),
    "TRUE": _fixed("TRUE", 0, 0, lambda: True),
    "FALSE": _fixed("FALSE", 0, 0, lambda: False),
    "HYPERLINK": _fixed("HYPERLINK", 1, 2, lambda url, label=None: _text(label or url)),
}
