"""Remembering, across runs and processes, that a target cannot be reached right now.

Without it every run that ends while the network is down pays again for finding that out (a
DNS or connect timeout, or a retry budget). A target that raised ``TargetUnavailable`` gets a
small file in the journal directory, ``backoff-<digest>.json``, saying until when runs leave it
alone: 30 s after the first failure, doubling with each further one, at most 10 minutes
(``SHEETLOG_BACKOFF_S`` sets the first wait). Runs ending before then keep their row pending
without touching the network (no backend is even imported); the first run after it, or an
explicit ``flush`` at any time, tries again, and success removes the file.

The file is replaced whole (``os.replace``) so a process never reads half of one; processes
writing it at the same moment each leave a complete file, and a file that cannot be read counts
as no back-off.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FIRST_WAIT_S = 30.0
MAX_WAIT_S = 600.0


@dataclass(frozen=True)
class BackoffState:
    until: float  # time.time() before which runs leave the target alone
    failures: int
    reason: str

    def describe(self) -> str:
        when = dt.datetime.fromtimestamp(self.until).strftime("%H:%M:%S")
        tries = "its last try" if self.failures == 1 else f"its last {self.failures} tries"
        return (
            f"not tried until {when}, as it could not be reached at {tries} (`sheetlog flush`"
            f" tries at once); the last error: {self.reason}"
        )


class TargetBackoff:
    """The back-off file of one target in one journal directory."""

    def __init__(self, directory: str | os.PathLike[str], target: str) -> None:
        digest = hashlib.sha256(target.encode()).hexdigest()[:16]
        self.path = Path(directory) / f"backoff-{digest}.json"
        self.target = target

    def active(self, now: float | None = None) -> BackoffState | None:
        """The back-off in force, or None when the target may be tried."""
        state = self.read()
        now = time.time() if now is None else now
        return state if state is not None and state.until > now else None

    def read(self) -> BackoffState | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return BackoffState(float(data["until"]), int(data["failures"]), str(data["reason"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def failed(self, reason: str) -> BackoffState:
        """Record one more failure; returns the back-off it starts."""
        previous = self.read()
        failures = (previous.failures if previous else 0) + 1
        wait = min(MAX_WAIT_S, _first_wait_s() * 2 ** min(failures - 1, 32))
        state = BackoffState(time.time() + wait, failures, reason)
        data = {**state.__dict__, "target": self.target}
        with contextlib.suppress(OSError):  # a read-only journal folder: no memory, no harm
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".backoff-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    json.dump(data, file)
                os.replace(temporary, self.path)
            except OSError:
                os.unlink(temporary)
                raise
        return state

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def _first_wait_s() -> float:
    """``SHEETLOG_BACKOFF_S``, or 30 s when it is unset or not a number >= 0 (delivery must not
    fail over a setting)."""
    try:
        first = float(os.environ.get("SHEETLOG_BACKOFF_S", FIRST_WAIT_S))
    except ValueError:
        return FIRST_WAIT_S
    return first if first >= 0 else FIRST_WAIT_S
