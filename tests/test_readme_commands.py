"""The README's commands, run as written.

- Every shell command of README.md and examples/README.md, pasted in order in a copy of the
  repository after the quickstart (``test_readme_and_examples_commands_run_in_order``): the
  commands are read from the two files, so a new command is tested as soon as it is written;
  the few that cannot run here (a Google Sheet's ``<key>``, a server that runs until Ctrl-C, the
  test suite itself) are left out for a stated reason, listed in ``NOT_RUN``.
- The two commands for a fresh machine, run in a fresh virtual environment: `python -m venv`,
  `pip install` from the package registry (pip's cache makes it quicker), and the program.

Each copies the repository (the files git would commit: tracked plus untracked-but-not-ignored,
so a new README or example counts before its commit while `.venv/`, `runs.xlsx`, `.sheetlog/`
and caches do not leak in) into tmp_path and runs the commands in bash there.

Slow (the quickstart trains 8 models; a fresh environment installs pandas, numpy, scikit-learn,
...): marked `slow`, and the fresh environments `venv` too.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from sheetlog.journal import Journal

REPO = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT_S = 1200

# The test command, as the README gives it, runs the whole suite, this file included: it would
# recurse (every level building another venv) and take as long as the suite. What this test must
# show is that the `[test]` extras install and pytest runs against the fresh install, so it
# appends a small selection: one committed test module, no venv / slow / LibreOffice tests.
# pytest's last `-m` wins and explicit paths replace `testpaths`.
TEST_SELECTION = '-m "not venv and not slow and not libreoffice" -x -q tests/test_context.py'


# Commands of the READMEs not run by test_readme_and_examples_commands_run_in_order: a command
# containing the key is left out, for the reason given. Everything else runs.
NOT_RUN = {
    "<key>": "needs a real Google Sheet's key",
    "python -m sheetlog.testing.fake_sheets": "serves until Ctrl-C (examples/team_sheet_offline.py "
    "does the same in one process, and runs)",
    "SHEETLOG_GSHEETS_ENDPOINT=http://127.0.0.1:8765": "talks to the server of the line above",
    "zsh_source": "for zsh (the bash line runs)",
    "fish_source": "for fish (the bash line runs)",
    "python -m pytest": "the test suite itself (test_readme_test_command_installs_and_runs_pytest "
    "and tests/test_fresh_clone.py run it)",
}
# Parts of a fresh-machine command that the in-order test does not repeat: it runs in this
# interpreter's environment, where they are done.
INSTALL_STEPS = ("python -m venv ", ". .venv/bin/activate", "pip install ")
READMES = ("README.md", "examples/README.md")


def shell_commands(readme: str) -> list[tuple[int, str]]:
    """(line number, command) for each command in the ```bash / ```sh blocks and the indented
    code blocks of ``readme`` (relative to the repository), in order. A command spans lines
    while a quote is open or a line ends with a backslash."""
    commands: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    fence: str | None = None
    indented = False
    previous_blank = True
    for number, line in enumerate((REPO / readme).read_text(encoding="utf-8").splitlines(), 1):
        opening = re.match(r"^ {0,3}```(\w*)", line)
        if opening:
            fence = opening.group(1) if fence is None else None
            previous_blank = False
            continue
        if fence is None:
            indented = line.startswith("    ") and (previous_blank or indented)
            previous_blank = not line.strip()
        if not (fence in ("bash", "sh") or (fence is None and indented)):
            continue
        text = line[4:] if fence is None else line
        if not pending and not text.strip():
            continue
        if not pending:
            start = number
        pending.append(text)
        joined = "\n".join(pending)
        if not joined.endswith("\\") and _complete(joined):
            commands.append((start, joined))
            pending = []
    assert not pending, f"{readme} line {start}: unterminated command {pending}"
    return commands


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # a quote still open
        return False
    return True


def runnable(command: str) -> str | None:
    """``command`` as the in-order test runs it (install steps dropped), or None when it is
    not run (see NOT_RUN)."""
    if any(key in command for key in NOT_RUN):
        return None
    steps = [step.strip() for step in command.split("&&")]
    kept = [step for step in steps if not step.startswith(INSTALL_STEPS)]
    return " && ".join(kept) or None


def test_every_readme_command_is_run_or_left_out_for_a_stated_reason() -> None:
    """The extraction finds the commands a reader sees, and only NOT_RUN's few are left out."""
    commands = [command for readme in READMES for _, command in shell_commands(readme)]
    run = [runnable(command) for command in commands]
    assert "python examples/quickstart.py" in run  # from the fresh-machine command
    for expected in (
        "sheetlog ls",
        "sheetlog show",
        "sheetlog best",
        "sheetlog diff",
        "sheetlog export",
        "sheetlog log",
        "sheetlog run",
        "examples/train.py",
        "examples/shell_workflow.sh",
        "examples/team_sheet_offline.py",
    ):
        assert any(command and expected in command for command in run), expected
    left_out = [command for command, kept in zip(commands, run, strict=True) if kept is None]
    assert len(left_out) < len(commands) / 2, left_out
    unused = [key for key in NOT_RUN if not any(key in command for command in left_out)]
    assert not unused, f"NOT_RUN entries that match no command: {unused}"
    assert all(any(key in command for key in NOT_RUN) for command in left_out)
    # A multi-line command is one command, not one per line.
    assert any(command.startswith("python -c '") and command.endswith("'") for command in commands)


def test_ci_runs_the_readme_test_command_then_the_slow_set() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    test_command = readme_commands()["test"]
    assert test_command in ci
    assert 'python -m pytest -m "slow or frameworks"' in ci
    assert "../shared" not in ci


def test_the_readme_gitignore_lines_cover_what_sheetlog_leaves(tmp_path: Path) -> None:
    """With the README's .gitignore lines, a project that logged runs (to a workbook and to a
    CSV file, from a repository with uncommitted changes: a patch is saved) shows git nothing
    new but the runs files themselves."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (lines,) = re.findall(r"^```gitignore\n(.*?)^```$", readme, re.S | re.M)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / ".gitignore").write_text(lines, encoding="utf-8")
    (tmp_path / "train.py").write_text("print('v1')\n", encoding="utf-8")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    (tmp_path / "train.py").write_text("print('v2')\n", encoding="utf-8")
    sheetlog = [str(Path(sys.executable).parent / "sheetlog"), "log", "-p", "lr=0.1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHEETLOG_")}
    for target in ("runs.xlsx", "runs.csv"):
        subprocess.run(
            [*sheetlog, "-t", target], cwd=tmp_path, env=env, check=True, capture_output=True
        )
    assert (tmp_path / ".sheetlog" / "patches").is_dir()
    assert (tmp_path / ".runs.xlsx.sheetlog-lock").exists()
    status = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert sorted(status) == [" M train.py", "?? runs.csv", "?? runs.xlsx"]


@pytest.mark.slow
def test_readme_and_examples_commands_run_in_order(tmp_path: Path) -> None:
    """README.md's commands, then examples/README.md's, pasted in order into a shell in a fresh
    copy of the repository (this environment has the install steps done)."""
    repo = fresh_copy(tmp_path / "sheetlog")
    bin_dir = Path(sys.executable).parent  # python, sheetlog: this environment's
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTEST_ADDOPTS") and not key.startswith("SHEETLOG_")
    }
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="120")
    ran = []
    for readme in READMES:
        for number, command in shell_commands(readme):
            script = runnable(command)
            if script is None:
                continue
            result = subprocess.run(
                ["bash", "-c", f"set -o pipefail\n{script}"],
                cwd=repo,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
            )
            assert result.returncode == 0, (
                f"{readme} line {number}: `{script}` exited {result.returncode}, after "
                f"{len(ran)} commands ran fine\n--- stdout\n{result.stdout[-3000:]}"
                f"\n--- stderr\n{result.stderr[-3000:]}"
            )
            ran.append(script)
    assert len(ran) >= 15, ran
    runs = read_sheet(repo / "runs.xlsx")
    names = [run.get("name") for run in runs]
    # The quickstart twice, the commands' runs, the shell example's four.
    assert names.count("svc-rbf-C10") == 2 and "mlp-lr0.05" in names and "lr-0.03" in names
    assert {run["status"] for run in runs} == {"FINISHED"}
    assert (repo / "exported.csv").is_file() and (repo / "runs.csv").is_file()
    # The repository's .gitignore covers everything they left behind.
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    left = sorted({line[3:] for line in status} - set(committed_files()))
    assert not left, f"files the commands left that .gitignore does not cover: {left}"


def readme_commands() -> dict[str, str]:
    """The fresh-machine commands from README.md, keyed by the extra they install."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```(?:bash|sh)\n(.*?)^```$", readme, re.S | re.M)
    commands = [b.strip() for b in blocks if b.strip().startswith("python -m venv")]
    by_extra = {}
    for command in commands:
        extra = re.search(r'pip install -e "\.\[(\w+)\]"', command)
        assert extra, f"README command installs no extra: {command}"
        by_extra[extra.group(1)] = command
    assert sorted(by_extra) == ["examples", "test"], f"README fresh-machine commands: {commands}"
    return by_extra


def committed_files() -> list[str]:
    """The files git would commit: tracked, and untracked but not ignored."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return list(filter(None, listed.split("\0")))


def fresh_copy(destination: Path) -> Path:
    """Copy what git would commit from the repository into ``destination``."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout of sheetlog to know which files belong to it")
    for name in committed_files():
        source = REPO / name
        if source.is_file():  # tracked files deleted in the work tree are skipped
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def run_in_bash(command: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in bash with `python` meaning this interpreter, outside any venv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS")
        and not key.startswith("SHEETLOG_")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_QUIET"] = "1"  # as `pip install --quiet`, keeping the README's command verbatim
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"`{command}` exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-5000:]}\n--- stderr\n{result.stderr[-5000:]}"
    )
    return result


def read_sheet(path: Path) -> list[dict[str, object]]:
    """The runs sheet as dicts, read with python-calamine directly (not through sheetlog)."""
    workbook = CalamineWorkbook.from_path(str(path))
    assert workbook.sheet_names == ["Runs"]
    cells = workbook.get_sheet_by_name("Runs").to_python()
    header = cells[0]
    return [
        {h: v for h, v in zip(header, row, strict=False) if v != ""}
        for row in cells[1:]
        if any(row)
    ]


@pytest.mark.venv
@pytest.mark.slow
def test_readme_quickstart_command_writes_a_sweep_into_runs_xlsx(tmp_path: Path) -> None:
    repo = fresh_copy(tmp_path / "sheetlog")
    result = run_in_bash(readme_commands()["examples"], repo, tmp_path)

    runs = read_sheet(repo / "runs.xlsx")
    assert len(runs) >= 6
    assert {run["status"] for run in runs} == {"FINISHED"}
    assert len({run["run_id"] for run in runs}) == len(runs)
    for run in runs:
        assert 0.5 < run["metrics.accuracy"] <= 1.0, run
        assert isinstance(run["metrics.fit_time_s"], float)
    # The schema grew: some parameter columns are filled for only some runs.
    params = {key for run in runs for key in run if key.startswith("params.")}
    partial = {key for key in params if 0 < sum(key in run for run in runs) < len(runs)}
    assert "params.class_weight" in partial
    # The saved model is where its row says, with the size and checksum recorded.
    saved = [run for run in runs if "model_path" in run]
    assert len(saved) == 1
    model = Path(saved[0]["model_path"])
    assert model.parent == repo / "models" and model.stat().st_size == saved[0]["model_size"]
    assert len(saved[0]["model_sha256"]) == 64
    # The epoch-by-epoch run: every step in the journal, the column holding the best one.
    (sgd,) = [run for run in runs if run["name"] == "sgd-epochs"]
    steps = Journal(repo / ".sheetlog").metric_history(sgd["run_id"], "val_accuracy")
    assert [step for step, _ in steps] == list(range(15))
    assert math.isclose(sgd["metrics.val_accuracy"], max(value for _, value in steps))
    # It ends by printing the best runs read back with sheetlog.load().
    assert f"{len(runs)} runs in runs.xlsx; the best:" in result.stdout


@pytest.mark.venv
@pytest.mark.slow
def test_readme_test_command_installs_and_runs_pytest(tmp_path: Path) -> None:
    repo = fresh_copy(tmp_path / "sheetlog")
    command = f"{readme_commands()['test']} {TEST_SELECTION}"
    result = run_in_bash(command, repo, tmp_path)

    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b[1-9]\d* passed\b", summary), result.stdout[-3000:]
    assert "failed" not in summary and "error" not in summary, summary
