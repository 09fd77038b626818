"""Ending runs the user did not end: at interpreter exit, on a fatal signal, after an uncaught
exception; and forgetting the parent's runs in a forked child.

At exit, runs this process left to another process's delivery are checked too (see
``delivery.deliver_handed_over``).

A run left open when the process exits normally is FINISHED; after an uncaught exception it is
FAILED with that exception; on SIGTERM, SIGHUP (terminal closed, SSH connection dropped), SIGQUIT
(Ctrl-\\) or SIGXCPU (CPU time limit of a batch scheduler) it is KILLED and the process then dies
of that signal as it would have without sheetlog. A handler the program installed before its
first run is called first: if it returns, the program goes on and so do its runs; if it raises
(``sys.exit``), the runs end KILLED. A signal the program ignores (``nohup``) stays ignored.
SIGUSR1/SIGUSR2 and SIGALRM are left alone: frameworks install their own handlers for them only
where none is installed yet (Lightning's SLURM requeue on SIGUSR1). SIGKILL cannot be caught.

A forked child (``multiprocessing`` with fork, DataLoader workers, ``os.fork``) inherits the
parent's runs, but they are not its own: right after the fork they are detached (the child never
ends, writes or duplicates them) and the child starts with no active runs, no duties at exit and
the signal handlers it had before sheetlog's; runs it starts itself are logged as usual. Fatal
signals are held during the fork itself, so that one sent to a new child (``Pool.terminate``) is
never lost.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Run

#: Signals that end the runs as KILLED (those this platform has).
FATAL_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGXCPU")
    if hasattr(signal, name)
)

_active: list[Run] = []
_lock = threading.RLock()  # reentrant: a signal handler runs on the main thread
_exit_hooks_installed = False
_signals_installed = False
_previous_handlers: dict[int, Any] = {}
_ending_by_signal = False
_held_signal: int | None = None  # a fatal signal waiting for the end of a run being saved
_uncaught: BaseException | None = None
_after_fork: list[Callable[[], None]] = []
_mask_before_fork = threading.local()  # the signal mask of the thread forking


def active_runs() -> list[Run]:
    """Runs of this process still running (not those being ended now)."""
    with _lock:
        return [run for run in _active if run.status == "RUNNING"]


def started(run: Run) -> None:
    with _lock:
        _active.append(run)
    _install_hooks()


def ended(run: Run) -> None:
    """``run`` has ended and its row is saved (or could not be): a fatal signal that arrived
    while it was being saved ends the process now."""
    with _lock:
        if run in _active:
            _active.remove(run)
        held = _held_signal if not _active else None
    if held is None:
        return
    if threading.current_thread() is threading.main_thread():
        _die_of(held)
    else:
        os.kill(os.getpid(), held)  # the handler, on the main thread, ends the process


def in_child_after_fork(forget: Callable[[], None]) -> None:
    """Have ``forget`` run in every child right after a fork, after the active runs were
    detached: for module state of the parent that the child must not use (connections, locks,
    queues of a thread that does not exist in the child)."""
    _after_fork.append(forget)


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


def _on_fatal_signal(signum: int, frame: Any) -> None:
    global _ending_by_signal, _held_signal
    cause = f"terminated by {signal.Signals(signum).name}"
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):  # the program's own handler decides whether this ends the process
        try:
            previous(signum, frame)
        except BaseException:
            _finish_all("KILLED", cause)
            raise
        return
    if not _ending_by_signal:  # a second signal does not end the runs again
        _ending_by_signal = True
        _finish_all("KILLED", cause)
    with _lock:
        if _active:  # a row being saved (its end was interrupted, or in another thread) first
            _held_signal = signum
            return
    _die_of(signum)


def _die_of(signum: int) -> None:
    """Die of ``signum`` as the process would have without sheetlog."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _exit_hooks_installed
    with _lock:
        first = not _exit_hooks_installed
        _exit_hooks_installed = True
    if first:
        atexit.register(_at_exit)
        _install_excepthook()
    _install_signal_handlers()


def _install_excepthook() -> None:
    previous_hook = sys.excepthook

    def excepthook(kind, value, traceback):  # type: ignore[no-untyped-def]
        global _uncaught
        if issubclass(kind, KeyboardInterrupt):
            _finish_all("KILLED", "interrupted (KeyboardInterrupt)")
        else:
            _uncaught = value
        previous_hook(kind, value, traceback)

    sys.excepthook = excepthook


def _install_signal_handlers() -> None:
    """Handle the fatal signals, once, from the main thread (the only one that may): a run
    started first in another thread leaves it to the next run started in the main thread."""
    global _signals_installed
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return
    _signals_installed = True
    for signum in FATAL_SIGNALS:
        previous = signal.getsignal(signum)
        if previous == signal.SIG_IGN or previous is None:
            continue  # ignored on purpose (nohup), or a handler not set from Python
        _previous_handlers[signum] = previous
        signal.signal(signum, _on_fatal_signal)


def _block_fatal_signals() -> None:
    """Before a fork: a fatal signal is held until the child has dropped sheetlog's handlers.
    Python forgets a signal that reaches a child before its handlers run (``Pool.terminate``
    right after a worker starts): the worker then lived on, and the parent hung joining it."""
    _mask_before_fork.mask = (
        signal.pthread_sigmask(signal.SIG_BLOCK, FATAL_SIGNALS) if _signals_installed else None
    )


def _unblock_fatal_signals() -> None:
    mask = getattr(_mask_before_fork, "mask", None)
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _forget_parent_in_child() -> None:
    """Right after a fork, in the child (see the module docstring)."""
    global _lock, _uncaught, _ending_by_signal, _held_signal, _signals_installed
    _lock = threading.RLock()  # another thread of the parent may have held it at the fork
    inherited, _active[:] = list(_active), []
    _uncaught = None
    _ending_by_signal = False
    _held_signal = None
    for run in inherited:
        run.detach()
    for forget in _after_fork:
        forget()
    for signum, previous in _previous_handlers.items():
        if signal.getsignal(signum) is _on_fatal_signal:
            signal.signal(signum, previous)  # the program's own handler, or the default
    _previous_handlers.clear()
    _signals_installed = False  # a run the child starts installs them again
    _unblock_fatal_signals()  # a signal held during the fork arrives now


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_block_fatal_signals,
        after_in_parent=_unblock_fatal_signals,
        after_in_child=_forget_parent_in_child,
    )
