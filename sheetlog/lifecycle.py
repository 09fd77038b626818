"""Ending runs the user did not end: at interpreter exit, on SIGTERM, after an uncaught exception.

At exit, runs this process left to another process's delivery are checked too (see
``delivery.deliver_handed_over``).

A run left open when the process exits normally is FINISHED; after an uncaught exception it is
FAILED with that exception; on SIGTERM it is KILLED and the process then dies of SIGTERM as it
would have without sheetlog.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run import Run

_active: list[Run] = []
_lock = threading.RLock()  # reentrant: the SIGTERM handler runs on the main thread
_installed = False
_uncaught: BaseException | None = None


def active_runs() -> list[Run]:
    with _lock:
        return list(_active)


def started(run: Run) -> None:
    with _lock:
        _active.append(run)
    _install_hooks()


def ended(run: Run) -> None:
    with _lock:
        if run in _active:
            _active.remove(run)


def _finish_all(status: str, error: str | None = None) -> None:
    for run in reversed(active_runs()):
        try:
            run.finish(status, error=error)
        except Exception as problem:  # noqa: BLE001 - the process is ending; say, don't raise
            warnings.warn(f"sheetlog could not end run {run.run_id}: {problem}", stacklevel=2)


def _at_exit() -> None:
    if _uncaught is not None:
        _finish_all("FAILED", f"{type(_uncaught).__name__}: {_uncaught}")
    else:
        _finish_all("FINISHED")
    # imported by any process that ended a run
    from .delivery import deliver_handed_over, retry_unjournaled

    retry_unjournaled()
    deliver_handed_over()


def _on_sigterm(signum: int, _frame: object) -> None:
    _finish_all("KILLED", "terminated by SIGTERM")
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(kind, value, traceback):  # type: ignore[no-untyped-def]
        global _uncaught
        if issubclass(kind, KeyboardInterrupt):
            _finish_all("KILLED", "interrupted (KeyboardInterrupt)")
        else:
            _uncaught = value
        previous_hook(kind, value, traceback)

    sys.excepthook = excepthook
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
