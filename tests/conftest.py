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


def kill_and_resume(cfg, tmp_path, method_class, at_call: int, monkeypatch):
    """Train ``cfg`` uninterrupted into tmp_path/full, then again into tmp_path/cut killed (Ctrl-C)
    at ``method_class.train_step`` call ``at_call`` and resumed; returns (full, resumed) figures."""
    from infoclust.engine import train

    full = train(cfg, tmp_path / "full", progress=False)
    original, calls = method_class.train_step, {"n": 0}

    def dying(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(method_class, "train_step", dying)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(method_class, "train_step", original)
    return full, train(None, tmp_path / "cut", resume=True, progress=False)


def write_digits_folder(folder, count: int):
    """The first ``count`` of scikit-learn's digits as 8-bit PNGs in one subfolder per class
    (``folder/<label>/<i>.png``), as a user's photo folder; returns ``folder``."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (pixels, label) in enumerate(zip(digits.images[:count], digits.target[:count])):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.rint(pixels * (255 / 16)).astype(np.uint8)).save(folder / str(label) / f"{i:03d}.png")
    return folder
