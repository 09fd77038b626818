#!/usr/bin/env bash
# sheetlog from the shell: log runs, wrap a training command, look at the runs, keep a CSV copy.
# Run it from any directory: bash examples/shell_workflow.sh  (it writes runs.xlsx and runs.csv
# there, and the journal .sheetlog/; needs scikit-learn: pip install -e ".[examples]")
set -euo pipefail

# The training script: examples/train.py, beside this file (a small scikit-learn network that
# takes --lr, --epochs, ... and prints its final metrics as key=value lines).
train="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/train.py"

# 1. A run already over, logged by hand (prints its run_id).
sheetlog log -p lr=0.05 -p epochs=2 -m accuracy=0.93 --name by-hand --notes "first try"

# 2. A small sweep, each command wrapped: the row gets the command line, exit code and duration;
#    train.py logs its parameters and metrics itself (for a script that does not use sheetlog,
#    the options become parameters and --metrics-from-output reads its printed metrics).
for lr in 0.1 0.03 0.01; do
    sheetlog run --name "lr-$lr" --metrics-from-output -- python "$train" --lr "$lr" --epochs 3
done

# 3. Look at the runs.
sheetlog ls --sort accuracy --desc
sheetlog best --metric accuracy
sheetlog diff lr-0.1 lr-0.03

# 4. A CSV copy for other tools; a second sync has nothing to do.
sheetlog sync runs.xlsx runs.csv
sheetlog sync runs.xlsx runs.csv
sheetlog status || true   # exit code 1 would mean some runs are still pending
