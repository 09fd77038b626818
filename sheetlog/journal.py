"""The durable local store: every finished run is committed here before any spreadsheet is touched.

SQLite in WAL mode, shared safely by every process that uses the same directory. A run is recorded
once with the targets it must reach; each (run, target) pair is ``pending`` until the target has
taken the row, then ``delivered``. Metric histories (every ``log_metrics`` step) live here too.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
"""


def journal_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The journal directory: explicit > ``SHEETLOG_DIR`` > ``.sheetlog`` in the working dir."""
    chosen = explicit or os.environ.get("SHEETLOG_DIR") or ".sheetlog"
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class PendingRun:
    record: dict[str, Any]
    attempts: int

    @property
    def run_id(self) -> str:
        return self.record["run_id"]


@dataclass(frozen=True)
class PendingSummary:
    target: str
    count: int
    last_error: str | None


class Journal:
    """One SQLite journal; safe to share between threads of a process and between processes."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = journal_dir(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "journal.db"
        self._lock = threading.RLock()
        self._writer = _WriterLock(self.directory / "journal.db-writer.lock")
        self._conn = sqlite3.connect(
            self.path, timeout=60, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA busy_timeout = 60000")
        _use_wal(self._conn)
        self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._transaction() as conn:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)

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
        with self._transaction() as conn:
            if history is not None:
                self._insert_metric_block(conn, run_id, history)
            conn.execute(
                "INSERT OR REPLACE INTO runs (run_id, created, record) VALUES (?, ?, ?)",
                (run_id, now, encode_record(record)),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO deliveries (run_id, target, state, updated)"
                " VALUES (?, ?, 'pending', ?)",
                [(run_id, target, now) for target in targets],
            )

    def pending(self, target: str, limit: int = 10_000, offset: int = 0) -> list[PendingRun]:
        """Runs still pending for ``target``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT r.record, d.attempts FROM deliveries d JOIN runs r USING (run_id)"
                " WHERE d.target = ? AND d.state = 'pending' ORDER BY r.created, r.run_id"
                " LIMIT ? OFFSET ?",
                (target, limit, offset),
            ).fetchall()
        return [PendingRun(decode_record(text), attempts) for text, attempts in rows]

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
    """JSON for a record of cell values; datetimes tagged so they come back as datetimes."""
    return json.dumps(
        {
            k: {"$datetime": v.isoformat()} if isinstance(v, dt.datetime) else v
            for k, v in record.items()
        },
        ensure_ascii=False,
    )


def decode_record(text: str) -> dict[str, Any]:
    return {
        k: dt.datetime.fromisoformat(v["$datetime"]) if isinstance(v, dict) else v
        for k, v in json.loads(text).items()
    }
