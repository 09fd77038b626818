"""The query module on its own: the goal of a metric, and select_rows' choice of the best N
against a plain reference over many random tables (missing values, NaN, ties, declarations)."""

from __future__ import annotations

import math
import random

import pytest

import sheetlog
from sheetlog.backends.base import Table
from sheetlog.errors import QueryError
from sheetlog.query import declared_goals, guess_direction, metric_goal, select_rows


@pytest.mark.parametrize(
    ("column", "direction"),
    [
        ("metrics.accuracy", "max"),
        ("metrics.f1", "max"),
        ("metrics.val_loss", "min"),
        ("metrics.wer", "min"),
        ("metrics.eval_wer", "min"),
        ("metrics.fit_time_s", "min"),
        ("metrics.latency_ms", "min"),
        ("metrics.train-mse", "min"),
        ("metrics.perplexity", "min"),
        ("metrics.top1_err", "min"),
        ("metrics.bleu", "max"),
        ("metrics.answer", "max"),  # "s" is a word of its own only: answer is not seconds
        ("metrics.steps", "max"),
    ],
)
def test_the_name_guess(column, direction):
    assert guess_direction(column) == direction


def test_declarations_win_and_bad_cells_are_ignored():
    cells = ['{"cost": "min"}', {"cost": "min"}, "{not json", ["cost"], None, '{"cost": "up"}']
    goal = metric_goal("metrics.cost", cells)
    assert (goal.direction, goal.source, goal.declared) == ("min", "declared", {"min": 2})
    assert declared_goals('{"a": "max", "b": 3}') == {"a": "max"}
    assert metric_goal("metrics.cost", cells, "max").source == "given"
    assert metric_goal("metrics.cost", [None]).source == "name"
    with pytest.raises(QueryError, match="1 declared min .* and 1 max"):
        metric_goal("metrics.cost", ['{"cost": "min"}', '{"cost": "max"}'])


def test_define_metric_checks_its_goal(tmp_path):
    run = sheetlog.start_run(
        target=str(tmp_path / "r.xlsx"), capture=False, journal_dir=tmp_path / "j"
    )
    with pytest.raises(ValueError, match="goal must be 'min'"):
        run.define_metric("wer", goal="lower")  # type: ignore[arg-type]
    run.define_metric("wer", goal="min")
    run.define_metric("acc", "max")
    run.define_metric("plain")  # says nothing about direction
    assert run.record()["metric_goals"] == '{"acc": "max", "wer": "min"}'
    run.finish()


def _reference(values, starts, direction, desc, limit):
    """The best ``limit`` rows by ``values`` (earliest start first among equals), then shown
    sorted ascending or descending (ties in start order), missing values never among the best
    unless there are too few values."""
    by_start = sorted(range(len(values)), key=lambda i: (starts[i] is not None, starts[i] or 0))
    present = [i for i in by_start if not _missing(values[i])]
    missing = [i for i in by_start if _missing(values[i])]
    best = sorted(present, key=lambda i: values[i], reverse=direction == "max") + missing
    chosen = best[:limit]
    shown_present = [i for i in by_start if i in chosen and not _missing(values[i])]
    shown_present = sorted(shown_present, key=lambda i: values[i], reverse=desc)
    return shown_present + [i for i in by_start if i in chosen and _missing(values[i])]


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def test_select_rows_keeps_the_best_n_by_the_declared_goal():
    rng = random.Random(11)
    for _ in range(300):
        count = rng.randint(1, 12)
        values = [
            rng.choice([None, math.nan, *[round(rng.uniform(0, 3), 1) for _ in range(3)]])
            for _ in range(count)
        ]
        starts = [rng.choice([None, *range(20)]) for _ in range(count)]
        direction = rng.choice(["min", "max"])
        goals = [rng.choice([None, f'{{"score": "{direction}"}}']) for _ in range(count)]
        goals[0] = f'{{"score": "{direction}"}}'
        header = ["run_id", "start_time", "metrics.score", "metric_goals"]
        rows = [[f"r{i}", starts[i], values[i], goals[i]] for i in range(count)]
        desc = rng.random() < 0.5
        limit = rng.randint(1, count)
        picked = select_rows(Table(header, rows), sort="score", desc=desc, limit=limit)
        assert picked.goal is not None and picked.goal.direction == direction
        assert picked.rows == _reference(values, starts, direction, desc, limit), (
            values,
            starts,
            direction,
            desc,
            limit,
        )
