"""TEMI: mutual information between a sample and its nearest neighbours (Adaloglou et al., BMVC 2023).

Each sample is paired with one of its k nearest neighbours (cosine) in a fixed embedding, drawn
afresh at every step. ``model.heads`` independent heads form a student, trained by AdamW, and an EMA
teacher; each head's loss is the weighted β-PMI of ``losses.temi_loss`` between the student's
posterior of one side and the teacher's of the other, both orders averaged, against the teacher's
cluster marginal (an EMA of its batch means, reduced over processes); a pair's weight is the
teacher's agreement on it, averaged over heads. The head of lowest training loss is reported (TEMI's
label-free choice), with the teacher's posteriors. Optionally the last ``selflabel.epochs`` passes
self-label (SCAN's third stage): the teacher's confident labels train the student by a
class-balanced cross-entropy.

The embedding here is the data themselves: vectors as given, images flattened; neighbours by cosine
similarity of it as given, the heads' input standardised per dimension (TEMI's). Neighbours are mined once per run (``neighbours.nearest_neighbours``) and kept in the run
folder's cache under the embedding's fingerprint, so a resume reuses them.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..distributed import DistContext
from ..losses import temi_loss
from ..models.temi import TEMIHeads
from ..neighbours import draw_neighbours
from .base import FeatureNetwork, Method, MethodSpec, PrepareCache, StepContext, register
from .common import mined_neighbours
from .temi_config import TEMIRunConfig, resolve, validate

HEAD = "heads"  # the reported head: TEMI's heads, one sub-head each
LOSS_MOMENTUM = 0.9  # of each head's running training loss, the selection score


class TEMI(Method):
    """The student heads, their EMA teacher, the teacher's marginal, and the neighbours."""

    report_head = HEAD

    def __init__(self, cfg: TEMIRunConfig, sample_shape: tuple[int, ...], device: torch.device,
                 dist: DistContext = DistContext()):
        super().__init__(cfg, device, dist)
        m = cfg.model
        dim = math.prod(sample_shape)
        self.student = TEMIHeads(dim, m.n_clusters, m.heads, m.hidden, m.bottleneck).to(device)
        self.teacher = copy.deepcopy(self.student).requires_grad_(False)
        self.modules = {"student": self.student, "teacher": self.teacher}
        self.optimizer = self.optimiser(torch.optim.AdamW, self.student.parameters(), lr=cfg.train.lr,
                                        weight_decay=cfg.train.weight_decay)
        self.marginal = torch.full((m.heads, m.n_clusters), 1 / m.n_clusters, device=device)
        self.head_loss = torch.full((m.heads,), float("nan"), device=device)  # running loss per head
        self.shift = torch.zeros(dim, device=device)  # the standardisation, set by prepare, kept in the state
        self.spread = torch.ones(dim, device=device)
        self.embedding: torch.Tensor | None = None  # N×D standardised training samples (prepare)
        self.neighbours: torch.Tensor | None = None  # N×k neighbour indices (prepare)
        self.steps_per_epoch = 1

    # ------------------------------------------------------------------ the contract
    def pairs_neighbours(self) -> bool:
        return True

    def prepare(self, samples: torch.Tensor, cache: PrepareCache | None = None) -> None:
        """Mine each training sample's k neighbours by cosine similarity of the embedding as given (as
        TEMI mines its frozen embeddings; from ``cache`` when it holds them for this embedding), and
        standardise the heads' input per dimension."""
        flat = samples[:].flatten(1).float()  # (every sample read, when read from disk)
        self.shift = flat.mean(0)
        std = flat.std(0)
        self.spread = torch.where(std > 0, std, torch.ones_like(std))  # a constant dimension stays 0
        self.embedding = ((flat - self.shift) / self.spread).to(self.device)  # standardise(samples), flattened once
        self.neighbours = mined_neighbours(flat, self.cfg.neighbours.k, cache).to(self.device)
        self.steps_per_epoch = max(1, len(samples) // self.cfg.train.batch_size)

    def standardise(self, samples: torch.Tensor) -> torch.Tensor:
        """B samples (vectors, or images flattened) → B×D standardised embedding."""
        return (samples.flatten(1).float() - self.shift) / self.spread

    def train_step(self, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One AdamW step of the student, then the teacher's EMA step: {"loss", "weight"} in TEMI's
        passes, {"loss", "confident"} in the self-labelling ones."""
        if self.neighbours is None:
            raise RuntimeError("TEMI.prepare must see the training samples before the first step")
        self.set_learning_rate(self.optimizer, self.learning_rate(ctx.step))
        kind = self.self_labelling(ctx.epoch), ctx.epoch < self.cfg.objective.freeze_last_layer
        return self.run_step(kind, lambda x, indices: self._step(x, indices, ctx, *kind), samples, ctx)

    def _step(self, samples: torch.Tensor, indices: torch.Tensor, ctx: StepContext, self_label: bool,
              frozen_last_layer: bool) -> dict[str, torch.Tensor]:
        x = self.standardise(samples)
        partner = self.embedding[draw_neighbours(self.neighbours, indices, ctx.rng)]
        loss, parts = (self._self_label_loss if self_label else self._pmi_loss)(x, partner, ctx)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ctx.dist.average_gradients(self.student.parameters())
        if frozen_last_layer:
            for p in self.student.last_layer():
                p.grad = None  # AdamW leaves a parameter without gradient untouched
        self.optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.teacher.parameters()), list(self.student.parameters()),
                                 1 - self.cfg.objective.teacher_momentum)
        return {"loss": loss.detach(), **parts}

    def self_labelling(self, epoch: int) -> bool:
        """Whether pass ``epoch`` is one of the last ``selflabel.epochs`` (SCAN's third stage)."""
        return epoch >= self.cfg.train.epochs - self.cfg.selflabel.epochs

    def pass_name(self, epoch: int) -> str:
        return "temi-self-label" if self.self_labelling(epoch) else "temi"

    def _pmi_loss(self, x: torch.Tensor, partner: torch.Tensor, ctx: StepContext) -> tuple[torch.Tensor, dict]:
        """TEMI's loss over the heads (0-d), updating the teacher's marginal and each head's running
        loss (the selection score); parts: the mean pair weight."""
        o = self.cfg.objective
        with torch.no_grad():
            t1, t2 = (self._posteriors(self.teacher, v, o.teacher_temp) for v in (x, partner))
            batch_marginal = ctx.dist.reduce(torch.cat([t1, t2], dim=1).mean(dim=1))
            # the running state is updated in place, as a step recorded as a CUDA graph must
            self.marginal.copy_(o.marginal_momentum * self.marginal + (1 - o.marginal_momentum) * batch_marginal)
            weight = (t1 * t2).sum(-1).mean(0) if o.weight == "teacher" else None  # B
        s1, s2 = (self._posteriors(self.student, v, o.student_temp) for v in (x, partner))
        prior = self.marginal.pow(o.prior_power)
        per_head = (temi_loss(s2, t1, prior, o.beta, weight) + temi_loss(s1, t2, prior, o.beta, weight)) / 2
        with torch.no_grad():
            seen = ctx.dist.reduce(per_head.detach())
            self.head_loss.copy_(torch.where(self.head_loss.isnan(), seen,
                                             LOSS_MOMENTUM * self.head_loss + (1 - LOSS_MOMENTUM) * seen))
        return per_head.mean(), ({} if weight is None else {"weight": weight.mean()})

    def _self_label_loss(self, x: torch.Tensor, partner: torch.Tensor, ctx: StepContext) -> tuple[torch.Tensor, dict]:
        """SCAN's self-labelling per head (0-d): the teacher's confident labels of x (max posterior
        above the threshold) are the targets of the student's cross-entropy on x's neighbour, each
        class weighted by the inverse of its share among the confident samples of the global batch
        (the weighted mean is over the global batch: local sums over the processes' mean of the
        weight sums). Parts: the share of confident samples."""
        o, threshold = self.cfg.objective, self.cfg.selflabel.threshold
        with torch.no_grad():
            confidence, labels = self._posteriors(self.teacher, x, o.teacher_temp).max(dim=-1)  # h×B
            confident = (confidence > threshold).to(x.dtype)
            counts = torch.zeros(*labels.shape[:1], self.cfg.model.n_clusters, device=x.device)
            counts = ctx.dist.reduce(counts.scatter_add_(1, labels, confident))  # h×K
            class_weight = torch.where(counts > 0, 1 / counts.clamp_min(1e-12), torch.zeros_like(counts))
            weight = class_weight.gather(1, labels) * confident  # h×B
            total = ctx.dist.reduce(weight.sum(dim=1))  # h
        log_p = (self.student(partner) / o.student_temp).log_softmax(dim=-1)
        nll = -log_p.gather(2, labels.unsqueeze(-1)).squeeze(-1)  # h×B
        per_head = (weight * nll).sum(dim=1) / total.clamp_min(1e-12)
        return per_head.mean(), {"confident": ctx.dist.reduce(confident.mean())}

    def learning_rate(self, step: int) -> float:
        """Linear warm-up from 0 over ``train.warmup_epochs`` passes, then a cosine to ``min_lr``."""
        t = self.cfg.train
        warmup, total = t.warmup_epochs * self.steps_per_epoch, t.epochs * self.steps_per_epoch
        if step < warmup:
            return t.lr * step / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return t.min_lr + (t.lr - t.min_lr) * (1 + math.cos(math.pi * progress)) / 2

    def selection_scores(self, samples: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """Each head's running training loss (h,), lower is better (TEMI's choice; no labels)."""
        return self.head_loss.clone()

    @torch.no_grad()
    def predict(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """B samples → {"heads": h×B×K} the teacher's posteriors."""
        return {HEAD: self._posteriors(self.teacher, self.standardise(samples), self.cfg.objective.teacher_temp)}

    @torch.no_grad()
    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """B samples → B×D: the standardised embedding the heads cluster."""
        return self.standardise(samples)

    def feature_network(self) -> FeatureNetwork:
        return FeatureNetwork(self.standardise, nn.Identity())

    def state_dict(self) -> dict:
        return {"student": self.student.state_dict(), "teacher": self.teacher.state_dict(),
                "optimizer": self.optimizer.state_dict(), "marginal": self.marginal, "head_loss": self.head_loss,
                "shift": self.shift, "spread": self.spread}

    def load_state_dict(self, state: dict) -> None:
        self.student.load_state_dict(state["student"])
        self.teacher.load_state_dict(state["teacher"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.optimisers_loaded(self.optimizer)
        # copies: the step updates them in place, and must not write into the caller's state
        self.marginal, self.head_loss = (state[key].to(self.device).clone() for key in ("marginal", "head_loss"))
        self.shift, self.spread = state["shift"].to(self.device), state["spread"].to(self.device)

    @staticmethod
    def _posteriors(heads: TEMIHeads, x: torch.Tensor, temperature: float) -> torch.Tensor:
        return (heads(x) / temperature).softmax(dim=-1)


ESTIMATOR_DOC = """TEMI (Adaloglou et al. 2023): β-weighted pointwise MI between each sample and one of its k
    nearest neighbours (cosine, in the data as given), 16 student heads with an EMA teacher, the
    lowest-loss head reported; the TEMI code's values, and below 20,000 rows a small-data recipe
    chosen on the digits (8 heads, 200 passes, lr 2e-3 → 2e-4, teacher momentum 0.95, k ≤ 10;
    docs/methods.md).

    ``X``: N×D feature vectors (any real numbers; e.g. an encoder's embeddings), or images as for
    ``IIC`` (flattened). ``transform``: the standardised vectors.
    """
QUICK = {"model.heads": 2, "model.hidden": 32, "model.bottleneck": 16, "neighbours.k": 5, "train.batch_size": 64,
         "train.lr": 1e-3, "train.warmup_epochs": 0, "train.select_samples": 256}
register(MethodSpec("temi", TEMIRunConfig, {}, resolve, validate, TEMI,
                    "TEMI: weighted β-PMI between neighbours, student heads + EMA teacher (Adaloglou et al. 2023)",
                    QUICK, estimator="TEMI", estimator_doc=ESTIMATOR_DOC, vectors=True))
