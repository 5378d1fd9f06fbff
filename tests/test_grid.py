import csv
import re

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_digits

from infoclust import engine
from infoclust.cli import main
from infoclust.errors import ConfigError
from infoclust.methods import DataFacts, load_config
from infoclust.methods.info_config import Regularizer, resolve
from infoclust.grid import cell_config, finished_cells, load_grid, write_tables

SPEC = {
    "base": {"views": {"input_size": 8, "tf1_crops": [8], "tf2_crops": [6, 7, 8], "eval_crop": 8},
             "model": {"width": 8, "sub_heads": 1, "overcluster": 0},
             "train": {"epochs": 1, "batch_size": 64, "repeats": 2, "lr": 1e-3, "head_schedule": "B:1",
                       "select_samples": 256}},
    "datasets": ["digits"],
    "per_dataset": {"digits": {"train": {"batch_size": 128}}},
    "rows": [{"name": "I(Y,Ỹ)", "method": "iic"},
             {"name": "I(X,Y) + KL Gauss", "method": "imsat",
              "set": {"objective.regularizers": [{"transform": "gaussian", "weight": 1.0}],
                      "objective.transforms.vat_adaptive_eps": False}}],
    "paper": {"I(Y,Ỹ)": {"MNIST": "97.9 ± 0.0"}},
}


def write_spec(tmp_path, spec=SPEC):
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    return path


def count_trains(monkeypatch):
    calls = []
    original = engine.train

    def counting(cfg, out, resume=False, progress=True):
        calls.append((str(out), resume))
        return original(cfg, out, resume=resume, progress=progress)

    monkeypatch.setattr(engine, "train", counting)
    return calls


def test_grid_runs_every_cell_writes_tables_and_resumes(tmp_path, monkeypatch, capsys):
    spec, out = write_spec(tmp_path), tmp_path / "out"
    calls = count_trains(monkeypatch)
    assert main(["grid", str(spec), "--seeds", "0", "1", "--out", str(out), "--quiet"]) == 0
    assert len(calls) == 4 and not any(resume for _, resume in calls)
    table = (out / "table.md").read_text()
    assert "| method | digits | paper MNIST |" in table and "97.9 ± 0.0" in table
    assert table.count("**") == 2  # one best cell in the single column
    rows = list(csv.reader((out / "table.csv").open()))
    assert rows[0] == ["method", "digits", "paper MNIST"] and [r[0] for r in rows[1:]] == ["I(Y,Ỹ)", "I(X,Y) + KL Gauss"]
    mean = float(rows[1][1].split(" ± ")[0])
    assert 10 < mean <= 100
    assert (out / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the per-dataset value reached the cells
    assert "batch_size: 128" in (out / "i-y" / "digits" / "s0" / "config.yaml").read_text()

    # a finished grid is only read; a cell whose run stopped is resumed, not restarted
    (out / "i-y" / "digits" / "s1" / "summary.json").unlink()
    calls.clear()
    assert main(["grid", str(spec), "--seeds", "0", "1", "--out", str(out), "--quiet"]) == 0
    assert calls == [(str(out / "i-y" / "digits" / "s1"), True)]
    assert (out / "table.md").read_text() == table
    runs = list(csv.DictReader((out / "cells.csv").open()))
    assert [(r["row"], r["seed"]) for r in runs] == [("I(Y,Ỹ)", "0"), ("I(Y,Ỹ)", "1"),
                                                     ("I(X,Y) + KL Gauss", "0"), ("I(X,Y) + KL Gauss", "1")]
    assert all(0 < float(r["acc"]) <= 1 and 0 <= float(r["nmi"]) <= 1 and "cores" in r["machine"] for r in runs)


def test_grids_run_per_dataset_meet_in_one_table(tmp_path, capsys):
    """Columns run separately, with different seeds, share OUT; a cell with fewer seeds than its
    column says so; the recipe file lies under every cell."""
    digits = load_digits()
    half = tmp_path / "half.npz"
    np.savez(half, images=(digits.images[::2] * 16).astype(np.uint8), labels=digits.target[::2])
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump({"method": "iic", "views": {"rotation": 10.0}, "train": {"lr": 2e-3}}))
    spec = write_spec(tmp_path, dict(SPEC, recipe="recipe.yaml", datasets=["digits", str(half)]))
    out = tmp_path / "out"
    assert main(["grid", str(spec), "--datasets", "digits", "--seeds", "0", "1", "--out", str(out), "--quiet"]) == 0
    assert main(["grid", str(spec), "--datasets", str(half), "--seeds", "0", "--out", str(out), "--quiet"]) == 0
    table = (out / "table.md").read_text()
    assert "(digits: 0, 1; " + str(half) + ": 0)" in table and "(1 seed)" not in table
    one_seed = [line.split(" | ")[2] for line in table.splitlines()[2:4]]  # no "± 0.0" for one seed
    assert all(re.fullmatch(r"(\*\*)?\d+\.\d(\*\*)?", cell) for cell in one_seed), one_seed
    runs = list(csv.DictReader((out / "cells.csv").open()))
    assert sorted((r["row"], r["dataset"], r["seed"]) for r in runs) == sorted(
        [(row, "digits", seed) for row in ("I(Y,Ỹ)", "I(X,Y) + KL Gauss") for seed in "01"]
        + [(row, str(half), "0") for row in ("I(Y,Ỹ)", "I(X,Y) + KL Gauss")])
    config = (out / "i-y" / "digits" / "s0" / "config.yaml").read_text()
    # the recipe lies under base and per-dataset values: its rotation stays, its lr is base's
    assert "rotation: 10.0" in config and "lr: 0.001" in config and "batch_size: 128" in config
    # a run that has not finished is left out, and its cell says how many seeds it has
    (out / "i-x-y-kl-gauss" / "digits" / "s1" / "summary.json").unlink()
    loaded = load_grid(spec)
    write_tables(loaded, finished_cells(loaded, out), out)
    assert "(1 seed)" in (out / "table.md").read_text()
    assert main(["grid", str(spec), "--datasets", "cifar10", "--out", str(out)]) == 2
    assert "dataset(s) cifar10 not in the spec" in capsys.readouterr().err


def test_bad_grid_specs_are_rejected_before_anything_runs(tmp_path):
    bad = dict(SPEC, rows=[{"name": "x", "method": "iic", "set": {"train.lr_typo": 1}}])
    with pytest.raises(ConfigError, match="unknown config key 'train.lr_typo'"):
        load_grid(write_spec(tmp_path, bad))
    with pytest.raises(ConfigError, match="unknown section"):
        load_grid(write_spec(tmp_path, dict(SPEC, colums=[])))
    with pytest.raises(ConfigError, match="unknown method 'imsatt'"):
        load_grid(write_spec(tmp_path, dict(SPEC, rows=[{"name": "x", "method": "imsatt"}])))


def test_the_shipped_peng_spec_is_valid():
    spec = load_grid("configs/peng-table1.yaml")
    assert len(spec.rows) == 17 and spec.datasets == ["digits", "fashion-mnist"]
    # the iic-vat preset is the grid's "I(Y,Ỹ) + KL VAT" cell on images above 16 px (on tiny images
    # its KL weight is 0.01, the grid keeps 0.1 everywhere)
    row = next(r for r in spec.rows if r.name == "I(Y,Ỹ) + KL VAT")
    cell = cell_config(spec, row, "digits", 0).objective
    fashion = DataFacts((1, 28, 28), 10, 70000)
    preset = resolve(load_config(None, [], method="iic-vat"), fashion).objective
    assert cell.regularizers == preset.regularizers == [Regularizer("vat", 0.1)]
    tiny = resolve(load_config(None, [], method="iic-vat"), DataFacts((1, 8, 8), 10, 1797)).objective
    assert tiny.regularizers == [Regularizer("vat", 0.01)]
    assert [(t.vat_eps, t.vat_prop_eps, t.vat_adaptive_eps) for t in (cell.transforms, preset.transforms)] == [(8.0, 0.25, False)] * 2


def test_the_shipped_iic_vat_comparison_spec_uses_the_cpu_recipe():
    spec = load_grid("configs/iic-vat-fashion-mnist.yaml")
    iic, iic_vat = (cell_config(spec, row, "fashion-mnist", 0) for row in spec.rows)
    recipe = load_config("configs/iic-fashion-mnist-cpu.yaml", [])
    for cfg in (iic, iic_vat):
        assert (cfg.model, cfg.views) == (recipe.model, recipe.views)
        assert cfg.train.budget_minutes == 10 and cfg.train.lr == recipe.train.lr
    assert iic.objective.regularizers == [] and [r.transform for r in iic_vat.objective.regularizers] == ["vat"]


def test_the_shipped_kl_weight_spec_changes_only_the_weight_of_the_peng_digits_cells():
    sweep, peng = load_grid("configs/peng-kl-weight.yaml"), load_grid("configs/peng-table1.yaml")
    for row in sweep.rows:
        transform = row.overrides["objective.regularizers"][0]["transform"]
        name = {"vat": "I(Y,Ỹ) + KL VAT", "geometric": "I(Y,Ỹ) + KL Geo"}[transform]
        cell = cell_config(sweep, row, "digits", 0)
        reference = cell_config(peng, next(r for r in peng.rows if r.name == name), "digits", 0)
        assert cell.objective.regularizers[0].weight in (0.001, 0.01)
        cell.objective.regularizers[0].weight = reference.objective.regularizers[0].weight
        assert cell == reference


def test_the_shipped_dccs_ablation_spec_drops_one_term_per_row_of_table_5():
    spec = load_grid("configs/dccs-ablation-fashion-mnist.yaml")
    recipe = load_config("configs/dccs-fashion-mnist-cpu.yaml", [])
    weights = []
    for row in spec.rows:
        cfg = cell_config(spec, row, "fashion-mnist", 0)
        assert (cfg.model, cfg.views, cfg.train.lr, cfg.train.budget_minutes) == (
            recipe.model, recipe.views, recipe.train.lr, 60)
        weights.append((cfg.objective.beta_adv, cfg.objective.beta_mi, cfg.objective.beta_aug))
    adv, mi, aug = recipe.objective.beta_adv, recipe.objective.beta_mi, recipe.objective.beta_aug
    assert weights == [(adv, 0, 0), (adv, mi, 0), (adv, 0, aug), (adv, mi, aug)]


def test_the_shipped_digits_comparison_gives_every_method_the_same_budget():
    spec = load_grid("configs/compare-digits.yaml")
    cells = [cell_config(spec, row, "digits", 0) for row in spec.rows]
    assert [c.method for c in cells] == ["dccs", "iic", "imsat", "imc-swav"]
    assert {(c.train.budget_minutes, c.train.epochs) for c in cells} == {(2, 100000)}


def test_the_shipped_crop_ablation_spec_changes_only_the_crops_of_the_recipe():
    spec = load_grid("configs/imc-swav-crops-fashion-mnist.yaml")
    recipe = load_config("configs/imc-swav-fashion-mnist-cpu.yaml", [])
    cells = [cell_config(spec, row, "fashion-mnist", 0) for row in spec.rows]
    assert [(c.views.crop_counts, c.views.crop_sizes) for c in cells] == [
        ([2], [28]), ([2, 2], [24, 16]), ([2, 4], [24, 16]), ([2, 6], [24, 16]), ([2], [24])]
    for cell in cells:
        assert (cell.model, cell.train.lr, cell.train.epochs, cell.train.budget_minutes) == (recipe.model, recipe.train.lr, 3, None)
        assert cell.views.crop_scales[0] == recipe.views.crop_scales[0]
    assert [c.objective.mi_trains_encoder for c in cells] == [False] * 4 + [True]
