"""Forked and spawned children of a training script never end, write or duplicate its run.

Each test runs a real training script in a child process: the script starts a run and forks
workers (``multiprocessing`` with fork, forkserver and spawn, ``ProcessPoolExecutor``,
``os.fork``, a PyTorch ``DataLoader`` with two workers), which are ended the way their pools end
them (``Pool.__exit__`` sends SIGTERM). The workbook is read back with ``sheetlog.load`` and the
journal with SQLite: one row per run, with the status it ended with.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import sheetlog

TIMEOUT_S = 120

HEADER = """
import multiprocessing, os, signal, sys, time, warnings
import sheetlog
TARGET, JOURNAL = sys.argv[1], sys.argv[2]
WHERE = dict(target=TARGET, journal_dir=JOURNAL, capture=False)

def square(x):
    return x * x
"""


def run_script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "train.py"
    script.write_text(HEADER + textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runs.xlsx"), str(tmp_path / ".sheetlog")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    return done


def rows(tmp_path: Path) -> pd.DataFrame:
    return sheetlog.load(tmp_path / "runs.xlsx")


def journaled_runs(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / ".sheetlog" / "journal.db") as conn:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def assert_one_finished_run(tmp_path: Path, name: str = "parent") -> pd.Series:
    frame = rows(tmp_path)
    assert frame[["name", "status"]].values.tolist() == [[name, "FINISHED"]]
    assert journaled_runs(tmp_path) == 1
    return frame.iloc[0]


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_a_pool_inside_a_run_leaves_one_finished_row(tmp_path: Path, method: str) -> None:
    """Pool.__exit__ terminates its workers with SIGTERM: forked workers inherited the run and
    sheetlog's SIGTERM handler, and used to write it KILLED beside the parent's FINISHED row."""
    run_script(
        tmp_path,
        f"""
        if __name__ == "__main__":
            with sheetlog.start_run({{"lr": 0.1}}, name="parent", **WHERE) as run:
                with multiprocessing.get_context({method!r}).Pool(2) as pool:
                    total = sum(pool.map(square, range(100)))
                run.log_metrics({{"total": total}})
        """,
    )
    row = assert_one_finished_run(tmp_path)
    assert row["metrics.total"] == sum(x * x for x in range(100))


def test_a_process_pool_executor_inside_a_run_leaves_one_finished_row(tmp_path: Path) -> None:
    run_script(
        tmp_path,
        """
        from concurrent.futures import ProcessPoolExecutor
        if __name__ == "__main__":
            with sheetlog.start_run(name="parent", **WHERE) as run:
                for method in ("fork", "forkserver", "spawn"):
                    context = multiprocessing.get_context(method)
                    with ProcessPoolExecutor(2, mp_context=context) as pool:
                        run.log_metrics({method: sum(pool.map(square, range(10)))})
        """,
    )
    row = assert_one_finished_run(tmp_path)
    assert [row[f"metrics.{m}"] for m in ("fork", "forkserver", "spawn")] == [285] * 3


def test_a_forked_worker_killed_by_sigterm_dies_of_it_without_writing(tmp_path: Path) -> None:
    run_script(
        tmp_path,
        """
        with sheetlog.start_run(name="parent", **WHERE) as run:
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            run.log_metrics({"child_signal": os.WTERMSIG(status)})
        """,
    )
    row = assert_one_finished_run(tmp_path)
    assert row["metrics.child_signal"] == signal_number("SIGTERM")


def signal_number(name: str) -> int:
    import signal

    return int(getattr(signal, name))


def test_a_forked_child_leaving_the_with_block_does_not_end_the_parents_run(
    tmp_path: Path,
) -> None:
    """os.fork, then sys.exit in the child: SystemExit unwinds the parent's `with` block and the
    child's atexit runs, in the child, which must end nothing of its parent's; a run the child
    starts itself is its own row."""
    run_script(
        tmp_path,
        """
        with sheetlog.start_run({"lr": 0.1}, name="parent", **WHERE) as run:
            run.log_metrics({"loss": 0.5})
            pid = os.fork()
            if pid == 0:
                with sheetlog.start_run(name="child", **WHERE) as own:
                    own.log_metrics({"loss": 0.25})
                sys.exit(0)
            assert os.waitpid(pid, 0)[1] == 0
        """,
    )
    frame = rows(tmp_path).sort_values("name")
    assert frame[["name", "status", "metrics.loss"]].values.tolist() == [
        ["child", "FINISHED", 0.25],
        ["parent", "FINISHED", 0.5],
    ]
    assert journaled_runs(tmp_path) == 2


def test_what_a_forked_child_logs_to_its_parents_run_is_not_recorded_and_it_says_so(
    tmp_path: Path,
) -> None:
    """The child's copy of the run is inert: its log calls and finish() warn and change nothing;
    the parent's unsaved history, inherited by the child, is saved once (by the parent)."""
    done = run_script(
        tmp_path,
        """
        with sheetlog.start_run(name="parent", **WHERE) as run:
            for step in range(100):
                run.log_metric("loss", 1.0, step=step)
            pid = os.fork()
            if pid == 0:
                for step in range(5000):  # more than a block: would be saved in the child
                    run.log_metric("loss", 2.0, step=step)
                run.log_params({"from_child": 1})
                run.finish("FAILED", error="from the child")
                os._exit(0)
            assert os.waitpid(pid, 0)[1] == 0
            for step in range(100, 110):
                run.log_metric("loss", 1.0, step=step)
        print(run.run_id)
        """,
    )
    assert done.stderr.count("is not recorded") == 1, done.stderr
    row = assert_one_finished_run(tmp_path)
    assert "params.from_child" not in row.index
    run_id = done.stdout.split()[-1]
    history = sheetlog.load_history(run_id, "loss", journal_dir=tmp_path / ".sheetlog")
    assert history["step"].tolist() == list(range(110))
    assert set(history["value"]) == {1.0}


def test_a_top_level_run_re_executed_by_spawned_workers_is_not_logged_by_them(
    tmp_path: Path,
) -> None:
    """spawn and forkserver import the main script again in every worker: a start_run() at its
    top level starts a run there too, which used to be written FINISHED at the worker's exit."""
    done = run_script(
        tmp_path,
        """
        run = sheetlog.start_run(name="parent", **WHERE)
        if __name__ == "__main__":
            for method in ("spawn", "forkserver"):
                with multiprocessing.get_context(method).Pool(2) as pool:
                    pool.map(square, range(4))
            run.finish()
        """,
    )
    assert_one_finished_run(tmp_path)
    assert 'under `if __name__ == "__main__":`' in done.stderr


@pytest.mark.frameworks
@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed (pip install -e '.[frameworks]')",
)
def test_a_torch_dataloader_with_two_workers_leaves_one_finished_row(tmp_path: Path) -> None:
    run_script(
        tmp_path,
        """
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        if __name__ == "__main__":
            data = TensorDataset(torch.arange(64, dtype=torch.float32))
            with sheetlog.start_run({"batch_size": 8}, name="parent", **WHERE) as run:
                for epoch in range(2):
                    loader = DataLoader(data, batch_size=8, num_workers=2)
                    total = sum(float(batch[0].sum()) for batch in loader)
                    run.log_metrics({"total": total}, step=epoch)
        """,
    )
    row = assert_one_finished_run(tmp_path)
    assert row["metrics.total"] == sum(range(64))


def test_pools_terminated_as_soon_as_they_start_never_hang_the_trainer(tmp_path: Path) -> None:
    """Pool.terminate right after the workers were forked: a SIGTERM that reached a worker
    before its Python handlers were reset was lost (CPython drops signals that arrive during the
    fork), the worker lived on and the parent hung joining it. Fatal signals are now held
    across the fork."""
    run_script(
        tmp_path,
        """
        if __name__ == "__main__":
            with sheetlog.start_run(name="parent", **WHERE) as run:
                for _ in range(50):
                    pool = multiprocessing.get_context("fork").Pool(4)
                    pool.terminate()
                    pool.join()
        """,
    )
    assert_one_finished_run(tmp_path)
