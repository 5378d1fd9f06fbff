"""``--nproc N`` as a user meets it: what can be checked before the processes start is checked
once, and a failure inside the processes reaches the user as one line from rank 0."""
import json

from infoclust.cli import main
from infoclust.launcher import launch


def test_a_batch_that_does_not_split_is_one_line_before_any_process_starts(tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr("infoclust.launcher.subprocess.Popen", lambda *a, **k: started.append(a))
    code = main(["train", "--nproc", "3", "--set", "train.batch_size=100", "--data", "digits",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not started
    assert err == ("infoclust: error: train.batch_size = 100 does not split over 3 processes: "
                   "expected a multiple of the process count")
    assert not (tmp_path / "run").exists()


def test_the_launcher_shows_one_line_of_a_failed_run(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an array")
    code = (f"import sys; from infoclust.launcher import launch; "
            f"sys.exit(launch(2, ['train', '--data', {str(bad)!r}, '--out', {str(tmp_path / 'run')!r}, '--quiet']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("infoclust: error: ") and "bad.npy" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "ChildFailedError" not in done.stderr


def test_two_processes_say_so_at_the_start(tmp_path, tiny_overrides):
    import subprocess
    import sys

    out = tmp_path / "run"
    args = ["train", "--nproc", "2", "--data", "digits", "--out", str(out), "--quiet"]
    for item in tiny_overrides + ["train.epochs=1"]:
        args += ["--set", item]
    done = subprocess.run([sys.executable, "-m", "infoclust", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("iic on digits: 1797 samples of 1×8×8") and "2 processes" in first
    assert json.loads((out / "summary.json").read_text())["processes"] == 2
