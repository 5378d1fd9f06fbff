"""Every run recipe in configs/ (grid specs aside) loads and resolves against its dataset's image
shape, so a typo or an impossible value in a shipped recipe fails here, not on a user's GPU."""
from pathlib import Path

import pytest

from infoclust.methods import load_config
from infoclust.methods import resolve_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPES = sorted(p for p in CONFIGS.glob("*.yaml") if "\nrows:" not in p.read_text())
SHAPES = {  # (C, H, W) and classes of each named dataset, without reading it
    "digits": ((1, 8, 8), 10), "mnist": ((1, 28, 28), 10), "fashion-mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10), "cifar100-20": ((3, 32, 32), 20), "stl10": ((3, 96, 96), 10),
    "potsdam": ((3, 200, 200), 6), "potsdam-3": ((3, 200, 200), 3),
    "cocostuff-3": ((3, 128, 128), 3), "cocostuff-15": ((3, 128, 128), 15),
    "bench-runs/mosaics/fm64-dense": ((3, 64, 64), 4),  # infoclust make-data mosaics's folder
}


def test_the_recipes_are_found():
    assert len(RECIPES) >= 17 and all(p.name != "peng-table1.yaml" for p in RECIPES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_a_shipped_recipe_resolves_for_its_dataset(path):
    cfg = load_config(str(path), [])
    shape, classes = SHAPES[cfg.data.name]
    resolved = resolve_config(cfg, shape, classes, None)
    assert resolved.method == cfg.method and resolved.train.epochs >= 1
