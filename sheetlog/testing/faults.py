"""Injected faults and per-user quotas, with the answers Google gives for them."""

from __future__ import annotations

import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

from .grid import ApiError, dumps

FAULT_KINDS = ("429", "408", "500", "502", "503", "504", "slow", "drop_before", "drop_after")

# Faults answered before the request is applied (nothing changes on the server).
ERROR_KINDS = ("429", "408", "500", "502", "503", "504")


@dataclass
class Fault:
    kind: str
    times: int | None = 1  # None: every matching request
    match: str | None = None  # regex searched in "METHOD /path"
    retry_after: float = 1.0  # seconds, for 429
    delay: float = 1.0  # seconds, for "slow"

    def matches(self, method: str, path: str) -> bool:
        return self.match is None or re.search(self.match, f"{method} {path}") is not None


def check_kind(kind: str) -> str:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    return kind


class FaultPlan:
    """One-shot faults (``inject``) and random ones (``set_rate``), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self._rate = 0.0
        self._kinds: tuple[str, ...] = FAULT_KINDS
        self._rate_match: str | None = None
        self._rate_retry_after = 1.0
        self._rate_delay = 1.0
        self._rng = random.Random()

    def inject(self, fault: Fault) -> None:
        check_kind(fault.kind)
        if fault.match is not None:
            re.compile(fault.match)
        with self._lock:
            self._queue.append(fault)

    def set_rate(
        self,
        rate: float,
        kinds: tuple[str, ...] | list[str] = FAULT_KINDS,
        seed: int | None = None,
        match: str | None = None,
        retry_after: float = 1.0,
        delay: float = 1.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        kinds = tuple(check_kind(k) for k in kinds)
        if not kinds:
            raise ValueError("kinds must not be empty")
        with self._lock:
            self._rate, self._kinds, self._rate_match = rate, kinds, match
            self._rate_retry_after, self._rate_delay = retry_after, delay
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate = 0.0

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._queue)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any (an injected one first, then a random one)."""
        with self._lock:
            for fault in self._queue:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._queue.remove(fault)
                    return fault
            if (
                self._rate > 0
                and (
                    self._rate_match is None
                    or re.search(self._rate_match, f"{method} {path}") is not None
                )
                and self._rng.random() < self._rate
            ):
                kind = self._rng.choice(self._kinds)
                return Fault(kind, None, None, self._rate_retry_after, self._rate_delay)
        return None


class Quota:
    """Requests per user per window, reads and writes counted separately (sliding window)."""

    def __init__(self, reads: int | None, writes: int | None, window_s: float):
        self._lock = threading.Lock()
        self.reads, self.writes, self.window_s = reads, writes, window_s
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def configure(self, reads: int | None, writes: int | None, window_s: float) -> None:
        with self._lock:
            self.reads, self.writes, self.window_s = reads, writes, window_s

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()

    def admit(self, user: str, kind: str) -> bool:
        """Count the request if the user still has quota; False when it is exhausted."""
        with self._lock:
            limit = self.reads if kind == "read" else self.writes
            if limit is None:
                return True
            now = time.monotonic()
            seen = self._seen.setdefault((user, kind), deque())
            while seen and seen[0] <= now - self.window_s:
                seen.popleft()
            if len(seen) >= limit:
                return False
            seen.append(now)
            return True


def quota_error(kind: str, limit: int | None, retry_after: float | None = None) -> ApiError:
    """Google's 429 RESOURCE_EXHAUSTED for the per-user, per-minute quota."""
    word = "Read" if kind == "read" else "Write"
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = _seconds(retry_after)
    return ApiError(
        429,
        f"Quota exceeded for quota metric '{word} requests' and limit '{word} requests per "
        "minute per user' of service 'sheets.googleapis.com' for consumer "
        "'project_number:000000000000'.",
        "RESOURCE_EXHAUSTED",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": {
                    "quota_limit": f"{word}RequestsPerMinutePerUser",
                    "quota_unit": "1/min/{project}/{user}",
                    "quota_location": "global",
                    "quota_limit_value": str(limit if limit is not None else 60),
                    "consumer": "projects/000000000000",
                    "service": "sheets.googleapis.com",
                    "quota_metric": f"sheets.googleapis.com/{word.lower()}_requests",
                },
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Request a higher quota limit.",
                        "url": "https://cloud.google.com/docs/quotas/help/request_increase",
                    }
                ],
            },
        ],
        headers=headers,
    )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


_GFE_PAGE = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    "  <title>Error {code} ({title})!!1</title>\n"
    "  <p><b>{code}.</b> <ins>That\u2019s an error.</ins>\n"
    "  <p>{text}  <ins>That\u2019s all we know.</ins>\n"
)


def fault_response(fault: Fault, kind: str, limit: int | None) -> tuple[int, dict, bytes]:
    """(status, headers, body) for an injected error fault. 408 and 502 come from Google's
    front end as HTML pages; the others are JSON errors from the API."""
    code = fault.kind
    if code == "429":
        error = quota_error(kind, limit, fault.retry_after)
        return 429, error.headers, _json(error)
    if code in ("408", "502"):
        title, text = {
            "408": ("Request Timeout", "Your client has taken too long to issue its request."),
            "502": (
                "Server Error",
                "The server encountered a temporary error and could not "
                "complete your request.<p>Please try again in 30 seconds.",
            ),
        }[code]
        page = _GFE_PAGE.format(code=code, title=title, text=text)
        return int(code), {"Content-Type": "text/html; charset=UTF-8"}, page.encode()
    message, status = {
        "500": ("Internal error encountered.", "INTERNAL"),
        "503": ("The service is currently unavailable.", "UNAVAILABLE"),
        "504": ("Deadline expired before operation could complete.", "DEADLINE_EXCEEDED"),
    }[code]
    return int(code), {}, _json(ApiError(int(code), message, status))


def _json(error: ApiError) -> bytes:
    return dumps(error.payload())
