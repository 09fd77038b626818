"""Per-step cost of logging metrics in a training loop: sheetlog vs MLflow vs W&B (offline).

One process holds one open run per contender and calls, step after step,

* ``sheetlog``: ``run.log_metrics({10 metrics}, step=i)`` (200,000 calls);
* ``mlflow``: ``mlflow.log_metrics({10 metrics}, step=i)``, sqlite store (2,000 calls: it is slow);
* ``wandb``: ``wandb.log({10 metrics}, step=i)`` with ``WANDB_MODE=offline`` (10,000 calls), when
  wandb is installed.

The calls are interleaved in rounds (each contender logs a slice of its steps in turn, the first
contender rotating). Two figures per contender: the typical cost, timed over batches of calls with
``perf_counter_ns`` (timer overhead shared out) and reported as median and p90 of µs/call over
the batches; and the tail, every call timed on its own (p99, p99.9, max, calls over 1 ms), which is
where a call that waits on disk or network would show.

Memory: a fresh child process logs 1,000,000 steps through one sheetlog run and reports how its
resident set (VmRSS in /proc/self/status) grew, sampled every 100,000 steps.

Results go to ``benchmarks/results/training_loop.json`` (git-ignored). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import RESULTS, machine, percentile, quiet_mlflow

import sheetlog

N_METRICS = 10
BATCH = 100  # calls per timed batch (typical cost)
ROUNDS = 10
TARGET_MEDIAN_US = 20.0
TARGET_RSS_MB = 50.0


def metric_dicts(count: int = 1_000) -> list[dict[str, float]]:
    """Distinct metric dicts to cycle through (values change every step, as in training)."""
    return [
        {f"metric_{j}": 1.0 / (1 + i + j) + j * 0.001 for j in range(N_METRICS)}
        for i in range(count)
    ]


class Contender:
    """One open run; ``log(i)`` logs the metrics of step ``i``."""

    def __init__(self, label: str, log: Callable[[dict[str, float], int], Any], steps: int):
        self.label, self.log, self.steps = label, log, steps
        self.done = 0
        self.batch_us: list[float] = []  # µs per call, one entry per batch
        self.single_us: list[float] = []  # µs of each call timed alone
        self.batch = min(BATCH, max(1, steps // 200))
        self.run: Any = None  # sheetlog's run, finished at the end

    def timed_slice(self, count: int, values: list[dict[str, float]]) -> None:
        """``count`` calls in batches, then ``count`` calls each timed alone."""
        log, clock, size = self.log, time.perf_counter_ns, len(values)
        batch = self.batch
        step = self.done
        for _ in range(count // batch):
            started = clock()
            for i in range(step, step + batch):
                log(values[i % size], i)
            self.batch_us.append((clock() - started) / 1000 / batch)
            step += batch
        single = self.single_us
        for i in range(step, step + count):
            started = clock()
            log(values[i % size], i)
            single.append((clock() - started) / 1000)
        self.done = step + count

    def summary(self) -> dict[str, Any]:
        tail = self.single_us
        return {
            "calls": self.done,
            "batch_calls": self.batch,
            "median_us": round(statistics.median(self.batch_us), 3),
            "p90_us": round(percentile(self.batch_us, 90), 3),
            "single_median_us": round(statistics.median(tail), 3),
            "p99_us": round(percentile(tail, 99), 1),
            "p99_9_us": round(percentile(tail, 99.9), 1),
            "max_us": round(max(tail), 1),
            "calls_over_1ms": sum(1 for x in tail if x > 1000),
            "single_calls": len(tail),
        }


def timer_overhead_ns() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        started = clock()
        samples.append(clock() - started)
    return statistics.median(samples)


def contenders(work: Path, steps: dict[str, int], skip: set[str]) -> list[Contender]:
    run = sheetlog.start_run(
        name="training-loop",
        target=str(work / "runs.xlsx"),
        journal_dir=work / "journal",
        capture=False,
    )
    found = [Contender("sheetlog", lambda m, i: run.log_metrics(m, step=i), steps["sheetlog"])]
    found[0].run = run
    if "mlflow" not in skip:
        import mlflow

        quiet_mlflow()
        mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
        experiment = mlflow.create_experiment(
            "loop", artifact_location=(work / "artifacts").as_uri()
        )
        mlflow.start_run(experiment_id=experiment)
        found.append(
            Contender("mlflow", lambda m, i: mlflow.log_metrics(m, step=i), steps["mlflow"])
        )
    if "wandb" not in skip:
        try:
            import wandb
        except ImportError:
            print("wandb is not installed: skipped")
        else:
            os.environ["WANDB_MODE"] = "offline"
            os.environ["WANDB_SILENT"] = "true"
            wandb.init(project="loop", dir=str(work))
            found.append(Contender("wandb", lambda m, i: wandb.log(m, step=i), steps["wandb"]))
    return found


def close(found: list[Contender]) -> None:
    found[0].run.finish()
    labels = {c.label for c in found}
    if "mlflow" in labels:
        import mlflow

        mlflow.end_run()
    if "wandb" in labels:
        import wandb

        wandb.finish()


def compare(steps: dict[str, int], skip: set[str], tmpdir: str | None) -> dict[str, Any]:
    values = metric_dicts()
    with tempfile.TemporaryDirectory(prefix="sheetlog-loop-", dir=tmpdir) as name:
        work = Path(name)
        found = contenders(work, steps, skip)
        try:
            for contender in found:  # warm-up: first calls build caches, open connections
                contender.log(values[0], -1)
            print(f"timing {[(c.label, c.steps) for c in found]} in {ROUNDS} rounds", flush=True)
            for round_number in range(ROUNDS):
                shift = round_number % len(found)
                for contender in found[shift:] + found[:shift]:
                    gc.collect()
                    contender.timed_slice(contender.steps // ROUNDS // 2, values)
        finally:
            close(found)
        return {c.label: c.summary() for c in found}


# -- memory: a fresh process logging 1,000,000 steps ----------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def memory_child(work: Path, steps: int) -> dict[str, Any]:
    values = metric_dicts()
    run = sheetlog.start_run(
        name="memory", target=str(work / "runs.xlsx"), journal_dir=work / "journal", capture=False
    )
    for i in range(1_000):  # warm-up: the history buffer fills and is saved once
        run.log_metrics(values[i], step=i)
    gc.collect()
    before = rss_mb()
    samples = []
    started = time.perf_counter()
    every = max(1, steps // 10)
    for i in range(steps):
        run.log_metrics(values[i % 1_000], step=i)
        if (i + 1) % every == 0:
            samples.append({"steps": i + 1, "rss_mb": round(rss_mb(), 1)})
    elapsed = time.perf_counter() - started
    after = rss_mb()
    journal = sum(p.stat().st_size for p in (work / "journal").glob("*") if p.is_file())
    result = {
        "steps": steps,
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "rss_growth_mb": round(after - before, 1),
        "rss_max_growth_mb": round(max(s["rss_mb"] for s in samples) - before, 1),
        "samples": samples,
        "seconds": round(elapsed, 1),
        "us_per_step_overall": round(elapsed / steps * 1e6, 2),
        "journal_bytes": journal,
    }
    run.finish()
    return result


def measure_memory(steps: int, tmpdir: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sheetlog-loop-mem-", dir=tmpdir) as name:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", name, "--memory-steps", str(steps)],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer calls and steps")
    parser.add_argument("--skip", default="", help="contenders left out: mlflow, wandb, memory")
    parser.add_argument("--memory-steps", type=int, default=None)
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(Path(args.memory_child), args.memory_steps)))
        return 0
    scale = 10 if args.quick else 1
    steps = {"sheetlog": 200_000 // scale, "mlflow": 2_000 // scale, "wandb": 10_000 // scale}
    memory_steps = args.memory_steps or 1_000_000 // scale
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    RESULTS.mkdir(exist_ok=True)
    info = machine()
    print("machine:", json.dumps(info))
    overhead = timer_overhead_ns()
    results = compare(steps, skip, args.tmpdir)
    print(f"\nµs per log_metrics call (10 metrics); timer overhead {overhead:.0f} ns per reading")
    print(
        f"{'':<9} | {'calls':>7} | {'median':>7} | {'p90':>7} | {'p99':>7} | {'p99.9':>8}"
        f" | {'max':>9} | {'>1 ms':>5} | {'x sheetlog':>10}"
    )
    base = results["sheetlog"]["median_us"]
    for label, r in results.items():
        print(
            f"{label:<9} | {r['calls']:>7,} | {r['median_us']:>7.2f} | {r['p90_us']:>7.2f}"
            f" | {r['p99_us']:>7.1f} | {r['p99_9_us']:>8.1f} | {r['max_us']:>9.1f}"
            f" | {r['calls_over_1ms']:>5} | {r['median_us'] / base:>9.1f}x"
        )
    verdict: dict[str, Any] = {
        "sheetlog_median_us": base,
        "median_at_most_20us": base <= TARGET_MEDIAN_US,
    }
    for label in ("mlflow", "wandb"):
        if label in results:
            verdict[f"{label}_over_sheetlog"] = round(results[label]["median_us"] / base, 1)
    memory = None
    if "memory" not in skip:
        print(f"\nmemory: {memory_steps:,} steps in a fresh process ...", flush=True)
        memory = measure_memory(memory_steps, args.tmpdir)
        print(
            f"RSS {memory['rss_before_mb']} -> {memory['rss_after_mb']} MB"
            f" (growth {memory['rss_growth_mb']} MB, at most {memory['rss_max_growth_mb']} MB);"
            f" {memory['seconds']} s, journal {memory['journal_bytes'] / 1e6:.0f} MB"
        )
        verdict["rss_growth_mb"] = memory["rss_max_growth_mb"]
        verdict["rss_growth_under_50mb"] = memory["rss_max_growth_mb"] < TARGET_RSS_MB
    print("targets:", json.dumps(verdict))
    output = {
        "machine": info,
        "settings": {"steps": steps, "metrics": N_METRICS, "rounds": ROUNDS, "quick": args.quick},
        "timer_overhead_ns": overhead,
        "results": results,
        "memory": memory,
        "targets": verdict,
    }
    destination = args.output or RESULTS / "training_loop.json"
    destination.write_text(json.dumps(output, indent=2) + "\n")
    print(f"written: {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
