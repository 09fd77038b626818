"""Capture the context of a training run: git state, command line, host and system.

``capture_context`` returns flat ``column name -> plain value`` pairs (``git.commit``, ``command``,
``cwd``, ``pid``, ``host``, ``sys.numpy``, ...) for the run's row. ``pid`` tells the runs of one
process apart: runs that share command, host and pid were logged by one script (a sweep), which
``sheetlog show`` says when it gives the command to repeat one of them. It never raises for
environmental reasons: what cannot be found is left out (git) or ``None`` (user, cwd), and a
patch that cannot be saved is reported with a ``UserWarning``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import getpass
import os
import platform
import shlex
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GIT_TIMEOUT_S = 5.0

# Porcelain v2 status: headers give commit and branch; untracked files are not listed at all,
# and ahead/behind counts (which can walk much history) are not computed.
_STATUS_ARGS = ["status", "--porcelain=v2", "--branch", "--untracked-files=no", "--no-ahead-behind"]
# Pinned so that user config (color, external diff tools, textconv, prefixes, relative diffs)
# cannot make the patch unusable by `git apply`. `-c diff.relative` rather than `--no-relative`,
# which git < 2.28 rejects.
_DIFF_ARGS = [
    "-c",
    "diff.relative=false",
    "diff",
    "HEAD",
    "--binary",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--submodule=short",
]
_CHANGED_ENTRIES = ("1 ", "2 ", "u ")  # ordinary, renamed/copied and unmerged entries

# Module name -> distribution name. Reported only when the module is already imported.
ML_PACKAGES = {
    "numpy": "numpy",
    "pandas": "pandas",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "torch": "torch",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "transformers": "transformers",
    "lightning": "lightning",
    "pytorch_lightning": "pytorch-lightning",
    "optuna": "optuna",
}


@dataclass(frozen=True)
class CaptureOptions:
    """Which parts of the context to capture."""

    git: bool = True  # commit, branch, dirty flag, uncommitted diff saved as patch
    command: bool = True  # command line, working directory (cwd), process id (pid)
    host: bool = True  # host name and user
    system: bool = True  # python version, platform, versions of ML packages already imported

    @classmethod
    def parse(cls, value: bool | CaptureOptions | Iterable[str] | None) -> CaptureOptions:
        """True/None: everything; False: nothing; names such as ``["git", "host"]``: only those."""
        if isinstance(value, CaptureOptions):
            return value
        valid = [field.name for field in dataclasses.fields(cls)]
        if value is None or value is True:
            return cls()
        if value is False:
            return cls(**dict.fromkeys(valid, False))
        names = {value} if isinstance(value, str) else set(value)
        unknown = sorted(names.difference(valid))
        if unknown:
            raise ValueError(
                f"unknown capture option(s) {', '.join(map(repr, unknown))}; "
                f"valid options are {', '.join(valid)}"
            )
        return cls(**{name: name in names for name in valid})


def capture_context(
    options: CaptureOptions, *, run_id: str, patch_dir: Path, cwd: Path | None = None
) -> dict[str, object]:
    """Return the context columns selected by ``options``.

    ``cwd`` (default: the process's working directory) is where git looks for the repository;
    uncommitted changes go to ``<patch_dir>/<run_id>.patch``.
    """
    columns: dict[str, object] = {}
    if options.git:
        columns.update(_git_columns(cwd, run_id, Path(patch_dir)))
    if options.command:
        columns["command"] = _command()
        columns["cwd"] = _working_directory()
        columns["pid"] = os.getpid()
    if options.host:
        columns.update(_host_columns())
    if options.system:
        columns.update(_system_columns())
    return columns


# --- git ---------------------------------------------------------------------------------------


def _git_columns(cwd: Path | None, run_id: str, patch_dir: Path) -> dict[str, object]:
    state = _git_state(cwd)
    if state is None:
        return {}
    commit, branch, dirty = state
    patch = _save_patch(cwd, patch_dir / f"{run_id}.patch") if dirty else None
    return {"git.commit": commit, "git.branch": branch, "git.dirty": dirty, "git.patch": patch}


def _git_state(cwd: Path | None) -> tuple[str, str | None, bool] | None:
    """(commit, branch or None when detached, dirty); None outside a repository with commits."""
    try:
        result = _run_git(cwd, _STATUS_ARGS, subprocess.PIPE)
    except subprocess.TimeoutExpired:
        _warn(f"git status took more than {GIT_TIMEOUT_S:g} s; git columns left out")
        return None
    except OSError:  # git not installed, or not runnable
        return None
    if result.returncode != 0:  # not a work tree, unsafe ownership, ...
        return None
    return _parse_status(result.stdout.decode("utf-8", "replace"))


def _parse_status(text: str) -> tuple[str, str | None, bool] | None:
    headers: dict[str, str] = {}
    dirty = False
    for line in text.splitlines():
        if line.startswith("# "):
            key, _, value = line[2:].partition(" ")
            headers[key] = value
        elif line.startswith(_CHANGED_ENTRIES):
            dirty = True
    commit = headers.get("branch.oid")
    if commit is None or commit == "(initial)":
        return None
    branch = headers.get("branch.head")
    return commit, None if branch == "(detached)" else branch, dirty


def _save_patch(cwd: Path | None, path: Path) -> str | None:
    """Write staged and unstaged changes to tracked files as a patch; its absolute path or None."""
    try:
        path = path.absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            result = _run_git(cwd, _DIFF_ARGS, out)
        if result.returncode == 0:
            return str(path)
        reason = result.stderr.decode("utf-8", "replace").strip() or f"exit {result.returncode}"
    except subprocess.TimeoutExpired:
        reason = f"git diff took more than {GIT_TIMEOUT_S:g} s"
    except OSError as exc:
        reason = str(exc)
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
    _warn(f"uncommitted changes not saved as a patch ({reason}); git.patch left empty")
    return None


def _run_git(
    cwd: Path | None, args: list[str], stdout: int | IO[bytes]
) -> subprocess.CompletedProcess[bytes]:
    location = [] if cwd is None else ["-C", str(cwd)]
    return subprocess.run(
        ["git", *location, *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # never take the index lock
        timeout=GIT_TIMEOUT_S,
        check=False,
    )


def _warn(message: str) -> None:
    # stacklevel: _warn < _git_state or _save_patch < _git_columns < capture_context < its caller
    warnings.warn(f"sheetlog: {message}", UserWarning, stacklevel=5)


# --- command, host, system ---------------------------------------------------------------------


def _command() -> str:
    """The command line as typed, e.g. ``python train.py --lr 0.1``, shell-quoted.

    ``sys.orig_argv`` keeps what ``sys.argv`` loses: ``-m module``, ``-c code`` and interpreter
    options. An interactive session gives plain ``python``, code read from stdin ``python -``.
    """
    interpreter = os.path.basename(sys.executable) or "python"
    if sys.orig_argv:
        return shlex.join([interpreter, *sys.orig_argv[1:]])
    args = sys.argv if sys.argv and sys.argv[0] else sys.argv[1:]  # embedded interpreter
    return shlex.join([interpreter, *args])


def _working_directory() -> str | None:
    """Where the command ran (relative paths in it and in the script start there); None when
    that directory was deleted."""
    try:
        return os.getcwd()
    except OSError:
        return None


def _host_columns() -> dict[str, object]:
    try:
        host: str | None = socket.gethostname()
    except OSError:
        host = None
    try:
        user: str | None = getpass.getuser()
    except Exception:  # OSError, KeyError or ImportError depending on platform and version
        user = None
    return {"host": host, "user": user}


def _system_columns() -> dict[str, object]:
    # Built from uname: platform.platform() spends ~10 ms running `uname -p` for the processor.
    uname = platform.uname()
    columns: dict[str, object] = {
        "sys.python": platform.python_version(),
        "sys.platform": f"{uname.system}-{uname.release}-{uname.machine}",
    }
    for module_name, distribution in ML_PACKAGES.items():
        version = _imported_version(module_name, distribution)
        if version is not None:
            columns[f"sys.{distribution}"] = version
    return columns


@functools.cache
def _distribution_version(distribution: str) -> str | None:
    """Installed version (cached: a process does not change its installed packages, and the
    metadata lookup costs milliseconds on every run)."""
    from importlib import metadata  # imported when needed: it is slow to import

    try:
        return metadata.version(distribution)
    except Exception:  # not installed under that name (tensorflow-cpu, ...) or broken metadata
        return None


def _imported_version(module_name: str, distribution: str) -> str | None:
    module = sys.modules.get(module_name)
    if module is None:  # not imported (or import blocked): never import it here
        return None
    version = _distribution_version(distribution)
    if not isinstance(version, str):
        version = getattr(module, "__version__", None)
    return str(version) if isinstance(version, str) else None
