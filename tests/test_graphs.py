"""When training steps are replayed as CUDA graphs (``train.cuda_graphs``): where they can run, and
one clear error where a user asks for them and they cannot. The replay itself needs a GPU
(tests/test_cuda.py)."""
import pytest
import torch

from infoclust.cli import main
from infoclust.methods import load_config
from infoclust.distributed import DistContext
from infoclust.errors import ConfigError
from infoclust.graphs import use_cuda_graphs
from infoclust.methods import METHODS, build_method, resolve_config
from infoclust.methods.info import graph_obstacle

GPU = torch.device("cuda")  # a device object only: nothing here runs on it


def test_unset_means_on_for_one_process_on_a_gpu_with_a_recordable_step():
    assert use_cuda_graphs(None, GPU, DistContext(), None) is True
    assert use_cuda_graphs(None, torch.device("cpu"), DistContext(), None) is False
    assert use_cuda_graphs(None, GPU, DistContext(0, 2, 0, 2), None) is False
    assert use_cuda_graphs(None, GPU, DistContext(), "its step is not recorded") is False
    assert use_cuda_graphs(False, GPU, DistContext(), None) is False


@pytest.mark.parametrize("device, dist, obstacle, named", [
    (torch.device("cpu"), DistContext(), None, "the run trains on cpu"),
    (GPU, DistContext(0, 2, 0, 2), None, "the run has 2 processes"),
    (GPU, DistContext(), "dccs: its step is not recorded as a CUDA graph", "dccs: its step is not recorded"),
])
def test_true_where_graphs_cannot_run_is_one_error_naming_why(device, dist, obstacle, named):
    with pytest.raises(ConfigError, match=f"train.cuda_graphs = true but {named}.*expected train.cuda_graphs unset or false"):
        use_cuda_graphs(True, device, dist, obstacle)


def test_mixup_is_the_one_step_that_is_not_recorded():
    assert graph_obstacle(load_config(None, [], method="iic")) is None
    assert graph_obstacle(load_config(None, [], method="imsat")) is None
    mixup = load_config(None, ["objective.transform=mixup"], method="iic")
    assert "Mixup" in graph_obstacle(mixup)
    neighbour = load_config(None, ["objective.transform=neighbour"], method="iic")
    assert graph_obstacle(neighbour) is None
    decoder = load_config(None, ["objective.information=decoder", "objective.beta_rec=1"], method="dccs")
    for cfg in (decoder, *(load_config(None, [], method=name) for name in ("dccs", "imc-swav", "iic-seg", "temi"))):
        assert METHODS[cfg.method].graph_obstacle(cfg) is None
