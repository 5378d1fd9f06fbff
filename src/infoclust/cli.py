"""The ``infoclust`` command: train, evaluate, predict, report, probe, grid, list, config show.

Bad input ends in one line ``infoclust: error: ...`` on stderr and exit status 2, never a traceback:
our own errors, and the operating system's (a full disk, a read-only or missing path, too little
memory), which are named with the path they concern. A reader that closes the pipe early
(``infoclust list | head -1``) ends the command quietly with status 141, as a shell tool would.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import textwrap
from pathlib import Path

from . import __version__, prediction
from .data import dataset_help, load_dataset
from .data.embedding import is_embedding_folder
from .errors import ConfigError, InfoclustError, RunFolderError
from .methods import default_method, load_config
from .runs import RunDir, atomic_write_bytes, atomic_write_text, json_safe, write_failure

FIGURE_KEYS = ("acc", "nmi", "ari", "acc_mean", "acc_std", "n_samples", "n_clusters", "selected_sub_head")


def _figures_line(figures: dict) -> str:
    if "n_images" in figures:  # segmentation: the samples are pixels
        what = f"{figures['n_samples']} pixels of {figures['n_images']} images"
    else:
        what = f"{figures['n_samples']} images"
    if "k_choice" in figures:
        choice = figures["k_choice"]
        why = "chosen: the largest eigengap" if choice["read_at"] == choice["chosen"] else f"asked; {choice['chosen']} chosen"
        of_head = f" of head {choice['head']}" if "head" in choice else ""
        what += f"; K = {choice['read_at']} ({why}) of {choice['trained_clusters']} clusters trained{of_head}"
    if "acc" not in figures:
        return f"{what} in {figures['n_clusters']} clusters (no labels of this kind: no ACC/NMI/ARI)"
    scores = f"ACC {figures['acc']:.4f}  NMI {figures['nmi']:.4f}  ARI {figures['ari']:.4f}  "
    if "top5" in figures:
        scores += f"top-5 ACC {figures['top5']:.4f}  "
    if "miou" in figures:
        scores += f"mIoU {figures['miou']:.4f}  "
    if len(figures.get("acc_per_sub_head", [])) <= 1:
        return scores + f"({what})"
    return scores + (f"(lowest-loss sub-head {figures['selected_sub_head']}; mean ACC over sub-heads "
                     f"{figures['acc_mean']:.4f} ± {figures['acc_std']:.4f}; {what})")


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


def _data_name(args: argparse.Namespace) -> str | None:
    """--data, else the config file's dataset, else the embedded digits."""
    return args.data or (None if args.config else "digits")


def _first_stage_data(args: argparse.Namespace) -> dict:
    """--features RUN_DIR as config values: the run that embeds the samples and, without --data,
    the data it was trained and reported on; --features EMB_DIR ('infoclust embed''s output): its
    vectors are the data."""
    if not args.features:
        return {}
    if is_embedding_folder(args.features):
        if args.data:
            raise ConfigError(f"--features '{args.features}' is an embedding: its vectors are the data; drop --data "
                              f"'{args.data}'")
        return {"data__name": args.features}
    values = {"data__features": args.features}
    if not args.data:
        data = RunDir.existing(args.features).read_config().data
        values.update(data__name=data.name, data__root=data.root, data__split=data.split, data__eval_split=data.eval_split)
    return values


def check_before_launch(cfg, nproc: int) -> None:
    """Everything checkable before ``nproc`` processes start, checked once: the config against
    the data's facts and the process count (a batch that does not split, say)."""
    from .data.run_data import load_data
    from .methods import resolve_config

    data, _ = load_data(cfg, progress=False)
    resolve_config(cfg, tuple(data.images.shape[1:]), data.n_classes, len(data),
                   labelled_parts=data.from_labelled_parts() is not None, processes=nproc)


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import train
    from .launcher import launch

    if args.resume:
        out, cfg = args.resume, None
    else:
        data = {"data__name": _data_name(args), **_first_stage_data(args)}
        cfg = load_config(args.config, args.set, method=args.method, seed=args.seed, **data)
        out = args.out or f"runs/{cfg.method}-{Path(cfg.data.name).name}-s{cfg.seed}"
    args.on_interrupt = f"continue it from its last checkpoint with 'infoclust train --resume {out}'"
    worker = int(os.environ.get("WORLD_SIZE", "1")) > 1
    made = [] if worker or args.resume else missing_folders(Path(out).parent)
    if args.nproc > 1 and not worker:
        if cfg is not None and RunDir(out).config_path.exists():
            raise ConfigError(f"'{out}' already holds a run: continue it with --resume, or choose another --out")
        check_before_launch(cfg if cfg is not None else RunDir.existing(out).read_config(), args.nproc)
        argv = _without_nproc(args.argv) + ([] if args.resume or args.out else ["--out", out])
        status = launch(args.nproc, argv)
        if status == 0:
            say_made(made)
        return status
    figures = train(cfg, out, resume=bool(args.resume), progress=not (args.quiet or args.silent),
                    lines=not args.silent)
    if figures:  # rank 0 (or the only process) reports
        say_made(made)
        print(_figures_line(figures))
        if not args.silent:
            print(f"run folder: {out}  (next: infoclust report {out})")
    return 0


def missing_folders(folder: Path) -> list[Path]:
    """The folders of ``folder``'s path that do not exist yet, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def say_made(made: list[Path]) -> None:
    """One line on stderr naming the folders a command made (a typo in --out shows at once)."""
    made = [folder for folder in made if folder.is_dir()]
    if made:
        print(f"infoclust: made folder {made[-1]} (it did not exist{'' if len(made) == 1 else f', nor did {made[0]}'})",
              file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .engine import load_trainer

    from .engine import finished_figures

    regroup = args.clusters is not None or args.head is not None
    figures = None if args.recompute or args.split or regroup else finished_figures(args.run_dir)
    if regroup:
        figures = load_trainer(args.run_dir, eval_split=args.split).figures_at(args.clusters, args.head)
    elif figures is None:
        figures = load_trainer(args.run_dir, eval_split=args.split).evaluate()
    if args.json:
        print(json.dumps(json_safe(figures), allow_nan=False))
    else:
        print(_figures_line(figures))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .engine import load_trainer

    RunDir.existing(args.run_dir)
    out = Path(args.out)
    if out.parent.exists() and not out.parent.is_dir():
        raise RunFolderError(f"--out '{out}': '{out.parent}' is a file; expected a folder to hold the output")
    made = missing_folders(out.parent)
    trained_on = RunDir.existing(args.run_dir).read_config().data.name
    if is_embedding_folder(trained_on) and not is_embedding_folder(args.data):
        from .embedder import embed_like  # images for a run on features: through the same encoder first

        dataset = embed_like(trained_on, args.data, progress=not args.quiet)
    else:
        dataset = load_dataset(args.data, progress=not args.quiet)
    trainer = load_trainer(args.run_dir, dataset=dataset)
    if trainer.method.dense:
        status = _write_label_pngs(trainer, dataset, out)
        say_made(made)
        return status
    if out.is_dir():
        raise RunFolderError(f"--out '{out}' is a folder; expected the path of the CSV file to write")
    post = prediction.reported(trainer.method, trainer.eval_images, trainer.selected_sub_head)
    buf = io.StringIO()
    writer = csv.writer(buf)
    from_folder = Path(args.data).is_dir() and not is_embedding_folder(args.data)
    writer.writerow(["file" if from_folder else "id", "cluster", "confidence"])  # a folder's ids: its files
    for ident, cluster, conf in zip(dataset.ids, post.argmax(1), post.max(1)):
        writer.writerow([ident, int(cluster), f"{conf:.6f}"])
    atomic_write_text(out, buf.getvalue())
    say_made(made)
    print(f"wrote {len(dataset)} assignments to {args.out}")
    return 0


def _write_label_pngs(trainer, dataset, out: Path) -> int:
    """A segmentation run's clusters per pixel: one 8-bit PNG per image, ``OUT/<id>.png``."""
    import numpy as np
    from PIL import Image

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunFolderError(f"--out '{out}' exists; expected a new (or empty) folder for the label PNGs")
    side = dataset.images.shape[2:]
    post = prediction.reported(trainer.method, trainer.eval_images, trainer.selected_sub_head)
    maps = post.argmax(1).reshape(len(dataset), *side).astype(np.uint8)
    for ident, clusters in zip(dataset.ids, maps):
        buffer = io.BytesIO()
        Image.fromarray(clusters).save(buffer, format="png")
        path = out / f"{ident}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
    print(f"wrote {len(dataset)} label PNGs (cluster per pixel) to {out}")
    return 0


def _neighbours_shown(trainer, sub_head: int) -> tuple | None:
    """(training images, their neighbours, their clusters) of a method that pairs neighbours (read
    from the run's cache), for the report's neighbours picture; None for any other method."""
    method = trainer.method
    if not method.pairs_neighbours():
        return None
    trainer.neighbours_ready()
    clusters = prediction.reported(method, trainer.images, sub_head).argmax(1)
    return _shown(trainer.shown_dataset), method.neighbours.cpu().numpy(), clusters


def _shown(data):
    """What the report shows of each item: the images, or the photos behind feature vectors."""
    return data.pictures if data.pictures is not None else data.images


def cmd_report(args: argparse.Namespace) -> int:
    from .engine import finished_figures, load_trainer
    from .report import write_report

    trainer = load_trainer(args.run_dir)
    figures = finished_figures(args.run_dir)
    posteriors = prediction.posteriors(trainer.method, trainer.eval_images)
    if figures is None:  # a stopped run: score its checkpoint
        figures = trainer.evaluate(posteriors)
    sub_head = figures["selected_sub_head"]
    post = posteriors[trainer.method.report_head][sub_head]
    data, labels = trainer.shown_eval_dataset, trainer.scoring_labels()
    page = write_report(trainer.run, _shown(data), None if labels is None else labels.reshape(-1), post.argmax(1),
                        post.max(1), figures, class_names=data.class_names, title=f"{trainer.cfg.method} on {data.name}",
                        features=prediction.features(trainer.method, trainer.eval_images), dense=trainer.method.dense,
                        neighbours=_neighbours_shown(trainer, sub_head))
    print(f"report: {page}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from .probes import ProbeSettings, probe

    settings = ProbeSettings(args.protocol, args.labels_fraction, args.layer, args.seed, args.epochs, args.batch_size,
                             args.lr, args.scratch, args.augment, args.held_out)
    settings.check()
    RunDir.existing(args.run_dir)
    print(json.dumps(json_safe(probe(args.run_dir, settings, progress=not args.quiet)), allow_nan=False))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from .embedder import EmbedSettings, embed

    args.on_interrupt = (f"the chunks written stay in '{args.out}': run the same command again to continue"
                         if args.out else "nothing was changed")
    meta = embed(args.encoder, args.data, args.out, EmbedSettings(args.batch_size, args.workers, args.device),
                 progress=not args.quiet)
    print(f"embedded {meta['n']} images of {meta['data']['name']} with {meta['encoder']}: {meta['dim']}-d features "
          f"in {args.out}")
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from .grid import load_grid, run_grid

    spec = load_grid(args.spec)
    args.on_interrupt = (f"rerun 'infoclust grid {args.spec} --out {args.out}' to continue: finished cells are kept "
                         "and the interrupted one resumes from its last checkpoint")
    made = missing_folders(Path(args.out).parent)
    run_grid(spec, args.seeds, args.out, datasets=args.datasets, progress=not args.quiet)
    say_made(made)
    print(Path(args.out, "table.md").read_text(), end="")
    print(f"tables: {Path(args.out, 'table.md')}, table.csv and cells.csv (one line per run)")
    return 0


def cmd_make_data(args: argparse.Namespace) -> int:
    """Write a dataset made from others: the mosaic segmentation benchmark, or a dataset as vectors."""
    out = Path(args.out)
    made = missing_folders(out.parent)
    if args.kind == "mosaics":
        from .data.mosaics import write_mosaics

        write_mosaics(out, args.train, args.test, args.size, tuple(args.items), args.seed)
        say_made(made)
        print(f"wrote {args.train} + {args.test} mosaics of {args.size}×{args.size} px to {out}")
        return 0
    from .data.vectors import dataset_vectors, npz_bytes

    if out.is_dir():
        raise RunFolderError(f"--out '{out}' is a folder; expected the path of the .npz file to write")
    vectors, labels = dataset_vectors(args.data)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, npz_bytes(vectors, labels))
    say_made(made)
    print(f"wrote {vectors.shape[0]} × {vectors.shape[1]} vectors{'' if labels is None else ' with labels'} to {out}")
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


def cmd_config_show(args: argparse.Namespace) -> int:
    from .config import dump_yaml
    from .data.run_data import load_data
    from .machine import resolve_determinism, select_device
    from .methods import resolve_config

    cfg = load_config(args.config, args.set, method=args.method, data__name=_data_name(args))
    data, _ = load_data(cfg, progress=False)
    resolved = resolve_config(cfg, tuple(data.images.shape[1:]), data.n_classes, len(data))
    t = resolved.train
    t.deterministic = resolve_determinism(t.deterministic, select_device(t.device))
    print(f"# {resolved.method} on {data.name}: {len(data)} samples of shape {tuple(data.images.shape[1:])}; "
          "every automatic value resolved from the data, as 'infoclust train' would")
    print(dump_yaml(resolved), end="")
    return 0


def _keys_epilog(method: str) -> str:
    from .methods import config_keys

    keys = ", ".join(config_keys(method))
    return textwrap.fill(f"config keys for --set (method {method}): {keys}.", width=100) + (
        "\n\nThe values a method and dataset resolve to: infoclust config show --method M --data D")


def named_method(argv: list[str]) -> str:
    """The registered method ``--method M`` names in ``argv`` (so ``--help`` lists its keys), else
    the default one."""
    from .methods import METHODS

    for i, item in enumerate(argv):
        name = argv[i + 1] if item == "--method" and i + 1 < len(argv) else item.partition("=")[2] \
            if item.startswith("--method=") else None
        if name in METHODS:
            return name
    return default_method()


def build_parser(method: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infoclust", description="Cluster unlabelled images by maximising mutual information.")
    parser.add_argument("--version", action="version", version=f"infoclust {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a method on a dataset into a run folder",
                       epilog=_keys_epilog(method or default_method()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", help=f"method name (default {default_method()}); see 'infoclust list'")
    p.add_argument("--data", help="dataset name or path (default digits)")
    p.add_argument("--features", metavar="RUN_DIR|EMB_DIR",
                   help="cluster the samples as a finished run's network embeds them (a second stage, with a "
                        "method of vectors: 'infoclust list'; the data default to that run's), or the features "
                        "of an 'infoclust embed' folder")
    p.add_argument("--config", help="YAML recipe, e.g. configs/iic-mnist.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. train.lr=2e-4 (repeatable)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder to create (default runs/METHOD-DATA-sSEED)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run exactly where its last checkpoint left it")
    p.add_argument("--quiet", action="store_true", help="no progress bar (nor step lines); the start, evaluation and "
                                                        "stop lines and the figures stay")
    p.add_argument("--silent", action="store_true", help="only the final figures (and errors)")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train one model on N processes of this machine (one per GPU, or gloo on CPU); "
                        "several machines: torchrun --nnodes ... -m infoclust train (README)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="ACC / NMI / ARI of a run's checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--recompute", action="store_true",
                   help="score the checkpoint again instead of reading a finished run's summary.json")
    p.add_argument("--split", help="score the checkpoint on this split of the run's dataset instead (e.g. all = "
                                   "train ∪ test for a run reported on test); the run folder is not changed")
    p.add_argument("--clusters", type=int, metavar="K",
                   help="read the run's trained clusters merged into K groups, as n_clusters=auto does with the K it "
                        "chooses (docs/methods.md); the run folder is not changed")
    p.add_argument("--head", metavar="HEAD",
                   help="read this head's trained clusters as K groups instead (e.g. IIC's over-clustering head A, "
                        "IMC-SwAV's prototypes): K from --clusters, else chosen as n_clusters=auto chooses it")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="write cluster assignments of a dataset to CSV (segmentation: label PNGs)")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="dataset name or path")
    p.add_argument("--out", required=True, help="CSV file: id, cluster, confidence; for a segmentation run a new "
                                                "folder of one PNG per image (its cluster per pixel)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("report", help="HTML page with cluster grids, confusion matrix and curves")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("probe", help="accuracy of a run's network with a few labels: linear probe, many-to-one "
                                     "over-clustering, fine-tuning (one JSON line; the report shows them all)")
    p.add_argument("run_dir")
    p.add_argument("--protocol", default="linear", help="linear (default), overcluster or finetune")
    p.add_argument("--labels-fraction", type=float, default=0.1, metavar="F",
                   help="fraction of each class whose labels are used (default 0.1); the rest is scored")
    p.add_argument("--layer", default="trunk", help="linear probe's input: trunk (the method's features), conv (the "
                                                    "last convolution's input, averaged) or y (the posteriors)")
    p.add_argument("--seed", type=int, default=0, help="draws the labelled samples (and seeds fine-tuning)")
    p.add_argument("--epochs", type=int, default=50, help="finetune: passes over the labelled samples (default 50)")
    p.add_argument("--batch-size", type=int, default=64, help="finetune: batch size (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="finetune: Adam's learning rate (default 1e-3)")
    p.add_argument("--scratch", action="store_true", help="finetune: the same network freshly initialised "
                                                          "(the supervised baseline)")
    p.add_argument("--augment", action="store_true", help="finetune: random shifts and horizontal flips")
    p.add_argument("--held-out", action="store_true", help="labels from the dataset's training split (the "
                                                           "fraction may be 1), accuracy on its test split")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("embed", help="the features of every image under an encoder, into a folder "
                                     "that 'infoclust train --features EMB_DIR' clusters (resumable)")
    p.add_argument("--encoder", required=True, help="hf:ORG/NAME[@REVISION] (a Hugging Face model, e.g. "
                                                    "hf:facebook/dinov2-small), a local model folder, or a finished "
                                                    "infoclust run folder (its network's features)")
    p.add_argument("--data", required=True, help="a folder of images (class sub-folders become labels, used only "
                                                 "to score) or a dataset name")
    p.add_argument("--out", required=True, help="the embedding folder to write (EMB_DIR); the same command again "
                                                "continues a stopped run")
    p.add_argument("--batch-size", type=int, default=64, help="images a forward pass (default 64)")
    p.add_argument("--workers", type=int, help="processes decoding images (default: one fewer than the CPUs, at most 4)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("grid", help="run every row × dataset × seed of a grid spec and tabulate ACC")
    p.add_argument("spec", help="grid YAML, e.g. configs/peng-table1.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--datasets", nargs="+", help="run only these columns of the spec (the tables still show every finished run)")
    p.add_argument("--out", default="runs/grid", help="folder of the runs and tables; rerun to continue a grid")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("make-data", help="write a dataset made from others: the Fashion-MNIST mosaic segmentation "
                                         "benchmark, or a dataset as N×D feature vectors")
    kinds = p.add_subparsers(dest="kind", required=True)
    k = kinds.add_parser("mosaics", help="Fashion-MNIST items on crops of two photographs, a class per pixel "
                                         "(a segmentation folder: train/ and test/, images/ + labels/)")
    k.add_argument("out", help="new folder to write")
    k.add_argument("--train", type=int, default=2000, help="training mosaics (default 2000)")
    k.add_argument("--test", type=int, default=500, help="test mosaics (default 500)")
    k.add_argument("--size", type=int, default=64, help="side in px (default 64)")
    k.add_argument("--items", type=int, nargs=2, default=(3, 6), metavar=("MIN", "MAX"),
                   help="items pasted per mosaic, drawn from MIN..MAX (default 3 6): more = less background")
    k.add_argument("--seed", type=int, default=0)
    k.set_defaults(func=cmd_make_data)
    k = kinds.add_parser("vectors", help="a dataset as N×D float32 vectors in a .npz (images, labels), for a method of vectors")
    k.add_argument("data", help="dataset name or path; digits as scikit-learn gives it (values 0..16), others "
                                "flattened with pixels / 255")
    k.add_argument("out", help="the .npz to write")
    k.set_defaults(func=cmd_make_data)

    p = sub.add_parser("list", help="methods, backbones and datasets")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("config", help="print the config a method and dataset resolve to")
    actions = p.add_subparsers(dest="action", required=True)
    p = actions.add_parser("show", help="every config key with the value 'infoclust train' would use")
    p.add_argument("--method", help=f"method name (default {default_method()})")
    p.add_argument("--data", default=None, help="dataset name or path (default: the config's, else digits); read for its shape")
    p.add_argument("--config", help="YAML recipe to start from")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_config_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(named_method(argv)).parse_args(argv)
    args.argv = argv
    if getattr(args, "nproc", 1) < 1:
        print(f"infoclust: error: --nproc {args.nproc}: expected a positive number of processes", file=sys.stderr)
        return 2
    if getattr(args, "resume", None) and (args.method or args.data or args.config or args.set or args.seed is not None or args.out):
        print("infoclust: error: --resume RUN_DIR continues a run with its saved config; drop the other options", file=sys.stderr)
        return 2
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except InfoclustError as exc:
        return _fail(str(exc))
    except BrokenPipeError:  # the reader of stdout has gone: nothing to say, and nowhere to say it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except OSError as exc:  # the system's own: a path that cannot be read or written
        where = Path(exc.filename) if exc.filename else Path(".")
        return _fail(str(write_failure(exc, where)) if exc.errno else f"{exc}")
    except MemoryError:
        return _fail("out of memory: expected data and a train.batch_size that fit this machine's memory; "
                     "try a smaller batch or fewer samples")
    except KeyboardInterrupt:
        print(f"infoclust: interrupted; {getattr(args, 'on_interrupt', 'nothing was changed')}", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    """Print one error line (only the first line of ``message``) and return the exit status 2."""
    print(f"infoclust: error: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
