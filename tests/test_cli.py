"""The command line end to end on digits (the bad inputs are in test_bad_inputs.py)."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from infoclust.cli import main
from infoclust.machine import select_device


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from tests.conftest import TINY

    out = tmp_path_factory.mktemp("cli") / "run"
    args = ["train", "--method", "iic", "--data", "digits", "--seed", "0", "--out", str(out), "--quiet"]
    for item in TINY:
        args += ["--set", item]
    assert main(args) == 0
    return out


def test_train_prints_figures(trained_run, capsys):
    assert (trained_run / "config.yaml").is_file() and (trained_run / "checkpoint" / "last.safetensors").is_file()


def test_evaluate_json(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["n_samples"] == 1797 and figures["n_clusters"] == 10
    assert 0.2 < figures["acc"] <= 1 and 0 < figures["nmi"] <= 1 and -1 <= figures["ari"] <= 1
    summary = json.loads((trained_run / "summary.json").read_text())
    assert figures["acc"] == summary["acc"]  # evaluation of the checkpoint reproduces training's figures


def test_predict_writes_one_row_per_image(trained_run, tmp_path, capsys):
    out = tmp_path / "assign.csv"
    assert main(["predict", str(trained_run), "--data", "digits", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1797 and rows[0]["id"] == "0"
    clusters = np.array([int(r["cluster"]) for r in rows])
    conf = np.array([float(r["confidence"]) for r in rows])
    assert clusters.min() >= 0 and clusters.max() < 10 and len(set(clusters)) > 3
    assert (conf >= 0.1 - 1e-6).all() and (conf <= 1).all()


def test_predict_on_images_of_another_shape_keeps_existing_csv(trained_run, tmp_path, capsys):
    out = tmp_path / "assign.csv"
    out.write_text("precious\n")
    arr = tmp_path / "big.npy"
    np.save(arr, np.zeros((3, 12, 12), dtype=np.uint8))
    assert main(["predict", str(trained_run), "--data", str(arr), "--out", str(out), "--quiet"]) == 2
    assert "trained on (1, 8, 8)" in capsys.readouterr().err
    assert out.read_text() == "precious\n"


def test_report_page(trained_run, capsys):
    assert main(["report", str(trained_run)]) == 0
    page = trained_run / "report" / "index.html"
    assert page.is_file() and "clusters.png" in page.read_text()


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "iic" in out and "vgg6c" in out and "fashion-mnist" in out


def test_resume_a_finished_run_is_a_no_op(trained_run, capsys):
    before = json.loads((trained_run / "summary.json").read_text())
    assert main(["train", "--resume", str(trained_run), "--quiet"]) == 0
    assert json.loads((trained_run / "summary.json").read_text())["acc"] == before["acc"]


def test_python_m_entry_point_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "infoclust", "evaluate", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to the pipe now fails with EPIPE
    proc = subprocess.run([sys.executable, "-m", "infoclust", "list"], stdout=write_end, stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_imsat_on_feature_vectors_end_to_end(tmp_path, capsys):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    data = tmp_path / "vectors.npz"
    np.savez(data, x=X[:600].astype(np.float32), labels=y[:600])
    out = tmp_path / "run"
    args = ["train", "--method", "imsat", "--data", str(data), "--out", str(out), "--quiet",
            "--set", "train.epochs=8", "--set", "model.width=128", "--set", "train.batch_size=100"]
    assert main(args) == 0
    assert main(["evaluate", str(out), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["n_samples"] == 600 and figures["acc"] > 0.5
    assert main(["predict", str(out), "--data", str(data), "--out", str(tmp_path / "a.csv"), "--quiet"]) == 0
    assert len((tmp_path / "a.csv").read_text().splitlines()) == 601
    assert main(["report", str(out)]) == 0
    assert (out / "report" / "index.html").is_file() and (out / "report" / "confusion.png").is_file()


def test_train_help_lists_the_config_keys(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "config keys for --set (method iic):" in out
    for key in ("train.lr", "train.on_collapse", "model.backbone", "views.input_size", "objective.mi"):
        assert key in out, key
    assert "infoclust config show --method M --data D" in out


def test_config_show_prints_what_train_resolves(capsys, tmp_path):
    import yaml

    assert main(["config", "show", "--method", "imsat", "--set", "train.lr=0.01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# imsat on digits: 1797 samples of shape (1, 8, 8)")
    shown = yaml.safe_load(out)
    assert shown["method"] == "imsat" and shown["train"]["lr"] == 0.01
    assert shown["train"]["epochs"] is not None and shown["train"]["batch_size"] is not None  # resolved, not "auto"
    out_dir = tmp_path / "r"
    assert main(["train", "--data", "digits", "--out", str(out_dir), "--quiet", "--method", "imsat",
                 "--set", "train.lr=0.01", "--set", "train.epochs=1"]) == 0
    trained = yaml.safe_load((out_dir / "config.yaml").read_text())
    shown["train"]["epochs"] = 1
    assert trained == shown  # the same resolution as a real run


def test_evaluate_scores_another_split_without_touching_the_run(tmp_path, capsys):
    from sklearn.datasets import load_digits

    from tests.conftest import TINY
    from tests.data.conftest import write_idx

    digits = load_digits()
    images, labels = (digits.images * 255 / 16).astype(np.uint8), digits.target.astype(np.uint8)
    root = tmp_path / "mnist"
    root.mkdir()
    for part, rows in (("train", slice(0, 300)), ("t10k", slice(300, 400))):
        write_idx(root / f"{part}-images-idx3-ubyte", images[rows])
        write_idx(root / f"{part}-labels-idx1-ubyte", labels[rows])
    out = tmp_path / "run"
    args = ["train", "--method", "iic", "--data", "mnist", "--out", str(out), "--quiet", "--set", f"data.root={root}",
            "--set", "data.split=train", "--set", "data.eval_split=test"]
    for item in TINY:
        args += ["--set", item]
    assert main(args) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["evaluate", str(out), "--json"]) == 0
    on_test = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(out), "--json", "--split", "all"]) == 0
    on_all = json.loads(capsys.readouterr().out)
    assert (on_test["n_samples"], on_test["eval_split"]) == (100, "test")
    assert (on_all["n_samples"], on_all["eval_split"], on_all["train_split"]) == (400, "all", "train")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_config_show_reads_the_dataset_of_the_config_file(capsys, tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (300, 8, 8), dtype=np.uint8))
    spec = tmp_path / "c.yaml"
    spec.write_text(f"method: imsat\ndata: {{name: {tmp_path / 'x.npy'}}}\n")
    assert main(["config", "show", "--config", str(spec)]) == 0
    assert "300 samples of shape (1, 8, 8)" in capsys.readouterr().out.splitlines()[0]


def _tiny_train(out, *extra: str) -> list[str]:
    from tests.conftest import TINY

    args = ["train", "--data", "digits", "--out", str(out)]
    for item in TINY:
        args += ["--set", item]
    return args + list(extra)  # after the tiny settings, so that a --set in extra wins


def test_a_run_says_what_it_will_do_and_why_it_stopped_without_frames_in_a_log(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_tiny_train(out)) == 0  # stdout and stderr are not terminals here, as in `> log.txt 2>&1`
    std, err = capsys.readouterr()
    assert "\r" not in err and "\r" not in std
    lines = std.splitlines()
    device = str(select_device("auto"))  # the default device: cpu, or cuda:0 where a GPU is
    assert lines[0] == (f"iic on digits: 1797 samples of 1×8×8; 2 passes of 28 steps (batch 64); {device}, "
                        f"{lines[0].split(f'{device}, ')[1].split(' threads')[0]} threads; run folder {out}")
    assert any(line.startswith("epoch 1: ACC ") for line in lines)  # --quiet or not, the results stay
    stop = next(line for line in lines if line.startswith("stopped at step"))
    assert stop.startswith("stopped at step 56: all 2 passes done")
    assert json.loads((out / "summary.json").read_text())["stopped_by"] == "epochs"
    assert not (out / ".lock").exists()  # a finished run does not look alive


def test_a_budget_stop_is_said_and_recorded(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_tiny_train(out, "--quiet", "--set", "train.epochs=1000", "--set", "train.budget_minutes=0.01")) == 0
    stop = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("stopped at step"))
    assert "the 0.01-minute budget ran out in pass" in stop
    assert json.loads((out / "summary.json").read_text())["stopped_by"] == "budget"


def test_quiet_keeps_the_results_and_silent_keeps_only_the_figures(tmp_path, capsys):
    assert main(_tiny_train(tmp_path / "q", "--quiet")) == 0
    std, err = capsys.readouterr()
    assert err == "" and any(line.startswith("epoch 2: ACC") for line in std.splitlines())
    assert main(_tiny_train(tmp_path / "s", "--silent")) == 0
    std, err = capsys.readouterr()
    assert err == "" and len(std.strip().splitlines()) == 1 and std.startswith("ACC ")


def test_resuming_a_run_without_checkpoint_says_it_starts_over(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_tiny_train(out, "--quiet")) == 0
    for name in ("summary.json", "checkpoint/last.safetensors"):
        (out / name).unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(f"run folder {out}, which had no checkpoint yet: starting over from step 0")


def test_help_after_a_method_lists_that_methods_keys(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "--method", "dccs", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "config keys for --set (method dccs)" in text and "objective.beta_aug" in text
    assert "train.head_schedule" not in text  # IIC's key, not DCCS's


def test_every_out_says_which_folders_it_made(trained_run, tmp_path, capsys):
    csv_path = tmp_path / "new" / "deeper" / "a.csv"
    assert main(["predict", str(trained_run), "--data", "digits", "--out", str(csv_path), "--quiet"]) == 0
    err = capsys.readouterr().err.strip()
    assert err == f"infoclust: made folder {csv_path.parent} (it did not exist, nor did {tmp_path / 'new'})"
    assert main(["predict", str(trained_run), "--data", "digits", "--out", str(csv_path), "--quiet"]) == 0
    assert capsys.readouterr().err == ""  # nothing made the second time
    assert main(_tiny_train(tmp_path / "runs" / "r", "--silent")) == 0
    assert capsys.readouterr().err.strip() == f"infoclust: made folder {tmp_path / 'runs'} (it did not exist)"


def test_an_interrupted_run_leaves_no_live_looking_lock(tmp_path, capsys, monkeypatch):
    from infoclust.methods.head_passes import HeadPasses

    calls = []

    def interrupted(self, samples, ctx):
        calls.append(1)
        if len(calls) == 20:
            raise KeyboardInterrupt
        return original(self, samples, ctx)

    original = HeadPasses.train_step
    monkeypatch.setattr(HeadPasses, "train_step", interrupted)
    out = tmp_path / "run"
    assert main(_tiny_train(out, "--quiet")) == 130
    assert "infoclust: interrupted; continue it from its last checkpoint" in capsys.readouterr().err
    assert (out / "config.yaml").is_file() and not (out / ".lock").exists()


def test_a_second_stage_clusters_a_first_runs_features_and_predicts_from_images(trained_run, tmp_path, capsys):
    from infoclust.engine import load_trainer
    from infoclust.prediction import features

    quick = ["model.heads=2", "model.hidden=32", "model.bottleneck=16", "neighbours.k=5", "train.epochs=2",
             "train.batch_size=64", "train.warmup_epochs=0"]
    second = tmp_path / "temi"
    args = ["train", "--method", "temi", "--features", str(trained_run), "--out", str(second), "--quiet"]
    assert main(args + [a for item in quick for a in ("--set", item)]) == 0
    cfg = json.loads((second / "summary.json").read_text())
    assert cfg["n_samples"] == 1797 and "top5" in cfg  # the first stage's data (digits), scored as usual
    config = (second / "config.yaml").read_text()
    assert f"features: {trained_run}" in config and "name: digits" in config
    # the second stage saw the first stage's features of the digits, not their pixels
    two, one = load_trainer(second), load_trainer(trained_run)
    assert torch.allclose(two.images.cpu(), torch.from_numpy(features(one.method, one.images)))
    assert two.images.shape[1] != 64  # not the 8×8 pixels
    # predict takes images and passes them through both stages
    out = tmp_path / "assign.csv"
    assert main(["predict", str(second), "--data", "digits", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1797
    summary = json.loads((second / "summary.json").read_text())
    assert np.bincount([int(r["cluster"]) for r in rows], minlength=10).tolist() == summary["cluster_sizes"]


def test_features_of_an_unfinished_run_is_one_line(trained_run, tmp_path, capsys):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text((trained_run / "config.yaml").read_text())
    assert main(["train", "--method", "temi", "--features", str(unfinished), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert not (tmp_path / "t").exists()  # no run folder begun
    assert err == [f"infoclust: error: data.features = '{unfinished}': that run has not finished (no summary.json); expected "
                   f"a finished run: finish it with 'infoclust train --resume {unfinished}'"]
