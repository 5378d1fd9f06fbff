#!/usr/bin/env bash
# Issue 9's checks on a CUDA machine, in one go, each result written as soon as it exists:
#   OUT=DIR bash benchmarks/cuda_checks.sh [SUITE_SECONDS]
# 1. the machine; 2. the CUDA tests alone (tests/test_cuda.py: CUDA graphs against the eager step,
# same seed, exact resume); 3. the speed table (IIC step against the bare step, alone on the GPU:
# CUDA graphs on and off, train.deterministic on and off); 4. the digits command twice with
# the same seed (evaluate --json compared) beside 5. the whole test suite with the GPU visible.
# Needs infoclust importable (pip install -e . or PYTHONPATH=src) and kornia.
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
SUITE_SECONDS=${1:-300}
export PYTHONUNBUFFERED=1

{ nvidia-smi -L; python3 -c "import torch, kornia; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'kornia', kornia.__version__)"; nproc; } > "$OUT/machine.txt" 2>&1

timeout 150 python3 -m pytest -q -p no:cacheprovider -rsf tests/test_cuda.py > "$OUT/cuda_tests.log" 2>&1
echo "exit $?" >> "$OUT/cuda_tests.log"

speed() { timeout 60 python3 benchmarks/speed.py --device cuda --steps 40 --warmup 5 --json "$@" >> "$OUT/speed.jsonl" 2>> "$OUT/speed.err"; }
for graphs in "" --no-cuda-graphs; do
  speed --batch 140 $graphs
  speed --batch 140 --channels-last $graphs
  speed --batch 140 --channels-last --nondeterministic $graphs
  speed --batch 700 --channels-last $graphs
  speed --batch 700 --channels-last --nondeterministic $graphs
  speed --width 32 --batch 64 --channels-last $graphs
  speed --backbone resnet34 --batch 140 --channels-last $graphs
done

digits() {
  python3 -m infoclust train --data digits --set train.epochs=5 --set train.deterministic=true --seed 3 --quiet --out "$1" \
    && python3 -m infoclust evaluate "$1" --json > "$2"
}
( digits /tmp/digits_a "$OUT/digits_a.json"; digits /tmp/digits_b "$OUT/digits_b.json" ) > "$OUT/digits.log" 2>&1 &
timeout "$SUITE_SECONDS" python3 -m pytest -n 8 -p no:cacheprovider -rsf --durations=10 > "$OUT/pytest.log" 2>&1
echo "pytest exit $?" >> "$OUT/pytest.log"
wait
cmp "$OUT/digits_a.json" "$OUT/digits_b.json" && echo "same evaluate --json" >> "$OUT/digits.log"
