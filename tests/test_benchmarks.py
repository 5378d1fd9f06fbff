"""The benchmark scripts still run against the library (tiny settings: figures are not checked here,
only that each script finishes and prints what docs/RESULTS.md quotes)."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from infoclust.data.mnist import SYSTEM_DIRS

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True,
                          cwd=BENCHMARKS, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_speed_prints_one_json_object_with_both_rates():
    out = run_script("speed.py", "--json", "--backbone", "cnn-small", "--width", "8", "--image-size", "16",
                     "--batch", "16", "--repeats", "2", "--steps", "1", "--warmup", "0",
                     "--compare-dataloader", "--workers", "0")
    figures = json.loads(out)
    assert figures["batch"] == 16 and figures["repeats"] == 2
    assert figures["step_img_s"] > 0 and figures["bare_img_s"] > 0 and figures["dataloader_img_s"] > 0
    assert abs(figures["ratio"] - figures["step_img_s"] / figures["bare_img_s"]) < 0.01


def test_quality_trains_each_seed_and_prints_the_table(tmp_path):
    from tests.conftest import TINY

    sets = [arg for item in TINY + ["train.epochs=1"] for arg in ("--set", item)]
    out = run_script("quality.py", "--data", "digits", "--seeds", "0", "1", "--out", str(tmp_path), "--quiet", *sets)
    assert "| 0 | " in out and "| 1 | " in out and "ACC: mean" in out
    assert (tmp_path / "s0" / "summary.json").is_file() and (tmp_path / "s1" / "summary.json").is_file()
    assert (tmp_path / "acc-vs-time.png").stat().st_size > 1000


def test_quality_trains_on_the_configs_data_when_no_data_is_given(tmp_path):
    rng = np.random.default_rng(0)
    vectors = tmp_path / "v.npz"
    np.savez(vectors, images=rng.standard_normal((120, 5)).astype(np.float32), labels=rng.integers(0, 3, 120))
    config = tmp_path / "c.yaml"
    config.write_text(f"method: imsat\ndata: {{name: {vectors}}}\nmodel: {{n_clusters: 3}}\ntrain: {{epochs: 1}}\n")
    out = run_script("quality.py", "--method", "imsat", "--config", str(config), "--seeds", "0",
                     "--out", str(tmp_path / "runs"), "--quiet")
    assert out.startswith(f"imsat on {vectors}, ")
    assert json.loads((tmp_path / "runs" / "s0" / "data.json").read_text())["train"]["count"] == 120


def make_data(*args: str) -> subprocess.CompletedProcess:
    """``infoclust make-data ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "infoclust", "make-data", *args], capture_output=True, text=True,
                          timeout=300)


def test_make_data_vectors_writes_digits_as_sklearn_gives_them(tmp_path):
    done = make_data("vectors", "digits", str(tmp_path / "v.npz"))
    assert done.returncode == 0 and "1797 × 64 vectors with labels" in done.stdout, done.stderr
    stored = np.load(tmp_path / "v.npz")
    x, y = load_digits(return_X_y=True)
    assert stored["images"].dtype == np.float32 and np.array_equal(stored["images"], x) and np.array_equal(stored["labels"], y)
    assert [p.name for p in tmp_path.iterdir()] == ["v.npz"]  # no temporary file left


@pytest.mark.skipif(not any(Path(d).is_dir() for d in SYSTEM_DIRS["fashion-mnist"]),
                    reason="the mosaics are cut from Fashion-MNIST: Debian package dataset-fashion-mnist not installed")
def test_make_data_mosaics_then_seg_baselines_score_the_test_split(tmp_path):
    done = make_data("mosaics", str(tmp_path / "mosaics"), "--train", "6", "--test", "4", "--size", "32")
    assert done.returncode == 0 and "wrote 6 + 4 mosaics of 32×32 px" in done.stdout, done.stderr
    assert sorted(p.name for p in (tmp_path / "mosaics").iterdir()) == ["classes.txt", "test", "train"]
    assert len(list((tmp_path / "mosaics" / "test" / "labels").iterdir())) == 4
    table = run_script("seg_baselines.py", str(tmp_path / "mosaics"), "--seeds", "0", "--fit-pixels", "2000")
    assert "| majority class | — | 0." in table and "| k-means on colour + position | 0 | 0." in table
    assert "| px from the border | background | tops | footwear | other |" in table and "| 8-15 | " in table
    assert make_data("mosaics", str(tmp_path / "dense"), "--train", "6", "--test", "4", "--size", "32", "--items", "8",
                     "8").returncode == 0
    background = [np.mean([np.asarray(Image.open(f)) == 0 for f in sorted((tmp_path / d / "test" / "labels").iterdir())])
                  for d in ("mosaics", "dense")]
    assert background[1] < background[0] - 0.05  # 8 items a mosaic leave less background than 3-6 (0.29 vs 0.39)
    again = make_data("mosaics", str(tmp_path / "dense"), "--train", "2", "--test", "2", "--size", "32")
    assert again.returncode == 2 and again.stderr.strip().splitlines() == [
        f"infoclust: error: '{tmp_path / 'dense'}' exists; expected a new folder to write the dataset into"]
    assert len(list((tmp_path / "dense" / "test" / "labels").iterdir())) == 4  # the folder there is untouched


def test_probe_table_prints_every_protocol_and_the_pretraining_rows(tmp_path):
    from infoclust.methods import load_config
    from infoclust.engine import train
    from tests.conftest import TINY

    train(load_config(None, TINY + ["model.overcluster=20"], method="iic", seed=0), tmp_path / "run", progress=False)
    table = run_script("probe_table.py", str(tmp_path / "run"), "--fractions", "0.1", "--seeds", "0", "1", "--epochs", "1")
    rows = [line for line in table.splitlines() if line.startswith(f"| {tmp_path / 'run'} |")]
    assert len(rows) == 6 and all(" ± " in row for row in rows)  # two label draws each
    assert "| same network from scratch |" in table
    pre = run_script("probe_table.py", str(tmp_path / "run"), "--pretraining", "--seeds", "0", "--epochs", "1")
    assert pre.count(f"| {tmp_path / 'run'} |") == 4 and "initialised by the run, augmented" in pre
    records = tmp_path / "run" / "probes.jsonl"
    assert len(records.read_text().splitlines()) == 6 * 2 + 4
    # --resume reads a recorded probe with the same settings instead of running it: mark the recorded
    # from-scratch row, drop the augmented-initialised one; only that one runs again
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    scratch = next(r for r in lines if r.get("held_out") and r["scratch"] and not r["augment"])
    scratch["accuracy"] = 0.1234
    lines = [r for r in lines if not (r.get("held_out") and r["augment"] and not r["scratch"])]
    records.write_text("".join(json.dumps(r) + "\n" for r in lines))
    again = run_script("probe_table.py", str(tmp_path / "run"), "--pretraining", "--seeds", "0", "--epochs", "1", "--resume")
    assert f"| {tmp_path / 'run'} | from scratch | 12.3 |" in again
    assert again.count(f"| {tmp_path / 'run'} |") == 4
    assert len(records.read_text().splitlines()) == len(lines) + 1


def test_class_shares_by_distance_to_the_border():
    spec = importlib.util.spec_from_file_location("seg_baselines", BENCHMARKS / "seg_baselines.py")
    seg_baselines = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seg_baselines)
    labels = np.zeros((2, 8, 8), dtype=np.int64)
    labels[:, 2:6, 2:6] = 1  # class 1 in the centre 4×4, 2 px and more from every border
    labels[1, 3:5, 3:5] = -1  # not scored
    labels[0, 0, :4] = 2
    bands = seg_baselines.shares_by_border_distance(labels, 3, 2)
    assert [(first, last) for first, last, _ in bands] == [(0, 1), (2, 3)]
    assert np.allclose(bands[0][2], [(2 * 48 - 4) / 96, 0, 4 / 96])  # the outer 2 px: 48 pixels an image
    assert np.allclose(bands[1][2], [0, 1, 0])  # the centre, its 4 unscored pixels left out


def test_checkpoint_cost_times_every_checkpoint_write(tmp_path):
    from tests.conftest import TINY

    sets = [arg for item in TINY + ["train.epochs=100", "train.checkpoint_every=3"] for arg in ("--set", item)]
    out = run_script("checkpoint_cost.py", "--data", "digits", "--minutes", "0.05", "--out", str(tmp_path / "r"), *sets)
    figures = json.loads(out)
    assert figures["steps"] >= 1 and figures["train_s"] >= 3.0 and figures["wall_s"] > figures["train_s"]
    # one write every 3 steps, plus those at each evaluation and the end
    assert figures["steps"] // 3 <= figures["checkpoints"] <= figures["steps"] // 3 + figures["steps"] // 28 + 2
    assert figures["checkpoint_s"] > 0 and figures["checkpoint_mb"] > 0 and "cores" in figures["machine"]


def test_imbalance_keeps_the_ratio_and_resumes(tmp_path):
    spec = importlib.util.spec_from_file_location("imbalance", BENCHMARKS / "imbalance.py")
    imbalance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(imbalance)
    x, y = load_digits(return_X_y=True)
    sub_x, sub_y = imbalance.imbalanced(x, y, 10, 100, seed=0)
    sizes = np.bincount(sub_y)
    assert sizes[:5].tolist() == [100] * 5 and sizes[5:].tolist() == [10] * 5 and len(sub_x) == 550
    args = ["--data", "digits", "--per-class", "40", "--ratios", "1", "4", "--seeds", "0", "--methods", "kmeans",
            "imsat", "--set", "imsat:train.epochs=1", "--out", str(tmp_path)]
    out = run_script("imbalance.py", *args)
    cells = [json.loads(line) for line in (tmp_path / "cells.jsonl").read_text().splitlines()]
    assert len(cells) == 4 and {c["n"] for c in cells} == {400, 250}
    assert "| kmeans |" in out and "4:1 ACC" in (tmp_path / "table.md").read_text()
    assert "ACC" not in run_script("imbalance.py", *args).split("\n")[0]  # every cell read back, none trained
    assert len((tmp_path / "cells.jsonl").read_text().splitlines()) == 4


def test_imbalance_purity_splits_the_common_and_the_rare_half():
    spec = importlib.util.spec_from_file_location("imbalance", BENCHMARKS / "imbalance.py")
    imbalance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(imbalance)
    rng = np.random.default_rng(0)
    # classes 0 and 1 (common) far apart; classes 2 and 3 (rare) share one spot, so each rare
    # sample's neighbours are half its class at best
    centres = np.array([[10, 0, 0], [0, 10, 0], [0, 0, 10], [0, 0, 10]], dtype=np.float32)
    y = np.repeat([0, 1, 2, 3], [30, 30, 12, 12])
    x = centres[y] + rng.normal(0, 0.1, (len(y), 3)).astype(np.float32)
    found = imbalance.purity_by_half(x, y)
    assert found["common"] == [1.0, 1.0, 1.0]
    assert all(0.2 < p < 0.8 for p in found["rare"])
    table = imbalance.purity_table([(10.0, 0, found)])
    assert table.splitlines()[2].startswith("| 10:1 | 1.000 | 1.000 | 1.000 |")


def test_two_stage_trains_a_first_stage_then_second_stages_on_its_features(tmp_path):
    from tests.conftest import TINY

    config = tmp_path / "first.yaml"
    config.write_text("method: iic\ndata: {name: digits}\n")
    first = [arg for item in TINY + ["train.epochs=1"] for arg in ("--set-first", item)]
    second = [arg for item in ["train.epochs=2", "train.batch_size=128", "temi:model.heads=2", "temi:model.hidden=32",
                               "temi-self-label:model.heads=2", "temi-self-label:selflabel.epochs=1", "iic:x=1"]
              for arg in ("--set-second", item)]
    out = run_script("two_stage.py", "--first-config", str(config), "--seeds", "0", "--out", str(tmp_path / "out"),
                     "--quiet", *first, *second, "--second", "temi", "temi-self-label")
    rows = json.loads((tmp_path / "out" / "s0" / "table.json").read_text())
    assert set(rows) == {"first", "kmeans", "purity", "pixel_purity", "temi", "temi-self-label"}
    assert all(0 < rows[name]["acc"] <= 1 and 0 < rows[name]["acc_all"] <= 1 for name in ("first", "kmeans", "temi"))
    assert rows["temi"]["pipeline_minutes"] > rows["temi"]["minutes"] > 0
    assert 0.1 < rows["purity"]["5"] <= 1 and "| temi-self-label |" in out and "k = 50" in out
    # the digits' own pixels: most of a digit's 5 nearest neighbours are the same digit
    assert 0.85 < rows["pixel_purity"]["5"] <= 1 and "purity of the standardised training pixels" in out
    assert json.loads((tmp_path / "out" / "pixels-purity.json").read_text()) == rows["pixel_purity"]
    cfg = (tmp_path / "out" / "s0" / "temi-self-label" / "config.yaml").read_text()
    assert "epochs: 1" in cfg and "heads: 2" in cfg  # its own settings, not another stage's


def test_knn_cost_times_the_search_and_the_cached_read(tmp_path):
    out = run_script("knn_cost.py", "--data", "digits", "--k", "5", "--dims", "64", "16", "--out", str(tmp_path))
    record = json.loads((tmp_path / "knn-cost.json").read_text())
    assert [(r["n"], r["dims"], r["k"]) for r in record["rows"]] == [(1797, 64, 5), (1797, 16, 5)]
    assert all(r["seconds"] >= 0 and r["peak_growth_mib"] >= 0 and r["full_matrix_mib"] == 12 for r in record["rows"])
    assert "| 1,797 | 64 | 5 |" in out


def test_compare_runs_tables_each_folder_and_draws_every_curve(tmp_path):
    for name, seed, acc in (("gpu", 0, 0.75), ("cpu", 0, 0.74), ("cpu", 1, 0.70)):
        run = tmp_path / name / f"s{seed}"
        run.mkdir(parents=True)
        curve = [{"time_s": t, "acc": acc * t / 600} for t in (6, 60, 600)]
        (run / "summary.json").write_text(json.dumps({"acc": acc, "nmi": 0.6, "ari": 0.5, "time_s": 600,
                                                      "epoch": 3, "machine": name, "curve": curve}))
    (tmp_path / "cpu" / "s2").mkdir()  # unfinished: no summary, left out
    picture = tmp_path / "curves.png"
    out = run_script("compare_runs.py", f"GPU={tmp_path / 'gpu'}", f"CPU={tmp_path / 'cpu'}", "--picture", str(picture))
    assert "| GPU | 0 | 75.0 |" in out and "| CPU | 0, 1 | 72.0 ± 2.0 |" in out
    assert Image.open(picture).size[0] > 400


def test_compare_runs_curves_are_every_evaluation_of_every_run():
    spec = importlib.util.spec_from_file_location("compare_runs", BENCHMARKS / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = {"A": {0: {"curve": [{"time_s": 60, "acc": 0.5}, {"time_s": 120, "acc": 0.6}]},
                  3: {"curve": [{"time_s": 30, "acc": 0.4}]}}}
    assert module.curves(rows) == [{"run": "A s0", "minutes": 1.0, "acc": 0.5}, {"run": "A s0", "minutes": 2.0, "acc": 0.6},
                                   {"run": "A s3", "minutes": 0.5, "acc": 0.4}]
