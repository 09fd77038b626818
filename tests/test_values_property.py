"""Property: every value and key sheetlog accepts comes back from ``load()`` as docs/values.md
promises, from a workbook, a CSV file and the fake Google Sheet, and every run is delivered once.

Each example logs two runs into a fresh target of each kind, through a fresh journal. The
generated params of run ``i`` sit under the key ``run<i>`` (one column per leaf), so that each
column holds one run's value and the other run's gap, and its expected type follows from that
value alone. What ``load()`` should return is computed from the docs' rules: ``to_cell`` (the
conversion the docs table describes), then what each kind of sheet keeps of the cell.

The default profile runs a few examples (seconds); ``pytest -m slow`` runs many more.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sheetlog
from sheetlog.journal import Journal
from sheetlog.schema import flatten
from sheetlog.values import FIRST_CELL_MOMENT, LAST_CELL_MOMENT, iso_moment, to_cell

settings.register_profile(
    "sheetlog-values",
    max_examples=10,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),  # a fixed sequence under CI (see conftest.py)
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,  # clashing keys and ambiguous texts are rejected
    ],
)
FEW = settings.get_profile("sheetlog-values")
MANY = settings(FEW, max_examples=150)

# Text: any Unicode but noncharacters and lone surrogates (documented apart), with control
# characters, line breaks and formula prefixes made likely.
CHARACTERS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\ufffe\uffff")
PREFIX = st.sampled_from(["", "=", "+", "-", "@", "'", "\t", "\r", "＝", " ", "_x0041_", "0"])
TEXT = st.builds(
    lambda prefix, body: prefix + body,
    PREFIX,
    st.text(st.one_of(CHARACTERS, st.sampled_from("\x00\x01\x1f\r\n\t\"',=")), max_size=30),
)
ODD = st.text(st.one_of(CHARACTERS, st.sampled_from("\n\t\r\x00 =+-@.")), max_size=4)
CORE = st.text(st.characters(whitelist_categories=["L", "N", "So"]), min_size=1, max_size=8)
KEY = st.builds(lambda a, b, c: a + b + c, ODD, CORE, ODD)  # never empty once trimmed
MOMENT = st.datetimes(min_value=dt.datetime.min, max_value=dt.datetime.max)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    MOMENT,
    st.dates(),
    st.builds(np.int64, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.builds(np.float32, st.floats(width=32)),
    st.builds(np.bool_, st.booleans()),
    st.builds(lambda m: np.datetime64(m, "us"), MOMENT),
    st.sampled_from([pd.NaT, pd.NA, np.datetime64("NaT"), np.timedelta64("NaT")]),
    st.lists(st.integers(min_value=-1000, max_value=1000), max_size=4),
    st.lists(TEXT, max_size=3),
)
PARAMS = st.recursive(
    st.dictionaries(KEY, LEAF, max_size=6),
    lambda inner: st.dictionaries(KEY, st.one_of(LEAF, inner), max_size=4),
    max_leaves=12,
)


def columns_of(params: dict[str, Any]) -> dict[str, Any]:
    """The flat columns of ``params``; rejects examples whose names clash (a documented warning)
    or fold together (``A`` and ``a`` name one column in a sheet, docs/schema.md)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", sheetlog.SheetlogWarning)
        try:
            flat = flatten("params", params)
        except (ValueError, sheetlog.SheetlogWarning):
            assume(False)
    folded = [" ".join(name.split()).casefold() for name in flat]
    assume(len(set(folded)) == len(folded))
    return flat


def ambiguous_text(text: str) -> bool:
    """Texts the docs say read back as another type: NaN / inf words, JSON, dates' ISO text."""
    return (
        text in ("NaN", "inf", "-inf")
        or (text[:1] in "[{" and text[-1:] in "]}")
        or iso_moment(text) is not None
    )


def expected(cell: Any, kind: str) -> Any:
    """What ``load()`` returns for a cell value, in a sheet of ``kind`` (docs/values.md)."""
    if isinstance(cell, str):
        if cell[:1] in "[{" and cell[-1:] in "]}":  # JSON text of a list or object
            try:
                return json.loads(cell)
            except ValueError:
                return cell  # only looks like it: stays text
        return None if cell == "" and kind != "csv" else cell
    if isinstance(cell, dt.datetime) and kind != "csv":
        rounded = cell.replace(microsecond=0) + dt.timedelta(
            microseconds=(cell.microsecond + 500) // 1000 * 1000
        ) if cell < dt.datetime(9999, 12, 31) else cell  # fmt: skip
        if FIRST_CELL_MOMENT <= rounded <= LAST_CELL_MOMENT:
            return rounded
    return cell


def same(loaded: Any, wanted: Any) -> bool:
    if wanted is None:
        return loaded is None or (not isinstance(loaded, (list, dict)) and pd.isna(loaded))
    if isinstance(wanted, float) and math.isnan(wanted):
        return isinstance(loaded, float) and math.isnan(loaded)
    if isinstance(wanted, bool):
        return type(loaded) in (bool, np.bool_) and loaded == wanted
    if isinstance(wanted, dt.datetime):
        return isinstance(loaded, dt.datetime) and pd.Timestamp(loaded) == pd.Timestamp(wanted)
    return type(loaded) not in (bool, np.bool_) and loaded == wanted


def check_target(target: str, kind: str, runs: list[dict[str, Any]], folder: Path) -> None:
    journal_dir = folder / f".sheetlog-{kind}"
    run_ids = []
    for params in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("error", sheetlog.SheetlogWarning)  # nothing pending or cut
            record = sheetlog.log_run(params, target=target, capture=False,
                                      journal_dir=journal_dir)  # fmt: skip
        run_ids.append(record["run_id"])
    journal = Journal(journal_dir)
    assert journal.pending_targets() == [] and journal.run_count() == len(runs)
    journal.close()
    frame = sheetlog.load(target)
    assert frame["run_id"].tolist() == run_ids, "each run delivered exactly once"
    for row, params in enumerate(runs):
        for name, value in columns_of(params).items():
            cell = to_cell(value)
            assume(not (isinstance(cell, str) and ambiguous_text(cell)))
            wanted = expected(cell, kind)
            loaded = frame[name].iloc[row] if name in frame.columns else None
            assert same(loaded, wanted), (kind, name, value, cell, loaded)


def check_all_targets(first: dict, second: dict, fake_sheets) -> None:
    runs = [{"run0": first}, {"run1": second}]
    for params in runs:  # reject the example before writing anything
        for value in columns_of(params).values():
            cell = to_cell(value)
            assume(not (isinstance(cell, str) and ambiguous_text(cell)))
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        check_target(str(here / "runs.xlsx"), "xlsx", runs, here)
        check_target(str(here / "runs.csv"), "csv", runs, here)
        key = fake_sheets.create_spreadsheet("property")
        check_target(f"gsheet://{key}/Runs", "gsheets", runs, here)


@FEW
@given(first=PARAMS, second=PARAMS)
def test_logged_values_come_back_as_documented(first, second, fake_sheets) -> None:
    check_all_targets(first, second, fake_sheets)


@pytest.mark.slow
@MANY
@given(first=PARAMS, second=PARAMS)
def test_logged_values_come_back_as_documented_many_examples(first, second, fake_sheets) -> None:
    check_all_targets(first, second, fake_sheets)
