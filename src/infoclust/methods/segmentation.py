"""IIC for segmentation (Ji et al. 2019, §3.3 and §4.2): every pixel is clustered.

Each image gives two views (``views.DenseViews``): a crop x and g·x, the crop colour-jittered and
flipped (optionally rotated and zoomed). The network's per-pixel posteriors of g·x are carried back
by g⁻¹ onto x's pixels, and the loss is eq. (5): −I(P_t) averaged over every displacement t within
±d, each joint P_t pairing a pixel of x with its neighbour at t in g·x, computed for all t as one
convolution. A main head of K clusters and an over-clustering head of k are trained in alternating
passes, as for image clustering; pixels that g·x did not see take no part.

Posteriors are reported per pixel: ``predict`` returns h×(B·H·W)×K for B images of H×W pixels,
image by image in row-major pixel order, so the engine scores them against the flattened label
maps (unlabelled pixels, −1, are not scored).
"""
from __future__ import annotations

import torch

from ..distributed import DistContext, synchronise_batchnorm
from ..losses import dense_iic_loss
from ..models.segmentation import PooledTrunk, SegmentationNet
from .common import MAIN, OVER, parse_schedule
from .base import FeatureNetwork, MethodSpec, StepContext, register
from .head_passes import HeadPasses, total
from .segmentation_config import PRESET, SegRunConfig, build_views, network_channels, resolve, validate


class DenseIIC(HeadPasses):
    """The segmentation network with one Adam, trained head by head in the schedule's passes."""

    report_head = MAIN
    dense = True  # posteriors per pixel

    def __init__(self, cfg: SegRunConfig, sample_shape: tuple[int, ...], device: torch.device,
                 dist: DistContext = DistContext()):
        super().__init__(cfg, device, dist)
        m = cfg.model
        heads = {MAIN: m.n_clusters, **({OVER: m.overcluster} if m.overcluster else {})}
        self.views = build_views(cfg)
        net = SegmentationNet(network_channels(cfg, sample_shape[0]), heads, m.sub_heads, m.width, m.padding)
        self.model = synchronise_batchnorm(net, dist).to(device)
        self.optimizer = self.optimiser(torch.optim.Adam, self.model.parameters(), lr=cfg.train.lr)
        self.cycle = parse_schedule(cfg.train.head_schedule, list(heads))
        self.heads = list(heads)

    # ------------------------------------------------------------------ the contract
    @torch.no_grad()
    def selection_scores(self, samples: torch.Tensor, ctx: StepContext) -> torch.Tensor | None:
        """Per sub-head of the main head, its loss on training views (eval mode); None for one."""
        if self.cfg.model.sub_heads == 1:
            return None
        self.model.eval()
        return total(self._losses(samples, MAIN, ctx))

    @torch.no_grad()
    def predict(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """B images → {head: h×(B·H·W)×K} per-pixel posteriors on the whole images, eval mode."""
        self.model.eval()
        x = self.views.evaluation(samples)
        features = self.model.trunk(x)
        out = {}
        for name in self.heads:
            post = self.model.heads[name](features, tuple(x.shape[-2:]))  # h×B×K×H×W
            out[name] = post.permute(0, 1, 3, 4, 2).reshape(post.shape[0], -1, post.shape[2])
        return out

    @torch.no_grad()
    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """B images → B×8w trunk features averaged over the pixels, eval mode."""
        self.model.eval()
        return self.feature_network()(samples)

    def feature_network(self) -> FeatureNetwork:
        """The whole image, then the trunk averaged over positions."""
        return FeatureNetwork(self.views.evaluation, PooledTrunk(self.model.trunk))

    # ------------------------------------------------------------------ the objective
    def _losses(self, samples: torch.Tensor, head: str, ctx: StepContext) -> dict[str, torch.Tensor]:
        """{"mi": (h,)} eq. (5) per sub-head of ``head`` on this batch's pair of views."""
        o = self.cfg.objective
        first, second, theta = self.views.pair(samples, ctx.rng)
        y = self.model(first, head)  # h×B×K×H×W
        y_second = self.model(second, head)
        h, b, k = y.shape[:3]
        back, seen = self.views.undo(y_second.transpose(0, 1).reshape(b, h * k, *y.shape[-2:]), theta)
        back = back.view(b, h, k, *y.shape[-2:]).transpose(0, 1)
        lamb = o.lamb_main if head == MAIN else o.lamb_over
        return {"mi": torch.stack([dense_iic_loss(y[i], back[i], o.displacement, lamb, None, seen, ctx.dist.reduce)
                                   for i in range(h)])}


SUMMARY = ("IIC for segmentation: per-pixel clusters by maximising the MI between neighbouring pixels of "
           "paired views, eq. (5) (Ji et al. 2019, §3.3)")
QUICK = {"model.width": 4, "model.overcluster": 6, "views.input_size": 8, "objective.displacement": 2,
         "train.batch_size": 16}

register(MethodSpec("iic-seg", SegRunConfig, PRESET, resolve, validate, DenseIIC, SUMMARY, QUICK))
