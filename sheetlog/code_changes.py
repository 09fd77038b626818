"""The code behind runs, for ``diff``: ``git diff`` between their commits, run in the repository
at hand, and the saved patches of their uncommitted changes (``git.patch``).

Nothing here changes the repository: ``git cat-file`` and ``git diff`` only read it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_GIT_TIMEOUT_S = 60


@dataclass
class CommitChange:
    """``git diff OLD NEW`` between the first run's commit and run number ``run``'s (``text``),
    or why it could not be made (``note``)."""

    run: int
    old: str
    new: str
    text: str | None = None
    note: str | None = None


@dataclass
class PatchText:
    """The uncommitted changes run number ``run`` saved at ``path`` (``text``), or why they
    cannot be shown (``note``)."""

    run: int
    path: str
    text: str | None = None
    note: str | None = None


@dataclass
class CodeChanges:
    commits: list[CommitChange]
    patches: list[PatchText]


def code_changes(runs: Sequence[Any], repository: str) -> CodeChanges | None:
    """What changed in the code between the first run and each other one; None when every run
    has the same commit (or none) and the same uncommitted changes."""
    commits = [_text(run.get("git.commit")) for run in runs]
    paths = [_text(run.get("git.patch")) for run in runs]
    patches = [_patch(i, path) for i, path in enumerate(paths) if path]
    contents = [next((p.text for p in patches if p.run == i), None) for i in range(len(runs))]
    same_commits = len(set(commits)) == 1
    texts = {text or path for text, path in zip(contents, paths, strict=True)}
    same_patches = len(set(paths)) == 1 or len(texts) == 1
    if same_commits and same_patches:
        return None
    changes = []
    for i, commit in enumerate(commits[1:], start=1):
        if commits[0] and commit and commit != commits[0]:
            changes.append(_commit_diff(repository, i, commits[0], commit))
    return CodeChanges(changes, [] if same_patches else patches)


def _commit_diff(repository: str, run: int, old: str, new: str) -> CommitChange:
    change = CommitChange(run, old, new)
    top = _git(repository, "rev-parse", "--show-toplevel")
    if top is None:
        change.note = (
            f"{os.path.abspath(repository)} is not in a git repository: run diff inside the"
            " project to see the code change"
        )
        return change
    missing = [
        commit
        for commit in (old, new)
        if _git(repository, "cat-file", "-e", f"{commit}^{{commit}}") is None
    ]
    if missing:
        change.note = (
            f"commit {', '.join(missing)} is not in the repository at {top.strip()}"
            " (git fetch may bring it)"
        )
        return change
    change.text = _git(repository, "diff", "--no-color", "--no-ext-diff", old, new) or ""
    return change


def _patch(run: int, path: str) -> PatchText:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return PatchText(run, path, text=handle.read())
    except OSError as error:
        return PatchText(run, path, note=f"not readable here ({error.strerror or error})")


def _git(repository: str, *args: str) -> str | None:
    """git's output, or None when it fails (no git, not a repository, unknown commit)."""
    try:
        done = subprocess.run(
            ["git", "-C", repository, *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value) or None
