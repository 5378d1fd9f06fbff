"""Feature-probe tables for finished runs (issue 12), each figure the mean ± std over label draws:

    # IIC Table 3 / the issue's few-label comparison: every protocol at 1 % and 10 % labels
    python benchmarks/probe_table.py RUN_IIC RUN_IMSAT --fractions 0.01 0.1 --seeds 0 1 2
    # Peng et al. Table 3: supervised training from scratch against initialised by the run,
    # without and with augmentation, all training labels, scored on the test split
    python benchmarks/probe_table.py RUN --pretraining --epochs 30

Every probe is also appended to its run's probes.jsonl (what the tables are rebuilt from).
Protocols: overcluster (many-to-one of the largest head), linear on trunk / conv / y, finetune,
and finetune --scratch (the same network trained on the same labels from scratch). A protocol a
run cannot take (conv of an MLP) is shown as "—".
"""
from __future__ import annotations

import argparse

import numpy as np

from infoclust.errors import InfoclustError
from infoclust.probes import ProbeSettings, probe

FEW_LABELS = (("overcluster", {"protocol": "overcluster"}),
              ("linear, trunk", {"protocol": "linear", "layer": "trunk"}),
              ("linear, conv", {"protocol": "linear", "layer": "conv"}),
              ("linear, y", {"protocol": "linear", "layer": "y"}),
              ("fine-tuned", {"protocol": "finetune"}),
              ("same network from scratch", {"protocol": "finetune", "scratch": True}))
PRETRAINING = (("from scratch", {"scratch": True}), ("initialised by the run", {}),
               ("from scratch, augmented", {"scratch": True, "augment": True}),
               ("initialised by the run, augmented", {"augment": True}))


def cell(run: str, seeds: list[int], **settings) -> str:
    """Mean ± std accuracy (%) of one probe over ``seeds`` (label draws), or "—" when refused."""
    try:
        accs = [probe(run, ProbeSettings(seed=seed, **settings))["accuracy"] for seed in seeds]
    except InfoclustError as error:
        return f"— ({str(error).splitlines()[0][:60]})"
    return f"{100 * np.mean(accs):.1f} ± {100 * np.std(accs):.1f}" if len(accs) > 1 else f"{100 * accs[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=50, help="fine-tuning passes over the labelled samples")
    parser.add_argument("--pretraining", action="store_true", help="Peng et al. Table 3 instead (held-out, all labels)")
    args = parser.parse_args()
    if args.pretraining:
        print("| run | training | test ACC (%) |")
        print("|---|---|---|")
        for run in args.runs:
            for name, extra in PRETRAINING:
                print(f"| {run} | {name} | {cell(run, args.seeds, protocol='finetune', labels_fraction=1.0, held_out=True, epochs=args.epochs, **extra)} |")
        return
    fractions = [f"{100 * f:g} % labels" for f in args.fractions]
    print("| run | protocol | " + " | ".join(fractions) + " |")
    print("|---|---|" + "---|" * len(fractions))
    for run in args.runs:
        for name, extra in FEW_LABELS:
            cells = [cell(run, args.seeds, labels_fraction=f, epochs=args.epochs, **extra) for f in args.fractions]
            print(f"| {run} | {name} | " + " | ".join(cells) + " |")
    print(f"\naccuracy on the samples whose labels were not used; mean ± std over label draws {args.seeds}")


if __name__ == "__main__":
    main()
