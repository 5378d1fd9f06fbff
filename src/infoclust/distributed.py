"""Many processes, one model (torch.distributed, launched by torchrun or ``infoclust train --nproc``).

Each process takes its own equal shard of every global batch. Whole-batch statistics go through
``DistContext.reduce`` (a differentiable average over processes) and BatchNorm through
``SyncedBatchNorm`` (statistics of the global batch, on CPU and GPU alike), so the objective is the
one-process objective of the global batch; ``average_gradients`` then makes every process take the
same optimiser step. Parameters that a step does not use have no gradient on any process and are
simply skipped, so an idle head can never hang a collective. Rank 0 alone writes.
"""
from __future__ import annotations

import os
import warnings
import weakref
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

if dist.is_available():
    # Imported now, before any process group exists, and not later: its functions bind the default
    # group as a default argument (``group=group.WORLD``) when the module is first imported, and
    # torch.optim imports it (through torch._dynamo) when the first optimiser is built. Imported
    # after ``init_process_group`` they hold the live group for good: ``destroy_process_group``
    # then leaves gloo's worker threads running into interpreter shutdown, where they can abort
    # the process ("terminate called without an active exception").
    import torch.distributed.nn.functional  # noqa: F401


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; its gradient is the sum of the processes' gradients (each process's
    loss is a function of the sum, so every process's share gets the whole gradient)."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        out = t.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


@dataclass(frozen=True)
class DistContext:
    """This process's place among ``world_size`` processes (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1  # processes of this run on this machine

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Average of ``t`` over the processes, differentiable (the identity in one process)."""
        if not self.active:
            return t
        return _AllReduceSum.apply(t) / self.world_size

    def average_gradients(self, parameters) -> None:
        """Replace each parameter's gradient by its average over processes (one collective)."""
        if not self.active:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean_values(self, values: torch.Tensor) -> torch.Tensor:
        """Average of a tensor of logged values over processes (not differentiable)."""
        if not self.active:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values / self.world_size

    def combine(self, t: torch.Tensor, op: str) -> torch.Tensor:
        """``t`` combined over processes with ``op`` "sum" or "max" (not differentiable; ``t`` itself
        in one process): the whole-batch sums and maxima of Sinkhorn's codes."""
        if not self.active:
            return t
        out = t.clone()
        dist.all_reduce(out, op={"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}[op])
        return out

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when ``flag`` is true on any (a stop all processes agree on)."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    @property
    def local(self) -> "DistContext":
        """A one-process context for work this process does alone (rank 0's evaluation)."""
        return DistContext()


def from_environment() -> DistContext:
    """The context torchrun's variables describe (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE),
    one process without them."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    return DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")),
                       int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def init_process_group(ctx: DistContext, device: torch.device) -> bool:
    """Join the process group (NCCL on GPUs, gloo on CPUs) unless already joined or alone; True when
    this call joined it (and ``close_process_group`` should end it)."""
    if ctx.active and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ctx.rank, world_size=ctx.world_size)
        return True
    return False


def close_process_group(ctx: DistContext, wait: bool = True) -> None:
    """Leave and destroy the process group, so that no backend thread outlives it into interpreter
    shutdown; a no-op when alone or not joined.

    ``wait``: first wait at a barrier until every process has finished its collectives (the normal
    end); pass False when leaving on an error, where a peer may be gone or stuck in another
    collective. Warns when something still holds the destroyed group (its threads then live on).
    """
    if not ctx.active or not dist.is_initialized():
        return
    if wait:
        ctx.barrier()
    try:
        group: weakref.ref | None = weakref.ref(dist.group.WORLD)
    except TypeError:  # a torch whose process groups take no weak reference: nothing to check
        group = None
    dist.destroy_process_group()
    if group is not None and group() is not None:
        warnings.warn("the destroyed process group is still referenced, so its backend threads outlive it "
                      "and may abort the process at exit", RuntimeWarning, stacklevel=2)


class SyncedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch over all processes.

    Two differentiable averages (the mean, then the biased variance about it), so gradients flow
    through the global statistics as in one process; running statistics are updated alike on every
    process (unbiased variance, ``momentum`` as in ``nn.BatchNorm``). Works for N×C and N×C×H×W.
    """

    def __init__(self, num_features: int, ctx: DistContext, **kwargs):
        super().__init__(num_features, **kwargs)
        self.ctx = ctx

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 4):
            raise ValueError(f"expected N×C or N×C×H×W input, got {x.dim()}-d")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        dims = [0] + list(range(2, x.dim()))
        count = x.numel() // x.shape[1] * self.ctx.world_size
        mean = self.ctx.reduce(x.mean(dim=dims))
        shape = [1, -1] + [1] * (x.dim() - 2)
        centred = x - mean.view(shape)
        var = self.ctx.reduce((centred * centred).mean(dim=dims))
        if self.track_running_stats:
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach() * count / max(count - 1, 1), self.momentum)
                self.num_batches_tracked += 1
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def synchronise_batchnorm(module: nn.Module, ctx: DistContext) -> nn.Module:
    """Replace every BatchNorm of ``module`` by a ``SyncedBatchNorm`` with the same state (in place)."""
    if not ctx.active:
        return module
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, SyncedBatchNorm):
            synced = SyncedBatchNorm(child.num_features, ctx, eps=child.eps, momentum=child.momentum,
                                     affine=child.affine, track_running_stats=child.track_running_stats)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced.to(next(child.buffers(), torch.empty(0)).device))
        else:
            synchronise_batchnorm(child, ctx)
    return module
