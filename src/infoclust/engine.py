"""The training loop: device, seeding, epochs/steps, progress, evaluation, checkpoint and resume.

It knows no method's math: it asks the method which head a pass trains (``phase``), hands it
batches of uint8 images (``train_step``) and evaluates through ``predict`` / ``selection_loss``.
All randomness comes from seeded generators whose state is checkpointed, so a resumed run
reproduces an uninterrupted one on the same machine.
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from .config import RunConfig
from .data import Dataset, load_dataset
from .errors import CheckpointError, ConfigError, DataError, TrainingError
from .evaluation import summarize_heads
from .machine import describe
from .methods import MAIN, OVER, build_method, resolve_config
from .runs import RunDir, atomic_write_text

LOG_EVERY = 10  # steps between "train" lines in metrics.jsonl
EVAL_CHUNK = 1024  # images per forward pass during evaluation


def select_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; otherwise the named device (must exist)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device = '{name}': expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device = '{name}' but CUDA is not available here: use auto or cpu")
    return device


def sample_tensor(dataset: Dataset) -> torch.Tensor:
    """The dataset's samples as a tensor: uint8 N×C×H×W images or float32 N×D vectors."""
    return torch.from_numpy(np.ascontiguousarray(dataset.images))


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    elapsed_s: float = 0.0
    stopped_by_budget: bool = False
    reported_step: int | None = None  # the step whose model is reported, when not the last one


class Trainer:
    """Trains ``cfg.method`` on ``dataset``; with a ``run`` folder it logs, checkpoints and resumes."""

    def __init__(self, cfg: RunConfig, dataset: Dataset, run: RunDir | None = None, progress: bool = True):
        images = sample_tensor(dataset)
        self.cfg = resolve_config(cfg, tuple(images.shape[1:]), dataset.n_classes)
        self.dataset, self.run, self.show_progress = dataset, run, progress
        self.device = select_device(self.cfg.train.device)
        self.images = images.to(self.device)  # images or vectors: the samples
        self.labels = dataset.labels
        torch.manual_seed(self.cfg.seed)
        self.method = build_method(self.cfg, tuple(images.shape[1:]), self.device)
        self.method.prepare(self.images)
        self.gen = _generator(self.device, self.cfg.seed + 1)
        self.state = Progress()
        self.main_snapshot: tuple[int, dict] | None = None  # (step, method state) after the last main pass (see fit)
        self.last_eval: dict = {}
        self.pending_losses: list[float] = []  # losses since the last "train" log line

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.images) // self.cfg.train.batch_size)

    def _order(self, epoch: int) -> torch.Tensor:
        """Sample order of one epoch: a function of (seed, epoch) only, so resume needs no state."""
        return torch.randperm(len(self.images), generator=torch.Generator().manual_seed(self.cfg.seed * 100003 + epoch))

    # ----------------------------------------------------------------- checkpoint
    def checkpoint(self) -> None:
        if self.run is None:
            return
        self.run.save_checkpoint({
            "method": self.method.state_dict(),
            "generator": self.gen.get_state(),
            "progress": vars(self.state).copy(),
            "metrics_bytes": self.run.metrics_size(),
            "last_eval": json.dumps(self.last_eval),
            "pending_losses": torch.tensor(self.pending_losses, dtype=torch.float64),
            "image_shape": list(self.images.shape[1:]),
            **({"main_snapshot": {"step": self.main_snapshot[0], "state": self.main_snapshot[1]}}
               if self.main_snapshot is not None else {}),
        })

    def restore(self) -> None:
        """Continue from ``run``'s checkpoint."""
        ckpt = self.run.load_checkpoint(map_location=self.device)
        shape = tuple(self.images.shape[1:])
        if tuple(ckpt.get("image_shape", shape)) != shape:
            raise DataError(f"dataset '{self.dataset.name}' has images of shape {shape} (C, H, W); "
                            f"the run '{self.run.root}' was trained on {tuple(ckpt['image_shape'])}")
        try:
            self.method.load_state_dict(ckpt["method"])
            self.gen.set_state(ckpt["generator"].cpu())  # generator states are CPU byte tensors on every device
            self.state = Progress(**ckpt["progress"])
            self.last_eval = json.loads(ckpt.get("last_eval", "{}"))
            self.pending_losses = ckpt["pending_losses"].tolist()
            snapshot = ckpt.get("main_snapshot")
            self.main_snapshot = None if snapshot is None else (int(snapshot["step"]), snapshot["state"])
        except (KeyError, RuntimeError, TypeError) as exc:
            raise CheckpointError(f"checkpoint '{self.run.checkpoint_path}' does not match this run's config: {str(exc).splitlines()[0][:200]}") from None
        self.run.truncate_metrics(ckpt["metrics_bytes"])

    # ----------------------------------------------------------------- evaluation
    @torch.no_grad()
    def predict_posteriors(self) -> dict[str, np.ndarray]:
        """{head: h×N×K posteriors} of every image, evaluation view."""
        chunks: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(self.images), EVAL_CHUNK):
            for head, post in self.method.predict(self.images[start:start + EVAL_CHUNK]).items():
                chunks.setdefault(head, []).append(post.float().cpu().numpy())
        return {head: np.concatenate(parts, axis=1) for head, parts in chunks.items()}

    @property
    def selected_sub_head(self) -> int:
        """The main head's sub-head chosen (by lowest loss, no labels) at the last evaluation."""
        if "selected_sub_head" not in self.last_eval:
            raise CheckpointError("this run has no evaluation yet: train it (or resume it) first")
        return self.last_eval["selected_sub_head"]

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Figures of the current model on the whole dataset (labels used only for scoring)."""
        n = len(self.images)
        posteriors = self.predict_posteriors()
        sel_gen = _generator(self.device, self.cfg.seed + 7)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.cfg.seed + 7))
        order = order[: min(n, self.cfg.train.select_samples)]
        bs = self.cfg.train.batch_size
        losses = []
        for i in range(0, max(len(order) - bs + 1, 1), bs):
            idx = order[i:i + bs].to(self.device)
            losses.append(self.method.selection_loss(self.images[idx], sel_gen, idx).cpu())
        sub_head_loss = torch.stack(losses).mean(0).numpy()
        self.posteriors = posteriors
        return summarize_heads(posteriors, sub_head_loss, self.labels, main=MAIN, over=OVER)

    def _log_eval(self) -> dict:
        t0 = time.perf_counter()
        figures = self.evaluate()
        figures.update(epoch=self.state.epoch, step=self.state.global_step,
                       model_step=self.state.global_step if self.state.reported_step is None else self.state.reported_step,
                       time_s=round(self.state.elapsed_s, 2), eval_s=round(time.perf_counter() - t0, 2))
        self.last_eval = figures
        if self.run is not None:
            self.run.append_metrics({"kind": "eval", **figures})
        return figures

    # ----------------------------------------------------------------- training
    def fit(self) -> dict:
        """Train until ``train.epochs`` (or ``train.budget_minutes``) and return the last figures."""
        t = self.cfg.train
        total = t.epochs * self.steps_per_epoch
        budget_s = t.budget_minutes * 60 if t.budget_minutes else math.inf
        bar = tqdm(total=total, initial=self.state.global_step, unit="step", disable=not self.show_progress,
                   dynamic_ncols=True, desc=f"{self.cfg.method} {self.dataset.name}")
        losses = self.pending_losses
        seen, window_start = 0, time.perf_counter()
        while self.state.epoch < t.epochs and not self.state.stopped_by_budget:
            order, phase = self._order(self.state.epoch), self.method.phase(self.state.epoch)
            while self.state.step_in_epoch < self.steps_per_epoch:
                t0 = time.perf_counter()
                idx = order[self.state.step_in_epoch * t.batch_size:(self.state.step_in_epoch + 1) * t.batch_size]
                idx = idx.to(self.device)
                stats = self.method.train_step(self.images[idx], phase, self.gen, idx)
                if not math.isfinite(stats["loss"]):
                    raise TrainingError(f"the loss became {stats['loss']} at step {self.state.global_step}: "
                                        f"expected a finite loss; try a lower train.lr (now {t.lr})")
                self.state.elapsed_s += time.perf_counter() - t0
                self.state.step_in_epoch += 1
                self.state.global_step += 1
                losses.append(stats["loss"])
                seen += len(idx)
                bar.update(1)
                if self.state.global_step % LOG_EVERY == 0:
                    rate = seen / max(time.perf_counter() - window_start, 1e-9)
                    bar.set_postfix(head=phase, loss=f"{np.mean(losses):.4f}", img_s=f"{rate:.0f}")
                    if self.run is not None:
                        self.run.append_metrics({"kind": "train", "epoch": self.state.epoch, "step": self.state.global_step,
                                                 "head": phase, "loss": float(np.mean(losses)), "img_s": rate,
                                                 "time_s": round(self.state.elapsed_s, 2)})
                    losses.clear()
                    seen, window_start = 0, time.perf_counter()
                if self.state.elapsed_s >= budget_s:
                    self.state.stopped_by_budget = True
                    break
                if self.state.global_step % t.checkpoint_every == 0:
                    self.checkpoint()
            if not self.state.stopped_by_budget:
                if phase == MAIN and t.budget_minutes:  # the budget may yet cut a pass of another head
                    self.main_snapshot = (self.state.global_step, copy.deepcopy(self.method.state_dict()))
                self.state.epoch += 1
                self.state.step_in_epoch = 0
            elif phase != MAIN and self.main_snapshot is not None:
                # the budget cut a pass of another head, which moves the trunk under the main head:
                # report (and keep) the model as the last main-head pass left it; no labels involved
                self.state.reported_step, state = self.main_snapshot
                self.method.load_state_dict(state)
            last = self.state.epoch >= t.epochs or self.state.stopped_by_budget
            if last or (self.run is not None and self.state.epoch % t.eval_every == 0):  # nothing to log to
                figures = self._log_eval()
                if "acc" in figures:
                    if self.show_progress:
                        bar.write(f"epoch {self.state.epoch}: ACC {figures['acc']:.4f}  NMI {figures['nmi']:.4f}  ARI {figures['ari']:.4f}"
                              f"  (sub-head {figures['selected_sub_head']}, mean ACC {figures['acc_mean']:.4f})")
                self.checkpoint()
        bar.close()
        if not self.last_eval:
            self._log_eval()
        if self.run is not None:  # the summary also names the machine that finished the run
            summary = {**self.last_eval, "machine": describe(self.device)}
            atomic_write_text(self.run.summary_path, json.dumps(summary, indent=2))
        return self.last_eval


def load_data(cfg: RunConfig, progress: bool = True) -> Dataset:
    return load_dataset(cfg.data.name, split=cfg.data.split, root=cfg.data.root, progress=progress)


def train(cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train into run folder ``out`` (new), or continue it with ``resume=True``; returns the figures."""
    if resume:
        run = RunDir.existing(out)
        cfg = run.read_config()
        trainer = Trainer(cfg, load_data(cfg, progress), run, progress)
        if run.has_checkpoint():
            trainer.restore()
        else:  # stopped before its first checkpoint: it starts over, so its old log lines go
            run.truncate_metrics(0)
    else:
        run = RunDir(out)
        if run.config_path.exists():
            raise ConfigError(f"'{out}' already holds a run: continue it with --resume, or choose another --out")
        trainer = Trainer(cfg, load_data(cfg, progress), run, progress)
        run.write_config(trainer.cfg)
    return trainer.fit()


def run_to_end(out: str | Path, make_config: Callable[[], RunConfig], progress: bool = True) -> dict:
    """The figures of the run in folder ``out``: read when it has finished, resumed when it stopped,
    else trained from ``make_config()``. Rerunning a benchmark or a grid continues it this way."""
    run = RunDir(out)
    if run.summary_path.is_file():
        return json.loads(run.summary_path.read_text())
    if run.config_path.is_file():
        return train(None, out, resume=True, progress=progress)
    return train(make_config(), out, progress=progress)


def load_trainer(out: str | Path, progress: bool = False, dataset: Dataset | None = None) -> Trainer:
    """A trainer restored from a run folder's checkpoint (for evaluate / predict / report)."""
    run = RunDir.existing(out)
    cfg = run.read_config()
    trainer = Trainer(cfg, dataset if dataset is not None else load_data(cfg, progress), run, progress)
    trainer.restore()
    return trainer
