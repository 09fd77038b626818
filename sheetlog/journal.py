"""The durable local store: every finished run is committed here before any spreadsheet is touched.

SQLite in WAL mode, shared safely by every process that uses the same directory. A run is recorded
once with the targets it must reach; each (run, target) pair is ``pending`` until the target has
taken the row, then ``delivered``. Metric histories (every ``log_metrics`` step) live here too.

A record that cannot be decoded (written by an older version, a damaged page, a value that does
not round-trip) would otherwise fail every delivery to its target: delivery *sets it aside*
(table ``set_aside``, with the targets it still owed and why), so the other runs go on; its raw
JSON stays in ``runs`` for ``sheetlog pending --export`` or ``--drop``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SheetlogError, warn
from .folders import check_journal_folder
from .history import decode

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id  TEXT PRIMARY KEY,
    created REAL NOT NULL,
    record  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    run_id   TEXT NOT NULL REFERENCES runs(run_id),
    target   TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('pending', 'delivered')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error    TEXT,
    updated  REAL NOT NULL,
    PRIMARY KEY (run_id, target)
);
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (target, state);
CREATE TABLE IF NOT EXISTS metric_steps (
    run_id TEXT NOT NULL,
    key    TEXT NOT NULL,
    step   INTEGER,
    value  REAL,
    time   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_steps_by_run ON metric_steps (run_id, key);
CREATE TABLE IF NOT EXISTS metric_blocks (
    run_id TEXT NOT NULL,
    data   BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_blocks_by_run ON metric_blocks (run_id);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS in_progress (
    run_id  TEXT PRIMARY KEY,
    name    TEXT,
    target  TEXT NOT NULL,
    host    TEXT NOT NULL,
    pid     INTEGER NOT NULL,
    started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS set_aside (
    run_id  TEXT PRIMARY KEY,
    targets TEXT NOT NULL,
    reason  TEXT NOT NULL,
    time    REAL NOT NULL
);
"""


def journal_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The journal directory: explicit > ``SHEETLOG_DIR`` > ``.sheetlog`` in the working dir."""
    chosen = explicit or os.environ.get("SHEETLOG_DIR") or ".sheetlog"
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class PendingRun:
    """A run still owed to a target; ``record`` is None when it cannot be decoded (``problem``
    says why)."""

    run_id: str
    record: dict[str, Any] | None
    attempts: int
    problem: str | None = None
    created: float = 0.0  # when it was journaled (unix time)


@dataclass(frozen=True)
class RunInProgress:
    """A run started and not ended (or whose process died before it could end it)."""

    run_id: str
    name: str | None
    target: str
    host: str
    pid: int
    started: float


@dataclass(frozen=True)
class JournalEntry:
    """A run the journal still owes to ``target`` (``state`` ``pending``), or one set aside
    because its record cannot be decoded (``state`` ``set aside``, ``target`` one it owed)."""

    run_id: str
    target: str
    state: str
    attempts: int
    error: str | None
    created: float
    raw: str | None

    @property
    def record(self) -> dict[str, Any] | None:
        """The decoded record, or None when it cannot be decoded."""
        try:
            return decode_record(self.raw) if self.raw is not None else None
        except UndecodableRecord:
            return None


@dataclass(frozen=True)
class PendingSummary:
    target: str
    count: int
    last_error: str | None


class Journal:
    """One SQLite journal; safe to share between threads of a process and between processes."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = journal_dir(directory)
        check_journal_folder(self.directory, directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "journal.db"
        self._lock = threading.RLock()
        self._writer = _WriterLock(self.directory / "journal.db-writer.lock")
        self._conn: sqlite3.Connection | _Unopened = _Unopened(None)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 60000")
            _use_wal(self._conn)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self._transaction() as conn:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                _note_home(conn, f"{socket.gethostname()}:{self.path}")
        except sqlite3.DatabaseError as error:
            # A full disk (SQLite cannot create its -shm file), a damaged file: a run must
            # still start, and write its row straight to its target when it ends.
            self._conn.close()
            if isinstance(error, sqlite3.OperationalError):
                what = "is its disk full? Free some space there"
            else:
                what = "move it away (a new one is started)"
            self._conn = _Unopened(
                JournalUnavailable(
                    f"the journal {self.directory} cannot be opened ({error}): {what};"
                    " meanwhile each run is written straight to its target, and lost when"
                    " that fails too"
                )
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._writer.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn, self._lock, self._writer)

    def add_run(
        self, record: dict[str, Any], targets: Sequence[str], history: bytes | None = None
    ) -> None:
        """Commit a finished run and mark it pending for every target (replaces an earlier copy);
        ``history``, the last block of its metric history, goes in the same transaction."""
        run_id = record["run_id"]
        now = time.time()
        text = encode_record(record)
        with self._transaction() as conn:
            if history is not None:
                self._insert_metric_block(conn, run_id, history)
            conn.execute(
                "INSERT OR REPLACE INTO runs (run_id, created, record) VALUES (?, ?, ?)",
                (run_id, now, text),
            )
            # A run journaled again keeps its count of attempts: one that was written (or may
            # have been) is looked for in the target before it is written again.
            conn.executemany(
                "INSERT INTO deliveries (run_id, target, state, updated)"
                " VALUES (?, ?, 'pending', ?) ON CONFLICT (run_id, target) DO UPDATE SET"
                " state = 'pending', updated = excluded.updated",
                [(run_id, target, now) for target in targets],
            )
            conn.execute("DELETE FROM set_aside WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM in_progress WHERE run_id = ?", (run_id,))

    def note_started(self, run_id: str, name: str | None, target: str) -> None:
        """Remember a run in progress (for ``sheetlog status``) until ``add_run`` or
        ``note_ended``."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO in_progress (run_id, name, target, host, pid, started)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, name, target, socket.gethostname(), os.getpid(), time.time()),
            )

    def note_ended(self, run_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM in_progress WHERE run_id = ?", (run_id,))

    def in_progress(self) -> list[RunInProgress]:
        """Runs started and not ended, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT run_id, name, target, host, pid, started FROM in_progress"
                " ORDER BY started, run_id"
            ).fetchall()
        return [RunInProgress(*row) for row in rows]

    def pending(self, target: str, limit: int = 10_000, offset: int = 0) -> list[PendingRun]:
        """Runs still pending for ``target``, oldest first; a record that cannot be decoded
        comes with ``record`` None and the reason in ``problem`` (see ``set_aside``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT d.run_id, r.record, d.attempts, r.created FROM deliveries d"
                " LEFT JOIN runs r USING (run_id)"
                " WHERE d.target = ? AND d.state = 'pending' ORDER BY r.created, d.run_id"
                " LIMIT ? OFFSET ?",
                (target, limit, offset),
            ).fetchall()
        return [_pending_run(*row) for row in rows]

    def set_aside(self, run_id: str, reason: str) -> None:
        """Take a run whose record cannot be decoded out of delivery, remembering the targets
        it still owed and why; its raw record stays for ``raw_record``."""
        now = time.time()
        with self._transaction() as conn:
            owed = [
                target
                for (target,) in conn.execute(
                    "SELECT target FROM deliveries WHERE run_id = ? AND state = 'pending'"
                    " ORDER BY target",
                    (run_id,),
                )
            ]
            earlier = conn.execute(
                "SELECT targets FROM set_aside WHERE run_id = ?", (run_id,)
            ).fetchone()
            if earlier:
                owed = sorted({*json.loads(earlier[0]), *owed})
            conn.execute(
                "INSERT OR REPLACE INTO set_aside (run_id, targets, reason, time)"
                " VALUES (?, ?, ?, ?)",
                (run_id, json.dumps(owed), reason, now),
            )
            conn.execute("DELETE FROM deliveries WHERE run_id = ? AND state = 'pending'", (run_id,))

    def entries(self, target: str | None = None) -> list[JournalEntry]:
        """Runs pending (for ``target``, or any), then runs set aside, oldest first."""
        where, args = ("AND d.target = ?", (target,)) if target else ("", ())
        with self._lock:
            pending = self._conn.execute(
                "SELECT d.run_id, d.target, d.attempts, d.error, r.created, r.record"
                " FROM deliveries d LEFT JOIN runs r USING (run_id)"
                f" WHERE d.state = 'pending' {where} ORDER BY r.created, d.run_id",
                args,
            ).fetchall()
            aside = self._conn.execute(
                "SELECT s.run_id, s.targets, s.reason, s.time, r.record"
                " FROM set_aside s LEFT JOIN runs r USING (run_id) ORDER BY s.time, s.run_id"
            ).fetchall()
        found = [
            JournalEntry(run_id, key, "pending", attempts, error, created or 0.0, raw)
            for run_id, key, attempts, error, created, raw in pending
        ]
        for run_id, targets, reason, when, raw in aside:
            for key in json.loads(targets) or [""]:
                if target is None or key == target:
                    found.append(JournalEntry(run_id, key, "set aside", 0, reason, when, raw))
        return found

    def raw_record(self, run_id: str) -> str | None:
        """The record of a run as stored (JSON text), decodable or not."""
        with self._lock:
            row = self._conn.execute(
                "SELECT record FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return row[0] if row else None

    def drop(self, run_id: str, target: str | None = None) -> int:
        """Give up delivering a run (to ``target``, or to every target it is owed to), set
        aside or not, or forget a run in progress (its process died); returns how many
        deliveries (or runs in progress) were given up. The run's record is deleted once no
        target has it (its metric history stays)."""
        with self._transaction() as conn:
            dropped = self._drop_set_aside(conn, run_id, target)
            where, args = ("AND target = ?", (run_id, target)) if target else ("", (run_id,))
            dropped += conn.execute(
                f"DELETE FROM deliveries WHERE run_id = ? AND state = 'pending' {where}", args
            ).rowcount
            if target is None:  # a run whose process died before it ended
                dropped += conn.execute(
                    "DELETE FROM in_progress WHERE run_id = ?", (run_id,)
                ).rowcount
            kept = conn.execute(
                "SELECT 1 FROM deliveries WHERE run_id = ? UNION ALL"
                " SELECT 1 FROM set_aside WHERE run_id = ?",
                (run_id, run_id),
            ).fetchone()
            if dropped and not kept:
                conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        return dropped

    def retarget(self, run_id: str, new_target: str, old_target: str | None = None) -> int:
        """Send a pending run to ``new_target`` instead of ``old_target`` (or of every target it
        is pending for); returns how many deliveries moved (0: nothing pending to move)."""
        now = time.time()
        with self._transaction() as conn:
            where, args = ("", (run_id,))
            if old_target:
                where, args = "AND target = ?", (run_id, old_target)
            moved = conn.execute(
                f"DELETE FROM deliveries WHERE run_id = ? AND state = 'pending' {where}"
                " AND target != ?",
                (*args, new_target),
            ).rowcount
            if moved:
                conn.execute(
                    "INSERT INTO deliveries (run_id, target, state, updated)"
                    " VALUES (?, ?, 'pending', ?) ON CONFLICT (run_id, target) DO UPDATE SET"
                    " state = 'pending', updated = excluded.updated",
                    (run_id, new_target, now),
                )
        return moved

    @staticmethod
    def _drop_set_aside(conn: sqlite3.Connection, run_id: str, target: str | None) -> int:
        row = conn.execute("SELECT targets FROM set_aside WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return 0
        owed = json.loads(row[0])
        if target is not None and target not in owed:
            return 0
        left = [key for key in owed if target is not None and key != target]
        if left:
            conn.execute(
                "UPDATE set_aside SET targets = ? WHERE run_id = ?", (json.dumps(left), run_id)
            )
        else:
            conn.execute("DELETE FROM set_aside WHERE run_id = ?", (run_id,))
        return max(len(owed) - len(left), 1)

    def begin_attempt(self, target: str, run_ids: Iterable[str]) -> None:
        """Count a delivery attempt before writing, so that a crash mid-write is known later."""
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE deliveries SET attempts = attempts + 1 WHERE target = ? AND run_id = ?",
                [(target, run_id) for run_id in run_ids],
            )

    def mark_delivered(self, target: str, run_ids: Iterable[str]) -> None:
        now = time.time()
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE deliveries SET state = 'delivered', error = NULL, updated = ?"
                " WHERE target = ? AND run_id = ?",
                [(now, target, run_id) for run_id in run_ids],
            )

    def note_maybe_written(self, target: str, run_ids: Iterable[str]) -> int:
        """Runs pending for ``target`` that something else (``sheetlog sync``) may have written
        there: each is looked for before it is written. Returns how many were pending."""
        with self._transaction() as conn:
            return conn.executemany(
                "UPDATE deliveries SET attempts = attempts + 1"
                " WHERE target = ? AND run_id = ? AND state = 'pending'",
                [(target, run_id) for run_id in run_ids],
            ).rowcount

    def note_failure(self, target: str, run_ids: Iterable[str], error: str) -> None:
        """Record why these runs are still pending for ``target``."""
        now = time.time()
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE deliveries SET error = ?, updated = ?"
                " WHERE target = ? AND run_id = ? AND state = 'pending'",
                [(error, now, target, run_id) for run_id in run_ids],
            )

    def pending_targets(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT target FROM deliveries WHERE state = 'pending' ORDER BY target"
            ).fetchall()
        return [target for (target,) in rows]

    def has_pending(self, target: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM deliveries WHERE target = ? AND state = 'pending' LIMIT 1",
                (target,),
            ).fetchone()
        return row is not None

    def pending_summary(self) -> list[PendingSummary]:
        """How many runs each target still owes, and the latest reason."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT target, COUNT(*), (SELECT error FROM deliveries e WHERE e.target = d.target"
                " AND e.state = 'pending' AND e.error IS NOT NULL ORDER BY e.updated DESC LIMIT 1)"
                " FROM deliveries d WHERE state = 'pending' GROUP BY target ORDER BY target"
            ).fetchall()
        return [PendingSummary(target, count, error) for target, count, error in rows]

    def set_aside_count(self) -> int:
        """How many runs were set aside because their record cannot be decoded."""
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM set_aside").fetchone()[0]

    def run_count(self) -> int:
        """How many runs the journal holds, delivered or not."""
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def integrity_problems(self) -> list[str]:
        """What SQLite's ``PRAGMA quick_check`` finds wrong (empty when the file is sound)."""
        with self._lock:
            rows = self._conn.execute("PRAGMA quick_check").fetchall()
        return [text for (text,) in rows if text != "ok"]

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT record FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return decode_record(row[0]) if row else None

    def runs_answering(self, key: str) -> list[tuple[str, str | None, float]]:
        """``(run_id, name, created)`` of the runs whose run_id is ``key`` or starts with it,
        or whose name is ``key`` (for ``sheetlog.run_names.pick_run``)."""
        pattern = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            return self._conn.execute(
                "SELECT run_id, name, created FROM (SELECT run_id, created, CASE WHEN"
                " json_valid(record) THEN json_extract(record, '$.name') END AS name FROM runs)"
                " WHERE run_id LIKE ? ESCAPE '\\' OR name = ? ORDER BY created",
                (pattern, key),
            ).fetchall()

    def add_metric_block(self, run_id: str, data: bytes) -> None:
        """Append one encoded block of a run's metric history (see ``sheetlog.history``)."""
        with self._transaction() as conn:
            self._insert_metric_block(conn, run_id, data)

    @staticmethod
    def _insert_metric_block(conn: sqlite3.Connection, run_id: str, data: bytes) -> None:
        conn.execute("INSERT INTO metric_blocks (run_id, data) VALUES (?, ?)", (run_id, data))

    def metric_history(self, run_id: str, key: str) -> list[tuple[int | None, float]]:
        """``(step, value)`` of every value logged for one metric of a run, in logging order."""
        return [(step, value) for _, step, value, _ in self.metric_steps(run_id, key)]

    def metric_steps(
        self, run_id: str, key: str | None = None
    ) -> list[tuple[str, int | None, float, float]]:
        """``(key, step, value, unix time)`` of every logged metric value of a run (rows of
        journals written before blocks existed come first)."""
        with self._lock:
            old = self._conn.execute(
                "SELECT key, step, value, time FROM metric_steps WHERE run_id = ? ORDER BY rowid",
                (run_id,),
            ).fetchall()
            blocks = self._conn.execute(
                "SELECT data FROM metric_blocks WHERE run_id = ? ORDER BY rowid", (run_id,)
            ).fetchall()
        rows = [
            (k, step, _float_or_nan(value), time)
            for k, step, value, time in old
            if key is None or k == key
        ]
        for (data,) in blocks:
            rows.extend(decode(data, key))
        return rows


class JournalUnavailable(SheetlogError, sqlite3.OperationalError):
    """The journal cannot be opened: a sheetlog error (the CLI says it in one line) that code
    writing to the journal handles as the SQLite error it is."""


class _Unopened:
    """Stands for the connection of a journal that could not be opened: every use raises why."""

    in_transaction = False

    def __init__(self, error: JournalUnavailable | None) -> None:
        self._error = error

    def execute(self, *_: object) -> sqlite3.Cursor:
        raise self._error or JournalUnavailable("the journal is not open yet")

    executemany = execute

    def close(self) -> None:
        pass


class _WriterLock:
    """Processes take turns writing the journal through a blocking ``flock``: a waiting writer
    is woken the moment the lock is free, where SQLite's busy handler would sleep 1, 2, 5, 10 ...
    ms between tries (which caps many processes logging at once). POSIX only; elsewhere the
    busy handler alone serialises writers."""

    def __init__(self, path: Path) -> None:
        # A bare descriptor: the journal stays open for the process's life (the OS closes it).
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if fcntl is not None else None

    def acquire(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` under the connection's thread lock and the journal's
    writer lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock, writer: _WriterLock):
        self._conn = conn
        self._lock = lock
        self._writer = writer

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._writer.acquire()
        except BaseException:
            self._lock.release()
            raise
        try:
            if self._conn.in_transaction:
                # The SIGTERM handler interrupted this thread's own transaction, which will never
                # resume (the process dies next): keep its complete statements.
                self._conn.execute("COMMIT")
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._writer.release()
            self._lock.release()
            raise
        return self._conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._writer.release()
            self._lock.release()


def _note_home(conn: sqlite3.Connection, home: str) -> None:
    """A journal copied or moved (a project folder copied to another machine or directory)
    may hold runs that its original has written meanwhile: each run pending here is then
    looked for in its target before it is written (as after an attempt of unknown outcome)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'home'").fetchone()
    if row is not None and row[0] == home:
        return
    if row is not None:
        conn.execute("UPDATE deliveries SET attempts = attempts + 1 WHERE state = 'pending'")
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('home', ?)", (home,))


def _use_wal(conn: sqlite3.Connection, patience_s: float = 60.0) -> None:
    """Switch the journal to WAL. While another process opens a new journal, SQLite answers
    "database is locked" at once, without waiting for the busy timeout: try again."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _float_or_nan(value: float | None) -> float:
    # SQLite stores NaN as NULL.
    return math.nan if value is None else value


def encode_record(record: dict[str, Any]) -> str:
    """JSON for a record of cell values; datetimes tagged so they come back as datetimes. A
    time that would not come back (pandas' ``NaT`` is a datetime whose text is ``NaT``) is
    journaled as an empty cell, with a warning: it must never make the record unreadable."""
    return json.dumps(
        {k: _tagged_time(k, v) if isinstance(v, dt.datetime) else v for k, v in record.items()},
        ensure_ascii=False,
    )


def _tagged_time(column: str, value: dt.datetime) -> dict[str, str] | None:
    text = value.isoformat()
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        warn(f"sheetlog: {column} = {text!r} is not a time that can be stored: left empty")
        return None
    return {"$datetime": text}


class UndecodableRecord(SheetlogError, ValueError):
    """A journal record that is not a valid row (see ``decode_record``)."""


def decode_record(text: str) -> dict[str, Any]:
    """The record ``encode_record`` wrote. Raises ``UndecodableRecord`` for anything else: text
    that is not JSON, no run_id, a value that is not a cell (an unknown tag, a list) or a
    ``$datetime`` that is not a time (``NaT`` journaled by sheetlog before 0.x)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as error:
        raise UndecodableRecord(f"not JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str) or not data["run_id"]:
        raise UndecodableRecord("not a record with a run_id")
    record: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            tagged = value.get("$datetime") if len(value) == 1 else None
            if not isinstance(tagged, str):
                raise UndecodableRecord(f"column {key!r} holds an unknown value {value!r}")
            try:
                value = dt.datetime.fromisoformat(tagged)
            except ValueError:
                raise UndecodableRecord(
                    f"column {key!r} holds {tagged!r}, which is not a date and time"
                ) from None
        elif isinstance(value, list):
            raise UndecodableRecord(f"column {key!r} holds a list, not a cell value")
        record[key] = value
    return record


def _pending_run(run_id: str, text: str | None, attempts: int, created: float | None) -> PendingRun:
    when = created or 0.0
    if text is None:
        return PendingRun(run_id, None, attempts, "its record is missing from the journal", when)
    try:
        return PendingRun(run_id, decode_record(text), attempts, None, when)
    except UndecodableRecord as error:
        return PendingRun(run_id, None, attempts, f"its record cannot be read: {error}", when)
