import math

import torch
import torch.nn.functional as F

from infoclust.views import Geometry, Jitter, PairViews, bilinear_sample, color_jitter, geometric, sobel, to_float


def ramp(n=4, c=1, h=8, w=8):
    return (torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w) / (h * w)).repeat(n, c, 1, 1)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_identity_geometry_returns_the_image():
    x = ramp()
    assert torch.allclose(geometric(x, Geometry(8, (8,)), gen()), x, atol=1e-6)


def test_flip_and_centre_crop_are_exact():
    x = ramp()
    assert torch.allclose(geometric(x, Geometry(8, (8,), flip_p=1.0), gen()), x.flip(-1), atol=1e-6)
    assert torch.allclose(geometric(x, Geometry(4, (4,), center_p=1.0), gen()), x[..., 2:6, 2:6], atol=1e-6)


def test_rotation_by_90_degrees_permutes_pixels():
    x = ramp(n=1)
    geo = Geometry(8, (8,), rotation=90.0, rotation_p=1.0)
    # the angle is drawn from ±90: compare against both exact quarter turns, allowing an interpolation margin
    out = geometric(x, Geometry(8, (8,)), gen())
    assert torch.allclose(out, x, atol=1e-6)
    torch.manual_seed(0)
    angles = []
    g = gen(3)
    from infoclust.views import affine_params
    theta = affine_params(1000, 8, 8, geo, g)
    angles = torch.atan2(theta[:, 0, 1], theta[:, 0, 0]) * 180 / math.pi
    assert angles.abs().max() <= 90 + 1e-4 and angles.abs().max() > 80 and angles.std() > 30


def test_random_crops_stay_inside_and_differ_per_sample():
    x = ramp(n=64)
    out = geometric(x, Geometry(4, (4,)), gen())
    # every crop is a (sub-pixel shifted) window of the ramp: values within the image range
    assert out.min() >= 0 and out.max() <= 1
    assert len({round(v, 4) for v in out[:, 0, 0, 0].tolist()}) > 10  # per-sample positions


def test_seeded_generator_makes_views_deterministic():
    images = (torch.rand(16, 1, 10, 10, generator=gen(1)) * 255).to(torch.uint8)
    views = PairViews(Geometry(8, (7,), 0.5), Geometry(8, (5, 6, 7), rotation=25, rotation_p=0.5),
                      Geometry(8, (7,)), Jitter(0.4, 0.4, 0.4, 0.125))
    a1, b1 = views.pair(images, 3, gen(5))
    a2, b2 = views.pair(images, 3, gen(5))
    a3, b3 = views.pair(images, 3, gen(6))
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert not torch.equal(b1, b3)
    assert a1.shape == (16, 1, 8, 8) and b1.shape == (48, 1, 8, 8)
    # the r repeats of one image are transformed independently
    assert not torch.equal(b1[0], b1[16])


def test_jitter_factors_are_in_range_and_per_sample():
    x = torch.full((200, 1, 4, 4), 0.5)
    out = color_jitter(x, Jitter(brightness=0.4), gen())
    factors = out[:, 0, 0, 0] / 0.5
    assert factors.min() >= 0.6 - 1e-6 and factors.max() <= 1.4 + 1e-6 and factors.std() > 0.1
    rgb = torch.rand(8, 3, 4, 4, generator=gen(2))
    out = color_jitter(rgb, Jitter(0.4, 0.4, 0.4, 0.125), gen())
    assert out.shape == rgb.shape and out.min() >= 0 and out.max() <= 1 and not torch.allclose(out, rgb)


def test_sobel_responds_to_edges_only():
    x = torch.zeros(1, 1, 6, 6)
    x[..., 3:] = 1.0  # vertical edge
    edges = sobel(x)
    assert edges.shape == (1, 2, 6, 6)
    assert edges[0, 0, 2:4, 2:4].abs().min() == 4  # dx kernel sums 1+2+1 across the step
    assert edges[0, 1, 1:5, 1:5].abs().max() == 0  # no horizontal edges inside
    assert sobel(torch.rand(2, 3, 6, 6), include_rgb=True).shape == (2, 5, 6, 6)


def test_evaluation_view_is_centre_crop_resized():
    images = (ramp(n=2) * 255).to(torch.uint8)
    views = PairViews(Geometry(4, (4,)), Geometry(4, (4,)), Geometry(4, (4,)), Jitter())
    assert torch.allclose(views.evaluation(images), to_float(images)[..., 2:6, 2:6], atol=1e-6)


def test_bilinear_sample_equals_grid_sample_forward_and_backward():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 4, 9, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    grid = torch.rand(3, 5, 6, 2, generator=gen, dtype=torch.float64) * 2.6 - 1.3  # points outside too
    upstream = torch.rand(3, 4, 5, 6, generator=gen, dtype=torch.float64)
    ours = bilinear_sample(x, grid)
    (g_ours,) = torch.autograd.grad((ours * upstream).sum(), x)
    theirs = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    (g_theirs,) = torch.autograd.grad((theirs * upstream).sum(), x)
    assert theirs.abs().sum() > 0 and (theirs == 0).any()  # some points fall outside the image
    assert torch.allclose(ours, theirs, atol=1e-12) and torch.allclose(g_ours, g_theirs, atol=1e-12)


def test_the_closed_form_affine_inverse_undoes_the_map():
    from infoclust.views import affine_inverse

    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(64, 2, 3, generator=gen, dtype=torch.float64)
    theta[:, :, :2] += 2 * torch.eye(2, dtype=torch.float64)  # well away from singular
    last = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(64, 1, 3)
    expected = torch.linalg.inv(torch.cat([theta, last], dim=1))[:, :2]
    assert torch.allclose(affine_inverse(theta), expected, atol=1e-12)
    # composed with its map it is the identity: [A⁻¹ | t'] ∘ [A | t] = [I | 0]
    inverse = affine_inverse(theta)
    composed = inverse[:, :, :2] @ theta
    composed[:, :, 2:] += inverse[:, :, 2:]
    assert torch.allclose(composed, torch.cat([torch.eye(2, dtype=torch.float64).expand(64, 2, 2),
                                               torch.zeros(64, 2, 1, dtype=torch.float64)], dim=2), atol=1e-12)
