"""Seeded random draws for a batch that may be split over several processes.

Every draw is made for the *global* batch (``world_size`` × the local size along the batch axis)
from one generator that every process seeds alike, and each process keeps its own slice. So the
views and noises of process r are exactly the rows of a one-process run on the global batch, and
in one process a draw is the plain ``torch.rand(n, generator=...)`` of before.
"""
from __future__ import annotations

import torch


class Rng:
    """Random source for per-sample parameters. ``groups``: the batch axis holds ``groups`` blocks of
    equal size (e.g. the ``repeats`` copies of a batch), each sharded over the processes alike."""

    def __init__(self, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        self.generator, self.rank, self.world_size = generator, rank, world_size

    @classmethod
    def seeded(cls, seed: int, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1) -> "Rng":
        return cls(torch.Generator(device=device).manual_seed(seed), rank, world_size)

    @classmethod
    def of(cls, source: "Rng | torch.Generator") -> "Rng":
        """An ``Rng`` as it is, or a one-process ``Rng`` around a plain generator."""
        return source if isinstance(source, Rng) else cls(source)

    @property
    def device(self) -> torch.device:
        return self.generator.device

    def _draw(self, make, n: int, rest: tuple[int, ...], groups: int) -> torch.Tensor:
        if self.world_size == 1:
            return make((n, *rest))
        m = n // groups
        full = make((groups, self.world_size * m, *rest))
        return full[:, self.rank * m:(self.rank + 1) * m].reshape(n, *rest)

    def rand(self, n: int, *rest: int, groups: int = 1) -> torch.Tensor:
        """Uniform [0, 1) of shape (n, *rest)."""
        return self._draw(lambda s: torch.rand(s, generator=self.generator, device=self.device), n, rest, groups)

    def randn(self, n: int, *rest: int, groups: int = 1) -> torch.Tensor:
        """Standard normal of shape (n, *rest)."""
        return self._draw(lambda s: torch.randn(s, generator=self.generator, device=self.device), n, rest, groups)

    def randint(self, low: int, high: int, n: int, groups: int = 1) -> torch.Tensor:
        """Integers in [low, high) of shape (n,)."""
        return self._draw(lambda s: torch.randint(low, high, s, generator=self.generator, device=self.device),
                          n, (), groups)

    def beta(self, n: int, alpha: float) -> torch.Tensor:
        """(n,) draws of Beta(α, α) without touching the global RNG."""
        seed = int(torch.randint(2**62, (1,), generator=self.generator, device=self.device))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            draw = lambda s: torch.distributions.Beta(alpha, alpha).sample(s)  # noqa: E731
            sample = self._draw(draw, n, (), 1)
        return sample.to(self.device)

    def get_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state.cpu())  # generator states are CPU byte tensors on every device
