"""The training loop: device, seeding, passes and steps, progress, evaluation, checkpoint and resume.

It knows no method's math and no method's names: it talks to a method only through the contract of
``methods.base.Method`` (``train_step``, ``predict``, ``selection_scores``, ``may_report``, state).
All randomness comes from seeded generators whose state is checkpointed, so a resumed run
reproduces an uninterrupted one on the same machine; with ``train.deterministic`` that holds on
CUDA too. Under torchrun every process trains its shard of each global batch and rank 0 alone
evaluates and writes (``infoclust.distributed``).
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .cluster_count import DEFAULT_MAX_CLUSTERS, NEIGHBOURS, ClusterCount, count_clusters, neighbour_joint
from .collapse import WINDOWS, collapse_reason
from .config import RunConfig
from .data import Dataset
from .data.run_data import data_record, load_data
from .distributed import DistContext, close_process_group, from_environment, init_process_group
from .errors import CheckpointError, ConfigError, DataError, TrainingError
from .evaluation import HeadTally, summarize_tallies
from .machine import choose_threads, configure_determinism, describe, resolve_determinism, select_device
from .methods import Method, StepContext, build_method, resolve_config
from .neighbours import nearest_neighbours
from .prediction import features, posterior_chunks, posteriors, sample_tensor
from .progress import RunConsole
from .rng import Rng
from .runs import RunCache, RunDir, atomic_write_text, json_safe

LOG_EVERY = 10  # steps between "train" lines in metrics.jsonl (and host syncs for the loss parts)
CURVE_KEYS = ("epoch", "step", "model_step", "time_s", "acc", "top5", "nmi", "ari", "nmi_geometric", "acc_mean",
              "selected_sub_head")


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    elapsed_s: float = 0.0
    stopped_by_budget: bool = False
    stop_reason: str = ""  # why the run stopped: "epochs" (all passes done) or "budget" (summary.json's stopped_by)
    reported_step: int | None = None  # the step whose model is reported, when not the last one
    recent_losses: list[float] = field(default_factory=list)  # mean loss of the last log windows
    collapsed_at_step: int | None = None  # where a collapse was seen (train.on_collapse = continue)


class LossWindow:
    """Sums of the loss parts since the last log line, kept on the device (no host sync per step).
    A part need not come every step (DCCS's critic and encoder steps return different parts): each
    is averaged over the steps that returned it."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, parts: dict[str, torch.Tensor]) -> None:
        for key, value in parts.items():
            value = value.detach().reshape(()).double()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1

    def finite(self) -> bool:
        """Whether every sum is finite (one host sync)."""
        return not self.sums or bool(torch.isfinite(torch.stack(list(self.sums.values()))).all())

    def means(self, dist: DistContext) -> dict[str, float]:
        """Mean of each part over the steps that returned it and the processes (one host sync)."""
        if not self.sums:
            return {}
        counts = torch.tensor([self.counts[k] for k in self.sums], dtype=torch.float64)
        values = dist.mean_values(torch.stack(list(self.sums.values())) / counts.to(self.device)).tolist()
        return dict(zip(self.sums, values))

    @property
    def device(self) -> torch.device:
        return next(iter(self.sums.values())).device

    def clear(self) -> None:
        self.sums, self.counts = {}, {}

    def state(self) -> dict:
        return {"keys": list(self.sums), "counts": [self.counts[k] for k in self.sums],
                "sums": torch.stack(list(self.sums.values())).cpu() if self.sums else torch.zeros(0, dtype=torch.float64)}

    def load(self, state: dict, device: torch.device) -> None:
        sums = state["sums"].to(device)
        self.sums = {key: sums[i] for i, key in enumerate(state["keys"])}
        self.counts = dict(zip(state["keys"], (int(c) for c in state["counts"])))


class Trainer:
    """Trains ``cfg.method`` on ``dataset``; with a ``run`` folder it logs, checkpoints and resumes.

    ``eval_dataset``: the samples the figures are reported on (default: the training samples);
    ``dist``: this process's place in a distributed run (one process by default); ``training``:
    False when ``dataset`` is only predicted (any number of samples will do); ``prepare``: False
    for a trainer that only predicts, which skips the method's per-dataset precomputation (IMSAT's
    radii: a nearest-neighbour search over every sample). ``progress``: the progress bar (a step
    line a minute where stderr is no terminal); ``lines``: the start, evaluation and stop lines
    (default: as ``progress``).
    """

    def __init__(self, cfg: RunConfig, dataset: Dataset, run: RunDir | None = None, progress: bool = True,
                 eval_dataset: Dataset | None = None, dist: DistContext = DistContext(), training: bool = True,
                 prepare: bool = True, lines: bool | None = None):
        # the samples as given (images, for pictures), before a first stage embeds them
        self.shown_dataset, self.shown_eval_dataset = dataset, eval_dataset if eval_dataset is not None else dataset
        if cfg.data.features:  # two stages: the first stage's network turns every sample into a vector
            dataset, eval_dataset = embedded_by(cfg.data.features, dataset, eval_dataset)
        images = sample_tensor(dataset)
        shape = tuple(images.shape[1:])
        labelled = dataset.from_labelled_parts()
        self.cfg = resolve_config(cfg, shape, dataset.n_classes, len(dataset) if training else None,
                                  labelled_parts=labelled is not None, processes=dist.world_size)
        self.dataset, self.run, self.dist = dataset, run, dist
        self.eval_dataset = eval_dataset if eval_dataset is not None else dataset
        if tuple(self.eval_dataset.images.shape[1:]) != shape:
            raise DataError(f"the evaluation split has samples of shape {tuple(self.eval_dataset.images.shape[1:])}; "
                            f"expected {shape} like the training split")
        self.show_progress = progress and dist.is_main  # the bar (a step line a minute off a terminal)
        self.show_lines = (progress if lines is None else lines) and dist.is_main  # start, evaluation, stop lines
        self.resumed_from: int | None = None  # the step a resumed run continues from (0: no checkpoint yet)
        t = self.cfg.train
        torch.set_num_threads(choose_threads(t.threads, dist.local_world_size))
        self.device = select_device(t.device, dist)
        t.deterministic = resolve_determinism(t.deterministic, self.device)
        configure_determinism(t.deterministic)
        self.images = images.to(self.device)  # images or vectors: the training samples
        self.labelled = None if labelled is None else torch.from_numpy(labelled).to(self.device)
        self.eval_images = self.images if eval_dataset is None else sample_tensor(eval_dataset).to(self.device)
        torch.manual_seed(self.cfg.seed)
        self.method = build_method(self.cfg, shape, self.device, dist)
        self.prepared = False  # whether the method's per-dataset precomputation has seen self.images
        if prepare:
            self.prepare(RunCache(run, dist.is_main) if run is not None else None)
        self.rng = Rng.seeded(self.cfg.seed + 1, self.device, dist.rank, dist.world_size)
        self.state = Progress()
        self.snapshot: tuple[int, dict] | None = None  # (step, method state) the last reportable pass left
        self.last_eval: dict = {}
        self.curve: list[dict] = []  # the evaluations so far, in the summary
        self.window = LossWindow()
        self.checkpointed_step: int | None = None  # the step of the checkpoint on disk
        self.checkpointed_at = time.perf_counter()  # when it was written (or training began), seconds

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.images) // self.cfg.train.batch_size)

    def _order(self, epoch: int) -> torch.Tensor:
        """Sample order of one epoch: a function of (seed, epoch) only, so resume needs no state."""
        return torch.randperm(len(self.images), generator=torch.Generator().manual_seed(self.cfg.seed * 100003 + epoch))

    def _shard(self, order: torch.Tensor, step: int) -> torch.Tensor:
        """This process's contiguous share of global batch ``step`` of an epoch's ``order``."""
        b, w = self.cfg.train.batch_size, self.dist.world_size
        batch = order[step * b:(step + 1) * b]
        share = b // w
        return batch[self.dist.rank * share:(self.dist.rank + 1) * share].to(self.device)

    # ----------------------------------------------------------------- checkpoint
    def checkpoint(self) -> None:
        if self.run is None or not self.dist.is_main:
            return
        if not self.window.finite():
            self._diverged()
        self.run.save_checkpoint({
            "method": self.method.state_dict(),
            "generator": self.rng.get_state(),
            "progress": vars(self.state).copy(),
            "metrics_bytes": self.run.metrics_size(),
            "last_eval": json.dumps(self.last_eval),
            "curve": json.dumps(self.curve),
            "window": self.window.state(),
            "image_shape": list(self.images.shape[1:]),
            **({"snapshot": {"step": self.snapshot[0], "state": self.snapshot[1]}} if self.snapshot is not None else {}),
        })
        self.checkpointed_step = self.state.global_step
        self.checkpointed_at = time.perf_counter()

    def _checkpoint_due(self) -> bool:
        """Every ``train.checkpoint_every`` steps where set, else every ``train.checkpoint_minutes``
        of wall-clock time: on a GPU a fixed step count can mean a checkpoint every second."""
        t = self.cfg.train
        if t.checkpoint_every is not None:
            return self.state.global_step % t.checkpoint_every == 0
        return time.perf_counter() - self.checkpointed_at >= t.checkpoint_minutes * 60

    def restore(self, truncate_log: bool = False) -> None:
        """Continue from ``run``'s checkpoint; ``truncate_log`` (when training on) drops the log lines
        written after it. Reading a run for evaluation never writes to it."""
        ckpt = self.run.load_checkpoint(map_location=self.device)
        shape = tuple(self.images.shape[1:])
        if tuple(ckpt.get("image_shape", shape)) != shape:
            raise DataError(f"dataset '{self.dataset.name}' has images of shape {shape} (C, H, W); "
                            f"the run '{self.run.root}' was trained on {tuple(ckpt['image_shape'])}")
        try:
            self.method.load_state_dict(ckpt["method"])
            self.rng.set_state(ckpt["generator"])
            self.state = Progress(**ckpt["progress"])
            self.checkpointed_step = self.state.global_step
            self.last_eval = json.loads(ckpt.get("last_eval", "{}"))
            self.curve = json.loads(ckpt.get("curve", "[]"))
            self.window.load(ckpt["window"], self.device)
            snapshot = ckpt.get("snapshot")
            self.snapshot = None if snapshot is None else (int(snapshot["step"]), snapshot["state"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint '{self.run.checkpoint_path}' does not match this run's config: "
                                  f"{str(exc).splitlines()[0][:200]}") from None
        if truncate_log and self.dist.is_main:
            self.run.truncate_metrics(ckpt["metrics_bytes"])

    # ----------------------------------------------------------------- evaluation
    def scoring_labels(self) -> np.ndarray | None:
        """The evaluation labels that can score this method's posteriors, one row per sample (its
        label, or its pixels' labels for a dense method), or None: none, or of the other kind."""
        data = self.eval_dataset
        if data.labels is None or data.is_dense != self.method.dense:
            return None
        return data.labels.reshape(len(data), -1)

    def prepare(self, cache: RunCache | None) -> None:
        """The method's per-dataset precomputation over the training samples (``cache``: kept there)."""
        self.method.prepare(self.images, cache)
        self.prepared = True

    def neighbours_ready(self) -> None:
        """A trainer restored to evaluate or report, of a method that pairs neighbours: mine them
        now from the run's cache (written by its training; nothing is written)."""
        if not self.prepared and self.method.pairs_neighbours():
            self.prepare(RunCache(self.run, writes=False) if self.run is not None else None)

    @torch.no_grad()
    def selection_scores(self) -> np.ndarray | None:
        """Label-free score per sub-head of the reported head, over ``select_samples`` training samples
        in batches of the training size (this process alone, its own seeded generator)."""
        self.neighbours_ready()
        n, t = len(self.images), self.cfg.train
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.cfg.seed + 7))[: min(n, t.select_samples)]
        rng = Rng.seeded(self.cfg.seed + 7, self.device)
        scores = []
        for i in range(0, max(len(order) - t.batch_size + 1, 1), t.batch_size):
            idx = order[i:i + t.batch_size].to(self.device)
            ctx = StepContext(self.state.epoch, self.state.global_step, rng, idx, self.dist.local)
            score = self.method.selection_scores(self.images[idx], ctx)
            if score is None:
                return None
            scores.append(score.float().cpu())
        return torch.stack(scores).mean(0).numpy()

    @property
    def selected_sub_head(self) -> int:
        """The reported head's sub-head chosen (by lowest loss, no labels) at the last evaluation."""
        if "selected_sub_head" not in self.last_eval:
            raise CheckpointError("this run has no evaluation yet: train it (or resume it) first")
        return self.last_eval["selected_sub_head"]

    @torch.no_grad()
    def evaluate(self, posteriors: dict[str, np.ndarray] | None = None) -> dict:
        """Figures of the current model on the evaluation samples (labels used only for scoring),
        accumulated chunk by chunk (``evaluation.HeadTally``): a segmentation set's posteriors per
        pixel are never held at once. ``posteriors``: those of ``prediction.posteriors`` of the
        evaluation samples, when the caller holds them already."""
        labels = self.scoring_labels()
        tallies: dict[str, HeadTally] = {}
        chunks = posterior_chunks(self.method, self.eval_images) if posteriors is None else [(0, posteriors)]
        for start, chunk in chunks:
            for head, post in chunk.items():
                n = post.shape[1] // (1 if labels is None else labels.shape[1])  # samples in this chunk
                part = None if labels is None else labels[start:start + n].reshape(-1)
                tallies.setdefault(head, HeadTally.empty(post.shape[0], post.shape[2])).add(post, part)
        figures = summarize_tallies(tallies, self.selection_scores(), self.method.report_head, labels is not None,
                                    dense=self.method.dense)
        figures["train_split"] = self.dataset.split
        figures["eval_split"] = self.eval_dataset.split
        if self.method.dense:
            figures["n_images"] = len(self.eval_dataset)  # n_samples counts pixels
        return figures

    @torch.no_grad()
    def choose_clusters(self, k: int | None = None, head: str | None = None) -> ClusterCount:
        """Read the S trained clusters of ``head`` (None: the report head; e.g. IIC's over-clustering
        head "A", IMC-SwAV's "prototypes") as K groups (``cluster_count``): per sub-head, the joint
        of the clusters of neighbour pairs (k-NN in the method's features) over the training
        samples; K the largest eigengap of the selected sub-head's, up to ``model.max_clusters``
        (the report head's S when unset; another head's: at most 50), or ``k`` when given; every
        sub-head merged into K groups by its own graph. From here on the method reports the K groups
        (``Method.cluster_groups``, h×S, of ``Method.grouped_head``). Returns the selected
        sub-head's count."""
        self.method.cluster_groups = self.method.grouped_head = None
        heads = posteriors(self.method, self.images)
        head = head or self.method.report_head
        if head not in heads:
            raise ConfigError(f"head '{head}': this {self.cfg.method} run has the heads {', '.join(sorted(heads))}; "
                              "expected one of them")
        post = heads[head]  # h×N×S
        embedding = torch.from_numpy(features(self.method, self.images).reshape(post.shape[1], -1))
        pairs = nearest_neighbours(embedding, min(NEIGHBOURS, post.shape[1] - 1)).numpy()
        largest = getattr(self.cfg.model, "max_clusters", None) or (
            post.shape[2] if head == self.method.report_head else min(post.shape[2], DEFAULT_MAX_CLUSTERS))
        counts = [count_clusters(neighbour_joint(sub_head, pairs), largest) for sub_head in post]
        chosen = counts[self.selected_sub_head]
        k = chosen.chosen if k is None else k
        chosen.groups(k)  # one line when K is more than the selected sub-head's non-empty clusters
        self.method.cluster_groups = torch.from_numpy(np.stack([c.groups(min(k, len(c.kept))) for c in counts]))
        self.method.grouped_head = head
        self.clusters_read = k
        return chosen

    def figures_at(self, k: int | None = None, head: str | None = None) -> dict:
        """``choose_clusters``, then the figures of the K groups with the choice (``k_choice``:
        the chosen K, each candidate's eigengap, the groups of the trained clusters, their head)."""
        count = self.choose_clusters(k, head)
        figures = {**self.evaluate(), **{key: self.last_eval[key] for key in RUN_KEYS if key in self.last_eval}}
        figures["k_choice"] = {**count.record(), "read_at": self.clusters_read,
                               "head": self.method.grouped_head,
                               "groups": self.method.cluster_groups.tolist()}
        return figures

    def _log_eval(self) -> dict:
        t0 = time.perf_counter()
        figures = self.evaluate()
        figures.update(epoch=self.state.epoch, step=self.state.global_step,
                       model_step=self.state.global_step if self.state.reported_step is None else self.state.reported_step,
                       time_s=round(self.state.elapsed_s, 2), eval_s=round(time.perf_counter() - t0, 2))
        self._check_collapse(figures)
        self.last_eval = figures
        self.curve.append({k: figures[k] for k in CURVE_KEYS if k in figures})
        if self.run is not None:
            self.run.append_metrics({"kind": "eval", **figures})
        return figures

    # ----------------------------------------------------------------- training
    def fit(self) -> dict:
        """Train until ``train.epochs`` passes (or ``train.budget_minutes``) and return the last figures."""
        console = RunConsole(self.cfg.train.epochs * self.steps_per_epoch, self.state.global_step,
                             f"{self.cfg.method} {self.dataset.name}", self.show_progress, self.show_lines)
        console.say(self.plan())
        try:
            while not self._done():
                self._train_pass(console)
                self._close_pass()
                if self._evaluation_due():
                    self._evaluate_and_checkpoint(console)
        finally:
            console.close()
        figures = self._finish()
        if self.state.stop_reason:
            console.say(self.stop_line())
        return figures

    def plan(self) -> str:
        """One line: what this run will do (method, data, device and processes, length, folder)."""
        t, s = self.cfg.train, self.state
        shape = "×".join(map(str, self.images.shape[1:]))
        length = f"{t.epochs} passes of {self.steps_per_epoch} steps (batch {t.batch_size})"
        if t.budget_minutes:
            length += f" or {t.budget_minutes:g} minutes of training, whichever ends first"
        where = f"{self.device}" + (f", {self.dist.world_size} processes" if self.dist.active
                                     else f", {torch.get_num_threads()} threads")
        folder = "no run folder" if self.run is None else f"run folder {self.run.root}"
        if self.resumed_from is not None:
            folder += f", resumed at step {s.global_step} (pass {s.epoch + 1})" if self.resumed_from else \
                ", which had no checkpoint yet: starting over from step 0"
        return (f"{self.cfg.method} on {self.dataset.name}: {len(self.images)} samples of {shape}; {length}; "
                f"{where}; {folder}")

    def stop_line(self) -> str:
        """One line: why the run stopped."""
        s = self.state
        if s.stop_reason == "budget":
            why = f"the {self.cfg.train.budget_minutes:g}-minute budget ran out in pass {s.epoch + 1} of {self.cfg.train.epochs}"
        else:
            why = f"all {self.cfg.train.epochs} passes done"
        collapsed = "" if s.collapsed_at_step is None else f"; collapsed at step {s.collapsed_at_step}"
        return f"stopped at step {s.global_step}: {why} ({s.elapsed_s / 60:.1f} minutes of training){collapsed}"

    def _done(self) -> bool:
        s = self.state
        if s.stopped_by_budget or s.epoch >= self.cfg.train.epochs:
            s.stop_reason = "budget" if s.stopped_by_budget else "epochs"
            return True
        return False

    def _train_pass(self, console: RunConsole) -> None:
        """Steps of the current pass until its end or the budget; logs every ``LOG_EVERY`` steps."""
        t, s = self.cfg.train, self.state
        budget_s = t.budget_minutes * 60 if t.budget_minutes else math.inf
        order = self._order(s.epoch)
        seen, window_start = 0, time.perf_counter()
        while s.step_in_epoch < self.steps_per_epoch:
            t0 = time.perf_counter()
            idx = self._shard(order, s.step_in_epoch)
            ctx = StepContext(s.epoch, s.global_step, self.rng, idx, self.dist,
                              None if self.labelled is None else self.labelled[idx])
            self.window.add(self.method.train_step(self.images[idx], ctx))
            s.elapsed_s += time.perf_counter() - t0
            s.step_in_epoch += 1
            s.global_step += 1
            seen += len(idx) * self.dist.world_size
            if s.global_step % LOG_EVERY == 0:
                console.step(s.global_step, self._log_window(seen / max(time.perf_counter() - window_start, 1e-9)))
                seen, window_start = 0, time.perf_counter()
            else:
                console.step(s.global_step, {})
            if self.dist.any(s.elapsed_s >= budget_s, self.device):
                s.stopped_by_budget = True
                return
            if self._checkpoint_due():
                self.checkpoint()

    def _log_window(self, rate: float) -> dict[str, str]:
        """One "train" line: each loss part's mean since the last line; a non-finite loss stops the
        run. Returns the figures to show (pass, parts, images per second)."""
        parts = self.window.means(self.dist)
        self.window.clear()
        if not all(math.isfinite(v) for v in parts.values()):
            self._diverged(parts)
        problem = self.method.diagnose(parts)
        if problem:
            raise TrainingError(f"training stopped at step {self.state.global_step}: {problem}; {self._kept()}")
        watched = self.method.watched_loss
        if watched in parts:
            self.state.recent_losses = [*self.state.recent_losses, parts[watched]][-WINDOWS:]
        name = self.method.pass_name(self.state.epoch)
        if self.run is not None and self.dist.is_main:
            self.run.append_metrics({"kind": "train", "epoch": self.state.epoch, "step": self.state.global_step,
                                     "pass": name, **parts, "img_s": rate, "time_s": round(self.state.elapsed_s, 2)})
        return {"pass": name, **{k: f"{v:.4f}" for k, v in parts.items()}, "img_s": f"{rate:.0f}"}

    def _check_collapse(self, figures: dict) -> None:
        """Stop (``train.on_collapse = stop``) or note in the summary a collapsed clustering."""
        s = self.state
        reason = collapse_reason(figures["cluster_sizes"], s.recent_losses, figures["mean_confidence"])
        if reason is None or s.collapsed_at_step is not None:
            return
        if self.cfg.train.on_collapse == "stop":
            raise TrainingError(f"training collapsed by step {s.global_step}: {reason}; try a lower train.lr "
                                f"(now {self.cfg.train.lr:g}); {self._kept()}; train.on_collapse=continue trains on regardless")
        s.collapsed_at_step = s.global_step
        if self.show_lines:
            print(f"collapse at step {s.global_step}: {reason}; training goes on (train.on_collapse=continue)")

    def _kept(self) -> str:
        """What a run stopped by a failure leaves to resume from."""
        if self.run is None:
            return "no model is kept"
        if self.checkpointed_step is None:
            return "no checkpoint was written"
        return f"the last checkpoint (step {self.checkpointed_step}) is kept"

    def _diverged(self, parts: dict | None = None) -> None:
        step = self.state.global_step
        what = ", ".join(f"{k} {v}" for k, v in (parts or {}).items()) or "a loss part"
        raise TrainingError(f"training diverged by step {step} ({what}): expected finite losses; "
                            f"try a lower train.lr (now {self.cfg.train.lr:g}); {self._kept()}")

    def _close_pass(self) -> None:
        """After a whole pass: keep a copy of a reportable model while a budget may cut a later pass
        that may not be reported (none for methods whose every pass may be), and move on. After a
        cut pass whose model may not be reported: go back to that copy."""
        s = self.state
        if not s.stopped_by_budget:
            if self.method.may_report(s.epoch) and self.cfg.train.budget_minutes:
                self.snapshot = None if self.method.may_report(s.epoch + 1) else \
                    (s.global_step, copy.deepcopy(self.method.state_dict()))
            s.epoch += 1
            s.step_in_epoch = 0
        elif not self.method.may_report(s.epoch) and self.snapshot is not None:
            s.reported_step, state = self.snapshot
            self.method.load_state_dict(state)

    def _evaluation_due(self) -> bool:
        return self._done() or (self.run is not None and self.state.epoch % self.cfg.train.eval_every == 0)

    def _evaluate_and_checkpoint(self, console: RunConsole) -> None:
        if self.dist.is_main:
            figures = self._log_eval()
            if "acc" in figures:
                heads = "" if len(figures["acc_per_sub_head"]) == 1 else \
                    f"  (sub-head {figures['selected_sub_head']}, mean ACC {figures['acc_mean']:.4f})"
                console.say(f"epoch {self.state.epoch}: ACC {figures['acc']:.4f}  NMI {figures['nmi']:.4f}  "
                          f"ARI {figures['ari']:.4f}{heads}")
            self.checkpoint()
        self.dist.barrier()

    def _finish(self) -> dict:
        """The last figures; with a run folder, ``summary.json``: them, the evaluation curve and the
        machine that finished the run."""
        if not self.dist.is_main:
            return {}
        if not self.last_eval:
            self._log_eval()
        if getattr(self.cfg.model, "max_clusters", None):  # n_clusters = auto: K chosen now, reported from here on
            self.last_eval = self.figures_at()
        if self.run is not None:
            collapsed = {} if self.state.collapsed_at_step is None else {"collapsed_at_step": self.state.collapsed_at_step}
            summary = {**self.last_eval, **collapsed, "stopped_by": self.state.stop_reason, "curve": self.curve,
                       "processes": self.dist.world_size, "machine": describe(self.device)}
            atomic_write_text(self.run.summary_path, json.dumps(json_safe(summary), indent=2))
        return self.last_eval


def train(cfg: RunConfig | None, out: str | Path, resume: bool = False, progress: bool = True,
          lines: bool | None = None) -> dict:
    """Train into run folder ``out`` (new), or continue it with ``resume=True``; returns the figures.
    Under torchrun (WORLD_SIZE > 1) every process calls this; rank 0 alone writes. ``progress``:
    the progress bar; ``lines``: the start, evaluation and stop lines (default: as ``progress``)."""
    dist = from_environment()
    run = RunDir.existing(out) if resume else RunDir(out)
    with run.writing(dist.is_main, new=not resume):
        if resume:
            cfg = run.read_config()
        elif run.config_path.exists():
            raise ConfigError(f"'{out}' already holds a run: continue it with --resume, or choose another --out")
        device = select_device(cfg.train.device, dist)
        joined = init_process_group(dist, device)
        try:
            record = run.read_data_record() if resume else None
            train_data, eval_data = load_data(cfg, progress and dist.is_main, record, run.root)
            trainer = Trainer(cfg, train_data, run, progress, eval_dataset=eval_data, dist=dist, lines=lines)
            if dist.is_main and record is None:
                run.write_data_record(data_record(cfg, train_data, eval_data))
            if not resume:
                if dist.is_main:
                    run.write_config(trainer.cfg)
            elif run.has_checkpoint():
                trainer.restore(truncate_log=True)
                trainer.resumed_from = trainer.state.global_step
            else:  # stopped before its first checkpoint: it starts over, so its old log lines go
                trainer.resumed_from = 0
                if dist.is_main:
                    run.truncate_metrics(0)
            dist.barrier()
            figures = trainer.fit()
        except BaseException:
            if joined:  # a peer may be gone or stuck: leave without waiting for it
                close_process_group(dist, wait=False)
            raise
        if joined:  # no gloo thread may outlive the group into the interpreter's exit
            close_process_group(dist)
        return figures


def run_to_end(out: str | Path, make_config: Callable[[], RunConfig], progress: bool = True) -> dict:
    """The figures of the run in folder ``out``: read when it has finished, resumed when it stopped,
    else trained from ``make_config()``. Rerunning a benchmark or a grid continues it this way."""
    run = RunDir(out)
    if run.summary_path.is_file():
        return json.loads(run.summary_path.read_text())
    if run.config_path.is_file():
        return train(None, out, resume=True, progress=progress)
    return train(make_config(), out, progress=progress)


RUN_KEYS = ("epoch", "step", "model_step", "time_s", "eval_s", "curve", "processes", "machine")


def finished_figures(out: str | Path) -> dict | None:
    """The figures a finished run's ``summary.json`` holds (what ``evaluate`` would compute from its
    final checkpoint), without the run's bookkeeping; None while the run has not finished."""
    run = RunDir.existing(out)
    if not run.summary_path.is_file():
        return None
    try:
        summary = json.loads(run.summary_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"'{run.summary_path}' cannot be read ({exc}); "
                              "evaluate with --recompute to score the checkpoint instead") from None
    return {key: value for key, value in summary.items() if key not in RUN_KEYS}


def load_trainer(out: str | Path, progress: bool = False, dataset: Dataset | None = None,
                 eval_split: str | None = None) -> Trainer:
    """A trainer restored from a run folder's checkpoint (for evaluate / predict / report); reads only.
    ``dataset``: samples to predict instead of the run's evaluation split (not fingerprinted);
    ``eval_split``: another split of the run's dataset to score (e.g. "all" for train ∪ test)."""
    run = RunDir.existing(out)
    cfg = run.read_config()
    if dataset is None:
        train_data, eval_data = load_data(cfg, progress, run.read_data_record(), run.root, eval_split)
        trainer = Trainer(cfg, train_data, run, progress, eval_dataset=eval_data, prepare=False)
    else:
        trainer = Trainer(cfg, dataset, run, progress, training=False, prepare=False)
    trainer.restore()
    summary = json.loads(run.summary_path.read_text()) if run.summary_path.is_file() else {}
    if "k_choice" in summary:  # the K groups the finished run reports
        trainer.method.cluster_groups = torch.tensor(summary["k_choice"]["groups"])
        trainer.method.grouped_head = summary["k_choice"].get("head")  # none in runs before heads were read
    return trainer


def finished_run_method(first_stage: str | Path, dataset: Dataset, given_as: str = "") -> Method:
    """The trained method of the finished run ``first_stage``, restored to predict ``dataset``
    (images of the run's shape); one line, naming the run as ``given_as`` (e.g. the config key)
    says so, when the run has not finished or ``dataset`` holds vectors."""
    named = f"{given_as}'{first_stage}'"
    run = RunDir.existing(first_stage)
    if not run.summary_path.is_file():
        raise ConfigError(f"{named}: that run has not finished (no summary.json); expected a finished run: "
                          f"finish it with 'infoclust train --resume {first_stage}'")
    if dataset.is_vectors:
        raise DataError(f"{named} embeds images, but the data '{dataset.name}' are already "
                        "feature vectors: drop data.features, or give the images")
    return load_trainer(first_stage, dataset=dataset).method


def embedded_by(first_stage: str | Path, dataset: Dataset, eval_dataset: Dataset | None = None
                ) -> tuple[Dataset, Dataset | None]:
    """``dataset`` and ``eval_dataset`` (None stays None) with each sample replaced by its N×D
    features under the finished run ``first_stage`` (its method's ``features``, the evaluation
    view), loaded once; labels, ids and name kept."""
    first = finished_run_method(first_stage, dataset, "data.features = ")

    def embedded(data: Dataset) -> Dataset:
        vectors = features(first, sample_tensor(data)).astype(np.float32)
        return Dataset(vectors, data.labels, data.ids, data.name, data.split, data.class_names)

    return embedded(dataset), None if eval_dataset is None else embedded(eval_dataset)
