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


def test_mixup_the_neighbour_view_and_dccs_decoder_are_the_steps_that_are_not_recorded():
    assert graph_obstacle(load_config(None, [], method="iic")) is None
    assert graph_obstacle(load_config(None, [], method="imsat")) is None
    mixup = load_config(None, ["objective.transform=mixup"], method="iic")
    assert "Mixup" in graph_obstacle(mixup)
    for name in ("dccs", "imc-swav", "iic-seg", "temi"):
        assert METHODS[name].graph_obstacle(load_config(None, [], method=name)) is None
    decoder = load_config(None, ["objective.information=decoder", "objective.beta_rec=1"], method="dccs")
    assert "decoder" in METHODS["dccs"].graph_obstacle(decoder)


def test_cli_with_cuda_graphs_on_a_cpu_stops_before_training_with_one_line(tmp_path, capsys, tiny_overrides):
    args = ["train", "--data", "digits", "--quiet", "--out", str(tmp_path / "run")]
    for item in tiny_overrides + ["train.device=cpu", "train.cuda_graphs=true"]:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.cuda_graphs = true but the run trains on cpu" in err[0]
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_a_state_saved_with_recorded_steps_loads_into_an_eager_run(tiny_overrides):
    """A run checkpointed on a GPU (capturable Adam, its rate a tensor) resumes on a CPU, whose Adam
    is not capturable and takes its rate as a number."""
    cfg = resolve_config(load_config(None, tiny_overrides + ["train.device=cpu"]), (1, 8, 8), 10, 100)
    method = build_method(cfg, (1, 8, 8), torch.device("cpu"))
    state = method.state_dict()
    for group in state["optimizer"]["param_groups"]:
        group["capturable"], group["lr"] = True, torch.tensor(0.25)  # a recorded run's rate is a tensor
    method.load_state_dict(state)
    assert [(g["capturable"], g["lr"]) for g in method.optimizer.param_groups] == [(False, 0.25)]
    assert isinstance(method.optimizer.param_groups[0]["lr"], float)
