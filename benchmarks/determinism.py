"""Where a method's training stops being bit-exact: the same steps twice from one state, compared.

    python benchmarks/determinism.py --method dccs --device cuda --json
    python benchmarks/determinism.py --method dccs --device cuda --penalty   # the WGAN-GP gradient, taken apart

Builds the method of ``speed.py``'s recipe (``--set`` overrides; ``train.deterministic`` on), saves
its state and generator, runs ``--steps`` steps, restores both and runs them again. Prints the first
step after which a parameter or optimiser tensor differs and the names of those that differ
(``exact`` true when none does). ``--penalty`` also takes the gradient of DCCS's critic loss apart:
each part's gradient (the Wasserstein estimate, the gradient penalty, the critic's loss of both) computed twice on the same
input, under each BLAS library that torch offers, and in float64: which part differs, and where not.
"""
from __future__ import annotations

import argparse
import copy
import json

import torch

from infoclust.checkpoint_file import state_tensors
from infoclust.losses import gradient_penalty
from infoclust.machine import configure_determinism, describe, select_device
from infoclust.methods import StepContext
from infoclust.rng import Rng
from speed import RECIPES, build_recipe


def flat_state(method) -> dict[str, torch.Tensor]:
    """A copy of every tensor of the method's state (modules and optimisers) by its path."""
    return {path: value.detach().clone() for path, value in state_tensors(method.state_dict()).items()}


def differing(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in a if not torch.equal(a[k], b[k])]


def penalty_parts(method, device: torch.device, batch: int) -> dict[str, bool]:
    """Whether each part of DCCS's critic gradient is the same when computed twice: {part/backend: same}."""
    gen = torch.Generator(device=device).manual_seed(1)
    z_dim = method.critic[0].in_features
    real, fake = torch.rand(batch, z_dim, device=device, generator=gen), torch.rand(batch, z_dim, device=device, generator=gen)
    alpha = torch.rand(batch, 1, device=device, generator=gen)

    def grads(part: str, critic) -> list[torch.Tensor]:
        critic.zero_grad(set_to_none=True)
        wasserstein = critic(real).mean() - critic(fake).mean()
        penalty = gradient_penalty(critic, real, fake, alpha)
        loss = {"wasserstein": wasserstein, "penalty": penalty, "combined": -wasserstein + 10 * penalty}[part]
        loss.backward()
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in critic.parameters()]

    out = {}
    libraries = [None] + (["cublas", "cublaslt"] if device.type == "cuda" else [])
    for library in libraries:
        if library:
            torch.backends.cuda.preferred_blas_library(library)
        for part in ("wasserstein", "penalty", "combined"):
            first, second = grads(part, method.critic), grads(part, method.critic)
            out[f"{part}/{library or 'default'}"] = all(torch.equal(x, y) for x, y in zip(first, second))
    critic64 = copy.deepcopy(method.critic).double()
    real, fake, alpha = real.double(), fake.double(), alpha.double()
    for part in ("penalty", "combined"):
        first, second = grads(part, critic64), grads(part, critic64)
        out[f"{part}/float64"] = all(torch.equal(x, y) for x, y in zip(first, second))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="dccs", choices=sorted(RECIPES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=6, help="steps per run (DCCS: a critic cycle is 6)")
    parser.add_argument("--penalty", action="store_true", help="DCCS: the critic gradient's parts, each twice")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    device = select_device(args.device)
    configure_determinism(True)
    config, shape, _, recipe_sets = RECIPES[args.method]
    cfg, method, pool = build_recipe(args.method, config, shape, [*recipe_sets, f"train.device={device}",
                                     "train.deterministic=true", *args.set], device)
    batch, pool_size = cfg.train.batch_size, len(pool)
    rng = Rng.seeded(0, device)
    start_state, start_rng = copy.deepcopy(method.state_dict()), rng.generator.get_state()
    main_pass = next(e for e in range(100) if method.may_report(e))

    def run() -> list[dict[str, torch.Tensor]]:
        method.load_state_dict(copy.deepcopy(start_state))
        rng.set_state(start_rng)
        states = []
        for step in range(args.steps):
            indices = torch.arange(step * batch, (step + 1) * batch, device=device) % pool_size
            method.train_step(pool[indices], StepContext(main_pass, step, rng, indices))
            states.append(flat_state(method))
        return states

    first, second = run(), run()
    out = {"method": args.method, "device": str(device), "machine": describe(device), "torch": torch.__version__,
           "steps": args.steps, "exact": True}
    for step, (a, b) in enumerate(zip(first, second)):
        names = differing(a, b)
        if names:
            out.update(exact=False, first_step=step, differing=names[:20], n_differing=len(names))
            break
    if args.penalty:
        out["penalty_parts_same"] = penalty_parts(method, device, batch)
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
