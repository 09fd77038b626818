"""Answers a user can trust (issue 11, section 4): best knows the direction, ls shows results
first, diff compares what matters, all through the library's query module.

The workbook is the quickstart's (examples/quickstart.py: the same 8 runs, names, params and
metrics, with its tie at the top of accuracy), logged through the API with fixed values so that
the answers are known; it adds two metrics whose goal the runs declare: ``cost`` (lower is
better, a name that says nothing) and ``wer``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import invoke
from python_calamine import CalamineWorkbook
from test_cli_views import _imported_by, on_a_terminal

import sheetlog

# name, params, accuracy, f1, fit_time_s, cost, wer
QUICKSTART = [
    ("logreg-C0.1", {"model": "logreg", "C": 0.1}, 0.971111, 0.971515, 0.42, 7.0, 0.040),
    ("logreg-C1", {"model": "logreg", "C": 1.0}, 0.968889, 0.969106, 0.47, 6.0, 0.045),
    (
        "svc-rbf-C1",
        {"model": "svc", "C": 1.0, "kernel": "rbf", "gamma": "scale"},
        0.982222,
        0.982309,
        0.30,
        3.0,
        0.030,
    ),
    (
        "svc-rbf-C10",
        {"model": "svc", "C": 10.0, "kernel": "rbf", "gamma": "scale"},
        0.982222,
        0.982326,
        0.25,
        5.0,
        0.020,
    ),
    (
        "svc-linear",
        {"model": "svc", "C": 1.0, "kernel": "linear", "gamma": "scale"},
        0.977778,
        0.977687,
        0.18,
        2.0,
        0.035,
    ),
    (
        "forest-50",
        {"model": "forest", "n_estimators": 50, "max_depth": None},
        0.971111,
        0.971209,
        0.89,
        9.0,
        0.050,
    ),
    (
        "forest-200-balanced",
        {"model": "forest", "n_estimators": 200, "max_depth": 12, "class_weight": "balanced"},
        0.977778,
        0.977698,
        3.42,
        8.0,
        0.060,
    ),
    (
        "sgd-epochs",
        {"model": "sgd", "loss": "log_loss", "alpha": 1e-4, "epochs": 15},
        0.964444,
        0.964707,
        0.93,
        4.0,
        0.055,
    ),
]


def log_quickstart(target: str, journal: Path) -> None:
    for name, params, accuracy, f1, fit_time_s, cost, wer in QUICKSTART:
        with sheetlog.start_run(
            params, name=name, target=target, capture=False, journal_dir=journal
        ) as run:
            run.define_metric("cost", "min")  # keep the lowest, and lower is better
            run.define_metric("wer", goal="min")  # keep the last; lower is better
            if name == "sgd-epochs":
                run.define_metric("val_accuracy", "max")
                for epoch, value in enumerate([0.9, 0.964444, 0.95]):
                    run.log_metrics({"val_accuracy": value}, step=epoch)
            run.log_metrics({"cost": cost + 1})
            run.log_metrics(
                {"accuracy": accuracy, "f1": f1, "fit_time_s": fit_time_s, "cost": cost}
            )
            run.log_metrics({"wer": wer})
    assert sheetlog.flush(target, journal_dir=journal).ok


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("quickstart")
    target = str(folder / "runs.xlsx")
    log_quickstart(target, folder / ".sheetlog")
    return target


def json_out(*args: str):
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def names_of(records: list[dict]) -> list[str]:
    return [record["name"] for record in records]


# --- best knows the direction ------------------------------------------------------------------


def test_best_uses_the_direction_the_runs_declared(quickstart):
    data = json_out("best", quickstart, "-m", "cost")  # the name says nothing: declared min
    assert (data["name"], data["value"]) == ("svc-linear", 2.0)
    assert (data["direction"], data["direction_source"]) == ("min", "declared")
    data = json_out("best", quickstart, "-m", "wer")
    assert (data["name"], data["direction_source"]) == ("svc-rbf-C10", "declared")
    result = invoke("best", quickstart, "-m", "cost")
    assert result.exit_code == 0
    assert "lowest metrics.cost (as the runs declared) of 8 FINISHED runs" in result.stderr
    assert "guess" not in result.stderr
    # the caller still has the last word
    assert json_out("best", quickstart, "-m", "cost", "--max")["name"] == "forest-50"


def test_the_declared_direction_is_kept_with_the_run(quickstart, tmp_path):
    """In the journal's row and the sheet's: a metric_goals cell, read here by calamine."""
    sheet = CalamineWorkbook.from_path(quickstart).get_sheet_by_name("Runs").to_python()
    column = sheet[0].index("metric_goals")
    goals = [json.loads(row[column]) for row in sheet[1:]]
    assert goals[0] == {"cost": "min", "wer": "min"}
    assert goals[-1] == {"cost": "min", "val_accuracy": "max", "wer": "min"}
    journal = tmp_path / "journal"
    with sheetlog.start_run(target=str(tmp_path / "x.xlsx"), journal_dir=journal) as run:
        run.define_metric("wer", goal="min")
    stored = sheetlog.run.open_journal(journal).get_run(run.run_id)
    assert json.loads(stored["metric_goals"]) == {"wer": "min"}


def test_the_declared_direction_survives_sync_to_csv_and_a_google_sheet(
    quickstart, tmp_path, fake_sheets
):
    key = fake_sheets.create_spreadsheet("team")
    copies = [str(tmp_path / "runs.csv"), f"gsheet://{key}/Runs"]
    for copy in copies:
        done = invoke("sync", quickstart, copy)
        assert done.exit_code == 0, done.output
        data = json_out("best", copy, "-m", "cost")
        assert (data["name"], data["direction_source"]) == ("svc-linear", "declared")
    with open(copies[0], newline="", encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert json.loads(first["metric_goals"]) == {"cost": "min", "wer": "min"}


def test_best_guesses_from_the_name_only_when_nothing_was_declared_and_says_so(quickstart):
    result = invoke("best", quickstart, "-m", "fit_time_s")
    assert result.exit_code == 0, result.output
    assert "svc-linear" in result.stdout  # the fastest, not the slowest
    assert "no run declared whether lower or higher metrics.fit_time_s is better" in (result.stderr)
    assert "guessing lower" in result.stderr
    assert json_out("best", quickstart, "-m", "fit_time_s")["direction_source"] == "name"
    assert json_out("best", quickstart, "-m", "accuracy")["direction"] == "max"


def test_best_reports_ties_and_the_runner_up_with_the_deltas(quickstart):
    data = json_out("best", quickstart, "-m", "accuracy")
    assert data["name"] == "svc-rbf-C1"  # tied with svc-rbf-C10; the earlier run wins
    assert [tie["name"] for tie in data["ties"]] == ["svc-rbf-C10"]
    runner = data["runner_up"]
    assert (runner["name"], runner["value"]) == ("svc-linear", 0.977778)
    assert runner["deltas"]["metrics.accuracy"] == pytest.approx(0.977778 - 0.982222)
    assert runner["deltas"]["metrics.cost"] == pytest.approx(2.0 - 3.0)
    assert runner["params"] == {"kernel": "linear"}
    result = invoke("best", quickstart, "-m", "accuracy")
    lines = result.stdout.splitlines()
    assert "Tied (the same metrics.accuracy)" in lines
    assert any(line.strip().endswith("svc-rbf-C10") for line in lines)
    assert "Runner-up" in lines
    assert any("0.977778  (-0.004444 from the best)" in line for line in lines)
    assert any(line.split() == ["kernel", "linear", "(best:", "rbf)"] for line in lines)


def test_best_says_when_runs_declared_opposite_directions(tmp_path):
    target, journal = str(tmp_path / "runs.xlsx"), tmp_path / "journal"
    for i, goal in enumerate(["min", "min", "max"]):
        with sheetlog.start_run(target=target, capture=False, journal_dir=journal) as run:
            run.define_metric("cost", goal=goal)
            run.log_metrics({"cost": float(i)})
    result = invoke("best", target, "-m", "cost")
    assert result.exit_code == 0, result.output
    assert "runs disagree on metrics.cost: declared max by 1 runs and min by 2 runs" in (
        result.stderr
    )
    assert json_out("best", target, "-m", "cost")["value"] == 0.0
    with sheetlog.start_run(target=target, capture=False, journal_dir=journal) as run:
        run.define_metric("cost", goal="max")
        run.log_metrics({"cost": 3.0})
    result = invoke("best", target, "-m", "cost")  # 2 against 2: the user decides
    assert result.exit_code == 1
    assert "2 declared min" in result.stderr and "--min or --max" in result.stderr
    assert json_out("best", target, "-m", "cost", "--max")["value"] == 3.0
    result = invoke("ls", target, "--sort", "cost", "--limit", "1", "--format", "json")
    assert result.exit_code == 0  # ls has no best N then: the first in the sort order
    assert json.loads(result.stdout)[0]["metrics.cost"] == 0.0
    assert "runs disagree on metrics.cost" in result.stderr


def test_best_among_the_runs_where_selects(quickstart):
    data = json_out("best", quickstart, "-m", "accuracy", "--where", "model=forest")
    assert data["name"] == "forest-200-balanced"
    assert data["candidates"] == 2


# --- ls shows results first ------------------------------------------------------------------


def test_ls_on_a_terminal_shows_name_status_metrics_then_params_that_differ(quickstart):
    code, lines, stderr = on_a_terminal("ls", quickstart, width=300)
    assert code == 0, stderr
    header = lines[0].split()
    metrics = ["accuracy", "f1", "fit_time_s", "cost", "wer", "val_accuracy"]
    assert header[:2] == ["name", "status"]
    assert sorted(header[2:8]) == sorted(metrics)
    params = ["model", "C", "kernel", "gamma", "n_estimators", "max_depth", "class_weight"]
    assert header[8 : 8 + len(params)] == params
    assert header.index("run_id") > header.index("class_weight")
    # a narrow terminal keeps the sort column
    code, lines, stderr = on_a_terminal("ls", quickstart, "--sort", "epochs", width=60)
    assert lines[0].split()[:3] == ["name", "status", "epochs"]
    code, lines, stderr = on_a_terminal("ls", quickstart, "-c", "name", "--sort", "wer", width=60)
    assert lines[0].split() == ["name", "wer"]


def test_ls_puts_run_id_first_when_names_do_not_tell_runs_apart(tmp_path):
    target, journal = str(tmp_path / "runs.xlsx"), tmp_path / "journal"
    for accuracy in (0.5, 0.6):
        sheetlog.log_run(
            {"lr": 0.1},
            {"accuracy": accuracy},
            name="same",
            target=target,
            capture=False,
            journal_dir=journal,
        )
    code, lines, stderr = on_a_terminal("ls", target)
    assert code == 0, stderr
    assert lines[0].split()[:4] == ["run_id", "name", "status", "accuracy"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--sort", "accuracy", "--limit", "3"], ["svc-linear", "svc-rbf-C1", "svc-rbf-C10"]),
        (["--sort", "accuracy", "--desc", "-n", "2"], ["svc-rbf-C1", "svc-rbf-C10"]),
        (["--sort", "cost", "--limit", "2"], ["svc-linear", "svc-rbf-C1"]),  # declared min
        (["--sort", "fit_time_s", "--limit", "2", "--desc"], ["svc-rbf-C10", "svc-linear"]),
        (["--sort", "C", "--limit", "2"], ["logreg-C0.1", "logreg-C1"]),  # a param: first N
        (["--limit", "2"], ["forest-200-balanced", "sgd-epochs"]),  # no sort: newest
    ],
)
def test_ls_sort_and_limit_give_the_best_n(quickstart, args, expected):
    assert names_of(json_out("ls", quickstart, *args)) == expected
    table = invoke("ls", quickstart, *args, "-c", "name").stdout.splitlines()[2:]
    assert [line.split()[0] for line in table] == expected


def test_piped_ls_is_not_cut_to_columns(quickstart):
    done = subprocess.run(
        [sys.executable, "-m", "sheetlog", "ls", quickstart],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "40"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines[0].split()
    every = sheetlog.load(quickstart).columns
    assert len(header) == len(every)
    assert "metric_goals" in header and "duration_s" in header
    assert max(map(len, lines)) > 200
    assert "…" not in done.stdout and "do not fit" not in done.stderr
    assert '{"cost": "min", "val_accuracy": "max", "wer": "min"}' in lines[-1]


def test_ls_sorting_by_a_metric_imports_no_pandas(quickstart):
    done, imported = _imported_by("ls", quickstart, "--sort", "cost", "--limit", "2")
    assert done.returncode == 0, done.stderr
    assert "pandas" not in imported
    assert [line.split()[0] for line in done.stdout.splitlines()[2:]] == [
        "svc-linear",
        "svc-rbf-C1",
    ]


# --- diff compares what matters ----------------------------------------------------------------


def test_diff_of_three_runs_with_numeric_deltas(quickstart):
    result = invoke("diff", "logreg-C1", "svc-rbf-C10", "forest-50", "-t", quickstart, width=200)
    assert result.exit_code == 0, result.output
    header, table = result.stdout.split("\n\n")[:2]
    assert [line.split()[:1] for line in header.splitlines()] == [["A"], ["B"], ["C"]]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:]}
    assert rows["params.model"] == ["logreg", "svc", "forest"]
    assert rows["params.C"] == ["1", "10", "(+9)", "(none)"]
    assert rows["metrics.accuracy"] == [
        "0.968889",
        "0.982222",
        "(+0.01333)",
        "0.971111",
        "(+0.002222)",
    ]
    for hidden in ("run_id", "start_time", "end_time", "duration_s"):
        assert hidden not in rows
    assert "columns of times and ids not shown (--all shows them)" in result.stderr
    data = json_out("diff", "logreg-C1", "svc-rbf-C10", "forest-50", "-t", quickstart)
    assert [run["name"] for run in data["runs"]] == ["logreg-C1", "svc-rbf-C10", "forest-50"]
    cost = next(c for c in data["columns"] if c["column"] == "metrics.cost")
    assert cost["values"] == [6.0, 5.0, 9.0] and cost["deltas"] == [None, -1.0, 3.0]
    everything = json_out("diff", "logreg-C1", "svc-rbf-C10", "-t", quickstart, "--all")
    assert {"run_id", "start_time", "duration_s"} <= {c["column"] for c in everything["columns"]}
    assert invoke("diff", "logreg-C1", "-t", quickstart).exit_code == 2


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_diff_shows_the_code_change_between_commits_and_patches(tmp_path, monkeypatch):
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    train = repo / "train.py"
    target, journal = str(tmp_path / "runs.xlsx"), tmp_path / "journal"
    monkeypatch.chdir(repo)

    def log(name: str) -> None:
        sheetlog.log_run(
            metrics={"accuracy": 0.5},
            name=name,
            target=target,
            capture=["git"],
            journal_dir=journal,
        )

    train.write_text("lr = 0.1\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-qm", "first")
    log("first")
    train.write_text("lr = 0.2\n")
    _git(repo, "commit", "-qam", "second")
    log("second")
    train.write_text("lr = 0.3\n")  # not committed: saved as the run's patch
    log("dirty")
    result = invoke("diff", "first", "second", "dirty", "-t", target)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Code: git diff" in out and "(A -> B)" in out
    assert "-lr = 0.1\n+lr = 0.2" in out
    assert "Uncommitted changes of C:" in out and "-lr = 0.2\n+lr = 0.3" in out
    data = json_out("diff", "first", "second", "-t", target)
    assert "+lr = 0.2" in data["code"]["commits"][0]["diff"]
    monkeypatch.chdir(tmp_path)  # no repository at hand: say so, show the rest
    result = invoke("diff", "first", "second", "-t", target)
    assert result.exit_code == 0
    assert "is not in a git repository: run diff inside the project" in result.stdout
    # the same commit and no patch on either side: no code section
    log("first-again")
    monkeypatch.chdir(repo)
    assert "Code" not in invoke("diff", "second", "first-again", "-t", target).stdout


# --- the library answers, the CLI prints ------------------------------------------------------


def test_the_api_gives_the_answers_the_cli_prints(quickstart):
    answer = sheetlog.best("cost", quickstart)
    assert (answer.run["name"], answer.goal.direction, answer.goal.source) == (
        "svc-linear",
        "min",
        "declared",
    )
    assert answer.runner_up["name"] == "svc-rbf-C1"
    assert sheetlog.best("accuracy", quickstart, where="model=forest").run["name"] == (
        "forest-200-balanced"
    )
    chosen = sheetlog.select(quickstart, sort="accuracy", limit=3)
    assert chosen["name"].tolist() == ["svc-linear", "svc-rbf-C1", "svc-rbf-C10"]
    assert sheetlog.select(quickstart, where=["model=svc", "C>1"])["name"].tolist() == [
        "svc-rbf-C10"
    ]
    compared = sheetlog.diff("logreg-C1", "svc-rbf-C10", target=quickstart)
    assert {row.column for row in compared.rows} >= {"params.model", "metrics.accuracy"}
    with pytest.raises(sheetlog.QueryError, match="no column 'acuracy'"):
        sheetlog.select(quickstart, sort="acuracy")


# --- the real quickstart ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_answers_after_the_real_quickstart(tmp_path):
    """examples/quickstart.py itself (scikit-learn, ~15 s), then ls, best and diff on its
    workbook, checked against the workbook read with pandas."""
    quickstart = Path(__file__).parents[1] / "examples" / "quickstart.py"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHEETLOG_")}
    done = subprocess.run(
        [sys.executable, str(quickstart)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    target = str(tmp_path / "runs.xlsx")
    frame = sheetlog.load(target)
    fastest = frame.loc[frame["metrics.fit_time_s"].idxmin(), "name"]
    assert json_out("best", target, "-m", "fit_time_s")["name"] == fastest
    top = frame.sort_values("metrics.accuracy", ascending=False, kind="stable").head(3)
    listed = json_out("ls", target, "--sort", "accuracy", "--limit", "3", "--desc")
    assert names_of(listed) == top["name"].tolist()
    data = json_out("diff", "logreg-C1", "svc-rbf-C10", "forest-50", "-t", target)
    columns = {column["column"] for column in data["columns"]}
    assert {"params.model", "metrics.accuracy"} <= columns
    assert not columns & {"run_id", "start_time", "end_time", "duration_s"}
