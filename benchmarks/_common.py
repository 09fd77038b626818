"""Helpers shared by the benchmark scripts: the runs they log, pre-filling sheetlog and MLflow
stores, percentiles, and the machine description written next to every result."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import platform
import random
import sqlite3
import subprocess
import tempfile
import uuid
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

# MLflow 3 sends usage telemetry from a background thread; a benchmark should not.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import openpyxl  # noqa: E402

import sheetlog  # noqa: E402
from sheetlog.run import open_journal  # noqa: E402
from sheetlog.targets import open_target  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
N_PARAMS, N_METRICS = 20, 10
MLFLOW_API_PREFILL = 200  # runs logged through MLflow's API; the rest of N cloned from them in SQL


# -- the data: one run ------------------------------------------------------------------------


@dataclass
class RunData:
    name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]


def run_data(index: int) -> RunData:
    """Run number ``index``: the same values for every contender."""
    rng = random.Random(index)
    params: dict[str, Any] = {}
    for j in range(N_PARAMS):
        kind = j % 3
        if kind == 0:
            params[f"param_{j:02d}"] = round(10 ** rng.uniform(-5, 0), 6)
        elif kind == 1:
            params[f"param_{j:02d}"] = rng.randint(1, 4096)
        else:
            params[f"param_{j:02d}"] = rng.choice(["adam", "sgd", "adamw", "relu", "gelu"])
    metrics = {f"metric_{j}": rng.random() for j in range(N_METRICS)}
    tags = {"team": "vision", "stage": rng.choice(["dev", "sweep"]), "seed": str(index)}
    return RunData(f"run-{index:05d}", params, metrics, tags)


def as_record(data: RunData, template: dict[str, Any], start: dt.datetime) -> dict[str, Any]:
    """The row sheetlog would write for ``data`` (columns and context taken from ``template``)."""
    record = dict(template)
    record.update(
        run_id=uuid.uuid4().hex,
        name=data.name,
        status="FINISHED",
        start_time=start,
        end_time=start + dt.timedelta(seconds=42.5),
        duration_s=42.5,
    )
    record.update({f"params.{k}": v for k, v in data.params.items()})
    record.update({f"metrics.{k}": v for k, v in data.metrics.items()})
    record.update({f"tags.{k}": v for k, v in data.tags.items()})
    return record


# -- setting up N runs -------------------------------------------------------------------------


def prefill_records(n: int, template: dict[str, Any]) -> list[dict[str, Any]]:
    start = dt.datetime(2024, 1, 1)
    return [as_record(run_data(i), template, start + dt.timedelta(minutes=i)) for i in range(n)]


def prefill_sheetlog(path: Path, records: list[dict[str, Any]], journal: Path) -> None:
    """N runs committed to a journal of their own, then written by one ``sheetlog.flush``."""
    target = str(path)
    pending = open_journal(journal)
    for record in records:
        pending.add_run(record, [open_target(target).key])
    report = sheetlog.flush(target, journal_dir=journal)
    if not report.ok or sum(report.delivered.values()) != len(records):
        raise RuntimeError(f"sheetlog pre-fill: {report}")


def prefill_openpyxl(path: Path, records: list[dict[str, Any]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Runs"
    header = list(records[0])
    sheet.append(header)
    for record in records:
        sheet.append([record[name] for name in header])
    book.save(path)


def template_row(work: Path) -> dict[str, Any]:
    """The row of one real ``log_run`` (context captured in the working directory): the columns
    every pre-filled run gets. It also warms sheetlog up."""
    data = run_data(999_999)
    return sheetlog.log_run(
        data.params,
        data.metrics,
        name=data.name,
        tags=data.tags,
        target=str(work / "warmup.xlsx"),
        journal_dir=work / "journal",
    )


def mlflow_log_run(data: RunData, experiment_id: str) -> None:
    """One finished run through MLflow's fluent API (tracking URI already set)."""
    import mlflow

    mlflow.start_run(experiment_id=experiment_id, run_name=data.name)
    mlflow.log_params(data.params)
    mlflow.log_metrics(data.metrics)
    mlflow.set_tags(data.tags)
    mlflow.end_run()


def mlflow_run_count(db: Path, experiment_id: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute(
            "SELECT COUNT(*) FROM runs WHERE experiment_id = ?", (experiment_id,)
        ).fetchone()[0]


def fill_mlflow(folder: Path, n: int) -> tuple[Path, str]:
    """A sqlite store with an experiment holding ``n`` runs: the first ones logged through
    MLflow's API, the rest cloned from those rows in SQL with new run ids (logging 10,000 runs
    through the API takes 10+ minutes here, and the rows are the same). Returns the database
    and the experiment id; the tracking URI is left pointing at it."""
    import mlflow

    folder.mkdir(parents=True)
    db = folder / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    experiment_id = mlflow.create_experiment(
        "bench", artifact_location=(folder / "artifacts").as_uri()
    )
    logged = min(n, MLFLOW_API_PREFILL)
    for i in range(logged):
        mlflow_log_run(run_data(i), experiment_id)
    if n > logged:
        _clone_mlflow_runs(db, experiment_id, logged, n)
    if mlflow_run_count(db, experiment_id) != n:
        raise RuntimeError(f"MLflow pre-fill holds {mlflow_run_count(db, experiment_id)}, not {n}")
    return db, experiment_id


def _clone_mlflow_runs(db: Path, experiment_id: str, have: int, want: int) -> None:
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        templates = [
            row[0]
            for row in con.execute(
                "SELECT run_uuid FROM runs WHERE experiment_id = ? ORDER BY start_time",
                (experiment_id,),
            )
        ]
        con.execute("CREATE TEMP TABLE clone_map (old TEXT, new TEXT, name TEXT)")
        con.executemany(
            "INSERT INTO clone_map VALUES (?, ?, ?)",
            [
                (templates[i % len(templates)], uuid.uuid4().hex, run_data(i).name)
                for i in range(have, want)
            ],
        )
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        tables = [row[0] for row in con.execute(query)]
        for table in tables:
            columns = [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
            if "run_uuid" not in columns:
                continue
            chosen = []
            for column in columns:
                if column == "run_uuid":
                    chosen.append("m.new")
                elif table == "runs" and column == "name":
                    chosen.append("m.name")
                elif table == "runs" and column == "artifact_uri":
                    chosen.append("replace(t.artifact_uri, m.old, m.new)")
                elif table == "tags" and column == "value":
                    chosen.append("CASE WHEN t.key = 'mlflow.runName' THEN m.name ELSE t.value END")
                else:
                    chosen.append(f"t.{column}")
            con.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(chosen)}"
                f" FROM {table} t JOIN clone_map m ON t.run_uuid = m.old"
            )


def make_git_project(folder: Path) -> Path:
    """A small, clean git repository to run in: context capture then records a commit, as it
    would in a user's project (an uncommitted diff would add a patch file per run)."""
    folder.mkdir(parents=True)
    (folder / "train.py").write_text("print('training')\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
        subprocess.run([*git, "add", "."], cwd=folder, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "start"], cwd=folder, check=True)
    return folder


# -- measuring and reporting ------------------------------------------------------------------


def p90(samples: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    return percentile(samples, 90)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank ``q``-th percentile (``q`` in 0..100)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def machine() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = f"{int(first.split()[1]) / 2**20:.1f} GiB"
    repo = Path(__file__).resolve().parent.parent
    commit = _git(repo, "rev-parse", "--short", "HEAD")
    dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tmp_filesystem": _filesystem(Path(tempfile.gettempdir())),
        "sheetlog_commit": f"{commit}{' (modified)' if dirty else ''}" if commit else None,
        "packages": {
            name: version(name)
            for name in (
                "sheetlog",
                "openpyxl",
                "mlflow",
                "SQLAlchemy",
                "filelock",
                "python-calamine",
                "GitPython",
                "pandas",
                "wandb",
            )
        },
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "sqlite": sqlite3.sqlite_version,
    }


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _filesystem(path: Path) -> str | None:
    best = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            longer = best is None or len(mount) > len(best[0])
            if str(path.resolve()).startswith(mount) and longer:
                best = (mount, kind, device)
    return f"{best[1]} ({best[0]})" if best else None


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def quiet_mlflow() -> None:
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")


def parse_sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
