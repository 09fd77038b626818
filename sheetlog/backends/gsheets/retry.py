"""Bounded exponential backoff with jitter for Google Sheets requests.

Retried, with waits adding up to a budget (30 s) and every request ending within that budget
plus one read timeout (30 s) of the first (at least 10 s): HTTP 408, 429 (honouring
``Retry-After``), 500, 502, 503, 504, a connection dropped mid-request and a read timeout. A
server that accepts and never answers thus costs one delivery 60 s at most, and the target is
then left alone for a while. A request that failed that way may or may not have been applied (a
write whose response was lost): the operation is told so on its next attempt, so that it can
look before it writes again.

Not retried: a connection that cannot be made at all (refused, no route, DNS failure, TLS
failure, proxy refusal, connect timeout). Measured here with the endpoint refusing connections,
retrying them cost each run 60-75 s and never once succeeded: a network that is down is not
back within seconds. Such an error, like a spent budget, raises ``TargetUnavailable`` at once;
delivery then leaves the target alone for a while (``sheetlog.target_backoff``) and the rows
wait in the journal.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
from google.auth.exceptions import TransportError
from gspread.exceptions import APIError
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ...errors import TargetUnavailable

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Waits of ``uniform(0, min(cap_s, base_s * 2**n))``, at most ``attempts`` tries and
    ``budget_s`` seconds of waiting in all (``SHEETLOG_GSHEETS_BACKOFF_S`` and
    ``SHEETLOG_GSHEETS_MAX_WAIT_S`` override the base and the budget)."""

    attempts: int = 10
    base_s: float = 1.0
    cap_s: float = 16.0
    budget_s: float = 30.0

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


def is_unreachable(error: BaseException) -> bool:
    """Whether no connection could be made at all (nothing was sent): refused, no route, DNS,
    TLS, proxy, connect timeout -- also when it happened while fetching a token."""
    unreachable = (
        requests.exceptions.SSLError,
        requests.exceptions.ProxyError,
        requests.exceptions.ConnectTimeout,
        NewConnectionError,  # refused, no route, DNS (its subclass NameResolutionError)
        ConnectTimeoutError,
    )
    return any(isinstance(seen, unreachable) for seen in _chain(error))


def root_cause(error: BaseException) -> BaseException:
    """The innermost error of the chain requests and google-auth wrap around the socket's (its
    message names the reason without the request's whole URL)."""
    return _chain(error)[-1]


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the errors it wraps (urllib3's ``reason``, a wrapped first argument, the
    cause), outermost first."""
    chain = [error]
    for _ in range(8):
        seen = chain[-1]
        reason = getattr(seen, "reason", None)
        wrapped = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        inner = reason if isinstance(reason, BaseException) else wrapped or seen.__cause__
        if inner is None or inner in chain:
            break
        chain.append(inner)
    return chain


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, APIError):
        return error.response.status_code in RETRYABLE_STATUS
    if is_unreachable(error):
        return False
    return isinstance(error, (requests.ConnectionError, requests.Timeout, TransportError))


def with_retries(
    operation: Callable[[bool], T],
    backoff: Backoff,
    describe: Callable[[BaseException], str],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    limit_s: float | None = None,
) -> T:
    """Call ``operation(after_failure)`` until it succeeds; ``after_failure`` is True once an
    attempt failed in a way that may have left its write applied. Waits between attempts add up
    to ``backoff.budget_s`` at most; with ``limit_s``, no attempt starts after that many
    seconds in all (the caller makes its requests end by then too)."""
    started = clock()
    waited = 0.0
    after_failure = False
    for attempt in range(backoff.attempts):
        try:
            return operation(after_failure)
        except Exception as error:  # noqa: BLE001 - classified right below
            if is_unreachable(error):
                reason = f"Google Sheets cannot be reached: {describe(error)}"
                raise TargetUnavailable(reason) from error
            if not is_retryable(error):
                raise
            last = error
        after_failure = True
        delay = random.uniform(0, min(backoff.cap_s, backoff.base_s * 2**attempt))
        delay = max(delay, retry_after_s(last) or 0.0)
        late = limit_s is not None and clock() - started + delay > limit_s
        if attempt == backoff.attempts - 1 or waited + delay > backoff.budget_s or late:
            break
        sleep(delay)
        waited += delay
    raise TargetUnavailable(
        f"Google Sheets kept failing after {attempt + 1} attempts over"
        f" {clock() - started:.0f} s: {describe(last)}"
    ) from last
