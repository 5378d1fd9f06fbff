"""The command line end to end on digits, and the bad-input list: one line, exit 2, nothing lost."""
import csv
import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from infoclust.cli import main


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
    assert (trained_run / "config.yaml").is_file() and (trained_run / "checkpoint" / "last.pt").is_file()


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


def _idx(path, data: bytes, dims, magic=b"\x00\x00\x08"):
    payload = magic + bytes([len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data
    path.write_bytes(gzip.compress(payload))


def bad_inputs(tmp):
    """(name, argv, expected fragment of the error line) for each bad input the issue lists."""
    nan = tmp / "nan.npy"
    np.save(nan, np.full((4, 8, 8), np.nan, dtype=np.float32))
    rank = tmp / "rank.npy"
    np.save(rank, np.zeros(5, dtype=np.uint8))
    empty = tmp / "empty"
    empty.mkdir()
    notimg = tmp / "notimg"
    notimg.mkdir()
    (notimg / "a.png").write_bytes(b"this is not a png")
    idx = tmp / "idx"
    idx.mkdir()
    _idx(idx / "train-images-idx3-ubyte.gz", bytes(100), [10, 28, 28])  # truncated
    _idx(idx / "train-labels-idx1-ubyte.gz", bytes(10), [10])
    _idx(idx / "t10k-images-idx3-ubyte.gz", bytes(784), [1, 28, 28], magic=b"\x12\x34\x08")  # wrong magic
    _idx(idx / "t10k-labels-idx1-ubyte.gz", bytes(1), [1])
    cfg = tmp / "typo.yaml"
    cfg.write_text("train:\n  epohcs: 3\n")
    t = ["train", "--quiet", "--out", str(tmp / "never")]
    return [
        ("missing path", t + ["--data", str(tmp / "missing_dir/")], "does not exist"),
        ("truncated idx", t + ["--data", "fashion-mnist", "--set", f"data.root={idx}", "--set", "data.split=train"], "truncated"),
        ("wrong magic idx", t + ["--data", "fashion-mnist", "--set", f"data.root={idx}", "--set", "data.split=test"], "not an IDX file"),
        ("empty folder", t + ["--data", str(empty)], "no images found"),
        ("not an image", t + ["--data", str(notimg)], "a.png"),
        ("wrong rank", t + ["--data", str(rank)], "shape (5,)"),
        ("nan pixels", t + ["--data", str(nan)], "NaN"),
        ("unknown method", t + ["--method", "iicc"], "unknown method 'iicc'"),
        ("unknown dataset", t + ["--data", "mnsit"], "unknown dataset 'mnsit'"),
        ("unknown backbone", t + ["--set", "model.backbone=vgg"], "unknown backbone 'vgg'"),
        ("misspelled key", t + ["--config", str(cfg)], "unknown config key 'train.epohcs'"),
        ("k < 2", t + ["--set", "model.n_clusters=1"], "at least 2"),
        ("batch < k", t + ["--set", "train.batch_size=5"], "smaller than n_clusters"),
        ("not a run folder", ["evaluate", str(empty)], "not an infoclust run folder"),
        ("bad split", t + ["--set", "data.split=val"], "unknown split 'val'"),
    ]


def test_each_bad_input_gets_one_clear_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    for name, argv, fragment in bad_inputs(tmp_path):
        code = main(argv)
        err = capsys.readouterr().err.strip()
        assert code == 2, name
        assert err.startswith("infoclust: error: ") and "\n" not in err, (name, err)
        assert fragment in err, (name, err)
        assert not (tmp_path / "never").exists(), name


def test_python_m_entry_point_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "infoclust", "evaluate", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


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
