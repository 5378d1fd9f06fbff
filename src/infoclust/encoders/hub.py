"""Pretrained image encoders through Hugging Face ``transformers`` (an optional extra): a hub id
``hf:ORG/NAME`` (``@REVISION`` optional; downloaded by transformers, or read from its cache) or a
local model folder (``save_pretrained``'s output: config.json, weights, preprocessor_config.json)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError
from .preprocessing import Preprocessing

HUB_PREFIX = "hf:"
INSTALL = "pip install 'infoclust[pretrained]'"


@dataclass
class HubEncoder:
    """A pretrained model's image features: ``model`` (eval mode) maps a B×C×H×W float batch,
    preprocessed by ``preprocessing``, to B×``dim`` features (see ``image_features``). ``name``
    is the hub id or the folder as given, ``revision`` the hub commit (None for a local folder)."""

    name: str
    revision: str | None
    model: nn.Module
    preprocessing: Preprocessing
    dim: int

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return image_features(self.model, batch).float()


def image_features(model: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """B×C×H×W → B×D: the model's own image embedding where it has one (CLIP and SigLIP's
    ``get_image_features``), else its pooled output (DINOv2: the normalised class token, ViT's
    pooler), else the mean of its last hidden states over the tokens or positions."""
    if hasattr(model, "get_image_features"):
        found = model.get_image_features(pixel_values=pixels)
        return found if isinstance(found, torch.Tensor) else found.pooler_output
    out = model(pixel_values=pixels)
    pooled = getattr(out, "pooler_output", None)
    if pooled is not None:
        return pooled.flatten(1)
    hidden = out.last_hidden_state
    return hidden.mean(dim=1) if hidden.dim() == 3 else hidden.mean(dim=(2, 3))


def is_hub_spec(spec: str) -> bool:
    return spec.startswith(HUB_PREFIX)


def load_hub_encoder(spec: str, device: torch.device | str = "cpu", progress: bool = True) -> HubEncoder:
    """The encoder ``spec`` names: ``hf:ORG/NAME[@REVISION]`` or a local model folder. Every
    failure is one ConfigError line: transformers missing, no network and no cached copy, a folder
    that holds no model, a model without an image input. ``progress``: False silences
    transformers' download and loading bars."""
    try:
        import transformers
    except ImportError:
        raise ConfigError(f"encoder '{spec}' needs Hugging Face transformers, which is not installed: {INSTALL}") from None
    if not progress:
        transformers.utils.logging.disable_progress_bar()
    local = not is_hub_spec(spec)
    if local:
        folder = Path(spec)
        if not (folder / "config.json").is_file():
            raise ConfigError(f"encoder '{spec}': {'no such folder' if not folder.is_dir() else 'that folder holds no config.json'}; "
                              "expected 'hf:ORG/NAME', a model folder (save_pretrained's output) or an infoclust run folder")
        source, revision = str(folder), None
    else:
        source, _, revision = spec[len(HUB_PREFIX):].partition("@")
        revision = revision or None
    try:
        model = transformers.AutoModel.from_pretrained(source, revision=revision)
        processor = _processor_config(source, revision, local)
    except OSError as error:
        where = "the folder" if local else "the Hugging Face hub (no network, or no such model) nor its local cache"
        raise ConfigError(f"encoder '{spec}': cannot load it from {where}: {str(error).splitlines()[0]}") from None
    except ValueError as error:
        raise ConfigError(f"encoder '{spec}': transformers cannot build a model from it: {str(error).splitlines()[0]}") from None
    channels = int(getattr(getattr(model.config, "vision_config", model.config), "num_channels", 3))
    preprocessing = Preprocessing.from_processor_config(processor, channels, f"encoder '{spec}' preprocessor_config.json")
    if preprocessing.size is None and preprocessing.crop is None:
        raise ConfigError(f"encoder '{spec}': its preprocessor_config.json gives neither size (height, width) nor "
                          "crop_size: expected a fixed input size")
    model = model.eval().to(device)
    probe_shape = (1, channels, *(preprocessing.crop or preprocessing.size))
    try:
        dim = image_features(model, torch.zeros(probe_shape, device=device)).shape[1]
    except (TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"encoder '{spec}' is a {type(model).__name__}, which takes no images: {error}") from None
    commit = getattr(model.config, "_commit_hash", None) if not local else None
    return HubEncoder(spec, commit or revision, model, preprocessing, int(dim))


def _processor_config(source: str, revision: str | None, local: bool) -> dict:
    """The model's preprocessor_config.json (from the folder, or through the hub's cache)."""
    if local:
        path = Path(source) / "preprocessor_config.json"
        if not path.is_file():
            raise ConfigError(f"encoder '{source}': the folder has no preprocessor_config.json: expected the image "
                              "processor's settings beside the model (save the processor with save_pretrained too)")
    else:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(source, "preprocessor_config.json", revision=revision))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"encoder '{source}': {path.name} is not valid JSON ({error.msg}, line {error.lineno})") from None
