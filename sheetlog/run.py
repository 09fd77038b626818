"""A training run: what the user logs while it runs, and the one row it becomes when it ends."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import numbers
import operator
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from . import attach, lifecycle
from .context import CaptureOptions, capture_context
from .delivery import deliver, deliver_unjournaled
from .errors import RunEndedError, warn
from .history import BLOCK_CALLS, MetricHistory
from .history import encode as encode_block
from .history import writer as history_writer
from .journal import Journal
from .schema import GOALS_COLUMN, clean_key, flatten
from .targets import resolve_target, target_key
from .values import CellValue, end_status, to_cell

Summary = Literal["last", "min", "max"]
Goal = Literal["min", "max"]
_MIN_STEP, _MAX_STEP = -(2**63), 2**63  # steps are stored as 64-bit integers
_journals: dict[Path, Journal] = {}
_journals_lock = threading.Lock()
_parents_journals: list[Journal] = []  # in a forked child: kept, never used (see _forget_journals)
#: Columns a run keeps as its own when it absorbs the row of a run that joined it.
_OWN_COLUMNS = frozenset(
    ["run_id", "status", "start_time", "end_time", "duration_s", "command", "error"]
)


def open_journal(directory: str | os.PathLike[str] | None = None) -> Journal:
    """The process's journal for ``directory`` (one SQLite connection per directory)."""
    from .journal import journal_dir

    path = journal_dir(directory)
    with _journals_lock:
        if path not in _journals:
            _journals[path] = Journal(path)
        return _journals[path]


def _forget_journals() -> None:
    """In a forked child: the parent's SQLite connections and journal lock descriptors must not
    be used (SQLite forbids it; releasing the inherited ``flock`` would release the parent's),
    nor closed by the garbage collector: they are kept aside and the child opens its own."""
    global _journals_lock
    _journals_lock = threading.Lock()
    _parents_journals.extend(_journals.values())
    _journals.clear()


lifecycle.in_child_after_fork(_forget_journals)
lifecycle.in_child_after_fork(history_writer.forget_parent)


class Run:
    """One training run. Use ``sheetlog.start_run(...)`` to make one."""

    def __init__(
        self,
        *,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        notes: str | None = None,
        target: str | os.PathLike[str] | None = None,
        capture: bool | CaptureOptions | Iterable[str] | None = True,
        journal_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        # A forked child detaches its parent's runs, and a script's top-level start_run() run
        # again by a multiprocessing worker starts detached: they are never written (lifecycle).
        self._detached = _reexecuted_main()
        self._warned_detached = self._detached  # the warning below says it all
        # Under `sheetlog run`, the first run joins the wrapper's run (see sheetlog.attach).
        parent = None if self._detached else attach.claim()
        self.run_id = parent.run_id if parent else uuid.uuid4().hex
        self._attach_file = parent.attach_file if parent else None
        self.target = target_key(resolve_target(target))
        self.journal = open_journal(journal_dir)
        self.name = name
        self.notes = notes
        self.status = "RUNNING"
        self.start_time = dt.datetime.now(dt.timezone.utc)
        self.end_time: dt.datetime | None = None
        self.error: str | None = None
        # Reentrant: the SIGTERM handler may end the run while the main thread holds the lock.
        self._lock = threading.RLock()
        self._params: dict[str, CellValue] = {}
        self._tags: dict[str, CellValue] = {}
        self._metrics: dict[str, float] = {}
        self._summaries: dict[str, Summary] = {}
        self._goals: dict[str, Goal] = {}
        self._history = MetricHistory()
        # log_metrics' fast path: raw key -> (column name, history index); number types seen
        self._metric_keys: dict[Any, tuple[str, int]] = {}
        self._number_types: set[type] = {float, int}
        self._model: dict[str, CellValue] = {}
        self.context = capture_context(
            CaptureOptions.parse(False if self._detached else capture),
            run_id=self.run_id,
            patch_dir=self.journal.directory / "patches",
        )
        if params:
            self.log_params(params)
        if tags:
            self.set_tags(tags)
        if self._detached:
            warn(
                f"sheetlog: start_run() ran again in multiprocessing worker {os.getpid()}, which"
                " re-imports the main script: this copy of the run is not logged; put the run"
                ' under `if __name__ == "__main__":`'
            )
        else:
            try:
                label = to_cell(self.name)  # as the row will have it: text SQLite can hold
                self.journal.note_started(
                    self.run_id, None if label is None else str(label), self.target
                )
            except sqlite3.Error as error:  # only `sheetlog status` misses it
                warn(f"sheetlog could not note run {self.run_id} as started: {error}")
            lifecycle.started(self)

    def __repr__(self) -> str:
        return f"<Run {self.run_id} {self.status} -> {self.target}>"

    # -- logging -------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyper-parameters; nested dicts become dotted names (``optimizer.lr``)."""
        if self._detached:
            return self._not_here("params")
        self._check_running("log_params")
        flat = flatten("params", params)
        with self._lock:
            self._params.update({name: to_cell(value, name) for name, value in flat.items()})

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if self._detached:
            return self._not_here("tags")
        self._check_running("set_tags")
        flat = flatten("tags", tags)
        with self._lock:
            self._tags.update({name: to_cell(value, name) for name, value in flat.items()})

    def define_metric(
        self, key: str, summary: Summary = "last", *, goal: Goal | None = None
    ) -> None:
        """Choose what the ``metrics.<key>`` column holds: the last value (default), min or max;
        and whether lower or higher is better (``goal``; "min" and "max" summaries say it).

        The goal is kept with the run, in its ``metric_goals`` column, for ``best`` and
        ``ls --sort``."""
        if summary not in ("last", "min", "max"):
            raise ValueError(f"summary must be 'last', 'min' or 'max', not {summary!r}")
        if goal not in (None, "min", "max"):
            raise ValueError(f"goal must be 'min' (lower is better) or 'max', not {goal!r}")
        name = clean_key(key)
        with self._lock:
            self._summaries[name] = summary
            if goal or summary != "last":
                self._goals[name] = goal or summary  # type: ignore[assignment]

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values (at an optional step); the full history goes to the journal.

        Keys and number types seen before take a fast path of a few microseconds: no flattening,
        no conversion, no disk (full history blocks are saved by a background thread)."""
        self._check_running("log_metrics")
        now = time.time()
        known = self._metric_keys
        numbers = self._number_types
        entries = []
        try:
            for key, value in metrics.items():
                entry = known.get(key)
                if entry is None or type(value) not in numbers:
                    return self._log_new_metrics(metrics, step, now)
                entries.append((entry[0], entry[1], float(value)))
        except OverflowError:  # an int too large for a float: the slow path says so
            return self._log_new_metrics(metrics, step, now)
        if step is not None and not (type(step) is int and _MIN_STEP < step < _MAX_STEP):
            step = _checked_step(step)
        self._record_metrics(entries, step, now)

    def log_metrics_at(
        self, when: float, metrics: Mapping[str, Any], step: int | None = None
    ) -> None:
        """``log_metrics`` for values seen earlier, at ``when`` (seconds since the epoch, as
        ``time.time()``): ``sheetlog run`` records a command's printed metrics this way."""
        self._log_new_metrics(metrics, step, when)

    def _log_new_metrics(self, metrics: Mapping[str, Any], step: int | None, now: float) -> None:
        """``log_metrics`` for keys or types not seen yet: flatten and check everything, and
        remember plain keys and number types for the fast path."""
        values = {name: _metric_value(name, v) for name, v in flatten("", metrics).items()}
        if step is not None:
            step = _checked_step(step)
        with self._lock:
            for key, value in metrics.items():
                if isinstance(value, Mapping):
                    continue
                name = clean_key(key)
                self._metric_keys[key] = (name, self._history.index_of(name))
                if isinstance(value, numbers.Real) and not isinstance(value, bool):
                    self._number_types.add(type(value))
            entries = [(n, self._history.index_of(n), v) for n, v in values.items()]
        self._record_metrics(entries, step, now)

    def _record_metrics(
        self, entries: list[tuple[str, int, float]], step: int | None, now: float
    ) -> None:
        if self._detached:
            return self._not_here("metrics")
        with self._lock:
            summaries = self._summaries
            current = self._metrics
            block = self._history.block
            for name, index, value in entries:
                block.keys.append(index)
                block.values.append(value)
                summary = summaries.get(name)
                if summary is None or summary == "last":
                    current[name] = value
                else:
                    current[name] = _summarised(summary, current.get(name), value)
            block.steps.append(step)
            block.times.append(now)
            block.counts.append(len(entries))
            full = len(block.counts) >= BLOCK_CALLS
        if full:
            self._save_history()

    def log_model(self, path: str | os.PathLike[str], *, checksum: bool = True) -> None:
        """Record where the trained model is, with its size and (unless disabled) sha256.
        A path that does not exist (yet) is recorded all the same, with a warning."""
        if self._detached:
            return self._not_here("the model")
        self._check_running("log_model")
        model = Path(path).expanduser().resolve()
        if not model.exists():
            warn(
                f"sheetlog: the model path {model} does not exist: it is recorded as given,"
                " without size or checksum. Save the model first, or check the path."
            )
        self._model = {"model_path": to_cell(model)}  # an undecodable name: visible escapes
        if model.exists():
            self._model["model_size"] = _size(model)
            if checksum:
                self._model["model_sha256"] = _sha256(model)

    def _check_running(self, call: str) -> None:
        if self.status != "RUNNING":
            raise RunEndedError(
                f"{call}() on run {self.run_id}, which has already ended ({self.status}): the"
                " value would be lost. Log it before finish() (or inside the `with` block);"
                " for another run, call sheetlog.start_run()."
            )

    # -- ending --------------------------------------------------------------------------------

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        if self.status != "RUNNING" or self._detached:
            return  # a forked child leaving the parent's `with` block does not end its run
        if exc_type is None:
            self.finish()
            return
        try:  # the script's own exception is what it dies of, never sheetlog's
            if issubclass(exc_type, KeyboardInterrupt):
                self.finish("KILLED")
            elif issubclass(exc_type, SystemExit) and exc is not None and exc.code in (0, None):
                self.finish()
            else:
                self.finish("FAILED", error=f"{exc_type.__name__}: {exc}")
        except Exception as problem:  # noqa: BLE001 - said, not raised
            warn(f"sheetlog could not end run {self.run_id}: {type(problem).__name__}: {problem}")

    def finish(self, status: str = "FINISHED", *, error: str | None = None) -> dict[str, Any]:
        """End the run: commit its row to the journal, then write every pending row to the target.

        Returns the row. A target that cannot take it now leaves it pending (with a warning).
        In a forked child, the parent's run is not ended: a warning, and the row as it stands.
        """
        if self._detached:
            self._not_here("the end of the run")
            return self.record()
        status = end_status(status)
        with self._lock:
            if self.status != "RUNNING":
                raise RunEndedError(f"run {self.run_id} has already ended ({self.status})")
            self.status = status
            self.error = error
        try:
            return self._write_row()
        finally:
            lifecycle.ended(self)  # only now: a fatal signal meanwhile waits for the row

    def _write_row(self) -> dict[str, Any]:
        self.end_time = dt.datetime.now(dt.timezone.utc)
        record = self.record()
        # The last part of the history is saved here, with the row when there is one: handing
        # it to the writer thread and waiting for it costs a run a few ms of thread switching.
        with self._lock:
            last_block = self._history.take()
        for failure in history_writer.wait():  # the parts handed over earlier come first
            warn(f"sheetlog could not save the metric history of {failure}")
        history = encode_block(last_block) if last_block is not None else None
        if self._attach_file is not None:  # the wrapper writes the row
            if history is not None:
                self._save_last_history(history)
            attach.write(self._attach_file, record, self.target)
            return record
        try:
            self._journal_run(record, history)
        except sqlite3.Error as error:  # a full disk: the row must not be lost, nor raise
            deliver_unjournaled(self.journal, self.target, record, error)
            with contextlib.suppress(sqlite3.Error):
                self.journal.note_ended(self.run_id)
            return record
        deliver(self.journal, self.target, wait=False)
        return record

    def _journal_run(self, record: dict[str, CellValue], history: bytes | None) -> None:
        try:
            self.journal.add_run(record, [self.target], history=history)
        except sqlite3.Error as error:
            if history is None:
                raise
            self._history_not_saved(error)
            self.journal.add_run(record, [self.target])  # the row, at least

    def detach(self) -> None:
        """Make this copy of the run inert: this process (a forked child) never ends or writes
        it, and the history inherited unsaved is dropped (the parent saves it)."""
        self._detached = True
        self._lock = threading.RLock()  # another thread of the parent may have held it
        self._history.take()

    def _not_here(self, what: str) -> None:
        """Warn (once per process) that what this process logs to a run it does not own is
        dropped."""
        if self._warned_detached:
            return
        self._warned_detached = True
        warn(
            f"sheetlog: run {self.run_id} belongs to the process that started it; {what} logged"
            f" in process {os.getpid()} (a forked or multiprocessing worker) is not recorded."
            " Log from the parent process, or start a run of this worker's own."
        )

    def _save_last_history(self, history: bytes) -> None:
        try:
            self.journal.add_metric_block(self.run_id, history)
        except Exception as error:  # noqa: BLE001 - the run itself must still end
            self._history_not_saved(error)

    def _history_not_saved(self, error: Exception) -> None:
        warn(
            f"sheetlog could not save the metric history of run {self.run_id}:"
            f" {type(error).__name__}: {error}"
        )

    def absorb(self, record: Mapping[str, CellValue]) -> None:
        """Take in the row of a run that joined this one from a wrapped process: its values win,
        except for this run's id, status, times, command line and error."""
        with self._lock:
            for column, value in record.items():
                if value is None or column in _OWN_COLUMNS:
                    continue
                if column.startswith("params."):
                    self._params[column] = value
                elif column.startswith("metrics."):
                    metric = column.removeprefix("metrics.")
                    self._metrics[metric] = value  # type: ignore[assignment]
                elif column.startswith("tags."):
                    self._tags[column] = value
                elif column.startswith("model_"):
                    self._model[column] = value
                elif column in ("name", "notes"):
                    setattr(self, column, value)
                else:
                    self.context[column] = value

    def record(self) -> dict[str, CellValue]:
        """The run as one flat row of cell values."""
        end = self.end_time or dt.datetime.now(dt.timezone.utc)
        row: dict[str, CellValue] = {
            "run_id": self.run_id,
            "name": to_cell(self.name),
            "status": self.status,
            "start_time": to_cell(self.start_time),
            "end_time": to_cell(self.end_time),
            "duration_s": round((end - self.start_time).total_seconds(), 3),
        }
        with self._lock:
            row.update(self._params)
            row.update({f"metrics.{key}": value for key, value in self._metrics.items()})
            row.update(self._tags)
            if self._goals:
                row[GOALS_COLUMN] = to_cell(dict(sorted(self._goals.items())))
        row.update(self._model)
        row["notes"] = to_cell(self.notes)
        row["error"] = to_cell(self.error)
        row.update({key: to_cell(value) for key, value in self.context.items()})
        return row

    def _save_history(self) -> None:
        """Hand the filled part of the history to the writer thread."""
        with self._lock:
            block = self._history.take()
        if block is not None and not self._detached:
            history_writer.submit(self.journal, self.run_id, block)


def _reexecuted_main() -> bool:
    """Whether this is the main script's top-level code run again in a multiprocessing worker
    (spawn and forkserver start a worker by importing the main script as ``__mp_main__``)."""
    if "multiprocessing" not in sys.modules:
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            return True
        frame = frame.f_back
    return False


def _metric_value(key: str, value: Any) -> float:
    cell = to_cell(value)
    if isinstance(cell, (bool, int, float)):
        return float(cell)
    if isinstance(cell, str):
        try:
            return float(cell)
        except ValueError:
            pass
        if isinstance(value, numbers.Real):  # beyond a float's range: Fraction(10**400, 3)
            with contextlib.suppress(Exception):
                return math.inf if value > 0 else -math.inf
    raise TypeError(f"metric {key!r} must be a number, not {type(value).__name__}: {value!r}")


def _checked_step(step: Any) -> int:
    try:
        step = operator.index(step)
    except TypeError:
        raise TypeError(f"step must be an integer, not {type(step).__name__}: {step!r}") from None
    if not _MIN_STEP < step < _MAX_STEP:
        raise ValueError(f"step {step} is out of range (a 64-bit integer)")
    return step


def _summarised(summary: Summary, current: float | None, value: float) -> float:
    if current is None or summary == "last" or math.isnan(current):
        return value
    if math.isnan(value):
        return current
    return min(current, value) if summary == "min" else max(current, value)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
