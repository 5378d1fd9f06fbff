"""Information-based clustering: one MI term × transformations × KL regularisers (Peng et al.).

IIC (paired MI with geometric views), IMSAT (marginal MI + VAT regulariser) and IIC+VAT are
presets of this one method (``info_config.PRESETS``), each registered under its name. The method
owns its views, model and optimiser and answers the engine through the contract of ``base.Method``.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..adversarial import frozen_batchnorm_stats, perturb
from ..distributed import DistContext, synchronise_batchnorm
from ..losses import iic_loss, imsat_loss, kl_divergence
from ..models import ClusterNet
from ..neighbours import draw_neighbours
from ..views import VectorViews, cutout, gaussian_noise, input_channels, mix_like, mixup
from .base import FeatureNetwork, MethodSpec, PrepareCache, StepContext, register
from .head_passes import HeadPasses, total
from .common import MAIN, OVER, mined_neighbours, parse_schedule
from .info_config import PRESETS, InfoRunConfig, build_views, resolve, uses, validate

NEIGHBOUR = 10  # IMSAT's adaptive VAT radius: distance to the 10th nearest neighbour


def neighbour_distances(x: torch.Tensor, k: int = NEIGHBOUR, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distance from each row of x (N×D) to its k-th nearest other row, (N,).

    With N ≤ k samples the farthest other row is used. IMSAT's code takes index [10] of the sorted
    distances with the self-distance overwritten by 1000, i.e. the 11th nearest other sample; we
    use the 10th, as its paper says.
    """
    k = min(k, len(x) - 1)
    dist = []
    sq = (x * x).sum(1)
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk]
        d2 = (sq[start:start + chunk, None] + sq[None, :] - 2 * block @ x.t()).clamp_min(0)
        self_pairs = torch.arange(len(block), device=x.device)
        d2[self_pairs, self_pairs + start] = float("inf")  # not itself
        dist.append(d2.topk(k, dim=1, largest=False).values[:, -1].sqrt())
    return torch.cat(dist)


def graph_obstacle(cfg: InfoRunConfig) -> str | None:
    """Why this objective's step cannot be recorded as a CUDA graph, or None when it can."""
    if uses(cfg, "mixup"):
        return "Mixup draws its mixing weights on the host"
    return None


class InfoClustering(HeadPasses):
    """Cluster heads trained by an MI term, optionally with T inside it, plus KL regularisers.

    A main head B (k clusters) and an optional over-clustering head A, each with ``sub_heads``
    sub-heads, trained in alternating passes (``train.head_schedule``); the loss is the mean over
    the trained head's sub-heads, computed for all sub-heads at once.
    """

    report_head = MAIN

    def __init__(self, cfg: InfoRunConfig, sample_shape: tuple[int, ...], device: torch.device,
                 dist: DistContext = DistContext()):
        super().__init__(cfg, device, dist)
        heads = {MAIN: cfg.model.n_clusters}
        if cfg.model.overcluster:
            heads[OVER] = cfg.model.overcluster
        self.vectors = len(sample_shape) == 1
        if self.vectors:
            self.views, net_shape = VectorViews(), tuple(sample_shape)
            self.memory_format = torch.contiguous_format
        else:
            self.views = build_views(cfg)
            s = cfg.views.input_size
            net_shape = (input_channels(cfg.views.input_mode, sample_shape[0]), s, s)
            self.memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        model = ClusterNet(cfg.model.backbone, net_shape, heads, cfg.model.sub_heads, cfg.model.width)
        self.model = synchronise_batchnorm(model, dist).to(device)
        self.model.to(memory_format=self.memory_format)
        self.optimizer = self.optimiser(torch.optim.Adam, self.model.parameters(), lr=cfg.train.lr)
        self.cycle = parse_schedule(cfg.train.head_schedule, list(heads))
        self.heads = list(heads)
        self.radius: torch.Tensor | None = None  # per-sample VAT radius (adaptive ε), set by prepare
        self.samples: torch.Tensor | None = None  # the training samples, kept by prepare for the neighbour view
        self.neighbours: torch.Tensor | None = None  # N×k their nearest neighbours (prepare)

    # ------------------------------------------------------------------ the contract
    def pairs_neighbours(self) -> bool:
        return uses(self.cfg, "neighbour")

    def prepare(self, samples: torch.Tensor, cache: PrepareCache | None = None) -> None:
        """Per-dataset precomputation: IMSAT's adaptive VAT radius when it is switched on; the
        neighbours of every training sample (by cosine of the samples as given) when the objective
        pairs neighbours (kept in ``cache`` for a resume)."""
        t = self.cfg.objective.transforms
        if self.pairs_neighbours():
            self.samples = samples
            self.neighbours = mined_neighbours(samples[:].flatten(1).float(), t.neighbour_k, cache)
        if t.vat_adaptive_eps:
            flat = torch.cat([self.views.evaluation(samples[i:i + 4096]).flatten(1) for i in range(0, len(samples), 4096)])
            self.radius = t.vat_prop_eps * neighbour_distances(flat)

    @torch.no_grad()
    def selection_scores(self, samples: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """Label-free score per sub-head of B (h,): the MI term (no regularisers), eval-mode network."""
        self.model.eval()
        return total(self._losses(samples, MAIN, ctx, regularize=False))

    @torch.no_grad()
    def predict(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """B samples → {head: h×B×K posteriors} on the evaluation view, eval-mode network."""
        feats = self.features(samples)
        return {name: self.model.heads[name](feats) for name in self.heads}

    @torch.no_grad()
    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """B samples → B×D trunk features on the evaluation view, eval-mode network."""
        self.model.eval()
        return self.feature_network()(samples)

    def feature_network(self) -> FeatureNetwork:
        """The evaluation view, then the trunk (the heads' input)."""
        return FeatureNetwork(lambda samples: self._net_input(self.views.evaluation(samples)), self.model.trunk)

    # ------------------------------------------------------------------ the objective
    def _net_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.vectors else x.contiguous(memory_format=self.memory_format)

    def _predictor(self, head: str) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: self.model(self._net_input(x), head)

    def _transformed(self, name: str, x: torch.Tensor, clean: torch.Tensor, predict, ctx: StepContext
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reference posteriors, posteriors of T(x)) for a non-geometric T; h×B×K each.

        The reference is ``clean`` except for Mixup, whose reference is the same mixture of the
        clean posteriors as the mixture of the inputs (partners within this process's shard).
        """
        t = self.cfg.objective.transforms
        if name == "gaussian":
            return clean, predict(gaussian_noise(x, t.gaussian_std, ctx.rng))
        if name == "cutout":
            return clean, predict(cutout(x, t.cutout_min, t.cutout_max, ctx.rng))
        if name == "mixup":
            mixed, lam = mixup(x, t.mixup_alpha, ctx.rng)
            return mix_like(clean, lam, dim=1), predict(mixed)
        if name == "neighbour":
            if self.neighbours is None:
                raise RuntimeError("the neighbour view needs prepare() to see the training samples first")
            partner = self.samples[draw_neighbours(self.neighbours, ctx.indices, ctx.rng)]
            return clean, predict(self.views.base(partner, ctx.rng))
        eps = self.radius[ctx.indices.to(self.radius.device)] if self.radius is not None \
            else t.vat_eps * t.vat_prop_eps
        with frozen_batchnorm_stats(self.model), torch.enable_grad():
            moved = perturb(predict, x, clean, eps, t.vat_xi, t.vat_power_iters, "kl" if name == "vat" else "mi",
                            ctx.rng, ctx.dist.reduce)
            return clean, predict(moved)

    def _losses(self, samples: torch.Tensor, head: str, ctx: StepContext,
                regularize: bool = True) -> dict[str, torch.Tensor]:
        """The objective's terms for one batch, each (h,) one value per sub-head: "mi" (the MI term,
        negated) and "kl_<transform>" for each KL regulariser (weighted; "kl_vat_2" for a second of
        one transform)."""
        o, r = self.cfg.objective, self.cfg.train.repeats
        predict = self._predictor(head)
        regularize = regularize and head == MAIN  # as Peng et al.'s code: regularisers on the main head only
        geometric = (o.mi == "paired" and o.transform == "geometric") or \
            (regularize and any(reg.transform == "geometric" for reg in o.regularizers))
        if geometric:
            x, gx = self.views.pair(samples, r, ctx.rng)
        else:
            x = self.views.base(samples, ctx.rng)
        p = predict(x)  # h×B×K
        q_geo = predict(gx) if geometric else None  # h×rB×K
        reduce = ctx.dist.reduce
        if o.mi == "marginal":
            terms = {"mi": imsat_loss(p, o.imsat_lambda, o.imsat_mu, reduce=reduce)}
        else:
            a, b = (p.repeat(1, r, 1), q_geo) if o.transform == "geometric" else \
                self._transformed(o.transform, x, p, predict, ctx)
            terms = {"mi": iic_loss(a, b, o.lamb, reduce=reduce)}
        if regularize:
            for reg in o.regularizers:
                target, q = (p.detach().repeat(1, r, 1), q_geo) if reg.transform == "geometric" else \
                    self._transformed(reg.transform, x, p.detach(), predict, ctx)
                name = f"kl_{reg.transform}"
                name = next(f"{name}_{n}" for n in range(2, len(terms) + 2) if f"{name}_{n}" not in terms) \
                    if name in terms else name
                terms[name] = reg.weight * kl_divergence(target, q)
        return terms


SUMMARIES = {
    "iic": "IIC: paired MI I(y, y') of geometric views; over-clustering head and sub-heads (Ji et al. 2019)",
    "imsat": "IMSAT: marginal MI H(Y) - H(Y|X) + KL to VAT (Hu et al. 2017), for vectors or images",
    "iic-vat": "IIC + KL(p(x) | p(VAT(x))), Peng et al.'s best model of the MI x transformation grid",
}
QUICK = {"views.input_size": 8, "views.tf1_crops": [8], "views.tf2_crops": [6, 7, 8], "views.eval_crop": 8,
         "model.width": 8, "model.sub_heads": 2, "train.batch_size": 64, "train.repeats": 2, "train.lr": 1e-3,
         "train.head_schedule": "B:1,A:1", "train.select_samples": 256}
ESTIMATORS = {
    "iic": ("IIC", """Invariant Information Clustering (Ji et al. 2019) of images.

    ``X``: N×H×W, N×C×H×W or N×H×W×C (C = 1 or 3), uint8 0..255 or float ([0, 1] or 0..255).
    Settings not given are chosen from the image size exactly as ``infoclust train`` chooses them
    (for 8×8 digits: the tiny-image recipe, so ``IIC(random_state=S)`` and ``infoclust train --data
    digits --seed S`` train the same model; docs/methods.md). ``transform``: the trunk's features.
    """),
    "imsat": ("IMSAT", """IMSAT (Hu et al. 2017): max I(X, Y) with a VAT regulariser, IMSAT's own settings by default
    (MLP D → 1200 → 1200 → K, batch 250, Adam 2e-3, 50 epochs, λ 0.1, μ 4, adaptive ε = 0.5 × the
    distance to the 10th nearest neighbour; IMSAT's MNIST code uses 0.25:
    ``config={"objective__transforms__vat_prop_eps": 0.25}``).

    ``X``: N×D feature vectors (any real numbers), or images as for ``IIC``.
    """),
}
for _name, _preset in PRESETS.items():
    _estimator, _doc = ESTIMATORS.get(_name, ("", ""))
    register(MethodSpec(_name, InfoRunConfig, _preset, resolve, validate, InfoClustering, SUMMARIES[_name], QUICK,
                        graph_obstacle, default=_name == "iic", estimator=_estimator, estimator_doc=_doc,
                        vectors=_name == "imsat"))
