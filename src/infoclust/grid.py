"""The grid runner: every row (an MI term × transformation × regularisers) × dataset × seed.

A grid spec (YAML) holds ``recipe`` (optional: a config file, relative to the spec, under every
cell), ``base`` (config values applied to every cell), ``datasets`` (the columns), ``per_dataset``
(optional config values for one column), ``rows`` (each ``{name, method, set: {dotted.key:
value}}``) and optionally ``paper`` (the paper's cells per row name, shown beside ours). Each run
trains into ``OUT/<row>/<dataset>/s<seed>``; a finished run is only read and a stopped one is
resumed, so rerunning the same command continues a half-finished grid. The tables are built from
every finished run under OUT, so grids run per dataset (``datasets=``) with different seeds meet
in one table: ``table.md`` / ``table.csv`` (mean ± std of ACC over the seeds found, best cell per
column in bold), ``grid.png`` (every run's ACC, a panel per dataset) and ``cells.csv`` (one line
of figures per run).
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import merge_dicts, nested, read_yaml
from .errors import ConfigError
from .methods import METHODS, config_from_dict, default_method
from .report import plot_grid
from .runs import atomic_write_text


@dataclass
class Row:
    name: str
    method: str
    overrides: dict = field(default_factory=dict)


@dataclass
class GridSpec:
    base: dict
    datasets: list[str]
    rows: list[Row]
    paper: dict[str, dict[str, str]] = field(default_factory=dict)
    per_dataset: dict[str, dict] = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)


def load_grid(path: str | Path) -> GridSpec:
    """Read and check a grid spec; every cell's config is validated before anything runs."""
    data = read_yaml(path)
    sections = ("recipe", "base", "datasets", "per_dataset", "rows", "paper")
    unknown = set(data) - set(sections)
    if unknown:
        raise ConfigError(f"grid spec '{path}': unknown section(s) {', '.join(sorted(unknown))}; expected {', '.join(sections)}")
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and "name" in r for r in rows):
        raise ConfigError(f"grid spec '{path}': 'rows' must be a list of {{name, method, set}} entries")
    datasets = data.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise ConfigError(f"grid spec '{path}': 'datasets' must be a non-empty list of dataset names or paths")
    recipe = read_yaml(Path(path).parent / str(data["recipe"])) if data.get("recipe") else {}
    spec = GridSpec(data.get("base") or {}, [str(d) for d in datasets],
                    [Row(str(r["name"]), str(r.get("method") or default_method()), r.get("set") or {}) for r in rows],
                    data.get("paper") or {}, data.get("per_dataset") or {}, recipe)
    folders = [slug(r.name) for r in spec.rows]
    if len(set(folders)) != len(folders):
        raise ConfigError(f"grid spec '{path}': row names must differ in their letters and digits "
                          f"(their run folders would clash: {', '.join(folders)})")
    for row in spec.rows:
        for dataset in spec.datasets:
            cell_config(spec, row, dataset, 0)  # raises on a bad key or value
    return spec


GRID_DEFAULTS = {"train": {"on_collapse": "continue"}}  # a collapsed cell is a result to tabulate, not an error


def cell_config(spec: GridSpec, row: Row, dataset: str, seed: int):
    """The RunConfig of one cell: preset ← grid defaults ← recipe ← base ← per-dataset ← row
    overrides ← dataset and seed."""
    if row.method not in METHODS:
        raise ConfigError(f"grid row '{row.name}': unknown method '{row.method}': expected one of {', '.join(METHODS)}")
    data = merge_dicts(METHODS[row.method].preset, GRID_DEFAULTS)
    for layer in (spec.recipe, spec.base, spec.per_dataset.get(dataset, {})):
        data = merge_dicts(data, layer)
    for key, value in row.overrides.items():
        data = merge_dicts(data, nested(str(key), value))
    return config_from_dict(merge_dicts(data, {"method": row.method, "seed": seed, "data": {"name": dataset}}))


def slug(text: str) -> str:
    """A folder name for a row or dataset name."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "row"


def dataset_folder(out: Path, row: Row, dataset: str) -> Path:
    """The folder of one row × dataset, holding a run folder ``s<seed>`` per seed."""
    return out / slug(row.name) / slug(Path(dataset).name)


def cell_folder(out: Path, row: Row, dataset: str, seed: int) -> Path:
    return dataset_folder(out, row, dataset) / f"s{seed}"


def run_cell(spec: GridSpec, row: Row, dataset: str, seed: int, out: Path, progress: bool) -> dict:
    """Figures of one finished cell, training or resuming it if needed."""
    from .engine import run_to_end

    return run_to_end(cell_folder(out, row, dataset, seed), lambda: cell_config(spec, row, dataset, seed), progress)


def finished_cells(spec: GridSpec, out: Path) -> dict[str, dict[str, dict[int, dict]]]:
    """{row name: {dataset: {seed: figures}}} of every finished run under ``out``."""
    cells: dict[str, dict[str, dict[int, dict]]] = {}
    for row in spec.rows:
        for dataset in spec.datasets:
            for summary in sorted(dataset_folder(out, row, dataset).glob("s*/summary.json")):
                seed = summary.parent.name[1:]
                if seed.isdigit():
                    cells.setdefault(row.name, {}).setdefault(dataset, {})[int(seed)] = json.loads(summary.read_text())
    return cells


def run_grid(spec: GridSpec, seeds: list[int], out: str | Path, datasets: list[str] | None = None,
             progress: bool = True) -> dict[str, dict[str, dict[int, dict]]]:
    """Run (or continue) every row × dataset (all of the spec's, or ``datasets``) × seed, then write
    the tables from every finished run under ``out``; returns {row: {dataset: {seed: figures}}}."""
    out = Path(out)
    unknown = [d for d in datasets or [] if d not in spec.datasets]
    if unknown:
        raise ConfigError(f"grid: dataset(s) {', '.join(unknown)} not in the spec; expected some of {', '.join(spec.datasets)}")
    for row in spec.rows:
        for dataset in datasets or spec.datasets:
            for seed in seeds:
                run_cell(spec, row, dataset, seed, out, progress)
        cells = finished_cells(spec, out)
        write_tables(spec, cells, out)  # a partial table after every row
    return cells


CELL_FIGURES = ("acc", "nmi", "ari", "acc_mean", "acc_std", "epoch", "time_s", "machine")


def write_tables(spec: GridSpec, cells: dict, out: Path) -> None:
    """``table.md`` and ``table.csv``: ACC mean ± std (%) per row × dataset over the seeds found
    (one seed: its ACC alone; best per column in bold in the markdown; a cell with fewer seeds than its column says how many),
    then the paper's cells for the same row, one column per paper dataset; ``grid.png``: every run's
    ACC per row, a panel per dataset; ``cells.csv``: every run."""
    paper_cols = list(dict.fromkeys(col for paper_cells in spec.paper.values() for col in paper_cells))
    accs = {r: {d: [f.get("acc", float("nan")) for f in by_seed.values()] for d, by_seed in v.items()}
            for r, v in cells.items()}
    column_seeds = {d: sorted({s for v in cells.values() for s in v.get(d, {})}) for d in spec.datasets}
    means = {d: {r: np.mean(v[d]) for r, v in accs.items() if d in v} for d in spec.datasets}
    best = {d: max(m, key=m.get) for d, m in means.items() if m}
    header = ["method"] + spec.datasets + [f"paper {col}" for col in paper_cols]
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = [header]
    for row in spec.rows:
        ours = []
        for dataset in spec.datasets:
            values = accs.get(row.name, {}).get(dataset)
            text = acc_text(values or [])
            if values and len(values) < len(column_seeds[dataset]):
                text += f" ({len(values)} seed{'s' if len(values) > 1 else ''})"
            ours.append(text)
        paper = [str(spec.paper.get(row.name, {}).get(col, "")) for col in paper_cols]
        bold = [f"**{text}**" if text and best.get(d) == row.name else text for text, d in zip(ours, spec.datasets)]
        md.append("| " + " | ".join([row.name] + bold + paper) + " |")
        rows.append([row.name] + ours + paper)
    seeds_text = "; ".join(f"{d}: {', '.join(map(str, s)) or 'none yet'}" for d, s in column_seeds.items())
    note = (f"\nACC (%) of the reported head (the lowest-loss sub-head where there are several), mean ± std "
            f"over seeds ({seeds_text}); our best per column in bold.\n")
    atomic_write_text(out / "table.md", "\n".join(md) + "\n" + note)
    atomic_write_text(out / "table.csv", csv_text(rows))
    plot_grid(out / "grid.png", [row.name for row in spec.rows], spec.datasets, accs)
    runs = [["row", "dataset", "seed", *CELL_FIGURES]]
    for row in spec.rows:
        for dataset, by_seed in cells.get(row.name, {}).items():
            runs += [[row.name, dataset, seed, *(f.get(k, "") for k in CELL_FIGURES)] for seed, f in sorted(by_seed.items())]
    atomic_write_text(out / "cells.csv", csv_text(runs))


def acc_text(values: list[float]) -> str:
    """One cell's ACC (%): the value of a single seed, mean ± std of several, empty for none."""
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}" if values else ""


def csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()
