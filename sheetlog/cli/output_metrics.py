"""Metrics in a wrapped command's output (``sheetlog run --metrics-from-output``): what is a
metric, and what never is.

A metric is ``key=value``, ``key: value``, ``'key': value`` or ``"key": value`` with a number;
a line may hold several (``epoch 3 - loss: 0.25 - acc: 0.91``, a printed dict, a JSON line).
Never metrics:

- the lines of a Python traceback, from ``Traceback (most recent call last):`` to the
  exception line (chained tracebacks too); the last exception line is kept for the run's
  ``error`` when the command fails;
- code: a value followed by an operator (``p = 1 / (1 + np.exp(-x))``), comparisons
  (``x == 1``, ``x <= 1``), keyword arguments of a call or a repr (``Adam(lr=0.1)``);
- the step: ``step``, ``global_step``, ``epoch``, ``iteration`` or ``iter`` written as an integer
  (``epoch=3``, ``step: 120``, a line starting ``Epoch 3/10``) is the step of that line's metrics
  (the first of those names present wins); a line that is only ``Epoch 3/10`` (Keras) gives the
  step of the lines after it. Written with a fraction (``'epoch': 0.33``) it stays a metric.
"""

from __future__ import annotations

import re
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass

STEP_KEYS = ("step", "global_step", "epoch", "iteration", "iter")
_NO_STEP = -(2**63)
_MAX_STEP = 2**63

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:nan|inf)"
_KEY = r"[A-Za-z_][\w./\-]*"
# What may follow a value: the end, a separator, Keras' " - next_key: ", or a space and a word
# (not an operator: `1 / (1 + x)` is code).
_VALUE_END = (
    r"(?=[ \t]*(?:$|[,;|)\]}])"
    rf"|[ \t]+-[ \t]+['\"]?{_KEY}['\"]?[ \t]*[:=]"
    r"|[ \t]+\((?=[A-Za-z])"
    r"|[ \t]+(?![-+*/%^&|<>=!~@(\[\s]|(?:if|else|for|and|or|in|is|not)\b))"
)
_METRIC = re.compile(
    rf"(?<![\w.\-/'\"])(['\"]?)({_KEY})\1"  # the key, maybe quoted
    rf"(?:[ \t]*=(?!=)|[ \t]*:[ \t]+)[ \t]*({_NUMBER}){_VALUE_END}"
)
_CALL = re.compile(r"[A-Za-z_][\w.]*\(")  # a call or a repr: `Adam(lr=0.1, betas=(0.9, 0.99))`
_STEP_PREFIX = re.compile(
    r"^[ \t\[]*(epoch|step|iteration|iter)[ \t]+([0-9]+)(?:[ \t]*/[ \t]*[0-9]+)?(?![\w.])", re.I
)
_TRACEBACK_START = re.compile(r"Traceback \(most recent call last\):")
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(?::(?:\s.*)?)?")


@dataclass(frozen=True)
class LineMetrics:
    values: dict[str, float]
    step: int | None


def line_metrics(line: str) -> LineMetrics | None:
    """The metrics one line reports, and their step; None when it reports none. Knows nothing
    of the lines around it: use ``StreamReader`` for a stream's lines (tracebacks)."""
    text = _without_calls(line)
    found: dict[str, float] = {}
    written: dict[str, str] = {}
    for _quote, key, value in _METRIC.findall(text):
        found[key] = float(value)
        written[key] = value
    step = None
    prefix = _STEP_PREFIX.match(line)
    if prefix:
        step = _step(prefix.group(2))
    for name in STEP_KEYS:
        keys = [key for key in found if key.lower() == name]
        if step is None and keys and (candidate := _step(written[keys[0]])) is not None:
            step = candidate
        if step is not None:
            for key in keys:
                if _step(written[key]) is not None:
                    del found[key]
    if not found:
        return None
    return LineMetrics(found, step)


def _without_calls(line: str) -> str:
    """``line`` with every call or repr (a name, then parentheses: to the matching one, or the
    end of the line) blanked out."""
    parts = []
    position = 0
    while (call := _CALL.search(line, position)) is not None:
        parts.append(line[position : call.start()])
        depth, end = 0, len(line)
        for index in range(call.end() - 1, len(line)):
            depth += {"(": 1, ")": -1}.get(line[index], 0)
            if depth == 0:
                end = index + 1
                break
        parts.append(" ")
        position = end
    parts.append(line[position:])
    return "".join(parts)


def _step(text: str) -> int | None:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if -_MAX_STEP < value < _MAX_STEP else None


class StreamReader:
    """Reads one stream's lines in order: knows when a traceback is being printed."""

    def __init__(self) -> None:
        self.in_traceback = False
        self.exception: str | None = None  # the last exception line of a traceback
        self.header_step: int | None = None  # from a line that is only "Epoch 3/10"

    def read(self, line: str) -> LineMetrics | None:
        if _TRACEBACK_START.search(line):
            self.in_traceback = True
            return None
        if self.in_traceback:
            if not line.strip() or line[:1].isspace():
                return None  # a frame, its code, the ^^^ markers
            self.in_traceback = False
            if _EXCEPTION_LINE.fullmatch(line.rstrip()):
                self.exception = line.strip()
                return None
        header = _STEP_PREFIX.match(line)
        if header and not line[header.end() :].strip():
            self.header_step = _step(header.group(2))
            return None
        found = line_metrics(line)
        if found is not None and found.step is None and self.header_step is not None:
            return LineMetrics(found.values, self.header_step)
        return found


class OutputMetrics:
    """Every metric read from a command's output, kept compactly (in arrays) until the command
    has ended: only then is it known which keys the command logged itself through the API
    (those are not taken from its output, so that their history is not recorded twice)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: list[StreamReader] = []
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        self._times = array("d")
        self._steps = array("q")
        self._counts = array("I")
        self._keys = array("I")
        self._values = array("d")

    def reader(self) -> Callable[[str], None]:
        """A line reader for one stream (stdout, stderr)."""
        stream = StreamReader()
        self._readers.append(stream)

        def read(line: str) -> None:
            found = stream.read(line)
            if found is not None:
                self._add(found, time.time())

        return read

    @property
    def error(self) -> str | None:
        """The last exception line of a traceback the command printed."""
        exceptions = [reader.exception for reader in self._readers if reader.exception]
        return exceptions[-1] if exceptions else None

    def _add(self, found: LineMetrics, when: float) -> None:
        with self._lock:
            self._times.append(when)
            self._steps.append(_NO_STEP if found.step is None else found.step)
            self._counts.append(len(found.values))
            for key, value in found.values.items():
                if key not in self._index:
                    self._index[key] = len(self.names)
                    self.names.append(key)
                self._keys.append(self._index[key])
                self._values.append(value)

    def calls(self, skip: Iterable[str] = ()) -> Iterable[tuple[float, int | None, dict]]:
        """Each line's (time, step, metrics), leaving out the keys in ``skip``."""
        left_out = set(skip)
        position = 0
        for when, step, count in zip(self._times, self._steps, self._counts, strict=True):
            values = {}
            for offset in range(position, position + count):
                name = self.names[self._keys[offset]]
                if name not in left_out:
                    values[name] = self._values[offset]
            position += count
            if values:
                yield when, (None if step == _NO_STEP else step), values
