"""The one rule that names a run (``sheetlog.run_names.pick_run``), on generated runs: a full
run_id wins, then a unique run_id prefix of 4+ characters, then a name, which means the newest
run of that name; anything else is ``RunNotFound``."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from sheetlog import RunNotFound
from sheetlog.run_names import RunRef, pick_run

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
NAMES = ["svc", "forest", "sgd"]


def generated_runs(seed: int) -> list[RunRef]:
    """Up to 12 runs with random 8-hex-digit ids, names (some missing, many repeated) and start
    times (some missing, some equal)."""
    rng = random.Random(seed)
    ids = list(dict.fromkeys(f"{rng.getrandbits(32):08x}" for _ in range(rng.randint(1, 12))))
    return [
        RunRef(
            run_id,
            rng.choice([*NAMES, None]),
            rng.choice([None, START + dt.timedelta(minutes=rng.randint(0, 5))]),
            position,
        )
        for position, run_id in enumerate(ids)
    ]


def _age(run: RunRef) -> tuple[float, int]:
    return (run.start_time.timestamp() if run.start_time else float("-inf"), run.position)


@pytest.mark.parametrize("seed", range(200))
def test_a_full_run_id_names_its_run_and_a_name_the_newest_run(seed: int) -> None:
    runs = generated_runs(seed)
    for wanted in runs:
        pick = pick_run(wanted.run_id, runs, "t")
        assert pick.run == wanted and pick.note is None
    for name in NAMES:
        named = [run for run in runs if run.name == name]
        if not named:
            with pytest.raises(RunNotFound, match=f"no run '{name}' in t"):
                pick_run(name, runs, "t")
            continue
        pick = pick_run(name, runs, "t")
        newest = max(named, key=_age)
        assert pick.run == newest
        assert set(pick.others) == set(named) - {newest}
        assert (pick.note is None) == (len(named) == 1)
        for other in pick.others[:5]:
            assert other.run_id[:8] in (pick.note or "")


def test_a_prefix_must_be_unique_and_long_enough() -> None:
    runs = [RunRef("abcd1111"), RunRef("abcd2222"), RunRef("ef012345", "abc")]
    assert pick_run("abcd1", runs, "t").run.run_id == "abcd1111"
    assert pick_run("ABCD2", runs, "t").run.run_id == "abcd2222"  # any case
    with pytest.raises(RunNotFound, match="start of 2 run_ids in t"):
        pick_run("abcd", runs, "t")
    assert pick_run("abc", runs, "t").run.run_id == "ef012345"  # 3 characters: a name only
    with pytest.raises(RunNotFound, match="no run 'ef0' in t"):
        pick_run("ef0", runs, "t")
    with pytest.raises(RunNotFound, match="it has no runs"):
        pick_run("x", [], "t")


def test_a_run_without_a_start_time_is_older_than_any_with_one() -> None:
    runs = [RunRef("1111aaaa", "x", START, 0), RunRef("2222bbbb", "x", None, 1)]
    pick = pick_run("x", runs, "t")
    assert pick.run.run_id == "1111aaaa"
    assert "2222bbbb (start time unknown)" in (pick.note or "")
