"""IMC-SwAV: information maximisation clustering by swapped assignments (Ntelemis et al. 2021).

Every image gives V multi-crop views. A ResNet encodes each view; its projection, scored against
k' unit prototypes, is trained by SwAV's swapped prediction: the equal-partition (Sinkhorn) code of
each of the first views must be predicted from every other view's scores. A classifier on the
encoder's features predicts K clusters and is trained to maximise I(Y; U) with the prototype
assignments U of every view (eq. (6): H(Y|U) − β H(Y) over all V² view pairs), plus a penalty on
logits beyond ±5. As the code, the classifier's input is detached by default, so the MI term shapes
the classifier only (``objective.mi_trains_encoder``). A sample's cluster is the classifier's argmax
on the whole image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..distributed import DistContext, synchronise_batchnorm
from ..losses import imc_mi_loss, logit_penalty, sinkhorn, swapped_prediction_loss
from ..models.imc_swav import Prototypes, cifar_resnet, classifier, projection
from .base import FeatureNetwork, Method, MethodSpec, StepContext, register
from .imc_swav_config import PRESET, IMCRunConfig, build_views, resolve, validate

HEAD = "y"  # the reported head: the classifier's clusters


class IMCSwAV(Method):
    """The encoder, projection, prototypes and classifier with one Adam (a parameter group each,
    as the code), the learning-rate schedule as a function of the step and epoch, and the queue."""

    report_head = HEAD
    watched_loss = "mi"  # the swapped loss keeps moving; H(Y|U) − βH(Y) goes flat at 0 when one cluster takes all

    def __init__(self, cfg: IMCRunConfig, sample_shape: tuple[int, ...], device: torch.device,
                 dist: DistContext = DistContext()):
        super().__init__(cfg, device, dist)
        m = cfg.model
        self.views = build_views(cfg)
        trunk, features = cifar_resnet(m.depth, sample_shape[0], m.width, m.max_pool)
        # train.channels_last: cuDNN's fastest kernels want NHWC, and NCHW costs a layout conversion
        # around each of them (15 % of the step's GPU time on an H200, docs/results/gpu.md); weights
        # in NHWC make the first convolution's output NHWC, and every later layer follows
        layout = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        self.encoder = synchronise_batchnorm(trunk, dist).to(device, memory_format=layout)
        self.projection = projection(features, m.projection_hidden, m.projection_dim).to(device)
        self.prototypes = Prototypes(m.projection_dim, m.prototypes).to(device)
        self.classifier = synchronise_batchnorm(classifier(features, m.classifier_hidden, m.n_clusters), dist).to(device)
        t = cfg.train
        self.optimizer = self.optimiser(torch.optim.Adam, [{"params": module.parameters()} for module in self.modules.values()],
                                        lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
        # past embeddings of the assigned views (assign_views × L × D), this process's share
        self.queue = torch.zeros(0, device=device)
        self.queue_filled = 0  # rows of the queue that hold embeddings
        # labelled samples' detached (features, scores) per view, until a batch's worth is banked
        self.bank: list[tuple[torch.Tensor, torch.Tensor]] = []

    @property
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder, "projection": self.projection, "prototypes": self.prototypes,
                "classifier": self.classifier}

    # ------------------------------------------------------------------ the contract
    def diagnose(self, parts: dict[str, float]) -> str | None:
        """The codes have collapsed when the batch's codes pick fewer than 2 % of the prototypes
        they could (at least 2)."""
        used = parts.get("prototypes_used")
        floor = max(2, min(self.cfg.train.batch_size // self.dist.world_size, self.cfg.model.prototypes) // 50)
        if used is not None and used < floor:
            return (f"the codes collapsed onto {used:.1f} of {self.cfg.model.prototypes} prototypes per batch (expected at "
                    f"least {floor}); try a lower train.lr or a smaller objective.eps")
        return None

    def learning_rate(self, step: int, epoch: int) -> float:
        """Linear warm-up over ``warmup_steps`` updates, then × gamma at each milestone epoch passed."""
        t = self.cfg.train
        if step < t.warmup_steps:
            return t.lr * (step + 1) / t.warmup_steps
        return t.lr * t.gamma ** sum(epoch >= m for m in t.milestones)

    def train_step(self, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One update on the multi-crop views of b images: {"loss", "swav", "mi", "logits",
        "prototypes_used"} (the last: distinct prototypes chosen by the first view's codes).

        What changes a step's work is decided here, outside the step (a recorded step is one kind):
        the prototypes' freeze, whether the queue exists and whether it is full; the learning rate
        is set here too. A batch with labelled samples of which only those train the classifier
        runs eagerly: its bank is a host list that grows by a varying share of the batch."""
        o = self.cfg.objective
        self.set_learning_rate(self.optimizer, self.learning_rate(ctx.step, ctx.epoch))
        length = o.queue_length // ctx.dist.world_size
        if length and ctx.epoch >= o.queue_start_epoch and self.queue.numel() == 0:
            self.queue = torch.zeros(o.assign_views, length, self.cfg.model.projection_dim, device=self.device)
        queue = bool(self.queue.numel())
        kind = ctx.step < self.cfg.train.freeze_prototypes_steps, queue, queue and self.queue_filled >= length
        banked = ctx.labelled is not None and not o.classifier_on_unlabelled
        step = lambda x, _: self._step(x, ctx, *kind, banked)  # noqa: E731
        out = step(samples, ctx.indices) if banked else self.run_step(kind, step, samples, ctx)
        if queue:
            self.queue_filled = min(self.queue_filled + len(samples), length)
        return out

    def _step(self, samples: torch.Tensor, ctx: StepContext, frozen_prototypes: bool, queue: bool,
              queue_full: bool, banked: bool) -> dict[str, torch.Tensor]:
        o = self.cfg.objective
        for module in self.modules.values():
            module.train()
        self.prototypes.normalise_()
        features = self._encode_views(self.views.crops(samples, ctx.rng))
        z = F.normalize(self.projection(torch.cat(features)), dim=1)
        scores = list(self.prototypes(z).chunk(len(features)))
        codes = self._codes(scores, z.detach().chunk(len(features)), ctx, queue, queue_full)
        swav = swapped_prediction_loss(codes, scores, o.temperature)
        if banked:
            mi, penalty = self._banked_classifier_terms(features, scores, ctx)
        elif o.mi_trains_encoder:
            mi, penalty = self._classifier_terms(features, scores, ctx)
        else:
            mi, penalty = self._classifier_terms([h.detach() for h in features], [u.detach() for u in scores], ctx)
        loss = swav + o.mi_weight * mi + o.logit_weight * penalty
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if frozen_prototypes:
            self.prototypes.weight.grad = None
        ctx.dist.average_gradients([p for module in self.modules.values() for p in module.parameters()])
        self.optimizer.step()
        # on the device: no host sync per step
        used = codes[0].new_zeros(self.cfg.model.prototypes).index_fill_(0, codes[0].argmax(dim=1), 1).sum()
        return {"loss": loss.detach(), "swav": swav.detach(), "mi": mi.detach(), "logits": penalty.detach(),
                "prototypes_used": used}

    def _classifier_terms(self, features: list[torch.Tensor], scores: list[torch.Tensor],
                          ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor]:
        """(H(Y|U) − βH(Y) averaged over all V² pairs of (prototype view, classifier view), the
        logit penalty averaged over the views) of per-view features (n×F) and scores (n×k')."""
        o = self.cfg.objective
        logits = self.classifier(torch.cat(features)).unflatten(0, (len(features), -1))  # W×n×K
        # every (prototype view, classifier view) pair at once: V×1×n×k' scores against W×n×K logits
        mi = imc_mi_loss(logits, torch.stack(scores)[:, None], o.beta, o.temperature, ctx.dist.reduce)  # V×W
        return mi.mean(), logit_penalty(logits, o.logit_bound)

    def _banked_classifier_terms(self, features: list[torch.Tensor], scores: list[torch.Tensor],
                                 ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor]:
        """The classifier's terms on labelled samples only: this batch's are banked (detached) and
        the terms are computed, and the bank emptied, once it holds a batch's worth; zero before."""
        keep = ctx.labelled
        self.bank.append((torch.stack(features)[:, keep].detach(), torch.stack(scores)[:, keep].detach()))
        if sum(len(f[0]) for f, _ in self.bank) < len(keep):
            zero = torch.zeros((), device=self.device)
            return zero, zero
        banked_features, banked_scores = (torch.cat(part, dim=1) for part in zip(*self.bank))
        self.bank = []
        return self._classifier_terms(list(banked_features), list(banked_scores), ctx)

    def _encode_views(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """Encoder features (b×F) of each view, one forward pass per crop size."""
        out: list[torch.Tensor] = []
        start = 0
        for group in self.views.groups:
            batch = torch.cat(views[start:start + group.count])
            out.extend(self.encoder(batch).chunk(group.count))
            start += group.count
        return out

    @torch.no_grad()
    def _codes(self, scores: list[torch.Tensor], embeddings: tuple[torch.Tensor, ...], ctx: StepContext,
               queue: bool, queue_full: bool) -> list[torch.Tensor]:
        """Sinkhorn codes (b×k') of the assigned views, over the global batch and, once the queue
        of past embeddings is full, the queue (scored by the current prototypes); then the queue
        (when there is one) takes in this batch's embeddings."""
        o = self.cfg.objective
        assigned = torch.stack(scores[:o.assign_views]).detach()  # A×b×k'
        b = assigned.shape[1]
        if queue_full:
            assigned = torch.cat([self.prototypes(self.queue[:o.assign_views]), assigned], dim=1)
        codes = list(sinkhorn(assigned, o.eps, o.sinkhorn_iters, ctx.dist.combine)[:, -b:])  # every view's at once
        if queue:  # in place: the newest b first, the oldest b dropped
            self.queue.copy_(torch.cat([torch.stack(embeddings[:o.assign_views]), self.queue[:, :-b]], dim=1))
        return codes

    @torch.no_grad()
    def predict(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """B images → {"y": 1×B×K the classifier's posteriors, "prototypes": 1×B×k' the softmax of
        the prototypes' scores at the loss's temperature} on the whole image, eval mode."""
        for module in self.modules.values():
            module.eval()
        features = self.encoder(self.views.clean(samples))
        scores = self.prototypes(F.normalize(self.projection(features), dim=1))
        return {HEAD: self.classifier(features).softmax(dim=1)[None],
                "prototypes": (scores / self.cfg.objective.temperature).softmax(dim=1)[None]}

    @torch.no_grad()
    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """B images → B×F encoder features of the whole image, eval mode."""
        self.encoder.eval()
        return self.feature_network()(samples)

    def feature_network(self) -> FeatureNetwork:
        """The whole image (normalised), then the ResNet encoder (the classifier's input)."""
        return FeatureNetwork(self.views.clean, self.encoder)

    def state_dict(self) -> dict:
        state = {name: module.state_dict() for name, module in self.modules.items()}
        state["optimizer"] = self.optimizer.state_dict()
        state["queue"] = self.queue.clone()
        state["queue_filled"] = self.queue_filled
        state["bank"] = [(f.clone(), u.clone()) for f, u in self.bank]
        return state

    def load_state_dict(self, state: dict) -> None:
        for name, module in self.modules.items():
            module.load_state_dict(state[name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.optimisers_loaded(self.optimizer)
        self.queue = state["queue"].to(self.device)
        self.queue_filled = state["queue_filled"]
        self.bank = [(f.to(self.device), u.to(self.device)) for f, u in state["bank"]]


SUMMARY = ("IMC-SwAV: SwAV's swapped prediction over multi-crop views with a classifier maximising "
           "I(Y; U) with the prototype assignments (Ntelemis et al. 2021)")
QUICK = {"model.width": 8, "model.prototypes": 30, "model.classifier_hidden": 64, "model.projection_hidden": 32,
         "model.projection_dim": 16, "views.crop_sizes": [12, 8], "views.crop_counts": [2, 2],
         "views.eval_size": 12, "train.batch_size": 64, "train.warmup_steps": 5, "train.freeze_prototypes_steps": 5}
ESTIMATOR_DOC = """IMC-SwAV (Ntelemis et al. 2021) of images: ``fit`` / ``predict`` (the classifier's argmax on
    the whole image) / ``predict_proba`` / ``transform`` (the encoder's features). ``X`` as for
    ``infoclust.IIC``; settings not given are chosen from the image size as ``infoclust train
    --method imc-swav`` chooses them."""
register(MethodSpec("imc-swav", IMCRunConfig, PRESET, resolve, validate, IMCSwAV, SUMMARY, QUICK,
                    estimator="IMCSwAV", estimator_doc=ESTIMATOR_DOC))
