#!/usr/bin/env bash
# sheetlog from the shell: log runs, wrap a training command, look at the runs, keep a CSV copy.
# Run it in an empty directory: bash shell_workflow.sh   (it writes runs.xlsx and runs.csv there)
set -euo pipefail

# A tiny "training script" that prints its final metrics as key=value lines.
cat > train.py <<'PY'
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()
accuracy = round(0.99 - abs(args.lr - 0.03) * 2, 4)
print(f"accuracy={accuracy}")
print(f"loss: {round(1 - accuracy, 4)}")
PY

# 1. A run already over, logged by hand (prints its run_id).
sheetlog log -p lr=0.05 -p epochs=2 -m accuracy=0.93 --name by-hand --notes "first try"

# 2. A small sweep: each command is wrapped, its options become parameters, its output metrics.
for lr in 0.1 0.03 0.01; do
    sheetlog run --name "lr-$lr" --metrics-from-output -- python train.py --lr "$lr" --epochs 3
done

# 3. Look at the runs.
sheetlog ls --sort accuracy --desc
sheetlog best --metric accuracy
sheetlog diff lr-0.1 lr-0.03

# 4. A CSV copy for other tools; a second sync has nothing to do.
sheetlog sync runs.xlsx runs.csv
sheetlog sync runs.xlsx runs.csv
sheetlog status || true   # exit code 1 would mean some runs are still pending
