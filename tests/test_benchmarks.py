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


def test_make_vectors_writes_digits_as_sklearn_gives_them(tmp_path):
    out = run_script("make_vectors.py", "digits", str(tmp_path / "v.npz"))
    assert "1797 × 64 vectors, with labels" in out
    stored = np.load(tmp_path / "v.npz")
    x, y = load_digits(return_X_y=True)
    assert stored["images"].dtype == np.float32 and np.array_equal(stored["images"], x) and np.array_equal(stored["labels"], y)
    assert [p.name for p in tmp_path.iterdir()] == ["v.npz"]  # no temporary file left


def test_collapse_check_fires_on_the_collapsed_log_only(tmp_path):
    import json as _json

    from infoclust.runs import RunDir

    for name, sizes, losses in (("collapsed", [0, 300], [1e-8, 2e-8]), ("healthy", [160, 140], [-1.0, -1.2])):
        run = RunDir(tmp_path / name)
        run.root.mkdir()
        for step, loss in zip((10, 20), losses):
            run.append_metrics({"kind": "train", "step": step, "loss": loss})
        run.append_metrics({"kind": "eval", "step": 20, "cluster_sizes": sizes})
        (run.root / "summary.json").write_text(_json.dumps({"acc": 0.5, "cluster_sizes": sizes}))
    out = run_script("collapse_check.py", str(tmp_path))
    assert "2 logged runs; the detector fires on 1:" in out and "collapsed: step 20: cluster 1 holds 100.0%" in out
    assert "silent on the other 1 (their final largest cluster holds at most 53% of the samples)" in out


def test_assignments_prints_dccs_table4_rules_of_a_run(tmp_path):
    from infoclust.cli import main

    out = tmp_path / "run"
    sets = ["model.width=8", "views.input_size=12", "train.epochs=1", "train.select_samples=64"]
    assert main(["train", "--method", "dccs", "--data", "digits", "--out", str(out), "--quiet",
                 *[arg for item in sets for arg in ("--set", item)]]) == 0
    rows = [line for line in run_script("assignments.py", str(out)).splitlines() if line.startswith(f"| {out} |")]
    assert [row.split(" | ")[1] for row in rows] == ["argmax Zc", "k-means on Z", "k-means on Z/‖Z‖",
                                                     "k-means on Zc", "k-means on Zs"]
    for row in rows:
        acc = float(row.split(" | ")[2])
        assert 0.1 <= acc <= 1


def test_assignments_reads_any_method_and_prints_its_clusters_against_the_classes(tmp_path):
    from infoclust import load_run
    from infoclust.cli import main

    out = tmp_path / "run"
    assert main(["train", "--method", "imsat", "--data", "digits", "--out", str(out), "--quiet",
                 "--set", "train.epochs=3"]) == 0
    text = run_script("assignments.py", str(out), "--confusion")
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith(f"| {out} |")]
    assert [row[1] for row in rows] == ["the run's clusters", "k-means on Z", "k-means on Z/‖Z‖"]
    assert float(rows[0][2]) == round(load_run(out).evaluate()["acc"], 3)  # the run's own figure
    table = [line.strip("| ").split(" | ") for line in text.split("against the classes (columns)")[1].splitlines()
             if line.startswith("| ") and not line.startswith("| cluster")]
    clusters, matched = [int(row[0]) for row in table], [int(row[1]) for row in table]
    counts = np.array([[int(n) for n in row[2:]] for row in table])
    assert sorted(clusters) == list(range(10)) and matched == sorted(matched)  # ordered by matched class
    assert counts.sum(0).tolist() == np.bincount(load_digits().target).tolist()
    assert counts[np.arange(10), matched].sum() / 1797 == pytest.approx(float(rows[0][2]), abs=5e-4)


def test_compare_runs_averages_finished_seeds_and_names_unfinished_ones(tmp_path):
    for method, seeds in (("a", {0: 0.5, 1: 0.7}), ("b", {2: 0.9})):
        for seed, acc in seeds.items():
            run = tmp_path / method / f"s{seed}"
            run.mkdir(parents=True)
            (run / "summary.json").write_text(json.dumps({"acc": acc, "nmi": acc / 2, "ari": acc / 4, "time_s": 600,
                                                          "epoch": 3, "machine": "m"}))
    (tmp_path / "b" / "s3").mkdir()  # stopped: no summary
    done = subprocess.run([sys.executable, str(BENCHMARKS / "compare_runs.py"), f"A={tmp_path / 'a'}",
                           f"B={tmp_path / 'b'}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[2] == "| A | 0, 1 | 60.0 ± 10.0 | 30.0 ± 5.0 | 15.0 ± 2.5 | 10.0 / 10.0 | 3 / 3 | m |"
    assert lines[3] == "| B | 2 | 90.0 | 45.0 | 22.5 | 10.0 | 3 | m |"
    assert "s3: no summary.json" in done.stderr


@pytest.mark.skipif(not any(Path(d).is_dir() for d in SYSTEM_DIRS["fashion-mnist"]),
                    reason="the mosaics are cut from Fashion-MNIST: Debian package dataset-fashion-mnist not installed")
def test_make_mosaics_then_seg_baselines_score_the_test_split(tmp_path):
    out = run_script("make_mosaics.py", str(tmp_path / "mosaics"), "--train", "6", "--test", "4", "--size", "32")
    assert "wrote 6 + 4 mosaics of 32×32 px" in out
    assert sorted(p.name for p in (tmp_path / "mosaics").iterdir()) == ["classes.txt", "test", "train"]
    assert len(list((tmp_path / "mosaics" / "test" / "labels").iterdir())) == 4
    table = run_script("seg_baselines.py", str(tmp_path / "mosaics"), "--seeds", "0", "--fit-pixels", "2000")
    assert "| majority class | — | 0." in table and "| k-means on colour + position | 0 | 0." in table
    assert "| px from the border | background | tops | footwear | other |" in table and "| 8-15 | " in table
    run_script("make_mosaics.py", str(tmp_path / "dense"), "--train", "6", "--test", "4", "--size", "32", "--items", "8", "8")
    background = [np.mean([np.asarray(Image.open(f)) == 0 for f in sorted((tmp_path / d / "test" / "labels").iterdir())])
                  for d in ("mosaics", "dense")]
    assert background[1] < background[0] - 0.05  # 8 items a mosaic leave less background than 3-6 (0.29 vs 0.39)
    again = subprocess.run([sys.executable, str(BENCHMARKS / "make_mosaics.py"), str(tmp_path / "dense"), "--train", "2",
                            "--test", "2", "--size", "32"], capture_output=True, text=True, cwd=BENCHMARKS, timeout=300)
    assert again.returncode != 0 and again.stderr.strip().splitlines() == [
        f"make_mosaics.py: error: '{tmp_path / 'dense'}' exists; expected a new folder to write the dataset into"]
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
