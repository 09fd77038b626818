"""A process wrapped by ``sheetlog run`` joins the wrapper's run instead of writing its own row.

The wrapper passes its run id and the path of an attach file in the environment. The first run
the wrapped process starts claims them: it takes the wrapper's run id (so its metric history is
journaled under that id) and, when it ends, writes its row as JSON to the attach file instead of
journaling it. The wrapper reads that file when the process has exited and merges it into its own
row. Runs started after the first one, and processes started by the wrapped process once its run
began, write rows of their own as usual.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """The wrapper's run to join, if any. Only the first caller gets it: the variables are
    removed from this process's environment."""
    run_id = os.environ.pop(RUN_ID_VARIABLE, None)
    path = os.environ.pop(FILE_VARIABLE, None)
    if not run_id or not path:
        return None
    return Parent(run_id, Path(path))


def write(path: Path, record: dict[str, Any]) -> None:
    """Save a child's row for the wrapper (atomically: the wrapper never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_text(encode_record(record), encoding="utf-8")
    os.replace(partial, path)


def take(path: Path) -> dict[str, Any] | None:
    """The row a child saved for the wrapper, removing the file; None if it saved none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    return decode_record(text)
