"""Column names: flattening nested configs, cleaning keys, ordering groups, matching a header.

A record is a flat ``{column name: value}`` dict. Columns are matched to a sheet's header by name,
never by position (see ``match_header`` for the rules, including adopting a hand-kept sheet's bare
column names such as ``lr``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .values import storable_text

#: Column groups, in the order new columns are laid out. A name belongs to the first group whose
#: pattern matches it; anything else is a context column and goes last.
_GROUPS: list[tuple[str, re.Pattern[str]]] = [
    ("id", re.compile(r"run_id$")),
    ("identity", re.compile(r"(name|status)$")),
    ("times", re.compile(r"(start_time|end_time|duration_s)$")),
    ("params", re.compile(r"params\.")),
    ("metrics", re.compile(r"metrics\.")),
    ("tags", re.compile(r"tags\.")),
    ("model", re.compile(r"model_")),
    ("outcome", re.compile(r"(notes|error)$")),
]

#: The column where a run keeps the direction it declared for its metrics (``define_metric``):
#: a JSON object such as ``{"wer": "min"}``. Part of the row, it goes wherever the row goes.
GOALS_COLUMN = "metric_goals"

#: Prefixes whose bare names may be adopted from a hand-kept sheet (``lr`` for ``params.lr``).
ADOPTABLE_PREFIXES = ("params.", "metrics.", "tags.")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean_key(key: Any) -> str:
    """A column-safe key: text, control characters and line breaks folded to one space, trimmed.

    Raises ``ValueError`` for a key that is empty once cleaned: that is a mistake in the caller's
    code, not something to guess around.
    """
    text = storable_text(_CONTROL.sub(" ", str(key)).strip())
    if not text:
        raise ValueError(f"empty parameter, metric or tag name: {key!r}")
    return text


def flatten(prefix: str, mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """``{"optimizer": {"lr": 0.1}}`` with prefix ``params`` -> ``{"params.optimizer.lr": 0.1}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}.{clean_key(key)}" if prefix else clean_key(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(name, value))
        else:
            flat[name] = value
    return flat


def group_of(name: str) -> int:
    """Position of ``name``'s group in the column layout (context columns come last)."""
    for position, (_, pattern) in enumerate(_GROUPS):
        if pattern.match(name):
            return position
    return len(_GROUPS)


def order_columns(names: Iterable[str]) -> list[str]:
    """Order new column names by group, keeping first-seen order inside a group."""
    return sorted(dict.fromkeys(names), key=group_of)  # sorted() is stable


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _fold_bare(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip()).casefold()


def match_header(header: list[str | None], names: Iterable[str]) -> dict[str, int]:
    """Map record column names to header positions (0-based); names missing from the map are new.

    Rules, in order:
      1. the header cell equals the name;
      2. the header cell equals it ignoring case and runs of spaces (``Params.LR``);
      3. adopting a hand-kept sheet: a bare header such as ``lr`` or ``Learning rate`` takes
         ``params.lr`` / ``params.learning_rate`` (likewise ``metrics.`` and ``tags.``) when
         the header has no column for the prefixed name, exactly one header cell folds to that bare
         name (case, spaces and hyphens ignored), and exactly one of the names being written has
         that bare name (``params.lr`` and ``metrics.lr`` together are ambiguous: both get their own
         prefixed columns).
    A header cell is used for one name at most.
    """
    wanted = list(dict.fromkeys(names))
    exact = {cell: i for i, cell in reversed(list(enumerate(header))) if cell}
    folded: dict[str, list[int]] = {}
    for i, cell in enumerate(header):
        if cell:
            folded.setdefault(_fold(cell), []).append(i)
    mapping: dict[str, int] = {}
    taken: set[int] = set()
    for name in wanted:
        position = exact.get(name)
        if position is None and len(folded.get(_fold(name), [])) == 1:
            position = folded[_fold(name)][0]
        if position is not None and position not in taken:
            mapping[name] = position
            taken.add(position)
    _adopt_bare_columns(header, wanted, mapping, taken)
    return mapping


def _adopt_bare_columns(
    header: list[str | None], wanted: list[str], mapping: dict[str, int], taken: set[int]
) -> None:
    bare_cells: dict[str, list[int]] = {}
    for i, cell in enumerate(header):
        if cell and i not in taken and not cell.startswith(ADOPTABLE_PREFIXES):
            bare_cells.setdefault(_fold_bare(cell), []).append(i)
    candidates: dict[str, list[str]] = {}
    for name in wanted:
        for prefix in ADOPTABLE_PREFIXES:
            if name.startswith(prefix):
                candidates.setdefault(_fold_bare(name[len(prefix) :]), []).append(name)
    for bare, names in candidates.items():
        cells = bare_cells.get(bare, [])
        if len(names) == 1 and len(cells) == 1 and names[0] not in mapping:
            mapping[names[0]] = cells[0]
            taken.add(cells[0])
