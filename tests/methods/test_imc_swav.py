"""IMC-SwAV: multi-crop views, the networks, the schedule, prototype freezing, the MI switch, the
queue, collapse and the estimator (the contract test covers resume and save/load)."""
import numpy as np
import pytest
import torch

from infoclust.methods import load_config
from infoclust.data import load_dataset
from infoclust.engine import Trainer
from infoclust.methods import METHODS, StepContext
from infoclust.rng import Rng
from infoclust.views import CropGroup, Jitter, MultiCropViews


def quick(*extra):
    return [f"{k}={v}" for k, v in METHODS["imc-swav"].quick.items()] + list(extra)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", progress=False)


def _views(**kw):
    groups = (CropGroup(2, 12, (0.2, 1.0)), CropGroup(3, 6, (0.08, 0.4)))
    return MultiCropViews(groups, (0.5, 0.4, 0.3), (0.25, 0.2, 0.1), **kw)


def test_multi_crop_gives_each_group_its_count_and_size_deterministically():
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    views = _views().crops(images, Rng.seeded(3))
    assert [tuple(v.shape) for v in views] == [(5, 3, 12, 12)] * 2 + [(5, 3, 6, 6)] * 3
    again = _views().crops(images, Rng.seeded(3))
    assert all(torch.equal(a, b) for a, b in zip(views, again))  # same seed, same views
    other = _views().crops(images, Rng.seeded(4))
    assert not torch.equal(views[0], other[0])
    assert not torch.equal(views[0], views[1])  # two views of one image differ


def test_whole_image_crop_without_colour_changes_is_the_normalised_image():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    plain = MultiCropViews((CropGroup(2, 8, (1.0, 1.0)),), (0.5, 0.4, 0.3), (0.25, 0.2, 0.1), ratio=(1.0, 1.0),
                           flip_p=0.0, jitter=Jitter(), grey_p=0.0)
    clean = plain.clean(images)
    expected = (images.float() / 255 - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor(
        [0.25, 0.2, 0.1]).view(1, 3, 1, 1)
    assert torch.allclose(clean, expected, atol=1e-5)
    for view in plain.crops(images, Rng.seeded(0)):
        assert torch.allclose(view, clean, atol=1e-4)


def test_random_greyscale_hits_about_its_share_of_the_views():
    images = torch.rand(2000, 3, 4, 4).mul(255).to(torch.uint8)
    views = MultiCropViews((CropGroup(1, 4, (1.0, 1.0)),), (0.0,) * 3, (1.0,) * 3, ratio=(1.0, 1.0), flip_p=0.0,
                           jitter=Jitter(), grey_p=0.25).crops(images, Rng.seeded(0))[0]
    grey = (views[:, 0] == views[:, 1]).flatten(1).all(1) & (views[:, 1] == views[:, 2]).flatten(1).all(1)
    assert 0.21 < grey.float().mean() < 0.29


def test_crop_scales_follow_each_group():
    from infoclust.views import resized_crop_params

    for scale in ((0.2, 1.0), (0.08, 0.4)):
        theta = resized_crop_params(4000, 32, 32, scale, (3 / 4, 4 / 3), 0.5, Rng.seeded(0), groups=4)
        w, h = theta[:, 0, 0].abs(), theta[:, 1, 1]
        unclipped = (w < 1) & (h < 1)
        area = (w * h)[unclipped]
        assert area.min() >= scale[0] - 1e-5 and area.max() <= scale[1] + 1e-5


@pytest.mark.parametrize("depth, width, features", [(18, 8, 64), (34, 4, 32), (50, 4, 128)])
def test_resnets_with_the_cifar_stem(depth, width, features):
    from infoclust.models.imc_swav import cifar_resnet

    trunk, dim = cifar_resnet(depth, 3, width)
    assert dim == features and trunk(torch.rand(2, 3, 18, 18)).shape == (2, features)
    pooled, _ = cifar_resnet(depth, 3, width, max_pool=True)
    assert any(isinstance(m, torch.nn.MaxPool2d) for m in pooled.modules())


def test_prototypes_score_cosines_after_renormalisation():
    from infoclust.models.imc_swav import Prototypes

    protos = Prototypes(4, 6)
    protos.normalise_()
    assert torch.allclose(protos.weight.norm(dim=1), torch.ones(6), atol=1e-6)
    z = torch.nn.functional.normalize(torch.randn(5, 4), dim=1)
    assert protos(z).abs().max() <= 1 + 1e-6


def test_learning_rate_warms_up_linearly_then_steps_down_at_the_milestones(digits):
    trainer = Trainer(load_config(None, quick("train.lr=0.001", "train.warmup_steps=10", "train.milestones=[2, 4]",
                                              "train.gamma=0.5"), method="imc-swav"), digits, progress=False)
    lr = trainer.method.learning_rate
    assert [lr(s, 0) for s in (0, 4, 9)] == pytest.approx([1e-4, 5e-4, 1e-3])
    assert [lr(50, e) for e in (0, 1, 2, 3, 4, 9)] == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4])


def _step(method, images, step, epoch=0):
    idx = torch.arange(len(images))
    return method.train_step(images.to(method.device), StepContext(epoch, step, Rng.seeded(step, method.device), idx))


def test_prototypes_stay_fixed_while_frozen_and_move_after(digits):
    trainer = Trainer(load_config(None, quick("train.freeze_prototypes_steps=3"), method="imc-swav"), digits,
                      progress=False)
    method, images = trainer.method, trainer.images[:64]
    method.prototypes.normalise_()
    frozen = method.prototypes.weight.detach().clone()
    for step in range(3):
        _step(method, images, step)
        assert torch.allclose(method.prototypes.weight, frozen, atol=1e-6)  # only renormalised
    _step(method, images, 3)
    assert not torch.allclose(method.prototypes.weight, frozen, atol=1e-4)


@pytest.mark.parametrize("trains_encoder", [False, True])
def test_the_mi_term_reaches_the_encoder_only_when_switched_on(digits, trains_encoder, monkeypatch):
    import infoclust.methods.imc_swav as module

    # only the MI term trains: the swapped loss and the logit penalty contribute no gradient
    monkeypatch.setattr(module, "swapped_prediction_loss", lambda codes, scores, t: scores[0].sum() * 0)
    cfg = load_config(None, quick(f"objective.mi_trains_encoder={str(trains_encoder).lower()}",
                                  "objective.logit_weight=0", "train.weight_decay=0"), method="imc-swav")
    method = Trainer(cfg, digits, progress=False).method
    method.prototypes.normalise_()  # as every step begins
    before = {name: dict(m.named_parameters()) for name, m in method.modules.items()}
    before = {name: {k: v.detach().clone() for k, v in params.items()} for name, params in before.items()}
    _step(method, torch.from_numpy(digits.images[:32]), 10)
    moved = {name: any(not torch.allclose(before[name][k], v, atol=1e-6) for k, v in m.named_parameters())
             for name, m in method.modules.items()}
    assert moved == {"encoder": trains_encoder, "projection": trains_encoder, "prototypes": trains_encoder,
                     "classifier": True}


def test_a_step_logs_its_parts_and_the_prototypes_the_codes_use(digits):
    trainer = Trainer(load_config(None, quick(), method="imc-swav"), digits, progress=False)
    parts = _step(trainer.method, trainer.images[:64], 10)
    assert sorted(parts) == ["logits", "loss", "mi", "prototypes_used", "swav"]
    assert 1 <= parts["prototypes_used"].item() <= 30
    expected = parts["swav"] + parts["mi"] + 0.01 * parts["logits"]
    assert parts["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_queue_fills_from_its_epoch_and_then_joins_the_codes(digits):
    cfg = load_config(None, quick("objective.queue_length=128", "objective.queue_start_epoch=1"), method="imc-swav")
    method = Trainer(cfg, digits, progress=False).method
    images = torch.from_numpy(digits.images[:64])
    _step(method, images, 10, epoch=0)
    assert method.queue.numel() == 0  # not before its epoch
    _step(method, images, 11, epoch=1)
    assert method.queue.shape == (2, 128, 16) and method.queue_filled == 64
    assert method.queue[:, 64:].abs().sum() == 0 and method.queue[:, :64].abs().sum() > 0
    _step(method, images, 12, epoch=1)
    assert method.queue_filled == 128 and method.queue.abs().sum(dim=2).gt(0).all()


def test_collapsed_codes_stop_the_run_in_words(digits):
    method = Trainer(load_config(None, quick(), method="imc-swav"), digits, progress=False).method
    assert method.diagnose({"prototypes_used": 20.0}) is None
    problem = method.diagnose({"prototypes_used": 1.0})
    assert problem.startswith("the codes collapsed onto 1.0 of 30 prototypes per batch (expected at least 2)")


def test_bad_settings_are_one_line_errors():
    from infoclust.errors import ConfigError, DataError
    from infoclust.methods import resolve_config

    def check(sets, match, error=ConfigError, shape=(1, 8, 8)):
        with pytest.raises(error, match=match):
            resolve_config(load_config(None, sets, method="imc-swav"), shape, 10, 100)

    check(["model.depth=20"], "model.depth = 20: expected one of 18, 34, 50")
    check(["views.crop_counts=[2, 4, 1]"], "crop_counts, crop_sizes and crop_scales have 3, 2 and 2 entries")
    check(["objective.assign_views=3"], "objective.assign_views = 3 with views.crop_counts = \\[2\\]")
    check(["views.mean=[0.5, 0.5]"], "expected 1 value\\(s\\) each")
    check(["objective.queue_length=100", "train.batch_size=64"], "expected 0 or a multiple of train.batch_size")
    check(["train.warmup_steps=-1"], "train.warmup_steps = -1, freeze_prototypes_steps = 20: expected 0 or more")
    check([], "imc-swav clusters images, but the data are 64-d feature vectors", DataError, (64,))


@pytest.mark.parametrize("shape, name, sizes, pool, flip", [
    ((1, 8, 8), "digits", [12], False, 0.0), ((3, 32, 32), "cifar10", [28, 18], False, 0.5),
    ((3, 96, 96), "stl10", [76, 52], True, 0.5), ((1, 28, 28), "fashion-mnist", [24, 16], False, 0.0),
])
def test_defaults_follow_the_code_per_dataset(shape, name, sizes, pool, flip):
    from infoclust.methods import resolve_config

    cfg = resolve_config(load_config(None, [], method="imc-swav", data__name=name), shape, 10, 1000)
    assert (cfg.views.crop_sizes, cfg.model.max_pool, cfg.views.flip_p) == (sizes, pool, flip)
    tiny = name == "digits"
    assert cfg.train.warmup_steps == cfg.train.freeze_prototypes_steps == (20 if tiny else 500)
    assert cfg.views.crop_counts == ([2] if tiny else [2, 4]) and cfg.model.prototypes == (100 if tiny else 1000)
    assert cfg.views.crop_scales == ([[0.4, 1.0]] if tiny else [[0.2, 1.0], [0.08, 0.4]])
    assert cfg.views.eval_size == (12 if tiny else None) and cfg.model.classifier_hidden == (256 if tiny else 1024)
    if name == "cifar10":
        assert cfg.views.mean == [0.4914, 0.4822, 0.4465] and cfg.train.batch_size == 256
        assert (cfg.train.lr, cfg.train.betas, cfg.train.weight_decay) == (5e-4, [0.8, 0.999], 1e-5)
        assert (cfg.objective.eps, cfg.objective.temperature, cfg.objective.beta) == (0.05, 0.1, 4.0)


def test_estimator_fits_and_predicts(digits):
    import infoclust

    images = digits.images[:300, 0]
    config = {k.replace(".", "__"): v for k, v in METHODS["imc-swav"].quick.items()}
    model = infoclust.IMCSwAV(n_clusters=10, random_state=0, epochs=1, config=config)
    labels = model.fit_predict(images)
    assert labels.shape == (300,) and labels.max() < 10
    proba = model.predict_proba(images[:7])
    assert proba.shape == (7, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.array_equal(proba.argmax(1), model.predict(images[:7]))


@pytest.mark.parametrize("name, shape, k, sizes, split", [
    ("imc-swav-cifar10", (3, 32, 32), 10, [28, 18], "train"), ("imc-swav-cifar100-20", (3, 32, 32), 20, [28, 18], "train"),
    ("imc-swav-stl10", (3, 96, 96), 10, [76, 52], "train+unlabeled"),
])
def test_the_paper_recipes_load_with_the_papers_values(name, shape, k, sizes, split):
    from pathlib import Path

    from infoclust.methods import resolve_config

    path = Path(__file__).resolve().parents[2] / "configs" / f"{name}.yaml"
    cfg = resolve_config(load_config(path, []), shape, k, 50000)
    assert (cfg.data.split, cfg.data.eval_split, cfg.model.n_clusters, cfg.views.crop_sizes) == (split, "test", k, sizes)
    assert (cfg.model.depth, cfg.model.prototypes, cfg.model.projection_dim, cfg.views.crop_counts) == (18, 1000, 128, [2, 4])
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr, cfg.train.milestones) == (500, 256, 5e-4, [150, 300, 400])
    assert (cfg.objective.mi_trains_encoder, cfg.model.max_pool) == (False, shape[1] == 96)


def test_the_classifier_learns_from_labelled_parts_only_once_a_batch_is_banked(digits):
    method = Trainer(load_config(None, quick(), method="imc-swav"), digits, progress=False).method
    images, idx = torch.from_numpy(digits.images[:64]).to(method.device), torch.arange(64)
    labelled = (torch.arange(64) % 4 == 0).to(method.device)  # 16 labelled samples a batch: a batch's worth after 4 steps
    weights = []
    for step in range(10, 15):
        before = [p.detach().clone() for p in method.classifier.parameters()]
        parts = method.train_step(images, StepContext(0, step, Rng.seeded(step, method.device), idx, labelled=labelled))
        moved = any(not torch.equal(b, p) for b, p in zip(before, method.classifier.parameters()))
        weights.append((moved, parts["mi"].item() != 0))
    assert weights == [(False, False)] * 3 + [(True, True)] + [(False, False)]
    assert sum(len(f[0]) for f, _ in method.bank) == 16 and len(method.state_dict()["bank"]) == 1


def test_the_engine_marks_the_unlabelled_part_of_the_data(digits):
    from infoclust.data import Dataset

    ids = [f"unlabeled/{i}" if i % 2 else f"train/{i}" for i in range(len(digits))]
    mixed = Dataset(digits.images, None, ids, name="mixed")
    assert mixed.from_labelled_parts().sum() == (len(digits) + 1) // 2 and digits.from_labelled_parts() is None
    seen = []
    trainer = Trainer(load_config(None, quick("train.epochs=1"), method="imc-swav"), mixed, progress=False)
    original = trainer.method.train_step
    trainer.method.train_step = lambda samples, ctx: seen.append((ctx.indices, ctx.labelled)) or original(samples, ctx)
    trainer.fit()
    assert len(seen) == trainer.steps_per_epoch
    assert all(torch.equal(mask, indices % 2 == 0) for indices, mask in seen)  # the parts, row by row
