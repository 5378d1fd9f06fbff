"""On a GPU: same seed, same numbers (``train.deterministic``), and an exact resume after a kill.
Skipped where CUDA is absent (CI); they run wherever it is present."""
import json

import pytest
import torch

from infoclust.cli import main
from infoclust.config import load_config
from infoclust.runs import RunDir
from infoclust.views import Geometry, geometric
from tests.conftest import kill_and_resume

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def cuda_overrides(tiny: list[str]) -> list[str]:
    return tiny + ["train.device=cuda", "train.deterministic=true"]


def test_same_seed_gives_the_same_evaluate_json_on_cuda(tmp_path, tiny_overrides, capsys):
    outputs = []
    for name in ("a", "b"):
        args = ["train", "--data", "digits", "--seed", "3", "--quiet", "--out", str(tmp_path / name)]
        for item in cuda_overrides(tiny_overrides):
            args += ["--set", item]
        assert main(args) == 0
        capsys.readouterr()
        assert main(["evaluate", str(tmp_path / name), "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert torch.cuda.get_device_name() in json.loads((tmp_path / "a" / "summary.json").read_text())["machine"]


def test_resume_after_a_kill_matches_on_cuda(tmp_path, tiny_overrides, monkeypatch):
    cfg = load_config(None, cuda_overrides(tiny_overrides) + ["train.epochs=3"], seed=3)
    from infoclust.methods.info import InfoClustering

    full, resumed = kill_and_resume(cfg, tmp_path, InfoClustering, 37, monkeypatch)
    for key in ("acc", "nmi", "ari", "sub_head_loss", "cluster_sizes"):
        assert resumed[key] == full[key], key
    a, b = (RunDir(tmp_path / r).load_checkpoint()["method"]["model"] for r in ("full", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_views_are_made_on_the_gpu_from_a_gpu_generator():
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.rand(8, 1, 12, 12, device="cuda")
    out = geometric(x, Geometry(8, (8, 10), rotation=20, rotation_p=1.0, flip_p=0.5), gen)
    assert out.device.type == "cuda" and out.shape == (8, 1, 8, 8)


def test_deterministic_defaults_to_off_on_cuda(tiny_overrides):
    from infoclust.data import load_dataset
    from infoclust.engine import Trainer

    cfg = load_config(None, tiny_overrides + ["train.device=cuda"], seed=0)
    trainer = Trainer(cfg, load_dataset("digits", progress=False), progress=False)
    assert trainer.cfg.train.deterministic is False and not torch.backends.cudnn.deterministic
