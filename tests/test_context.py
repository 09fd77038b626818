"""Tests for sheetlog.context, against real git repositories in tmp_path."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import pytest

from sheetlog.context import CaptureOptions, capture_context

GIT_KEYS = {"git.commit", "git.branch", "git.dirty", "git.patch"}
ONLY_GIT = CaptureOptions(git=True, command=False, host=False, system=False)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Ignore the machine's git config, give commits an identity, never search above tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "a.txt").write_text("alpha\n")
    (path / "b.txt").write_text("beta\n")
    (path / "blob.bin").write_bytes(bytes(range(256)))
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def capture_git(repo: Path, tmp_path: Path, cwd: Path | None = None) -> dict[str, object]:
    return capture_context(
        ONLY_GIT, run_id="run1", patch_dir=tmp_path / "out" / "patches", cwd=cwd or repo
    )


# --- git ---------------------------------------------------------------------------------------


def test_clean_repo(repo: Path, tmp_path: Path) -> None:
    columns = capture_git(repo, tmp_path)
    assert columns == {
        "git.commit": git(repo, "rev-parse", "HEAD"),
        "git.branch": "main",
        "git.dirty": False,
        "git.patch": None,
    }
    assert not (tmp_path / "out").exists()


def test_subdirectory_of_repo(repo: Path, tmp_path: Path) -> None:
    sub = repo / "src"
    sub.mkdir()
    assert capture_git(repo, tmp_path, cwd=sub)["git.commit"] == git(repo, "rev-parse", "HEAD")


def test_dirty_repo_patch_reproduces_working_tree(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    (repo / "a.txt").write_text("alpha changed, not staged\n")
    (repo / "b.txt").write_text("beta changed and staged\n")
    (repo / "blob.bin").write_bytes(bytes(reversed(range(256))))
    (repo / "new.txt").write_text("a new file, staged\n")
    git(repo, "add", "b.txt", "blob.bin", "new.txt")
    (repo / "untracked.txt").write_text("not part of the patch\n")

    columns = capture_git(repo, tmp_path)

    patch = tmp_path / "out" / "patches" / "run1.patch"
    assert columns == {
        "git.commit": commit,
        "git.branch": "main",
        "git.dirty": True,
        "git.patch": str(patch),
    }
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", "--detach", commit)
    git(clone, "apply", "--check", str(patch))
    git(clone, "apply", str(patch))
    for name in ("a.txt", "b.txt", "blob.bin", "new.txt"):
        assert (clone / name).read_bytes() == (repo / name).read_bytes(), name
    assert not (clone / "untracked.txt").exists()


def test_untracked_file_alone_is_clean(repo: Path, tmp_path: Path) -> None:
    (repo / "untracked.txt").write_text("scratch\n")
    columns = capture_git(repo, tmp_path)
    assert columns["git.dirty"] is False
    assert columns["git.patch"] is None


def test_detached_head(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    columns = capture_git(repo, tmp_path)
    assert columns["git.branch"] is None
    assert columns["git.commit"] == git(repo, "rev-parse", "HEAD")


def test_not_a_repository(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert capture_git(plain, tmp_path) == {}
    assert capfd.readouterr() == ("", "")
    assert not recwarn.list


def test_missing_directory(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert capture_git(tmp_path / "nowhere", tmp_path) == {}
    assert capfd.readouterr().err == ""


def test_repository_without_commits(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert capture_git(empty, tmp_path) == {}
    assert capfd.readouterr().err == ""


def test_git_not_installed(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    no_programs = tmp_path / "bin"
    no_programs.mkdir()
    monkeypatch.setenv("PATH", str(no_programs))
    assert capture_git(repo, tmp_path) == {}
    assert capfd.readouterr().err == ""


def test_patch_that_cannot_be_written_warns(repo: Path, tmp_path: Path) -> None:
    (repo / "a.txt").write_text("changed\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="not saved as a patch"):
        columns = capture_context(ONLY_GIT, run_id="run1", patch_dir=blocker / "patches", cwd=repo)
    assert columns["git.dirty"] is True
    assert columns["git.patch"] is None


# --- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, CaptureOptions()),
        (True, CaptureOptions()),
        (False, CaptureOptions(git=False, command=False, host=False, system=False)),
        (["git", "host"], CaptureOptions(git=True, command=False, host=True, system=False)),
        (("system",), CaptureOptions(git=False, command=False, host=False, system=True)),
        ("command", CaptureOptions(git=False, command=True, host=False, system=False)),
        ([], CaptureOptions(git=False, command=False, host=False, system=False)),
    ],
)
def test_parse(value: object, expected: CaptureOptions) -> None:
    assert CaptureOptions.parse(value) == expected  # type: ignore[arg-type]


def test_parse_keeps_options() -> None:
    options = CaptureOptions(host=False)
    assert CaptureOptions.parse(options) is options


def test_parse_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="'gpu'.*git, command, host, system"):
        CaptureOptions.parse(["git", "gpu"])


def test_options_off_leave_keys_out(repo: Path, tmp_path: Path) -> None:
    patch_dir = tmp_path / "patches"
    assert capture_context(CaptureOptions.parse(False), run_id="r", patch_dir=patch_dir) == {}
    columns = capture_context(
        CaptureOptions.parse(["host"]), run_id="r", patch_dir=patch_dir, cwd=repo
    )
    assert set(columns) == {"host", "user"}


# --- command, host, system ---------------------------------------------------------------------


def command_for(monkeypatch: pytest.MonkeyPatch, orig_argv: list[str], argv: list[str]) -> object:
    monkeypatch.setattr(sys, "executable", "/opt/venv/bin/python3")
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    monkeypatch.setattr(sys, "argv", argv)
    options = CaptureOptions.parse(["command"])
    return capture_context(options, run_id="r", patch_dir=Path("unused"))["command"]


@pytest.mark.parametrize(
    ("orig_argv", "argv", "expected"),
    [
        (
            ["/usr/bin/python", "train.py", "--name", "my run"],
            ["train.py", "--name", "my run"],
            "python3 train.py --name 'my run'",
        ),
        (
            ["python", "-u", "-m", "pkg.train", "--lr", "0.1"],
            ["/src/pkg/train.py", "--lr", "0.1"],
            "python3 -u -m pkg.train --lr 0.1",
        ),
        (
            ["python", "-c", "import x; x.fit()", "a"],
            ["-c", "a"],
            "python3 -c 'import x; x.fit()' a",
        ),
        (["python"], [""], "python3"),
        ([], [""], "python3"),  # embedded interpreter without orig_argv
        ([], ["job.py", "--fast"], "python3 job.py --fast"),
    ],
)
def test_command(
    monkeypatch: pytest.MonkeyPatch, orig_argv: list[str], argv: list[str], expected: str
) -> None:
    assert command_for(monkeypatch, orig_argv, argv) == expected


def test_host_and_user(tmp_path: Path) -> None:
    columns = capture_context(CaptureOptions.parse(["host"]), run_id="r", patch_dir=tmp_path)
    assert columns == {"host": socket.gethostname(), "user": getpass.getuser()}


def capture_system() -> dict[str, object]:
    return capture_context(CaptureOptions.parse(["system"]), run_id="r", patch_dir=Path("unused"))


def test_system_versions_of_imported_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy

    # Stand-ins in sys.modules: importing scikit-learn for real takes seconds.
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    catboost = types.ModuleType("catboost")  # not installed: falls back to __version__
    catboost.__version__ = "9.9"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "catboost", catboost)

    columns = capture_system()

    assert columns["sys.python"] == platform.python_version()
    assert columns["sys.platform"].startswith(platform.system())  # type: ignore[union-attr]
    assert columns["sys.numpy"] == numpy.__version__
    assert columns["sys.scikit-learn"] == metadata.version("scikit-learn")
    assert columns["sys.catboost"] == "9.9"


def test_system_never_imports_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "scipy", raising=False)  # installed, but not imported
    monkeypatch.setitem(sys.modules, "torch", None)  # import blocked
    columns = capture_system()
    assert "sys.scipy" not in columns
    assert "sys.torch" not in columns
    assert "scipy" not in sys.modules
