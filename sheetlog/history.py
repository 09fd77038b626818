"""The step history of a run's metrics: collected in memory in blocks, saved by a background
thread, so that ``run.log_metrics`` never waits for the disk.

A block holds up to ``BLOCK_CALLS`` calls of ``log_metrics``: per call its step and time and how
many values it logged, per value the metric's index (into the run's metric names) and the value.
Full blocks go to one writer thread per process, through a bounded queue (a training loop that
outruns the disk for long waits for it rather than filling the memory); the thread stores each
block as one compressed row of the journal (``Journal.add_metric_block``).
"""

from __future__ import annotations

import json
import os
import queue
import struct
import threading
import zlib
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .journal import Journal

BLOCK_CALLS = 4096
QUEUED_BLOCKS = 16
NO_STEP = -(2**63)  # how a missing step is stored
_MAGIC = b"SLH1"
_HEADER = struct.Struct("<4sIII")


@dataclass
class Block:
    names: list[str]
    steps: list[int | None] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


class MetricHistory:
    """A run's history not saved yet: the block being filled, and the metric names so far."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.block = Block(self.names)

    def index_of(self, name: str) -> int:
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)
        return self.index[name]

    def take(self) -> Block | None:
        """The block filled so far (None when empty); a new one starts."""
        block = self.block
        if not block.counts:
            return None
        self.block = Block(self.names)
        block.names = list(self.names)
        return block


def encode(block: Block) -> bytes:
    names = json.dumps(block.names).encode()
    body = b"".join(
        (
            _HEADER.pack(_MAGIC, len(block.counts), len(block.values), len(names)),
            names,
            array("q", [NO_STEP if s is None else s for s in block.steps]).tobytes(),
            array("d", block.times).tobytes(),
            array("I", block.counts).tobytes(),
            array("I", block.keys).tobytes(),
            array("d", block.values).tobytes(),
        )
    )
    return zlib.compress(body, 1)


def decode(data: bytes, key: str | None = None) -> list[tuple[str, int | None, float, float]]:
    """``(key, step, value, time)`` of every value in an encoded block (of one metric only,
    when ``key`` is given), in logging order."""
    body = zlib.decompress(data)
    magic, calls, values, names_length = _HEADER.unpack_from(body)
    if magic != _MAGIC:
        raise ValueError("not a sheetlog metric block")
    position = _HEADER.size
    names = json.loads(body[position : position + names_length])
    position += names_length

    def take(code: str, count: int) -> array:
        nonlocal position
        out = array(code)
        out.frombytes(body[position : position + count * out.itemsize])
        position += count * out.itemsize
        return out

    steps, times, counts = take("q", calls), take("d", calls), take("I", calls)
    keys, numbers = take("I", values), take("d", values)
    call_of = [call for call, count in enumerate(counts) for _ in range(count)]
    wanted = range(values)
    if key is not None:
        if key not in names:
            return []
        index = names.index(key)
        wanted = [i for i, k in enumerate(keys) if k == index]
    return [
        (
            names[keys[i]],
            None if steps[call_of[i]] == NO_STEP else steps[call_of[i]],
            numbers[i],
            times[call_of[i]],
        )
        for i in wanted
    ]


class _Queue(queue.Queue):
    """A queue whose lock its own thread may take again: a fatal signal's handler that ends
    the run (and waits for this queue) may run on the main thread inside ``put``, which holds
    the lock; with a plain lock the process hung there."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.mutex = threading.RLock()  # type: ignore[assignment]
        self.not_empty = threading.Condition(self.mutex)
        self.not_full = threading.Condition(self.mutex)
        self.all_tasks_done = threading.Condition(self.mutex)


class _Writer:
    """The process's history writer thread (started on first use, again after a fork)."""

    def __init__(self) -> None:
        self._queue: queue.Queue = _Queue(QUEUED_BLOCKS)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.failures: list[str] = []

    def submit(self, journal: Journal, run_id: str, block: Block) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._queue = _Queue(QUEUED_BLOCKS)
                self._thread = threading.Thread(
                    target=self._work, name="sheetlog-history", daemon=True
                )
                self._pid = os.getpid()
                self._thread.start()
            work = self._queue
        work.put((journal, run_id, block))

    def wait(self) -> list[str]:
        """Block until every submitted block is saved; the failures since the last call."""
        if self._thread is not None and self._pid == os.getpid():
            self._queue.join()
        failures, self.failures = self.failures, []
        return failures

    def forget_parent(self) -> None:
        """In a forked child: the parent's thread, queue, lock and failures are not its own."""
        self._lock = threading.Lock()
        self._queue = _Queue(QUEUED_BLOCKS)
        self._thread = None
        self.failures = []

    def _work(self) -> None:
        work = self._queue
        while True:
            journal, run_id, block = work.get()
            try:
                journal.add_metric_block(run_id, encode(block))
            except Exception as error:  # noqa: BLE001 - reported by wait(), never lost silently
                self.failures.append(f"run {run_id}: {type(error).__name__}: {error}")
            finally:
                work.task_done()


writer = _Writer()
