"""sheetlog quickstart: a small scikit-learn sweep, one spreadsheet row per run.

Trains a few classifiers on scikit-learn's bundled digits data (no download) and logs every run
to ``runs.xlsx`` in the working directory (sheetlog's default target). Run it twice and the
workbook simply gets more rows. Open ``runs.xlsx`` in Excel or LibreOffice afterwards: sort by
``metrics.accuracy``, colour rows, add your own columns; sheetlog keeps appending around them.

    python examples/quickstart.py
"""

from __future__ import annotations

import time
from pathlib import Path

import joblib
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import sheetlog

SEED = 0
MODELS_DIR = Path("models")

# (run name, model family, hyper-parameters). Each family has its own parameters, so the sheet
# grows a column whenever a run brings a key it has not seen: `kernel` and `gamma` arrive with
# the first SVC, `n_estimators` and `max_depth` with the forests, and the last forest alone
# adds `class_weight` -- the earlier rows simply leave that cell empty.
SWEEP = [
    ("logreg-C0.1", "logreg", {"C": 0.1}),
    ("logreg-C1", "logreg", {"C": 1.0}),
    ("svc-rbf-C1", "svc", {"C": 1.0, "kernel": "rbf", "gamma": "scale"}),
    ("svc-rbf-C10", "svc", {"C": 10.0, "kernel": "rbf", "gamma": "scale"}),
    ("svc-linear", "svc", {"C": 1.0, "kernel": "linear", "gamma": "scale"}),
    ("forest-50", "forest", {"n_estimators": 50, "max_depth": None}),
    (
        "forest-200-balanced",
        "forest",
        {"n_estimators": 200, "max_depth": 12, "class_weight": "balanced"},
    ),
]


def build(family: str, params: dict):
    if family == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, **params))
    if family == "svc":
        return make_pipeline(StandardScaler(), SVC(random_state=SEED, **params))
    return RandomForestClassifier(random_state=SEED, **params)


def scores(model, X, y) -> dict[str, float]:
    predicted = model.predict(X)
    return {
        "accuracy": accuracy_score(y, predicted),
        "f1": f1_score(y, predicted, average="macro"),
    }


def sweep(X_train, X_val, y_train, y_val) -> None:
    for name, family, params in SWEEP:
        with sheetlog.start_run(params={"model": family, **params}, name=name) as run:
            # Which way is better, kept with the run: `sheetlog best` and `ls --sort` use it.
            run.define_metric("accuracy", goal="max")
            run.define_metric("fit_time_s", goal="min")
            model = build(family, params)
            started = time.perf_counter()
            model.fit(X_train, y_train)
            run.log_metrics(
                {**scores(model, X_val, y_val), "fit_time_s": time.perf_counter() - started}
            )
            if name == "forest-200-balanced":  # keep one model, with its path, size and sha256
                MODELS_DIR.mkdir(exist_ok=True)
                path = MODELS_DIR / f"{name}-{run.run_id[:8]}.joblib"
                joblib.dump(model, path)
                run.log_model(path)
        print(f"logged {name}")


def sgd_with_history(X_train, X_val, y_train, y_val, epochs: int = 15) -> None:
    """One run trained epoch by epoch: every step goes to the journal, the sheet keeps the best."""
    params = {"model": "sgd", "loss": "log_loss", "alpha": 1e-4, "epochs": epochs}
    with sheetlog.start_run(params=params, name="sgd-epochs", tags={"kind": "history"}) as run:
        run.define_metric("val_accuracy", "max")  # column holds the best epoch, not the last
        scaler = StandardScaler().fit(X_train)
        X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
        model = SGDClassifier(loss="log_loss", alpha=1e-4, random_state=SEED)
        classes = sorted(set(y_train))
        started = time.perf_counter()
        for epoch in range(epochs):
            model.partial_fit(X_train, y_train, classes=classes)
            run.log_metrics({"val_accuracy": model.score(X_val, y_val)}, step=epoch)
        run.log_metrics(
            {**scores(model, X_val, y_val), "fit_time_s": time.perf_counter() - started}
        )
    print("logged sgd-epochs")


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=y
    )
    sweep(X_train, X_val, y_train, y_val)
    sgd_with_history(X_train, X_val, y_train, y_val)

    report = sheetlog.flush()  # normally a no-op: each run was written when it ended
    if not report.ok:  # e.g. runs.xlsx is open in Excel: the rows wait in .sheetlog/
        print(f"some runs are still pending: {report.errors}")

    runs = sheetlog.load()  # the whole workbook as a pandas DataFrame, values typed
    if "metrics.accuracy" not in runs:
        print("runs.xlsx has no runs yet")
        return
    columns = [
        "name",
        "status",
        "params.model",
        "metrics.accuracy",
        "metrics.f1",
        "metrics.fit_time_s",
        "model_path",
    ]
    best = runs.sort_values("metrics.accuracy", ascending=False).head(5)
    print(f"\n{len(runs)} runs in runs.xlsx; the best:")
    print(best[[c for c in columns if c in best]].to_string(index=False, na_rep=""))


if __name__ == "__main__":
    main()
