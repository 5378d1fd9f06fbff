"""The photo-collection path at size (issue 30): peak memory, embed speed, a killed embed, end to end.

    python benchmarks/make_photo_folder.py --n 100000 --out PHOTOS
    python benchmarks/make_photo_folder.py --n 1000 --first 100000 --out NEW_PHOTOS
    python benchmarks/photo_folder.py encoder --out ENCODER
    python benchmarks/photo_folder.py rss --photos PHOTOS --encoder ENCODER --sizes 10000 30000 100000 \
        --work WORK --out results/photo-folder [--before OLD_CHECKOUT]
    python benchmarks/photo_folder.py speed --photos PHOTOS --encoder ENCODER --n 10000 --work WORK --out ...
    python benchmarks/photo_folder.py kill --photos PHOTOS --encoder ENCODER --n 30000 --work WORK --out ...
    python benchmarks/photo_folder.py end-to-end --photos PHOTOS --new NEW_PHOTOS --encoder ENCODER \
        --work WORK --out ...

``encoder``: the small local encoder measured (a randomly initialised DINOv2 shape: 4 layers of
192, patches of 16 on 96 px, DINOv2's kind of processor), saved with save_pretrained.
``rss``: for each N, a folder of the first N photos (hard links into PHOTOS), then
``infoclust embed`` and ``infoclust train`` from pixels (``TRAIN_SETS``: a small IIC, a few minutes)
under ``/usr/bin/time -v``: peak RSS and wall seconds; with ``--before``, the same train command
run by the checkout OLD_CHECKOUT (PYTHONPATH=OLD_CHECKOUT/src: before the on-disk cache).
``speed``: images/s of the whole embed command with 0, 1 and 2 decoding workers, against the
encoder's bare forward on already decoded and preprocessed tensors (same batch size and threads).
``kill``: an embed killed with SIGKILL once half of its chunks are written, then the same command:
its chunks against an uninterrupted embed's, byte for byte; a further embed into the finished
folder must refuse in one line. ``end-to-end``: embed PHOTOS, train TEMI on the features, predict
NEW_PHOTOS, write the report; labels (the class sub-folders) only score.
Each writes OUT/<part>.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

BATCH = 64
TRAIN_SETS = ["views.input_size=32", "views.tf1_crops=[64]", "views.tf2_crops=[64]", "views.eval_crop=64",
              "model.width=16", "train.batch_size=256", "train.repeats=1", "train.epochs=1", "train.eval_every=1",
              "train.select_samples=2000", "train.budget_minutes=3"]


# TEMI's values chosen for Fashion-MNIST's 60k features (docs/results/temi.md): the paper's 100 passes of
# 16 heads at batch 1,024 would take most of an hour here
TEMI_SETS = ["train.epochs=15", "train.batch_size=256", "train.lr=0.002", "train.min_lr=0.0002",
             "objective.teacher_momentum=0.95", "neighbours.k=10", "model.heads=8"]


def infoclust(*args: str) -> list[str]:
    return [sys.executable, "-m", "infoclust", *args]


def timed(command: list[str], env: dict | None = None) -> dict:
    """Run ``command`` under /usr/bin/time -v: {"seconds", "peak_rss_mib", "rc"} (and "tail": the
    output's last lines before time's report, when it failed)."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env)
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    record = {"seconds": round(time.perf_counter() - start, 1),
              "peak_rss_mib": round(int(found.group(1)) / 1024, 1) if found else None, "rc": done.returncode}
    if done.returncode:
        record["tail"] = (done.stdout + done.stderr).strip().splitlines()[-25:-18]  # the error, before time's lines
    return record


def subset(photos: Path, n: int, work: Path) -> Path:
    """A folder of the photos numbered below ``n`` (hard links), made once."""
    folder = work / f"photos-{n}"
    if not folder.is_dir():
        partial = work / f"photos-{n}.partial"
        for path in sorted(photos.glob("*/*.jpg")):
            if int(path.stem) < n:
                (partial / path.parent.name).mkdir(parents=True, exist_ok=True)
                target = partial / path.parent.name / path.name
                if not target.exists():
                    os.link(path, target)
        partial.rename(folder)
    return folder


def make_encoder(out: Path) -> None:
    import transformers

    config = transformers.Dinov2Config(hidden_size=192, num_hidden_layers=4, num_attention_heads=3,
                                       intermediate_size=768, image_size=96, patch_size=16)
    transformers.Dinov2Model(config).save_pretrained(out)
    (out / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"shortest_edge": 96}, "resample": 3, "do_center_crop": True,
        "crop_size": {"height": 96, "width": 96}, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "image_processor_type": "BitImageProcessor"}))


def rss(args) -> dict:
    rows = []
    env_cache = {**os.environ, "INFOCLUST_DATA": str(args.work / "cache")}
    for n in args.sizes:
        folder = subset(args.photos, n, args.work)
        row = {"n": n}
        row["embed"] = timed(infoclust("embed", "--encoder", str(args.encoder), "--data", str(folder), "--out",
                                       str(args.work / f"emb-rss-{n}"), "--quiet", "--batch-size", str(BATCH)))
        train = ["train", "--method", "iic", "--data", str(folder), "--quiet", *sum((["--set", s] for s in TRAIN_SETS), [])]
        row["train"] = timed(infoclust(*train, "--out", str(args.work / f"train-{n}")), env_cache)
        if args.before:
            old = {**env_cache, "PYTHONPATH": str(Path(args.before) / "src")}
            row["train_before"] = timed(infoclust(*train, "--out", str(args.work / f"train-before-{n}")), old)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"sizes": rows, "train_sets": TRAIN_SETS}


def bare_forward(encoder: Path, folder: Path, n: int) -> tuple[float, float]:
    """(images/s of decoding and preprocessing ``n`` photos in this process, images/s of the
    encoder's forward alone on them, already decoded and preprocessed, in batches of BATCH)."""
    import torch

    from infoclust.data.stream import folder_stream
    from infoclust.encoders import load_hub_encoder

    model = load_hub_encoder(str(encoder))
    stream = folder_stream(folder).with_transform(model.preprocessing)
    start = time.perf_counter()
    decoded = [stream[i] for i in range(n)]
    decode_rate = n / (time.perf_counter() - start)
    batches = [torch.from_numpy(np.stack(decoded[s:s + BATCH])) for s in range(0, n, BATCH)]
    model(batches[0])  # warm
    start = time.perf_counter()
    for batch in batches:
        model(batch)
    return decode_rate, n / (time.perf_counter() - start)


def speed(args) -> dict:
    folder = subset(args.photos, args.n, args.work)
    decoding, bare = bare_forward(args.encoder, folder, min(args.n, 4096))
    rows = []
    for workers in (0, 1, 2):
        out = args.work / f"emb-speed-{args.n}-w{workers}"
        got = timed(infoclust("embed", "--encoder", str(args.encoder), "--data", str(folder), "--out", str(out),
                              "--quiet", "--batch-size", str(BATCH), "--workers", str(workers)))
        got.update(workers=workers, images_per_s=round(args.n / got["seconds"], 1),
                   of_bare=round(args.n / got["seconds"] / bare, 3))
        rows.append(got)
        print(json.dumps(got), flush=True)
    return {"n": args.n, "bare_forward_images_per_s": round(bare, 1),
            "decode_preprocess_images_per_s": round(decoding, 1), "commands": rows}


def chunks(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((folder / "chunks").glob("*.npy"))}


def kill(args) -> dict:
    folder = subset(args.photos, args.n, args.work)
    command = lambda out: infoclust("embed", "--encoder", str(args.encoder), "--data", str(folder), "--out", str(out),  # noqa: E731
                                    "--quiet", "--batch-size", str(BATCH))
    whole, cut = args.work / f"emb-whole-{args.n}", args.work / f"emb-cut-{args.n}"
    if not whole.is_dir():
        subprocess.run(command(whole), check=True)
    total = len(chunks(whole))
    proc = subprocess.Popen(command(cut))
    while proc.poll() is None and len(list((cut / "chunks").glob("*.npy"))) < total // 2:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = len(list((cut / "chunks").glob("*.npy")))
    resumed = timed(command(cut))
    same = chunks(cut) == chunks(whole)
    again = subprocess.run(command(cut), capture_output=True, text=True)
    record = {"n": args.n, "chunks": total, "chunks_at_kill": at_kill, "resumed_seconds": resumed["seconds"],
              "bit_identical": same, "again_rc": again.returncode, "again_stderr": again.stderr.strip()}
    print(json.dumps(record), flush=True)
    return record


def end_to_end(args) -> dict:
    emb, run, csv = args.work / "emb-full", args.work / "temi-full", args.work / "new-assignments.csv"
    steps = {
        "embed": infoclust("embed", "--encoder", str(args.encoder), "--data", str(args.photos), "--out", str(emb),
                           "--quiet", "--batch-size", str(BATCH)),
        "train": infoclust("train", "--method", "temi", "--features", str(emb), "--out", str(run), "--quiet",
                           *sum((["--set", s] for s in TEMI_SETS), [])),
        "predict": infoclust("predict", str(run), "--data", str(args.new), "--out", str(csv), "--quiet"),
        "report": infoclust("report", str(run)),
    }
    record = {}
    for name, command in steps.items():
        if name == "embed" and (emb / "embedding.json").is_file() and json.loads((emb / "embedding.json").read_text())["complete"]:
            continue
        record[name] = timed(command)
        print(name, json.dumps(record[name]), flush=True)
    record["summary"] = {k: v for k, v in json.loads((run / "summary.json").read_text()).items()
                         if k in ("acc", "nmi", "ari", "top5_acc", "n_samples", "n_clusters", "cluster_sizes")}
    rows = csv.read_text().splitlines()
    record["predicted"] = {"rows": len(rows) - 1, "header": rows[0]}
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["encoder", "rss", "speed", "kill", "end-to-end"])
    parser.add_argument("--photos", type=Path)
    parser.add_argument("--new", type=Path)
    parser.add_argument("--encoder", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 30000, 100000])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--before", help="a checkout of infoclust before the on-disk cache (today's figures)")
    parser.add_argument("--work", type=Path, default=Path("runs/photo-folder"))
    parser.add_argument("--out", type=Path, default=Path("results/photo-folder"))
    args = parser.parse_args()
    if args.part == "encoder":
        make_encoder(args.out)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    record = {"rss": rss, "speed": speed, "kill": kill, "end-to-end": end_to_end}[args.part](args)
    from infoclust.machine import describe

    record.update(date=date.today().isoformat(), machine=describe(), command=" ".join(sys.argv))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.part}.json").write_text(portable(json.dumps(record, indent=1), args) + "\n")


def portable(text: str, args: argparse.Namespace) -> str:
    """``text`` with this machine's folders written as the placeholders of the usage lines
    (PHOTOS, NEW_PHOTOS, OLD_CHECKOUT, WORK, ENCODER), so that a committed record names no machine's path."""
    named = {"PHOTOS": args.photos, "NEW_PHOTOS": args.new, "OLD_CHECKOUT": args.before, "WORK": args.work,
             "ENCODER": args.encoder}
    for name, folder in sorted(named.items(), key=lambda item: -len(str(item[1] or ""))):
        if folder:
            text = text.replace(str(Path(folder).resolve()), name).replace(str(folder), name)
    return text


if __name__ == "__main__":
    main()
