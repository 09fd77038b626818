"""A new user's first hour, continued (issue 11): what a user trips on beyond the README.

Numbers read the same in ``ls``, ``show``, ``best`` and ``diff`` (a whole number is an integer
everywhere, not ``9.42772e+06``); a usage error (an unknown column named on the command line) is
exit 2 on every command, a run or target that is not there exit 1; ``diff`` gives no "delta"
for process ids or exit codes.
"""

from __future__ import annotations

import json

import pytest
from cli_support import write_records
from click.testing import CliRunner

from sheetlog.cli import main
from sheetlog.values import to_cell

RUNS = [
    {
        "run_id": "a1" * 16,
        "name": "small",
        "status": "FINISHED",
        "params.lr": 0.1,
        "metrics.accuracy": 0.9,
        "metrics.n_params": 1234567,
        "pid": 100,
        "exit_code": 0,
    },
    {
        "run_id": "b2" * 16,
        "name": "big",
        "status": "FINISHED",
        "params.lr": 0.01,
        "metrics.accuracy": 0.95,
        "metrics.n_params": 7654321,
        "model_size": 9427721,
        "pid": 2457,
        "exit_code": 1,
    },
]


@pytest.fixture
def workbook(tmp_path) -> str:
    target = str(tmp_path / "runs.xlsx")
    write_records(target, [{k: to_cell(v) for k, v in run.items()} for run in RUNS])
    return target


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def test_ls_prints_whole_numbers_as_integers(workbook):
    result = invoke("ls", "-t", workbook, "-c", "name,model_size,n_params")
    assert result.exit_code == 0, result.output
    assert "9427721" in result.stdout and "1234567" in result.stdout
    assert "e+06" not in result.stdout


def test_diff_and_best_print_whole_numbers_as_integers(workbook):
    diff = invoke("diff", "-t", workbook, "small", "big")
    assert diff.exit_code == 0, diff.output
    assert "e+06" not in diff.stdout
    assert "7654321 (+6419754)" in diff.stdout
    assert "9427721" in diff.stdout
    best = invoke("best", "-t", workbook, "-m", "accuracy", "--max")
    assert best.exit_code == 0, best.output
    assert "e+06" not in best.stdout
    assert "1234567" in best.stdout  # the runner-up's n_params


def test_diff_gives_no_deltas_for_process_ids_and_exit_codes(workbook):
    result = invoke("diff", "-t", workbook, "small", "big", "--all")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "(+" not in lines["pid"] and "(+" not in lines["exit_code"]
    assert "(-0.09)" in lines["params.lr"]  # params and metrics keep theirs
    columns = json.loads(invoke("diff", "-t", workbook, "small", "big", "--format", "json").stdout)
    rows = {row["column"]: row for row in columns["columns"]}
    assert "pid" not in rows  # an id: shown with --all only, like run_id
    assert rows["exit_code"]["deltas"] == [None, None]


@pytest.mark.parametrize(
    "args",
    [
        ("best", "-m", "nope"),
        ("best", "-m", "nope", "--min"),
        ("ls", "--sort", "nope"),
        ("ls", "-c", "nope"),
        ("ls", "--where", "nope=1"),
    ],
)
def test_an_unknown_column_is_a_usage_error_on_every_command(workbook, args):
    result = invoke(*args, "-t", workbook)
    assert result.exit_code == 2, result.output
    assert "no column 'nope'" in result.output
    assert "Traceback" not in result.output


def test_best_of_a_workbook_with_no_runs_is_exit_1(tmp_path):
    target = str(tmp_path / "empty.xlsx")
    assert invoke("init", "-t", target).exit_code == 0
    result = invoke("best", "-t", target, "-m", "accuracy")
    assert result.exit_code == 1, result.output
    assert "no runs" in result.output


def test_json_output_gives_whole_numbers_as_integers_on_every_command(workbook):
    """``show --format json`` gave ``model_size: 9427721`` while ``ls`` gave 9427721.0 and
    ``best`` a param ``C: 10.0``: a whole-number column is integers in every JSON output."""
    runs = json.loads(invoke("ls", "-t", workbook, "--format", "json").stdout)
    assert [run["metrics.n_params"] for run in runs] == [1234567, 7654321]
    assert all(type(run["pid"]) is int for run in runs)
    assert runs[1]["model_size"] == 9427721 and type(runs[1]["model_size"]) is int
    assert type(runs[0]["metrics.accuracy"]) is float
    best = json.loads(invoke("best", "-t", workbook, "-m", "accuracy", "--format", "json").stdout)
    assert best["params"] == {"lr": 0.01}
    assert type(best["runner_up"]["deltas"]["metrics.n_params"]) is int
    diff = json.loads(invoke("diff", "-t", workbook, "small", "big", "--format", "json").stdout)
    row = next(row for row in diff["columns"] if row["column"] == "metrics.n_params")
    assert row["values"] == [1234567, 7654321] and row["deltas"] == [None, 6419754]
    assert type(row["deltas"][1]) is int
    show = json.loads(invoke("show", "-t", workbook, "big", "--format", "json").stdout)
    assert type(show["run"]["metrics.n_params"]) is int


def test_best_in_a_hand_kept_sheet_names_rows_by_their_own_columns(tmp_path):
    """A hand-kept sheet has no run_id or name: ``best`` printed the value alone and the
    runner-up as ``run None``. A row without them is named by its own columns."""
    import openpyxl

    path = tmp_path / "hand.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Date", "lr", "accuracy", "verdict"])
    sheet.append(["2024-01-01", 0.1, 0.8, "meh"])
    sheet.append(["2024-01-02", 0.01, 0.9, "good"])
    book.save(path)
    result = invoke("best", "-t", str(path), "-m", "accuracy")
    assert result.exit_code == 0, result.output
    assert "None" not in result.stdout
    best, runner_up = result.stdout.split("Runner-up")
    assert "2024-01-02" in best and "good" in best
    assert "2024-01-01" in runner_up and "meh" in runner_up


def test_best_counts_hand_kept_rows_after_sheetlog_added_a_status_column(tmp_path):
    """A hand-kept row has no status: once sheetlog logged a run there (adding a ``status``
    column), ``best`` left the hand-kept rows out as not FINISHED and named a worse run."""
    import openpyxl

    path = tmp_path / "hand.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["lr", "accuracy", "verdict"])
    sheet.append([0.01, 0.9, "good"])
    book.save(path)
    logged = invoke("log", "-t", str(path), "-p", "lr=0.05", "-m", "accuracy=0.85", "--name", "x")
    assert logged.exit_code == 0, logged.output
    data = json.loads(invoke("best", "-t", str(path), "-m", "accuracy", "--format", "json").stdout)
    assert data["value"] == 0.9 and data["candidates"] == 2
    assert data["runner_up"]["name"] == "x"


def test_show_in_a_sheet_of_rows_without_run_ids_does_not_say_it_has_no_runs(tmp_path):
    import openpyxl

    path = tmp_path / "hand.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["lr", "accuracy"])
    book.active.append([0.01, 0.9])
    book.save(path)
    result = invoke("show", "-t", str(path), "0.01")
    assert result.exit_code == 1
    assert "has no runs" not in result.output
    assert "1 row" in result.output and "no run_id" in result.output


def test_best_of_one_run_says_run_not_runs(tmp_path):
    target = str(tmp_path / "runs.csv")
    assert invoke("log", "-t", target, "-m", "loss=0.5", "--name", "only").exit_code == 0
    result = invoke("best", "-t", target, "-m", "loss")
    assert result.exit_code == 0, result.output
    assert "of 1 FINISHED run in" in result.stderr


def test_pending_takes_a_run_name_as_every_other_command_does(tmp_path):
    """``sheetlog pending`` lists ``<id> (lost)``; ``pending --retarget lost other.xlsx`` said
    there was no such run: it took an id or a prefix only."""
    target = str(tmp_path / "runs.xlsx")
    (tmp_path / "~$runs.xlsx").write_text("")  # open in Excel: the run stays pending
    journal = str(tmp_path / "journal")
    logged = invoke("log", "-t", target, "--journal-dir", journal, "-m", "a=1", "--name", "lost")
    assert logged.exit_code == 0, logged.output
    listed = invoke("pending", "--journal-dir", journal)
    assert listed.exit_code == 1 and "(lost)" in listed.stdout
    other = str(tmp_path / "other.xlsx")
    moved = invoke("pending", "--journal-dir", journal, "--retarget", "lost", other)
    assert moved.exit_code == 0, moved.output
    assert "lost" in invoke("ls", "-t", other).stdout
    assert invoke("pending", "--journal-dir", journal, "--drop", "nope").exit_code == 1


def test_where_with_a_time_that_is_not_one_is_a_usage_error(tmp_path):
    target = str(tmp_path / "runs.csv")
    assert invoke("log", "-t", target, "-m", "loss=0.5", "--name", "today").exit_code == 0
    listed = invoke("ls", "-t", target, "--where", "start_time>2020-01-31", "-c", "name")
    assert listed.exit_code == 0 and "today" in listed.stdout
    for bad in ("start_time>yesterday", "start_time<2026-13-45"):
        result = invoke("ls", "-t", target, "--where", bad)
        assert result.exit_code == 2, result.output
        assert "start_time holds times" in result.output and "2026-01-31" in result.output


def test_diff_of_four_runs_on_an_80_column_terminal_cuts_no_number(tmp_path):
    """On 80 columns ``diff A B C D`` cut every metric mid-number (``0.97111…``) to make room
    for the deltas: a run's deltas now go where they fit, numbers are never cut."""
    from test_cli_views import on_a_terminal

    target = str(tmp_path / "runs.xlsx")
    values = [(0.982222, 0.0687168), (0.982226, 0.0686656), (0.971111, 0.177773), (0.96, 1.26)]
    records = [
        {
            "run_id": f"{i:032x}",
            "name": f"run-{i}",
            "status": "FINISHED",
            "params.C": float(10**i),
            "metrics.accuracy": accuracy,
            "metrics.fit_time_s": fit_time,
        }
        for i, (accuracy, fit_time) in enumerate(values)
    ]
    write_records(target, records)
    names = [record["name"] for record in records]
    code, lines, stderr = on_a_terminal("diff", "-t", target, *names, width=80)
    assert code == 0, stderr
    assert all(len(line) <= 80 for line in lines)
    accuracy = next(line for line in lines if line.startswith("metrics.accuracy"))
    fit_time = next(line for line in lines if line.startswith("metrics.fit_time_s"))
    assert "…" not in accuracy + fit_time
    assert all(f"{fit:g}" in fit_time.split() for _, fit in values), fit_time
    assert "(+4e-06)" in accuracy  # the deltas that fit are shown


def test_csv_output_gives_whole_numbers_as_integers_as_json_does(workbook, tmp_path):
    """``ls --format csv`` and ``export -o x.csv`` wrote ``9427721.0`` and ``2457.0`` where the
    JSON outputs and the tables print 9427721 and 2457."""
    import csv
    import io

    printed = invoke("ls", "-t", workbook, "--format", "csv", "-c", "name,model_size,pid,lr")
    assert printed.exit_code == 0, printed.output
    rows = list(csv.DictReader(io.StringIO(printed.stdout)))
    assert [row["model_size"] for row in rows] == ["", "9427721"]
    assert [row["pid"] for row in rows] == ["100", "2457"]
    assert [row["params.lr"] for row in rows] == ["0.1", "0.01"]
    out = tmp_path / "out.csv"
    assert invoke("export", "-t", workbook, "-o", str(out)).exit_code == 0
    exported = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert exported[1]["metrics.n_params"] == "7654321" and exported[1]["exit_code"] == "1"


def test_best_by_a_column_of_text_says_it_is_not_a_number(workbook):
    """``best -m name`` said no FINISHED run has a value for it: they all have one, as text."""
    result = invoke("best", "-t", workbook, "-m", "name")
    assert result.exit_code == 2, result.output
    assert "name holds text, not numbers" in result.output


@pytest.mark.parametrize(
    ("file_name", "text", "says"),
    [
        ("sheetlog.toml", 'target = "runs.xlsx\n', "is not valid TOML"),
        ("pyproject.toml", '[tool.sheetlog]\ntarget = "x.xlsx', "is not valid TOML"),
        ("sheetlog.toml", "target = 3\n", "must be a text"),
    ],
)
def test_a_broken_config_file_is_named_in_the_error(tmp_path, monkeypatch, file_name, text, says):
    """A typo in sheetlog.toml printed ``Error: Illegal character '\\n' (at line 1, column
    24)``, naming no file; ``target = 3`` became the target ``<folder>/3``."""
    (tmp_path / file_name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    for args in (("ls",), ("doctor",)):
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        assert file_name in result.output and says in result.output, result.output
        assert "Traceback" not in result.output


def test_diff_of_a_run_with_itself_says_so(workbook):
    """``diff big b2b2b2b2`` (one run named twice, by name and by id) printed only
    ``N identical columns not shown``, as if two runs were alike."""
    result = invoke("diff", "-t", workbook, "big", "b2b2b2b2", "small")
    assert result.exit_code == 0, result.output
    assert "A and B are the same run (b2b2b2b2)" in result.stderr
