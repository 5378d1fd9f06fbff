"""Feature probes: how good a trained run's network is as a representation when a few labels are
known (IIC §4.1, Table 3; Peng et al. §5.5–5.6, Tables 3–4).

The run's evaluation samples are split per class into a labelled part (``labels_fraction`` of each
class, at least one sample, drawn with ``seed``) and the rest. Every protocol learns from the
labelled part only and reports its accuracy on the rest:

- ``linear``: multinomial logistic regression (scikit-learn, standardised inputs) on frozen outputs
  of one layer: ``trunk`` (the method's features), ``conv`` (the input of the network's last
  convolution, averaged over positions: Peng's penultimate convolutional layer) or ``y`` (the
  reported head's posteriors, K values);
- ``overcluster``: every cluster of the run's largest head (IIC's over-clustering head when the run
  has one) maps to the most frequent class among its labelled members (many-to-one); of the head's
  sub-heads, the one most accurate on the labelled part is used;
- ``finetune``: a copy of the feature network plus a fresh linear layer to the classes, trained
  together by Adam on cross-entropy over the labelled part; ``scratch`` trains the same network
  freshly initialised instead (the supervised baseline of the same size); ``augment`` adds random
  shifts of up to 1/8 of the side and horizontal flips.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn

from .distributed import DistContext
from .errors import ConfigError, DataError
from .methods import build_method
from .methods.base import FeatureNetwork

PROTOCOLS = ("linear", "overcluster", "finetune")
LAYERS = ("trunk", "conv", "y")
CHUNK = 1024  # samples per forward pass when extracting outputs


@dataclass(frozen=True)
class ProbeSettings:
    """One probe: ``protocol`` and ``layer`` (linear only) as above; ``labels_fraction`` in (0, 1);
    fine-tuning runs ``epochs`` passes over the labelled part in batches of ``batch_size`` with
    Adam at ``lr``, ``scratch`` and ``augment`` as above."""

    protocol: str = "linear"
    labels_fraction: float = 0.1
    layer: str = "trunk"
    seed: int = 0
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    scratch: bool = False
    augment: bool = False

    def check(self) -> None:
        """One clear line for each impossible setting."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"unknown probe protocol '{self.protocol}': expected one of {', '.join(PROTOCOLS)}")
        if self.layer not in LAYERS:
            raise ConfigError(f"unknown layer '{self.layer}': expected one of {', '.join(LAYERS)}")
        if not 0 < self.labels_fraction < 1:
            raise ConfigError(f"labels fraction {self.labels_fraction}: expected a fraction strictly between 0 and 1 "
                              "(the accuracy is measured on the samples whose labels were not used)")
        if self.epochs < 1 or self.batch_size < 2 or not self.lr > 0:
            raise ConfigError(f"epochs = {self.epochs}, batch size = {self.batch_size}, lr = {self.lr}: expected at "
                              "least 1 epoch, a batch of at least 2 and lr > 0")
        if self.protocol != "finetune" and (self.scratch or self.augment):
            raise ConfigError("--scratch and --augment belong to the finetune protocol; expected --protocol finetune")
        if self.protocol != "linear" and self.layer != "trunk":
            raise ConfigError(f"--layer {self.layer} belongs to the linear protocol; expected --protocol linear")


def labelled_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, rest) sorted sample indices: of each class's n_c samples, round(fraction · n_c)
    (at least 1, at most n_c − 1) are labelled, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = min(max(1, round(fraction * len(members))), len(members) - 1)
        chosen.append(rng.permutation(members)[:n])
    labelled = np.sort(np.concatenate(chosen))
    return labelled, np.setdiff1d(np.arange(len(labels)), labelled)


def linear_probe(features: np.ndarray, labels: np.ndarray, labelled: np.ndarray, rest: np.ndarray, seed: int) -> float:
    """Accuracy on ``rest`` of a logistic regression fitted to the N×D ``features`` of ``labelled``."""
    scaler = StandardScaler().fit(features[labelled])
    model = LogisticRegression(max_iter=2000, random_state=seed).fit(scaler.transform(features[labelled]), labels[labelled])
    return float(np.mean(model.predict(scaler.transform(features[rest])) == labels[rest]))


def many_to_one(clusters: np.ndarray, labels: np.ndarray, labelled: np.ndarray, scored: np.ndarray) -> float:
    """Accuracy on ``scored`` of mapping each cluster to the most frequent class of its ``labelled``
    members (a cluster with none: the most frequent labelled class)."""
    k, n_classes = int(clusters.max()) + 1, int(labels.max()) + 1
    counts = np.zeros((k, n_classes), dtype=np.int64)
    np.add.at(counts, (clusters[labelled], labels[labelled]), 1)
    fallback = np.bincount(labels[labelled], minlength=n_classes).argmax()
    mapping = np.where(counts.sum(1) > 0, counts.argmax(1), fallback)
    return float(np.mean(mapping[clusters[scored]] == labels[scored]))


@torch.no_grad()
def layer_outputs(network: FeatureNetwork, samples: torch.Tensor, layer: str) -> np.ndarray:
    """N×D outputs of ``network`` (eval mode) on ``samples``: its features (``trunk``) or the input
    of its last convolution averaged over positions (``conv``)."""
    network.eval()
    captured: list[np.ndarray] = []
    hook = None
    if layer == "conv":
        convs = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ConfigError("--layer conv: this run's network has no convolution (it reads feature vectors); "
                              "expected --layer trunk or y")
        hook = convs[-1].register_forward_pre_hook(
            lambda module, args: captured.append(args[0].mean(dim=(2, 3)).float().cpu().numpy()))
    try:
        outputs = [network(samples[i:i + CHUNK]).float().cpu().numpy() for i in range(0, len(samples), CHUNK)]
    finally:
        if hook is not None:
            hook.remove()
    return np.concatenate(captured if layer == "conv" else outputs)


def shift_and_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """B×C×H×W images each moved by a random whole-pixel shift of up to H/8 (zeros fill in) and
    flipped left-right with probability 1/2 (``generator`` draws on the CPU)."""
    b, c, h, w = images.shape
    pad = max(1, h // 8)
    padded = F.pad(images, (pad, pad, pad, pad))
    dy, dx = (torch.randint(0, 2 * pad + 1, (2, b), generator=generator)).to(images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, None, :]
    out = padded[torch.arange(b, device=images.device)[:, None, None, None],
                 torch.arange(c, device=images.device)[None, :, None, None], rows, cols]
    flip = (torch.rand(b, generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def finetune(network: FeatureNetwork, samples: torch.Tensor, labels: np.ndarray, labelled: np.ndarray,
             rest: np.ndarray, settings: ProbeSettings) -> float:
    """Accuracy on ``rest`` of ``network`` + a fresh linear layer trained on ``labelled`` (the
    network is changed: pass a copy)."""
    if settings.augment and samples.dim() != 4:
        raise ConfigError("--augment shifts and flips images; this run's samples are feature vectors")
    device = samples.device
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    n_classes = int(labels.max()) + 1
    with torch.no_grad():
        dim = network.eval()(samples[:2]).shape[1]
    model = nn.Sequential(network, nn.Linear(dim, n_classes).to(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    targets = torch.as_tensor(labels, device=device)
    pool = torch.as_tensor(labelled)
    for _ in range(settings.epochs):
        order = pool[torch.randperm(len(pool), generator=generator)]
        for start in range(0, len(order), settings.batch_size):
            idx = order[start:start + settings.batch_size].to(device)
            if len(idx) < 2:  # batch normalisation needs two samples
                continue
            x = samples[idx]
            if settings.augment:
                x = shift_and_flip(x, generator)
            model.train()
            loss = F.cross_entropy(model(x), targets[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        idx = torch.as_tensor(rest, device=device)
        predicted = torch.cat([model(samples[idx[i:i + CHUNK]]).argmax(1) for i in range(0, len(idx), CHUNK)])
    return float((predicted == targets[idx]).float().mean())


def probe(run_dir: str | Path, settings: ProbeSettings, progress: bool = False) -> dict:
    """Run one probe on a run folder's checkpoint; append its record to the run's ``probes.jsonl``
    and return it: ``accuracy`` (on the samples whose labels were not used), ``protocol``,
    ``labels_fraction``, ``n_labelled``, ``n_scored``, the settings, the time taken and what was probed."""
    from .engine import load_trainer

    settings.check()
    start = time.perf_counter()
    trainer = load_trainer(run_dir, progress)
    labels = trainer.eval_dataset.labels
    if labels is None:
        raise DataError(f"the evaluation data of '{run_dir}' have no labels; a probe needs labels to learn from and to score")
    labels = np.asarray(labels, dtype=np.int64)
    labelled, rest = labelled_split(labels, settings.labels_fraction, settings.seed)
    samples, method = trainer.eval_images, trainer.method
    detail: dict = {}
    if settings.protocol == "linear":
        if settings.layer == "y":
            outputs = trainer.reported_posteriors(trainer.predict_posteriors(), trainer.selected_sub_head)
        else:
            outputs = layer_outputs(method.feature_network(), samples, settings.layer)
        detail["dim"] = int(outputs.shape[1])
        accuracy = linear_probe(outputs, labels, labelled, rest, settings.seed)
    elif settings.protocol == "overcluster":
        posteriors = trainer.predict_posteriors()
        head = max(posteriors, key=lambda h: (posteriors[h].shape[2], h == method.report_head))
        clusters = posteriors[head].argmax(axis=2)  # sub-heads × N
        fitted = [many_to_one(c, labels, labelled, labelled) for c in clusters]
        sub_head = int(np.argmax(fitted))
        detail.update(head=head, sub_head=sub_head, clusters=int(posteriors[head].shape[2]))
        accuracy = many_to_one(clusters[sub_head], labels, labelled, rest)
    else:
        if settings.scratch:
            torch.manual_seed(settings.seed)
            network = build_method(trainer.cfg, tuple(samples.shape[1:]), trainer.device, DistContext()).feature_network()
        else:
            network = copy.deepcopy(method.feature_network())
        accuracy = finetune(network, samples, labels, labelled, rest, settings)
    record = {"accuracy": accuracy, **asdict(settings), "n_labelled": int(len(labelled)), "n_scored": int(len(rest)),
              **detail, "method": trainer.cfg.method, "data": trainer.eval_dataset.name,
              "split": trainer.eval_dataset.split, "time_s": round(time.perf_counter() - start, 2)}
    if settings.protocol != "linear":
        record.pop("layer")
    if settings.protocol != "finetune":
        for key in ("epochs", "batch_size", "lr", "scratch", "augment"):
            record.pop(key)
    with trainer.run.lock():
        trainer.run.append_probe(record)
    return record
