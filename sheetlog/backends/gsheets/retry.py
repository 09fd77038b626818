"""Bounded exponential backoff with jitter for Google Sheets requests.

Retried: HTTP 408, 429 (honouring ``Retry-After``), 500, 502, 503, 504, and connection errors and
timeouts. A request that failed that way may or may not have been applied (a write whose
response was lost): the operation is told so on its next attempt, so that it can look before it
writes again. When the budget is spent the last error is raised as a ``TargetError``; the caller's
rows stay pending in the journal.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
from gspread.exceptions import APIError

from ...errors import TargetError

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Waits of ``uniform(0, min(cap_s, base_s * 2**n))``, at most ``attempts`` tries and
    ``budget_s`` seconds of waiting in all (``SHEETLOG_GSHEETS_BACKOFF_S`` and
    ``SHEETLOG_GSHEETS_MAX_WAIT_S`` override the base and the budget)."""

    attempts: int = 10
    base_s: float = 1.0
    cap_s: float = 32.0
    budget_s: float = 90.0

    @classmethod
    def from_environment(cls) -> Backoff:
        base = float(os.environ.get("SHEETLOG_GSHEETS_BACKOFF_S", cls.base_s))
        budget = float(os.environ.get("SHEETLOG_GSHEETS_MAX_WAIT_S", cls.budget_s))
        return cls(base_s=base, cap_s=max(base, min(cls.cap_s, budget)), budget_s=budget)


def retry_after_s(error: BaseException) -> float | None:
    """Seconds a 429/503 answer asks the client to wait, if it says."""
    response = getattr(error, "response", None)
    header = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(header) if header else None
    except ValueError:
        return None


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, APIError):
        return error.response.status_code in RETRYABLE_STATUS
    return isinstance(error, (requests.ConnectionError, requests.Timeout))


def with_retries(
    operation: Callable[[bool], T],
    backoff: Backoff,
    describe: Callable[[BaseException], str],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``operation(after_failure)`` until it succeeds; ``after_failure`` is True once an
    attempt failed in a way that may have left its write applied."""
    waited = 0.0
    after_failure = False
    for attempt in range(backoff.attempts):
        try:
            return operation(after_failure)
        except Exception as error:  # noqa: BLE001 - classified right below
            if not is_retryable(error):
                raise
            last = error
        after_failure = True
        delay = random.uniform(0, min(backoff.cap_s, backoff.base_s * 2**attempt))
        delay = max(delay, retry_after_s(last) or 0.0)
        if attempt == backoff.attempts - 1 or waited + delay > backoff.budget_s:
            break
        sleep(delay)
        waited += delay
    raise TargetError(
        f"Google Sheets kept failing after {attempt + 1} attempts over {waited:.0f} s:"
        f" {describe(last)}"
    ) from last
