"""Defining properties of the non-geometric transformations (Peng et al. §3.3)."""
import torch

from infoclust.views import beta_sample, cutout, gaussian_noise, mix_like, mixup


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_noise_has_the_stated_std_and_zero_mean():
    x = torch.zeros(200, 1, 16, 16)
    noise = gaussian_noise(x, 0.3, gen()) - x
    assert abs(noise.std().item() - 0.3) < 0.005 and abs(noise.mean().item()) < 0.005


def test_cutout_zeroes_exactly_one_square_within_the_range():
    x = torch.ones(300, 2, 20, 20)
    out = cutout(x, 6, 12, gen())
    for img in out:
        zero = img[0] == 0
        assert torch.equal(zero, img[1] == 0)  # the same box in every channel
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert h == w and 6 <= h <= 12 and zero.sum() == h * w  # a filled square
    sides = (out[:, 0] == 0).sum((1, 2)).float().sqrt()
    assert sides.min() == 6 and sides.max() == 12  # the whole range is used
    assert (out[:, 0, 0, :] == 0).any()  # boxes reach the border


def test_mixup_is_a_convex_combination_with_the_reversed_batch():
    x = torch.randn(10, 3, generator=gen(1))
    mixed, lam = mixup(x, 1.0, gen(2))
    assert ((lam >= 0) & (lam <= 1)).all() and lam.std() > 0.1
    expected = lam[:, None] * x + (1 - lam[:, None]) * x.flip(0)
    assert torch.allclose(mixed, expected)
    p = torch.softmax(torch.randn(2, 10, 4, generator=gen(3)), -1)  # h×N×K posteriors
    target = mix_like(p, lam, dim=1)
    assert torch.allclose(target.sum(-1), torch.ones(2, 10))
    assert torch.allclose(target[:, 0], lam[0] * p[:, 0] + (1 - lam[0]) * p[:, 9])


def test_beta_sampling_is_seeded_and_has_the_right_mean_shape():
    a = beta_sample(20000, 0.2, gen(5))
    assert torch.equal(a, beta_sample(20000, 0.2, gen(5)))
    assert abs(a.mean().item() - 0.5) < 0.01
    assert ((a < 0.1) | (a > 0.9)).float().mean() > 0.5  # Beta(0.2, 0.2) piles up near 0 and 1
    state = torch.random.get_rng_state()
    beta_sample(5, 1.0, gen(6))
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
