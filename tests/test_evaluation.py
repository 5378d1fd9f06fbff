import numpy as np
import pytest

from infoclust.evaluation import cluster_acc, clustering_scores, many_to_one_acc, summarize_heads


def test_acc_is_invariant_to_cluster_permutation():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 200)
    perm = np.array([3, 0, 4, 1, 2])
    assert cluster_acc(perm[labels], labels, 5) == 1.0
    scores = clustering_scores(perm[labels], labels, 5)
    assert scores["nmi"] == pytest.approx(1.0) and scores["ari"] == pytest.approx(1.0)


def test_acc_hand_computed_with_one_to_one_constraint():
    labels = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([1, 1, 1, 1, 1, 0])  # cluster 1 holds all of class 0 and two of class 1
    # best one-to-one: 1→0 (3 right), 0→1 (1 right) → 4/6; many-to-one would map both to their majority
    assert cluster_acc(pred, labels, 2) == pytest.approx(4 / 6)
    assert many_to_one_acc(pred, labels, 2) == pytest.approx(4 / 6)


def test_many_to_one_rewards_overclustering_but_one_to_one_does_not():
    labels = np.repeat(np.arange(2), 10)
    pred = np.arange(20) // 5  # 4 clusters, two per class
    assert many_to_one_acc(pred, labels, 4) == 1.0
    assert cluster_acc(pred, labels, 4) == pytest.approx(0.5)


def test_summarize_selects_lowest_loss_sub_head_not_best_accuracy():
    labels = np.repeat(np.arange(3), 4)
    good = np.eye(3)[labels]
    bad = np.eye(3)[np.zeros(12, dtype=int)]
    post = np.stack([good, bad])  # h=2 × N × K
    out = summarize_heads({"B": post}, np.array([-0.5, -1.0]), labels, report="B")
    assert out["selected_sub_head"] == 1 and out["acc"] == pytest.approx(4 / 12)
    assert out["acc_mean"] == pytest.approx((1 + 4 / 12) / 2)
    assert out["cluster_sizes"] == [12, 0, 0]


def test_summarize_without_labels_reports_sizes_only():
    post = np.stack([np.eye(2)[[0, 1, 1]]])
    out = summarize_heads({"B": post}, np.array([0.0]), None, report="B")
    assert "acc" not in out and out["cluster_sizes"] == [1, 2] and out["n_samples"] == 3


def test_nmi_arithmetic_and_geometric_normalisers_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([1, 1, 1, 1, 1, 0])
    # I = H(L) - H(L|P); H(L) = ln 2, H(P) = H(1/6, 5/6), H(L|P) = 5/6 · H(3/5, 2/5)
    def h(*p):
        return -sum(x * np.log(x) for x in p)
    mi = h(0.5, 0.5) - 5 / 6 * h(0.6, 0.4)
    scores = clustering_scores(pred, labels, 2)
    assert scores["nmi"] == pytest.approx(mi / ((h(0.5, 0.5) + h(1 / 6, 5 / 6)) / 2))
    assert scores["nmi_geometric"] == pytest.approx(mi / np.sqrt(h(0.5, 0.5) * h(1 / 6, 5 / 6)))
    assert scores["nmi_geometric"] > scores["nmi"]  # √(ab) ≤ (a + b)/2


def test_unlabelled_samples_are_not_scored_and_dense_runs_get_per_class_iou():
    from infoclust.evaluation import class_iou, summarize_heads

    pred = np.array([0, 0, 1, 1, 2, 2, 1])
    labels = np.array([1, 1, 0, -1, 2, 0, -1])  # two unlabelled pixels
    post = np.eye(3)[pred][None]
    figures = summarize_heads({"y": post}, None, labels, report="y", dense=True)
    assert figures["n_scored"] == 5 and figures["n_samples"] == 7
    assert figures["acc"] == pytest.approx(4 / 5)  # 0→1, 1→0, 2→2: pixel 5 (cluster 2, label 0) is wrong
    # IoU under that mapping: class 0 {2} vs {2, 5} → 1/2; class 1 {0, 1} → 1; class 2 {4, 5} vs {4} → 1/2
    assert figures["iou_per_class"] == pytest.approx([0.5, 1.0, 0.5]) and figures["miou"] == pytest.approx(2 / 3)
    assert class_iou(pred[labels >= 0], labels[labels >= 0], 3) == pytest.approx([0.5, 1.0, 0.5])
    assert "iou_per_class" not in summarize_heads({"y": post}, None, labels, report="y")


@pytest.mark.parametrize("case", range(8))
def test_scores_from_counts_equal_scikit_learns_from_the_samples(case):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rng = np.random.default_rng(case)
    n, k, c = [(300, 5, 5), (300, 8, 3), (50, 2, 6), (200, 1, 4), (200, 4, 1), (100, 1, 1), (400, 10, 10),
               (120, 6, 6)][case]
    labels = rng.integers(0, c, n)
    pred = rng.integers(0, k, n) if case != 7 else labels.copy()  # the last: a perfect clustering
    if case == 1:
        pred[labels == 0] = 0  # some structure
    got = clustering_scores(pred, labels, k)
    assert got["nmi"] == pytest.approx(normalized_mutual_info_score(labels, pred), abs=1e-12)
    assert got["nmi_geometric"] == pytest.approx(
        normalized_mutual_info_score(labels, pred, average_method="geometric"), abs=1e-12)
    assert got["ari"] == pytest.approx(adjusted_rand_score(labels, pred), abs=1e-12)


def test_tallies_added_chunk_by_chunk_equal_the_whole():
    from infoclust.evaluation import HeadTally, summarize_tallies

    rng = np.random.default_rng(0)
    post = rng.dirichlet(np.ones(4), (2, 900))  # 2 sub-heads, 900 pixels
    labels = rng.integers(-1, 3, 900)
    whole = summarize_heads({"y": post}, np.array([0.2, 0.1]), labels, report="y", dense=True)
    tally = HeadTally.empty(2, 4)
    for start in range(0, 900, 250):
        tally.add(post[:, start:start + 250], labels[start:start + 250])
    chunked = summarize_tallies({"y": tally}, np.array([0.2, 0.1]), "y", labelled=True, dense=True)
    assert chunked.keys() == whole.keys() and whole["selected_sub_head"] == 1
    for key, value in whole.items():
        assert chunked[key] == (pytest.approx(value) if isinstance(value, (float, list)) else value), key
    assert whole["n_scored"] == int((labels >= 0).sum())


def test_top5_counts_a_label_among_the_five_likeliest_clusters_under_the_one_to_one_map():
    # 7 clusters, 7 classes; cluster j is class (j + 1) % 7 by the majority of argmax predictions
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 7, 400)
    logits = rng.normal(size=(400, 7))
    best = (labels - 1) % 7
    logits[np.arange(400), best] += 6  # the argmax is right for nearly all
    near, far = np.arange(400) < 40, (np.arange(400) >= 40) & (np.arange(400) < 80)
    logits[near, best[near]] -= 7.5  # the right cluster falls to the middle ranks: in the top 5 or not
    logits[far, best[far]] -= 20  # the right cluster is last
    post = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    figures = summarize_heads({"y": post[None]}, None, labels, report="y")
    mapping = {j: (j + 1) % 7 for j in range(7)}
    ranks = np.argsort(-post, axis=1)[:, :5]
    by_hand = np.mean([labels[i] in {mapping[c] for c in ranks[i]} for i in range(400)])
    assert figures["top5"] == pytest.approx(by_hand)
    assert figures["acc"] < figures["top5"] < 1.0
    # with fewer than 5 clusters every label is among the top 5
    three = summarize_heads({"y": rng.dirichlet(np.ones(3), (1, 50))}, None, rng.integers(0, 3, 50), report="y")
    assert three["top5"] == 1.0
