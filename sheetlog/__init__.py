"""sheetlog: your machine-learning experiment log, kept as a spreadsheet.

import sheetlog
with sheetlog.start_run(params={"lr": 0.01, "epochs": 3}) as run:
    ...
    run.log_metrics({"accuracy": 0.93})
sheetlog.load()  # -> pandas DataFrame, one row per run
"""

from .api import flush, load, load_history, log_run, start_run
from .context import CaptureOptions
from .delivery import DeliveryReport
from .errors import (
    RowRejected,
    SheetlogError,
    SheetlogWarning,
    TargetError,
    TargetLocked,
    UnsupportedWorkbook,
)
from .run import Run

__version__ = "0.1.0"

__all__ = [
    "CaptureOptions",
    "DeliveryReport",
    "RowRejected",
    "Run",
    "SheetlogError",
    "SheetlogWarning",
    "TargetError",
    "TargetLocked",
    "UnsupportedWorkbook",
    "flush",
    "load",
    "load_history",
    "log_run",
    "start_run",
]
