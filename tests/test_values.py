"""Every kind of value a user may log: what the cell holds, and what ``sheetlog.load`` returns.

docs/values.md is the table these tests check. Each test logs real runs into a workbook in
tmp_path and reads it back twice: with ``sheetlog.load`` (python-calamine) and with openpyxl, to
see the cell's actual type (``n`` number, ``s`` text, ``b`` boolean, ``d`` date, ``f`` formula).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import enum
import fractions
import math
import os
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from libreoffice import find_soffice

import sheetlog
from sheetlog.journal import Journal

EXCEL_MAX_CHARS = 32_767
EXCEL_MAX_COLUMNS = 16_384


class Logger:
    """Logs runs into ``tmp_path/runs.xlsx`` and reads the workbook back."""

    def __init__(self, folder: Path) -> None:
        self.target = folder / "runs.xlsx"
        self.journal_dir = folder / ".sheetlog"
        self.warnings: list[str] = []

    def run(self, params: dict | None = None, metrics: dict | None = None, **kw: Any) -> dict:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = sheetlog.log_run(
                params,
                metrics,
                target=self.target,
                capture=False,
                journal_dir=self.journal_dir,
                **kw,
            )
        self.warnings += [
            str(w.message) for w in caught if issubclass(w.category, sheetlog.SheetlogWarning)
        ]
        return record

    def load(self):
        return sheetlog.load(self.target, pending=False)  # what the workbook holds

    def cells(self, row: int = 2) -> dict[str, openpyxl.cell.Cell]:
        """openpyxl's cells of one sheet row, by header name."""
        sheet = openpyxl.load_workbook(self.target).worksheets[0]
        header = [cell.value for cell in sheet[1]]
        cells = zip(header, sheet[row], strict=True)
        return {name: cell for name, cell in cells if name is not None}

    def journal(self) -> Journal:
        return Journal(self.journal_dir)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Logger:
    monkeypatch.chdir(tmp_path)
    return Logger(tmp_path)


def only(frame, column: str) -> Any:
    """The value of ``column`` in a one-run DataFrame."""
    assert len(frame) == 1
    return frame[column].iloc[0]


# -- strings that look like formulas ----------------------------------------------------------

FORMULA_LOOKING = {
    "plain": "=1+1",
    "hyperlink": '=HYPERLINK("http://x","y")',
    "plus": "+cmd",
    "minus": "-2+3",
    "at": "@SUM(A1)",
}


def test_formula_looking_strings_are_text_cells_never_formulas(log: Logger) -> None:
    log.run(FORMULA_LOOKING)
    cells = log.cells()
    for key, text in FORMULA_LOOKING.items():
        cell = cells[f"params.{key}"]
        assert (cell.data_type, cell.value) == ("s", text), key
    with zipfile.ZipFile(log.target) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet
    frame = log.load()
    assert {key: only(frame, f"params.{key}") for key in FORMULA_LOOKING} == FORMULA_LOOKING


# -- NaN, infinities, None ---------------------------------------------------------------------


def test_nan_and_infinities_are_text_cells_and_load_as_floats(log: Logger) -> None:
    log.run({"x": math.nan, "y": math.inf}, {"loss": -math.inf, "acc": np.float64("nan")})
    log.run({"x": 0.5, "y": 2.0}, {"loss": 0.25, "acc": 0.75})
    cells = log.cells(2)
    shown = {name: (cells[name].data_type, cells[name].value) for name in cells}
    assert shown["params.x"] == ("s", "NaN")
    assert shown["params.y"] == ("s", "inf")
    assert shown["metrics.loss"] == ("s", "-inf")
    assert shown["metrics.acc"] == ("s", "NaN")
    frame = log.load()
    for column in ("params.x", "params.y", "metrics.loss", "metrics.acc"):
        assert frame[column].dtype == "float64", column
    assert math.isnan(frame["params.x"][0]) and frame["params.x"][1] == 0.5
    assert frame["params.y"][0] == math.inf
    assert frame["metrics.loss"][0] == -math.inf
    assert math.isnan(frame["metrics.acc"][0])
    assert frame["metrics.loss"].idxmax() == 1  # sortable: -inf is the smallest loss


def test_none_leaves_the_cell_empty(log: Logger) -> None:
    log.run({"a": 1, "b": 2})
    log.run({"a": None, "b": 3, "never": None})
    cells = log.cells(3)
    assert cells["params.a"].value is None
    assert cells["params.b"].value == 3
    frame = log.load()
    assert "params.never" not in frame.columns  # a key that was only ever None adds no column
    assert frame["params.a"].isna().tolist() == [False, True]
    assert frame["params.a"].dtype == "Int64"


# -- long text ---------------------------------------------------------------------------------


def test_text_longer_than_excel_holds_is_cut_with_a_marker_and_kept_whole_in_the_journal(
    log: Logger,
) -> None:
    long_text = "".join(chr(ord("a") + i % 26) for i in range(40_000))
    record = log.run({"prompt": long_text, "short": "ok"})
    cell = log.cells()["params.prompt"]
    assert cell.data_type == "s"
    assert len(cell.value) == EXCEL_MAX_CHARS
    assert cell.value.endswith("full value in the sheetlog journal]")
    assert "truncated from 40,000 characters" in cell.value
    assert long_text.startswith(cell.value.split(" …[truncated")[0])
    assert only(log.load(), "params.prompt") == cell.value
    assert only(log.load(), "params.short") == "ok"
    assert len(log.warnings) == 1 and "32,767" in log.warnings[0]
    assert "params.prompt" in log.warnings[0]
    assert log.journal().get_run(record["run_id"])["params.prompt"] == long_text


def test_text_is_measured_as_excel_counts_it_in_utf16_units(log: Logger) -> None:
    emoji = "\N{GRINNING FACE}" * 20_000  # 20,000 characters, 40,000 UTF-16 units
    record = log.run({"emoji": emoji})
    stored = only(log.load(), "params.emoji")
    assert len(stored.encode("utf-16-le")) // 2 <= EXCEL_MAX_CHARS
    assert stored.startswith("\N{GRINNING FACE}" * 16_000)
    assert "truncated from 20,000 characters" in stored
    assert log.journal().get_run(record["run_id"])["params.emoji"] == emoji


# -- bytes, objects, standard-library types ----------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Model:
    def __str__(self) -> str:
        return "Model(layers=3)"


class BrokenStr:
    def __str__(self) -> str:
        raise RuntimeError("half-initialised")


def test_bytes_become_utf8_text_or_base64(log: Logger) -> None:
    raw = bytes([0xFF, 0x00, 0x80, 0x41])
    log.run({"utf8": "héllo".encode(), "raw": raw, "buffer": bytearray(b"abc")})
    cells = log.cells()
    assert (cells["params.utf8"].data_type, cells["params.utf8"].value) == ("s", "héllo")
    assert cells["params.raw"].value == "base64:/wCAQQ=="
    assert cells["params.buffer"].value == "abc"
    frame = log.load()
    assert base64.b64decode(only(frame, "params.raw").removeprefix("base64:")) == raw


def test_objects_and_standard_library_types(log: Logger) -> None:
    log.run(
        {
            "model": Model(),
            "broken": BrokenStr(),
            "path": Path("/data/train.csv"),
            "color": Color.RED,
            "number_enum": Color.BLUE,
            "decimal": decimal.Decimal("0.125"),
            "fraction": fractions.Fraction(1, 4),
            "complex": 1 + 2j,
        }
    )
    cells = log.cells()
    shown = {name.removeprefix("params."): (c.data_type, c.value) for name, c in cells.items()}
    assert shown["model"] == ("s", "Model(layers=3)")
    assert shown["broken"] == ("s", "<BrokenStr object: str() failed>")
    assert shown["path"] == ("s", str(Path("/data/train.csv")))
    assert shown["color"] == ("s", "red")
    assert shown["number_enum"] == ("n", 2)
    assert shown["decimal"] == ("n", 0.125)
    assert shown["fraction"] == ("n", 0.25)
    assert shown["complex"] == ("s", "(1+2j)")
    frame = log.load()
    assert only(frame, "params.decimal") == 0.125
    assert only(frame, "params.number_enum") == 2


def test_times_are_date_cells_aware_ones_in_utc(log: Logger) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    log.run(
        {
            "aware": dt.datetime(2024, 6, 1, 14, 30, tzinfo=paris),
            "naive": dt.datetime(2024, 6, 1, 14, 30),
            "day": dt.date(2024, 6, 1),
            "budget": dt.timedelta(minutes=90),
            "tick": dt.timedelta(milliseconds=1500),
        }
    )
    cells = log.cells()
    assert cells["params.aware"].is_date
    assert cells["params.aware"].value == dt.datetime(2024, 6, 1, 12, 30)  # UTC
    assert cells["params.naive"].value == dt.datetime(2024, 6, 1, 14, 30)  # kept as given
    assert cells["params.day"].is_date
    assert cells["params.day"].value == dt.datetime(2024, 6, 1)
    assert (cells["params.budget"].data_type, cells["params.budget"].value) == ("n", 5400)
    frame = log.load()
    assert only(frame, "params.aware") == dt.datetime(2024, 6, 1, 12, 30)
    assert only(frame, "params.day") == dt.datetime(2024, 6, 1)
    assert only(frame, "params.budget") == 5400
    assert only(frame, "params.tick") == 1.5


def test_numpy_scalars_are_numbers_and_arrays_json(log: Logger) -> None:
    log.run(
        {
            "f32": np.float32(0.5),
            "i64": np.int64(7),
            "flag": np.bool_(True),
            "zero_d": np.array(3.5),
            "vector": np.array([1, 2, 3]),
            "matrix": np.array([[1.5, np.nan], [0.0, 1.0]]),
            "day": np.datetime64("2024-01-02"),
        },
        {"acc": np.float32(0.25), "count": np.int32(3)},
    )
    cells = log.cells()
    shown = {name: (c.data_type, c.value) for name, c in cells.items()}
    assert shown["params.f32"] == ("n", 0.5)
    assert shown["params.i64"] == ("n", 7)
    assert shown["params.flag"] == ("b", True)
    assert shown["params.zero_d"] == ("n", 3.5)
    assert shown["params.vector"] == ("s", "[1, 2, 3]")
    assert shown["metrics.acc"] == ("n", 0.25)
    assert shown["metrics.count"] == ("n", 3)
    assert cells["params.day"].is_date
    frame = log.load()
    assert only(frame, "params.vector") == [1, 2, 3]
    matrix = only(frame, "params.matrix")
    assert matrix[0][0] == 1.5 and math.isnan(matrix[0][1]) and matrix[1] == [0.0, 1.0]
    assert only(frame, "params.flag") is True or only(frame, "params.flag") == np.True_
    assert only(frame, "params.day") == dt.datetime(2024, 1, 2)


def test_bools_and_huge_integers(log: Logger) -> None:
    log.run({"flag": True, "off": False, "exact": 2**53, "seed": 2**60, "negative": -(2**60)})
    cells = log.cells()
    assert (cells["params.flag"].data_type, cells["params.flag"].value) == ("b", True)
    assert (cells["params.off"].data_type, cells["params.off"].value) == ("b", False)
    assert (cells["params.exact"].data_type, cells["params.exact"].value) == ("n", 2**53)
    assert (cells["params.seed"].data_type, cells["params.seed"].value) == ("s", str(2**60))
    frame = log.load()
    assert bool(only(frame, "params.flag")) is True
    assert only(frame, "params.exact") == 2**53
    assert int(only(frame, "params.seed")) == 2**60  # text, so no digit is lost
    assert int(only(frame, "params.negative")) == -(2**60)


def test_lists_dicts_and_sets_are_json_text_and_load_back(log: Logger) -> None:
    log.run(
        {
            "layers": [64, 32, None],
            "shape": (3, 224, 224),
            "schedule": [{"epoch": 1, "lr": 0.1}],
            "empty": {},
            "classes": {"dog", "cat", "bird"},
            "frozen": frozenset({2, 1}),
            "with_nan": [1.0, math.nan, math.inf],
            "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
        }
    )
    cells = log.cells()
    assert (cells["params.layers"].data_type, cells["params.layers"].value) == (
        "s",
        "[64, 32, null]",
    )
    assert cells["params.classes"].value == '["bird", "cat", "dog"]'
    frame = log.load()
    assert only(frame, "params.layers") == [64, 32, None]
    assert only(frame, "params.shape") == [3, 224, 224]
    assert only(frame, "params.schedule") == [{"epoch": 1, "lr": 0.1}]
    assert only(frame, "params.empty") == {}
    assert only(frame, "params.classes") == ["bird", "cat", "dog"]
    assert only(frame, "params.frozen") == [1, 2]
    with_nan = only(frame, "params.with_nan")
    assert with_nan[0] == 1.0 and math.isnan(with_nan[1]) and with_nan[2] == math.inf
    # a non-empty dict is flattened into columns, not stored as JSON
    assert only(frame, "params.optimizer.name") == "adam"
    assert only(frame, "params.optimizer.betas") == [0.9, 0.999]


# -- keys --------------------------------------------------------------------------------------


def test_odd_keys(log: Logger) -> None:
    log.run(
        {
            "learning rate": 0.1,
            "optimizer.lr": 0.01,
            "größe µ": 3,
            "line\nbreak\ttab\x00nul": 4,
            "  padded  ": 5,
            7: "int key",
            "_x0041_": "literal",
        },
        tags={"team/owner": "ml"},
    )
    frame = log.load()
    expected = {
        "params.learning rate": 0.1,
        "params.optimizer.lr": 0.01,
        "params.größe µ": 3,
        "params.line break tab nul": 4,
        "params.padded": 5,
        "params.7": "int key",
        "params._x0041_": "literal",
        "tags.team/owner": "ml",
    }
    assert {name: only(frame, name) for name in expected} == expected
    assert set(expected) <= set(log.cells())  # openpyxl reads the same header names


def test_a_dotted_key_and_a_nested_dict_share_one_column(log: Logger) -> None:
    log.run({"optimizer.lr": 0.1})
    log.run({"optimizer": {"lr": 0.2}})
    frame = log.load()
    assert frame["params.optimizer.lr"].tolist() == [0.1, 0.2]


@pytest.mark.parametrize("key", ["", "   ", "\n\t"])
def test_an_empty_key_is_a_mistake_in_the_callers_code(log: Logger, key: str) -> None:
    with pytest.raises(ValueError, match="empty parameter, metric or tag name"):
        log.run({key: 1})
    with pytest.raises(ValueError, match="empty parameter, metric or tag name"):
        sheetlog.start_run(
            capture=False, target=log.target, journal_dir=log.journal_dir
        ).log_metrics({key: 1.0})
    assert not log.target.exists()


# -- characters inside text --------------------------------------------------------------------

TRICKY_TEXT = {
    "escape_like": "_x0041_ and _x005F_ and _x263A_",
    "tab_newline_cr": "a\tb\nc\rd\r\ne",
    "spaces": "  leading and trailing  ",
    "xml": "<b>&amp; \"quotes\" 'apos'</b>",
    "unicode": "ünïcødé 日本語 \N{GRINNING FACE}",
}
CONTROL_TEXT = {"controls": "a\x01b\x08c\x1fd\x0be", "escape_then_control": "_x0041\x01end"}


def test_text_round_trips_exactly_through_load(log: Logger) -> None:
    log.run({**TRICKY_TEXT, **CONTROL_TEXT})
    frame = log.load()
    for key, text in {**TRICKY_TEXT, **CONTROL_TEXT}.items():
        assert only(frame, f"params.{key}") == text, key


def test_text_round_trips_exactly_through_openpyxl(log: Logger) -> None:
    """openpyxl (and pandas.read_excel, which uses it) decodes no ``_xHHHH_`` escapes in inline
    strings, so a literal ``_x0041_`` must not be written as one."""
    log.run({**TRICKY_TEXT, **CONTROL_TEXT})
    cells = log.cells()
    for key, text in TRICKY_TEXT.items():
        assert cells[f"params.{key}"].value == text, key
    # Characters XML 1.0 cannot carry at all are written as the OOXML escape; Excel, LibreOffice
    # and calamine decode it, openpyxl shows it as it is (documented in docs/values.md).
    assert cells["params.controls"].value == "a_x0001_b_x0008_c_x001F_d_x000B_e"
    assert cells["params.escape_then_control"].value == "_x0041_x0001_end"


def test_noncharacters_are_kept_as_their_escape(log: Logger) -> None:
    """U+FFFE and U+FFFF are not characters (XML cannot carry them): written as the OOXML escape,
    which calamine, hence sheetlog.load, leaves as text."""
    record = log.run({"odd": "x\ufffey"})
    assert only(log.load(), "params.odd") == "x_xFFFE_y"
    assert log.journal().get_run(record["run_id"])["params.odd"] == "x\ufffey"


def test_lone_surrogates_from_undecodable_names_do_not_break_the_run(log: Logger) -> None:
    name = os.fsdecode(b"model-\xff.pt")  # what os.listdir gives for a non-UTF-8 file name
    record = log.run({"file": name}, notes=name)
    assert record["params.file"] == "model-\\udcff.pt"
    frame = log.load()
    assert only(frame, "params.file") == "model-\\udcff.pt"
    assert only(frame, "notes") == "model-\\udcff.pt"


# -- more columns than a sheet holds -----------------------------------------------------------


def test_a_run_with_more_columns_than_excel_holds_stays_in_the_journal(log: Logger) -> None:
    first = log.run({"lr": 0.1}, {"acc": 0.5})
    lock = log.target.with_name("~$" + log.target.name)  # Excel has the book open: both wait
    lock.write_text("user")
    wide = log.run({f"p{i}": i for i in range(EXCEL_MAX_COLUMNS + 100)})
    normal = log.run({"lr": 0.2, "batch": 32}, {"acc": 0.7})
    lock.unlink()
    log.warnings.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = sheetlog.flush(log.target, journal_dir=log.journal_dir)
    messages = [str(w.message) for w in caught if issubclass(w.category, sheetlog.SheetlogWarning)]
    assert report.pending == {str(log.target): 1}
    assert len(messages) == 1
    assert wide["run_id"] in messages[0] and "16,384 columns" in messages[0]
    frame = log.load()
    assert frame["run_id"].tolist() == [first["run_id"], normal["run_id"]]
    assert frame["params.batch"].tolist()[1] == 32  # the other run's new column was added
    assert len(frame.columns) < 20
    kept = log.journal().get_run(wide["run_id"])
    assert kept["params.p16483"] == 16483


@pytest.mark.slow  # a row of 16,384 cells, read back
def test_a_run_that_exactly_fills_the_sheet_is_written(log: Logger) -> None:
    record = log.run({"lr": 0.1})
    width = len(log.load().columns)
    fits = {f"p{i}": i for i in range(EXCEL_MAX_COLUMNS - width)}
    full = log.run({"lr": 0.2, **fits})
    one_more = log.run({"lr": 0.3, "extra": 1})
    frame = log.load()
    assert frame["run_id"].tolist() == [record["run_id"], full["run_id"]]
    assert len(frame.columns) == EXCEL_MAX_COLUMNS
    assert frame[f"params.p{len(fits) - 1}"].tolist()[1] == len(fits) - 1
    assert [m for m in log.warnings if one_more["run_id"] in m and "room for 0" in m]


# -- metrics -----------------------------------------------------------------------------------


def test_metrics_must_be_numbers(log: Logger) -> None:
    record = log.run({}, {"np": np.float32(0.5), "text": "0.25", "flag": True, "int": 3})
    cells = log.cells()
    assert {name: (c.data_type, c.value) for name, c in cells.items() if "metrics" in name} == {
        "metrics.np": ("n", 0.5),
        "metrics.text": ("n", 0.25),
        "metrics.flag": ("n", 1),
        "metrics.int": ("n", 3),
    }
    assert record["metrics.text"] == 0.25
    run = sheetlog.start_run(capture=False, target=log.target, journal_dir=log.journal_dir)
    for bad in ("high", None, [0.5], {"a": []}):
        with pytest.raises(TypeError, match="must be a number"):
            run.log_metrics({"acc": bad})
    run.log_metrics({"acc": 0.9})  # the run goes on after the mistake
    run.finish()
    assert log.load()["metrics.acc"].tolist()[1] == 0.9


# -- an independent reader: LibreOffice --------------------------------------------------------


@pytest.mark.libreoffice
def test_libreoffice_reads_text_and_formula_looking_strings_as_logged(
    log: Logger, tmp_path: Path
) -> None:
    log.run({**FORMULA_LOOKING, **TRICKY_TEXT, **CONTROL_TEXT, "nan": math.nan})
    out = tmp_path / "csv"
    subprocess.run(
        [
            find_soffice(),
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(out),
            str(log.target),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    with open(out / "runs.csv", encoding="utf-8", newline="") as handle:
        header, row = list(csv.reader(handle))
    seen = dict(zip(header, row, strict=True))
    for key, text in {**FORMULA_LOOKING, **TRICKY_TEXT, **CONTROL_TEXT}.items():
        # LibreOffice keeps \r\n in a cell as \n, and its CSV export writes a lone \r as \n
        expected = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
        assert seen[f"params.{key}"] == expected, key
    assert seen["params.nan"] == "NaN"
