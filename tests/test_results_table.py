"""The headline table of docs/RESULTS.md is what results_table.py prints from the
committed runs: a changed summary without a regenerated table fails here."""
import importlib.util
import json
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("results_table", ROOT / "benchmarks" / "results_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed_table(script) -> str:
    page = (ROOT / "docs" / "RESULTS.md").read_text()
    assert script.BEGIN in page and script.END in page
    return page.split(script.BEGIN, 1)[1].split(script.END, 1)[0].lstrip("\n")


def test_the_committed_table_is_what_the_script_prints():
    script = load_script()
    assert committed_table(script) == script.table()


def test_a_changed_summary_makes_the_committed_table_stale(tmp_path, monkeypatch):
    script = load_script()
    rows = yaml.safe_load(script.ROWS.read_text())["rows"]
    for row in rows:  # a copy of the committed runs, one summary of which changes
        shutil.copytree(ROOT / row["runs"], tmp_path / row["runs"], ignore=shutil.ignore_patterns("checkpoint", "*.png"))
    (tmp_path / script.ROWS.relative_to(ROOT)).write_text(script.ROWS.read_text())
    summary = tmp_path / rows[0]["runs"] / "s0" / "summary.json"
    figures = json.loads(summary.read_text())
    figures["acc"] -= 0.05
    summary.write_text(json.dumps(figures))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "ROWS", tmp_path / script.ROWS.relative_to(ROOT))
    changed = script.table()
    assert changed != committed_table(script)
    first = changed.splitlines()[2]
    assert rows[0]["method"] in first and "ACC" in first


def test_a_row_without_finished_runs_is_one_clear_error(tmp_path, monkeypatch):
    script = load_script()
    (tmp_path / "empty").mkdir()
    try:
        script.seed_runs(tmp_path / "empty")
    except SystemExit as stop:
        assert "holds no finished seed" in str(stop)
    else:
        raise AssertionError("an empty folder gave no error")


def test_a_stage_row_reads_that_stage_of_each_seed(tmp_path):
    """A two-stage benchmark's folder (sSEED/first, sSEED/temi): a row with ``stage`` reads the
    named stage of every seed that finished it, and no other stage."""
    script = load_script()
    for seed, stage, acc in [(0, "first", 0.7), (0, "temi", 0.5), (1, "temi", 0.6), (2, "first", 0.9)]:
        run = tmp_path / f"s{seed}" / stage
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(yaml.safe_dump({"stage": stage}))
        (run / "summary.json").write_text(json.dumps({"acc": acc}))
    runs = script.seed_runs(tmp_path, "temi")
    assert [(seed, config["stage"], summary["acc"]) for seed, config, summary in runs] == [(0, "temi", 0.5), (1, "temi", 0.6)]
    assert [seed for seed, _, _ in script.seed_runs(tmp_path, "first")] == [0, 2]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces → '-'."""
    import re

    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_row_links_to_a_section_of_the_page():
    """Each row's anchor is a heading of the row's page, and the table's link leads to that page."""
    script = load_script()
    for row in yaml.safe_load(script.ROWS.read_text())["rows"]:
        page = ROOT / row["page"]
        assert page.is_file(), row["page"]
        headings = {github_anchor(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}
        assert row["anchor"] in headings, (row["page"], row["section"])
        target = script.details_link(row).split("](", 1)[1].rstrip(")").split("#", 1)[0]
        linked = script.PAGE.parent / target if target else script.PAGE  # "#anchor": a section of RESULTS.md
        assert linked.resolve() == page.resolve(), (row["page"], target)


def test_committed_results_hold_no_link_and_no_path_of_one_machine():
    import re
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "-s", "results", "docs", "configs", "README.md"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.splitlines()
    assert tracked, "git lists no tracked result"
    links = [line.split("\t")[1] for line in tracked if line.startswith("120000")]  # git's mode of a symlink
    assert links == []
    machine_path = re.compile(r"""["'\s(](/(?:work|root|home|Users|tmp|mnt)/[\w.-]+)""")
    found = {}
    for line in tracked:
        path = ROOT / line.split("\t")[1]
        if path.suffix in {".json", ".yaml", ".md", ".csv", ".txt"} and path.is_file():
            hits = machine_path.findall(path.read_text(errors="replace"))
            if hits:
                found[str(path.relative_to(ROOT))] = hits[:3]
    assert found == {}


def test_the_budget_is_the_one_that_stopped_the_runs():
    """Minutes when some run stopped by its minute budget; passes when all ran their passes first."""
    script = load_script()
    config = {"train": {"budget_minutes": 7, "epochs": 300}}
    done = {"time_s": 258.0, "epoch": 300, "stopped_by": "epochs"}
    assert script.budget(config, [done]) == "300 passes (4.3 min)"
    assert script.budget(config, [done, {**done, "epoch": 120, "stopped_by": "budget"}]) == "7 min (300 passes at most)"
    assert script.machines([{"machine": "NVIDIA H200; host Intel(R) Xeon(R) Processor (x86_64), 16 cores"}]) == "NVIDIA H200"


def test_one_seed_shows_its_figure_without_a_spread(tmp_path, monkeypatch):
    script = load_script()
    for seeds, folder in (((0,), "one"), ((0, 1), "two")):
        for seed in seeds:
            run = tmp_path / folder / f"s{seed}"
            run.mkdir(parents=True)
            (run / "config.yaml").write_text(yaml.safe_dump({"data": {"split": "all"}, "train": {"epochs": 3}}))
            (run / "summary.json").write_text(json.dumps({"acc": 0.7 + 0.1 * seed, "time_s": 60, "epoch": 3}))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    row = {"method": "M", "data": "D", "selection": "S", "paper": "P", "page": "docs/RESULTS.md", "section": "X", "anchor": "x"}
    assert script.row_cells({**row, "runs": "one"})[2] == "ACC 70.0"
    assert script.row_cells({**row, "runs": "two"})[2] == "ACC 75.0 ± 5.0"
