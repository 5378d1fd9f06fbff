"""What docs/RESULTS.md quotes can be rebuilt from what git keeps: every committed run has its
config and its summary (with the evaluation curve), and each grid's tables come out the same."""
import subprocess
from pathlib import Path

import pytest

from infoclust.grid import finished_cells, load_grid, write_tables

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
GRIDS = {"peng": "peng-table1.yaml", "peng-kl-weight": "peng-kl-weight.yaml", "iic-vat": "iic-vat-fashion-mnist.yaml",
         "compare-digits": "compare-digits.yaml", "dccs-ablation": "dccs-ablation-fashion-mnist.yaml",
         "imc-swav-crops": "imc-swav-crops-fashion-mnist.yaml"}


def tracked(pattern: str) -> list[str]:
    return subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def test_per_step_logs_are_not_in_git_but_every_run_has_its_config_and_summary():
    assert not tracked("results/**/metrics.jsonl")
    summaries = tracked("results/**/summary.json")
    assert len(summaries) >= 80
    for path in summaries:
        folder = (ROOT / path).parent
        assert (folder / "config.yaml").is_file(), folder
        assert '"curve"' in (ROOT / path).read_text(), path


@pytest.mark.parametrize("folder", list(GRIDS))
def test_each_grid_table_is_rebuilt_from_the_committed_summaries(folder, tmp_path):
    spec = load_grid(ROOT / "configs" / GRIDS[folder])
    write_tables(spec, finished_cells(spec, RESULTS / folder), tmp_path)
    for name in ("table.md", "cells.csv"):
        assert (tmp_path / name).read_text() == (RESULTS / folder / name).read_text(), name
