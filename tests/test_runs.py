import errno
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from infoclust.errors import CheckpointError, RunFolderError
from infoclust.runs import RunDir, atomic_write_bytes, atomic_write_text, json_safe


def _fail_fsync(monkeypatch, code: int) -> None:
    """Make the next flush to disk fail as a full (or read-only) disk would, after the bytes were written."""
    def broken(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("infoclust.runs.os.fsync", broken)


def test_atomic_write_keeps_the_old_file_when_the_disk_fills_up(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "good")
    _fail_fsync(monkeypatch, errno.ENOSPC)
    with pytest.raises(RunFolderError, match=r"no space left on the device while writing '.*f.txt'; 0.0 MiB needed"):
        atomic_write_bytes(target, b"half")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary file left


def test_atomic_write_into_a_read_only_folder_is_one_clear_error(tmp_path, monkeypatch):
    _fail_fsync(monkeypatch, errno.EROFS)
    with pytest.raises(RunFolderError, match="cannot write .*read-only file system; expected a writable folder"):
        atomic_write_text(tmp_path / "x.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_or_foreign_checkpoint_is_a_clear_error(tmp_path):
    run = RunDir(tmp_path)
    run.checkpoint_path.parent.mkdir(parents=True)
    run.checkpoint_path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is corrupt or not an infoclust checkpoint"):
        run.load_checkpoint()


def test_checkpoint_with_arbitrary_objects_is_refused_as_unsafe_and_nothing_else(tmp_path):
    from fractions import Fraction  # any object outside the weights-only allow-list

    run = RunDir(tmp_path)
    run.checkpoint_path.parent.mkdir(parents=True)
    torch.save({"x": Fraction(1, 3)}, run.checkpoint_path)
    with pytest.raises(CheckpointError, match="is refused as unsafe") as caught:
        run.load_checkpoint()
    assert "weights_only" not in str(caught.value) and "\n" not in str(caught.value)


def test_an_earlier_versions_pickle_checkpoint_is_named_and_never_loaded_or_replaced(tmp_path, tiny_overrides):
    from infoclust.methods import load_config
    from infoclust.engine import train

    train(load_config(None, tiny_overrides + ["train.epochs=1"], seed=0), tmp_path / "r", progress=False)
    run = RunDir(tmp_path / "r")
    run.checkpoint_path.rename(run.legacy_checkpoint_path)  # stands in for a last.pt an earlier version wrote
    before = run.legacy_checkpoint_path.read_bytes()
    for read in (run.load_checkpoint, lambda: train(None, tmp_path / "r", resume=True, progress=False)):
        with pytest.raises(CheckpointError, match="written by an earlier infoclust .* never loads: train the run again"):
            read()
    assert run.legacy_checkpoint_path.read_bytes() == before and not run.checkpoint_path.exists()


def test_not_a_run_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not an infoclust run folder"):
        RunDir.existing(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        RunDir.existing(tmp_path / "nope")


def test_atomic_files_get_ordinary_permissions(tmp_path):
    target = tmp_path / "page.html"
    atomic_write_text(target, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
    run = RunDir(tmp_path / "run")
    with run.lock():
        with pytest.raises(RunFolderError, match=rf"'{run.root}' is being written by process {os.getpid()} on "):
            with run.lock():
                pass
    with run.lock():  # released: the next writer may go on
        pass


def test_the_lock_of_a_killed_process_is_not_stale(tmp_path):
    """A writer killed with SIGKILL leaves its .lock file, but not its lock."""
    code = ("import sys, time; from infoclust.runs import RunDir\n"
            "with RunDir(sys.argv[1]).lock():\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunFolderError, match=f"process {holder.pid}"):
        with RunDir(tmp_path).lock():
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    start = time.monotonic()
    with RunDir(tmp_path).lock():
        assert (tmp_path / ".lock").read_text().startswith(f"process {os.getpid()} ")
    assert time.monotonic() - start < 1


def test_the_lock_refuses_a_file_as_run_folder(tmp_path):
    target = tmp_path / "file"
    target.write_text("mine")
    with pytest.raises(RunFolderError, match="is a file; expected a run folder"):
        with RunDir(target).lock():
            pass
    assert target.read_text() == "mine"


def test_a_cut_log_is_never_padded(tmp_path):
    run = RunDir(tmp_path)
    run.append_metrics({"step": 1})
    size = run.metrics_size()
    with pytest.warns(UserWarning, match=f"holds {size} bytes but the checkpoint recorded {size + 100}"):
        run.truncate_metrics(size + 100)
    assert run.metrics_path.read_bytes() == b'{"step": 1}\n'
    run.append_metrics({"step": 2})
    run.truncate_metrics(size)
    assert run.read_metrics() == [{"step": 1}]


def test_metrics_and_json_never_hold_nan():
    assert json_safe({"a": float("nan"), "b": [1.0, float("inf")], "c": "x"}) == {"a": None, "b": [1.0, None], "c": "x"}


def test_an_appended_line_waits_for_the_appender_before_it(tmp_path):
    """Probes append to probes.jsonl beside each other: the second waits for the first's lock."""
    run = RunDir(tmp_path)
    code = ("import fcntl, sys, time\nfh = open(sys.argv[1], 'a')\nfcntl.flock(fh, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\ntime.sleep(2.0)\nfh.write('{\"accuracy\": 0.5}\\n')\nfh.close()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run.probes_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    start = time.monotonic()
    run.append_probe({"accuracy": 0.75})
    waited = time.monotonic() - start
    holder.wait()
    assert waited > 0.5  # it waited for the holder's line (held 2 s, some of it spent before the append)
    assert run.read_probes() == [{"accuracy": 0.5}, {"accuracy": 0.75}]
