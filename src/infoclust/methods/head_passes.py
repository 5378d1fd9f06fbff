"""What IIC-style methods share: one network ``model`` with named heads, one Adam ``optimizer``,
and the heads trained in turn, one pass each, in the order of ``cycle`` (``train.head_schedule``).
A subclass supplies ``_losses(samples, head, ctx)`` → the objective's named terms, each (h,): one
value per sub-head of ``head``; the loss is their sum."""
from __future__ import annotations

from dataclasses import replace

import torch

from .base import Method, StepContext
from .common import MAIN


class HeadPasses(Method):
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    cycle: list[str]
    device: torch.device

    def pass_name(self, epoch: int) -> str:
        """The head trained during pass (epoch) ``epoch``."""
        return self.cycle[epoch % len(self.cycle)]

    def may_report(self, epoch: int) -> bool:
        """A pass of the over-clustering head moves the trunk under the main head without training
        it: a model stopped inside one is not reported (IIC's last-main-pass rule)."""
        return self.pass_name(epoch) == MAIN

    def train_step(self, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One Adam step on the pass's head, loss averaged over its sub-heads."""
        self.model.train()
        head = self.pass_name(ctx.epoch)
        return self.run_step(head, lambda *inputs: self._step(head, ctx, *inputs), samples, ctx)

    def _step(self, head: str, ctx: StepContext, samples: torch.Tensor, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"loss"} and each term of the objective, averaged over the head's sub-heads."""
        terms = self._losses(samples, head, replace(ctx, indices=indices))
        loss = total(terms).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ctx.dist.average_gradients(self.model.parameters())
        self.optimizer.step()
        return {"loss": loss.detach(), **{name: term.detach().mean() for name, term in terms.items()}}

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.optimisers_loaded(self.optimizer)


def total(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """The sum of the objective's terms (h,), added in their order."""
    values = iter(terms.values())
    out = next(values)
    for value in values:
        out = out + value
    return out
