"""Small randomly initialised Hugging Face models saved to a local folder, loaded exactly as a
user's cached or fine-tuned model would be (the tests never reach the network)."""
import json

import pytest

DINO_PREPROCESSING = {"do_resize": True, "size": {"shortest_edge": 36}, "resample": 3, "do_center_crop": True,
                      "crop_size": {"height": 32, "width": 32}, "do_rescale": True, "rescale_factor": 1 / 255,
                      "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                      "image_processor_type": "BitImageProcessor"}


@pytest.fixture(scope="session")
def tiny_dino(tmp_path_factory):
    """A 2-layer DINOv2 (32-d features, 32 px input, patches of 8) with DINOv2's kind of processor."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-dino")
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, image_size=32, patch_size=8)
    transformers.Dinov2Model(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(DINO_PREPROCESSING))
    return folder
