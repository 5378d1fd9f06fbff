"""A checkpoint as one safetensors file: every tensor of the nested state stored under its path
(``method/model/conv.weight``), and the rest of the state (numbers, strings, None, lists, tuples,
dicts with str or int keys) as JSON in the file's metadata, each tensor's place marked by its path.
Reading one parses a JSON header and raw tensor bytes: nothing is unpickled, so a planted file can
never run code.
"""
from __future__ import annotations

import json
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors, save as save_tensors

from .errors import CheckpointError

METADATA_KEY = "infoclust"  # the JSON skeleton's key in the file's metadata
TENSOR, TUPLE, INT_KEYS = "__tensor__", "__tuple__", "__int_keys__"  # markers in the skeleton


def state_tensors(state: Any, path: str = "") -> dict[str, torch.Tensor]:
    """Every tensor of a nested state (dicts, lists, tuples) under its path, as a checkpoint stores
    it (``/method/model/conv.weight``); the tensors themselves, not copies."""
    if isinstance(state, torch.Tensor):
        return {path: state}
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, (list, tuple)) else ()
    return {key: tensor for name, item in items for key, tensor in state_tensors(item, f"{path}/{name}").items()}


def encode(state: dict) -> bytes:
    """``state`` as the bytes of one safetensors file; a value of another type is a TypeError."""

    def pack(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            return {TENSOR: path}
        if isinstance(value, dict):
            if all(isinstance(key, str) and key not in (TENSOR, TUPLE, INT_KEYS) for key in value):
                return {key: pack(item, f"{path}/{key}") for key, item in value.items()}
            if all(isinstance(key, int) and not isinstance(key, bool) for key in value):
                return {INT_KEYS: {str(key): pack(item, f"{path}/{key}") for key, item in value.items()}}
            raise TypeError(f"checkpoint dict at '{path or '/'}': expected all keys str or all int")
        if isinstance(value, (list, tuple)):
            items = [pack(item, f"{path}/{i}") for i, item in enumerate(value)]
            return {TUPLE: items} if isinstance(value, tuple) else items
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"checkpoint value at '{path}': a {type(value).__name__}, which a checkpoint cannot hold")

    skeleton = pack(state, "")
    # own storage, shared or not
    tensors = {path: value.detach().to("cpu", copy=True).contiguous() for path, value in state_tensors(state).items()}
    return save_tensors(tensors, metadata={METADATA_KEY: json.dumps(skeleton)})


def decode(data: bytes, name: str, device: str | torch.device = "cpu") -> dict:
    """The state ``encode`` wrote, its tensors on ``device``; ``name`` (the file) goes into the one
    ``CheckpointError`` line for bytes that are not an infoclust checkpoint."""

    def unpack(value: Any) -> Any:
        if isinstance(value, list):
            return [unpack(item) for item in value]
        if not isinstance(value, dict):
            return value
        if TENSOR in value:
            return tensors[value[TENSOR]].to(device)
        if TUPLE in value:
            return tuple(unpack(item) for item in value[TUPLE])
        if INT_KEYS in value:
            return {int(key): unpack(item) for key, item in value[INT_KEYS].items()}
        return {key: unpack(item) for key, item in value.items()}

    try:
        tensors = load_tensors(data)
        return unpack(json.loads(_metadata(data)[METADATA_KEY]))
    except (SafetensorError, ValueError, KeyError, TypeError) as exc:  # KeyError too: an index naming a missing tensor
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"checkpoint '{name}' is corrupt or not an infoclust checkpoint ({reason[:120]})") from None


def _metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's JSON header (8-byte little-endian length first)."""
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + length])["__metadata__"]
