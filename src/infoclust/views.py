"""Batched, on-device image views with per-sample random parameters from a seeded generator.

Images arrive as uint8 N×C×H×W tensors and become float in [0, 1] here. All geometry of one view
(crop position and size, rotation, flip, resize) is folded into one affine map per sample and applied
with a single ``grid_sample`` call for the whole batch; colour jitter is a few tensor ops. No
per-image Python loops.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import kornia.enhance
import torch
import torch.nn.functional as F

from .rng import Rng

_GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601-2 luma, as PIL's convert("L")


@dataclass(frozen=True)
class Geometry:
    """Random geometry of one view. Sizes are in source pixels; angles in degrees.

    A square crop whose side is drawn uniformly from ``crop_sizes`` is taken at a uniformly random
    position (or, with probability ``center_p``, centred), after rotating the whole image by a
    uniform angle in ±``rotation`` (applied with probability ``rotation_p``, zero fill); the crop is
    then resized (bilinear) to ``out_size`` and mirrored left-right with probability ``flip_p``.
    """

    out_size: int
    crop_sizes: tuple[float, ...]
    center_p: float = 0.0
    rotation: float = 0.0
    rotation_p: float = 0.0
    flip_p: float = 0.0


@dataclass(frozen=True)
class Jitter:
    """Colour jitter ranges as torchvision's ColorJitter: factors drawn from [1−x, 1+x], hue ±x."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0


@lru_cache(maxsize=None)
def constant(values: tuple, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``torch.tensor(values)`` on ``device``, made once: a fresh one per step would copy from the
    host each time, a host synchronisation on a GPU and a copy a CUDA graph cannot hold. Read only."""
    return torch.tensor(values, dtype=dtype, device=device)


def _uniform(n: int, low: float, high: float, rng: Rng, groups: int = 1) -> torch.Tensor:
    return low + (high - low) * rng.rand(n, groups=groups)


def _bernoulli(n: int, p: float, rng: Rng, groups: int = 1) -> torch.Tensor:
    return rng.rand(n, groups=groups) < p


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×C×H×W in [0, 255] → float32 in [0, 1] (floats pass through unchanged)."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


def affine_params(
    n: int, height: int, width: int, geo: Geometry, rng: Rng | torch.Generator, groups: int = 1
) -> torch.Tensor:
    """Per-sample 2×3 affine matrices (N×2×3) in ``affine_grid``'s normalised coordinates.

    ``groups``: the batch holds that many equal blocks (repeats), each sharded alike (``Rng``)."""
    rng = Rng.of(rng)
    dev = rng.device
    sizes = constant(tuple(geo.crop_sizes), dev)
    side = sizes[rng.randint(0, len(geo.crop_sizes), n, groups=groups)]
    # crop centre, in pixels relative to the image centre
    free_x, free_y = (width - side).clamp_min(0), (height - side).clamp_min(0)
    off_x = rng.rand(n, groups=groups) * free_x - free_x / 2
    off_y = rng.rand(n, groups=groups) * free_y - free_y / 2
    centred = _bernoulli(n, geo.center_p, rng, groups)
    off_x, off_y = off_x.masked_fill(centred, 0.0), off_y.masked_fill(centred, 0.0)
    angle = _uniform(n, -geo.rotation, geo.rotation, rng, groups) * math.pi / 180
    angle = angle.masked_fill(~_bernoulli(n, geo.rotation_p, rng, groups), 0.0)
    flip = torch.where(_bernoulli(n, geo.flip_p, rng, groups), -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # source point (centred pixels) = Rot(-angle) · (offset + side/2 · diag(flip, 1) · u)
    half = side / 2
    theta = torch.empty(n, 2, 3, device=dev)
    theta[:, 0, 0] = cos * half * flip * 2 / width
    theta[:, 0, 1] = sin * half * 2 / width
    theta[:, 1, 0] = -sin * half * flip * 2 / height
    theta[:, 1, 1] = cos * half * 2 / height
    theta[:, 0, 2] = (cos * off_x + sin * off_y) * 2 / width
    theta[:, 1, 2] = (-sin * off_x + cos * off_y) * 2 / height
    return theta


def geometric(x: torch.Tensor, geo: Geometry, rng: Rng | torch.Generator, groups: int = 1) -> torch.Tensor:
    """Random crop / rotation / flip / resize of float N×C×H×W → N×C×out×out, one grid_sample."""
    n, c, h, w = x.shape
    theta = affine_params(n, h, w, geo, rng, groups)
    grid = F.affine_grid(theta, [n, c, geo.out_size, geo.out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def greyscale(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W → N×1×H×W luma (N×1×H×W passes through)."""
    if x.shape[1] == 1:
        return x
    r, g, b = _GREY_WEIGHTS
    return r * x[:, 0:1] + g * x[:, 1:2] + b * x[:, 2:3]


def _factors(n: int, spread: float, rng: Rng, groups: int) -> torch.Tensor:
    return _uniform(n, max(0.0, 1 - spread), 1 + spread, rng, groups).view(n, 1, 1, 1)


def color_jitter(x: torch.Tensor, jit: Jitter, rng: Rng | torch.Generator, groups: int = 1) -> torch.Tensor:
    """Per-sample brightness, contrast, saturation and hue jitter of float N×C×H×W in [0, 1].

    Applied in that fixed order (torchvision permutes the order per call; for greyscale images
    brightness and contrast commute, and saturation and hue do nothing, as in torchvision).
    """
    n, rng = x.shape[0], Rng.of(rng)
    if jit.brightness:
        x = (x * _factors(n, jit.brightness, rng, groups)).clamp_(0, 1)
    if jit.contrast:
        mean = greyscale(x).mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * _factors(n, jit.contrast, rng, groups) + mean).clamp_(0, 1)
    if x.shape[1] == 3 and jit.saturation:
        grey = greyscale(x)
        x = ((x - grey) * _factors(n, jit.saturation, rng, groups) + grey).clamp_(0, 1)
    if x.shape[1] == 3 and jit.hue:
        shift = _uniform(n, -jit.hue, jit.hue, rng, groups) * 2 * math.pi
        x = kornia.enhance.adjust_hue(x, shift).clamp_(0, 1)
    return x


_SOBEL = (((1.0, 0.0, -1.0), (2.0, 0.0, -2.0), (1.0, 0.0, -1.0)),
          ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0)))  # dx, dy kernels, unnormalised as in the IIC code


def sobel(x: torch.Tensor, include_rgb: bool = False) -> torch.Tensor:
    """Sobel edges of the greyscale image: N×C×H×W → N×2×H×W (dx, dy), or N×(2+C) with the input."""
    edges = F.conv2d(greyscale(x), constant(_SOBEL, x.device, x.dtype).unsqueeze(1), padding=1)  # 2×1×3×3
    return torch.cat([edges, x], dim=1) if include_rgb else edges


INPUT_MODES = ("raw", "grey", "sobel", "sobel+rgb")


def input_channels(mode: str, image_channels: int) -> int:
    """Number of channels the network sees for ``mode`` given C image channels."""
    return {"raw": image_channels, "grey": 1, "sobel": 2, "sobel+rgb": 2 + image_channels}[mode]


def to_network_input(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Final channel mapping of a view (``INPUT_MODES``)."""
    if mode == "raw":
        return x
    if mode == "grey":
        return greyscale(x)
    return sobel(x, include_rgb=mode == "sobel+rgb")


@dataclass(frozen=True)
class PairViews:
    """The IIC view pair: ``tf1`` (the image x), ``tf2`` (its transform g·x) and ``eval`` (tf3)."""

    tf1: Geometry
    tf2: Geometry
    eval: Geometry
    jitter: Jitter
    input_mode: str = "raw"

    def base(self, images: torch.Tensor, rng: Rng | torch.Generator) -> torch.Tensor:
        """The x view alone (tf1) of B images, for objectives whose other view is not geometric."""
        return to_network_input(geometric(to_float(images), self.tf1, rng), self.input_mode)

    def pair(
        self, images: torch.Tensor, repeats: int, rng: Rng | torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """B images → (x B×C'×S×S, gx rB×C'×S×S); row j of gx pairs with row j mod B of x."""
        x = to_float(images)
        first = to_network_input(geometric(x, self.tf1, rng), self.input_mode)
        second = geometric(x.repeat(repeats, 1, 1, 1), self.tf2, rng, groups=repeats)
        second = to_network_input(color_jitter(second, self.jitter, rng, groups=repeats), self.input_mode)
        return first, second

    def evaluation(self, images: torch.Tensor) -> torch.Tensor:
        """Deterministic evaluation view (centre crop, resize) of B images."""
        x = to_float(images)
        n, c, h, w = x.shape
        side = float(self.eval.crop_sizes[0])
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0], theta[:, 1, 1] = side / w, side / h
        grid = F.affine_grid(theta, [n, c, self.eval.out_size, self.eval.out_size], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return to_network_input(x, self.input_mode)


def affine_inverse(theta: torch.Tensor) -> torch.Tensor:
    """The inverse maps of B×2×3 affine maps [A | t] (A invertible): [A⁻¹ | −A⁻¹ t], A⁻¹ in closed
    form (adjugate / determinant). Elementwise on the device: unlike ``torch.linalg.inv``, which
    checks for a singular matrix on the host (a synchronisation, and a step a CUDA graph cannot
    hold)."""
    a, b, c, d = theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1]
    det = a * d - b * c
    inv = torch.stack([torch.stack([d, -b], dim=-1), torch.stack([-c, a], dim=-1)], dim=1) / det[:, None, None]
    return torch.cat([inv, -(inv @ theta[:, :, 2:])], dim=2)


def bilinear_sample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``F.grid_sample(x, grid, "bilinear", "zeros", align_corners=False)`` built from gathers:
    x B×C×H×W, grid B×Ho×Wo×2 → B×C×Ho×Wo. Its gradient to ``x`` is deterministic on CUDA under
    ``torch.use_deterministic_algorithms`` (grid_sample's backward is not, and refuses to run)."""
    n, c, h, w = x.shape
    px = ((grid[..., 0] + 1) * w - 1) / 2  # B×Ho×Wo pixel coordinates
    py = ((grid[..., 1] + 1) * h - 1) / 2
    x0, y0 = px.floor(), py.floor()
    wx, wy = (x0 + 1 - px, px - x0), (y0 + 1 - py, py - y0)  # grid_sample's corner weights
    flat = x.reshape(n, c, h * w)
    out = x.new_zeros(n, c, grid.shape[1] * grid.shape[2])
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = x0 + dx, y0 + dy
            weight = wx[dx] * wy[dy] * ((cx >= 0) & (cx < w) & (cy >= 0) & (cy < h))  # zero padding
            index = (cy.clamp(0, h - 1) * w + cx.clamp(0, w - 1)).long().flatten(1)
            out = out + flat.gather(2, index[:, None].expand(n, c, -1)) * weight.flatten(1)[:, None]
    return out.reshape(n, c, *grid.shape[1:3])


@dataclass(frozen=True)
class DenseViews:
    """IIC's paired views for segmentation (§3.3): view 1 is a random crop of side ``input_size``;
    view 2 is that crop colour-jittered, mirrored left-right with probability ``flip_p`` and, where
    set, rotated by a uniform angle in ±``rotation`` degrees, zoomed by a factor drawn from
    ``scale`` and shifted by up to ±``translate`` of the side along each axis (zero fill).
    ``undo`` carries view 2's outputs back onto view 1's pixels (g⁻¹)."""

    input_size: int
    jitter: Jitter
    flip_p: float = 0.5
    rotation: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    input_mode: str = "raw"
    translate: float = 0.0

    def pair(self, images: torch.Tensor, rng: Rng | torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """B images → (view 1 B×C'×S×S, view 2 B×C'×S×S, g: B×2×3 maps, in ``affine_grid``'s
        normalised coordinates, from view 2's pixels to view 1's)."""
        rng = Rng.of(rng)
        crop = geometric(to_float(images), Geometry(self.input_size, (float(self.input_size),)), rng)
        n = crop.shape[0]
        angle = _uniform(n, -self.rotation, self.rotation, rng) * math.pi / 180
        zoom = 1 / _uniform(n, self.scale[0], self.scale[1], rng)  # a factor s > 1 shows the content s× larger
        flip = torch.where(_bernoulli(n, self.flip_p, rng), -1.0, 1.0)
        theta = torch.zeros(n, 2, 3, device=crop.device)
        theta[:, 0, 0], theta[:, 0, 1] = zoom * torch.cos(angle) * flip, -zoom * torch.sin(angle)
        theta[:, 1, 0], theta[:, 1, 1] = zoom * torch.sin(angle) * flip, zoom * torch.cos(angle)
        if self.translate:  # drawn only when set: the views of runs without it stay as they were
            theta[:, :, 2] = 2 * self.translate * (2 * rng.rand(n, 2) - 1)  # the side spans 2 in these units
        grid = F.affine_grid(theta, list(crop.shape), align_corners=False)
        second = F.grid_sample(crop, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        second = color_jitter(second, self.jitter, rng)
        return to_network_input(crop, self.input_mode), to_network_input(second, self.input_mode), theta

    @staticmethod
    def undo(outputs: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """View 2's outputs (B×K×H×W) on view 1's pixels (bilinear), and the B×1×H×W mask of view 1's
        pixels that view 2 saw (1) or not (0, outside its field after rotation or zoom)."""
        grid = F.affine_grid(affine_inverse(theta), list(outputs.shape), align_corners=False)
        back = bilinear_sample(outputs, grid)
        inside = (grid.abs() <= 1).all(dim=-1, keepdim=True).permute(0, 3, 1, 2)
        return back, inside.to(outputs.dtype)

    def evaluation(self, images: torch.Tensor) -> torch.Tensor:
        """The whole image at its own size (the network is fully convolutional, so every pixel of
        the label map gets a prediction)."""
        return to_network_input(to_float(images), self.input_mode)


def gaussian_noise(x: torch.Tensor, std: float, rng: Rng | torch.Generator) -> torch.Tensor:
    """x + N(0, std²) i.i.d. per element (Peng et al. eq. (5)); any shape, not clamped."""
    return x + std * Rng.of(rng).randn(*x.shape)


def cutout(x: torch.Tensor, min_box: int, max_box: int, rng: Rng | torch.Generator) -> torch.Tensor:
    """Zero one square per image (N×C×H×W): side uniform in [min_box, max_box] pixels, fully inside.

    The reference keeps only the square's centre inside the image (its box can be clipped at the
    border); keeping the whole box inside makes the masked area exactly side² (docs/methods.md).
    """
    n, _, h, w = x.shape
    rng = Rng.of(rng)
    dev = rng.device
    side = rng.randint(min_box, max_box + 1, n).clamp(max=min(h, w))
    top = (rng.rand(n) * (h - side + 1)).floor().long()
    left = (rng.rand(n) * (w - side + 1)).floor().long()
    rows, cols = torch.arange(h, device=dev), torch.arange(w, device=dev)
    in_rows = (rows >= top[:, None]) & (rows < (top + side)[:, None])  # N×H
    in_cols = (cols >= left[:, None]) & (cols < (left + side)[:, None])  # N×W
    return x.masked_fill((in_rows[:, :, None] & in_cols[:, None, :])[:, None], 0.0)


def beta_sample(n: int, alpha: float, rng: Rng | torch.Generator) -> torch.Tensor:
    """n draws of Beta(α, α), reproducible from ``rng`` without touching the global RNG."""
    return Rng.of(rng).beta(n, alpha)


def mixup(x: torch.Tensor, alpha: float, rng: Rng | torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each sample with its partner in the reversed batch (x.flip(0), as the reference code).

    Returns (λ x + (1 − λ) x_partner, λ) with per-sample λ ~ Beta(α, α) of shape (N,). Mix the
    clean posteriors the same way, ``mix_like(p, λ)``, to get Mixup's target.
    """
    lam = beta_sample(x.shape[0], alpha, rng)
    return mix_like(x, lam), lam


def mix_like(t: torch.Tensor, lam: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """λ t + (1 − λ) t reversed along ``dim`` (the batch axis), λ of shape (N,)."""
    shape = [1] * t.dim()
    shape[dim] = -1
    weight = lam.view(shape)
    return weight * t + (1 - weight) * t.flip(dim)


class VectorViews:
    """Feature vectors (N×D) have no geometric views: the x view and the evaluation view are x."""

    def base(self, vectors: torch.Tensor, rng: Rng | torch.Generator) -> torch.Tensor:
        return vectors.float()

    def evaluation(self, vectors: torch.Tensor) -> torch.Tensor:
        return vectors.float()


@dataclass(frozen=True)
class AugmentViews:
    """DCCS's views (its ``datasets.py``): the clean view is the whole image resized to ``size``;
    the augmented view a random resized crop (area fraction in ``scale``, aspect ratio in ``ratio``),
    a left-right flip with probability ``flip_p``, a random permutation of the colour channels
    (``channel_shuffle``), greyscale (``grey``) and colour jitter. Both end in [−1, 1]
    ((x − 0.5) / 0.5), as the DCCS code normalises; with ``sobel`` both then become the 2-channel
    Sobel edges of that image, kernels divided by 8 (the code's ``SobelLayer(normalize=True)``)."""

    size: int
    scale: tuple[float, float] = (0.4, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.0
    channel_shuffle: bool = False
    grey: bool = False
    jitter: Jitter = Jitter()
    sobel: bool = False

    def channels(self, image_channels: int) -> int:
        """Channels of both views for images of ``image_channels`` channels."""
        return 2 if self.sobel else 1 if self.grey else image_channels

    def _edges(self, x: torch.Tensor) -> torch.Tensor:
        return sobel(x) / 8 if self.sobel else x

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        return self._edges((greyscale(x) if self.grey else x) * 2 - 1)

    def clean(self, images: torch.Tensor) -> torch.Tensor:
        """B uint8 images → B×C'×size×size in [−1, 1], the whole image (bilinear resize)."""
        x = to_float(images)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return self._finish(x)

    def augmented(self, images: torch.Tensor, rng: Rng | torch.Generator) -> torch.Tensor:
        """B uint8 images → B×C'×size×size in [−1, 1], each with its own random parameters."""
        x = to_float(images)
        n, c, h, w = x.shape
        theta = resized_crop_params(n, h, w, self.scale, self.ratio, self.flip_p, rng)
        grid = F.affine_grid(theta, [n, c, self.size, self.size], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        if self.channel_shuffle and c == 3:
            order = Rng.of(rng).rand(n, 3).argsort(dim=1)
            x = x.gather(1, order[:, :, None, None].expand_as(x))
        if self.grey:
            x = greyscale(x)
        return self._edges(color_jitter(x, self.jitter, rng) * 2 - 1)


def resized_crop_params(n: int, height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float],
                        flip_p: float, rng: Rng | torch.Generator, groups: int = 1) -> torch.Tensor:
    """Per-sample 2×3 affine matrices (N×2×3) of a random resized crop with optional flip.

    Area fraction uniform in ``scale``, log aspect ratio (width / height) uniform in log ``ratio``,
    position uniform where the crop fits. torchvision draws up to ten times until the crop fits and
    then falls back to the centre; here a crop wider or taller than the image is clipped to it (one
    draw, no loop), which shifts a little probability to full-width or full-height crops.
    ``groups``: the n rows are that many equal blocks (copies of one batch), sharded alike (``Rng``).
    """
    rng = Rng.of(rng)
    area = _uniform(n, scale[0], scale[1], rng, groups) * height * width
    log_r = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), rng, groups)
    crop_w = (area * log_r.exp()).sqrt().clamp(max=width)
    crop_h = (area / log_r.exp()).sqrt().clamp(max=height)
    off_x = (rng.rand(n, groups=groups) - 0.5) * (width - crop_w)
    off_y = (rng.rand(n, groups=groups) - 0.5) * (height - crop_h)
    flip = torch.where(_bernoulli(n, flip_p, rng, groups), -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=rng.device)
    theta[:, 0, 0] = crop_w / width * flip
    theta[:, 1, 1] = crop_h / height
    theta[:, 0, 2] = off_x * 2 / width
    theta[:, 1, 2] = off_y * 2 / height
    return theta


@dataclass(frozen=True)
class CropGroup:
    """``count`` views of side ``size`` px, each a random resized crop of area fraction in ``scale``."""

    count: int
    size: int
    scale: tuple[float, float]


@dataclass(frozen=True)
class MultiCropViews:
    """SwAV's multi-crop (IMC-SwAV's ``datasets.py``): per view, a left-right flip (``flip_p``), a
    random resized crop (aspect ratio in ``ratio``) to its group's side, colour jitter with
    probability ``jitter_p``, greyscale with probability ``grey_p`` (colour images), then
    normalisation by ``mean`` and ``std`` per channel. The evaluation view is the whole image,
    resized to ``eval_size`` when given, normalised alike."""

    groups: tuple[CropGroup, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter: Jitter = Jitter(0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    grey_p: float = 0.25
    eval_size: int | None = None

    @property
    def n_views(self) -> int:
        return sum(g.count for g in self.groups)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        mean = constant(tuple(self.mean), x.device, x.dtype).view(1, -1, 1, 1)
        std = constant(tuple(self.std), x.device, x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std

    def clean(self, images: torch.Tensor) -> torch.Tensor:
        """B uint8 images → B×C×S×S, the whole image (S = ``eval_size`` or its own side), normalised."""
        x = to_float(images)
        if self.eval_size and (x.shape[-1] != self.eval_size or x.shape[-2] != self.eval_size):
            x = F.interpolate(x, size=(self.eval_size, self.eval_size), mode="bilinear", align_corners=False,
                              antialias=True)
        return self._normalise(x)

    def crops(self, images: torch.Tensor, rng: Rng | torch.Generator) -> list[torch.Tensor]:
        """B uint8 images → ``n_views`` tensors, B×C×size×size each, the groups in order; every view
        of every image draws its own parameters (one ``grid_sample`` per group)."""
        x, rng = to_float(images), Rng.of(rng)
        b, c, h, w = x.shape
        views: list[torch.Tensor] = []
        for group in self.groups:
            n = b * group.count
            theta = resized_crop_params(n, h, w, group.scale, self.ratio, self.flip_p, rng, groups=group.count)
            grid = F.affine_grid(theta, [n, c, group.size, group.size], align_corners=False)
            out = F.grid_sample(x.repeat(group.count, 1, 1, 1), grid, mode="bilinear", padding_mode="border",
                                align_corners=False)
            jittered = color_jitter(out, self.jitter, rng, groups=group.count)
            out = torch.where(_bernoulli(n, self.jitter_p, rng, group.count).view(n, 1, 1, 1), jittered, out)
            if c == 3:
                grey = greyscale(out).expand_as(out)
                out = torch.where(_bernoulli(n, self.grey_p, rng, group.count).view(n, 1, 1, 1), grey, out)
            views.extend(self._normalise(out).chunk(group.count))
        return views
