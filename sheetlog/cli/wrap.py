"""Run a wrapped command as a child process: pass Ctrl-C and the fatal signals on to it
(SIGTERM, SIGHUP when the terminal closes or SSH drops, SIGQUIT, SIGXCPU), optionally read its
output as it streams through, and tell how it ended. The wrapper outlives the signal: it waits
for the command to end, then writes the row; the command is never left behind as an orphan."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import click

from ..lifecycle import FATAL_SIGNALS

_FORWARDED = (signal.SIGINT, *FATAL_SIGNALS)
_LINE_END = re.compile(rb"\r\n|\r|\n")  # \r too: progress bars redraw a line with it
_LONGEST_LINE = 1 << 16  # bytes kept while waiting for the end of a line
_DRAIN_S = 5.0  # how long to wait for the rest of the output once the command has exited


@dataclass(frozen=True)
class Outcome:
    exit_code: int  # as a shell reports it: 128 + N when the command died of signal N
    died_of: int | None  # the signal the command died of
    interrupted_by: signal.Signals | None  # a signal passed on to the command (the first one)


def run_command(
    command: Sequence[str],
    env: Mapping[str, str],
    line_reader: Callable[[], Callable[[str], None]] | None = None,
) -> Outcome:
    """Run ``command`` to its end. Its output goes straight to the terminal, or, with
    ``line_reader``, through this process (to the same stdout and stderr, chunk by chunk as it
    comes): ``line_reader()`` makes one reader per stream, which sees every line of it in order.
    OSError when it cannot be started."""
    capture = subprocess.PIPE if line_reader else None
    with _forwarding_signals() as forwarder:
        process = subprocess.Popen(command, env=dict(env), stdout=capture, stderr=capture)
        forwarder.started(process)
        pumps = []
        if line_reader is not None:
            pumps = [
                _start_pump(process.stdout, click.get_binary_stream("stdout"), line_reader()),
                _start_pump(process.stderr, click.get_binary_stream("stderr"), line_reader()),
            ]
        returncode = process.wait()
        for pump in pumps:
            pump.join(_DRAIN_S)  # a background process it started may keep the pipe open
        interrupted_by = forwarder.received
    died_of = -returncode if returncode < 0 else None
    exit_code = 128 + died_of if died_of else returncode
    return Outcome(exit_code, died_of, interrupted_by)


class _Forwarder:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.received: signal.Signals | None = None

    def handle(self, signum: int, _frame: object) -> None:
        first = self.received is None
        if first:
            self.received = signal.Signals(signum)
        if self.process is None:
            return  # started() passes it on
        if signum == signal.SIGINT and first and _ctrl_c_reaches_child():
            return  # the terminal sent it to the command too; a second Ctrl-C is passed on
        self.process.send_signal(signum)

    def started(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        if self.received is not None:
            process.send_signal(self.received)


@contextmanager
def _forwarding_signals() -> Iterator[_Forwarder]:
    forwarder = _Forwarder()
    previous = {
        signum: signal.signal(signum, forwarder.handle)
        for signum in _FORWARDED
        if signal.getsignal(signum) != signal.SIG_IGN  # nohup: the command ignores it too
    }
    try:
        yield forwarder
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _ctrl_c_reaches_child() -> bool:
    """Whether a Ctrl-C typed in the terminal interrupts the command as well as this process:
    it does when this process (whose process group the command shares) is in the terminal's
    foreground, which is where Ctrl-C goes."""
    if not hasattr(os, "tcgetpgrp"):
        return True  # Windows: Ctrl-C goes to every process of the console
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False  # no terminal: the SIGINT was sent to this process alone
    try:
        return os.tcgetpgrp(terminal) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(terminal)


def _start_pump(
    source: BinaryIO | None, sink: BinaryIO, on_line: Callable[[str], None]
) -> threading.Thread:
    assert source is not None
    pump = threading.Thread(target=_pump, args=(source, sink, on_line), daemon=True)
    pump.start()
    return pump


def _pump(source: BinaryIO, sink: BinaryIO | None, on_line: Callable[[str], None]) -> None:
    """Copy ``source`` to ``sink`` as it comes and hand each complete line to ``on_line``."""
    pending = b""
    with source:
        while chunk := os.read(source.fileno(), 1 << 16):
            sink = _passed_on(chunk, sink)
            *lines, pending = _LINE_END.split(pending + chunk)
            for line in lines:
                on_line(line.decode("utf-8", "replace"))
            if len(pending) > _LONGEST_LINE:
                pending = b""  # not text made of lines: nothing to read metrics from
    if pending:
        on_line(pending.decode("utf-8", "replace"))


def _passed_on(chunk: bytes, sink: BinaryIO | None) -> BinaryIO | None:
    """Write ``chunk`` to ``sink``; None from then on if it is closed (``| head``): the command's
    output is still read, so that it never blocks on a full pipe."""
    if sink is not None:
        try:
            sink.write(chunk)
            sink.flush()
        except (OSError, ValueError):
            return None
    return sink
