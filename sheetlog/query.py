"""Questions asked of a runs table: which runs (``where``), in what order, which is best, what
differs. The CLI's ``ls``, ``best`` and ``diff`` are thin layers over this module, and so are
``sheetlog.select``, ``sheetlog.best`` and ``sheetlog.diff``.

- Columns may be named short: ``lr`` for ``params.lr`` when only one of ``params.``,
  ``metrics.``, ``tags.`` + ``lr`` exists (``resolve_column``).
- Whether lower or higher is better is data: a run keeps the goals it declared with
  ``define_metric`` in its ``metric_goals`` column (see docs/schema.md). Only when no run declared
  one is the goal guessed from the metric's name, and ``Goal.source`` says so.
- Selecting and ordering (``select_rows``) work on the plain table in plain Python: ``sheetlog ls``
  starts in a fraction of a second because it does not import pandas (about 0.5 s) unless
  ``--where`` needs it. ``best`` and ``diff`` work on a ``sheetlog.load()`` DataFrame.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .backends.base import Table
from .errors import QueryError
from .reading import Column, typed_columns
from .schema import ADOPTABLE_PREFIXES, GOALS_COLUMN, group_of
from .where import Condition

if TYPE_CHECKING:
    import pandas as pd

    from .code_changes import CodeChanges

Direction = Literal["min", "max"]

#: Words that make a metric "lower is better" when no run declared its goal: anywhere in the name
#: for the long ones, as a whole word (between _ . - or digits) for the short ones.
_LOWER_WORDS = ("loss", "error", "perplexity", "latency", "runtime", "duration", "elapsed")
_LOWER_TOKENS = frozenset(
    ["err", "mae", "mse", "rmse", "mape", "wer", "cer", "ppl", "time", "s", "ms", "sec"]
    + ["secs", "seconds", "mem", "memory", "bytes"]
)
#: Columns ``diff`` leaves out unless asked (``with_all``): they differ between any two runs.
NOISE_COLUMNS = (
    "run_id",
    "start_time",
    "end_time",
    "duration_s",
    "model_sha256",
    "git.patch",
    "pid",
)
# Numbers that are codes, not quantities: their difference means nothing.
NO_DELTA_COLUMNS = ("pid", "exit_code")


# -- column names ----------------------------------------------------------------------------


def resolve_column(name: str, columns: Sequence[str], option: str | None = None) -> str:
    """The column ``name`` stands for: itself, or ``params.``/``metrics.``/``tags.`` + it when
    exactly one of those exists, or the one column equal to it ignoring case.
    ``QueryError`` naming close names otherwise."""
    if name in columns:
        return name
    prefixed = [prefix + name for prefix in ADOPTABLE_PREFIXES if prefix + name in columns]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        names = ", ".join(prefixed)
        raise QueryError(f"{name!r} is ambiguous: {names}; write the full name", option)
    folded = [column for column in columns if column.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise QueryError(unknown_column_message(name, columns), option)


def unknown_column_message(name: str, columns: Sequence[str]) -> str:
    short = {column.split(".", 1)[1]: column for column in columns if "." in column}
    containing = [column for column in columns if name.casefold() in column.casefold()]
    close = difflib.get_close_matches(name, [*columns, *short], n=5, cutoff=0.6)
    names = list(dict.fromkeys([*containing, *(short.get(match, match) for match in close)]))
    if names:
        return f"no column {name!r}; close names: {', '.join(names[:6])}"
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    return f"no column {name!r}; the columns are: {shown}"


def metric_column(metric: str, columns: Sequence[str]) -> str:
    """A metric's column: ``metrics.<metric>`` first, then any column the name stands for.
    ``QueryError`` about ``--metric`` otherwise: a name that is no column of ``target`` is a
    usage error (exit 2), as for ``ls --sort``."""
    if metric not in columns and f"metrics.{metric}" in columns:
        return f"metrics.{metric}"
    return resolve_column(metric, columns, "--metric")


def resolve_columns(requested: Iterable[str], columns: Sequence[str]) -> list[str]:
    """Column choices (comma lists, repeated, ``params.*`` patterns) as column names."""
    chosen: list[str] = []
    for item in (part.strip() for value in requested for part in value.split(",")):
        if not item:
            continue
        if any(char in item for char in "*?["):
            matched = fnmatch.filter(columns, item)
            if not matched:
                raise QueryError(f"no column matches {item!r}", "--columns")
            chosen.extend(matched)
        else:
            chosen.append(resolve_column(item, columns, "--columns"))
    return list(dict.fromkeys(chosen))


def parse_where(where: Iterable[str], columns: list[str]) -> list[Condition]:
    return [Condition.parse(text, columns) for text in where]


# -- which direction is better ---------------------------------------------------------------


@dataclass
class Goal:
    """Whether lower (``min``) or higher (``max``) is better for a metric, and who said so:
    ``given`` (the caller), ``declared`` (runs, through ``define_metric``) or ``name`` (a guess
    from the metric's name, when no run declared it). ``declared`` counts the runs that declared
    each direction: both present means the runs disagree (the majority wins)."""

    direction: Direction
    source: Literal["given", "declared", "name"]
    declared: dict[str, int] = field(default_factory=dict)

    @property
    def conflicting(self) -> bool:
        return len(self.declared) > 1

    def note(self, column: str) -> str | None:
        """What a user should be told about this goal, if anything."""
        key = short_metric(column)
        if self.source == "name":
            word = "lower" if self.direction == "min" else "higher"
            other = "--max" if self.direction == "min" else "--min"
            return (
                f"no run declared whether lower or higher {column} is better; guessing {word}"
                f" from its name ({other} says otherwise; declare it in the run with"
                f' run.define_metric("{key}", goal="{self.direction}"))'
            )
        if self.conflicting:
            counts = " and ".join(f"{d} by {n} runs" for d, n in sorted(self.declared.items()))
            return f"runs disagree on {column}: declared {counts}; using {self.direction}"
        return None


def short_metric(column: str) -> str:
    return column[len("metrics.") :] if column.startswith("metrics.") else column


def guess_direction(column: str) -> Direction:
    """The fallback: ``min`` for names like loss, error, wer, fit_time_s; ``max`` otherwise."""
    name = short_metric(column).casefold()
    if any(word in name for word in _LOWER_WORDS):
        return "min"
    tokens = set(re.split(r"[^a-z]+", name))
    return "min" if tokens & _LOWER_TOKENS else "max"


def declared_goals(value: Any) -> dict[str, str]:
    """One run's ``metric_goals`` cell as ``{metric: "min" | "max"}`` (bad cells: nothing)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if v in ("min", "max")}


def metric_goal(column: str, goal_cells: Iterable[Any], direction: Direction | None = None) -> Goal:
    """The goal for ``column`` given the runs' ``metric_goals`` cells: ``direction`` if given,
    else what the runs declared (the majority when they disagree), else a guess from the name.
    ``QueryError`` when the runs are split evenly."""
    key = short_metric(column)
    counts: dict[str, int] = {}
    for cell in goal_cells:
        declared = declared_goals(cell).get(key)
        if declared:
            counts[declared] = counts.get(declared, 0) + 1
    if direction:
        return Goal(direction, "given", counts)
    if not counts:
        return Goal(guess_direction(column), "name")
    if len(counts) == 2 and counts["min"] == counts["max"]:
        raise QueryError(
            f"runs disagree on {column}: {counts['min']} declared min (lower is better) and"
            f" {counts['max']} max"
        )
    return Goal(max(counts, key=counts.__getitem__), "declared", counts)  # type: ignore[arg-type]


# -- selecting and ordering (plain Python, for ls) -------------------------------------------


@dataclass
class Selection:
    """The rows ``select_rows`` picked (positions in the table, in display order), out of how
    many matched, and the sort column and its goal (when sorting by a metric; None when the runs
    are split evenly on it, and ``note`` says so)."""

    rows: list[int]
    matched: int
    sort: str | None = None
    goal: Goal | None = None
    note: str | None = None  # why the rows are not the best N, when they could not be


def select_rows(
    table: Table,
    where: Iterable[str] = (),
    sort: str | None = None,
    desc: bool = False,
    limit: int | None = None,
    screen: int | None = None,
) -> Selection:
    """The runs of a ``plain_table`` that ``where`` selects, in order: by ``sort`` (ascending,
    or descending with ``desc``; missing values last) or by start time (oldest first).

    ``limit`` keeps N runs (``screen`` likewise, when nothing asked for a limit): without
    ``sort`` the N most recent; with a metric ``sort`` the N best by its goal (see
    ``metric_goal``), shown in the sort order; with another ``sort`` column the first N."""
    every = table.header
    sort_name = resolve_column(sort, every, "--sort") if sort else None
    conditions = parse_where(where, every)
    rows = list(range(len(table.rows)))
    if conditions:
        from .where import matching_rows

        rows = matching_rows(table, conditions)
    # Only the columns that decide the order are typed for every run (typing all the columns
    # of 10,000 runs takes a good part of a second).
    deciding = [name for name in ("start_time", sort_name) if name in every]
    typed = typed_columns(table, deciding, range(len(table.rows)))
    if "start_time" in typed:
        rows = _sorted(rows, typed["start_time"].values, missing_first=True)
    keep = limit or screen
    matched = len(rows)
    if sort_name is None:
        if keep:
            rows = rows[-keep:]
        return Selection(rows[::-1] if desc else rows, matched)
    values = typed[sort_name].values
    goal = note = None
    if sort_name.startswith("metrics."):
        try:
            goal = metric_goal(sort_name, _column_values(table, GOALS_COLUMN, rows))
        except QueryError as split:  # no best N then: the first N in the sort order
            note = f"{split}: the first runs in the --sort order are shown"
    if keep and goal is not None:
        best_first = _sorted(rows, values, descending=goal.direction == "max")
        rows = best_first[:keep]
        return Selection(_sorted(rows, values, descending=desc), matched, sort_name, goal)
    rows = _sorted(rows, values, descending=desc)
    return Selection(rows[:keep] if keep else rows, matched, sort_name, goal, note)


def _column_values(table: Table, name: str, rows: Sequence[int]) -> list[Any]:
    if name not in table.header:
        return []
    index = table.header.index(name)
    return [table.rows[row][index] for row in rows]


def _sorted(
    rows: list[int], values: list[Any], descending: bool = False, missing_first: bool = False
) -> list[int]:
    """``rows`` ordered by ``values`` (stable; missing values last, or first)."""
    present = [row for row in rows if not is_missing(values[row])]
    missing = [row for row in rows if is_missing(values[row])]
    try:
        present = sorted(present, key=values.__getitem__, reverse=descending)
    except TypeError:  # numbers and text in one column: order them as text
        present = sorted(present, key=lambda row: str(values[row]), reverse=descending)
    return missing + present if missing_first else present + missing


def is_missing(value: Any) -> bool:
    return value is None or (type(value) is float and value != value)  # NaN: unequal to itself


def varies(column: Column) -> bool:
    """Whether a column holds more than one distinct value (missing counts as one)."""
    keys = [None if is_missing(value) else value for value in column.values]
    try:
        return len(set(keys)) > 1
    except TypeError:  # lists or dicts in the column
        return len(set(map(repr, keys))) > 1


# -- best ------------------------------------------------------------------------------------


@dataclass
class BestRun:
    """The answer of ``best``: the winning run, the runs tied with it, the runner-up (the best
    run with a worse value) and the number of candidates (FINISHED runs with a finite value)."""

    metric: str
    goal: Goal
    run: pd.Series
    ties: list[pd.Series]
    runner_up: pd.Series | None
    candidates: int

    @property
    def value(self) -> float:
        return float(self.run[self.metric])

    def deltas(self) -> dict[str, float]:
        """For each metric both the winner and the runner-up have: runner-up minus winner."""
        if self.runner_up is None:
            return {}
        found = {}
        for name in self.run.index:
            if name.startswith("metrics.") or name == self.metric:
                a, b = _number(self.run[name]), _number(self.runner_up[name])
                if a is not None and b is not None:
                    found[name] = b - a
        return found

    def params_differing(self) -> dict[str, tuple[Any, Any]]:
        """The params whose values differ between the winner and the runner-up."""
        if self.runner_up is None:
            return {}
        return {
            name: (self.run[name], self.runner_up[name])
            for name in self.run.index
            if name.startswith("params.") and not same_value(self.run[name], self.runner_up[name])
        }


def best(
    frame: pd.DataFrame, metric: str, direction: Direction | None = None, target: str = "the runs"
) -> BestRun:
    """The FINISHED run (or a row with no status, kept by hand) with the best finite value of
    ``metric`` (the earliest in the table of equal ones). ``QueryError`` when no run has the
    metric, or none a finite value of it."""
    import pandas as pd

    column = metric_column(metric, list(frame.columns))
    goals = frame[GOALS_COLUMN].tolist() if GOALS_COLUMN in frame.columns else []
    try:
        goal = metric_goal(column, goals, direction)
    except QueryError as split:
        raise QueryError(f"{split}; say which is better with --min or --max") from None
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().all() and frame[column].notna().any():
        raise QueryError(f"{column} holds text, not numbers: rank by a metric", "--metric")
    # a row with no status is one the user kept by hand: a result, as in a sheet with no status
    status = frame.get("status")
    finished = True if status is None else (status == "FINISHED") | status.isna()
    usable = finished & values.map(math.isfinite, na_action="ignore").fillna(False).astype(bool)
    candidates = values[usable]
    if candidates.empty:
        raise QueryError(f"no FINISHED run in {target} has a value for {column}")
    ranked = candidates.sort_values(ascending=goal.direction == "min", kind="stable")
    top = ranked.iloc[0]
    tied = ranked[ranked == top]
    worse = ranked[ranked != top]
    return BestRun(
        metric=column,
        goal=goal,
        run=frame.loc[tied.index[0]],
        ties=[frame.loc[index] for index in tied.index[1:]],
        runner_up=frame.loc[worse.index[0]] if len(worse) else None,
        candidates=len(candidates),
    )


def _number(value: Any) -> float | None:
    """``value`` as a finite float when it is a number (numpy's too), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def same_value(a: Any, b: Any) -> bool:
    if _missing_any(a) or _missing_any(b):
        return _missing_any(a) and _missing_any(b)
    return bool(a == b)


def _missing_any(value: Any) -> bool:
    if isinstance(value, (list, dict)):
        return False
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return value is None


# -- diff ------------------------------------------------------------------------------------


@dataclass
class DiffRow:
    """One column across the compared runs: the values, and for numbers each value minus the
    first run's (None where either is not a finite number, and for codes such as ``pid`` and
    ``exit_code``: ``NO_DELTA_COLUMNS``)."""

    column: str
    values: list[Any]
    deltas: list[float | None]
    same: bool


@dataclass
class RunDiff:
    """The answer of ``diff``: the rows to show, how many identical columns and how many columns
    of times and ids were left out, and the code changes between the runs."""

    runs: list[pd.Series]
    rows: list[DiffRow]
    identical: int
    noise: int
    code: CodeChanges | None = None


def diff(
    runs: Sequence[pd.Series], with_all: bool = False, repository: str | None = "."
) -> RunDiff:
    """Compare two or more runs, column by column: params, metrics, tags, model, context, then
    the run's own columns. Columns the same in every run (or empty in all), and the times and ids
    (``NOISE_COLUMNS``) are left out unless ``with_all``. The code changes (commits, patches)
    are looked up in the git repository at ``repository`` (None: not at all)."""
    if len(runs) < 2:
        raise QueryError("diff compares two runs or more")
    columns = list(dict.fromkeys(name for run in runs for name in run.index))
    ordered = sorted(columns, key=_diff_rank)
    rows: list[DiffRow] = []
    identical = noise = 0
    for name in ordered:
        values = [run.get(name) for run in runs]
        same = all(same_value(values[0], value) for value in values[1:])
        first = None if name in NO_DELTA_COLUMNS else _number(values[0])
        deltas = [
            None if first is None or (n := _number(v)) is None or i == 0 else n - first
            for i, v in enumerate(values)
        ]
        identical += same
        if not with_all and name in NOISE_COLUMNS:
            noise += not same
            continue
        if with_all or not same:
            rows.append(DiffRow(name, values, deltas, same))
    code = None
    if repository is not None:
        from .code_changes import code_changes

        code = code_changes(runs, repository)
    return RunDiff(list(runs), rows, identical, noise, code)


def _diff_rank(name: str) -> int:
    return {3: 0, 4: 1, 5: 2, 6: 3, 8: 4}.get(group_of(name), 5)


def find_run(frame: pd.DataFrame, key: str, target: str = "the runs") -> pd.Series:
    """The run ``key`` names (``sheetlog.run_names``: its run_id, a unique run_id prefix of 4 or
    more characters, or a name, the newest run of that name, with a warning naming the others).
    ``RunNotFound`` otherwise."""
    from .errors import warn
    from .run_names import pick_in_frame

    row, note = pick_in_frame(frame, key, target)
    if note:
        warn(note)
    return row
