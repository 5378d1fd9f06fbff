"""Every Python block of the README runs as written, in order, in one namespace (a fresh folder as
the working directory), and its results are what the prose says."""
import re
from pathlib import Path

import numpy as np

from tests.encoders.conftest import tiny_dino  # noqa: F401  (the fixture)

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_python_blocks_run_as_written(tmp_path, monkeypatch, tiny_dino):
    """(Offline: the hub encoder is the tests' small local DINOv2; PHOTOS and NEW_PHOTOS are made.)"""
    from tests.test_embedder import photo_folder

    blocks = python_blocks()
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    photo_folder(tmp_path / "PHOTOS", n_per_class=30)
    photo_folder(tmp_path / "NEW_PHOTOS", n_per_class=2, mixed=True)
    namespace: dict = {}
    for block in blocks:
        block = block.replace('"hf:facebook/dinov2-small"', repr(str(tiny_dino)))
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["labels"].shape == (1797,) and len(np.unique(namespace["labels"])) > 1
    assert namespace["proba"].shape == (5, 10) and np.allclose(namespace["proba"].sum(1), 1, atol=1e-5)
    assert namespace["z"].shape == (1797, 60)
    auto = namespace["auto"]  # K chosen without labels, reported by every figure
    assert 2 <= auto.n_clusters_ <= 50 and auto.predict_proba(namespace["vectors"][:3]).shape == (3, auto.n_clusters_)
    assert float(namespace["loss"]) < 0.01  # −I(y, y′) ≤ 0 up to the estimator's epsilon
    assert 0.3 < namespace["record"]["accuracy"] <= 1  # a 5-pass IIC trunk with 10 % labels: far above chance (0.1)
    assert (tmp_path / "runs" / "readme-digits" / "summary.json").is_file()
    assert namespace["photos"].images.shape == (60, 32) and namespace["photos"].ids[0] == "cats/000.png"
    assert namespace["new"].shape == (4,) and set(namespace["new"]) <= set(range(20))
