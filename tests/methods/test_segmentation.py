"""IIC for segmentation: the paired views and their inverse, learning to split two-region images,
scoring against label maps, the report's picture and label PNGs."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from infoclust.cli import main
from infoclust.methods import load_config
from infoclust.data.segmentation import write_segmentation_folder
from infoclust.engine import train
from infoclust.errors import InfoclustError
from infoclust.models.segmentation import SegmentationNet
from infoclust.rng import Rng
from infoclust.views import DenseViews, Jitter


@pytest.mark.parametrize("padding, border_free", [("zeros", False), ("reflect", True), ("replicate", True)])
def test_the_trunks_padding_decides_whether_a_flat_image_shows_its_border(padding, border_free):
    torch.manual_seed(0)
    net = SegmentationNet(3, {"B": 4}, 1, width=4, padding=padding).eval()
    with torch.no_grad():
        out = net(torch.full((1, 3, 16, 16), 0.7), "B")  # 1×1×4×16×16
    spread = (out - out[..., 8:9, 8:9]).abs().max().item()  # against the centre pixel
    assert (spread < 1e-5) if border_free else (spread > 1e-3), spread


def test_a_mirrored_view_is_carried_back_exactly():
    views = DenseViews(12, Jitter(), flip_p=1.0)
    images = torch.randint(0, 256, (3, 1, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    first, second, theta = views.pair(images, Rng.seeded(0))
    assert torch.allclose(second, first.flip(-1), atol=1e-5)  # float32 pixel coordinates: errors ~1e-6
    back, seen = views.undo(second, theta)
    assert torch.allclose(back, first, atol=1e-5) and bool(seen.all())


@pytest.mark.parametrize("geometry", [{"rotation": 40, "scale": (0.7, 1.4)}, {"translate": 0.25}],
                         ids=["rotation and zoom", "shift"])
def test_a_pixel_follows_a_geometric_transform_back_to_its_place(geometry):
    views = DenseViews(32, Jitter(), flip_p=0.5, **geometry)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    blob = torch.exp(-((yy - 12) ** 2 + (xx - 19) ** 2) / 20)  # a smooth spot at (12, 19)
    images = (blob * 255).round().to(torch.uint8).expand(8, 1, 32, 32).clone()
    first, second, theta = views.pair(images, Rng.seeded(1))
    back, seen = views.undo(second, theta)

    def centre(t):
        return torch.stack([(t * yy).sum((-1, -2)), (t * xx).sum((-1, -2))], -1) / t.sum((-1, -2))[..., None]

    moved = (centre(second[:, 0]) - centre(first[:, 0])).norm(dim=-1)
    assert (moved > 1).sum() >= 6  # view 2 really moved the spot
    inside = seen[:, 0]  # where view 2 cut the spot off, compare what it kept
    assert ((centre(back[:, 0] * inside) - centre(first[:, 0] * inside)).norm(dim=-1) < 0.3).all()  # g⁻¹ brings it back
    assert 0.3 < seen.mean() < 1  # zoomed-out, rotated or shifted views leave parts unseen


def two_region_images(n: int, side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey images split at a random column: bright noise left (class 0), dark noise right (class 1)."""
    rng = np.random.default_rng(seed)
    cols = np.arange(side)
    split = rng.integers(3, side - 3, n)[:, None, None]
    left = np.broadcast_to(cols < split, (n, side, side))
    images = np.where(left, rng.integers(150, 256, (n, side, side)), rng.integers(0, 100, (n, side, side)))
    return images[:, None].astype(np.uint8), np.where(left, 0, 1).astype(np.int64)


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    write_segmentation_folder(root / "data", {"": two_region_images(96, 16, 0)}, ["bright", "dark"])
    # rotations up to 180°: on images this small every pixel sees the borders, and a split by position
    # (top against bottom) would be invariant to flips alone
    cfg = load_config(None, ["model.width=8", "model.overcluster=4", "objective.displacement=2", "train.epochs=8",
                             "train.batch_size=16", "train.lr=1e-3", "train.eval_every=4", "views.rotation=180",
                             "train.head_schedule=B:1,A:1,B:1"],
                      method="iic-seg", seed=0, data__name=str(root / "data"))
    figures = train(cfg, root / "run", progress=False)
    return root, figures


def test_iic_seg_learns_to_split_two_region_images(seg_run):
    _, figures = seg_run
    assert figures["n_images"] == 96 and figures["n_samples"] == 96 * 16 * 16
    assert figures["acc"] > 0.9 and figures["miou"] > 0.8  # chance: 0.5


def test_predict_writes_one_label_png_per_image_and_report_shows_segmentations(seg_run, capsys):
    root, figures = seg_run
    assert main(["predict", str(root / "run"), "--data", str(root / "data"), "--out", str(root / "pngs")]) == 0
    pngs = sorted((root / "pngs").glob("*.png"))
    assert len(pngs) == 96
    first = np.asarray(Image.open(pngs[0]))
    assert first.shape == (16, 16) and set(np.unique(first)) <= {0, 1}
    assert main(["predict", str(root / "run"), "--data", str(root / "data"), "--out", str(root / "pngs")]) == 2
    assert "expected a new (or empty) folder" in capsys.readouterr().err
    assert main(["report", str(root / "run")]) == 0
    page = (root / "run" / "report" / "index.html").read_text()
    assert (root / "run" / "report" / "segmentations.png").stat().st_size > 5000 and "segmentations.png" in page
    capsys.readouterr()
    assert main(["evaluate", str(root / "run"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["miou"] == pytest.approx(figures["miou"])


@pytest.mark.parametrize("setting, message", [
    ("views.input_size=15", "expected an even side"),
    ("views.input_size=64", "up to the images' 16 px"),
    ("objective.displacement=16", "objective.displacement = 16"),
    ("train.head_schedule=A:1", "never trains the main head"),
    ("views.translate=1.0", r"translate = 1.0: expected .* a shift in \[0, 1\) of the side"),
    ("model.padding=circle", "model.padding = 'circle': expected one of zeros, reflect, replicate"),
])
def test_impossible_segmentation_settings_are_named(seg_run, setting, message):
    root, _ = seg_run
    cfg = load_config(None, [setting], method="iic-seg", data__name=str(root / "data"))
    with pytest.raises(InfoclustError, match=message):
        train(cfg, root / "never", progress=False)
    assert not (root / "never").exists()
