"""Many processes logging into one workbook at the same moment.

8 fresh interpreters (real subprocesses, each importing sheetlog) log 25 runs each into ONE
workbook, all released at once. Each process logs its own parameter set (a column only it has),
so header columns grow while others append. Two variants: all processes share one journal (each
delivery also takes the others' pending runs: group commit), or each has its own (only the
workbook lock orders them). After a final flush from each journal, the result is read back
with openpyxl and python-calamine: exactly 200 rows, no run_id twice, and every value under its
own header.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

import sheetlog

PROCESSES = 8
RUNS_EACH = 25

# One logging process: waits for the "go" file so all 8 start writing together, then logs its
# runs and prints, as JSON, every run_id with the params and metrics it logged for it.
CHILD = r"""
import json, sys, time, warnings
from pathlib import Path

import sheetlog

k, target, journal, go, count = sys.argv[1:6]
k, count, go = int(k), int(count), Path(go)
deadline = time.monotonic() + 120
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("never got the go signal")
    time.sleep(0.002)
runs = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for i in range(count):
        params = {"common": i, f"only_{k}": f"p{k}-{i}", "seed": 1000 * k + i}
        if k % 2:
            params["optimizer"] = {"lr": 0.5 ** (i + 1), "nesterov": i % 3 == 0}
        metrics = {"acc": k + i / 100, f"loss_{k}": 1 / (i + 1)}
        row = sheetlog.log_run(
            params, metrics, name=f"proc{k}-run{i}", target=target, capture=False,
            journal_dir=journal,
        )
        runs[row["run_id"]] = {"params": params, "metrics": metrics, "name": f"proc{k}-run{i}"}
print(json.dumps({"runs": runs, "warnings": [str(w.message) for w in caught]}))
"""


def _flat(prefix: str, values: dict) -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(f"{prefix}.{key}", value))
        else:
            flat[f"{prefix}.{key}"] = value
    return flat


def _run_processes(tmp_path: Path, target: Path, journals: list[Path]) -> dict[str, dict]:
    """Start the 8 processes, release them together, return {run_id: expected cells}."""
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(k),
                str(target),
                str(journals[k]),
                str(go),
                str(RUNS_EACH),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for k in range(PROCESSES)
    ]
    time.sleep(1.0)  # let every interpreter get as far as waiting for the go file
    go.touch()
    expected: dict[str, dict] = {}
    for k, child in enumerate(children):
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, f"process {k} failed:\n{err}"
        report = json.loads(out.strip().splitlines()[-1])
        assert report["warnings"] == [], f"process {k} was warned: {report['warnings']}"
        for run_id, logged in report["runs"].items():
            assert run_id not in expected
            expected[run_id] = {
                "name": logged["name"],
                "status": "FINISHED",
                **_flat("params", logged["params"]),
                **_flat("metrics", logged["metrics"]),
            }
    assert len(expected) == PROCESSES * RUNS_EACH
    return expected


def _rows_openpyxl(path: Path) -> tuple[list[str], list[list]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        assert workbook.sheetnames == ["Runs"]
        rows = [list(row) for row in workbook["Runs"].iter_rows(values_only=True)]
    finally:
        workbook.close()
    return rows[0], [row for row in rows[1:] if any(v is not None for v in row)]


def _rows_calamine(path: Path) -> tuple[list[str], list[list]]:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Runs")
    rows = [[None if v == "" else v for v in row] for row in sheet.to_python()]
    return rows[0], [row for row in rows[1:] if any(v is not None for v in row)]


def _same(got: object, want: object) -> bool:
    if isinstance(want, (bool, str)):
        return got == want
    return (
        isinstance(got, (int, float))
        and not isinstance(got, bool)
        and math.isclose(got, want, rel_tol=1e-12)
    )


def _check_sheet(header: list, rows: list[list], expected: dict[str, dict], reader: str) -> None:
    assert len(header) == len({h for h in header if h}), f"{reader}: a header name twice"
    assert len(rows) == PROCESSES * RUNS_EACH, f"{reader}: {len(rows)} rows"
    run_ids = [row[header.index("run_id")] for row in rows]
    assert len(set(run_ids)) == len(run_ids), f"{reader}: a run_id appears twice"
    assert set(run_ids) == set(expected), f"{reader}: rows differ from the runs logged"
    checked = [
        h
        for h in header
        if h and (h.startswith(("params.", "metrics.")) or h in ("name", "status"))
    ]
    every_key = {key for cells in expected.values() for key in cells}
    assert every_key <= set(checked), f"{reader}: columns missing: {every_key - set(checked)}"
    for row in rows:
        want = expected[row[header.index("run_id")]]
        for name in checked:
            got = row[header.index(name)] if header.index(name) < len(row) else None
            if name in want:
                assert _same(got, want[name]), f"{reader}: {name} is {got!r}, logged {want[name]!r}"
            else:
                assert got is None, f"{reader}: {name} holds {got!r} for a run that never logged it"


def _check_final_flush(journals: list[Path]) -> None:
    for journal in dict.fromkeys(journals):
        report = sheetlog.flush(journal_dir=journal)
        assert report.pending == {}, report.errors
        assert sum(report.delivered.values()) == 0  # every run was already in the workbook


@pytest.mark.parametrize(
    "journals", ["shared", pytest.param("one per process", marks=pytest.mark.slow)]
)
def test_eight_processes_log_200_runs_into_one_workbook(tmp_path: Path, journals: str) -> None:
    target = tmp_path / "runs.xlsx"
    if journals == "shared":
        journal_dirs = [tmp_path / ".sheetlog"] * PROCESSES
    else:
        journal_dirs = [tmp_path / f"journal-{k}" for k in range(PROCESSES)]
    expected = _run_processes(tmp_path, target, journal_dirs)
    _check_final_flush(journal_dirs)

    for reader, read in (("openpyxl", _rows_openpyxl), ("calamine", _rows_calamine)):
        header, rows = read(target)
        _check_sheet(header, rows, expected, reader)
    assert list(tmp_path.glob(".runs.xlsx.sheetlog-*.tmp")) == []
