"""Run folders never lose or mix data: a full disk, two writers, a reader during training, data
that changed or moved, an interrupted command."""
import builtins
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from infoclust.cli import main
from infoclust.methods import load_config
from infoclust.engine import train
from infoclust.errors import DataError, RunFolderError
from infoclust.methods.info import InfoClustering
from infoclust.runs import RunDir
from tests.conftest import TINY


def _sets(*extra: str) -> list[str]:
    return [arg for item in TINY + list(extra) for arg in ("--set", item)]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_disk_full_during_a_checkpoint_keeps_the_previous_one_and_resumes_exactly(tmp_path, monkeypatch):
    cfg = load_config(None, TINY + ["train.epochs=3"], seed=4)
    full = train(cfg, tmp_path / "full", progress=False)
    original, saves = RunDir.save_checkpoint, {"n": 0}

    def fills_up_on_the_fourth(self, state):
        saves["n"] += 1
        if saves["n"] == 4:  # the bytes are written, then the flush finds the disk full
            with monkeypatch.context() as patch:
                patch.setattr("infoclust.runs.os.fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
                return original(self, state)
        return original(self, state)

    monkeypatch.setattr(RunDir, "save_checkpoint", fills_up_on_the_fourth)
    with pytest.raises(RunFolderError, match=r"^no space left on the device while writing '.*last\.safetensors'; [\d.]+ MiB needed"):
        train(cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(RunDir, "save_checkpoint", original)
    cut = RunDir(tmp_path / "cut")
    assert cut.load_checkpoint()["progress"]["global_step"] == 15  # the third checkpoint, intact
    assert not list(cut.checkpoint_path.parent.glob("*.tmp"))
    resumed = train(None, tmp_path / "cut", resume=True, progress=False)
    for key in ("acc", "nmi", "ari", "sub_head_loss", "cluster_sizes"):
        assert resumed[key] == full[key], key
    for name, tensor in RunDir(tmp_path / "full").load_checkpoint()["method"]["model"].items():
        assert torch.equal(tensor, cut.load_checkpoint()["method"]["model"][name]), name


def test_two_trainings_into_one_folder_one_is_refused_and_the_log_is_not_mixed(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "infoclust", "train", "--data", "digits", "--out", str(out), "--quiet",
           *_sets("train.epochs=4")]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refusal = next(err for code, err in results if code == 2).strip()
    # the loser meets the lock ("... by process N on HOST", or "... by another process" when it comes
    # between the winner's lock and its writing of its name), or the winner's finished run
    assert len(refusal.splitlines()) == 1, refusal
    assert "is being written by" in refusal or "already holds a run" in refusal, refusal
    steps = [r["step"] for r in RunDir(out).read_metrics() if r["kind"] == "train"]
    assert steps == sorted(set(steps)) and len(steps) == 4 * 28 // 10


def test_evaluate_while_the_run_trains_reads_only(tmp_path):
    out = tmp_path / "run"
    trainer = subprocess.Popen([sys.executable, "-m", "infoclust", "train", "--data", "digits", "--out", str(out),
                                "--quiet", *_sets("train.epochs=8")], stderr=subprocess.PIPE, text=True)
    while not RunDir(out).has_checkpoint() and trainer.poll() is None:
        time.sleep(0.1)
    reads = 0
    while trainer.poll() is None:
        proc = subprocess.run([sys.executable, "-m", "infoclust", "evaluate", str(out), "--recompute", "--json"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        reads += 1
    assert trainer.returncode == 0, trainer.stderr.read()
    assert reads >= 1
    records = RunDir(out).read_metrics()
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(10, 8 * 28 + 1, 10))
    assert [r["epoch"] for r in records if r["kind"] == "eval"] == list(range(1, 9))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("integrity") / "run"
    assert main(["train", "--data", "digits", "--out", str(out), "--quiet", *_sets()]) == 0
    return out


def test_reading_a_run_never_writes_to_it(finished, tmp_path, monkeypatch, capsys):
    before = _tree(finished)
    real_open, real_replace = builtins.open, os.replace

    def read_only(path, mode="r", *args, **kwargs):  # the run folder behaves as on a read-only disk
        if any(m in mode for m in "wax+") and str(finished) in str(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only)
    monkeypatch.setattr(os, "replace", lambda a, b: real_replace(a, b) if str(finished) not in str(b) else (_ for _ in ()).throw(
        OSError(errno.EROFS, "read-only", str(b))))
    assert main(["evaluate", str(finished), "--recompute"]) == 0
    assert main(["evaluate", str(finished), "--json"]) == 0
    assert main(["predict", str(finished), "--data", "digits", "--out", str(tmp_path / "a.csv"), "--quiet"]) == 0
    assert _tree(finished) == before


def test_evaluate_of_a_finished_run_reads_its_summary(finished, monkeypatch, capsys):
    def no_checkpoint(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded")

    monkeypatch.setattr("infoclust.engine.load_trainer", no_checkpoint)
    assert main(["evaluate", str(finished), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    summary = json.loads((finished / "summary.json").read_text())
    assert figures["acc"] == summary["acc"] and "curve" not in figures and "time_s" not in figures


def test_evaluate_json_is_valid_json_even_with_nan(tmp_path, finished, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.yaml", "data.json"):
        (run / name).write_bytes((finished / name).read_bytes())
    (run / "summary.json").write_text('{"acc": NaN, "nmi": 0.5, "sub_head_loss": [Infinity, -1.0]}')
    assert main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON")) == {
        "acc": None, "nmi": 0.5, "sub_head_loss": [None, -1.0]}


def test_resume_from_another_directory_reads_the_recorded_data(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    rng = np.random.default_rng(0)
    np.save(a / "x.npy", rng.integers(0, 256, (300, 8, 8), dtype=np.uint8))
    np.save(b / "x.npy", rng.integers(0, 256, (400, 8, 8), dtype=np.uint8))
    monkeypatch.chdir(a)
    cfg = load_config(None, TINY + ["train.epochs=6"], data__name="x.npy")
    original, calls = InfoClustering.train_step, {"n": 0}

    def dying(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(InfoClustering, "train_step", dying)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run", progress=False)
    monkeypatch.setattr(InfoClustering, "train_step", original)
    record = json.loads((tmp_path / "run" / "data.json").read_text())
    assert record["path"] == str(a / "x.npy") and record["train"]["count"] == 300

    monkeypatch.chdir(b)  # a same-named file of other data here: the recorded path wins
    shown = tmp_path / "shown"
    (tmp_path / "run").rename(shown)  # (a moved run folder resumes too)
    (a / "x.npy").rename(a / "moved.npy")  # and when the recorded file is gone, the name is refused on its content
    with pytest.raises(DataError, match=r"^the train data 'x.npy' \(400 samples of shape \(1, 8, 8\), sha256 \w{12}\) are not "
                                        r"those run '.*shown' was trained on \(300 samples"):
        train(None, shown, resume=True, progress=False)
    (a / "moved.npy").rename(a / "x.npy")
    assert train(None, shown, resume=True, progress=False)["n_samples"] == 300


def test_ctrl_c_names_the_run_folder_to_resume(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("infoclust.engine.train", interrupted)
    assert main(["train", "--data", "digits", "--out", str(tmp_path / "r")]) == 130
    assert f"infoclust train --resume {tmp_path / 'r'}" in capsys.readouterr().err


def test_ctrl_c_in_a_grid_says_how_to_continue_it(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("infoclust.engine.train", interrupted)
    spec = Path(__file__).resolve().parents[1] / "configs" / "compare-digits.yaml"
    assert main(["grid", str(spec), "--seeds", "0", "--out", str(tmp_path / "g"), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert f"rerun 'infoclust grid {spec} --out {tmp_path / 'g'}' to continue" in err and "nothing was changed" not in err
