"""What `sheetlog run --metrics-from-output` reads as metrics in a command's output, and what it
never does: tracebacks, code, the step. Examples, then properties over generated lines."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetlog.cli.output_metrics import LineMetrics, OutputMetrics, StreamReader, line_metrics

LINES = [
    ("loss=0.25", {"loss": 0.25}, None),
    ("accuracy: 0.91", {"accuracy": 0.91}, None),
    ("epoch 3 - loss: 0.25 - acc: 0.91", {"loss": 0.25, "acc": 0.91}, 3),
    (
        " 1/10 [====] - 1s 5ms/step - loss: 0.5 - accuracy: 0.8",
        {"loss": 0.5, "accuracy": 0.8},
        None,
    ),
    ("epoch=3 loss=0.2 acc=0.9", {"loss": 0.2, "acc": 0.9}, 3),
    ("step: 120 | loss=0.3 | lr=1e-4", {"loss": 0.3, "lr": 1e-4}, 120),
    ('{"loss": 0.5, "step": 10}', {"loss": 0.5}, 10),
    (
        "{'loss': 0.69, 'learning_rate': 5e-05, 'epoch': 0.33}",
        {"loss": 0.69, "learning_rate": 5e-05, "epoch": 0.33},
        None,
    ),
    ("Epoch 3/10 - val_loss: 0.25", {"val_loss": 0.25}, 3),
    ("loss=0.25 (best so far)", {"loss": 0.25}, None),
    ("global_step=7 epoch=1 loss=0.1", {"loss": 0.1}, 7),
]

NOT_METRICS = [
    "p = 1 / (1 + np.exp(-x))",
    "    p = 1 / (1 + np.exp(...))",
    "x = 2 * y",
    "a = 1 - b",
    "if p == 1:",
    "while x <= 10:",
    "n = 5 if flag else 3",
    "optimizer = Adam(lr=0.1, betas=(0.9, 0.99))",
    "Namespace(lr=0.01, epochs=3)",
    "eta: 3s",
    "time: 12:30",
    "Epoch 3/10",
    "",
]


@pytest.mark.parametrize(("line", "values", "step"), LINES, ids=[line for line, *_ in LINES])
def test_metrics_and_their_step(line: str, values: dict, step: int | None) -> None:
    assert line_metrics(line) == LineMetrics(values, step)


@pytest.mark.parametrize("line", NOT_METRICS)
def test_code_is_not_metrics(line: str) -> None:
    assert line_metrics(line) is None


TRACEBACK = """\
loss=0.5
Traceback (most recent call last):
  File "train.py", line 9, in <module>
    p = 1 / (1 + math.exp(x))
                 ^^^^^^^^^^^
OverflowError: math range error

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "train.py", line 11, in <module>
    loss = 0
RuntimeError: training diverged: loss=nan
after=1
"""


def test_a_traceback_is_never_metrics_and_its_last_exception_is_the_error() -> None:
    reader = StreamReader()
    found = [reader.read(line) for line in TRACEBACK.splitlines()]
    assert [f.values for f in found if f] == [{"loss": 0.5}, {"after": 1.0}]
    assert reader.exception == "RuntimeError: training diverged: loss=nan"


def test_an_epoch_header_line_gives_the_step_of_the_lines_after_it() -> None:
    reader = StreamReader()
    lines = ["Epoch 1/2", "10/10 - loss: 0.5", "Epoch 2/2", "10/10 - loss: 0.4"]
    found = [reader.read(line) for line in lines]
    assert [(f.values, f.step) for f in found if f] == [({"loss": 0.5}, 1), ({"loss": 0.4}, 2)]


def test_output_metrics_leave_out_what_the_command_logged_itself() -> None:
    output = OutputMetrics()
    read = output.reader()
    read("step=1 loss=0.5 acc=0.7")
    read("step=2 loss=0.4")
    assert [(step, values) for _, step, values in output.calls(skip={"loss"})] == [
        (1, {"acc": 0.7})
    ]


# -- properties --------------------------------------------------------------------------------

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=string.printable + "é→\x00\x1b", max_size=120), max_size=20))
def test_any_text_never_crashes_the_reader(lines: list[str]) -> None:
    output = OutputMetrics()
    read = output.reader()
    for line in lines:
        read(line)
    for _, step, values in output.calls():
        assert step is None or isinstance(step, int)
        assert all(isinstance(v, float) for v in values.values())


# Not "|": `loss=0.3 | lr=0.1` separates metrics (a bitwise or of numbers is rare in output).
OPERATORS = st.sampled_from(["+", "-", "*", "/", "%", "**", "//", "==", "<", ">", "&", "@"])
OPERAND = st.one_of(KEYS, NUMBERS, KEYS.map(lambda k: f"np.exp({k})"), KEYS.map(lambda k: f"({k}"))


@settings(max_examples=300, deadline=None)
@given(KEYS, NUMBERS, OPERATORS, OPERAND, st.sampled_from(["", "    ", "\t"]))
def test_an_expression_is_never_a_metric(
    key: str, number: str, operator: str, operand: str, indent: str
) -> None:
    line = f"{indent}{key} = {number} {operator} {operand}"
    assert line_metrics(line) is None, line


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        KEYS.filter(
            lambda k: k.lower() not in ("step", "global_step", "epoch", "iteration", "iter")
        ),
        NUMBERS,
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["{k}={v}", "{k}: {v}", "'{k}': {v}", '"{k}": {v}']),
    st.sampled_from([" ", ", ", " | ", " - "]),
)
def test_printed_metrics_are_read_back(values: dict, form: str, separator: str) -> None:
    line = separator.join(form.format(k=k, v=v) for k, v in values.items())
    found = line_metrics(line)
    assert found is not None and found.step is None, line
    assert found.values == {k: float(v) for k, v in values.items()}
    assert all(not math.isnan(v) for v in found.values.values())
