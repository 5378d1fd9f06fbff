"""Feature probes: how good a trained run's network is as a representation when a few labels are
known (IIC §4.1, Table 3; Peng et al. §5.5–5.6, Tables 3–4).

The run's evaluation samples are split per class into a labelled part (``labels_fraction`` of each
class, at least one sample, drawn with ``seed``) and the rest. Every protocol learns from the
labelled part only and reports its accuracy on the rest. With ``held_out`` the labelled part is
drawn from the dataset's training split instead (the fraction may then be 1) and the accuracy is
measured on its test split:

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
from tqdm import tqdm

from . import prediction
from .data import Dataset, load_dataset
from .data.run_data import data_source
from .distributed import DistContext
from .errors import ConfigError, DataError
from .evaluation import contingency
from .methods import build_method
from .methods.base import FeatureNetwork
from .prediction import chunked, sample_tensor

PROTOCOLS = ("linear", "overcluster", "finetune")
LAYERS = ("trunk", "conv", "y")


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
    held_out: bool = False

    def check(self) -> None:
        """One clear line for each impossible setting."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"unknown probe protocol '{self.protocol}': expected one of {', '.join(PROTOCOLS)}")
        if self.layer not in LAYERS:
            raise ConfigError(f"unknown layer '{self.layer}': expected one of {', '.join(LAYERS)}")
        if not 0 < self.labels_fraction <= 1 or (self.labels_fraction == 1 and not self.held_out):
            raise ConfigError(f"labels fraction {self.labels_fraction}: expected a fraction strictly between 0 and 1 "
                              "(the accuracy is measured on the samples whose labels were not used), or up to 1 "
                              "with --held-out (labels from the training split, accuracy on the test split)")
        if self.epochs < 1 or self.batch_size < 2 or not self.lr > 0:
            raise ConfigError(f"epochs = {self.epochs}, batch size = {self.batch_size}, lr = {self.lr}: expected at "
                              "least 1 epoch, a batch of at least 2 and lr > 0")
        if self.protocol != "finetune" and (self.scratch or self.augment):
            raise ConfigError("--scratch and --augment belong to the finetune protocol; expected --protocol finetune")
        if self.protocol != "linear" and self.layer != "trunk":
            raise ConfigError(f"--layer {self.layer} belongs to the linear protocol; expected --protocol linear")


def settings_fields(settings: ProbeSettings) -> dict:
    """The settings a probe's record holds: those of its protocol only."""
    fields = asdict(settings)
    if settings.protocol != "linear":
        fields.pop("layer")
    if settings.protocol != "finetune":
        for key in ("epochs", "batch_size", "lr", "scratch", "augment"):
            fields.pop(key)
    return fields


def labelled_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, rest) sorted sample indices: of each class's n_c samples, round(fraction · n_c)
    (at least 1; at most n_c − 1 unless the fraction is 1) are labelled, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = max(1, round(fraction * len(members)))
        chosen.append(rng.permutation(members)[:n if fraction == 1 else min(n, len(members) - 1)])
    labelled = np.sort(np.concatenate(chosen))
    return labelled, np.setdiff1d(np.arange(len(labels)), labelled)


def linear_probe(fit: np.ndarray, fit_labels: np.ndarray, scored: np.ndarray, scored_labels: np.ndarray,
                 seed: int) -> float:
    """Accuracy on the N×D outputs ``scored`` of a logistic regression fitted to the outputs ``fit``."""
    scaler = StandardScaler().fit(fit)
    model = LogisticRegression(max_iter=2000, random_state=seed).fit(scaler.transform(fit), fit_labels)
    return float(np.mean(model.predict(scaler.transform(scored)) == scored_labels))


def many_to_one(fit: np.ndarray, fit_labels: np.ndarray, scored: np.ndarray, scored_labels: np.ndarray) -> float:
    """Accuracy on the clusters ``scored`` of mapping each cluster to the most frequent class of its
    members in ``fit`` (a cluster with none there: the most frequent class of ``fit_labels``)."""
    k = int(max(fit.max(), scored.max())) + 1
    n_classes = int(max(fit_labels.max(), scored_labels.max())) + 1
    counts = contingency(fit, fit_labels, k, n_classes)
    fallback = np.bincount(fit_labels, minlength=n_classes).argmax()
    mapping = np.where(counts.sum(1) > 0, counts.argmax(1), fallback)
    return float(np.mean(mapping[scored] == scored_labels))


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
        outputs = [out.float().cpu().numpy() for _, out in chunked(network, samples, samples.device)]
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


def finetune(network: FeatureNetwork, fit: torch.Tensor, fit_labels: np.ndarray, scored: torch.Tensor,
             scored_labels: np.ndarray, settings: ProbeSettings, progress: bool = False) -> float:
    """Accuracy on the samples ``scored`` of ``network`` + a fresh linear layer trained on the
    samples ``fit`` (the network is changed: pass a copy); ``progress`` shows a bar over the passes."""
    if settings.augment and fit.dim() != 4:
        raise ConfigError("--augment shifts and flips images; this run's samples are feature vectors")
    device = fit.device
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    with torch.no_grad():
        dim = network.eval()(fit[:2]).shape[1]
    model = nn.Sequential(network, nn.Linear(dim, int(max(fit_labels.max(), scored_labels.max())) + 1).to(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    targets = torch.as_tensor(fit_labels, device=device)
    for _ in tqdm(range(settings.epochs), desc="fine-tuning", unit="pass", disable=not progress, leave=False):
        order = torch.randperm(len(fit), generator=generator).to(device)
        for start in range(0, len(order), settings.batch_size):
            idx = order[start:start + settings.batch_size]
            if len(idx) < 2:  # batch normalisation needs two samples
                continue
            x = fit[idx]
            if settings.augment:
                x = shift_and_flip(x, generator)
            model.train()
            loss = F.cross_entropy(model(x), targets[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    predicted = torch.cat([out.argmax(1) for _, out in chunked(model, scored, scored.device)]).cpu()
    return float((predicted.numpy() == scored_labels).mean())


def _split_of(trainer, split: str) -> tuple[torch.Tensor, Dataset]:
    """(samples on the device, dataset) of ``split`` of the run's dataset: what the trainer already
    holds when it is that split, else read."""
    for data, samples in ((trainer.eval_dataset, trainer.eval_images), (trainer.dataset, trainer.images)):
        if data.split == split:
            return samples, data
    cfg = trainer.cfg
    data = load_dataset(data_source(cfg, trainer.run.read_data_record()), split=split, root=cfg.data.root, progress=False)
    return sample_tensor(data).to(trainer.device), data


def labelled_parts(trainer, settings: ProbeSettings) -> tuple[torch.Tensor, np.ndarray, torch.Tensor, np.ndarray, str]:
    """(fit samples, their labels, scored samples, their labels, what was scored) of a probe: the
    run's evaluation samples split by ``labelled_split``, or with ``held_out`` the labelled part of
    the dataset's training split against its whole test split."""
    if settings.held_out:
        (samples, data), (scored, test) = _split_of(trainer, "train"), _split_of(trainer, "test")
    else:
        (samples, data), (scored, test) = [(trainer.eval_images, trainer.eval_dataset)] * 2
    for d in (data, test):
        if d.labels is None:
            raise DataError(f"the {d.split} split of {d.name} has no labels; a probe needs labels to learn from and to score")
    labels = np.asarray(data.labels, dtype=np.int64)
    labelled, rest = labelled_split(labels, settings.labels_fraction, settings.seed)
    if settings.held_out:
        return samples[labelled], labels[labelled], scored, np.asarray(test.labels, dtype=np.int64), test.split
    return samples[labelled], labels[labelled], samples[rest], labels[rest], data.split


def probe(run_dir: str | Path, settings: ProbeSettings, progress: bool = False) -> dict:
    """Run one probe on a run folder's checkpoint; append its record to the run's ``probes.jsonl``
    and return it: ``accuracy`` (on samples whose labels were not used), ``protocol``,
    ``labels_fraction``, ``n_labelled``, ``n_scored``, the settings, the time taken and what was probed."""
    from .engine import load_trainer

    settings.check()
    start = time.perf_counter()
    trainer = load_trainer(run_dir, progress)
    method = trainer.method
    if trainer.eval_dataset.is_dense:
        raise DataError(f"the data of '{run_dir}' have label maps; a probe needs one label per image")
    if method.dense and (settings.protocol == "overcluster" or settings.layer == "y"):
        raise ConfigError(f"this {trainer.cfg.method} run predicts clusters per pixel; expected --protocol linear "
                          "with --layer trunk or conv, or --protocol finetune (they use its image features)")
    fit, fit_labels, scored, scored_labels, scored_split = labelled_parts(trainer, settings)
    detail: dict = {}
    if settings.protocol == "linear":
        if settings.layer == "y":
            sub_head = trainer.selected_sub_head
            fit_out, scored_out = (prediction.reported(method, x, sub_head) for x in (fit, scored))
        else:
            fit_out, scored_out = (layer_outputs(method.feature_network(), x, settings.layer) for x in (fit, scored))
        detail["dim"] = int(fit_out.shape[1])
        accuracy = linear_probe(fit_out, fit_labels, scored_out, scored_labels, settings.seed)
    elif settings.protocol == "overcluster":
        fit_post, scored_post = prediction.posteriors(method, fit), prediction.posteriors(method, scored)
        head = max(fit_post, key=lambda h: (fit_post[h].shape[2], h == method.report_head))
        fit_clusters, scored_clusters = fit_post[head].argmax(axis=2), scored_post[head].argmax(axis=2)  # sub-heads × n
        sub_head = int(np.argmax([many_to_one(c, fit_labels, c, fit_labels) for c in fit_clusters]))
        detail.update(head=head, sub_head=sub_head, clusters=int(fit_post[head].shape[2]))
        accuracy = many_to_one(fit_clusters[sub_head], fit_labels, scored_clusters[sub_head], scored_labels)
    else:
        if settings.scratch:
            torch.manual_seed(settings.seed)
            network = build_method(trainer.cfg, tuple(fit.shape[1:]), trainer.device, DistContext()).feature_network()
        else:
            network = copy.deepcopy(method.feature_network())
        accuracy = finetune(network, fit, fit_labels, scored, scored_labels, settings, progress)
    record = {"accuracy": accuracy, **settings_fields(settings), "n_labelled": int(len(fit)), "n_scored": int(len(scored)),
              **detail, "method": trainer.cfg.method, "data": trainer.eval_dataset.name, "scored_split": scored_split,
              "time_s": round(time.perf_counter() - start, 2)}
    trainer.run.append_probe(record)  # not under the run's lock: a probe may run beside the training
    return record
