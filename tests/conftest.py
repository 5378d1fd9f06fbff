import pytest

# A configuration small enough to train on digits in a couple of seconds on one CPU core.
TINY = [
    "views.input_size=8", "views.tf1_crops=[8]", "views.tf2_crops=[6,7,8]", "views.eval_crop=8",
    "model.width=8", "model.sub_heads=2", "train.epochs=2", "train.batch_size=64", "train.repeats=2",
    "train.lr=1e-3", "train.select_samples=256", "train.checkpoint_every=5", "train.eval_every=1",
    "train.head_schedule=B:1,A:1",
]


@pytest.fixture
def tiny_overrides():
    return list(TINY)
