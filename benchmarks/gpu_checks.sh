#!/usr/bin/env bash
# Issue 32's checks on a CUDA machine, most wanted first, each result written as soon as it exists:
#   OUT=DIR bash benchmarks/gpu_checks.sh [SECONDS]
# 1. the machine (OUT/machine.txt); 2. tests/test_cuda.py (every method's recorded step against its
# eager step, bit for bit; no host sync; same seed, same figures; exact resume); 3. the same steps
# twice from one state for every method (determinism.py, DCCS's critic gradient taken apart);
# 4. each method's step at its paper's batch, as it runs (CUDA graphs) and eagerly, against the bare
# network (speed.py; eager IMC-SwAV with the profiler's tables, OUT/profile-imc-swav.txt);
# 5. the contract tests (train, predict, resume exactly) of every method on the GPU; 6. the whole
# suite with the GPU visible (-n 16) in what is left of SECONDS (default 480). Each stage's seconds
# go to OUT/stages.txt. Needs infoclust importable (PYTHONPATH=src or pip install -e .) and kornia.
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
DEADLINE=$((SECONDS + ${1:-480}))
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src:$PWD
METHODS="dccs imc-swav iic-seg temi iic"

stage() { local t=$SECONDS; "$@"; echo "$((SECONDS - t)) s (exit $?): $*" >> "$OUT/stages.txt"; }
left() { echo $((DEADLINE - SECONDS)); }
tests() { local log=$1; shift; timeout "$@" >> "$OUT/$log" 2>&1; echo "exit $?" >> "$OUT/$log"; }
# 24 warm-up steps: every kind of step is recorded before the timed ones (DCCS's encoder step comes once in 6)
speed() { timeout 90 python3 benchmarks/speed.py --device cuda --steps 30 --warmup 24 --json "$@" >> "$OUT/speed.jsonl" 2>> "$OUT/speed.err"; }

{ nvidia-smi -L; python3 -c "import torch, kornia; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'kornia', kornia.__version__)"; nproc; } > "$OUT/machine.txt" 2>&1
stage tests cuda_tests.log 200 python3 -m pytest -q -p no:cacheprovider -rsfx -n 8 tests/test_cuda.py
for m in $METHODS; do
  stage timeout 60 python3 benchmarks/determinism.py --device cuda --method "$m" --json $([ "$m" = dccs ] && echo --penalty) >> "$OUT/determinism.jsonl" 2>> "$OUT/determinism.err"
done
for m in $METHODS; do stage speed --method "$m"; done
stage speed --method imc-swav --no-cuda-graphs --profile "$OUT/profile-imc-swav.txt"
for m in iic-seg iic; do stage speed --method "$m" --no-cuda-graphs; done
stage tests contract_tests.log 200 python3 -m pytest -q -p no:cacheprovider -rsfx -n 8 tests/methods/test_contract.py
[ "$(left)" -gt 60 ] && stage tests pytest.log "$(left)" python3 -m pytest -n 16 -p no:cacheprovider -rsfx --durations=10
exit 0
