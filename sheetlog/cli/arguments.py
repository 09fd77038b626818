"""Values from the command line: ``key=value`` options and a wrapped command's ``--key value``
options (metrics in a program's output: see ``output_metrics``).

Values are typed the same way everywhere (``typed_value``): ``3`` is an int, ``0.01`` and
``1e-4`` floats, ``true``/``false`` (any case) booleans, ``nan``/``inf``/``-inf`` floats,
``null`` an empty cell, and anything else text. Wrap a value in double quotes to keep it text
(``-p 'id="007"'``); a number with leading zeros (``007``) is text too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence

from ..values import CellValue

_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_NONFINITE = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}
_NONFINITE.update({"infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf})


def typed_value(text: str) -> CellValue:
    """The value ``text`` stands for (see the module docstring)."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if lowered in _NONFINITE:
        return _NONFINITE[lowered]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            return str(json.loads(text))
        except ValueError:
            pass
    return text


def split_assignment(text: str) -> tuple[str, CellValue]:
    """``"optimizer.lr=0.1"`` -> ``("optimizer.lr", 0.1)``; ValueError without ``=`` or key."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise ValueError(f"{text!r} is not key=value")
    return key.strip(), typed_value(value)


def assignments(texts: Iterable[str]) -> dict[str, CellValue]:
    """``key=value`` arguments as a dict (a key given twice keeps its last value)."""
    return dict(split_assignment(text) for text in texts)


def command_params(args: Sequence[str]) -> dict[str, CellValue]:
    """Hyper-parameters from a command's long options: ``--lr 0.01``, ``--lr=0.01``, and
    ``--flag`` (True when no value follows). ``--batch-size`` becomes ``batch_size``, as
    argparse names it. Short options, positional arguments and everything after ``--`` are
    not parameters; an option followed by several values keeps the first.
    """
    params: dict[str, CellValue] = {}
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg == "--":
            break
        if not arg.startswith("--") or len(arg) == 2:
            continue
        name, equals, value = arg[2:].partition("=")
        key = name.replace("-", "_")
        if not key.strip("_"):
            continue
        if equals:
            params[key] = typed_value(value)
        elif position < len(args) and _is_value(args[position]):
            params[key] = typed_value(args[position])
            position += 1
        else:
            params[key] = True
    return params


def _is_value(arg: str) -> bool:
    """An argument that is an option's value: not an option, unless it is a negative number."""
    return not arg.startswith("-") or isinstance(typed_value(arg), (int, float))
