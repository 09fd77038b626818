"""Workbook size: the same runs written by sheetlog and by openpyxl.

sheetlog stores the runs sheet as independently compressed chunks (so that appends touch only
the ends of it); this checks what that costs in file size. For each size N, the same N runs (the
rows of ``append_per_run.py``) are written (a) by sheetlog: N - 50 runs in one group write, then
50 single appends (the chunk layout of a workbook that grew run by run at its end), and (b) by
openpyxl: one ``Workbook`` with the N rows, saved once. Target (issue 5): sheetlog's file at most
1.5x openpyxl's. Results go to ``benchmarks/results/file_size.json``.

    python benchmarks/file_size.py                 # 1,000, 10,000 and 100,000 runs (~3 min)
    python benchmarks/file_size.py --sizes 1000
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import (
    RESULTS,
    machine,
    make_git_project,
    parse_sizes,
    prefill_openpyxl,
    prefill_records,
    template_row,
)

from sheetlog.backends.excel.backend import ExcelBackend

SINGLE_APPENDS = 50
TARGET = 1.5


def sheetlog_file(path: Path, records: list[dict]) -> int:
    backend = ExcelBackend(path)
    with backend.lock():
        backend.write(records[:-SINGLE_APPENDS])
        for record in records[-SINGLE_APPENDS:]:
            backend.write([record])
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[1_000, 10_000, 100_000])
    parser.add_argument("--output", type=Path, default=RESULTS / "file_size.json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        template = template_row(make_git_project(work / "project"))
        for size in args.sizes:
            records = prefill_records(size, template)
            ours = sheetlog_file(work / f"sheetlog-{size}.xlsx", records)
            prefill_openpyxl(work / f"openpyxl-{size}.xlsx", records)
            theirs = (work / f"openpyxl-{size}.xlsx").stat().st_size
            results[size] = {"sheetlog_bytes": ours, "openpyxl_bytes": theirs,
                             "ratio": round(ours / theirs, 3)}  # fmt: skip
            print(f"{size:>7,} runs: sheetlog {ours:>12,} B  openpyxl {theirs:>12,} B"
                  f"  ratio {ours / theirs:.2f} (target <= {TARGET})", flush=True)  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
