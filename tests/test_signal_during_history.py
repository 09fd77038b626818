"""A fatal signal that lands while the main thread hands a block of metric history to the
writer thread (inside ``queue.Queue.put``, holding the queue's lock) must not hang the process.

Found by running tests/test_api.py's SIGTERM-during-training test repeatedly: the handler
ended the run, whose ``history.writer.wait()`` (``Queue.join``) waited for the lock the
interrupted ``put`` held, forever (py-spy: MainThread in Queue.join under Queue.put).
"""

from __future__ import annotations

import threading
from pathlib import Path

from sheetlog.history import Block, _Writer
from sheetlog.journal import Journal


def test_waiting_for_the_history_writer_inside_an_interrupted_put_does_not_hang(tmp_path: Path):
    writer = _Writer()
    writer.submit(Journal(tmp_path / "journal"), "a" * 32, Block(["loss"]))
    writer.wait()
    results: list[list[str]] = []

    def handler_inside_put() -> None:
        with writer._queue.mutex:  # what Queue.put holds when the signal handler runs
            results.append(writer.wait())

    thread = threading.Thread(target=handler_inside_put, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "wait() hung on the queue lock its own thread holds"
    assert results == [[]]
