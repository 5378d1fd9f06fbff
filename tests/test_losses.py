import math

import pytest
import torch

from infoclust.losses import iic_loss, joint_distribution, paired_mi


def test_joint_is_symmetric_and_normalised():
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    q = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    j = joint_distribution(p, q)
    # hand-computed: Σ p_n q_nᵀ = [[0.5, 1], [0.5, 1]] → symmetrised [[0.5, .75], [.75, 1]] / 3
    expected = torch.tensor([[0.5, 0.75], [0.75, 1.0]]) / 3
    assert torch.allclose(j, expected)


def test_perfectly_agreeing_balanced_pairs_give_minus_log_k():
    k = 4
    p = torch.eye(k).repeat(5, 1)  # one-hot, balanced
    assert iic_loss(p, p).item() == pytest.approx(-math.log(k), abs=1e-6)
    assert paired_mi(p, p).item() == pytest.approx(math.log(k), abs=1e-6)


def test_independent_or_uniform_outputs_carry_no_information():
    uniform = torch.full((8, 5), 0.2)
    assert iic_loss(uniform, uniform).item() == pytest.approx(0.0, abs=1e-6)
    # all samples in one cluster (degenerate): MI is zero too
    collapsed = torch.zeros(8, 5)
    collapsed[:, 0] = 1
    assert iic_loss(collapsed, collapsed).item() == pytest.approx(0.0, abs=1e-6)


def test_hand_computed_value_for_a_2x2_joint():
    # joint [[0.4, 0.1], [0.1, 0.4]]: marginals 0.5 → MI = Σ J log(J / 0.25)
    p = torch.tensor([[1.0, 0.0]] * 4 + [[1.0, 0.0]] + [[0.0, 1.0]] * 4 + [[0.0, 1.0]])
    q = torch.tensor([[1.0, 0.0]] * 4 + [[0.0, 1.0]] + [[0.0, 1.0]] * 4 + [[1.0, 0.0]])
    mi = 2 * 0.4 * math.log(0.4 / 0.25) + 2 * 0.1 * math.log(0.1 / 0.25)
    assert iic_loss(p, q).item() == pytest.approx(-mi, rel=1e-5)


def test_lambda_weights_the_marginal_entropy():
    p = torch.softmax(torch.randn(16, 3, generator=torch.Generator().manual_seed(0)), 1)
    q = torch.softmax(torch.randn(16, 3, generator=torch.Generator().manual_seed(1)), 1)
    j = joint_distribution(p, q)
    h_marg = -(j.sum(1) * j.sum(1).log()).sum()  # entropy of one marginal (both are equal)
    # loss(λ) − loss(1) = −(λ−1) · 2 H(p_i)
    diff = iic_loss(p, q, lamb=1.5) - iic_loss(p, q, lamb=1.0)
    assert diff.item() == pytest.approx(-(0.5) * 2 * h_marg.item(), rel=1e-5)


@pytest.mark.parametrize("kind", ["onehot", "uniform", "random"])
def test_gradient_is_finite(kind):
    n, k = 12, 6
    if kind == "onehot":
        logits = torch.eye(k)[torch.arange(n) % k] * 50
    elif kind == "uniform":
        logits = torch.zeros(n, k)
    else:
        logits = torch.randn(n, k, generator=torch.Generator().manual_seed(0))
    logits.requires_grad_(True)
    p = logits.softmax(1)
    loss = iic_loss(p, p.flip(0))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_gradient_matches_finite_differences():
    torch.manual_seed(0)
    a = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: iic_loss(x.softmax(1), y.softmax(1), eps=1e-300), (a, b))


def test_descending_the_loss_increases_agreement():
    torch.manual_seed(0)
    logits = torch.randn(64, 4, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.1)
    noisy = lambda: logits + 0.1 * torch.randn_like(logits)
    start = iic_loss(noisy().softmax(1), noisy().softmax(1)).item()
    for _ in range(200):
        loss = iic_loss(noisy().softmax(1), noisy().softmax(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < start - 0.5 and loss.item() > -math.log(4) - 1e-6


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="same shape"):
        iic_loss(torch.rand(4, 3), torch.rand(4, 2))


def test_marginal_mi_hand_computed():
    from infoclust.losses import imsat_loss, marginal_mi

    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5]])
    h_y, h_y_x = marginal_mi(p)
    assert h_y.item() == pytest.approx(math.log(2), abs=1e-6)  # mean posterior is uniform
    assert h_y_x.item() == pytest.approx(math.log(2) / 2, abs=1e-6)  # half the rows are uniform
    assert imsat_loss(p, lam=0.1, mu=4.0).item() == pytest.approx(0.1 * (math.log(2) / 2 - 4 * math.log(2)), abs=1e-6)
    onehot = torch.eye(5).repeat(3, 1)
    assert imsat_loss(onehot, 0.1, 4.0).item() == pytest.approx(-0.1 * 4 * math.log(5), abs=1e-5)


def test_kl_divergence_hand_computed_and_nonnegative():
    from infoclust.losses import kl_divergence

    t = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    p = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    expected = (0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75) + math.log(2)) / 2
    assert kl_divergence(t, p).item() == pytest.approx(expected, rel=1e-5)
    assert kl_divergence(p, p).item() == pytest.approx(0.0, abs=1e-7)


def test_gradient_penalty_equals_a_direct_autograd_computation():
    from infoclust.losses import gradient_penalty

    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    real, fake, alpha = torch.randn(8, 6), torch.randn(8, 6), torch.rand(8, 1)
    gp = gradient_penalty(critic, real, fake, alpha)
    expected = 0.0
    for i in range(8):  # one interpolate at a time, by hand
        x = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i]).clone().requires_grad_(True)
        g, = torch.autograd.grad(critic(x[None]).sum(), x)
        expected += (g.norm() - 1) ** 2 / 8
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)
    gp.backward()  # it trains the critic: a second-order gradient reaches the weights
    assert critic[0].weight.grad is not None and critic[0].weight.grad.abs().sum() > 0
    linear = torch.nn.Linear(3, 1)  # a linear critic's input gradient is its weight: GP = (‖w‖ − 1)²
    assert gradient_penalty(linear, torch.randn(5, 3), torch.randn(5, 3), torch.rand(5, 1)).item() == pytest.approx(
        ((linear.weight.norm() - 1) ** 2).item(), rel=1e-5)


def test_jsd_mi_loss_hand_computed():
    from infoclust.losses import jsd_mi_loss

    assert jsd_mi_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(math.log(2), rel=1e-6)
    pos, neg = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731  (BCE of a logit: softplus(−x) for 1, softplus(x) for 0)
    expected = (softplus(-2.0) + softplus(0.0) + softplus(-1.0) + softplus(1.0)) / 4
    assert jsd_mi_loss(pos, neg).item() == pytest.approx(expected, rel=1e-6)
    assert jsd_mi_loss(torch.full((3, 1), 20.0), torch.full((3, 1), -20.0)).item() < 1e-8  # perfectly told apart


def test_augmentation_kl_hand_computed_and_not_detached():
    from infoclust.losses import augmentation_kl

    target = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)  # softmax (1/4, 3/4)
    augmented = torch.tensor([[0.0, 0.0]], requires_grad=True)  # (1/2, 1/2)
    expected = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    loss = augmentation_kl(target, augmented)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert target.grad.abs().sum() > 0 and augmented.grad.abs().sum() > 0  # the target is not detached
    assert augmentation_kl(augmented, augmented).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="same shape"):
        augmentation_kl(torch.zeros(2, 3), torch.zeros(2, 4))


def test_reconstruction_loss_is_the_mean_squared_error_per_pixel():
    from infoclust.losses import reconstruction_loss

    target = torch.zeros(2, 1, 2, 2)
    recon = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, -3.0]]]])
    assert reconstruction_loss(recon, target).item() == pytest.approx((1 + 9) / 8)
    assert reconstruction_loss(target, target).item() == 0
    with pytest.raises(ValueError, match=r"expected a reconstruction of the target's shape \(2, 1, 2, 2\)"):
        reconstruction_loss(torch.zeros(2, 1, 3, 3), target)


# ----------------------------------------------------------------------------- IMC-SwAV
def _sinkhorn_by_hand(scores, eps, iters):
    """SwAV's distributed_sinkhorn written out in float64, one process."""
    q = torch.exp(scores.double() / eps).T  # k'×B
    q /= q.sum()
    k, b = q.shape
    for _ in range(iters):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    return (q * b).T


@pytest.mark.parametrize("iters", [1, 3, 10])
def test_sinkhorn_equals_swav_iteration_written_out(iters):
    from infoclust.losses import sinkhorn

    scores = torch.randn(24, 7, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    codes = sinkhorn(scores, eps=0.05, iters=iters)
    assert codes.dtype == scores.dtype and codes.shape == (24, 7)
    assert torch.allclose(codes.double(), _sinkhorn_by_hand(scores, 0.05, iters), atol=1e-6)
    assert torch.allclose(codes.sum(dim=1), torch.ones(24), atol=1e-5)  # each sample's code sums to 1


def test_sinkhorn_converges_to_both_marginals_and_survives_tiny_eps():
    from infoclust.losses import sinkhorn

    scores = torch.randn(30, 6, generator=torch.Generator().manual_seed(1))
    codes = sinkhorn(scores, eps=0.5, iters=200).double()
    assert torch.allclose(codes.sum(dim=1), torch.ones(30, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(codes.sum(dim=0), torch.full((6,), 30 / 6, dtype=torch.float64), atol=1e-4)
    # exp(100 / 1e-3) overflows any float: the log-domain iteration stays finite and sharp
    sharp = sinkhorn(scores * 100, eps=1e-3, iters=3)
    assert torch.isfinite(sharp).all() and torch.allclose(sharp.sum(dim=1), torch.ones(30), atol=1e-5)
    assert (sharp.max(dim=1).values > 0.99).float().mean() > 0.8


def test_sinkhorn_refuses_a_vector():
    from infoclust.losses import sinkhorn

    with pytest.raises(ValueError, match="expected B×k' scores"):
        sinkhorn(torch.zeros(5))


def test_swapped_prediction_averages_every_other_view_by_hand():
    from infoclust.losses import swapped_prediction_loss

    q0, q1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]])
    u = [torch.tensor([[0.0, 0.0]]), torch.tensor([[0.1, 0.0]]), torch.tensor([[0.0, 0.2]])]
    ce = lambda q, s: -(q * torch.log_softmax(s / 0.1, dim=1)).sum()  # noqa: E731
    expected = (ce(q0, u[1]) + ce(q0, u[2]) + ce(q1, u[0]) + ce(q1, u[2])) / 4
    assert swapped_prediction_loss([q0, q1], u, temperature=0.1).item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="V ≥ 2 views"):
        swapped_prediction_loss([q0], [u[0]])


def test_imc_mi_loss_hand_computed_and_beta_one_is_minus_mi():
    from infoclust.losses import imc_mi_loss

    # two samples, classifier certain, prototype scores giving P_U = (3/4, 1/4) and (1/4, 3/4)
    logits = torch.tensor([[30.0, -30.0], [-30.0, 30.0]])
    scores = torch.tensor([[math.log(3.0), 0.0], [0.0, math.log(3.0)]]) * 0.1  # divided by τ = 0.1 below
    joint = torch.tensor([[3 / 8, 1 / 8], [1 / 8, 3 / 8]])
    p = torch.tensor([0.5, 0.5])
    h_y_given_u = -(joint * (joint / p[None]).log()).sum()
    h_y = math.log(2)
    mi = h_y - h_y_given_u
    assert imc_mi_loss(logits, scores, beta=4.0).item() == pytest.approx((h_y_given_u - 4 * h_y).item(), abs=1e-6)
    assert imc_mi_loss(logits, scores, beta=1.0).item() == pytest.approx(-mi.item(), abs=1e-6)
    # independent Y and U: I = 0
    assert imc_mi_loss(torch.zeros(4, 3), torch.randn(4, 5), beta=1.0).item() == pytest.approx(0.0, abs=1e-6)


def test_logit_penalty_counts_only_the_excess_over_the_bound():
    from infoclust.losses import logit_penalty

    logits = torch.tensor([[6.0, -7.0, 1.0], [0.0, 4.9, -5.0]])
    assert logit_penalty(logits).item() == pytest.approx((1 + 2) / 2)
    assert logit_penalty(logits.clamp(-5, 5)).item() == 0


def _direct_joints(y, yp, d, mask, mask_prime):
    """IIC eq. (5) by a direct sum over pixel pairs (float64 loops): {t: P_t}."""
    n, k, h, w = y.shape
    joints = {}
    for ty in range(-d, d + 1):
        for tx in range(-d, d + 1):
            p = torch.zeros(k, k, dtype=torch.float64)
            for i in range(n):
                for uy in range(h):
                    for ux in range(w):
                        vy, vx = uy + ty, ux + tx
                        if 0 <= vy < h and 0 <= vx < w:
                            weight = mask[i, 0, uy, ux] * mask_prime[i, 0, vy, vx]
                            p += weight * torch.outer(y[i, :, uy, ux], yp[i, :, vy, vx])
            p = (p + p.T) / 2
            joints[(ty, tx)] = p / p.sum()
    return joints


def test_displaced_joints_equal_a_direct_sum_over_pixel_pairs_with_masks():
    from infoclust.losses import dense_iic_loss, displaced_joints, joint_loss

    torch.manual_seed(0)
    y = torch.randn(2, 3, 5, 4, dtype=torch.float64).softmax(1)
    yp = torch.randn(2, 3, 5, 4, dtype=torch.float64).softmax(1)
    mask = (torch.rand(2, 1, 5, 4) > 0.3).double()
    mask_prime = (torch.rand(2, 1, 5, 4) > 0.3).double()
    d = 2
    got = displaced_joints(y, yp, d, mask, mask_prime)
    want = _direct_joints(y, yp, d, mask, mask_prime)
    assert got.shape == (25, 3, 3)
    for (ty, tx), p in want.items():
        assert torch.allclose(got[(ty + d) * (2 * d + 1) + tx + d], p, atol=1e-12), (ty, tx)
    # the loss is the mean over displacements of −I(P_t); at t = 0 without masks, IIC on pixels
    loss = dense_iic_loss(y, yp, d, mask=mask, mask_prime=mask_prime)
    assert torch.allclose(loss, torch.stack([joint_loss(p) for p in want.values()]).mean(), atol=1e-12)
    flat = lambda t: t.permute(0, 2, 3, 1).reshape(-1, 3)  # noqa: E731
    assert torch.allclose(dense_iic_loss(y, yp, 0), iic_loss(flat(y), flat(yp)), atol=1e-12)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-13), (torch.float32, 1e-5)])
def test_displaced_products_by_fft_equal_the_papers_convolution(dtype, tolerance):
    """The reference computes every displacement's products as one convolution of y with y' as an
    H×W kernel; the FFT gives the same sums (relative to the largest), to the dtype's rounding."""
    from infoclust.losses.posteriors import displaced_products

    torch.manual_seed(0)
    y, yp = (torch.randn(3, 4, 23, 17, dtype=dtype).softmax(1) for _ in range(2))
    d = 6
    conv = torch.nn.functional.conv2d(y.transpose(0, 1), yp.transpose(0, 1), padding=d).flip(-1, -2)
    got = displaced_products(y, yp, d)
    assert got.shape == (4, 4, 13, 13) and got.min() >= 0
    assert ((got - conv).abs().max() / conv.abs().max()).item() < tolerance


def test_dense_loss_rewards_neighbours_that_agree():
    from infoclust.losses import dense_iic_loss

    stripes = torch.zeros(1, 2, 8, 8)
    stripes[0, 0, :4], stripes[0, 1, 4:] = 1, 1  # two regions, each one cluster
    noise = torch.rand(1, 2, 8, 8).softmax(1)
    # two regions, one-hot: −log 2 = −0.69 where both pixels of a pair lie in one region (t_y = 0), less across
    assert -0.6 < dense_iic_loss(stripes, stripes, 1) < -0.4
    assert dense_iic_loss(noise, noise, 1) > -0.01  # near-uniform posteriors carry no information


# ---------------------------------------------------------------- TEMI's weighted β-PMI
def _temi_by_hand(s, t, marginal, beta, weight):
    """The issue's formula written out row by row, cluster by cluster, in float64."""
    n, k = len(s), len(s[0])
    total = 0.0
    for i in range(n):
        inner = sum((s[i][c] * t[i][c]) ** beta / marginal[c] for c in range(k))
        total += -(1.0 if weight is None else weight[i]) * math.log(inner)
    return total / n


@pytest.mark.parametrize("weighted", [False, True])
def test_temi_loss_is_the_weighted_beta_pmi_formula(weighted):
    from infoclust.losses import temi_loss
    gen = torch.Generator().manual_seed(3)
    s = torch.rand(7, 5, generator=gen, dtype=torch.float64).softmax(-1)
    t = torch.rand(7, 5, generator=gen, dtype=torch.float64).softmax(-1)
    marginal = torch.rand(5, generator=gen, dtype=torch.float64).softmax(-1)
    weight = torch.rand(7, generator=gen, dtype=torch.float64) if weighted else None
    got = temi_loss(s, t, marginal, beta=0.6, weight=weight)
    assert got.dim() == 0
    want = _temi_by_hand(s.tolist(), t.tolist(), marginal.tolist(), 0.6, None if weight is None else weight.tolist())
    assert abs(got.item() - want) < 1e-10


@pytest.mark.parametrize("weighted", [False, True])
def test_temi_loss_gradient_matches_autograd_of_the_formula(weighted):
    from infoclust.losses import temi_loss
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    t = torch.rand(6, 4, generator=gen, dtype=torch.float64).softmax(-1)
    marginal = torch.rand(4, generator=gen, dtype=torch.float64).softmax(-1)
    weight = torch.rand(6, generator=gen, dtype=torch.float64) if weighted else torch.ones(6, dtype=torch.float64)
    (grad,) = torch.autograd.grad(temi_loss(logits.softmax(-1), t, marginal, 0.6, weight if weighted else None), logits)
    s = logits.softmax(-1)
    formula = -(weight * ((s * t) ** 0.6 / marginal).sum(-1).log()).mean()  # the formula, vectorised
    (want,) = torch.autograd.grad(formula, logits)
    assert torch.allclose(grad, want, atol=1e-12, rtol=0)
    assert grad.abs().max() > 1e-3  # a real gradient, not zero


def test_temi_loss_per_head_and_rewards_agreeing_confident_pairs():
    from infoclust.losses import temi_loss
    k = 4
    one_hot = torch.eye(k).repeat(3, 1)
    uniform = torch.full((12, k), 1 / k)
    marginal = torch.full((k,), 1 / k)
    agree = temi_loss(one_hot, one_hot, marginal, beta=1.0)
    assert agree.item() == pytest.approx(-math.log(k), abs=1e-6)  # PMI of a sure, balanced pair = log K
    assert temi_loss(uniform, uniform, marginal, beta=1.0).item() == pytest.approx(0.0, abs=1e-6)
    heads = temi_loss(torch.stack([one_hot, uniform]), torch.stack([one_hot, uniform]), marginal.expand(2, k), beta=1.0)
    assert heads.shape == (2,) and heads[0] < heads[1]
    with pytest.raises(ValueError, match="one …×N×K shape"):
        temi_loss(one_hot, one_hot[:5], marginal)
