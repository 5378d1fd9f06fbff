"""An encoder's preprocessing, read from its processor config, equals transformers' own."""
import numpy as np
import pytest
from PIL import Image

from infoclust.encoders import Preprocessing
from infoclust.errors import ConfigError

from .conftest import DINO_PREPROCESSING

CLIP_LIKE = {"do_resize": True, "size": {"shortest_edge": 24}, "resample": 3, "do_center_crop": True, "crop_size": 24,
             "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
             "image_mean": [0.481, 0.458, 0.408], "image_std": [0.269, 0.261, 0.276],
             "image_processor_type": "CLIPImageProcessor"}
VIT_LIKE = {"do_resize": True, "size": {"height": 20, "width": 20}, "resample": 2, "do_rescale": True,
            "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "image_processor_type": "ViTImageProcessor"}


def photo(width, height, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).convert(mode)


@pytest.mark.parametrize("config", [DINO_PREPROCESSING, CLIP_LIKE, VIT_LIKE], ids=["dinov2", "clip", "vit"])
@pytest.mark.parametrize("size, mode", [((70, 50), "RGB"), ((40, 90), "RGB"), ((33, 33), "L")])
def test_our_preprocessing_is_transformers_own(tmp_path, config, size, mode):
    transformers = pytest.importorskip("transformers")
    import json

    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    # the PIL processor, the reference we match: where torchvision is installed transformers picks a
    # torchvision one by default, whose resize rounds some pixels one level of 255 apart
    processor = transformers.AutoImageProcessor.from_pretrained(tmp_path, use_fast=False)
    image = photo(*size, mode=mode)
    expected = processor(images=image.convert("RGB"), return_tensors="np")["pixel_values"][0]
    ours = Preprocessing.from_processor_config(config)(image)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 1e-5


def test_a_grey_encoder_gets_one_channel_and_a_single_mean_repeats():
    steps = Preprocessing.from_processor_config({**VIT_LIKE, "image_mean": 0.5, "image_std": 0.25}, channels=1)
    out = steps(photo(30, 30))
    assert out.shape == (1, 20, 20) and steps.mean == (0.5,) and steps.std == (0.25,)
    assert steps.to_dict()["size"] == (20, 20)


@pytest.mark.parametrize("change, message", [
    ({"size": {"longest_edge": 9}}, r"size = \{'longest_edge': 9\}: expected an integer"),
    ({"do_center_crop": True, "crop_size": "big"}, r"crop_size = 'big': expected an integer"),
    ({"resample": 9}, "resample = 9: expected a Pillow filter number 0..5"),
    ({"image_mean": [0.5, 0.5]}, "image_mean / image_std have 2 values: expected 1 or the encoder's 3 channels"),
])
def test_a_processor_config_we_cannot_follow_is_one_line(change, message):
    with pytest.raises(ConfigError, match=message):
        Preprocessing.from_processor_config({**VIT_LIKE, **change})
