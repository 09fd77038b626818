"""Runs tables for the CLI tests: fresh directories, a 1,000-run workbook, the fake Google Sheet;
``invoke`` runs the command in-process.

``fake_records(n)`` are rows as sheetlog writes them (varied params, metrics, statuses, tags);
they are written straight through a backend (one group write), which takes well under a second.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from click.testing import CliRunner, Result

from sheetlog.cli import main
from sheetlog.targets import open_target
from sheetlog.values import to_cell


def fake_records(count: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    records = []
    for i in range(count):
        began = start + dt.timedelta(minutes=7 * i)
        lr = rng.choice([0.1, 0.03, 0.01, 0.003])
        record: dict[str, Any] = {
            "run_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "name": f"sweep-{i}",
            "status": rng.choice(["FINISHED"] * 8 + ["FAILED", "KILLED"]),
            "start_time": began,
            "end_time": began + dt.timedelta(seconds=30 + i % 50),
            "duration_s": float(30 + i % 50),
            "params.lr": lr,
            "params.batch_size": rng.choice([32, 64, 128]),
            "params.optimizer": rng.choice(["adam", "sgd"]),
            "metrics.accuracy": round(0.5 + rng.random() * 0.45, 4),
            "metrics.loss": round(rng.random(), 4),
            "tags.team": "vision",
            "command": f"python train.py --lr {lr}",
            "host": "gpu-1",
            "git.commit": f"{i:040x}",
        }
        records.append({name: to_cell(value) for name, value in record.items()})
    return records


def write_records(target: str, records: list[dict[str, Any]]) -> None:
    """Write ``records`` into ``target`` in one group write (no journal involved)."""
    backend = open_target(target)
    with backend.lock():
        result = backend.write(records)
    assert not result.rejected, result.rejected


def invoke(*args: str, width: int = 100) -> Result:
    """The ``sheetlog`` command run in-process, on a terminal ``width`` columns wide."""
    return CliRunner().invoke(main, list(args), env={"COLUMNS": str(width)})
