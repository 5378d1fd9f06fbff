"""Pretrained encoders from a local folder (and, offline, what a hub id without network says)."""
import shutil
import sys

import pytest
import torch

from infoclust.encoders import load_hub_encoder
from infoclust.errors import ConfigError

transformers = pytest.importorskip("transformers")


def test_a_local_model_folder_gives_its_pooled_features_and_its_preprocessing(tiny_dino):
    encoder = load_hub_encoder(str(tiny_dino))
    assert encoder.dim == 32 and encoder.revision is None and encoder.name == str(tiny_dino)
    assert encoder.preprocessing.shortest_edge == 36 and encoder.preprocessing.crop == (32, 32)
    batch = torch.randn(3, 3, 32, 32)
    reference = transformers.AutoModel.from_pretrained(tiny_dino).eval()
    with torch.no_grad():
        expected = reference(pixel_values=batch).pooler_output  # DINOv2: the normalised class token
    assert torch.allclose(encoder(batch), expected, atol=1e-6)


def test_a_hub_id_without_network_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without network: nothing is reached
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    with pytest.raises(ConfigError, match=r"encoder 'hf:nobody/no-such-model': cannot load it from the Hugging Face hub "
                                          r"\(no network, or no such model\) nor its local cache"):
        load_hub_encoder("hf:nobody/no-such-model")


def test_a_folder_that_is_not_a_model_is_one_line(tmp_path, tiny_dino):
    with pytest.raises(ConfigError, match="no such folder; expected 'hf:ORG/NAME', a model folder"):
        load_hub_encoder(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="that folder holds no config.json"):
        load_hub_encoder(str(tmp_path))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dino, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=f"encoder '{broken}': cannot load it from the folder"):
        load_hub_encoder(str(broken))
    (tiny_dino.parent / "no-processor").mkdir(exist_ok=True)
    bare = tiny_dino.parent / "no-processor" / "m"
    shutil.copytree(tiny_dino, bare, dirs_exist_ok=True)
    (bare / "preprocessor_config.json").unlink()
    with pytest.raises(ConfigError, match="the folder has no preprocessor_config.json"):
        load_hub_encoder(str(bare))


def test_a_text_model_is_refused(tmp_path):
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32)
    transformers.BertModel(config).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text('{"size": {"height": 8, "width": 8}}')
    with pytest.raises(ConfigError, match=f"encoder '{tmp_path}' is a BertModel, which takes no images"):
        load_hub_encoder(str(tmp_path))


def test_without_transformers_the_line_says_what_to_install(monkeypatch, tiny_dino):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"needs Hugging Face transformers, which is not installed: "
                                          r"pip install 'infoclust\[pretrained\]'"):
        load_hub_encoder(str(tiny_dino))
