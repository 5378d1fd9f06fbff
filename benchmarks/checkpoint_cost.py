"""What checkpoints cost a training run: one run with a time budget, every checkpoint write timed.

    python benchmarks/checkpoint_cost.py --config ../configs/dccs-fashion-mnist.yaml --minutes 2 --out RUN_DIR
    python benchmarks/checkpoint_cost.py ... --set train.checkpoint_every=200     # the old default

Prints one JSON object: ``wall_s`` (the whole run: data, training, evaluations, checkpoints),
``train_s`` (the training steps alone, what the budget counts), ``steps``, ``checkpoints`` (how many
were written), ``checkpoint_s`` (seconds spent writing them, serialisation included),
``checkpoint_mb`` (the last one's size, MB = 10^6 bytes), ``acc`` and the machine.
"""
from __future__ import annotations

import argparse
import json
import time

from infoclust.methods import load_config
from infoclust.engine import train
from infoclust.runs import RunDir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a recipe YAML (default: the method's defaults)")
    parser.add_argument("--data", help="dataset name or path (default: the config's)")
    parser.add_argument("--minutes", type=float, required=True, help="training budget, minutes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--out", required=True, help="a new run folder")
    args = parser.parse_args()

    writes: list[float] = []
    save = RunDir.save_checkpoint

    def timed_save(self: RunDir, state: dict) -> None:
        t0 = time.perf_counter()
        save(self, state)
        writes.append(time.perf_counter() - t0)

    RunDir.save_checkpoint = timed_save
    extra = {"data__name": args.data} if args.data else {}
    cfg = load_config(args.config, [*args.set, f"train.budget_minutes={args.minutes}"], seed=args.seed, **extra)
    t0 = time.perf_counter()
    figures = train(cfg, args.out, progress=False)
    wall_s = time.perf_counter() - t0
    run = RunDir(args.out)
    machine = json.loads(run.summary_path.read_text())["machine"]
    print(json.dumps({
        "wall_s": round(wall_s, 1), "train_s": figures["time_s"], "steps": figures["step"],
        "checkpoints": len(writes), "checkpoint_s": round(sum(writes), 2),
        "checkpoint_mb": round(run.checkpoint_path.stat().st_size / 1e6, 1), "acc": round(figures["acc"], 4),
        "machine": machine}))


if __name__ == "__main__":
    main()
