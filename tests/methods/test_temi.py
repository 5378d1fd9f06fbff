"""TEMI: its defaults resolved from the data, the lr schedule, the frozen last layer, the EMA
teacher and marginal, the neighbours kept in the run folder, and the estimator on vectors (the
contract test covers resume and save/load; tests/test_distributed.py the 2-process step)."""
import math

import numpy as np
import pytest
import torch

import infoclust
from infoclust import neighbours as neighbours_module
from infoclust.errors import ConfigError
from infoclust.methods import METHODS, StepContext, build_method, load_config, resolve_config
from infoclust.methods import common
from infoclust.methods.temi_config import PAPER, REFERENCE_STEPS
from infoclust.rng import Rng
from infoclust.runs import RunCache, RunDir


def quick(*extra):
    return [f"{k}={v}" for k, v in METHODS["temi"].quick.items()] + list(extra)


def vectors(n=300, d=12, seed=0):
    """Three well-separated blobs of n vectors, and their blob numbers."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.randn(3, d, generator=gen) * 4
    return centres[labels] + torch.randn(n, d, generator=gen), labels


def built(overrides, x, n_clusters=3):
    cfg = resolve_config(load_config(None, overrides, method="temi", seed=0, model__n_clusters=n_clusters),
                         tuple(x.shape[1:]), None, len(x))
    torch.manual_seed(0)
    return build_method(cfg, tuple(x.shape[1:]), torch.device("cpu"))


def test_the_paper_values_on_large_data_step_scaled_ones_on_fewer_steps_and_the_small_data_recipe():
    big = resolve_config(load_config(None, [], method="temi"), (512,), 10, 60000)
    t, o = big.train, big.objective
    assert (big.neighbours.k, big.model.heads, t.batch_size, t.epochs, t.warmup_epochs) == (50, 16, 1024, 100, 20)
    assert (t.lr, t.min_lr, o.teacher_momentum, o.beta, o.marginal_momentum) == (1e-4, 1e-4, 0.996, 0.6, 0.9)
    assert o.prior_power == 1.0  # TEMI's marginal on large data
    mid = resolve_config(load_config(None, [], method="temi"), (512,), 10, 25000)
    scale = REFERENCE_STEPS / (100 * (25000 // 1024))  # 2,400 steps instead of about 5,000
    assert mid.train.lr == mid.train.min_lr == pytest.approx(PAPER["lr"] * scale)
    assert mid.objective.teacher_momentum == pytest.approx(1 - (1 - PAPER["momentum"]) * scale)
    small = resolve_config(load_config(None, [], method="temi"), (64,), 10, 1797)
    t = small.train
    assert (small.neighbours.k, small.model.heads, t.batch_size, t.epochs, t.warmup_epochs) == (10, 8, 256, 200, 40)
    assert (t.lr, t.min_lr, small.objective.teacher_momentum, small.objective.prior_power) == (2e-3, 2e-4, 0.95, 0.5)
    assert resolve_config(load_config(None, [], method="temi"), (64,), 10, 600).neighbours.k == 6  # N / 10K
    given = resolve_config(load_config(None, ["train.lr=0.01", "neighbours.k=7", "objective.prior_power=1"],
                                       method="temi"), (64,), 10, 1797)
    assert (given.train.lr, given.neighbours.k, given.objective.prior_power) == (0.01, 7, 1)  # a user's values stay


@pytest.mark.parametrize("setting, message", [
    ("neighbours.k=300", "neighbours.k = 300 but the data hold 300 samples: expected k < 300"),
    ("objective.weight=both", "objective.weight = 'both': expected one of teacher, none"),
    ("objective.teacher_momentum=1.0", "objective.teacher_momentum = 1.0: expected a momentum in [0, 1)"),
    ("model.heads=0", "model.heads = 0: expected a positive integer"),
])
def test_an_impossible_setting_is_one_line(setting, message):
    x, _ = vectors()
    with pytest.raises(ConfigError) as caught:
        resolve_config(load_config(None, [setting], method="temi"), (12,), 3, len(x))
    assert str(caught.value) == message


def test_lr_rises_linearly_then_follows_a_cosine_to_min_lr():
    x, _ = vectors()
    method = built(quick("train.epochs=10", "train.warmup_epochs=2", "train.lr=0.01", "train.min_lr=0.001"), x)
    method.prepare(x)  # 300 // 64 = 4 steps a pass
    assert method.steps_per_epoch == 4
    lrs = [method.learning_rate(s) for s in range(40)]
    assert lrs[0] == 0 and lrs[4] == pytest.approx(0.005) and lrs[8] == pytest.approx(0.01)
    assert lrs[8 + 16] == pytest.approx(0.001 + 0.009 / 2)  # half-way through the cosine
    assert all(a >= b for a, b in zip(lrs[8:], lrs[9:])) and lrs[-1] > 0.001


def test_the_last_layer_waits_one_pass_and_the_teacher_follows_by_ema():
    x, _ = vectors()
    method = built(quick("objective.teacher_momentum=0.8"), x)
    method.prepare(x)
    idx = torch.arange(64)
    last = [p.detach().clone() for p in method.student.last_layer()]
    method.train_step(x[idx], StepContext(0, 5, Rng.seeded(0), idx))
    assert all(torch.equal(a, b) for a, b in zip(last, method.student.last_layer()))
    teacher = {n: p.detach().clone() for n, p in method.teacher.named_parameters()}
    method.train_step(x[idx], StepContext(1, 6, Rng.seeded(1), idx))
    assert not torch.equal(last[0], method.student.last_v)
    for name, p in method.student.named_parameters():
        want = 0.8 * teacher[name] + 0.2 * p.detach()
        assert torch.allclose(dict(method.teacher.named_parameters())[name], want, atol=1e-7), name


def test_the_marginal_is_an_ema_of_the_teachers_batch_means():
    x, _ = vectors()
    method = built(quick("objective.marginal_momentum=0.5"), x)
    method.prepare(x)
    idx = torch.arange(64)
    before = method.marginal.clone()
    rng = Rng.seeded(2)
    partner = method.embedding[neighbours_module.draw_neighbours(method.neighbours, idx, Rng.seeded(2))]
    with torch.no_grad():
        seen = torch.cat([method._posteriors(method.teacher, v, 0.1) for v in (method.standardise(x[idx]), partner)], 1)
    method.train_step(x[idx], StepContext(0, 0, rng, idx))
    assert torch.allclose(method.marginal, 0.5 * before + 0.5 * seen.mean(1), atol=1e-6)
    assert torch.allclose(method.marginal.sum(-1), torch.ones(method.marginal.shape[0]))


def test_neighbours_are_mined_once_and_read_back_from_the_run_folder(tmp_path, monkeypatch):
    x, labels = vectors()
    cache = RunCache(RunDir(tmp_path / "run"))
    first = built(quick("neighbours.k=10"), x)
    first.prepare(x, cache)
    assert len(list((tmp_path / "run" / "cache").glob("neighbours-*.safetensors"))) == 1
    assert neighbours_module.purity(first.neighbours, labels) > 0.99  # separated blobs: pure neighbours
    monkeypatch.setattr(common, "nearest_neighbours", lambda *a: pytest.fail("mined again"))
    again = built(quick("neighbours.k=10"), x)
    again.prepare(x, cache)
    assert torch.equal(again.neighbours, first.neighbours)
    other = built(quick("neighbours.k=10"), x + 1)  # another embedding: another fingerprint, mined anew
    with pytest.raises(pytest.fail.Exception, match="mined again"):
        other.prepare(x + 1, cache)


def test_the_estimator_separates_blobs_and_predicts_new_rows():
    x, labels = vectors(n=240)
    est = infoclust.TEMI(n_clusters=3, random_state=0, epochs=40, batch_size=48, config={"model__heads": 2, "model__hidden": 32})
    found = est.fit_predict(x.numpy())
    agreement = max(np.mean(np.array([perm[f] for f in found]) == labels.numpy())
                    for perm in __import__("itertools").permutations(range(3)))
    assert agreement > 0.95
    proba = est.predict_proba(x[:5].numpy() + 0.01)
    assert proba.shape == (5, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.array_equal(est.predict(x[:20].numpy()), found[:20])
    assert est.transform(x[:4].numpy()).shape == (4, 12)
    assert math.isfinite(est.figures_["cluster_sizes"][0])


def test_self_labelling_is_a_class_balanced_cross_entropy_on_confident_samples():
    x, _ = vectors()
    method = built(quick("train.epochs=4", "selflabel.epochs=2", "selflabel.threshold=0.4"), x)
    method.prepare(x)
    idx = torch.arange(64)
    assert [method.pass_name(e) for e in range(4)] == ["temi", "temi", "temi-self-label", "temi-self-label"]
    xs = method.standardise(x[idx])
    partner = method.embedding[neighbours_module.draw_neighbours(method.neighbours, idx, Rng.seeded(3))]
    loss, parts = method._self_label_loss(xs, partner, StepContext(2, 0, Rng.seeded(3), idx))
    with torch.no_grad():
        teacher = method._posteriors(method.teacher, xs, 0.1)
    logits = method.student(partner) / 0.1
    want = []
    for h in range(teacher.shape[0]):
        confidence, label = teacher[h].max(-1)
        keep = confidence > 0.4
        share = torch.bincount(label[keep], minlength=3).double() / keep.sum()
        weight = torch.where(share > 0, 1 / share, torch.zeros_like(share)).float()
        want.append(torch.nn.functional.cross_entropy(logits[h][keep], label[keep], weight=weight))
    assert 0 < parts["confident"] < 1  # the threshold keeps some samples, not all
    assert torch.allclose(loss, torch.stack(want).mean(), atol=1e-6)


def test_self_labelling_passes_leave_the_marginal_and_the_head_choice_alone():
    x, _ = vectors()
    method = built(quick("train.epochs=2", "selflabel.epochs=1", "selflabel.threshold=0.4"), x)
    method.prepare(x)
    idx = torch.arange(64)
    assert "weight" in method.train_step(x[idx], StepContext(0, 0, Rng.seeded(0), idx))
    marginal, head_loss = method.marginal.clone(), method.head_loss.clone()
    teacher = [p.detach().clone() for p in method.teacher.parameters()]
    parts = method.train_step(x[idx], StepContext(1, 1, Rng.seeded(1), idx))
    assert set(parts) == {"loss", "confident"}
    assert torch.equal(method.marginal, marginal) and torch.equal(method.head_loss, head_loss)
    assert any(not torch.equal(a, b) for a, b in zip(teacher, method.teacher.parameters()))  # the EMA goes on


@pytest.mark.parametrize("setting, message", [
    ("selflabel.epochs=200", "selflabel.epochs = 200 of train.epochs = 200: expected 0 (none) or fewer passes than "
                             "the whole run, so TEMI trains first"),
    ("selflabel.threshold=1.0", "selflabel.threshold = 1.0: expected a posterior in (0, 1), e.g. SCAN's 0.99"),
])
def test_an_impossible_self_labelling_is_one_line(setting, message):
    with pytest.raises(ConfigError) as caught:
        resolve_config(load_config(None, [setting], method="temi"), (12,), 3, 300)
    assert str(caught.value) == message


def test_a_weaker_prior_divides_by_a_power_of_the_marginal():
    x, _ = vectors()
    losses = {}
    for power in (1.0, 0.5, 0.0):
        method = built(quick(f"objective.prior_power={power}", "objective.marginal_momentum=0.0"), x)
        method.prepare(x)
        idx = torch.arange(64)
        partner = method.embedding[neighbours_module.draw_neighbours(method.neighbours, idx, Rng.seeded(4))]
        xs = method.standardise(x[idx])
        with torch.no_grad():
            t1, t2 = (method._posteriors(method.teacher, v, 0.1) for v in (xs, partner))
            s1, s2 = (method._posteriors(method.student, v, 0.1) for v in (xs, partner))
            marginal = torch.cat([t1, t2], dim=1).mean(dim=1)  # momentum 0: this batch's marginal
            weight = (t1 * t2).sum(-1).mean(0)
            prior = marginal.pow(power)
            want = ((infoclust.losses.temi_loss(s2, t1, prior, 0.6, weight) +
                     infoclust.losses.temi_loss(s1, t2, prior, 0.6, weight)) / 2).mean()
        losses[power] = method.train_step(x[idx], StepContext(0, 0, Rng.seeded(4), idx))["loss"]
        assert torch.allclose(losses[power], want, atol=1e-6), power
    assert len({round(v.item(), 6) for v in losses.values()}) == 3
    with pytest.raises(ConfigError, match=r"objective.prior_power = 1.5: expected a power in \[0, 1\]"):
        built(quick("objective.prior_power=1.5"), x)
