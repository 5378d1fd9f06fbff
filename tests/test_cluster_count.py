"""The label-free choice of K (infoclust.cluster_count) and n_clusters = "auto" through the engine,
the estimators and the command line."""
import json

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.preprocessing import StandardScaler

import infoclust
from infoclust.cluster_count import count_clusters, merge, neighbour_joint, trained_clusters
from infoclust.errors import ConfigError, DataError
from infoclust.evaluation import cluster_acc
from infoclust.neighbours import nearest_neighbours


def blobs(k: int, seed: int = 0, std: float = 1.0, per_cluster: int = 60, dims: int = 16):
    x, y = make_blobs(n_samples=per_cluster * k, centers=k, n_features=dims, cluster_std=std, random_state=seed)
    return StandardScaler().fit_transform(x).astype(np.float32), y


def over_clustered(x: np.ndarray, s: int) -> np.ndarray:
    """N×S one-hot posteriors of k-means with S clusters: an over-clustering that knows nothing of K."""
    return np.eye(s)[KMeans(s, n_init=1, random_state=0).fit(x).labels_]


def test_the_joint_is_a_symmetric_distribution_of_neighbour_pairs():
    post = np.random.default_rng(0).dirichlet(np.ones(4), size=30)
    pairs = np.random.default_rng(1).integers(0, 30, size=(30, 3))
    joint = neighbour_joint(post, pairs)
    expected = sum(np.outer(post[i], post[j]) for i in range(30) for j in pairs[i])
    expected = (expected + expected.T) / 2
    np.testing.assert_allclose(joint, expected / expected.sum(), atol=1e-12)


@pytest.mark.parametrize("k", [3, 5, 10, 20])
def test_the_eigengap_finds_the_blobs_in_an_over_clustering(k):
    x, y = blobs(k, seed=k)
    s = 2 * k + 7
    post = over_clustered(x, s)
    count = count_clusters(neighbour_joint(post, nearest_neighbours(torch.from_numpy(x), 10).numpy()), 30)
    assert count.chosen == k
    assert set(count.gaps) == set(range(2, min(30, s - 1) + 1)) and max(count.gaps.values()) == count.gaps[k]
    merged = merge(post, count.groups(), k)
    assert merged.shape == (len(x), k) and np.allclose(merged.sum(1), 1)
    assert cluster_acc(merged.argmax(1), y, k) > 0.97  # the clusters of one blob are merged together


def test_any_k_can_be_read_and_groups_are_numbered_by_mass():
    x, _ = blobs(4, seed=3)
    post = over_clustered(x, 12)
    count = count_clusters(neighbour_joint(post, nearest_neighbours(torch.from_numpy(x), 10).numpy()), 10)
    for k in (2, 4, 7):
        groups = count.groups(k)
        assert sorted(set(groups.tolist())) == list(range(k))
        sizes = np.bincount(merge(post, groups, k).argmax(1), minlength=k)
        assert sizes[0] == sizes.max()
    with pytest.raises(ConfigError, match="13 clusters asked of a head with 12 non-empty clusters"):
        count.groups(13)


def test_empty_clusters_are_left_out_of_the_spectrum_and_join_a_group():
    x, _ = blobs(3, seed=3)
    post = np.concatenate([over_clustered(x, 20), np.zeros((len(x), 3))], axis=1)  # 3 clusters nobody uses
    count = count_clusters(neighbour_joint(post, nearest_neighbours(torch.from_numpy(x), 10).numpy()), 30)
    assert count.kept.tolist() == list(range(20)) and len(count.eigenvalues) == 20 and count.chosen == 3
    assert max(count.gaps) == 19  # K below the non-empty clusters
    groups = count.groups()
    assert groups.shape == (23,) and set(groups[20:].tolist()) <= {0, 1, 2}


def test_impossible_settings_are_one_line_each():
    with pytest.raises(ConfigError, match="model.max_clusters = 1: expected at least 2"):
        trained_clusters("auto", 1, 100)
    with pytest.raises(DataError, match="n_clusters = auto on 1 sample"):
        trained_clusters("auto", None, 1)
    with pytest.raises(ConfigError, match="expected a number of clusters or 'auto'"):
        trained_clusters("many", None, 100)
    with pytest.raises(ConfigError, match="expected n_clusters above max_clusters"):
        trained_clusters(10, 10, 100)
    assert trained_clusters("auto", None, 1000) == (100, 50)
    assert trained_clusters("auto", 20, 30) == (30, 20)  # at most one cluster per sample
    assert trained_clusters(10, None, 5) == (10, None)  # K larger than the data: the engine's own error


def test_k_larger_than_the_data_is_one_line():
    with pytest.raises(DataError, match="fewer than model.n_clusters = 50"):
        infoclust.TEMI(n_clusters=50, epochs=1).fit(np.random.default_rng(0).normal(size=(20, 4)))


def test_the_estimator_chooses_k_and_predicts_in_k_clusters():
    x, y = blobs(4, seed=5, std=1.5)
    est = infoclust.TEMI(n_clusters="auto", max_clusters=12, epochs=40, random_state=0)
    labels = est.fit_predict(x)
    assert est.n_clusters_ == 4 and est.figures_["k_choice"]["chosen"] == 4
    assert est.figures_["k_choice"]["trained_clusters"] == 24
    assert cluster_acc(labels, y, 4) > 0.95
    proba = est.predict_proba(x[:7])
    assert proba.shape == (7, 4) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (est.predict(x) == labels).all()


def test_a_method_that_cannot_choose_k_says_so():
    with pytest.raises(ConfigError, match="model.n_clusters': expected int, got 'auto'"):
        infoclust.DCCS(n_clusters="auto").fit(np.zeros((20, 8, 8), np.uint8))


def test_the_command_line_records_the_choice_and_reads_other_k(tmp_path, capsys):
    from infoclust.cli import main

    x, _ = blobs(3, seed=6)
    np.save(tmp_path / "x.npy", x)
    run = tmp_path / "run"
    assert main(["train", "--method", "imsat", "--data", str(tmp_path / "x.npy"), "--out", str(run), "--silent",
                 "--set", "model.n_clusters=auto", "--set", "model.max_clusters=8", "--set", "train.epochs=15"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    choice = summary["k_choice"]
    assert summary["n_clusters"] == choice["chosen"] == choice["read_at"] == 3 and choice["trained_clusters"] == 16
    assert len(summary["cluster_sizes"]) == 3 and set(choice["gaps"]) == {str(k) for k in range(2, 9)}
    capsys.readouterr()
    assert main(["evaluate", str(run), "--recompute", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cluster_sizes"] == summary["cluster_sizes"]  # the run reads its groups back
    assert main(["evaluate", str(run), "--clusters", "5"]) == 0
    assert "K = 5 (asked; 3 chosen) of 16 clusters trained" in capsys.readouterr().out
    assert main(["predict", str(run), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "a.csv"), "--quiet"]) == 0
    clusters = {line.split(",")[1] for line in (tmp_path / "a.csv").read_text().splitlines()[1:]}
    assert clusters == {"0", "1", "2"}


def test_an_over_clustering_head_is_read_at_any_k_after_training(tmp_path, capsys, tiny_overrides):
    from infoclust.cli import main
    from infoclust.engine import load_trainer
    from infoclust.prediction import posteriors

    run = tmp_path / "iic"
    sets = [a for item in tiny_overrides + ["model.overcluster=20"] for a in ("--set", item)]
    assert main(["train", "--data", "digits", "--out", str(run), "--silent", "--seed", "1", *sets]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--head", "A", "--clusters", "10", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    choice = figures["k_choice"]
    assert figures["n_clusters"] == choice["read_at"] == 10 and choice["head"] == "A" and choice["trained_clusters"] == 20
    # the reported clusters are head A's posteriors summed by the recorded groups, sub-head by sub-head
    trainer = load_trainer(run)
    head_a = posteriors(trainer.method, trainer.eval_images)["A"][figures["selected_sub_head"]]
    groups = np.array(choice["groups"][figures["selected_sub_head"]])
    assert sorted(set(groups.tolist())) == list(range(10))
    assert figures["cluster_sizes"] == np.bincount(merge(head_a, groups, 10).argmax(1), minlength=10).tolist()
    assert main(["evaluate", str(run), "--head", "A"]) == 0  # K chosen by the eigengap, at most 19 of 20
    line = capsys.readouterr().out
    assert "(chosen: the largest eigengap) of 20 clusters trained of head A" in line
    assert json.loads((run / "summary.json").read_text())["n_clusters"] == 10  # the run folder is unchanged
    assert main(["evaluate", str(run), "--head", "A", "--clusters", "25"]) == 2
    assert "25 clusters asked of a head with" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--head", "Z"]) == 2
    assert "head 'Z': this iic run has the heads A, B; expected one of them" in capsys.readouterr().err


def test_imc_swav_prototypes_are_read_as_k_groups(tmp_path, capsys):
    from infoclust.cli import main
    from tests.methods.test_contract import quick

    run = tmp_path / "swav"
    sets = [a for item in quick("imc-swav", "train.epochs=1") for a in ("--set", item)]
    assert main(["train", "--method", "imc-swav", "--data", "digits", "--out", str(run), "--silent", *sets]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--head", "prototypes", "--clusters", "10", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["n_clusters"] == 10 and figures["k_choice"]["trained_clusters"] == 30
    assert sum(figures["cluster_sizes"]) == 1797 and 0 < figures["acc"] <= 1
    assert "acc_many_to_one_prototypes" in json.loads((run / "summary.json").read_text())
