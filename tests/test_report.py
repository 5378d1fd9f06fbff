import html

import numpy as np
import pytest
from PIL import Image

from infoclust.report import (
    GRID_COLS,
    MAX_ROWS,
    hungarian_row_order,
    mosaic,
    plot_acc_over_time,
    plot_grid,
    row_label,
    top_members,
    write_report,
)
from infoclust.runs import RunDir

TITLE = "iic <on> digits & more"


def make_data(n_per: int = 12, k: int = 3, channels: int = 1, seed: int = 0):
    """k clusters of constant-brightness 8×8 images (cluster c has brightness 60 + 80c), labels = clusters."""
    rng = np.random.default_rng(seed)
    assignments = np.repeat(np.arange(k), n_per)
    images = np.broadcast_to((60 + 80 * assignments).astype(np.uint8)[:, None, None, None],
                             (len(assignments), channels, 8, 8)).copy()
    confidence = rng.uniform(0.2, 1.0, len(assignments))
    return images, assignments.copy(), assignments, confidence


def figures_for(assignments: np.ndarray, k: int, with_scores: bool = True) -> dict:
    figures = {"n_samples": len(assignments), "n_clusters": k, "selected_sub_head": 2,
               "selection": "lowest IIC loss on training views (no labels)", "sub_head_loss": [-1.0, -1.1, -1.3],
               "cluster_sizes": np.bincount(assignments, minlength=k).tolist(), "epoch": 3, "time_s": 12.5}
    if with_scores:
        figures.update(acc=0.83, nmi=0.71, ari=0.64, acc_mean=0.8, acc_std=0.025, nmi_mean=0.7, nmi_std=0.01,
                       ari_mean=0.6, ari_std=0.02, acc_many_to_one_A=0.9612, nmi_average_method="arithmetic")
    return figures


def make_run(tmp_path, with_scores: bool = True) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    for step in range(10, 70, 10):
        run.append_metrics({"kind": "train", "epoch": step // 20, "step": step, "pass": "AB"[step // 20 % 2],
                            "loss": -step / 50, "img_s": 900.0, "time_s": step / 10})
        if step % 20 == 0:
            scores = {"acc": 0.5 + step / 200, "nmi": 0.4, "ari": 0.3, "acc_mean": 0.45} if with_scores else {}
            run.append_metrics({"kind": "eval", "epoch": step // 20, "step": step, "time_s": step / 10, **scores})
    return run


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return im.size


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- helpers

def test_top_members_most_confident_first_capped_and_empty():
    assignments = np.array([1, 0, 1, 1, 0, 1, 1])
    confidence = np.array([0.2, 0.9, 0.8, 0.5, 0.3, 0.95, 0.1])
    members = top_members(assignments, confidence, k=3, n=3)
    assert [m.tolist() for m in members] == [[1, 4], [5, 2, 3], []]


def test_top_members_ties_keep_index_order():
    members = top_members(np.zeros(4, dtype=np.int64), np.array([0.5, 0.7, 0.5, 0.7]), k=1, n=4)
    assert members[0].tolist() == [1, 3, 0, 2]


def test_hungarian_row_order_gives_diagonal_then_unmatched_clusters():
    counts = np.array([[0, 1, 9],    # cluster 0 ↔ class 2
                       [8, 0, 0],    # cluster 1 ↔ class 0
                       [1, 7, 0],    # cluster 2 ↔ class 1
                       [0, 3, 0]])   # over-clustering: no class left for cluster 3
    order = hungarian_row_order(counts)
    assert order.tolist() == [1, 2, 0, 3]
    assert np.all(np.diag(counts[order][:3]) == counts[order][:3].max(axis=1))


def test_mosaic_places_tiles_row_by_row_and_leaves_missing_cells_white():
    images = np.arange(4, dtype=np.uint8)[:, None, None, None].repeat(8, 2).repeat(8, 3) * 50  # brightness 0, 50, 100, 150
    picture = mosaic(images, [np.array([2, 0]), np.array([], dtype=np.int64), np.array([3])])
    tile = picture.shape[0] // 3
    assert picture.shape == (3 * tile, GRID_COLS * tile, 3)
    centre = tile // 2
    assert picture[centre, centre].tolist() == [100] * 3          # row 0: image 2 first
    assert picture[centre, tile + centre].tolist() == [0] * 3     # then image 0
    assert picture[centre, 2 * tile + centre].tolist() == [255] * 3  # nothing more in row 0
    assert (picture[tile:2 * tile] == 255).all()                   # empty cluster: blank row
    assert picture[2 * tile + centre, centre].tolist() == [150] * 3
    assert tile >= 40  # 8×8 digits are upscaled to be visible


def test_row_label_names_majority_and_empty_clusters():
    assert row_label(4, 20, np.array([2, 15, 3]), ["cat", "dog", "fox"]) == "cluster 4 (20 images)\nmostly 'dog' (75%)"
    assert row_label(7, 0, np.zeros(3), ["a", "b", "c"]).endswith("empty")
    assert row_label(1, 5, None, []) == "cluster 1 (5 images)"


# ----------------------------------------------------------------------------- whole report

def test_report_with_labels_writes_four_files_and_page(tmp_path):
    images, labels, assignments, confidence = make_data()
    run = make_run(tmp_path)
    page = write_report(run, images, labels, assignments, confidence, figures_for(assignments, 3),
                        class_names=["zero", "one", "two"], title=TITLE)
    assert page == run.report_dir / "index.html"
    assert {p.name for p in run.report_dir.iterdir()} == {"index.html", "clusters.png", "confusion.png", "curves.png"}
    width, height = png_size(run.report_dir / "clusters.png")
    assert width >= GRID_COLS * 40 and 3 * 40 <= height <= 600
    for name in ("confusion.png", "curves.png"):
        width, height = png_size(run.report_dir / name)
        assert 300 <= width <= 3000 and 200 <= height <= 3000
    text = page.read_text()
    assert f"<title>{html.escape(TITLE)}</title>" in text and TITLE not in text
    for name in ("clusters.png", "confusion.png", "curves.png"):
        assert f'<img src="{name}"' in text
    assert "0.8300" in text and "0.8000 ± 0.0250" in text and "0.9612" in text
    assert "arithmetic" in text and "lowest IIC loss" in text and "12, 12, 12" in text
    assert html.escape(str(run.root)) in text
    assert "http" not in text and "<script" not in text
    assert no_temp_files(run.report_dir)


def test_report_without_labels_skips_confusion_and_scores(tmp_path):
    images, labels, assignments, confidence = make_data()
    run = make_run(tmp_path, with_scores=False)
    write_report(run, images, labels, assignments, confidence, figures_for(assignments, 3))
    assert (run.report_dir / "confusion.png").exists()
    page = write_report(run, images, None, assignments, confidence, figures_for(assignments, 3, with_scores=False))
    assert not (run.report_dir / "confusion.png").exists()  # a stale one from a labelled report is removed
    text = page.read_text()
    assert "confusion.png" not in text and "ACC" not in text.split("<h2>Figures</h2>")[1].split("</table>")[0]
    assert '<img src="clusters.png"' in text and '<img src="curves.png"' in text and "no labels" in text
    assert "cluster sizes of the selected sub-head" in text
    png_size(run.report_dir / "curves.png")
    assert no_temp_files(run.report_dir)


def test_report_with_rgb_images_and_an_empty_cluster(tmp_path):
    images, labels, assignments, confidence = make_data(channels=3)
    assignments = np.where(assignments == 1, 3, assignments)  # clusters 1 and 4 empty out of 5
    run = RunDir(tmp_path / "run")  # no metrics at all
    page = write_report(run, images, labels, assignments, confidence, {"n_clusters": 5}, title="rgb")
    width, height = png_size(run.report_dir / "clusters.png")
    assert height >= 5 * 40  # one row per cluster, the empty ones included
    png_size(run.report_dir / "confusion.png")
    png_size(run.report_dir / "curves.png")
    assert "<h1>rgb</h1>" in page.read_text()


def test_report_caps_rows_for_overclustering(tmp_path):
    k = MAX_ROWS + 20
    images, labels, assignments, confidence = make_data(n_per=2, k=k)
    run = RunDir(tmp_path / "run")
    write_report(run, images, labels % 10, assignments, confidence, {"n_clusters": k})
    _, height = png_size(run.report_dir / "clusters.png")
    assert height < (MAX_ROWS + 5) * 52


def test_report_rejects_mismatched_lengths(tmp_path):
    images, labels, assignments, confidence = make_data()
    with pytest.raises(ValueError, match="confidence"):
        write_report(RunDir(tmp_path / "run"), images, labels, assignments, confidence[:-1], {"n_clusters": 3})


def colour_pixels(path, rgb, tol: int = 40) -> int:
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB")).astype(int)
    return int((np.abs(pixels - np.array(rgb)).sum(-1) < tol).sum())


def test_acc_over_time_draws_one_line_per_run(tmp_path):
    records = [{"run": f"seed {s}", "minutes": t, "acc": 0.5 + 0.01 * t + 0.05 * s} for s in (0, 1) for t in range(0, 60, 6)]
    path = tmp_path / "acc.png"
    plot_acc_over_time(path, records, "iic on fashion-mnist", target=0.657)
    png_size(path)
    blue, orange = (31, 119, 180), (255, 127, 14)  # matplotlib's first two line colours
    assert colour_pixels(path, blue) > 200 and colour_pixels(path, orange) > 200
    plot_acc_over_time(path, records[:10], "one run")  # the file is replaced, one line only
    assert colour_pixels(path, blue) > 200 and colour_pixels(path, orange) < 20


def test_grid_picture_has_a_panel_per_dataset_and_a_dot_per_run(tmp_path):
    rows = ["I(X,Y)", "I(Y,Ỹ) + KL VAT", "I(Y,Ỹ_IVAT)"]
    full = {r: {"digits": [0.5, 0.7, 0.9], "fashion-mnist": [0.4, 0.6, 0.8]} for r in rows}
    half = {r: {"digits": v["digits"]} for r, v in full.items()}
    blue = (31, 119, 180)
    sizes, dots = {}, {}
    for name, accs, datasets in (("one", half, ["digits"]), ("full", full, ["digits", "fashion-mnist"]),
                                 ("half", half, ["digits", "fashion-mnist"])):
        path = tmp_path / f"{name}.png"
        plot_grid(path, rows, datasets, accs)
        sizes[name], dots[name] = png_size(path), colour_pixels(path, blue)
    assert sizes["full"][0] > sizes["one"][0] and sizes["full"][1] == sizes["one"][1]
    assert dots["half"] > 0 and dots["full"] > 1.6 * dots["half"]  # the second panel's dots


def test_loss_parts_are_drawn_a_panel_each_and_the_embedding_is_drawn(tmp_path, monkeypatch):
    from infoclust import report

    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    for step in range(10, 60, 10):  # a method with several named parts (DCCS: critic and encoder parts)
        run.append_metrics({"kind": "train", "epoch": 0, "step": step, "pass": "dccs", "critic": -step / 10,
                            "gp": 0.1, "loss": 1.0, "prior": 0.5, "mi": 0.69, "aug": 0.2, "img_s": 900.0})
    drawn = []
    original = report._plot_lines
    monkeypatch.setattr(report, "_plot_lines", lambda ax, records, x, ys, **kw: (drawn.append(dict(ys)), original(ax, records, x, ys, **kw)))
    images, labels, assignments, confidence = make_data()
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(3 * c, 0.1, (12, 5)) for c in range(3)])
    page = write_report(run, images, labels, assignments, confidence, figures_for(assignments, 3), features=features)
    assert drawn[0] == {"loss": "pass"}  # curves.png: the loss
    parts = ("critic", "gp", "prior", "mi", "aug")
    assert [d for d in drawn if set(d) <= set(parts)] == [{p: p} for p in parts]  # parts.png: a panel each, in order
    width, height = png_size(run.report_dir / "parts.png")  # a panel each: 4 in the first row, 1 in the second
    assert width > 2 * height and 300 <= height <= 1200
    assert '<img src="embedding.png"' in page.read_text() and '<img src="parts.png"' in page.read_text()
    width, height = png_size(run.report_dir / "embedding.png")
    assert 300 <= width <= 2000 and 300 <= height <= 2000


def test_neighbours_picture_shows_anchors_with_their_neighbours_and_the_share_in_the_same_cluster(tmp_path):
    from infoclust.report import NEIGHBOUR_ROWS, plot_neighbours

    images, labels, assignments, confidence = make_data(n_per=12, k=3)
    n = len(images)
    # each sample's 4 neighbours: three of its own cluster, and the fourth of the next cluster
    neighbours = np.array([[(i + 1) % 12 + 12 * (i // 12), (i + 2) % 12 + 12 * (i // 12),
                            (i + 3) % 12 + 12 * (i // 12), (i + 12) % n] for i in range(n)])
    share = plot_neighbours(tmp_path / "neighbours.png", images, neighbours, assignments)
    assert share == pytest.approx(0.75)
    width, height = png_size(tmp_path / "neighbours.png")
    assert width >= 5 * 40 and height >= NEIGHBOUR_ROWS * 30
    run = make_run(tmp_path)
    page = write_report(run, images, labels, assignments, confidence, figures_for(assignments, 3),
                        neighbours=(images, neighbours, assignments))
    assert (run.report_dir / "neighbours.png").is_file() and '<img src="neighbours.png"' in page.read_text()
    write_report(run, images, labels, assignments, confidence, figures_for(assignments, 3))  # a method without pairs
    assert not (run.report_dir / "neighbours.png").exists()


def test_report_of_a_temi_run_shows_its_neighbours(tmp_path, capsys):
    from infoclust.cli import main

    out = tmp_path / "temi"
    sets = ["model.heads=2", "model.hidden=32", "model.bottleneck=16", "neighbours.k=5", "train.epochs=2",
            "train.batch_size=64", "train.warmup_epochs=0"]
    assert main(["train", "--method", "temi", "--out", str(out), "--quiet", *[a for s in sets for a in ("--set", s)]]) == 0
    assert main(["report", str(out)]) == 0
    assert (out / "report" / "neighbours.png").is_file() and (out / "report" / "clusters.png").is_file()
