"""The ``infoclust`` command: train, evaluate, predict, report, grid, list.

Bad input ends in one line ``infoclust: error: ...`` on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from . import __version__
from .config import load_config
from .data import dataset_help, load_dataset
from .errors import ConfigError, InfoclustError
from .runs import RunDir, atomic_write_text

FIGURE_KEYS = ("acc", "nmi", "ari", "acc_mean", "acc_std", "n_samples", "n_clusters", "selected_sub_head")


def _figures_line(figures: dict) -> str:
    if "acc" not in figures:
        return f"{figures['n_samples']} images in {figures['n_clusters']} clusters (no labels: no ACC/NMI/ARI)"
    return (f"ACC {figures['acc']:.4f}  NMI {figures['nmi']:.4f}  ARI {figures['ari']:.4f}  "
            f"(lowest-loss sub-head {figures['selected_sub_head']}; mean ACC over sub-heads "
            f"{figures['acc_mean']:.4f} ± {figures['acc_std']:.4f}; {figures['n_samples']} images)")


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``infoclust`` ``argv`` in ``nproc`` processes on this machine through torchrun."""
    from .machine import choose_threads

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "infoclust", *argv]
    env = {**os.environ, "OMP_NUM_THREADS": str(choose_threads(0, nproc))}
    return subprocess.run(cmd, env=env).returncode


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            out.append(item)
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import train

    if args.resume:
        out, cfg = args.resume, None
    else:
        data = args.data or (None if args.config else "digits")
        cfg = load_config(args.config, args.set, method=args.method, seed=args.seed, data__name=data)
        out = args.out or f"runs/{cfg.method}-{Path(cfg.data.name).name}-s{cfg.seed}"
    if args.nproc > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        if cfg is not None and RunDir(out).config_path.exists():
            raise ConfigError(f"'{out}' already holds a run: continue it with --resume, or choose another --out")
        argv = _without_nproc(args.argv) + ([] if args.resume or args.out else ["--out", out])
        return launch(args.nproc, argv)
    figures = train(cfg, out, resume=bool(args.resume), progress=not args.quiet)
    if figures:  # rank 0 (or the only process) reports
        print(_figures_line(figures))
        print(f"run folder: {out}  (next: infoclust report {out})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .engine import load_trainer

    figures = load_trainer(args.run_dir).evaluate()
    if args.json:
        print(json.dumps(figures))
    else:
        print(_figures_line(figures))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .engine import load_trainer

    RunDir.existing(args.run_dir)
    dataset = load_dataset(args.data, progress=not args.quiet)
    trainer = load_trainer(args.run_dir, dataset=dataset)
    post = trainer.reported_posteriors(trainer.predict_posteriors(), trainer.selected_sub_head)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "cluster", "confidence"])
    for ident, cluster, conf in zip(dataset.ids, post.argmax(1), post.max(1)):
        writer.writerow([ident, int(cluster), f"{conf:.6f}"])
    atomic_write_text(Path(args.out), buf.getvalue())
    print(f"wrote {len(dataset)} assignments to {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .engine import load_trainer
    from .report import write_report

    trainer = load_trainer(args.run_dir)
    figures = trainer.evaluate()
    post = trainer.reported_posteriors(trainer.posteriors, figures["selected_sub_head"])
    data = trainer.eval_dataset
    page = write_report(trainer.run, data.images, data.labels, post.argmax(1), post.max(1), figures,
                        class_names=data.class_names, title=f"{trainer.cfg.method} on {data.name}")
    print(f"report: {page}")
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from .grid import load_grid, run_grid

    spec = load_grid(args.spec)
    run_grid(spec, args.seeds, args.out, datasets=args.datasets, progress=not args.quiet)
    print(Path(args.out, "table.md").read_text(), end="")
    print(f"tables: {Path(args.out, 'table.md')}, table.csv and cells.csv (one line per run)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .methods import METHODS
    from .models import BACKBONES

    print("methods:")
    for name, spec in METHODS.items():
        print(f"  {name:<10} {spec.summary}")
    print("backbones: " + ", ".join(BACKBONES))
    print("datasets:")
    for line in dataset_help().splitlines():
        print("  " + line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infoclust", description="Cluster unlabelled images by maximising mutual information.")
    parser.add_argument("--version", action="version", version=f"infoclust {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a method on a dataset into a run folder")
    p.add_argument("--method", help="method name (default iic); see 'infoclust list'")
    p.add_argument("--data", help="dataset name or path (default digits)")
    p.add_argument("--config", help="YAML recipe, e.g. configs/iic-mnist.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. train.lr=2e-4 (repeatable)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder to create (default runs/METHOD-DATA-sSEED)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run exactly where its last checkpoint left it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train one model on N processes of this machine (one per GPU, or gloo on CPU); "
                        "several machines: torchrun --nnodes ... -m infoclust train (README)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="ACC / NMI / ARI of a run's checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="write cluster assignments of a dataset to CSV")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="dataset name or path")
    p.add_argument("--out", required=True, help="CSV file: id, cluster, confidence")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("report", help="HTML page with cluster grids, confusion matrix and curves")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("grid", help="run every row × dataset × seed of a grid spec and tabulate ACC")
    p.add_argument("spec", help="grid YAML, e.g. configs/peng-table1.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--datasets", nargs="+", help="run only these columns of the spec (the tables still show every finished run)")
    p.add_argument("--out", default="runs/grid", help="folder of the runs and tables; rerun to continue a grid")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("list", help="methods, backbones and datasets")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    if getattr(args, "nproc", 1) < 1:
        print(f"infoclust: error: --nproc {args.nproc}: expected a positive number of processes", file=sys.stderr)
        return 2
    if getattr(args, "resume", None) and (args.method or args.data or args.config or args.set or args.seed is not None or args.out):
        print("infoclust: error: --resume RUN_DIR continues a run with its saved config; drop the other options", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except InfoclustError as exc:
        print(f"infoclust: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("infoclust: interrupted; a run continues from its last checkpoint with 'infoclust train --resume RUN_DIR'", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
