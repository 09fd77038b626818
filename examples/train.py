"""A small, real training script: a neural network on scikit-learn's digits, one row per run.

Its hyper-parameters come from the command line, it logs them and its metrics with the sheetlog
API (the validation accuracy of every epoch with its step, the final accuracy and macro F1), and
it prints the final metrics as ``key=value`` lines. The digits ship with scikit-learn (no
download); a run takes a second or two.

    python examples/train.py --lr 0.01 --epochs 10
    sheetlog run -- python examples/train.py --lr 0.05 --hidden 64

Under ``sheetlog run`` the script fills the wrapper's row (one row, not two), which adds the
command line, its exit code and its duration.
"""

from __future__ import annotations

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import sheetlog


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (Adam)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=32, help="units in the hidden layer")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="the run's name in the sheet")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    params = {key: value for key, value in vars(args).items() if key != "name"}
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.25, random_state=args.seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        learning_rate_init=args.lr,
        batch_size=args.batch_size,
        alpha=args.alpha,
        random_state=args.seed,
    )
    classes = sorted(set(y_train))

    with sheetlog.start_run(params={"model": "mlp", **params}, name=args.name) as run:
        run.define_metric("val_accuracy", "max")  # the column keeps the best epoch
        started = time.perf_counter()
        for epoch in range(args.epochs):
            model.partial_fit(X_train, y_train, classes=classes)  # one pass over the data
            run.log_metrics(
                {"val_accuracy": model.score(X_val, y_val), "train_loss": model.loss_}, step=epoch
            )
        predicted = model.predict(X_val)
        final = {
            "accuracy": accuracy_score(y_val, predicted),
            "f1": f1_score(y_val, predicted, average="macro"),
            "fit_time_s": time.perf_counter() - started,
        }
        run.log_metrics(final)

    for key, value in final.items():
        print(f"{key}={value:.4f}")


if __name__ == "__main__":
    main()
