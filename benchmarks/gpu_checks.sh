#!/usr/bin/env bash
# Issue 32's checks on a CUDA machine, most wanted first, each result written as soon as it exists:
#   OUT=DIR bash benchmarks/gpu_checks.sh [SECONDS [STAGE...]]
# Stages (all by default, in this order): machine (OUT/machine.txt); cuda (tests/test_cuda.py: every
# method's recorded step against its eager step bit for bit, no host sync, same seed same figures,
# exact resume); determinism (the same steps twice from one state for every method, DCCS's critic
# gradient taken apart); speed (each method's step at its paper's batch as it runs, CUDA graphs, and
# eagerly, against the bare network; eager IMC-SwAV and IIC-seg with the profiler's tables,
# OUT/profile-M.txt); contract (train, predict, resume exactly, every method on the GPU); suite (the
# whole suite with the GPU visible, -n 16, in what is left of SECONDS, default 480). Each stage's
# seconds go to OUT/stages.txt. Needs infoclust importable (PYTHONPATH=src or pip install -e .) and kornia.
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
DEADLINE=$((SECONDS + ${1:-480}))
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src:$PWD
METHODS="dccs imc-swav iic-seg temi iic"

stage() { local t=$SECONDS; "$@"; echo "$((SECONDS - t)) s (exit $?): $*" >> "$OUT/stages.txt"; }
left() { echo $((DEADLINE - SECONDS)); }
tests() { local log=$1; shift; timeout "$@" >> "$OUT/$log" 2>&1; echo "exit $?" >> "$OUT/$log"; }
# 24 warm-up steps: every kind of step is recorded before the timed ones (DCCS's encoder step comes once in 6)
speed() { timeout 90 python3 benchmarks/speed.py --device cuda --steps 30 --warmup 24 --json "$@" >> "$OUT/speed.jsonl" 2>> "$OUT/speed.err"; }  # later --steps / --warmup win

STAGES=${*:2}
STAGES=${STAGES:-cuda determinism speed contract suite}
{ nvidia-smi -L; python3 -c "import torch, kornia; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'kornia', kornia.__version__)"; nproc; } > "$OUT/machine.txt" 2>&1
for s in $STAGES; do
  case $s in
    cuda) stage tests cuda_tests.log 200 python3 -m pytest -q -p no:cacheprovider -rsfx -n 8 tests/test_cuda.py ;;
    determinism) for m in $METHODS; do
        stage timeout 60 python3 benchmarks/determinism.py --device cuda --method "$m" --json $([ "$m" = dccs ] && echo --penalty) >> "$OUT/determinism.jsonl" 2>> "$OUT/determinism.err"
      done ;;
    speed)  # IIC-seg's step takes about a second: fewer steps
      for m in dccs imc-swav temi iic; do stage speed --method "$m"; done
      stage speed --method iic-seg --steps 10 --warmup 4
      stage speed --method imc-swav --no-cuda-graphs --profile "$OUT/profile-imc-swav.txt"
      stage speed --method iic-seg --no-cuda-graphs --steps 5 --warmup 2 --profile "$OUT/profile-iic-seg.txt"
      stage speed --method iic --no-cuda-graphs ;;
    contract) stage tests contract_tests.log 200 python3 -m pytest -q -p no:cacheprovider -rsfx -n 8 tests/methods/test_contract.py ;;
    suite) [ "$(left)" -gt 60 ] && stage tests pytest.log "$(left)" python3 -m pytest -n 16 -v -p no:cacheprovider -rsfx --durations=10 ;;  # -v: a cut log still names what passed
  esac
done
exit 0
