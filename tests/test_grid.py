import csv

import pytest
import yaml

from infoclust import engine
from infoclust.cli import main
from infoclust.errors import ConfigError
from infoclust.grid import load_grid

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
    # the per-dataset value reached the cells
    assert "batch_size: 128" in (out / "i-y" / "digits" / "s0" / "config.yaml").read_text()

    # a finished grid is only read; a cell whose run stopped is resumed, not restarted
    (out / "i-y" / "digits" / "s1" / "summary.json").unlink()
    calls.clear()
    assert main(["grid", str(spec), "--seeds", "0", "1", "--out", str(out), "--quiet"]) == 0
    assert calls == [(str(out / "i-y" / "digits" / "s1"), True)]
    assert (out / "table.md").read_text() == table


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
