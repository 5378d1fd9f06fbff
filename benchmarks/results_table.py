"""The headline table of docs/RESULTS.md, generated from the committed runs (``config.yaml`` +
``summary.json`` of each seed) and the rows of ``results/headline.yaml``:

    python benchmarks/results_table.py            # print the table
    python benchmarks/results_table.py --write    # replace it in docs/RESULTS.md (between its markers)

Each row: our mean ± sd over the committed seeds (population sd), the seeds, the split trained on
and reported on, the label-free selection rule, the budget and the machine, beside the paper's
figure and its protocol, and a link to the row's section (``section`` and its GitHub ``anchor`` on the
row's ``page``, a page under docs/results/). ``tests/test_results_table.py`` fails
when the committed table differs from what this prints.
"""
from __future__ import annotations

import argparse
import json
import posixpath
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "results" / "headline.yaml"
PAGE = ROOT / "docs" / "RESULTS.md"
BEGIN, END = "<!-- headline table: begin (benchmarks/results_table.py) -->", "<!-- headline table: end -->"


def seed_runs(folder: Path, stage: str = "") -> list[tuple[int, dict, dict]]:
    """(seed, config, summary) of every finished seed folder ``s<N>`` of ``folder``, by seed; with
    ``stage``, the run folder ``s<N>/<stage>`` of a multi-stage benchmark (two_stage.py)."""
    runs = []
    for seed_dir in sorted(folder.glob("s[0-9]*"), key=lambda p: int(p.name[1:])):
        run = seed_dir / stage
        if (run / "summary.json").is_file():
            config = yaml.safe_load((run / "config.yaml").read_text())
            runs.append((int(seed_dir.name[1:]), config, json.loads((run / "summary.json").read_text())))
    if not runs:
        where = f"s*/{stage}/summary.json" if stage else "s*/summary.json"
        raise SystemExit(f"results_table.py: error: '{folder}' holds no finished seed ({where})")
    return runs


def budget(config: dict, summaries: list[dict]) -> str:
    """The training budget: minutes when the run had one and some run stopped by it, else passes;
    the mean training time."""
    t = config["train"]
    minutes = np.mean([s["time_s"] for s in summaries]) / 60
    if t.get("budget_minutes") and any(s.get("stopped_by") != "epochs" for s in summaries):
        return f"{t['budget_minutes']:g} min ({max(s['epoch'] for s in summaries)} passes at most)"
    return f"{t['epochs']} passes ({minutes:.1f} min)"


def machines(summaries: list[dict]) -> str:
    """The machines' CPU (or GPU) names, shortened to what tells them apart."""
    names = sorted({(s.get("machine") or "not recorded").split(" (")[0].split("; host")[0] for s in summaries})
    return " / ".join(names)


def row_cells(row: dict) -> list[str]:
    runs = seed_runs(ROOT / row["runs"], row.get("stage", ""))
    key = row.get("figure", "acc")
    values = np.array([summary[key] for _, _, summary in runs])
    config, summaries = runs[0][1], [summary for _, _, summary in runs]
    split = config["data"]["split"]
    shown = config["data"].get("eval_split") or split
    ours = f"{100 * values.mean():.1f}" + (f" ± {100 * values.std():.1f}" if len(values) > 1 else "")  # no spread of one seed
    seeds = ", ".join(str(seed) for seed, _, _ in runs)
    return [row["method"], row["data"], f"{key.upper()} {ours}", seeds, f"{split} → {shown}", row["selection"],
            budget(config, summaries), machines(summaries), row["paper"], details_link(row)]


def details_link(row: dict) -> str:
    """``[section](page#anchor)``, the page relative to docs/RESULTS.md (``page`` is relative to the repository);
    ``[section](#anchor)`` for a section of docs/RESULTS.md itself."""
    page = posixpath.relpath(row["page"], "docs")  # docs/RESULTS.md's folder, relative to the repository
    page = "" if page == PAGE.name else page
    return f"[{row['section']}]({page}#{row['anchor']})"


def table() -> str:
    """The markdown table of every row of ``headline.yaml``."""
    rows = yaml.safe_load(ROWS.read_text())["rows"]
    head = ["method", "data", "ours (%, mean ± sd)", "seeds", "trained → reported", "selection (no labels)",
            "budget", "machine", "paper (its protocol)", "details"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def replace_table(page: str, new: str) -> str:
    """``page`` with the text between the markers replaced by ``new``."""
    if BEGIN not in page or END not in page:
        raise SystemExit(f"results_table.py: error: {PAGE} lacks the markers {BEGIN} ... {END}")
    head, rest = page.split(BEGIN, 1)
    return head + BEGIN + "\n" + new + END + rest.split(END, 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the table in docs/RESULTS.md")
    args = parser.parse_args()
    new = table()
    if args.write:
        PAGE.write_text(replace_table(PAGE.read_text(), new))
        print(f"wrote the table into {PAGE.relative_to(ROOT)}", file=sys.stderr)
    else:
        print(new, end="")


if __name__ == "__main__":
    main()
