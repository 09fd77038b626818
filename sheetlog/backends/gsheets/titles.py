"""Which worksheet a URL or bare-key target means, remembered between processes.

A target given as ``gsheet://<key>`` or a pasted URL with ``#gid=`` names no worksheet title,
and the header can only be read by title: finding it costs one more read. Titles found are kept
for the process and, when a directory is given (the journal's), in a small JSON file there, so
that a fresh process needs no extra read. A title that stopped working (the worksheet was
renamed) is forgotten and looked up again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

FILE_NAME = "gsheets-worksheets.json"
_in_process: dict[str, str] = {}


def _entry(key: str, gid: int | None) -> str:
    return f"{key}#{'' if gid is None else gid}"


class WorksheetTitles:
    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(directory) / FILE_NAME if directory is not None else None

    def get(self, key: str, gid: int | None) -> str | None:
        entry = _entry(key, gid)
        if entry not in _in_process:
            title = self._stored().get(entry)
            if isinstance(title, str):
                _in_process[entry] = title
        return _in_process.get(entry)

    def remember(self, key: str, gid: int | None, title: str) -> None:
        entry = _entry(key, gid)
        _in_process[entry] = title
        stored = self._stored()
        if stored.get(entry) != title:
            stored[entry] = title
            self._store(stored)

    def forget(self, key: str, gid: int | None) -> None:
        entry = _entry(key, gid)
        _in_process.pop(entry, None)
        stored = self._stored()
        if stored.pop(entry, None) is not None:
            self._store(stored)

    def _stored(self) -> dict[str, str]:
        if self._path is None:
            return {}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _store(self, data: dict[str, str]) -> None:
        """Written whole to a temporary file and renamed: readers never see half a file."""
        if self._path is None or not self._path.parent.is_dir():
            return
        try:
            handle, temporary = tempfile.mkstemp(dir=self._path.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file, indent=1, sort_keys=True)
            os.replace(temporary, self._path)
        except OSError:
            pass  # only a cache: the next process looks the title up again
