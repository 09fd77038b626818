"""A fresh clone passes its tests: no test needs a file outside the repository.

The repository's committed state is cloned into an empty temporary directory (so nothing is
beside it: a test reading ``../shared`` or any other file the repository does not carry
fails), and the Python parts of the README's two fresh-machine commands run there: the
quickstart, and ``python -m pytest`` (the fast set). The install steps are not repeated: the
clone gets an environment of its own that imports this environment's dependencies but the
clone's sheetlog, as ``pip install -e`` of the clone would give it (the ``sheetlog`` command
included), so nothing is imported from this working tree either.

Slow (the fast set runs a second time): marked ``slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from test_readme_commands import INSTALL_STEPS, read_sheet, readme_commands

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_S = 1800


def clone(destination: Path) -> Path:
    """``git clone`` of the repository, checked out at this working tree's commit."""
    git = ["git", "-c", "advice.detachedHead=false"]
    subprocess.run(
        [*git, "clone", "--quiet", "--no-checkout", str(REPO), str(destination)], check=True
    )
    subprocess.run(
        [*git, "-C", str(destination), "fetch", "--quiet", str(REPO), "HEAD"], check=True
    )
    subprocess.run([*git, "-C", str(destination), "checkout", "--quiet", "FETCH_HEAD"], check=True)
    return destination


def environment_for(repo: Path, home: Path) -> Path:
    """A virtual environment whose sheetlog is ``repo``'s and whose other packages are this
    environment's; returns its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True)
    python = home / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # A plain path in a .pth file is added to sys.path without running the .pth files in it,
    # so this environment's editable install of the working tree is not loaded.
    (Path(site) / "dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    (Path(site) / "sheetlog-clone.pth").write_text(f"{repo}\n")
    # pyproject.toml installs templates/ as the package sheetlog.templates.
    (repo / "sheetlog" / "templates").symlink_to(repo / "templates", target_is_directory=True)
    script = home / "bin" / "sheetlog"
    script.write_text(f"#!{python}\nimport sys\nfrom sheetlog.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return home / "bin"


def python_parts(command: str) -> str:
    """The README command without its install steps."""
    steps = [step.strip() for step in command.split("&&")]
    return " && ".join(step for step in steps if not step.startswith(INSTALL_STEPS))


def test_a_fresh_clone_runs_the_readme_commands_and_passes_its_tests(tmp_path: Path) -> None:
    repo = clone(tmp_path / "clone" / "sheetlog")
    assert sorted(p.name for p in repo.parent.iterdir()) == ["sheetlog"]  # nothing beside it
    bin_dir = environment_for(repo, tmp_path / "env")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS")
        and not key.startswith("SHEETLOG_")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    def run(command: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=repo,
            env=env,
            text=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT_S,
        )
        assert result.returncode == 0, (
            f"`{command}` in the clone exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"
        )
        return result

    where = run(
        "python -c 'import sheetlog.templates as t; print(t.__path__[0])'; command -v sheetlog"
    ).stdout.split()
    assert where == [str(repo / "sheetlog" / "templates"), str(bin_dir / "sheetlog")]

    quickstart = python_parts(readme_commands()["examples"])
    assert quickstart == "python examples/quickstart.py"
    run(quickstart)
    assert len(read_sheet(repo / "runs.xlsx")) == 8

    tests = python_parts(readme_commands()["test"])
    assert tests == "python -m pytest"
    summary = run(f"{tests} -q -p no:cacheprovider").stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
