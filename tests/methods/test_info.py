"""Composition of the MI × transformation × regulariser objective from config."""
import math

import numpy as np
import pytest
import torch

import infoclust
from infoclust.methods import load_config
from infoclust.data import Dataset, load_dataset
from infoclust.engine import Trainer
from infoclust.methods.head_passes import total
from infoclust.errors import ConfigError
from infoclust.methods import DataFacts, StepContext
from infoclust.methods.info_config import resolve
from infoclust.rng import Rng
from infoclust.neighbours import draw_neighbours as info_draw
from tests.conftest import TINY

TRANSFORMS = ["geometric", "gaussian", "vat", "ivat", "mixup", "cutout"]
FAST = TINY + ["train.epochs=1", "objective.transforms.cutout_min=2", "objective.transforms.cutout_max=4"]


def digits():
    return load_dataset("digits", progress=False)


def one_epoch(overrides, method="iic", data=None):
    cfg = load_config(None, FAST + overrides, method=method, seed=0)
    trainer = Trainer(cfg, data or digits(), progress=False)
    return trainer, trainer.fit()


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_every_transform_inside_the_paired_mi_trains(transform):
    trainer, figures = one_epoch([f"objective.transform={transform}"])
    assert all(math.isfinite(x) and -math.log(10) - 1e-4 <= x <= 1e-4 for x in figures["sub_head_loss"])


@pytest.mark.parametrize("mi", ["paired", "marginal"])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_every_regulariser_with_both_mi_terms_trains(mi, transform):
    trainer, figures = one_epoch([f"objective.mi={mi}", f"objective.regularizers=[{{transform: {transform}, weight: 0.5}}]"])
    assert trainer.cfg.objective.regularizers[0].transform == transform
    assert all(math.isfinite(x) for x in figures["sub_head_loss"])


def test_presets_are_points_of_the_one_objective():
    iic = load_config(None, [], method="iic").objective
    imsat = load_config(None, [], method="imsat").objective
    iic_vat = load_config(None, [], method="iic-vat").objective
    assert (iic.mi, iic.transform, iic.regularizers) == ("paired", "geometric", [])
    assert imsat.mi == "marginal" and [r.transform for r in imsat.regularizers] == ["vat"]
    assert imsat.transforms.vat_adaptive_eps and (imsat.imsat_lambda, imsat.imsat_mu) == (0.1, 4.0)
    assert iic_vat.mi == "paired" and [r.transform for r in iic_vat.regularizers] == ["vat"]
    # a user's value wins over the preset
    assert load_config(None, ["objective.imsat_mu=2"], method="imsat").objective.imsat_mu == 2.0


def test_imsat_takes_ten_sub_heads_on_tiny_images_and_one_on_vectors():
    cfg = load_config(None, [], method="imsat")
    assert resolve(cfg, DataFacts((1, 8, 8), 10, 1797)).model.sub_heads == 10  # the tiny-image recipe
    assert resolve(cfg, DataFacts((64,), 10, 1797)).model.sub_heads == 1  # IMSAT's code
    assert resolve(load_config(None, ["model.sub_heads=3"], method="imsat"), DataFacts((64,))).model.sub_heads == 3


def test_an_unset_kl_weight_follows_the_mi_term_and_the_image_size():
    tiny, fashion = DataFacts((1, 8, 8), 10, 1797), DataFacts((1, 28, 28), 10, 70000)
    weights = lambda method, facts, sets=(): [r.weight for r in resolve(load_config(None, list(sets), method=method), facts).objective.regularizers]
    assert weights("imsat", tiny) == weights("imsat", DataFacts((64,))) == [1.0]
    assert (weights("iic-vat", tiny), weights("iic-vat", fashion)) == ([0.01], [0.1])
    two = ["objective.regularizers=[{transform: vat, weight: 0.5}, {transform: cutout}]"]
    assert weights("iic", fashion, two) == [0.5, 0.1]  # a weight given is kept


def test_regulariser_changes_the_loss_and_weight_zero_does_not():
    data = digits()
    base = Trainer(load_config(None, FAST, seed=0), data, progress=False)
    x = base.images[:64]
    losses = {}
    for name, regs in (("none", "[]"), ("zero", "[{transform: gaussian, weight: 0.0}]"), ("vat", "[{transform: vat, weight: 5.0}]")):
        t = Trainer(load_config(None, FAST + [f"objective.regularizers={regs}"], seed=0), data, progress=False)
        t.method.model.train()
        for head in ("A", "B"):  # the random source lives on the method's device (CPU or CUDA)
            ctx = StepContext(0, 0, Rng.seeded(1, t.device), torch.arange(64, device=t.device))
            losses[name, head] = total(t.method._losses(x, head, ctx)).detach()
    assert torch.allclose(losses["none", "B"], losses["zero", "B"])
    assert (losses["vat", "B"] > losses["none", "B"]).all()  # KL ≥ 0 adds a positive amount
    assert torch.allclose(losses["vat", "A"], losses["none", "A"])  # regularisers act on the main head only


def test_vectors_train_with_an_mlp_and_reject_image_transforms():
    X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    data = Dataset(X, None, [str(i) for i in range(200)], name="vectors")
    trainer, figures = one_epoch(["model.n_clusters=3", "train.batch_size=50"], method="imsat", data=data)
    assert trainer.cfg.model.backbone == "mlp" and sum(figures["cluster_sizes"]) == 200
    assert trainer.method.radius is not None and (trainer.method.radius > 0).all()
    with pytest.raises(ConfigError, match="needs images"):
        one_epoch(["model.n_clusters=3", "objective.regularizers=[{transform: cutout}]"], method="imsat", data=data)
    with pytest.raises(ConfigError, match="needs images"):
        one_epoch(["model.n_clusters=3", "model.backbone=vgg6c"], method="imsat", data=data)


def test_unknown_names_in_the_objective():
    with pytest.raises(ConfigError, match="objective.transform = 'rotate'"):
        one_epoch(["objective.transform=rotate"])
    with pytest.raises(ConfigError, match="objective.mi = 'joint'"):
        one_epoch(["objective.mi=joint"])
    with pytest.raises(ConfigError, match=r"unknown config key 'objective.regularizers\[0\].wieght'"):
        load_config(None, ["objective.regularizers=[{transform: vat, wieght: 1}]"])


def test_adaptive_radius_is_the_distance_to_the_tenth_neighbour():
    from infoclust.methods.info import neighbour_distances

    x = torch.arange(20, dtype=torch.float32).view(20, 1)  # points 0, 1, ..., 19 on a line
    d = neighbour_distances(x, k=10, chunk=7)
    assert d[0] == 10 and d[10] == 5 and d[19] == 10


# ---------------------------------------------------------------- neighbours as the transformation
NEIGHBOUR_PAIRS = {"objective__mi": "paired", "objective__transform": "neighbour", "objective__regularizers": [],
                   "model__overcluster": 0}


def test_a_neighbour_is_one_more_transformation_of_the_grid():
    from sklearn.datasets import load_digits

    from infoclust.evaluation import cluster_acc

    digits = load_digits()
    # on the CPU, whose figures the bound below was set from (a GPU draws other random numbers)
    est = infoclust.IMSAT(n_clusters=10, random_state=0, device="cpu", config={**NEIGHBOUR_PAIRS, "train__epochs": 12})
    found = est.fit_predict(digits.data)
    assert est.config_.objective.transforms.neighbour_k == 17  # 1,797 // (10 × 10): a tenth of a cluster
    # pairs of neighbours (0.69 here) beat a sample paired with itself (0.54) or with a random other (0.50)
    assert cluster_acc(found, digits.target, 10) > 0.62


def test_the_neighbour_view_draws_among_the_samples_neighbours_and_may_regularise(monkeypatch):
    from infoclust.methods import common, info

    cfg = load_config(None, ["objective.transform=neighbour", "objective.transforms.neighbour_k=4",
                             "objective.regularizers=[{transform: neighbour, weight: 0.5}]", *FAST],
                      method="iic", seed=0)
    trainer = Trainer(cfg, digits(), progress=False)
    method = trainer.method
    assert method.neighbours.shape == (1797, 4)
    assert torch.equal(method.neighbours, common.nearest_neighbours(trainer.images.flatten(1).float(), 4))
    drawn = []
    monkeypatch.setattr(info, "draw_neighbours", lambda *a: (drawn.append(info_draw(*a)), drawn[-1])[1])
    idx = torch.arange(100, 164)
    parts = method.train_step(trainer.images[idx], StepContext(0, 0, Rng.seeded(0, method.device), idx))  # pass 0: head B
    assert {"loss", "mi", "kl_neighbour"} <= set(parts) and all(torch.isfinite(v) for v in parts.values())
    assert len(drawn) == 2  # once inside the MI term, once for the regulariser
    for partners in drawn:
        assert all(partners[i] in method.neighbours[idx[i]] for i in range(64))  # each one of its anchor's 4
    assert not torch.equal(drawn[0], drawn[1])  # drawn afresh


def test_a_neighbour_run_read_back_scores_as_it_trained(tmp_path, monkeypatch):
    # evaluate / probes / two_stage restore a trainer without the training's precomputation: the
    # neighbour view's head choice must still see the neighbours (from the run's cache, unwritten)
    from infoclust.engine import load_trainer, train
    from infoclust.methods import common

    cfg = load_config(None, ["objective.transform=neighbour", "objective.transforms.neighbour_k=4", *FAST,
                             "model.sub_heads=3"], method="iic", seed=0)
    summary = train(cfg, tmp_path / "run", progress=False)
    cached = sorted((tmp_path / "run" / "cache").iterdir())
    stamps = [f.stat().st_mtime_ns for f in cached]
    monkeypatch.setattr(common, "nearest_neighbours", lambda *a, **k: pytest.fail("mined again: the cache was not read"))
    figures = load_trainer(tmp_path / "run").evaluate()
    assert len(figures["sub_head_loss"]) == 3 and figures["sub_head_loss"] == summary["sub_head_loss"]
    assert figures["acc"] == summary["acc"]
    assert [f.stat().st_mtime_ns for f in sorted((tmp_path / "run" / "cache").iterdir())] == stamps


def test_an_impossible_neighbour_count_is_one_line():
    cfg = load_config(None, ["objective.transform=neighbour", "objective.transforms.neighbour_k=1797"],
                      method="iic", seed=0)
    with pytest.raises(ConfigError, match="objective.transforms.neighbour_k = 1797: expected at least 1 and fewer "
                                          "than the 1797 samples"):
        Trainer(cfg, digits(), progress=False)
