import json

import pytest
import torch

from infoclust.cli import main
from infoclust.methods import load_config
from infoclust.data import load_dataset
from infoclust.engine import Trainer, train
from infoclust.errors import ConfigError
from infoclust.runs import RunDir


def weights(run_dir):
    return RunDir(run_dir).load_checkpoint()["method"]["model"]


def test_training_improves_over_initialisation(tmp_path, tiny_overrides):
    cfg = load_config(None, tiny_overrides + ["train.epochs=6"], seed=0)
    trainer = Trainer(cfg, load_dataset("digits", progress=False), RunDir(tmp_path / "r"), progress=False)
    before = trainer.evaluate()
    after = trainer.fit()
    # the heads start near uniform (loss ≈ 0, one cluster); six tiny epochs must break that symmetry
    assert max(before["sub_head_loss"]) > -0.05
    assert after["sub_head_loss"][after["selected_sub_head"]] < -0.3
    assert after["acc"] > before["acc"] + 0.08
    assert sum(size > 50 for size in after["cluster_sizes"]) >= 2


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path, tiny_overrides, monkeypatch):
    cfg = load_config(None, tiny_overrides + ["train.epochs=3"], seed=3)
    full = train(cfg, tmp_path / "full", progress=False)

    from infoclust.methods.info import InfoClustering as IIC
    original = IIC.train_step
    calls = {"n": 0}

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 37:  # mid-epoch, two steps after the checkpoint at step 35
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IIC, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", progress=False)
    assert RunDir(tmp_path / "cut").load_checkpoint()["progress"]["global_step"] == 35
    monkeypatch.setattr(IIC, "train_step", original)
    resumed = train(None, tmp_path / "cut", resume=True, progress=False)

    for key in ("acc", "nmi", "ari", "sub_head_loss", "cluster_sizes", "acc_per_sub_head"):
        assert resumed[key] == full[key]
    for name, tensor in weights(tmp_path / "full").items():
        assert torch.equal(tensor, weights(tmp_path / "cut")[name]), name
    # the log has no duplicated lines from the steps replayed after the checkpoint
    def log(run):
        return [(r["step"], r["loss"]) for r in RunDir(tmp_path / run).read_metrics() if r["kind"] == "train"]

    assert log("cut") == log("full")  # same lines, same losses, none duplicated


@pytest.mark.parametrize("interval, expected", [
    (["train.checkpoint_every=10"], [10, 20, 28, 30, 40, 50, 56]),  # every 10 steps and at both evaluations
    (["train.checkpoint_every=null", "train.checkpoint_minutes=1e-9"], sorted([*range(1, 57), 28, 56])),  # clock: every step
    (["train.checkpoint_every=null", "train.checkpoint_minutes=1000"], [28, 56]),  # clock never due: evaluations only
])
def test_checkpoints_follow_the_step_count_where_set_else_the_clock(tmp_path, tiny_overrides, monkeypatch, interval, expected):
    written = []
    original = RunDir.save_checkpoint

    def recording_save(self, state):
        written.append(state["progress"]["global_step"])
        original(self, state)

    monkeypatch.setattr(RunDir, "save_checkpoint", recording_save)
    cfg = load_config(None, tiny_overrides + ["train.epochs=2"] + interval, seed=3)  # 28 steps a pass
    train(cfg, tmp_path / "r", progress=False)
    assert written == expected


def test_resume_before_the_first_checkpoint_starts_over_with_a_clean_log(tmp_path, tiny_overrides, monkeypatch):
    cfg = load_config(None, tiny_overrides + ["train.epochs=1", "train.checkpoint_every=1000"], seed=3)
    full = train(cfg, tmp_path / "full", progress=False)

    from infoclust.methods.info import InfoClustering as IIC
    original = IIC.train_step
    calls = {"n": 0}

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 13:  # after the first log line (step 10), before any checkpoint
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IIC, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", progress=False)
    assert not RunDir(tmp_path / "cut").has_checkpoint() and RunDir(tmp_path / "cut").read_metrics()
    monkeypatch.setattr(IIC, "train_step", original)
    resumed = train(None, tmp_path / "cut", resume=True, progress=False)
    assert resumed["acc"] == full["acc"]

    def lines(run):  # timings differ between runs; what was logged, and in which order, must not
        return [(r["kind"], r["step"], r.get("loss"), r.get("acc")) for r in RunDir(tmp_path / run).read_metrics()]

    assert lines("cut") == lines("full")  # the killed attempt's line at step 10 is gone, not doubled


def test_same_seed_same_numbers_other_seed_other_numbers(tiny_overrides):
    data = load_dataset("digits", progress=False)
    a = Trainer(load_config(None, tiny_overrides, seed=1), data, progress=False).fit()
    b = Trainer(load_config(None, tiny_overrides, seed=1), data, progress=False).fit()
    c = Trainer(load_config(None, tiny_overrides, seed=2), data, progress=False).fit()
    assert a["sub_head_loss"] == b["sub_head_loss"] and a["sub_head_loss"] != c["sub_head_loss"]


def test_budget_stops_early_and_is_recorded(tmp_path, tiny_overrides):
    cfg = load_config(None, tiny_overrides + ["train.epochs=1000", "train.budget_minutes=0.02"], seed=0)
    figures = train(cfg, tmp_path / "b", progress=False)
    assert figures["epoch"] < 1000 and 1.2 <= figures["time_s"] < 10
    assert RunDir(tmp_path / "b").load_checkpoint()["progress"]["stopped_by_budget"]


def one_second_per_step(monkeypatch):
    """A clock that advances 1 s per call: each training step then takes exactly 1 s of budget."""
    from infoclust import engine

    ticks = iter(range(10**9))
    monkeypatch.setattr(engine.time, "perf_counter", lambda: float(next(ticks)))


@pytest.mark.parametrize("budget_steps, reported_step", [(40, 28), (70, 70)])
def test_a_budget_that_cuts_an_over_clustering_pass_reports_the_last_main_pass(
        tmp_path, tiny_overrides, monkeypatch, capsys, budget_steps, reported_step):
    """Schedule B, A, B, …; 28 steps a pass (1797 digits / 64). A budget of 40 steps ends inside the
    first A pass: the model reported (and kept) is the one the B pass left at step 28, exactly the
    model of a one-pass run. A budget of 70 ends inside a B pass: that model is reported as it is."""
    overrides = tiny_overrides + ["train.head_schedule=B:1,A:1", "train.checkpoint_every=1000"]
    one_pass = train(load_config(None, overrides + ["train.epochs=1"], seed=0), tmp_path / "one", progress=False)
    one_second_per_step(monkeypatch)
    cfg = load_config(None, overrides + ["train.epochs=100", f"train.budget_minutes={budget_steps / 60}"], seed=0)
    cut = train(cfg, tmp_path / "cut", progress=False)
    assert cut["step"] == budget_steps and cut["model_step"] == reported_step
    same = [torch.equal(t, weights(tmp_path / "cut")[name]) for name, t in weights(tmp_path / "one").items()]
    if reported_step == 28:
        assert all(same) and cut["acc"] == one_pass["acc"] and cut["sub_head_loss"] == one_pass["sub_head_loss"]
    else:
        assert not all(same)
    # evaluating the run later reads the same model from its checkpoint
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "cut"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["acc"] == cut["acc"]


@pytest.mark.parametrize("schedule, snapshot_step", [("B:1", None), ("B:1,A:1", 28)])
def test_a_checkpoint_carries_a_reportable_copy_only_while_the_next_pass_may_not_be_reported(
        tmp_path, tiny_overrides, monkeypatch, schedule, snapshot_step):
    """A budget of 40 steps ends inside pass 2. With only main-head passes nothing needs a copy
    (the checkpoint holds the model once); with B, A the copy of the B pass's model (step 28) is kept."""
    one_second_per_step(monkeypatch)
    overrides = tiny_overrides + [f"train.head_schedule={schedule}", "train.checkpoint_every=1000",
                                  "train.epochs=100", f"train.budget_minutes={40 / 60}"]
    train(load_config(None, overrides, seed=0), tmp_path / "r", progress=False)
    checkpoint = RunDir(tmp_path / "r").load_checkpoint()
    assert checkpoint["progress"]["global_step"] == 40
    assert checkpoint.get("snapshot", {}).get("step") == snapshot_step


def test_checkpoints_are_written_during_the_run_and_load_safely(tmp_path, tiny_overrides):
    cfg = load_config(None, tiny_overrides, seed=0)
    train(cfg, tmp_path / "r", progress=False)
    run = RunDir(tmp_path / "r")
    records = run.read_metrics()
    assert [r["epoch"] for r in records if r["kind"] == "eval"] == [1, 2]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["epoch"] == 2 and "cores, torch" in summary["machine"]  # the machine that ran it
    assert not list((tmp_path / "r" / "checkpoint").glob("*.tmp"))


def test_refuses_to_overwrite_an_existing_run(tmp_path, tiny_overrides):
    cfg = load_config(None, tiny_overrides, seed=0)
    train(cfg, tmp_path / "r", progress=False)
    before = (tmp_path / "r" / "checkpoint" / "last.safetensors").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg, tmp_path / "r", progress=False)
    assert (tmp_path / "r" / "checkpoint" / "last.safetensors").read_bytes() == before


@pytest.mark.parametrize("setting, expected", [(None, True), ("false", False), ("true", True)])
def test_deterministic_defaults_to_on_for_the_cpu_and_is_recorded(setting, expected, tmp_path, tiny_overrides):
    extra = [] if setting is None else [f"train.deterministic={setting}"]
    cfg = load_config(None, tiny_overrides + ["train.device=cpu"] + extra, seed=0)
    assert cfg.train.deterministic is (None if setting is None else expected)
    trainer = Trainer(cfg, load_dataset("digits", progress=False), RunDir(tmp_path / "r"), progress=False)
    assert trainer.cfg.train.deterministic is expected and torch.are_deterministic_algorithms_enabled() is expected
    torch.use_deterministic_algorithms(False)


def test_a_folder_read_from_the_disk_cache_trains_as_one_held_in_memory(tmp_path, tiny_overrides, monkeypatch):
    """Same seed, same figures whether a folder's pixels are held or read batch by batch from the
    on-disk cache; and no read asks for more than a prediction chunk of images."""
    from infoclust.data import pixel_cache
    from infoclust.prediction import CHUNK
    from tests.conftest import write_digits_folder

    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    folder = write_digits_folder(tmp_path / "digits", 400)
    cfg = lambda: load_config(None, tiny_overrides + ["train.epochs=2", f"data.name={folder}"], seed=1)  # noqa: E731
    held = train(cfg(), tmp_path / "held", progress=False)
    monkeypatch.setattr(pixel_cache, "IN_MEMORY_BYTES", 0)
    reads = []
    rows = pixel_cache.DiskImages.rows
    monkeypatch.setattr(pixel_cache.DiskImages, "rows", lambda self, p: (reads.append(len(p)), rows(self, p))[1])
    cached = train(cfg(), tmp_path / "cached", progress=False)
    assert reads and max(reads) <= CHUNK and sum(reads) > 400  # every batch and evaluation chunk read from disk
    assert cached["acc"] == held["acc"] and cached["sub_head_loss"] == held["sub_head_loss"]
