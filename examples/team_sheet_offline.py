"""A team's shared Google Sheet, tried offline: no Google account, no network.

    python examples/team_sheet_offline.py

It starts sheetlog's local fake of the Google Sheets API in this process, logs a small sweep to a
``gsheet://`` target the way two teammates would, and prints the sheet read back with
``sheetlog.load()``. Only the lines marked ``# offline`` differ from logging to a real shared
sheet: with a real one, drop them and use the key from the sheet's URL (see "Google Sheets" in
the README for the credentials).
"""

from __future__ import annotations

import os

import sheetlog
from sheetlog.testing import FakeSheetsServer


def accuracy(lr: float, depth: int, dropout: float = 0.0) -> float:
    """A made-up score, so that the example runs in a moment."""
    return round(0.95 - 2 * abs(lr - 0.03) - 0.01 * abs(depth - 4) + dropout / 10, 3)


def main() -> None:
    with FakeSheetsServer() as fake:  # offline
        os.environ["SHEETLOG_GSHEETS_ENDPOINT"] = fake.base_url  # offline
        key = fake.create_spreadsheet("team runs")  # offline: a real sheet already has its key
        target = f"gsheet://{key}/Runs"

        # Alice sweeps the learning rate and the depth...
        for lr in (0.1, 0.03, 0.01):
            for depth in (2, 4):
                sheetlog.log_run(
                    {"lr": lr, "depth": depth},
                    {"accuracy": accuracy(lr, depth)},
                    name=f"alice-lr{lr}-d{depth}",
                    tags={"who": "alice"},
                    target=target,
                )
        # ...and Bob tries dropout: the sheet gets a params.dropout column.
        sheetlog.log_run(
            {"lr": 0.03, "depth": 4, "dropout": 0.2},
            {"accuracy": accuracy(0.03, 4, 0.2)},
            name="bob-dropout",
            tags={"who": "bob"},
            target=target,
        )

        runs = sheetlog.load(target)
        columns = ["name", "params.lr", "params.depth", "params.dropout", "metrics.accuracy"]
        print(f"{len(runs)} runs in {target}, best first:")
        print(runs.sort_values("metrics.accuracy", ascending=False)[columns].to_string(index=False))


if __name__ == "__main__":
    main()
