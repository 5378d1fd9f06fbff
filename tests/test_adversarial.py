import pytest
import torch
from torch import nn

from infoclust.adversarial import adversarial_direction, divergence, frozen_batchnorm_stats, perturb
from infoclust.losses import kl_divergence, paired_mi


def small_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))


def predictor(net):
    return lambda x: net(x).softmax(-1).unsqueeze(0)  # 1 sub-head: 1×N×K


def test_vat_radius_has_norm_eps_per_sample():
    net, gen = small_net(), torch.Generator().manual_seed(0)
    x = torch.randn(16, 6, generator=gen)
    clean = predictor(net)(x).detach()
    eps = torch.linspace(0.1, 2.0, 16)
    r = perturb(predictor(net), x, clean, eps, xi=1.0, power_iters=1, kind="kl", gen=gen) - x
    assert torch.allclose(r.norm(dim=1), eps, rtol=1e-4)
    r = perturb(predictor(net), x, clean, 0.5, xi=1.0, power_iters=1, kind="kl", gen=gen) - x
    assert torch.allclose(r.norm(dim=1), torch.full((16,), 0.5), rtol=1e-4)


def test_vat_direction_beats_random_directions_of_the_same_norm():
    net, gen = small_net(), torch.Generator().manual_seed(1)
    net.eval()
    x = torch.randn(64, 6, generator=gen)
    predict = predictor(net)
    clean = predict(x).detach()
    adv = kl_divergence(clean, predict(perturb(predict, x, clean, 1.0, xi=1e-1, power_iters=2, kind="kl", gen=gen)))
    randoms = []
    for _ in range(20):
        d = torch.randn(x.shape, generator=gen)
        randoms.append(kl_divergence(clean, predict(x + d / d.norm(dim=1, keepdim=True))).item())
    assert adv.item() > 2 * max(randoms)


def test_ivat_lowers_the_mutual_information_more_than_random_noise():
    net, gen = small_net(2), torch.Generator().manual_seed(2)
    net.eval()
    with torch.no_grad():
        net[3].weight *= 50  # confident, varied posteriors: the clean MI is large
    x = torch.randn(128, 6, generator=gen) * 2
    predict = predictor(net)
    clean = predict(x).detach()
    assert paired_mi(clean[0], clean[0]).item() > 0.5
    moved = perturb(predict, x, clean, 1.0, xi=1e-1, power_iters=2, kind="mi", gen=gen)
    mi_adv = paired_mi(clean[0], predict(moved)[0].detach()).item()
    d = torch.randn(x.shape, generator=gen)
    mi_rand = paired_mi(clean[0], predict(x + d / d.norm(dim=1, keepdim=True))[0].detach()).item()
    assert mi_adv < mi_rand - 0.05
    assert divergence("mi", clean, predict(moved)).item() == pytest.approx(-mi_adv, abs=1e-5)


def test_search_does_not_touch_model_gradients_or_batchnorm_statistics():
    net, gen = small_net(), torch.Generator().manual_seed(0)
    net.train()
    x = torch.randn(32, 6, generator=gen) + 3
    bn = net[1]
    before = (bn.running_mean.clone(), bn.running_var.clone())
    with frozen_batchnorm_stats(net):
        predict = predictor(net)
        adversarial_direction(predict, x, predict(x).detach(), xi=1.0, power_iters=2, kind="kl", gen=gen)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
    assert all(p.grad is None for p in net.parameters())
    assert bn.momentum == 0.1  # restored
    net(x)  # outside the block the statistics move again
    assert not torch.equal(bn.running_mean, before[0])
