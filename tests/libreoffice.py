"""Finding LibreOffice for the tests that read results back with it."""

from __future__ import annotations

import os
import shutil

import pytest


def find_soffice() -> str:
    """The soffice executable. Missing, the test fails under CI (which must install it) and is
    skipped elsewhere."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        message = "LibreOffice (soffice) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must install libreoffice-calc-nogui")
        pytest.skip(message)
    return found
