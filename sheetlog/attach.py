"""A process wrapped by ``sheetlog run`` joins the wrapper's run instead of writing its own row.

The wrapper passes its run id and the path of an attach file in the environment. The first run
any process of the command starts claims them (a claim file created exclusively, so that of
several processes started at once — a shell pipeline, spawned workers — one joins and the others
log runs of their own): it takes the wrapper's run id (so its metric history is journaled under
that id) and, when it ends, writes its row and its target as JSON to the attach file instead of
journaling it. The wrapper reads that file when the command has exited, merges the row into its
own and writes it to that target. Runs started after the first one write rows of their own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import warn
from .journal import decode_record, encode_record

RUN_ID_VARIABLE = "SHEETLOG_PARENT_RUN_ID"
FILE_VARIABLE = "SHEETLOG_ATTACH_FILE"


@dataclass(frozen=True)
class Parent:
    run_id: str
    attach_file: Path


def child_environment(run_id: str, journal_dir: Path) -> dict[str, str]:
    """Variables that make a child process's first run join run ``run_id``; the journal
    directory goes along so that the child's metric history lands in the same journal."""
    return {
        RUN_ID_VARIABLE: run_id,
        FILE_VARIABLE: str(attach_file(run_id, journal_dir)),
        "SHEETLOG_DIR": str(journal_dir),
    }


def attach_file(run_id: str, journal_dir: Path) -> Path:
    return journal_dir / "attach" / f"{run_id}.json"


def claim() -> Parent | None:
    """The wrapper's run to join, if no other process has joined it yet. The variables are
    removed from this process's environment (the processes it starts do not inherit them)."""
    run_id = os.environ.pop(RUN_ID_VARIABLE, None)
    path = os.environ.pop(FILE_VARIABLE, None)
    if not run_id or not path:
        return None
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(_claim_file(Path(path)), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:  # another process of the command joined first
        return None
    except OSError as error:
        warn(
            f"sheetlog: cannot join the run of `sheetlog run` ({error});"
            " this run gets a row of its own"
        )
        return None
    return Parent(run_id, Path(path))


def _claim_file(path: Path) -> Path:
    return path.with_name(f"{path.stem}.claimed")


@dataclass(frozen=True)
class Joined:
    record: dict[str, Any]
    target: str | None  # None from a sheetlog that did not send it


def write(path: Path, record: dict[str, Any], target: str) -> None:
    """Save a child's row and target for the wrapper (atomically: the wrapper never reads half
    a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    payload = {"target": target, "row": encode_record(record)}
    partial.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, path)


def take(path: Path) -> Joined | None:
    """The row a child saved for the wrapper, removing its files; None if it saved none."""
    _claim_file(path).unlink(missing_ok=True)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    payload = json.loads(text)
    if isinstance(payload, dict) and set(payload) == {"target", "row"}:
        return Joined(decode_record(payload["row"]), payload["target"])
    return Joined(decode_record(text), None)  # the row alone, as sheetlog 0.1.0 saved it
