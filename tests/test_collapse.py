"""The collapse detector: fires on one cluster with a flat loss, never on either sign alone, and
stops (or marks) a run trained with an absurd learning rate."""
import json
import re

import pytest

from infoclust.cli import main
from infoclust.collapse import collapse_reason
from tests.conftest import TINY


def test_one_cluster_and_a_flat_loss_is_a_collapse():
    reason = collapse_reason([0, 1797, 0], [1e-8, 2e-8], 0.99)
    assert reason.startswith("cluster 1 holds 100.0% of the 1797 samples and the loss has stopped moving")


@pytest.mark.parametrize("sizes, losses, confidence", [
    ([1000, 797], [0.0, 0.0], 1.0),  # flat loss, two real clusters: converged
    ([1790, 7], [-1.2, -1.5], 1.0),  # lopsided but still learning
    ([1750, 47], [3e-4, 2e-4], 0.12),  # not started: near-uniform posteriors, loss near 0
    ([1797, 0], [0.0], 1.0),  # too early to tell
    ([0, 0], [0.0, 0.0], 1.0),  # nothing evaluated
])
def test_no_sign_alone_is_a_collapse(sizes, losses, confidence):
    assert collapse_reason(sizes, losses, confidence) is None


def _train(tmp_path, method, *extra):
    out = tmp_path / method
    argv = ["train", "--method", method, "--data", "digits", "--out", str(out), "--quiet"]
    argv += [arg for item in TINY + ["train.epochs=3", "train.lr=1e9", *extra] for arg in ("--set", item)]
    return main(argv), out


@pytest.mark.parametrize("method", ["iic", "imsat"])
def test_an_absurd_learning_rate_stops_the_run_with_one_line(tmp_path, capsys, method):
    code, out = _train(tmp_path, method)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith("infoclust: error: training collapsed by step ") and "holds 100.0% of the 1797 samples" in err
    assert re.search(r"the last checkpoint \(step \d+\) is kept", err) and "train.lr (now 1e+09)" in err
    assert not (out / "summary.json").exists() and (out / "checkpoint" / "last.safetensors").is_file()


def test_on_collapse_continue_trains_on_and_marks_the_summary(tmp_path, capsys):
    code, out = _train(tmp_path, "iic", "train.on_collapse=continue")
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["collapsed_at_step"] in (28, 56, 84) and max(summary["cluster_sizes"]) == 1797
