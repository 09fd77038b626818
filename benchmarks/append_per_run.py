"""Per-run append time: sheetlog vs openpyxl (load + append + save) vs MLflow (sqlite store).

For each size N (default 100, 1,000 and 10,000 runs already logged) the three contenders get the
same data, in one process, each in its own temporary directory:

* ``sheetlog``: ``sheetlog.log_run(...)`` into a workbook that sheetlog itself pre-filled with N
  runs; context capture on (the default a user gets), and separately ``capture=False``.
* ``openpyxl``: under a ``filelock``, ``load_workbook`` + ``ws.append(row)`` + ``save`` per run, on
  a workbook with the same N rows and columns.
* ``mlflow``: ``start_run`` + ``log_params`` + ``log_metrics`` + ``set_tags`` + ``end_run`` per run,
  sqlite tracking store, into an experiment already holding N runs.

A run is 20 params, 10 metrics, 3 tags, plus name, status and times. Appends are interleaved
round-robin (one run per contender in turn, the starting contender rotating) so that drift of the
machine hits every contender alike; ``gc.collect()`` runs before each timed call, outside the
timing. Per contender and size it reports the median and p90 over k appended runs.

``--profile`` instead breaks sheetlog's append down into phases (zip read, regex scans, compress,
journal, context capture, fsync, ...) at 1,000 and 10,000 rows, and writes a cProfile listing.

Results go to ``benchmarks/results/`` (git-ignored) as JSON. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import importlib
import io
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from _common import (
    MLFLOW_API_PREFILL,
    N_METRICS,
    N_PARAMS,
    RESULTS,
    RunData,
    as_record,
    fill_mlflow,
    machine,
    make_git_project,
    mlflow_log_run,
    mlflow_run_count,
    p90,
    parse_sizes,
    prefill_openpyxl,
    prefill_records,
    prefill_sheetlog,
    quiet_mlflow,
    run_data,
    working_directory,
)
from filelock import FileLock

import sheetlog
from sheetlog.errors import SheetlogWarning

# -- contenders -------------------------------------------------------------------------------


class Contender:
    """One way of logging runs, set up for one size N; ``append`` logs one run."""

    label = ""

    def append(self, data: RunData) -> None:
        raise NotImplementedError

    def count(self) -> int:
        """Runs stored now (checked after timing: a benchmark of a no-op would be worthless)."""
        raise NotImplementedError

    def size_bytes(self) -> int:
        return 0


class SheetlogContender(Contender):
    def __init__(self, path: Path, journal: Path, capture: bool) -> None:
        self.path, self.journal, self.capture = path, journal, capture
        self.label = "sheetlog" if capture else "sheetlog_nocapture"

    def append(self, data: RunData) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SheetlogWarning)
            sheetlog.log_run(
                data.params,
                data.metrics,
                name=data.name,
                tags=data.tags,
                target=str(self.path),
                capture=self.capture,
                journal_dir=self.journal,
            )
        problems = [w for w in caught if issubclass(w.category, SheetlogWarning)]
        if problems:  # a row left pending would make the timing meaningless
            raise RuntimeError(f"sheetlog did not write the row: {problems[0].message}")

    def count(self) -> int:
        return len(sheetlog.load(str(self.path)))

    def size_bytes(self) -> int:
        return self.path.stat().st_size


class OpenpyxlContender(Contender):
    label = "openpyxl"

    def __init__(self, path: Path, context: dict[str, Any]) -> None:
        self.path, self.context = path, context
        self.lock = FileLock(str(path.with_name(path.name + ".lock")))

    def append(self, data: RunData) -> None:
        start = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        record = as_record(data, self.context, start)
        with self.lock:
            book = openpyxl.load_workbook(self.path)
            sheet = book.active
            header = [cell.value for cell in sheet[1]]
            sheet.append([record.get(name) for name in header])
            book.save(self.path)

    def count(self) -> int:
        book = openpyxl.load_workbook(self.path, read_only=True)
        try:
            return book.active.max_row - 1
        finally:
            book.close()

    def size_bytes(self) -> int:
        return self.path.stat().st_size


class MlflowContender(Contender):
    label = "mlflow"

    def __init__(self, db: Path, experiment_id: str) -> None:
        self.db, self.experiment_id = db, experiment_id
        self.uri = f"sqlite:///{db}"

    def activate(self) -> None:
        import mlflow

        mlflow.set_tracking_uri(self.uri)

    def append(self, data: RunData) -> None:
        mlflow_log_run(data, self.experiment_id)

    def count(self) -> int:
        return mlflow_run_count(self.db, self.experiment_id)

    def size_bytes(self) -> int:
        return self.db.stat().st_size


# -- setting up N runs -------------------------------------------------------------------------


def prefill_mlflow(folder: Path, n: int) -> MlflowContender:
    """An experiment holding ``n`` runs (see ``_common.fill_mlflow``)."""
    return MlflowContender(*fill_mlflow(folder, n))


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    samples_ms: list[float] = field(default_factory=list)
    runs_before: int = 0
    runs_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "median_ms": round(statistics.median(self.samples_ms), 2),
            "p90_ms": round(p90(self.samples_ms), 2),
            "mean_ms": round(statistics.fmean(self.samples_ms), 2),
            "min_ms": round(min(self.samples_ms), 2),
            "k": len(self.samples_ms),
            "runs_before": self.runs_before,
            "runs_after": self.runs_after,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "samples_ms": [round(x, 2) for x in self.samples_ms],
        }


def runs_per_contender(n: int, quick: bool) -> dict[str, int]:
    if quick:
        return {"sheetlog": 10, "sheetlog_nocapture": 10, "openpyxl": 5, "mlflow": 10}
    sheetlog_k = 50 if n <= 1_000 else 30
    return {
        "sheetlog": sheetlog_k,
        "sheetlog_nocapture": sheetlog_k,
        "openpyxl": 20 if n <= 1_000 else 10,
        "mlflow": 50,
    }


def measure_size(
    n: int,
    work: Path,
    template: dict[str, Any],
    journals: dict[str, Path],
    quick: bool,
    skip: set[str],
) -> dict[str, Series]:
    folder = work / f"n{n}"
    folder.mkdir()
    print(f"\n== {n:,} runs already logged: setting up", flush=True)
    records = prefill_records(n, template)
    started = time.perf_counter()
    prefill_sheetlog(folder / "sheetlog.xlsx", records, folder / "prefill-journal")
    shutil.copyfile(folder / "sheetlog.xlsx", folder / "sheetlog_nocapture.xlsx")
    print(f"   sheetlog pre-fill: {time.perf_counter() - started:.1f} s", flush=True)
    contenders: list[Contender] = [
        SheetlogContender(folder / "sheetlog.xlsx", journals["sheetlog"], capture=True),
        SheetlogContender(folder / "sheetlog_nocapture.xlsx", journals["nocapture"], capture=False),
    ]
    if "openpyxl" not in skip:
        started = time.perf_counter()
        logged = ("params.", "metrics.", "tags.")
        context = {k: v for k, v in template.items() if not k.startswith(logged)}
        prefill_openpyxl(folder / "openpyxl.xlsx", records)
        contenders.append(OpenpyxlContender(folder / "openpyxl.xlsx", context))
        print(f"   openpyxl pre-fill: {time.perf_counter() - started:.1f} s", flush=True)
    if "mlflow" not in skip:
        started = time.perf_counter()
        mlflow_contender = prefill_mlflow(folder / "mlflow", n)
        contenders.append(mlflow_contender)
        print(f"   mlflow pre-fill: {time.perf_counter() - started:.1f} s", flush=True)
        # MLflow's first use of a store (engine, schema checks) takes seconds: warm it up here.
        mlflow_contender.activate()
        for i in range(2):
            mlflow_contender.append(run_data(10_000_000 + i))
    wanted = runs_per_contender(n, quick)
    series = {c.label: Series(c.label) for c in contenders}
    for contender in contenders:
        series[contender.label].runs_before = contender.count()
        series[contender.label].bytes_before = contender.size_bytes()
    print(f"   timing: {wanted}", flush=True)
    for round_number in range(max(wanted.values())):
        shift = round_number % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            if round_number >= wanted[contender.label]:
                continue
            data = run_data(1_000_000 + round_number)
            gc.collect()
            started = time.perf_counter()
            contender.append(data)
            series[contender.label].samples_ms.append((time.perf_counter() - started) * 1000)
    for contender in contenders:
        entry = series[contender.label]
        entry.runs_after = contender.count()
        entry.bytes_after = contender.size_bytes()
        if entry.runs_after != entry.runs_before + len(entry.samples_ms):
            raise RuntimeError(
                f"{contender.label}: {entry.runs_after} runs after timing, expected"
                f" {entry.runs_before} + {len(entry.samples_ms)}"
            )
        print(
            f"   {contender.label:<19} median {statistics.median(entry.samples_ms):9.1f} ms"
            f"   p90 {p90(entry.samples_ms):9.1f} ms   (k={len(entry.samples_ms)})",
            flush=True,
        )
    return series


def sheetlog_template(work: Path, journals: dict[str, Path]) -> dict[str, Any]:
    """One real ``log_run`` with context capture: its row gives the columns every run has. It
    also warms sheetlog up (imports, journal connections) for both journals."""
    data = run_data(999_999)
    template = sheetlog.log_run(
        data.params,
        data.metrics,
        name=data.name,
        tags=data.tags,
        target=str(work / "warmup.xlsx"),
        journal_dir=journals["sheetlog"],
    )
    sheetlog.log_run(
        data.params,
        data.metrics,
        target=str(work / "warmup.xlsx"),
        capture=False,
        journal_dir=journals["nocapture"],
    )
    return template


# -- reporting ---------------------------------------------------------------------------------


def print_table(results: dict[int, dict[str, dict[str, Any]]]) -> list[str]:
    lines = [
        "ms per appended run, median (p90)",
        f"{'runs':>7} | {'sheetlog':>17} | {'sheetlog, capture=False':>23} | {'openpyxl':>19} |"
        f" {'mlflow':>17} | {'openpyxl/sheetlog':>17} | {'mlflow/sheetlog':>15}",
    ]
    lines.append("-" * len(lines[1]))
    for n, row in results.items():

        def cell(label: str, width: int, row: dict[str, dict[str, Any]] = row) -> str:
            entry = row.get(label)
            text = f"{entry['median_ms']:.1f} ({entry['p90_ms']:.1f})" if entry else "-"
            return text.rjust(width)

        def ratio(label: str, width: int, digits: int, row: dict = row) -> str:
            if label not in row:
                return "-".rjust(width + 1)
            value = row[label]["median_ms"] / row["sheetlog"]["median_ms"]
            return f"{value:>{width}.{digits}f}x"

        lines.append(
            f"{n:>7,} | {cell('sheetlog', 17)} | {cell('sheetlog_nocapture', 23)} |"
            f" {cell('openpyxl', 19)} | {cell('mlflow', 17)} |"
            f" {ratio('openpyxl', 16, 1)} | {ratio('mlflow', 14, 2)}"
        )
    for line in lines:
        print(line)
    return lines


def targets(results: dict[int, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The issue's targets: >= 20x faster than openpyxl at 10,000 rows, no slower than MLflow at
    1,000 rows (medians)."""
    verdict: dict[str, Any] = {}
    if "openpyxl" in results.get(10_000, {}):
        ratio = results[10_000]["openpyxl"]["median_ms"] / results[10_000]["sheetlog"]["median_ms"]
        verdict["openpyxl_over_sheetlog_at_10000"] = round(ratio, 2)
        verdict["at_least_20x_faster_than_openpyxl_at_10000"] = ratio >= 20
    if "mlflow" in results.get(1_000, {}):
        sheet, mlflow_ms = (results[1_000][k]["median_ms"] for k in ("sheetlog", "mlflow"))
        verdict["mlflow_over_sheetlog_at_1000"] = round(mlflow_ms / sheet, 2)
        verdict["no_slower_than_mlflow_at_1000"] = sheet <= mlflow_ms
    return verdict


# -- profiling sheetlog's append ----------------------------------------------------------------

# (module, attribute path, label, depth): inclusive wall time is summed per label. Hooks whose
# target no longer exists are skipped, so the breakdown survives refactoring.
PHASES = [
    ("sheetlog", "log_run", "log_run (total)", 0),
    ("sheetlog.run", "capture_context", "context capture (git, command, host, system)", 1),
    ("sheetlog.journal", "Journal.add_run", "journal: commit the run", 1),
    ("sheetlog.journal", "Journal.add_metric_steps", "journal: metric history", 1),
    ("sheetlog.journal", "Journal.pending", "journal: read pending runs", 1),
    ("sheetlog.journal", "Journal.begin_attempt", "journal: count the attempt", 1),
    ("sheetlog.journal", "Journal.mark_delivered", "journal: mark delivered", 1),
    ("sheetlog.backends.excel.backend", "check_not_open", "excel: office lock-file check", 1),
    ("sheetlog.backends.excel.backend", "FileLock.acquire", "excel: filelock acquire", 1),
    ("sheetlog.backends.excel.backend", "FileLock.release", "excel: filelock release", 1),
    ("sheetlog.backends.excel.backend", "ExcelBackend.write", "excel: write (total)", 1),
    ("sheetlog.backends.excel.backend", "check_workbook_file", "file-type check (zip open)", 2),
    ("sheetlog.backends.excel.package", "Package.__init__", "zip: open, central directory", 2),
    ("sheetlog.backends.excel.package", "Package.read", "zip: read + decompress parts", 2),
    ("sheetlog.backends.excel.backend", "Worksheet.__init__", "sheet: locate rows (regex)", 2),
    ("sheetlog.backends.excel.backend", "_Plan.__init__", "plan: header match, dedupe", 2),
    ("sheetlog.backends.excel.worksheet", "Worksheet.mentions", "run_id substring scan", 3),
    ("sheetlog.backends.excel.worksheet", "Worksheet.column_texts", "run_id column scan", 3),
    ("sheetlog.backends.excel.backend", "_Plan.build", "cells: build row XML", 2),
    ("sheetlog.backends.excel.worksheet", "Worksheet.edits", "sheet: compute XML edits", 2),
    ("sheetlog.backends.excel.worksheet", "Worksheet.patched", "sheet: patch XML", 2),
    ("sheetlog.backends.excel.package", "Package.edit", "sheet part: recompress (total)", 2),
    ("sheetlog.backends.excel.package", "_stored", "read stored chunks / copy parts", 3),
    ("sheetlog.backends.excel.package", "recompress", "deflate touched chunks, CRC", 3),
    ("sheetlog.backends.excel.backend", "grow_tables", "tables", 2),
    ("sheetlog.backends.excel.backend", "ExcelBackend._replace_with", "save (total)", 2),
    ("sheetlog.backends.excel.package", "_compress", "compress whole parts (zlib)", 3),
    ("os", "fsync", "fsync", 3),
    ("os", "replace", "os.replace", 3),
]


class PhaseTimer:
    """Wraps functions to sum their inclusive wall time; ``restore`` undoes it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def hook(self, module_name: str, path: str, label: str) -> bool:
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = getattr(owner, name)
        except (ImportError, AttributeError):
            return False
        inherited = isinstance(owner, type) and name not in owner.__dict__
        seconds, calls = self.seconds, self.calls
        seconds[label], calls[label] = 0.0, 0

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - started
                calls[label] += 1

        setattr(owner, name, timed)
        self._undo.append((owner, name, None if inherited else original))
        return True

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._undo.clear()


def profile_size(
    n: int, k: int, work: Path, template: dict[str, Any], journals: dict[str, Path]
) -> dict[str, Any]:
    folder = work / f"profile{n}"
    folder.mkdir()
    records = prefill_records(n, template)
    path = folder / "sheetlog.xlsx"
    prefill_sheetlog(path, records, folder / "prefill-journal")
    contender = SheetlogContender(path, journals["sheetlog"], capture=True)
    timer = PhaseTimer()
    hooked = [
        (label, depth) for module, attr, label, depth in PHASES if timer.hook(module, attr, label)
    ]
    try:
        for i in range(k):
            contender.append(run_data(2_000_000 + i))
    finally:
        timer.restore()
    total = timer.seconds.get("log_run (total)", 0.0)
    phases = []
    print(f"\n== sheetlog append at {n:,} rows: where the time goes (ms per run, k={k})")
    for label, depth in hooked:
        if not timer.calls[label]:
            continue
        ms = timer.seconds[label] * 1000 / k
        share = 100 * timer.seconds[label] / total if total else 0.0
        phases.append(
            {
                "phase": label,
                "depth": depth,
                "ms_per_run": round(ms, 2),
                "percent": round(share, 1),
                "calls": timer.calls[label],
            }
        )
        print(f"   {'  ' * depth}{label:<{52 - 2 * depth}} {ms:9.2f}  {share:5.1f} %")
    sheet_xml = _sheet_part_size(path)
    outside = total - sum(timer.seconds[label] for label, depth in hooked if depth == 1)
    phases.append(
        {
            "phase": "other (run bookkeeping, delivery glue)",
            "depth": 1,
            "ms_per_run": round(outside * 1000 / k, 2),
            "percent": round(100 * outside / total, 1) if total else 0.0,
        }
    )
    print(
        f"     {'other (run bookkeeping, delivery glue)':<50} {outside * 1000 / k:9.2f}"
        f"  {100 * outside / total if total else 0.0:5.1f} %"
    )
    print(
        f"   worksheet part: {sheet_xml[0] / 1e6:.1f} MB XML, {sheet_xml[1] / 1e6:.2f} MB"
        f" compressed; workbook {path.stat().st_size / 1e6:.2f} MB"
    )
    # cProfile of more appends, for the detail the phases do not show.
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(k):
        contender.append(run_data(3_000_000 + i))
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(30)
    listing = RESULTS / f"append_profile_{n}.txt"
    listing.write_text(text.getvalue())
    print(f"   cProfile listing: {listing}")
    return {
        "runs_before": n,
        "k": k,
        "phases": phases,
        "sheet_xml_bytes": sheet_xml[0],
        "sheet_compressed_bytes": sheet_xml[1],
        "workbook_bytes": path.stat().st_size,
    }


def _sheet_part_size(path: Path) -> tuple[int, int]:
    import zipfile

    with zipfile.ZipFile(path) as package:
        sheets = [i for i in package.infolist() if i.filename.startswith("xl/worksheets/sheet")]
        biggest = max(sheets, key=lambda info: info.file_size)
        return biggest.file_size, biggest.compress_size


# -- main --------------------------------------------------------------------------------------


def run(action: Callable[[Path, dict[str, Path]], dict[str, Any]], tmpdir: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="sheetlog-bench-", dir=tmpdir) as name:
        work = Path(name)
        journals = {"sheetlog": work / "journal", "nocapture": work / "journal-nocapture"}
        project = make_git_project(work / "project")
        with working_directory(project):
            return action(work, journals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        help="runs already logged, comma-separated (default 100,1000,10000; --profile: 1000,10000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 100,1000 and few runs per contender (about a minute)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="break sheetlog's append down into phases instead of comparing",
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="appended runs per size for --profile (default 20)"
    )
    parser.add_argument(
        "--skip",
        default="",
        help="contenders left out, comma-separated: openpyxl, mlflow (to compare sheetlog changes)",
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="JSON file (default: in benchmarks/results/)"
    )
    parser.add_argument("--tmpdir", default=None, help="where the temporary workbooks go")
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    quiet_mlflow()
    info = machine()
    print("machine:", json.dumps(info))

    if args.profile:
        sizes = args.sizes or [1_000, 10_000]
        k = args.runs or (5 if args.quick else 20)

        def profile(work: Path, journals: dict[str, Path]) -> dict[str, Any]:
            template = sheetlog_template(work, journals)
            return {str(n): profile_size(n, k, work, template, journals) for n in sizes}

        output = {"machine": info, "profiles": run(profile, args.tmpdir)}
        destination = RESULTS / "append_profile.json"
    else:
        sizes = args.sizes or ([100, 1_000] if args.quick else [100, 1_000, 10_000])
        skip = {name.strip() for name in args.skip.split(",") if name.strip()}
        import mlflow  # noqa: F401  (imported before the template run: same sys.* columns)

        quiet_mlflow()  # after the import, which sets MLflow's own log levels

        def compare(work: Path, journals: dict[str, Path]) -> dict[str, Any]:
            template = sheetlog_template(work, journals)
            return {
                n: {
                    label: s.summary()
                    for label, s in measure_size(
                        n, work, template, journals, args.quick, skip
                    ).items()
                }
                for n in sizes
            }

        results = run(compare, args.tmpdir)
        print()
        table = print_table(results)
        verdict = targets(results)
        print("targets:", json.dumps(verdict))
        output = {
            "machine": info,
            "settings": {
                "skipped": sorted(skip),
                "sizes": sizes,
                "quick": args.quick,
                "params": N_PARAMS,
                "metrics": N_METRICS,
                "tags": 3,
                "mlflow_runs_logged_through_api": MLFLOW_API_PREFILL,
            },
            "results": {str(n): row for n, row in results.items()},
            "table": table,
            "targets": verdict,
        }
        destination = RESULTS / "append_per_run.json"
    destination = args.output or destination
    destination.write_text(json.dumps(output, indent=2, default=str) + "\n")
    print(f"written: {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
