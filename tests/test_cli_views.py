"""The read-only commands (ls, show, best, diff, export) on an empty directory, a 1,000-run
workbook and the fake Google Sheet, through click's runner and as real processes."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_support import fake_records, invoke, write_records

import sheetlog
from sheetlog.cli import run_output
from sheetlog.csv_text import csv_unsafe
from sheetlog.values import to_cell


def json_out(*args: str):
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def subprocess_sheetlog(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "sheetlog", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> str:
    target = str(tmp_path_factory.mktemp("big") / "runs.xlsx")
    write_records(target, fake_records(1000))
    return target


@pytest.fixture(scope="module")
def frame(big) -> pd.DataFrame:
    return sheetlog.load(big)


def _record(run_id: str, name: str, minute: int, **columns) -> dict:
    start = dt.datetime(2026, 2, 1, 12, minute, tzinfo=dt.timezone.utc)
    record = {"run_id": run_id, "name": name, "status": "FINISHED", "start_time": start}
    record.update(columns)
    return {key: to_cell(value) for key, value in record.items()}


@pytest.fixture
def odd(tmp_path) -> tuple[str, Path]:
    """Five runs with awkward values: formula-like text, NaN and infinity, a list, patches."""
    patch = tmp_path / "abcd1111.patch"
    patch.write_text("diff --git a/x b/x\n")
    records = [
        _record(
            "abcd1111" + "0" * 24,
            "formulas",
            1,
            **{
                "params.lr": 0.1,
                "params.layers": [64, 64],
                "metrics.accuracy": 0.9,
                "metrics.loss": math.nan,
                "notes": '=HYPERLINK("http://x")',
                "tags.flag": "+1",
                "command": "-cmd --flag",
                "git.commit": "c0ffee" * 6 + "abcd",
                "git.dirty": True,
                "git.patch": str(patch),
            },
        ),
        _record(
            "abcd2222" + "0" * 24,
            "twin",
            2,
            **{
                "params.lr": 0.01,
                "metrics.accuracy": math.inf,
                "metrics.loss": -1.5,
                "git.commit": "c0ffee" * 6 + "abcd",
                "git.dirty": True,
                "git.patch": str(tmp_path / "gone.patch"),
                "command": "python train.py",
            },
        ),
        _record("ffff3333" + "0" * 24, "same", 3, **{"params.lr": 0.01, "metrics.loss": 0.5}),
        _record("ffff4444" + "0" * 24, "same", 4, **{"params.lr": 0.01, "metrics.loss": 0.25}),
        _record("eeee5555" + "0" * 24, "failed", 5, **{"params.lr": 0.3, "metrics.loss": 0.01}),
    ]
    records[-1]["status"] = "FAILED"
    target = str(tmp_path / "odd.xlsx")
    write_records(target, records)
    return target, patch


# --- a fresh, empty directory --------------------------------------------------------------


def test_every_command_in_an_empty_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETLOG_TARGET", raising=False)
    for args in (
        ["ls"],
        ["ls", "--format", "json"],
        ["show", "abcd"],
        ["best", "-m", "accuracy"],
        ["diff", "abcd", "ef01"],
        ["export", "-o", "out.json"],
    ):
        result = invoke(*args)
        assert (result.exit_code, result.stdout) == (1, ""), args
        assert "runs.xlsx does not exist" in result.stderr, args
    assert not Path("out.json").exists()
    assert not Path("runs.xlsx").exists()  # reading never creates the workbook


def test_empty_directory_as_a_real_process(tmp_path):
    done = subprocess_sheetlog("ls", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert "runs.xlsx does not exist" in done.stderr
    done = subprocess_sheetlog("show", "abcd", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr


# --- ls on 1,000 runs ------------------------------------------------------------------------


def test_where_and_sort_select_what_pandas_selects(big, frame):
    records = json_out(
        "ls",
        big,
        "--where",
        "lr<0.05",
        "--where",
        "status=FINISHED",
        "--sort",
        "accuracy",
        "--desc",
    )
    chosen = frame[(frame["params.lr"] < 0.05) & (frame["status"] == "FINISHED")]
    expected = chosen.sort_values("start_time", kind="stable").sort_values(
        "metrics.accuracy", ascending=False, kind="stable"
    )
    assert [r["run_id"] for r in records] == expected["run_id"].tolist()
    assert set(records[0]) == set(frame.columns)


@pytest.mark.parametrize(
    ("where", "query"),
    [
        ("batch_size!=32", lambda f: f["params.batch_size"] != 32),
        ("params.optimizer = adam", lambda f: f["params.optimizer"] == "adam"),
        ("loss<=0.25", lambda f: f["metrics.loss"] <= 0.25),
        ("accuracy>0.9", lambda f: f["metrics.accuracy"] > 0.9),
        ("name~^SWEEP-9[0-4]$", lambda f: f["name"].str.match(r"^sweep-9[0-4]$")),
        (
            "start_time>=2026-01-04",
            lambda f: f["start_time"] >= pd.Timestamp("2026-01-04", tz="UTC"),
        ),
        ("status=killed", lambda f: f["status"] == "KILLED"),
    ],
)
def test_each_where_operator(big, frame, where, query):
    records = json_out("ls", big, "--where", where)
    assert sorted(r["run_id"] for r in records) == sorted(frame[query(frame)]["run_id"])


def test_table_fits_the_terminal_newest_last(big, frame):
    code, lines, stderr = on_a_terminal("ls", big, "--limit", "0", lines=15, width=80)
    assert code == 0, stderr
    assert len(lines) == 2 + 1000
    assert all(len(line) <= 80 for line in lines)
    # results first: name, status, the metrics, the params that differ, then run_id
    assert lines[0].split()[:8] == [
        "name",
        "status",
        "accuracy",
        "loss",
        "lr",
        "batch_size",
        "optimizer",
        "run_id",
    ]
    newest = frame.loc[frame["start_time"].idxmax()]
    assert lines[-1].startswith(newest["name"] + " ")
    assert newest["run_id"][:8] in lines[-1]
    # tags.team and host are the same in every run: they give way first, and are counted
    assert "team" not in lines[0] and "host" not in lines[0]
    assert "more columns do not fit the terminal" in stderr
    assert "team" in stderr


def test_columns_limit_and_short_names(big, frame):
    result = invoke("ls", big, "-c", "name,lr", "--columns", "metrics.*", "--limit", "3")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "lr", "accuracy", "loss"]
    newest = frame.sort_values("start_time").tail(3)
    assert [line.split()[0] for line in lines[2:]] == newest["name"].tolist()
    result = invoke("ls", big, "-c", "name", "--limit", "3", "--desc")
    assert [line.strip() for line in result.stdout.splitlines()[2:]] == newest["name"][
        ::-1
    ].tolist()


def test_long_text_is_cut_with_an_ellipsis(odd):
    target, _ = odd
    code, lines, stderr = on_a_terminal("ls", target, "-c", "name,command", width=20)
    assert code == 0, stderr
    assert all(len(line) <= 20 for line in lines)
    assert "…" in "\n".join(lines)


def test_unknown_or_ambiguous_column_is_a_usage_error(big, tmp_path):
    result = invoke("ls", big, "--sort", "acuracy")
    assert result.exit_code == 2
    assert "metrics.accuracy" in result.stderr
    result = invoke("ls", big, "--where", "lr<fast")
    assert result.exit_code == 2
    assert "params.lr holds numbers" in result.stderr
    target = str(tmp_path / "both.xlsx")
    write_records(target, [_record("a" * 32, "x", 1, **{"params.lr": 1, "metrics.lr": 2})])
    result = invoke("ls", target, "--sort", "lr")
    assert result.exit_code == 2
    assert "params.lr" in result.stderr and "metrics.lr" in result.stderr


def test_csv_and_json_output_of_awkward_values(odd):
    target, _ = odd
    records = {r["name"]: r for r in json_out("ls", target)}
    assert records["formulas"]["metrics.loss"] is None  # NaN
    assert records["twin"]["metrics.accuracy"] is None  # inf
    assert records["formulas"]["params.layers"] == [64, 64]
    assert records["formulas"]["start_time"] == "2026-02-01T12:01:00+00:00"
    assert records["same"]["notes"] is None
    result = invoke("ls", target, "--format", "csv", "-c", "name,notes,tags.flag,command")
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[1] == ["formulas", '\'=HYPERLINK("http://x")', "'+1", "'-cmd --flag"]


def test_a_big_table_as_a_real_process(big, frame):
    done = subprocess_sheetlog("ls", big, "--limit", "5")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 7
    assert lines[-1].startswith(frame.loc[frame["start_time"].idxmax(), "name"] + " ")


def _imported_by(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """``sheetlog ARGS`` as a real process, and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sheetlog", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return done, {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines}


def test_ls_lays_out_its_table_without_pandas(big):
    """Importing pandas (and the logging machinery) would cost ls half a second of start-up."""
    done, imported = _imported_by("ls", big, "--limit", "5")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 7
    assert "pandas" not in imported
    done, imported = _imported_by("ls", big, "--where", "lr<0.05", "--limit", "5")
    assert done.returncode == 0 and "pandas" in imported


def on_a_terminal(*args: str, lines: int = 15, width: int = 100) -> tuple[int, list[str], str]:
    """``sheetlog ARGS`` as a real process whose stdout is a (pseudo-)terminal ``lines`` high
    and ``width`` wide."""
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(width), "LINES": str(lines)}
    child = subprocess.Popen(
        [sys.executable, "-m", "sheetlog", *args], stdout=follower, stderr=subprocess.PIPE, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    stderr = child.stderr.read().decode()
    child.wait(timeout=120)
    return child.returncode, b"".join(chunks).decode().splitlines(), stderr


def test_on_a_terminal_ls_shows_a_screenful(big, frame):
    code, lines, stderr = on_a_terminal("ls", big, lines=15)
    assert code == 0, stderr
    newest = frame.sort_values("start_time").tail(10)
    assert len(lines) == 2 + 10
    assert [line.split()[0] for line in lines[2:]] == newest["name"].tolist()
    assert "showing the most recent 10 of 1000 runs (--limit 0 shows all" in stderr

    code, lines, stderr = on_a_terminal("ls", big, "--sort", "accuracy", "--desc", lines=15)
    best = frame.sort_values("start_time", kind="stable").sort_values(
        "metrics.accuracy", ascending=False, kind="stable"
    )
    assert [line.split()[0] for line in lines[2:]] == best["name"][:10].tolist()
    assert "showing the best 10 of 1000 runs" in stderr

    code, lines, stderr = on_a_terminal("ls", big, "--limit", "0", lines=15)
    assert (code, len(lines)) == (0, 2 + 1000)
    assert "showing" not in stderr


def test_limit_zero_shows_all_and_few_rows_read_as_all_do(big):
    assert len(invoke("ls", big, "--limit", "0").stdout.splitlines()) == 2 + 1000
    assert invoke("ls", big, "--limit", "-1").exit_code == 2
    # the rows shown are typed on their own; they read as in the whole table
    columns = ["-c", "run_id,name,status,start_time,lr,batch_size,accuracy,loss,team"]
    every = invoke("ls", big, *columns).stdout.splitlines()
    few = invoke("ls", big, *columns, "--limit", "7").stdout.splitlines()
    assert [line.split() for line in few[2:]] == [line.split() for line in every[-7:]]
    query = ["--where", "lr<0.05", "--where", "status!=FAILED", "--sort", "loss", "--limit", "50"]
    table = invoke("ls", big, *query, "-c", "run_id", width=40).stdout.splitlines()[2:]
    assert [line.split()[0] for line in table] == [
        r["run_id"][:8] for r in json_out("ls", big, *query)
    ]


# --- show, best, diff ------------------------------------------------------------------------


def test_show_by_prefix_and_by_name(big, frame):
    run = frame.iloc[123]
    result = invoke("show", run["run_id"][:6], "-t", big)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for title in ("Run", "Parameters", "Metrics", "Tags", "Context", "Reproduce"):
        assert title in lines
    assert f"  run_id      {run['run_id']}" in lines
    assert f"git checkout {run['git.commit']}" in result.stdout
    assert f"  {run['command']}" in lines
    data = json_out("show", run["name"], "-t", big)
    assert set(data) == {"target", "run", "reproduce"}
    assert data["run"]["run_id"] == run["run_id"]
    assert data["run"]["params.lr"] == run["params.lr"]
    # 1,000 runs share a few commands (and no pid column says which process made which run)
    repeated = int((frame["command"] == run["command"]).sum())
    assert data["reproduce"] == [
        f"git checkout {run['git.commit']}",
        f"# this command logged {repeated} runs (a script that logs several, or the same command"
        " run again): running it may repeat them all",
        f"# this run's params: lr={run['params.lr']} batch_size={run['params.batch_size']}"
        f" optimizer={run['params.optimizer']}",
        run["command"],
    ]


def test_show_explains_what_is_not_found(odd):
    target, _ = odd
    result = invoke("show", "abcd", "-t", target)  # prefix of two runs
    assert result.exit_code == 1
    assert "abcd1111" in result.stderr and "abcd2222" in result.stderr
    result = invoke("show", "same", "-t", target)  # name of two runs: the newest, and a note
    assert result.exit_code == 0
    assert "ffff4444" in result.stdout and "ffff3333" not in result.stdout
    assert "2 runs are named 'same'" in result.stderr and "ffff3333" in result.stderr
    result = invoke("show", "nope", "-t", target)
    assert result.exit_code == 1
    assert f"no run 'nope' in {target}" in result.stderr
    assert invoke("show", "abc", "-t", target).exit_code == 1  # prefixes need 4 characters


def test_show_gives_a_recipe_with_the_patch(odd):
    target, patch = odd
    steps = json_out("show", "abcd1111", "-t", target)["reproduce"]
    assert steps == [f"git checkout {'c0ffee' * 6}abcd", f"git apply {patch}", "-cmd --flag"]
    steps = json_out("show", "twin", "-t", target)["reproduce"]
    assert steps[1].startswith("# ") and "gone.patch" in steps[1]


def test_best_picks_what_pandas_picks(big, frame):
    finished = frame[frame["status"] == "FINISHED"]
    data = json_out("best", big, "--metric", "accuracy")
    assert set(data) == {
        "target",
        "metric",
        "direction",
        "value",
        "run_id",
        "name",
        "params",
        "candidates",
        "direction_source",
        "ties",
        "runner_up",
    }
    best = finished.loc[finished["metrics.accuracy"].idxmax()]
    assert (data["run_id"], data["direction"]) == (best["run_id"], "max")
    assert data["params"] == {
        "lr": best["params.lr"],
        "batch_size": int(best["params.batch_size"]),
        "optimizer": best["params.optimizer"],
    }
    assert data["candidates"] == len(finished)
    data = json_out("best", big, "-m", "loss")  # a loss: lower is better
    assert (data["direction"], data["value"]) == ("min", finished["metrics.loss"].min())
    data = json_out("best", big, "-m", "loss", "--max")
    assert data["value"] == finished["metrics.loss"].max()
    result = invoke("best", big, "-m", "loss")
    assert result.exit_code == 0
    assert "Parameters" in result.stdout and "lowest metrics.loss" in result.stderr


def test_best_skips_failed_runs_and_non_finite_values(odd):
    target, _ = odd
    assert json_out("best", target, "-m", "loss")["name"] == "twin"  # -1.5; FAILED 0.01 skipped
    assert json_out("best", target, "-m", "accuracy")["name"] == "formulas"  # inf skipped
    result = invoke("best", target, "-m", "f1")  # no such column: a usage error, as ls --sort
    assert result.exit_code == 2 and "no column 'f1'" in result.stderr


def test_diff_lists_what_differs_params_first(odd):
    target, _ = odd
    result = invoke("diff", "abcd1111", "twin", "-t", target)
    assert result.exit_code == 0, result.output
    table = result.stdout.split("\n\n")[1]  # after the runs, before the code change
    names = [line.split()[0] for line in table.splitlines()[2:]]
    assert names.index("params.lr") < names.index("metrics.accuracy") < names.index("command")
    assert "git.commit" not in names and "3 identical columns" in result.stderr
    data = json_out("diff", "ffff3333", "ffff4444", "-t", target)
    assert set(data) == {"target", "runs", "a", "b", "columns", "identical", "hidden", "code"}
    assert data["columns"] == [
        {
            "column": "metrics.loss",
            "values": [0.5, 0.25],
            "deltas": [None, -0.25],
            "a": 0.5,
            "b": 0.25,
            "same": False,
        }
    ]
    assert data["hidden"] == 2  # run_id and start_time differ, and are left out
    everything = json_out("diff", "ffff3333", "ffff4444", "-t", target, "--all")
    assert sum(c["same"] for c in everything["columns"]) == data["identical"] > 0
    times = {c["column"]: c["values"] for c in everything["columns"]}
    assert times["start_time"] == ["2026-02-01T12:03:00+00:00", "2026-02-01T12:04:00+00:00"]


# --- export ----------------------------------------------------------------------------------


def test_export_csv_never_runs_a_formula(odd, tmp_path):
    target, _ = odd
    out = tmp_path / "runs.csv"
    result = invoke("export", target, "-o", str(out))
    assert result.exit_code == 0
    assert f"wrote 5 runs to {out}" in result.stderr
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    first = rows[0]
    assert first["notes"] == '\'=HYPERLINK("http://x")'
    assert (first["tags.flag"], first["command"]) == ("'+1", "'-cmd --flag")
    assert csv_unsafe(first["notes"]) == '=HYPERLINK("http://x")'
    assert (csv_unsafe(first["tags.flag"]), csv_unsafe(first["command"])) == ("+1", "-cmd --flag")
    assert rows[1]["metrics.loss"] == "-1.5"  # a number, not text: left as it is
    assert rows[1]["metrics.accuracy"] == "inf"
    assert first["metrics.loss"] == ""
    result = invoke("export", target, "-o", str(out))
    assert result.exit_code == 1 and "--force" in result.stderr
    assert invoke("export", target, "-o", str(out), "--force").exit_code == 0


def test_export_json_and_parquet(big, frame, tmp_path):
    out = tmp_path / "runs.json"
    assert invoke("export", big, "-o", str(out)).exit_code == 0
    records = json.loads(out.read_text())
    assert [r["run_id"] for r in records] == frame["run_id"].tolist()
    out = tmp_path / "runs.parquet"
    assert invoke("export", big, "-o", str(out)).exit_code == 0
    back = pd.read_parquet(out)
    assert back["run_id"].tolist() == frame["run_id"].tolist()
    assert back["metrics.accuracy"].tolist() == frame["metrics.accuracy"].tolist()


def test_parquet_without_pyarrow_says_what_to_install(big, tmp_path, monkeypatch):
    real = run_output.importlib.util.find_spec
    monkeypatch.setattr(
        run_output.importlib.util,
        "find_spec",
        lambda name: None if name == "pyarrow" else real(name),
    )
    result = invoke("export", big, "-o", str(tmp_path / "runs.parquet"))
    assert result.exit_code == 1
    assert "install pyarrow to write parquet" in result.stderr
    assert invoke("export", big, "-o", str(tmp_path / "runs.xls")).exit_code == 2


def test_export_as_a_real_process(odd, tmp_path):
    target, _ = odd
    out = tmp_path / "out.csv"
    done = subprocess_sheetlog("export", target, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote 5 runs" in done.stderr
    assert "'=HYPERLINK" in out.read_text(encoding="utf-8")


# --- the fake Google Sheet --------------------------------------------------------------------


def test_every_command_on_a_google_sheet(fake_sheets, tmp_path):
    key = fake_sheets.create_spreadsheet("runs")
    target = f"gsheet://{key}/Runs"
    records = fake_records(50, seed=7)
    write_records(target, records)
    listed = json_out("ls", target, "--sort", "loss", "--where", "optimizer=sgd")
    sgd = [r for r in records if r["params.optimizer"] == "sgd"]
    assert [r["run_id"] for r in listed] == [
        r["run_id"] for r in sorted(sgd, key=lambda r: r["metrics.loss"])
    ]
    run = records[17]
    assert json_out("show", run["run_id"][:5], "-t", target)["run"]["name"] == run["name"]
    finished = [r for r in records if r["status"] == "FINISHED"]
    best = max(finished, key=lambda r: r["metrics.accuracy"])
    assert json_out("best", target, "-m", "accuracy")["run_id"] == best["run_id"]
    assert json_out("diff", records[0]["run_id"], records[1]["run_id"], "-t", target)["columns"]
    out = tmp_path / "sheet.json"
    assert invoke("export", target, "-o", str(out)).exit_code == 0
    assert len(json.loads(out.read_text())) == 50
    done = subprocess_sheetlog("ls", target, "--limit", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(records[-1]["name"] + " ")
