"""Column names: flattening nested configs, cleaning keys, ordering groups, matching a header.

A record is a flat ``{column name: value}`` dict. Columns are matched to a sheet's header by name,
never by position (see ``match_header`` for the rules, including adopting a hand-kept sheet's bare
column names such as ``lr``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import warn
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

#: The longest column name: a header cell holds 32,767 characters (counted in UTF-16 units).
MAX_NAME_CHARS = 32_767
#: The longest key: room is left for the longest prefix, ``metrics.``.
MAX_KEY_CHARS = MAX_NAME_CHARS - len("metrics.")


def clean_key(key: Any) -> str:
    """A column-safe key: text, control characters and line breaks folded to one space, trimmed.

    Raises ``ValueError`` for a key that is empty once cleaned: that is a mistake in the caller's
    code, not something to guess around.
    """
    text = storable_text(_CONTROL.sub(" ", _key_text(key)).strip())
    if not text:
        raise ValueError(f"empty parameter, metric or tag name: {key!r}")
    return text


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    try:
        return str(key)
    except Exception as error:  # noqa: BLE001 - e.g. an int of more than 4,300 digits
        raise ValueError(f"a key of type {type(key).__name__} has no text: {error}") from None


def _check_length(name: str, limit: int) -> None:
    length = len(name.encode("utf-16-le")) // 2 if len(name) > limit // 2 else len(name)
    if length > limit:
        raise ValueError(
            f"the name {name[:40]!r}... is {length:,} characters long: a column name must fit in"
            f" a spreadsheet cell ({MAX_NAME_CHARS:,} characters with its prefix, such as"
            " 'params.'). Use a shorter key."
        )


def flatten(prefix: str, mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """``{"optimizer": {"lr": 0.1}}`` with prefix ``params`` -> ``{"params.optimizer.lr": 0.1}``.

    Two keys that end up with the same name (``{"a": {"b": 1}, "a.b": 2}``) keep the later
    value; a ``SheetlogWarning`` names both keys and both values.
    """
    flat: dict[str, Any] = {}
    origin: dict[str, str] = {}
    _flatten_into(flat, origin, prefix, "", mapping, set())
    return flat


def _flatten_into(
    flat: dict[str, Any],
    origin: dict[str, str],
    prefix: str,
    path: str,
    mapping: Mapping[Any, Any],
    ancestors: set[int],
) -> None:
    ancestors = ancestors | {id(mapping)}
    for key, value in mapping.items():
        name = f"{prefix}.{clean_key(key)}" if prefix else clean_key(key)
        where = f"{path}[{key!r}]"
        if isinstance(value, Mapping) and value and id(value) not in ancestors:
            _flatten_into(flat, origin, name, where, value, ancestors)
            continue
        _check_length(name, MAX_NAME_CHARS if prefix else MAX_KEY_CHARS)
        if name in flat:
            warn(
                f"{origin[name]} and {where} both name the column {name!r}: {where}'s value"
                f" {_short(value)} is kept, {_short(flat[name])} is not. Rename one of the keys."
            )
            del flat[name]  # the kept value takes the later key's place in the column order
        flat[name] = value
        origin[name] = where


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def header_name(value: Any) -> str | None:
    """A header cell as a column name, as the writers see it: a cell typed as the number 2024
    is ``2024`` (not ``2024.0``), a boolean ``TRUE`` / ``FALSE``; None for an empty cell."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return None
    return str(value).strip() or None


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


#: sheetlog's own columns: the values sheetlog writes besides a user's params, metrics and tags.
_OWN = re.compile(
    r"(run_id|name|status|start_time|end_time|duration_s|notes|error|model_\w+|command|host|user"
    r"|git\..+|sys\..+)$"
)
#: Own columns whose values sheetlog makes (not given by the user, like ``name`` and ``notes``):
#: in a hand-kept sheet they never take a header cell the user typed (``error`` there may well be
#: an error rate); their column is then named ``sheetlog.<name>`` instead.
_GENERATED = re.compile(
    r"(status|start_time|end_time|duration_s|error|model_\w+|command|host|user|git\..+|sys\..+)$"
)
OWN_PREFIX = "sheetlog."


class _Header:
    """A header row, indexed for matching names to its cells."""

    def __init__(self, header: list[str | None]) -> None:
        self.cells = header
        self.exact = {cell: i for i, cell in reversed(list(enumerate(header))) if cell}
        self.folded: dict[str, list[int]] = {}
        for i, cell in enumerate(header):
            if cell:
                self.folded.setdefault(_fold(cell), []).append(i)
        #: a sheet typed by hand that sheetlog has not written to yet (it has no run_id column)
        self.hand_kept = bool(self.exact) and _fold("run_id") not in self.folded

    def has(self, name: str) -> bool:
        return _fold(name) in self.folded

    def users(self, own: str) -> bool:
        """Whether a header cell named like the generated own column ``own`` is the user's: in
        a hand-kept sheet, and wherever the header has ``sheetlog.<own>`` (that header cell
        was added when the user's cell was found)."""
        if not _GENERATED.match(own):
            return False
        return self.has(OWN_PREFIX + own) or (self.hand_kept and self.has(own))

    def own_cell(self, cell: str) -> bool:
        """Whether a header cell is one of sheetlog's own columns (user keys never adopt it)."""
        name = _fold(cell)
        if name.startswith(OWN_PREFIX):
            return True
        return bool(_OWN.match(name)) and not self.users(name)


def _looked_up(header: _Header, name: str) -> str:
    """The header name a record column is found under: ``sheetlog.<name>`` for an own column
    whose plain name in this header is the user's."""
    if not name.startswith(ADOPTABLE_PREFIXES) and _OWN.match(name) and header.users(name):
        return OWN_PREFIX + name
    return name


def match_header(header: list[str | None], names: Iterable[str]) -> dict[str, int]:
    """Map record column names to header positions (0-based); names missing from the map are new.

    Rules, in order (docs/schema.md says the same for users):
      1. the header cell equals the name;
      2. the header cell equals it ignoring case and runs of spaces (``Params.LR``), when
         exactly one cell does and rule 1 did not give it to another name;
      3. adopting a hand-kept sheet: a bare header such as ``lr`` or ``Learning rate`` takes
         ``params.lr`` / ``params.learning_rate`` (likewise ``metrics.`` and ``tags.``) when
         the header has no column for the prefixed name, exactly one header cell folds to that bare
         name (case, spaces and hyphens ignored), and exactly one of the names being written has
         that bare name (``params.lr`` and ``metrics.lr`` together are ambiguous: both get their own
         prefixed columns). A cell that is one of sheetlog's own columns is never adopted.
    sheetlog's own generated columns (``status``, ``error``, times, model, context) are looked
    up as ``sheetlog.<name>`` where a cell with their plain name is the user's (see ``_Header``):
    a hand-kept sheet's ``error`` keeps the user's error rate, and sheetlog's exception text goes
    to ``sheetlog.error``. A header cell is used for one name at most.
    """
    index = _Header(header)
    wanted = list(dict.fromkeys(names))
    looked_up = {name: _looked_up(index, name) for name in wanted}
    mapping: dict[str, int] = {}
    taken: set[int] = set()
    for name in wanted:  # exact names first: ``params.LR`` never takes the cell of ``params.lr``
        position = index.exact.get(looked_up[name])
        if position is not None and position not in taken:
            mapping[name] = position
            taken.add(position)
    for name in wanted:
        cells = index.folded.get(_fold(looked_up[name]), [])
        if name not in mapping and len(cells) == 1 and cells[0] not in taken:
            mapping[name] = cells[0]
            taken.add(cells[0])
    _adopt_bare_columns(index, wanted, mapping, taken)
    return mapping


def header_text(header: list[str | None], name: str) -> str:
    """The header cell to write for ``name`` when it gets a new column (not in
    ``match_header``'s map): ``sheetlog.<name>`` for an own column whose plain name is the
    user's, else the name itself."""
    return _looked_up(_Header(header), name)


def reserved_columns(header: list[str | None]) -> list[str]:
    """Own columns whose ``sheetlog.<name>`` header cell the first write to a hand-kept sheet
    adds even without a value: it records that the user's cell of that name is the user's, so
    that later writes (when the header has a run_id) still leave it to them."""
    index = _Header(header)
    if not index.hand_kept:
        return []
    found = [_fold(cell) for cell in index.exact]
    return [name for name in dict.fromkeys(found) if _GENERATED.match(name)]


def _adopt_bare_columns(
    header: _Header, wanted: list[str], mapping: dict[str, int], taken: set[int]
) -> None:
    bare_cells: dict[str, list[int]] = {}
    for i, cell in enumerate(header.cells):
        if (
            cell
            and i not in taken
            and not cell.startswith(ADOPTABLE_PREFIXES)
            and not header.own_cell(cell)
        ):
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
