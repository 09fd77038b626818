"""How a run is named on the command line and in ``load_history``: one rule everywhere.

A key is, in this order: a run's full run_id; the start of exactly one run_id (4 or more
characters); or a run name. Names repeat (a sweep script run twice logs every name twice), so a
name shared by several runs means the newest of them, and the caller tells the user which others
it passed over (``Pick.note``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import RunNotFound

if TYPE_CHECKING:
    import pandas as pd

MIN_PREFIX = 4
_LISTED = 5


@dataclass(frozen=True)
class RunRef:
    """What naming a run needs to know of it."""

    run_id: str
    name: str | None = None
    start_time: Any = None  # a datetime, pandas Timestamp or unix time; None when unknown
    position: int = 0  # the order it was found in (later = newer when start times are equal)


@dataclass(frozen=True)
class Pick:
    run: RunRef
    others: tuple[RunRef, ...] = ()  # older runs of the same name

    @property
    def note(self) -> str | None:
        """One line for stderr when the key was a name several runs share."""
        if not self.others:
            return None
        listed = ", ".join(f"{r.run_id[:8]} ({_when(r.start_time)})" for r in self.others[:_LISTED])
        more = f" and {len(self.others) - _LISTED} more" if len(self.others) > _LISTED else ""
        return (
            f"{len(self.others) + 1} runs are named {self.run.name!r}: this is the newest,"
            f" {self.run.run_id[:8]} ({_when(self.run.start_time)}); the others: {listed}{more}."
            " Give a run_id (or its first 8 characters) to pick another"
        )


def pick_run(key: str, runs: Iterable[RunRef], where: str) -> Pick:
    """The run ``key`` names among ``runs`` (see the module docstring); ``RunNotFound`` when
    none does, or when ``key`` is the start of several run_ids and no run's name."""
    runs = list(runs)
    wanted = key.strip()
    exact = [r for r in runs if r.run_id == wanted]
    if exact:
        return Pick(exact[0])
    by_prefix: list[RunRef] = []
    if len(wanted) >= MIN_PREFIX:
        lowered = wanted.lower()
        by_prefix = [r for r in runs if r.run_id.lower().startswith(lowered)]
        if len(by_prefix) == 1:
            return Pick(by_prefix[0])
    named = [r for r in runs if r.name is not None and str(r.name) == wanted]
    if named:
        newest_first = sorted(named, key=_age, reverse=True)
        return Pick(newest_first[0], tuple(newest_first[1:]))
    if by_prefix:
        raise RunNotFound(
            f"{wanted!r} is the start of {len(by_prefix)} run_ids in {where}:"
            f" {_listing(by_prefix)}; give more characters"
        )
    if not runs:
        raise RunNotFound(f"no run {wanted!r} in {where}: it has no runs")
    raise RunNotFound(
        f"no run {wanted!r} in {where} (looked for a run_id, a run_id prefix of"
        f" {MIN_PREFIX} or more characters, and a run name; `sheetlog ls` lists the runs)"
    )


def _age(run: RunRef) -> tuple[float, int]:
    return (_timestamp(run.start_time), run.position)


def _timestamp(value: Any) -> float:
    if isinstance(value, (int, float)) and value == value:
        return float(value)
    if isinstance(value, dt.datetime):
        try:
            aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            return aware.timestamp()
        except (ValueError, OverflowError):
            return float("-inf")
    return float("-inf")  # unknown start: older than any known one


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and value == value:
        value = dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, dt.datetime) and _timestamp(value) != float("-inf"):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "start time unknown"


def _listing(runs: Sequence[RunRef]) -> str:
    items = [f"{r.run_id} ({r.name})" if r.name else r.run_id for r in runs[:_LISTED]]
    return ", ".join(items) + (", …" if len(runs) > _LISTED else "")


def pick_in_frame(frame: pd.DataFrame, key: str, where: str) -> tuple[pd.Series, str | None]:
    """The row of ``frame`` (as ``sheetlog.load`` gives it) that ``key`` names, and the note
    to show when a shared name was resolved to the newest run (else None)."""
    runs = []
    if not frame.empty and "run_id" in frame:
        missing = [None] * len(frame)
        names = frame["name"].tolist() if "name" in frame else missing
        starts = frame["start_time"].tolist() if "start_time" in frame else missing
        for position, value in enumerate(frame["run_id"].tolist()):
            run_id = _id_text(value)
            if run_id:
                name = names[position]
                name = None if name is None or name != name else str(name)
                runs.append(RunRef(run_id, name, starts[position], position))
    if not runs and not frame.empty:
        rows = "its 1 row has" if len(frame) == 1 else f"its {len(frame)} rows have"
        raise RunNotFound(
            f"no run {key.strip()!r} in {where}: {rows} no run_id (a sheet kept by hand),"
            " so none can be named; `sheetlog ls` lists them"
        )
    pick = pick_run(key, runs, where)
    return frame.iloc[pick.run.position], pick.note


def _id_text(value: Any) -> str | None:
    """A run_id cell as text (a hand-kept sheet may hold numbers there)."""
    if value is None or value != value or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
