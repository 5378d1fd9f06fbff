#!/usr/bin/env bash
# Issue 32's checks on a CUDA machine, each result written as soon as it exists:
#   OUT=DIR bash benchmarks/gpu_checks.sh profile     # where each method's step spends its time
#   OUT=DIR bash benchmarks/gpu_checks.sh suite [SECONDS]   # the speed table, the CUDA tests, the suite
# profile: the machine; per method (imc-swav, iic-seg, iic, dccs, temi; what the last lease left open
# first) at its paper's batch: the step against the bare network eagerly with torch.profiler's tables
# (OUT/profile-M.txt), as the method runs it, and recorded whole as a forced trial (speed.py
# --force-graphs); same steps twice from one state (determinism.py; DCCS's critic gradient taken
# apart); tests/test_cuda.py; each stage's seconds in OUT/stages.txt. suite: the speed table, the CUDA tests and the contract
# test, then the whole test suite with the GPU visible (-n 16) under a time limit.
# Needs infoclust importable (PYTHONPATH=src or pip install -e .) and kornia.
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
PHASE=${1:?profile or suite}
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src:$PWD
METHODS="iic dccs imc-swav iic-seg temi"

{ nvidia-smi -L; python3 -c "import torch, kornia; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'kornia', kornia.__version__)"; nproc; } > "$OUT/machine.txt" 2>&1
speed() { timeout 90 python3 benchmarks/speed.py --device cuda --steps 20 --warmup 3 --json "$@" >> "$OUT/speed.jsonl" 2>> "$OUT/speed.err"; }

if [ "$PHASE" = profile ]; then
  # what the last lease left open first (docs/results/gpu.md), each step timed into OUT/stages.txt
  stage() { local t=$SECONDS; "$@"; echo "$((SECONDS - t)) s: $*" >> "$OUT/stages.txt"; }
  stage speed --method imc-swav --no-cuda-graphs --profile "$OUT/profile-imc-swav.txt"
  stage speed --method imc-swav --force-graphs
  stage timeout 60 python3 benchmarks/determinism.py --device cuda --method dccs --penalty --json >> "$OUT/determinism.jsonl" 2>> "$OUT/determinism.err"
  stage speed --method iic-seg --no-cuda-graphs --profile "$OUT/profile-iic-seg.txt"
  stage speed --method iic --no-cuda-graphs --profile "$OUT/profile-iic.txt"
  stage speed --method iic
  for m in iic temi; do
    stage timeout 60 python3 benchmarks/determinism.py --device cuda --method "$m" --json >> "$OUT/determinism.jsonl" 2>> "$OUT/determinism.err"
  done
  stage timeout 120 python3 -m pytest -q -p no:cacheprovider -rsfx tests/test_cuda.py > "$OUT/cuda_tests.log" 2>&1
  for m in dccs temi; do
    stage speed --method "$m" --no-cuda-graphs --profile "$OUT/profile-$m.txt"
    stage speed --method "$m" --force-graphs
  done
else
  for m in $METHODS; do speed --method "$m"; done
  timeout 200 python3 -m pytest -q -p no:cacheprovider -rsfx tests/test_cuda.py tests/methods/test_contract.py > "$OUT/cuda_tests.log" 2>&1
  echo "exit $?" >> "$OUT/cuda_tests.log"
  timeout "${2:-240}" python3 -m pytest -n 16 -p no:cacheprovider -rsfx --durations=10 > "$OUT/pytest.log" 2>&1
  echo "pytest exit $?" >> "$OUT/pytest.log"
fi
