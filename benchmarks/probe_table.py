"""Feature-probe tables for finished runs (issue 12), each figure the mean ± std over label draws:

    # IIC Table 3 / the issue's few-label comparison: every protocol at 1 % and 10 % labels
    python benchmarks/probe_table.py RUN_IIC RUN_IMSAT --fractions 0.01 0.1 --seeds 0 1 2
    # Peng et al. Table 3: supervised training from scratch against initialised by the run,
    # without and with augmentation, all training labels, scored on the test split
    python benchmarks/probe_table.py RUN --pretraining --epochs 30

Every probe is also appended to its run's probes.jsonl (what the tables are rebuilt from); with
--resume a probe already recorded there with the same settings is read instead of run again, so a
long table interrupted (Ctrl-C, the end of a session) continues where it stopped.
Protocols: overcluster (many-to-one of the largest head), linear on trunk / conv / y, finetune,
and finetune --scratch (the same network trained on the same labels from scratch). A protocol a
run cannot take (conv of an MLP) is shown as "—".
"""
from __future__ import annotations

import argparse

import numpy as np

from infoclust.errors import InfoclustError
from infoclust.probes import ProbeSettings, probe, settings_fields
from infoclust.runs import RunDir

FEW_LABELS = (("overcluster", {"protocol": "overcluster"}),
              ("linear, trunk", {"protocol": "linear", "layer": "trunk"}),
              ("linear, conv", {"protocol": "linear", "layer": "conv"}),
              ("linear, y", {"protocol": "linear", "layer": "y"}),
              ("fine-tuned", {"protocol": "finetune"}),
              ("same network from scratch", {"protocol": "finetune", "scratch": True}))
PRETRAINING = (("from scratch", {"scratch": True}), ("initialised by the run", {}),
               ("from scratch, augmented", {"scratch": True, "augment": True}),
               ("initialised by the run, augmented", {"augment": True}))


def recorded_accuracy(records: list[dict], settings: ProbeSettings) -> float | None:
    """The accuracy of the last of a run's probe ``records`` with exactly these settings, if any."""
    wanted = settings_fields(settings)
    matches = [r["accuracy"] for r in records if all(r.get(k) == v for k, v in wanted.items())]
    return matches[-1] if matches else None


def accuracy(run: str, settings: ProbeSettings, records: list[dict]) -> float:
    """One probe's accuracy: read from ``records`` where it was run before, else run."""
    recorded = recorded_accuracy(records, settings)
    return recorded if recorded is not None else probe(run, settings)["accuracy"]


def cell(run: str, seeds: list[int], resume: bool, **settings) -> str:
    """Mean ± std accuracy (%) of one probe over ``seeds`` (label draws), or "—" when refused;
    with ``resume`` the probes recorded in the run's probes.jsonl are reused."""
    try:
        records = RunDir(run).read_probes() if resume else []
        accs = [accuracy(run, ProbeSettings(seed=seed, **settings), records) for seed in seeds]
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
    parser.add_argument("--resume", action="store_true", help="reuse the probes already recorded in probes.jsonl")
    args = parser.parse_args()
    if args.pretraining:
        print("| run | training | test ACC (%) |")
        print("|---|---|---|")
        for run in args.runs:
            for name, extra in PRETRAINING:
                print(f"| {run} | {name} | {cell(run, args.seeds, args.resume, protocol='finetune', labels_fraction=1.0, held_out=True, epochs=args.epochs, **extra)} |")
        return
    fractions = [f"{100 * f:g} % labels" for f in args.fractions]
    print("| run | protocol | " + " | ".join(fractions) + " |")
    print("|---|---|" + "---|" * len(fractions))
    for run in args.runs:
        for name, extra in FEW_LABELS:
            cells = [cell(run, args.seeds, args.resume, labels_fraction=f, epochs=args.epochs, **extra) for f in args.fractions]
            print(f"| {run} | {name} | " + " | ".join(cells) + " |")
    print(f"\naccuracy on the samples whose labels were not used; mean ± std over label draws {args.seeds}")


if __name__ == "__main__":
    main()
