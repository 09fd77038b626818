"""The ``sheetlog`` command line: the Python API verb for verb, for shells and scripts.

Exit codes: 0 success, 1 failure, 2 usage error. Data goes to stdout, messages to stderr.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
