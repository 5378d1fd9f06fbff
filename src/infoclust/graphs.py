"""Training steps replayed as CUDA graphs (``train.cuda_graphs``).

A small step on a GPU is bound by kernel launches, not by arithmetic: IIC's step at the paper's batch
launches ~470 kernels for 6 ms of GPU work (docs/RESULTS.md). A CUDA graph records the whole step
(views, forwards, loss, backward, Adam) once and replays it with one launch. What a step may do to
be recorded: no host synchronisation and no copy from the host (``views.constant``), inputs of a
fixed shape (copied into the graph's own tensors), random draws from a registered generator, and an
optimiser built with ``capturable=True``. The replay draws the same random numbers as the eager step
from the generator, which moves on as it would eagerly.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

import torch

from .distributed import DistContext
from .errors import ConfigError

Step = Callable[..., dict[str, torch.Tensor]]  # a training step: its inputs (a method's: samples, indices) → named loss parts


def use_cuda_graphs(setting: bool | None, device: torch.device, dist: DistContext, obstacle: str | None) -> bool:
    """``train.cuda_graphs`` as a run uses it. ``None`` = on where it can run: one process on a GPU
    and a method whose step can be recorded (``obstacle`` says why not, else None). ``True`` where it
    cannot run is a ConfigError naming why."""
    why_not = obstacle
    if device.type != "cuda":
        why_not = f"the run trains on {device.type}, and CUDA graphs need a GPU"
    elif dist.world_size > 1:
        why_not = f"the run has {dist.world_size} processes; CUDA graphs are used in one-process runs only"
    if setting and why_not:
        raise ConfigError(f"train.cuda_graphs = true but {why_not}: expected train.cuda_graphs unset or false")
    return why_not is None if setting is None else setting


class StepGraphs:
    """One CUDA graph per kind of step (``key``, e.g. the head a pass trains, and the input shapes).

    Each kind runs ``warmup`` times eagerly on a side stream (lazy initialisations, cuDNN's choice of
    algorithm), is recorded on the next call and replayed from then on. ``reset`` drops the graphs:
    call it whenever the tensors they write are replaced (a loaded optimiser state)."""

    def __init__(self, warmup: int = 3):
        self.warmup = warmup
        self.eager_calls: Counter = Counter()
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], dict[str, torch.Tensor]]] = {}
        self._side: torch.cuda.Stream | None = None

    def run(self, key: object, step: Step, generator: torch.Generator, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """``step(*inputs)``: eagerly, recorded then replayed, or replayed; returns its outputs (copies)."""
        key = (key, *(tuple(x.shape) for x in inputs))
        if key not in self.graphs:
            if self.eager_calls[key] < self.warmup:
                self.eager_calls[key] += 1
                return self._on_side_stream(step, inputs)
            self.graphs[key] = self._record(step, generator, inputs)
        graph, static_inputs, static_outputs = self.graphs[key]
        for static, x in zip(static_inputs, inputs):
            static.copy_(x)
        graph.replay()
        return {name: value.clone() for name, value in static_outputs.items()}

    def reset(self) -> None:
        self.graphs.clear()
        self.eager_calls.clear()

    def _on_side_stream(self, step: Step, inputs: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        if self._side is None:
            self._side = torch.cuda.Stream()
        main = torch.cuda.current_stream()
        self._side.wait_stream(main)
        with torch.cuda.stream(self._side):
            outputs = step(*inputs)
        main.wait_stream(self._side)
        return outputs

    @staticmethod
    def _record(step: Step, generator: torch.Generator, inputs: tuple[torch.Tensor, ...]):
        static_inputs = [x.clone() for x in inputs]
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(generator)
        with torch.cuda.graph(graph):
            static_outputs = step(*static_inputs)
        return graph, static_inputs, static_outputs
