"""The grid runner: every row (an MI term × transformation × regularisers) × dataset × seed.

A grid spec (YAML) holds ``base`` (config values applied to every cell), ``datasets`` (the
columns), ``per_dataset`` (optional config values for one column), ``rows`` (each ``{name, method,
set: {dotted.key: value}}``) and optionally ``paper`` (the paper's cells per row name, shown beside
ours). Each run trains into
``OUT/<row>/<dataset>/s<seed>``; a finished run is only read and a stopped one is resumed, so
rerunning the same command continues a half-finished grid. The table (mean ± std of ACC over
seeds, best cell per column in bold) is written as ``table.md`` and ``table.csv``.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import PRESETS, config_from_dict, merge_dicts, nested, read_yaml
from .errors import ConfigError
from .runs import RunDir, atomic_write_text


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


def load_grid(path: str | Path) -> GridSpec:
    """Read and check a grid spec; every cell's config is validated before anything runs."""
    data = read_yaml(path)
    sections = ("base", "datasets", "per_dataset", "rows", "paper")
    unknown = set(data) - set(sections)
    if unknown:
        raise ConfigError(f"grid spec '{path}': unknown section(s) {', '.join(sorted(unknown))}; expected {', '.join(sections)}")
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and "name" in r for r in rows):
        raise ConfigError(f"grid spec '{path}': 'rows' must be a list of {{name, method, set}} entries")
    datasets = data.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise ConfigError(f"grid spec '{path}': 'datasets' must be a non-empty list of dataset names or paths")
    spec = GridSpec(data.get("base") or {}, [str(d) for d in datasets],
                    [Row(str(r["name"]), str(r.get("method", "iic")), r.get("set") or {}) for r in rows],
                    data.get("paper") or {}, data.get("per_dataset") or {})
    folders = [slug(r.name) for r in spec.rows]
    if len(set(folders)) != len(folders):
        raise ConfigError(f"grid spec '{path}': row names must differ in their letters and digits "
                          f"(their run folders would clash: {', '.join(folders)})")
    for row in spec.rows:
        for dataset in spec.datasets:
            cell_config(spec, row, dataset, 0)  # raises on a bad key or value
    return spec


def cell_config(spec: GridSpec, row: Row, dataset: str, seed: int):
    """The RunConfig of one cell: preset ← base ← per-dataset ← row overrides ← dataset and seed."""
    if row.method not in PRESETS:
        raise ConfigError(f"grid row '{row.name}': unknown method '{row.method}': expected one of {', '.join(PRESETS)}")
    data = merge_dicts(merge_dicts(PRESETS[row.method], spec.base), spec.per_dataset.get(dataset, {}))
    for key, value in row.overrides.items():
        data = merge_dicts(data, nested(str(key), value))
    return config_from_dict(merge_dicts(data, {"method": row.method, "seed": seed, "data": {"name": dataset}}))


def slug(text: str) -> str:
    """A folder name for a row or dataset name."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "row"


def run_cell(spec: GridSpec, row: Row, dataset: str, seed: int, out: Path, progress: bool) -> dict:
    """Figures of one finished cell, training or resuming it if needed."""
    from .engine import train

    folder = out / slug(row.name) / slug(Path(dataset).name) / f"s{seed}"
    summary = folder / "summary.json"
    if summary.is_file():
        return json.loads(summary.read_text())
    if RunDir(folder).config_path.is_file():
        return train(None, folder, resume=True, progress=progress)
    return train(cell_config(spec, row, dataset, seed), folder, progress=progress)


def run_grid(spec: GridSpec, seeds: list[int], out: str | Path, progress: bool = True) -> dict:
    """Run (or continue) every cell; returns {row name: {dataset: [ACC per seed]}} and writes the table."""
    out = Path(out)
    accs: dict[str, dict[str, list[float]]] = {}
    for row in spec.rows:
        for dataset in spec.datasets:
            for seed in seeds:
                figures = run_cell(spec, row, dataset, seed, out, progress)
                accs.setdefault(row.name, {}).setdefault(dataset, []).append(figures.get("acc", float("nan")))
        write_tables(spec, accs, seeds, out)  # a partial table after every row
    return accs


def write_tables(spec: GridSpec, accs: dict, seeds: list[int], out: Path) -> None:
    """``table.md`` and ``table.csv``: ACC mean ± std (%) per row × dataset (best per column in
    bold in the markdown), then the paper's cells for the same row, one column per paper dataset."""
    paper_cols = list(dict.fromkeys(col for cells in spec.paper.values() for col in cells))
    means = {d: {r: np.mean(v[d]) for r, v in accs.items() if d in v} for d in spec.datasets}
    best = {d: max(m, key=m.get) for d, m in means.items() if m}
    header = ["method"] + spec.datasets + [f"paper {col}" for col in paper_cols]
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = [header]
    for row in spec.rows:
        ours = []
        for dataset in spec.datasets:
            values = accs.get(row.name, {}).get(dataset)
            ours.append(f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}" if values else "")
        paper = [str(spec.paper.get(row.name, {}).get(col, "")) for col in paper_cols]
        bold = [f"**{text}**" if text and best.get(d) == row.name else text for text, d in zip(ours, spec.datasets)]
        md.append("| " + " | ".join([row.name] + bold + paper) + " |")
        rows.append([row.name] + ours + paper)
    note = f"\nACC (%) of the lowest-loss sub-head, mean ± std over seeds {seeds}; our best per column in bold.\n"
    atomic_write_text(out / "table.md", "\n".join(md) + "\n" + note)
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    atomic_write_text(out / "table.csv", buf.getvalue())
