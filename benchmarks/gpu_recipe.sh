#!/usr/bin/env bash
# DCCS's Fashion-MNIST recipe (configs/dccs-fashion-mnist.yaml: 300 passes of the 70k images at
# batch 64) on one GPU, in one call of a device lease (issue 32, item 3). Its checkpoints (95 MB
# with both Adams' moments) cannot leave a lent machine (16 MB a file), and each lease starts a
# fresh one: the run must end inside the call. On an H200 its recorded step takes 0.75 ms
# (docs/results/gpu.md) and the engine's own loop adds 0.04 ms a step (measured on the 2-core
# Xeon with a no-op step), so the 328k steps should take about 5 minutes with the evaluations: a
# budget of MINUTES (default 8) stops it in time, and a run stopped short says so in its summary
# (stopped_by, the last pass done). What comes back: config.yaml, data.json,
# summary.json (with the evaluation curve every 5 passes) and the train log's lines.
#   here, once: mkdir -p .data/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*.gz .data/fashion-mnist/
#              (.data/ is ignored: add `/.data/` to .git/info/exclude)
#   device run, carry [".whl", ".data"], after the wheels' install line of the device README:
#     bash benchmarks/gpu_recipe.sh [MINUTES [SEED]]
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
MINUTES=${1:-8}
SEED=${2:-0}
export PYTHONUNBUFFERED=1 INFOCLUST_DATA=$PWD/.data PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src
RUN=/tmp/dccs-fashion-mnist-s$SEED  # outside OUT: the checkpoint would not come back
nvidia-smi -L > "$OUT/machine.txt" 2>&1
python3 -m infoclust train --config configs/dccs-fashion-mnist.yaml --seed "$SEED" --out "$RUN" \
  --set train.budget_minutes="$MINUTES" > "$OUT/train.log" 2>&1
echo "exit $?" >> "$OUT/train.log"
cp "$RUN/config.yaml" "$RUN/data.json" "$RUN/summary.json" "$OUT/" 2>> "$OUT/train.log"
