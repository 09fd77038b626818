"""sheetlog: your machine-learning experiment log, kept as a spreadsheet.

import sheetlog
with sheetlog.start_run(params={"lr": 0.01, "epochs": 3}) as run:
    ...
    run.log_metrics({"accuracy": 0.93})
sheetlog.load()  # -> pandas DataFrame, one row per run
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigurationError,
    QueryError,
    RowRejected,
    RunEndedError,
    RunNotFound,
    SheetlogError,
    SheetlogWarning,
    TargetError,
    TargetLocked,
    TargetUnavailable,
    UnsupportedWorkbook,
)

if TYPE_CHECKING:
    from .api import best, diff, flush, load, load_history, log_run, select, start_run
    from .context import CaptureOptions
    from .delivery import DeliveryReport
    from .run import Run

__version__ = "0.1.0"

# The API is imported on first use, not with the package: the command line's read-only commands
# (``sheetlog ls``) need only the backends, and start ~0.1 s sooner without the rest.
_LAZY = {
    "best": "api",
    "diff": "api",
    "select": "api",
    "flush": "api",
    "load": "api",
    "load_history": "api",
    "log_run": "api",
    "start_run": "api",
    "CaptureOptions": "context",
    "DeliveryReport": "delivery",
    "Run": "run",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sheetlog' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:  # tab completion lists the API before its first use
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CaptureOptions",
    "ConfigurationError",
    "DeliveryReport",
    "QueryError",
    "RowRejected",
    "RunEndedError",
    "Run",
    "RunNotFound",
    "SheetlogError",
    "SheetlogWarning",
    "TargetError",
    "TargetLocked",
    "TargetUnavailable",
    "UnsupportedWorkbook",
    "best",
    "diff",
    "flush",
    "load",
    "load_history",
    "log_run",
    "select",
    "start_run",
]
