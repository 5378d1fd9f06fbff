"""Exact cosine k-NN in chunks, the neighbour draw, and the run folder's cache of them."""
import pytest
import torch

from infoclust import neighbours
from infoclust.neighbours import draw_neighbours, fingerprint, nearest_neighbours, purity
from infoclust.rng import Rng
from infoclust.runs import RunCache, RunDir


def similarities(x: torch.Tensor) -> torch.Tensor:
    """Every pair's cosine similarity in float64, a row's own set to -inf."""
    unit = torch.nn.functional.normalize(x.double(), dim=1)
    sims = unit @ unit.t()
    return sims.fill_diagonal_(-float("inf"))


def test_chunked_neighbours_are_the_exact_cosine_neighbours_without_self(monkeypatch):
    x = torch.randn(300, 12, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(neighbours, "CHUNK_BYTES", 4 * 300 * 7)  # 7 rows a chunk: many chunks, one ragged
    seen = []
    got = nearest_neighbours(x, 9, progress=seen.append)
    sims = similarities(x)
    # the chosen rows hold the k largest similarities, in order (float32 rounding may swap near-ties)
    assert torch.allclose(sims.gather(1, got), sims.topk(9, dim=1).values, atol=1e-6)
    assert (got == sims.topk(9, dim=1).indices).float().mean() > 0.99
    assert (got != torch.arange(300)[:, None]).all()  # never itself
    assert seen[-1] == 300 and len(seen) == 43
    # cosine, not Euclidean: a row scaled up keeps its neighbours
    scaled = x.clone()
    scaled[5] *= 100
    assert torch.equal(nearest_neighbours(scaled, 9)[5], got[5])


def test_k_must_leave_other_samples():
    with pytest.raises(ValueError, match="expected 1 ≤ k < 4"):
        nearest_neighbours(torch.randn(4, 3), 4)


def test_fingerprint_follows_the_values_and_k():
    x = torch.randn(20, 5, generator=torch.Generator().manual_seed(1))
    y = x.clone()
    y[3, 2] += 1e-3
    assert fingerprint(x, 5) == fingerprint(x.clone(), 5)
    assert len({fingerprint(x, 5), fingerprint(y, 5), fingerprint(x, 6)}) == 3


def test_a_sample_draws_the_same_neighbour_in_one_or_two_processes():
    table = torch.arange(40 * 6).view(40, 6)
    idx = torch.tensor([3, 17, 5, 30, 8, 1, 22, 9])
    one = draw_neighbours(table, idx, Rng.seeded(4))
    two = torch.cat([draw_neighbours(table, idx.view(2, 4)[r], Rng.seeded(4, rank=r, world_size=2)) for r in range(2)])
    assert torch.equal(one, two)
    assert all(one[i].item() in table[idx[i]].tolist() for i in range(8))
    assert len(set(draw_neighbours(table, torch.zeros(200, dtype=torch.long), Rng.seeded(5)).tolist())) == 6  # uniform over k


def test_purity_counts_neighbours_of_the_same_label():
    table = torch.tensor([[1, 2], [0, 3], [0, 3], [1, 2]])
    assert purity(table, torch.tensor([0, 0, 1, 1])) == pytest.approx(0.5)


def test_the_run_cache_keeps_tensors_and_forgets_unreadable_ones(tmp_path):
    cache = RunCache(RunDir(tmp_path / "run"))
    assert cache.load("neighbours-abc") is None
    cache.save("neighbours-abc", {"indices": torch.arange(6).view(3, 2)})
    assert torch.equal(cache.load("neighbours-abc")["indices"], torch.arange(6).view(3, 2))
    (tmp_path / "run" / "cache" / "neighbours-abc.safetensors").write_bytes(b"not a file of ours")
    assert cache.load("neighbours-abc") is None
    RunCache(RunDir(tmp_path / "other"), writes=False).save("x", {"t": torch.zeros(1)})  # a rank other than 0
    assert not (tmp_path / "other").exists()
