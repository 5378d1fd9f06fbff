"""The catalogue of bad inputs: every reader, the config, each CLI command and the Python API.

For every case: exit status 2 (a ``InfoclustError`` / ``ValueError`` from the API), exactly one line
on stderr naming the culprit, no traceback, and nothing already written is changed, removed or
left half-made (the whole test folder is compared before and after, byte for byte).
"""
from __future__ import annotations

import errno
import fcntl
import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from infoclust.cli import main
from infoclust.errors import InfoclustError
from infoclust.runs import RunDir
from tests.conftest import TINY
from tests.data.test_folder import png_header


@dataclass
class Case:
    name: str
    argv: list[str] | Callable[[], object]  # CLI arguments, or a Python API call that must raise
    fragment: str  # a part of the error line that names the culprit
    fault: Callable[[pytest.MonkeyPatch], None] | None = None  # a system failure to inject
    creates: str | None = None  # a new run folder the case may leave (a run that failed midway)


def _idx(path: Path, data: bytes, dims: list[int], magic: bytes = b"\x00\x00\x08", trailing: int = 0) -> None:
    payload = magic + bytes([len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data + bytes(trailing)
    path.write_bytes(gzip.compress(payload))


def _npy(path: Path, array) -> str:
    np.save(path, array)
    return str(path)


def _enospc_on_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while the first checkpoint is flushed."""
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    original = RunDir.save_checkpoint

    def save(self, state):
        monkeypatch.setattr("infoclust.runs.os.fsync", full)
        original(self, state)

    monkeypatch.setattr(RunDir, "save_checkpoint", save)


def _read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every folder creation fails as on a read-only file system (root ignores chmod)."""
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)


HELD: list = []  # lock files held by a "second writer" during a case


def _locked_by_another_writer(folder: Path) -> Callable[[pytest.MonkeyPatch], None]:
    """The run folder is held by another process's lock (taken here on another open file)."""
    def hold(monkeypatch: pytest.MonkeyPatch) -> None:
        fh = open(folder / ".lock", "a+")  # a live writer's lock file, with its name, as RunDir.lock writes it
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write(f"process {os.getpid()} on {os.uname().nodename}\n")
        fh.flush()
        HELD.append(fh)

    return hold


def _unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading any .npy file fails as a file without read permission does (root reads everything)."""
    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(np, "load", refuse)


def _out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("infoclust.engine.sample_tensor", no_memory)


def _files(tmp: Path) -> dict[str, str]:
    """Every file and folder under ``tmp`` with a digest of its bytes (folders: "dir")."""
    out = {}
    for path in sorted(tmp.rglob("*")):
        key = str(path.relative_to(tmp))
        if path.is_symlink():
            out[key] = "link:" + os.readlink(path)
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny IIC run on a 200-image array (kept as ``data.npy`` beside it)."""
    root = tmp_path_factory.mktemp("catalogue-run")
    from sklearn.datasets import load_digits

    np.save(root / "data.npy", (load_digits().images[:200] * 15).astype(np.uint8))
    argv = ["train", "--data", str(root / "data.npy"), "--out", str(root / "run"), "--quiet"]
    assert main(argv + [arg for item in TINY for arg in ("--set", item)]) == 0
    return root


def catalogue(tmp: Path, run_root: Path) -> list[Case]:
    """The bad inputs, each made under ``tmp`` (the run to misuse is copied there)."""
    import shutil

    from infoclust import IIC, IMSAT

    run = tmp / "run"
    shutil.copytree(run_root / "run", run)
    data = tmp / "data.npy"
    shutil.copy(run_root / "data.npy", data)
    other = tmp / "other"
    other.mkdir()
    run_other_data = tmp / "run-other-data"
    shutil.copytree(run, run_other_data)
    (run_other_data / "checkpoint" / "last.safetensors").unlink()  # stopped before its first checkpoint
    changed = np.load(data)
    changed[0, 0, 0] ^= 1
    (run_other_data / "data.json").write_text((run / "data.json").read_text().replace(str(run_root / "data.npy"), str(other / "d.npy")))
    np.save(other / "d.npy", changed)
    corrupt, hostile = tmp / "corrupt-run", tmp / "hostile-run"
    for folder in (corrupt, hostile):
        shutil.copytree(run, folder)
    (corrupt / "checkpoint" / "last.safetensors").write_bytes((run / "checkpoint" / "last.safetensors").read_bytes()[:5000])
    from fractions import Fraction
    torch.save({"method": Fraction(1, 3)}, hostile / "checkpoint" / "last.safetensors")
    for folder in (corrupt, hostile):
        (folder / "summary.json").unlink()  # a stopped run: evaluate must read the checkpoint

    idx = tmp / "idx"
    idx.mkdir()
    _idx(idx / "train-images-idx3-ubyte.gz", bytes(100), [10, 28, 28])  # truncated
    _idx(idx / "train-labels-idx1-ubyte.gz", bytes(10), [10])
    _idx(idx / "t10k-images-idx3-ubyte.gz", bytes(784), [1, 28, 28], magic=b"\x12\x34\x08")
    _idx(idx / "t10k-labels-idx1-ubyte.gz", bytes(1), [1])
    bomb, zero = tmp / "idx-bomb", tmp / "idx-zero"
    for folder in (bomb, zero):
        folder.mkdir()
        _idx(folder / "t10k-labels-idx1-ubyte.gz", bytes(1), [1])
    _idx(bomb / "t10k-images-idx3-ubyte.gz", bytes(784), [1, 28, 28], trailing=20_000_000)
    _idx(zero / "t10k-images-idx3-ubyte.gz", b"", [0, 28, 28])

    folders = {name: tmp / name for name in ("empty", "notimg", "cut-png", "cut-jpg", "png-bomb", "dangling")}
    for folder in folders.values():
        folder.mkdir()
    from PIL import Image
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folders["cut-png"] / "a.png")
    (folders["cut-png"] / "a.png").write_bytes((folders["cut-png"] / "a.png").read_bytes()[:30])
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folders["cut-jpg"] / "a.jpg")
    (folders["cut-jpg"] / "a.jpg").write_bytes((folders["cut-jpg"] / "a.jpg").read_bytes()[:200])
    (folders["notimg"] / "a.png").write_bytes(b"this is not a png")
    (folders["png-bomb"] / "bomb.png").write_bytes(png_header(30_000, 30_000))
    (folders["dangling"] / "a.png").symlink_to(tmp / "nowhere.png")
    loop = tmp / "loop"
    loop.mkdir()
    (loop / "again").symlink_to(loop)

    rng = np.random.default_rng(0)
    npz_bad = tmp / "bad.npz"
    npz_bad.write_bytes(b"PK\x03\x04 not really a zip")
    npz_nokey = tmp / "nokey.npz"
    np.savez(npz_nokey, pixels=np.zeros((20, 8, 8), np.uint8))
    npz_labels = tmp / "labels.npz"
    np.savez(npz_labels, images=np.zeros((20, 8, 8), np.uint8), labels=np.zeros(19, np.int64))
    cut_npy = tmp / "cut.npy"
    cut_npy.write_bytes(Path(_npy(tmp / "whole.npy", np.zeros((20, 8, 8), np.uint8))).read_bytes()[:300])
    text_file = tmp / "notes.txt"
    text_file.write_text("not data")
    evil_yaml, broken_yaml, list_yaml, typo_yaml = (tmp / f"{n}.yaml" for n in ("evil", "broken", "list", "typo"))
    evil_yaml.write_text('train: !!python/object/apply:os.system ["touch owned"]\n')
    broken_yaml.write_text("train: [epochs: 3\n")
    list_yaml.write_text("- a\n- b\n")
    typo_yaml.write_text("train:\n  epohcs: 3\n")
    grid_bad = tmp / "grid.yaml"
    grid_bad.write_text("rows: []\nbogus: 1\n")
    existing_file = tmp / "a-file"
    existing_file.write_text("mine")
    csv_out = tmp / "assign.csv"
    csv_out.write_text("precious\n")

    new = tmp / "never"  # must never be created
    t = ["train", "--quiet", "--out", str(new)]
    td = t + ["--data", str(data)]
    tiny = [arg for item in TINY for arg in ("--set", item)]
    fashion = ["--data", "fashion-mnist"]
    images = np.load(data)

    def api(estimator, X):
        return lambda: estimator.fit(X)

    return [
        # ---- readers
        Case("missing path", t + ["--data", str(tmp / "missing_dir/")], "does not exist"),
        Case("truncated idx", t + fashion + ["--set", f"data.root={idx}", "--set", "data.split=train"], "truncated"),
        Case("wrong magic idx", t + fashion + ["--set", f"data.root={idx}", "--set", "data.split=test"], "not an IDX file"),
        Case("gzip bomb idx", t + fashion + ["--set", f"data.root={bomb}", "--set", "data.split=test"], "unexpected bytes"),
        Case("idx of zero images", t + fashion + ["--set", f"data.root={zero}", "--set", "data.split=test"], "0 images"),
        Case("empty folder", t + ["--data", str(folders["empty"])], "no images found"),
        Case("not an image", t + ["--data", str(folders["notimg"])], "a.png"),
        Case("truncated png", t + ["--data", str(folders["cut-png"])], "a.png"),
        Case("truncated jpeg", t + ["--data", str(folders["cut-jpg"])], "a.jpg"),
        Case("decompression bomb png", t + ["--data", str(folders["png-bomb"])], "exceeds limit"),
        Case("dangling symlink", t + ["--data", str(folders["dangling"])], "broken symbolic link"),
        Case("symlink loop, no images", t + ["--data", str(loop)], "no images found"),
        Case("wrong rank", t + ["--data", _npy(tmp / "rank.npy", np.zeros(5, np.uint8))], "shape (5,)"),
        Case("five dimensions", t + ["--data", _npy(tmp / "5d.npy", np.zeros((2, 1, 1, 8, 8), np.uint8))], "shape (2, 1, 1, 8, 8)"),
        Case("zero images", t + ["--data", _npy(tmp / "none.npy", np.zeros((0, 8, 8), np.uint8))], "shape (0, 8, 8)"),
        Case("nan pixels", t + ["--data", _npy(tmp / "nan.npy", np.full((20, 8, 8), np.nan, np.float32))], "NaN"),
        Case("inf pixels", t + ["--data", _npy(tmp / "inf.npy", np.full((20, 8, 8), np.inf, np.float32))], "NaN/inf"),
        Case("strings", t + ["--data", _npy(tmp / "str.npy", np.array([["a"] * 8] * 8))], "<U1"),
        Case("object array", t + ["--data", _npy(tmp / "obj.npy", np.array([{"a": 1}, None], dtype=object))], "object array"),
        Case("integers above 255", t + ["--data", _npy(tmp / "i16.npy", rng.integers(0, 300, (20, 8, 8)))], "0..255"),
        Case("truncated npy", t + ["--data", str(cut_npy)], "cut.npy"),
        Case("corrupt npz", t + ["--data", str(npz_bad)], "bad.npz"),
        Case("npz without images", t + ["--data", str(npz_nokey)], "expected one named images"),
        Case("npz labels of another length", t + ["--data", str(npz_labels)], "labels of shape (19,)"),
        Case("a text file as data", t + ["--data", str(text_file)], "neither a folder nor"),
        Case("1x1-pixel images", t + ["--data", _npy(tmp / "tiny.npy", np.zeros((50, 1, 1), np.uint8))], "too small for backbone"),
        Case("one image", t + ["--data", _npy(tmp / "one.npy", np.zeros((1, 8, 8), np.uint8))], "hold 1 sample(s)"),
        Case("unreadable file", t + ["--data", str(data)], "Permission denied", fault=_unreadable),
        Case("fewer images than clusters", t + ["--data", _npy(tmp / "five.npy", np.zeros((5, 8, 8), np.uint8))], "fewer than model.n_clusters = 10"),
        # ---- config
        Case("unknown method", t + ["--method", "iicc"], "unknown method 'iicc'"),
        Case("unknown dataset", t + ["--data", "mnsit"], "unknown dataset 'mnsit'"),
        Case("unknown backbone", td + ["--set", "model.backbone=vgg"], "unknown backbone 'vgg'"),
        Case("misspelled key", td + ["--config", str(typo_yaml)], "unknown config key 'train.epohcs'"),
        Case("k < 2", td + ["--set", "model.n_clusters=1"], "at least 2"),
        Case("batch < k", td + ["--set", "train.batch_size=5"], "smaller than n_clusters"),
        Case("bad split", t + ["--set", "data.split=val"], "unknown split 'val'"),
        Case("negative lr", td + ["--set", "train.lr=-1"], "train.lr = -1"),
        Case("negative budget", td + ["--set", "train.budget_minutes=-5"], "train.budget_minutes = -5"),
        Case("no selection samples", td + ["--set", "train.select_samples=0"], "train.select_samples = 0"),
        Case("epochs not a number", td + ["--set", "train.epochs=abc"], "'train.epochs': expected int"),
        Case("unknown device", td + ["--set", "train.device=banana"], "train.device = 'banana'"),
        Case("unknown collapse rule", td + ["--set", "train.on_collapse=maybe"], "train.on_collapse = 'maybe'"),
        Case("unsafe yaml tag", t + ["--config", str(evil_yaml)], "refused as unsafe"),
        Case("broken yaml", t + ["--config", str(broken_yaml)], "not valid YAML at line"),
        Case("yaml list", t + ["--config", str(list_yaml)], "expected a mapping"),
        Case("missing config file", t + ["--config", str(tmp / "nope.yaml")], "nope.yaml' does not exist"),
        Case("override without =", t + ["--set", "train.lr"], "expected key=value"),
        Case("zero processes", t + ["--nproc", "0"], "--nproc 0"),
        Case("resume with other options", ["train", "--resume", str(run), "--seed", "3"], "drop the other options"),
        # ---- run folders and outputs
        Case("--out an existing file", ["train", "--quiet", "--out", str(existing_file), "--data", str(data)], "is a file"),
        Case("--out under a file", ["train", "--quiet", "--out", str(existing_file / "run"), "--data", str(data)], "a-file"),
        Case("--out read-only", td, "read-only file system", fault=_read_only),
        Case("two writers into one run folder", ["train", "--resume", str(run), "--quiet"], "is being written by process",
             fault=_locked_by_another_writer(run)),
        Case("--out holds a run", ["train", "--quiet", "--out", str(run), "--data", str(data)], "already holds a run"),
        Case("resume on other data", ["train", "--resume", str(run_other_data), "--quiet"], "are not those run"),
        Case("resume a folder that is no run", ["train", "--resume", str(folders["empty"])], "not an infoclust run folder"),
        Case("disk full at the first checkpoint", ["train", "--quiet", "--out", str(tmp / "full-disk"), "--data", str(data)] + tiny,
             "no space left on the device", fault=_enospc_on_checkpoint, creates="full-disk"),
        Case("out of memory", td, "out of memory", fault=_out_of_memory),
        Case("evaluate a folder that is no run", ["evaluate", str(folders["empty"])], "not an infoclust run folder"),
        Case("evaluate a truncated checkpoint", ["evaluate", str(corrupt)], "is corrupt"),
        Case("evaluate a hostile checkpoint", ["evaluate", str(hostile)], "refused as unsafe"),
        Case("predict --out a folder", ["predict", str(run), "--data", str(data), "--out", str(other), "--quiet"], "is a folder"),
        Case("predict other image sizes", ["predict", str(run), "--data", _npy(tmp / "big.npy", np.zeros((3, 12, 12), np.uint8)),
                                           "--out", str(csv_out), "--quiet"], "trained on (1, 8, 8)"),
        Case("report on no run", ["report", str(tmp / "nothing")], "does not exist"),
        Case("grid spec with unknown section", ["grid", str(grid_bad), "--out", str(new)], "unknown section(s) bogus"),
        Case("config show, unknown method", ["config", "show", "--method", "kmeans"], "unknown method 'kmeans'"),
        # ---- Python API
        Case("API: vectors to IIC", api(IIC(), np.zeros((20, 64))), "clusters images"),
        Case("API: NaN images", api(IIC(), np.full((20, 8, 8), np.nan)), "NaN"),
        Case("API: fewer images than clusters", api(IIC(), images[:5]), "fewer than model.n_clusters"),
        Case("API: one cluster", api(IIC(n_clusters=1), images), "at least 2"),
        Case("API: unknown config key", api(IIC(config={"train__epohcs": 3}), images), "train.epohcs"),
        Case("API: negative lr", api(IIC(lr=-1.0), images), "train.lr = -1"),
        Case("API: strings to IMSAT", api(IMSAT(), np.array([["a", "b"]] * 20)), "could not convert"),
    ]


def test_every_bad_input_is_one_clear_line_and_changes_nothing(tmp_path, finished_run, capsys, monkeypatch):
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    cases = catalogue(tmp_path, finished_run)
    assert len(cases) >= 40
    for case in cases:
        before = _files(tmp_path)
        with monkeypatch.context() as patch:
            if case.fault:
                case.fault(patch)
            if callable(case.argv):
                with pytest.raises((InfoclustError, ValueError)) as caught:
                    case.argv()
                code, err = 2, f"infoclust: error: {caught.value}"
            else:
                code = main(case.argv)
                err = capsys.readouterr().err.strip()
        while HELD:  # the other writer ends: its lock file goes with it, as RunDir.lock's does
            fh = HELD.pop()
            Path(fh.name).unlink(missing_ok=True)
            fh.close()
        assert code == 2, (case.name, err)
        assert err.startswith("infoclust: error: ") and "\n" not in err and "Traceback" not in err, (case.name, err)
        assert case.fragment in err, (case.name, err)
        after = _files(tmp_path)
        if case.creates:  # a run that failed midway: its folder holds no checkpoint and no temporary file
            made = {k: v for k, v in after.items() if k.split("/")[0] == case.creates}
            assert not [k for k in made if k.endswith(".tmp") or k.endswith("last.safetensors")], made
            after = {k: v for k, v in after.items() if k not in made}
        assert after == before, case.name
    print(f"{len(cases)} bad inputs")
