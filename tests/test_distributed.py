"""Two processes (gloo on CPU) compute the one-process step of the global batch: same loss, same
gradients, same updated weights; and ``infoclust train --nproc 2`` trains end to end."""
import gc
import json
import os
import time
import warnings
import weakref

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from infoclust.cli import main
from infoclust.methods import load_config
from infoclust.data import load_dataset
from infoclust.distributed import DistContext, SyncedBatchNorm, close_process_group
from infoclust.machine import select_device
from infoclust.errors import ConfigError
from infoclust.methods import StepContext, build_method, method_spec, resolve_config
from infoclust.rng import Rng

GLOBAL_BATCH = 64
# method, overrides, samples. IIC's joint and IMSAT's marginal are the whole-batch statistics; the
# VAT regulariser rides along in IMSAT. (iic-vat is left out: its fixed radius of 2 moves some
# confident 8-px digits along directions normalised from gradients of ~1e-9, which float rounding
# decides, so one and two processes agree on its loss to 5e-4 but not on every gradient to 2e-3.)
CASES = {
    "iic": ("iic", [], "images"),
    "imsat": ("imsat", ["model.width=64"], "vectors"),
    # Sinkhorn's codes (sums and maxima over both processes) and the MI joint over the global batch.
    # At the paper's ε = 0.05 the codes are so sharp that float rounding of the scores (~1e-7, from
    # the other order of sums in the synchronised BatchNorm) moves the first convolution's gradient
    # by up to 1 %; at ε = 1 the step is checked against rounding_noise and the codes at ε = 0.05 to 1e-5 below.
    "imc-swav": ("imc-swav", ["objective.eps=1.0"], "images"),
    # TEMI's teacher marginal is the whole-batch statistic; its neighbours are drawn per sample
    "temi": ("temi", ["objective.freeze_last_layer=0"], "vectors"),
    # its self-labelling step (the last pass): class counts and the weighted mean over the global batch
    "temi-self-label": ("temi", ["objective.freeze_last_layer=0", "train.epochs=2", "selflabel.epochs=1",
                                 "selflabel.threshold=0.6"], "vectors"),
}
STEP_EPOCH = {"temi-self-label": 1}  # the pass of the checked step, where not the first one that may report


def parameters(method) -> dict[str, torch.nn.Parameter]:
    """Every named parameter of a method, whether it keeps one ``model`` or several ``modules``."""
    modules = method.modules if hasattr(method, "modules") else {"model": method.model}
    return {f"{k}.{n}": p for k, m in modules.items() for n, p in m.named_parameters()}


def samples(kind: str) -> torch.Tensor:
    images = load_dataset("digits", progress=False).images
    return torch.from_numpy(images) if kind == "images" else torch.from_numpy(images.reshape(len(images), -1) / 255.0).float()


def build(case: str, rank: int = 0, world: int = 1):
    """(method, samples) of ``case`` for process ``rank`` of ``world``, before any step."""
    name, overrides, kind = CASES[case]
    x = samples(kind)
    quick = [f"{k}={json.dumps(v)}" for k, v in method_spec(name).quick.items()]
    if kind == "vectors":
        quick = [q for q in quick if not q.startswith("views.")]
    cfg = resolve_config(load_config(None, quick + overrides + [f"train.batch_size={GLOBAL_BATCH}"], method=name, seed=0),
                         tuple(x.shape[1:]), 10, len(x))
    torch.manual_seed(0)
    method = build_method(cfg, tuple(x.shape[1:]), torch.device("cpu"), DistContext(rank, world))
    method.prepare(x)
    return method, x


def warm_up(case: str, path: str, steps: int = 15) -> None:
    """Train one process a few steps and save the method's state: at initialisation the heads are
    near uniform, the MI and its gradients are ~1e-8 and float rounding decides them."""
    method, x = build(case)
    rng = Rng.seeded(3, "cpu")
    for step in range(steps):
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(100 + step))[:GLOBAL_BATCH]
        method.train_step(x[idx], StepContext(0, step, rng, idx))
    torch.save(method.state_dict(), path)


def one_step(case: str, rank: int, world: int, init_file: str, out: str, warm: str, threads: int = 1) -> None:
    """One training step, from the ``warm`` state, of process ``rank`` of ``world`` on its share of
    the same global batch, on ``threads`` threads; rank 0 saves the loss (averaged over processes),
    gradients and weights."""
    torch.set_num_threads(threads)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    ctx_dist = DistContext(rank, world)
    method, x = build(case, rank, world)
    method.load_state_dict(torch.load(warm))
    batch = torch.randperm(len(x), generator=torch.Generator().manual_seed(5))[:GLOBAL_BATCH]
    share = batch.view(world, -1)[rank]
    epoch = STEP_EPOCH.get(case, next(e for e in range(10) if method.may_report(e)))
    parts = method.train_step(x[share], StepContext(epoch, 0, Rng.seeded(1, "cpu", rank, world), share, ctx_dist))
    loss = ctx_dist.mean_values(parts["loss"])
    if rank == 0:
        params = parameters(method)
        torch.save({"loss": loss, "parts": {k: v.item() for k, v in parts.items()},
                    "grads": {n: p.grad for n, p in params.items() if p.grad is not None},
                    "weights": {n: p.detach() for n, p in params.items()},
                    "synced": any(isinstance(m, SyncedBatchNorm) for m in _all_modules(method)),
                    "batchnorm": any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in _all_modules(method))},
                   out)
    close_process_group(ctx_dist)  # nobody tears gloo down while another process still talks to it


def _all_modules(method):
    tops = method.modules.values() if hasattr(method, "modules") else [method.model]
    return [m for top in tops for m in top.modules()]


def _worker(rank: int, case: str, world: int, init_file: str, out: str, warm: str) -> None:
    if os.environ.get("BREAK_REDUCE"):  # set by the test that shows the check can fail
        DistContext.reduce = lambda self, t: t
    one_step(case, rank, world, init_file, out, warm)


def one_and_two(case: str, tmp_path) -> tuple[dict, dict]:
    """What rank 0 saw of the same step taken by one process and by two."""
    warm = str(tmp_path / "warm.pt")
    warm_up(case, warm)
    one_step(case, 0, 1, "", str(tmp_path / "one.pt"), warm)
    mp.spawn(_worker, args=(case, 2, str(tmp_path / "init"), str(tmp_path / "two.pt"), warm), nprocs=2, join=True)
    return torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")


def rounding_noise(case: str, tmp_path, one: dict) -> tuple[float, float]:
    """(largest relative gradient difference, largest weight difference) between the one-process
    step ``one`` (1 thread) and the same step on 2 threads: float rounding alone (oneDNN splits its
    sums by thread), which some steps amplify. IMC-SwAV's first layers, through the BatchNorm
    backward's cancellation: 2.7e-3 on the 2-core Xeon with AVX-512, 2.5e-2 with oneDNN held to
    SSE4.1 (ONEDNN_MAX_CPU_ISA=SSE41), where Adam also turns IIC's noise-sized gradients into weight
    steps of up to its learning rate."""
    threads = torch.get_num_threads()
    try:
        one_step(case, 0, 1, "", str(tmp_path / "one-2-threads.pt"), str(tmp_path / "warm.pt"), threads=2)
    finally:
        torch.set_num_threads(threads)
    other = torch.load(tmp_path / "one-2-threads.pt")
    weights = max((w - other["weights"][name]).abs().max().item() for name, w in one["weights"].items())
    return max(relative_errors(one["grads"], other["grads"]).values()), weights


def relative_errors(one: dict, two: dict) -> dict[str, float]:
    """‖g₁ − g₂‖ / (‖g₁‖ + 10⁻⁴ · the largest ‖g‖ of any parameter) per parameter: a bias before a
    BatchNorm has a zero gradient in exact arithmetic, and its float noise is not a difference."""
    scale = max(g.norm().item() for g in one.values())
    return {n: ((g - two[n]).norm() / (g.norm() + 1e-4 * scale)).item() for n, g in one.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_take_the_one_process_step_of_the_global_batch(case, tmp_path):
    one, two = one_and_two(case, tmp_path)
    assert two["synced"] == one["batchnorm"] and not one["synced"]  # BatchNorm sees the global batch in both
    assert torch.allclose(one["loss"], two["loss"], rtol=1e-4, atol=1e-6), (one["loss"], two["loss"])
    assert 0 < one["parts"].get("confident", 0.5) < 1  # the self-labelling step has confident samples, not all
    assert one["grads"].keys() == two["grads"].keys() and len(one["grads"]) > 4
    # two processes differ from one by rounding as 2 threads differ from 1; a missing reduction by far more
    errors, (noise, weight_noise) = relative_errors(one["grads"], two["grads"]), rounding_noise(case, tmp_path, one)
    assert max(errors.values()) < max(2e-3, 4 * noise), (errors, noise)
    for name, w in one["weights"].items():
        assert torch.allclose(w, two["weights"][name], atol=max(1e-5, 4 * weight_noise)), (name, weight_noise)


def _sinkhorn_worker(rank: int, init_file: str, out: str) -> None:
    from infoclust.losses import sinkhorn

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    scores = torch.nn.functional.normalize(torch.randn(64, 30, generator=torch.Generator().manual_seed(0)), dim=1)
    codes = sinkhorn(scores.view(2, 32, 30)[rank], eps=0.05, iters=3, reduce=DistContext(rank, 2).combine)
    torch.save(codes, f"{out}.{rank}")
    close_process_group(DistContext(rank, 2))


def test_two_processes_give_the_sinkhorn_codes_of_the_global_batch(tmp_path):
    from infoclust.losses import sinkhorn

    scores = torch.nn.functional.normalize(torch.randn(64, 30, generator=torch.Generator().manual_seed(0)), dim=1)
    one = sinkhorn(scores, eps=0.05, iters=3)
    mp.spawn(_sinkhorn_worker, args=(str(tmp_path / "init"), str(tmp_path / "codes")), nprocs=2, join=True)
    two = torch.cat([torch.load(tmp_path / f"codes.{r}") for r in range(2)])
    assert torch.allclose(one, two, atol=1e-5)
    own = torch.cat([sinkhorn(half, eps=0.05, iters=3) for half in scores.view(2, 32, 30)])
    assert not torch.allclose(one, own, atol=1e-3)  # each process's own batch alone gives other codes


def test_a_broken_reduction_is_caught(tmp_path, monkeypatch):
    """The check above can fail: with each process's own joint (no reduction), loss and gradients differ."""
    monkeypatch.setenv("BREAK_REDUCE", "1")
    one, two = one_and_two("iic", tmp_path)
    assert not torch.allclose(one["loss"], two["loss"], rtol=1e-3) or max(relative_errors(one["grads"], two["grads"]).values()) > 1e-2


def _gloo_threads() -> list[str]:
    """The names of this process's gloo threads (Linux: /proc), [] where they cannot be listed."""
    if not os.path.isdir("/proc/self/task"):
        return []
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                names.append(f.read().strip())
        except OSError:  # the thread ended meanwhile
            pass
    return [n for n in names if "gloo" in n]


def _closing_worker(rank: int, init_file: str) -> None:
    """Join, build an optimiser after joining (as training does: its first construction imports
    torch._dynamo, which imports torch.distributed.nn), talk, then close the group: the group is
    gone, nothing holds it, and none of gloo's threads is left to outlive the interpreter."""
    torch.set_num_threads(1)
    ctx = DistContext(rank, 2)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    model = torch.nn.Linear(3, 2)
    optimiser = torch.optim.Adam(model.parameters())
    model(torch.ones(4, 3)).sum().backward()
    ctx.average_gradients(model.parameters())
    optimiser.step()
    assert ctx.mean_values(torch.tensor([float(rank)])).item() == 0.5
    assert _gloo_threads() or not os.path.isdir("/proc/self/task")  # the threads the check below counts
    group = weakref.ref(dist.group.WORLD)
    with warnings.catch_warnings():  # close_process_group warns when the group outlives it
        warnings.filterwarnings("error", "the destroyed process group", RuntimeWarning)
        close_process_group(ctx)
    assert not dist.is_initialized()
    gc.collect()
    assert group() is None, "something still holds the destroyed process group"
    deadline = time.monotonic() + 5  # joined threads leave /proc a moment after they end
    while _gloo_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _gloo_threads(), _gloo_threads()


def test_closing_the_process_group_leaves_no_gloo_thread_behind(tmp_path):
    mp.spawn(_closing_worker, args=(str(tmp_path / "init"),), nprocs=2, join=True)  # raises unless both exit 0


def test_closing_is_a_no_op_alone_or_before_joining():
    assert not dist.is_initialized()
    close_process_group(DistContext())
    close_process_group(DistContext(1, 2))  # never joined
    assert not dist.is_initialized()


def nproc_two_args(data: str, out) -> list[str]:
    """``infoclust train --nproc 2`` of ``data`` into ``out`` for one pass of the tiny settings."""
    from tests.conftest import TINY

    args = ["train", "--nproc", "2", "--data", data, "--quiet", "--out", str(out), "--set", "train.epochs=1"]
    return args + [a for item in TINY if not item.startswith("train.epochs") for a in ("--set", item)]


def test_nproc_two_trains_digits_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(nproc_two_args("digits", out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["n_samples"] == 1797 and np.isfinite(summary["acc"])
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in lines if r["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps  # rank 0 alone writes: no line twice


def test_nproc_two_train_from_one_on_disk_pixel_cache(tmp_path, monkeypatch):
    """A folder read through the on-disk cache (INFOCLUST_IN_MEMORY_MIB=0) under torchrun: both
    processes read the one cache file, nothing half-built is left, the run scores every image."""
    from tests.conftest import write_digits_folder

    monkeypatch.setenv("INFOCLUST_IN_MEMORY_MIB", "0")
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    folder = write_digits_folder(tmp_path / "digits", 300)
    out = tmp_path / "run"
    assert main(nproc_two_args(str(folder), out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["n_samples"] == 300 and np.isfinite(summary["acc"])
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert files == ["pixels.u8", "record.json"]  # one cache, whole, shared by both processes


@pytest.mark.parametrize("gpus, processes, name, expected", [
    (0, 2, "auto", "cpu"), (1, 1, "auto", "cuda:0"), (1, 2, "auto", "cpu"), (2, 2, "auto", "cuda:1"),
    (2, 2, "cuda", "cuda:1"), (2, 2, "cuda:0", "cuda:0"),
])
def test_auto_gives_each_process_its_own_gpu_or_the_cpu(gpus, processes, name, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    local_rank = processes - 1
    assert select_device(name, DistContext(local_rank, processes, local_rank, processes)) == torch.device(expected)


def test_more_processes_than_gpus_on_cuda_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="2 processes on this machine but 1 GPU"):
        select_device("cuda", DistContext(1, 2, 1, 2))
