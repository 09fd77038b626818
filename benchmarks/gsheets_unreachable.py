"""What an unreachable Google Sheet costs a training script (issue 10, item 9).

A real closed port (bound on loopback, never listening: every connection is refused), default
retry settings, and one fresh interpreter per training script: each logs one run with
``log_run`` and reports how long that call took (``import sheetlog`` is timed apart: a script
pays it whatever its target). The first script finds the sheet unreachable and records the
back-off; the later ones skip it. Then the endpoint comes back (a fake Sheets server) and one
``sheetlog.flush()`` delivers every run. Also: a server that accepts and never answers, with the
default timeouts (``--silent``, takes about a minute).

    python benchmarks/gsheets_unreachable.py [--scripts 5] [--silent]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHILD = r"""
import json, sys, time, warnings
started = time.monotonic()
import sheetlog
import sheetlog.api  # what the first sheetlog.log_run would import
imported = time.monotonic() - started
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    started = time.monotonic()
    sheetlog.log_run({"lr": 0.1}, {"acc": 0.5}, target=sys.argv[1], capture=False)
    logged = time.monotonic() - started
print(json.dumps({"import_s": imported, "log_run_s": logged,
                  "warning": [str(w.message) for w in caught][:1]}))
"""


def run_script(target: str, endpoint: str, folder: Path) -> dict:
    env = {**os.environ, "SHEETLOG_GSHEETS_ENDPOINT": endpoint}
    for name in ("SHEETLOG_GSHEETS_MAX_WAIT_S", "SHEETLOG_GSHEETS_BACKOFF_S", "SHEETLOG_DIR"):
        env.pop(name, None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, target], cwd=folder, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return {
        **json.loads(done.stdout.strip().splitlines()[-1]),
        "process_s": time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=5)
    parser.add_argument("--silent", action="store_true", help="also a server that never answers")
    args = parser.parse_args()

    from sheetlog.testing import FakeSheetsServer

    with FakeSheetsServer(quota_reads=None, quota_writes=None) as fake, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
        key = fake.create_spreadsheet("team runs")
        target = f"gsheet://{key}/Runs"
        folder = Path(tempfile.mkdtemp(prefix="sheetlog-unreachable-"))
        print(f"endpoint {down} refuses connections; {args.scripts} scripts, one run each")
        for k in range(args.scripts):
            result = run_script(target, down, folder)
            print(
                f"  script {k + 1}: log_run {result['log_run_s'] * 1000:7.1f} ms"
                f"  (import sheetlog {result['import_s'] * 1000:.0f} ms,"
                f" whole process {result['process_s']:.2f} s)"
                f"  {result['warning'][0][:150] if result['warning'] else ''}"
            )
        os.environ["SHEETLOG_GSHEETS_ENDPOINT"] = fake.base_url
        import sheetlog

        started = time.monotonic()
        report = sheetlog.flush(journal_dir=folder / ".sheetlog")
        print(
            f"endpoint back: flush delivered {sum(report.delivered.values())} runs in"
            f" {time.monotonic() - started:.2f} s; rows in the sheet:"
            f" {len(fake.values(key, 'Runs')) - 1}"
        )

        if args.silent:
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            accepted: list[socket.socket] = []
            threading.Thread(
                target=lambda: [accepted.append(listener.accept()[0]) for _ in range(16)],
                daemon=True,
            ).start()
            silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
            folder = Path(tempfile.mkdtemp(prefix="sheetlog-silent-"))
            print(f"endpoint {silent} accepts and never answers (default timeouts)")
            for k in range(2):
                result = run_script(target, silent, folder)
                print(
                    f"  script {k + 1}: log_run {result['log_run_s']:.2f} s,"
                    f" {len(accepted)} connections so far"
                    f"  {result['warning'][0][:150] if result['warning'] else ''}"
                )


if __name__ == "__main__":
    main()
