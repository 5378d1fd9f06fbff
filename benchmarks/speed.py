"""Training speed of the IIC step against the bare network, and against per-image augmentation.

    python benchmarks/speed.py --json                                  # CPU
    python benchmarks/speed.py --device cuda --batch 140 --channels-last --json
    python benchmarks/speed.py --backbone cnn-small --width 32 --compare-dataloader

Timings are synchronised (``torch.cuda.synchronize`` around the timed steps on a GPU), views are
made on the timed device, and the random batch is already there.

``step_img_s``: network images per second through the whole IIC step (views made on the device,
both forwards, all heads' sub-heads, the loss, backward, Adam), replayed as a CUDA graph on a GPU
unless ``--no-cuda-graphs``. ``bare_img_s``: forward + backward +
Adam of the same backbone and heads on a ready float batch of the same size with a trivial loss.
``ratio`` = step / bare (the issue asks ≥ 0.8). With ``--compare-dataloader`` it also times the
authors' design: each image augmented on its own in DataLoader worker processes (torch ops per image,
no batching), feeding the same network step.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.data import DataLoader, Dataset

from infoclust.methods import load_config
from infoclust.machine import configure_determinism, select_device
from infoclust.losses import iic_loss
from infoclust.machine import describe
from infoclust.methods import StepContext, build_method, resolve_config
from infoclust.rng import Rng
from infoclust.views import color_jitter, geometric


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, steps: int, warmup: int, device: torch.device = torch.device("cpu")) -> float:
    """Seconds per call of ``fn`` after ``warmup`` calls, the device's queue drained at both ends."""
    for _ in range(warmup):
        fn()
    synchronise(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronise(device)
    return (time.perf_counter() - start) / steps


class PerImageViews(Dataset):
    """The authors' design: one image at a time, its own random tf1 and r tf2 views (worker side)."""

    def __init__(self, images: torch.Tensor, views, repeats: int):
        self.images, self.views, self.repeats = images, views, repeats

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        gen = torch.Generator().manual_seed(i)
        x = self.images[i:i + 1].float() / 255
        first = geometric(x, self.views.tf1, gen)
        second = torch.cat([color_jitter(geometric(x, self.views.tf2, gen), self.views.jitter, gen)
                            for _ in range(self.repeats)])
        return first[0], second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="vgg6c")
    parser.add_argument("--width", type=int, default=None, help="first-stage width (default: the paper's)")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--batch", type=int, default=140, help="unique images per step")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--nondeterministic", action="store_true", help="let cuDNN pick the fastest algorithms")
    parser.add_argument("--no-cuda-graphs", action="store_true", help="run the step eagerly (train.cuda_graphs=false)")
    parser.add_argument("--compare-dataloader", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = select_device(args.device)
    configure_determinism(not args.nondeterministic)
    size = args.image_size
    cfg = load_config(None, [f"model.backbone={args.backbone}", f"train.batch_size={args.batch}",
                             f"train.repeats={args.repeats}", f"train.channels_last={args.channels_last}",
                             f"train.device={device}"]
                      + (["train.cuda_graphs=false"] if args.no_cuda_graphs else [])
                      + ([f"model.width={args.width}"] if args.width else []))
    cfg = resolve_config(cfg, (1, size, size), 10, args.batch)
    method = build_method(cfg, (1, size, size), device)
    images = torch.randint(0, 256, (args.batch, 1, size, size), dtype=torch.uint8, device=device)
    main_pass = next(e for e in range(100) if method.may_report(e))  # a pass of the reported head
    ctx = StepContext(main_pass, 0, Rng.seeded(0, device), torch.arange(args.batch, device=device))
    n_images = args.batch * (1 + args.repeats)  # network inputs per step

    step_s = timed(lambda: method.train_step(images, ctx), args.steps, args.warmup, device)

    model, head = method.model, method.report_head
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)  # a plain loop's Adam (not capturable)
    s = cfg.views.input_size
    ready = torch.rand(n_images, 1, s, s, device=device).contiguous(memory_format=method.memory_format)

    def bare() -> None:
        model.train()
        loss = model(ready, head).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    bare_s = timed(bare, args.steps, args.warmup, device)
    out = {
        "backbone": args.backbone, "width": args.width, "input_size": s, "batch": args.batch,
        "repeats": args.repeats, "channels_last": args.channels_last, "threads": torch.get_num_threads(),
        "device": str(device), "deterministic": not args.nondeterministic,
        "cuda_graphs": getattr(method, "graphs", None) is not None,
        "machine": describe(device), "torch": torch.__version__,
        "step_img_s": round(n_images / step_s, 1), "bare_img_s": round(n_images / bare_s, 1),
        "ratio": round(bare_s / step_s, 3),
    }

    if args.compare_dataloader:
        pool = torch.randint(0, 256, (args.batch * (args.steps + args.warmup + 2), 1, size, size), dtype=torch.uint8)
        loader = DataLoader(PerImageViews(pool, method.views, args.repeats), batch_size=args.batch,
                            num_workers=args.workers, persistent_workers=args.workers > 0)
        r = args.repeats

        def loader_step(batch) -> None:
            first, second = batch  # B×1×S×S, B×r×1×S×S
            second = second.transpose(0, 1).reshape(-1, *first.shape[1:])
            model.train()
            first, second = first.to(device), second.to(device)
            p = model(first.contiguous(memory_format=method.memory_format), head).repeat(1, r, 1)
            q = model(second.contiguous(memory_format=method.memory_format), head)
            loss = iic_loss(p, q).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        it = iter(loader)
        out["dataloader_img_s"] = round(n_images / timed(lambda: loader_step(next(it)), args.steps, args.warmup, device), 1)
        out["dataloader_workers"] = args.workers

    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
