import json
import math

import pytest
import torch
from safetensors.torch import load as load_tensors

from infoclust.checkpoint_file import decode, encode
from infoclust.errors import CheckpointError


def nested_state():
    weight = torch.randn(4, 3, 2, 2).to(memory_format=torch.channels_last)
    flat = torch.arange(6.0)
    return {
        "method": {"model": {"conv.weight": weight, "half": flat[:3]},  # a view that shares its storage
                   "optimizer": {"state": {0: {"step": torch.tensor(7.0), "exp_avg": torch.zeros(3)}},
                                 "param_groups": [{"lr": 1e-3, "betas": (0.5, 0.9), "params": [0]}]}},
        "generator": torch.arange(5, dtype=torch.uint8),
        "progress": {"epoch": 2, "elapsed_s": 1.5, "stopped": True, "reported_step": None, "losses": [0.25, math.nan]},
        "window": {"keys": [], "sums": torch.zeros(0, dtype=torch.float64)},
        "curve": "[]",
    }


def test_a_state_comes_back_with_its_types_values_and_dtypes():
    state = nested_state()
    back = decode(encode(state), "x")
    assert back.keys() == state.keys()
    assert torch.equal(back["method"]["model"]["conv.weight"], state["method"]["model"]["conv.weight"])
    assert back["method"]["model"]["half"].tolist() == [0.0, 1.0, 2.0]
    opt = back["method"]["optimizer"]
    assert list(opt["state"]) == [0] and opt["state"][0]["step"].item() == 7.0  # int keys stay int
    assert opt["param_groups"] == [{"lr": 1e-3, "betas": (0.5, 0.9), "params": [0]}]  # tuples stay tuples
    assert back["generator"].dtype == torch.uint8 and back["generator"].tolist() == [0, 1, 2, 3, 4]
    progress = back["progress"]
    assert progress["epoch"] == 2 and progress["stopped"] is True and progress["reported_step"] is None
    assert progress["losses"][0] == 0.25 and math.isnan(progress["losses"][1])
    assert back["window"]["sums"].shape == (0,) and back["window"]["sums"].dtype == torch.float64
    assert back["curve"] == "[]"


def test_the_file_is_plain_safetensors_with_a_json_index():
    data = encode(nested_state())
    tensors = load_tensors(data)  # any safetensors reader sees every tensor under its path
    assert set(tensors) == {"/method/model/conv.weight", "/method/model/half", "/method/optimizer/state/0/step",
                            "/method/optimizer/state/0/exp_avg", "/generator", "/window/sums"}
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    assert json.loads(header["__metadata__"]["infoclust"])["progress"]["epoch"] == 2


@pytest.mark.parametrize("state, where", [
    ({"a": {"b": object()}}, "'/a/b'"),
    ({"a": {1: 2, "x": 3}}, "'/a'"),
])
def test_a_value_a_checkpoint_cannot_hold_is_named(state, where):
    with pytest.raises(TypeError, match=where):
        encode(state)


def test_bytes_that_are_not_a_checkpoint_are_one_clear_error():
    for data in (b"not a checkpoint", encode(nested_state())[:200]):
        with pytest.raises(CheckpointError, match="'x' is corrupt or not an infoclust checkpoint") as caught:
            decode(data, "x")
        assert "\n" not in str(caught.value)
