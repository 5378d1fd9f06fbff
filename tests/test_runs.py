import pytest
import torch

from infoclust.errors import CheckpointError
from infoclust.runs import RunDir, atomic_write, atomic_write_text


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "good")

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_corrupt_or_foreign_checkpoint_is_a_clear_error(tmp_path):
    run = RunDir(tmp_path)
    run.checkpoint_path.parent.mkdir(parents=True)
    run.checkpoint_path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        run.load_checkpoint()


def test_checkpoint_with_arbitrary_objects_is_refused(tmp_path):
    from fractions import Fraction  # any object outside the weights-only allow-list

    run = RunDir(tmp_path)
    run.checkpoint_path.parent.mkdir(parents=True)
    torch.save({"x": Fraction(1, 3)}, run.checkpoint_path)
    with pytest.raises(CheckpointError):
        run.load_checkpoint()


def test_not_a_run_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not an infoclust run folder"):
        RunDir.existing(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        RunDir.existing(tmp_path / "nope")


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os

    target = tmp_path / "page.html"
    atomic_write_text(target, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
