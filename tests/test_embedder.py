"""infoclust embed: every image's features under a local encoder, in chunks, resumable bit for bit."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from infoclust import embedder as embed_module
from infoclust.data.embedding import read_embedding, read_meta
from infoclust.embedder import EmbedSettings, embed
from infoclust.encoders import load_hub_encoder
from infoclust.errors import ConfigError, DataError

pytest.importorskip("transformers")
from tests.encoders.conftest import tiny_dino  # noqa: E402,F401  (the fixture)

SETTINGS = EmbedSettings(batch_size=4, workers=0, device="cpu")


def photo_folder(root, n_per_class=5, classes=("cats", "dogs"), mixed=False):
    """Class sub-folders of random photos; ``mixed``: sizes and modes vary (RGB, grey, palette, RGBA)."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            size = (40 + 7 * i, 30 + 5 * c) if mixed else (40, 40)
            image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
            if mixed:
                image = image.convert(["RGB", "L", "P", "RGBA"][i % 4])
            image.save(root / name / f"{i:03d}.png")
    return root


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(embed_module, "CHUNK_IMAGES", 4)  # 4 images a chunk: several chunks on 10 photos


def test_each_row_is_the_encoders_features_of_that_photo_with_its_label(tmp_path, tiny_dino, small_chunks):
    folder = photo_folder(tmp_path / "photos", mixed=True)
    meta = embed(str(tiny_dino), str(folder), tmp_path / "emb", SETTINGS, progress=False)
    assert meta["complete"] and meta["n"] == 10 and meta["dim"] == 32 and meta["chunk_rows"] == 4
    assert meta["preprocessing"]["crop"] == [32, 32] and meta["data"]["class_names"] == ["cats", "dogs"]
    data = read_embedding(tmp_path / "emb")
    assert data.images.shape == (10, 32) and data.labels.tolist() == [0] * 5 + [1] * 5
    assert data.ids[0] == "cats/000.png" and data.ids[-1] == "dogs/004.png"
    encoder = load_hub_encoder(str(tiny_dino))
    from infoclust.data.folder import decoded

    for i in (0, 3, 9):
        pixels = torch.from_numpy(encoder.preprocessing(decoded(folder / data.ids[i])))[None]
        assert torch.allclose(torch.from_numpy(data.images[i]), encoder(pixels)[0], atol=1e-5)


def test_a_stopped_embed_continues_to_bit_identical_features_and_a_finished_one_refuses(
        tmp_path, tiny_dino, small_chunks, monkeypatch):
    folder = photo_folder(tmp_path / "photos")
    embed(str(tiny_dino), str(folder), tmp_path / "whole", SETTINGS, progress=False)
    written = []
    real_write = embed_module.atomic_write_bytes

    def stop_after_two_chunks(path, data):
        if path.parent.name == "chunks":
            if len(written) == 2:
                raise KeyboardInterrupt  # as a kill between chunks
            written.append(path)
        real_write(path, data)

    monkeypatch.setattr(embed_module, "atomic_write_bytes", stop_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        embed(str(tiny_dino), str(folder), tmp_path / "cut", SETTINGS, progress=False)
    assert not read_meta(tmp_path / "cut")["complete"] and len(list((tmp_path / "cut" / "chunks").iterdir())) == 2
    with pytest.raises(DataError, match="is not finished: run the same 'infoclust embed' command again"):
        read_embedding(tmp_path / "cut")
    monkeypatch.setattr(embed_module, "atomic_write_bytes", real_write)
    embed(str(tiny_dino), str(folder), tmp_path / "cut", SETTINGS, progress=False)
    assert np.array_equal(read_embedding(tmp_path / "cut").images, read_embedding(tmp_path / "whole").images)
    with pytest.raises(ConfigError, match=r"already holds a finished embedding \(10 images by .*\); choose a new --out"):
        embed(str(tiny_dino), str(folder), tmp_path / "whole", SETTINGS, progress=False)


def test_a_stopped_embed_of_other_work_is_not_continued(tmp_path, tiny_dino, small_chunks):
    folder = photo_folder(tmp_path / "photos")
    embed(str(tiny_dino), str(folder), tmp_path / "emb", SETTINGS, progress=False)
    record = json.loads((tmp_path / "emb" / "embedding.json").read_text())
    record["complete"] = False
    (tmp_path / "emb" / "embedding.json").write_text(json.dumps(record))
    (folder / "cats" / "000.png").unlink()  # the data changed since
    with pytest.raises(ConfigError, match=r"holds a stopped embedding of other work \(its data, n differ\)"):
        embed(str(tiny_dino), str(folder), tmp_path / "emb", SETTINGS, progress=False)


def test_a_corrupt_photo_is_one_line_and_the_chunks_before_it_stay(tmp_path, tiny_dino, small_chunks):
    folder = photo_folder(tmp_path / "photos")
    (folder / "dogs" / "002.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"cannot read image '.*dogs/002.png': not in an image format Pillow recognises"):
        embed(str(tiny_dino), str(folder), tmp_path / "emb", SETTINGS, progress=False)
    assert not read_meta(tmp_path / "emb")["complete"]
    kept = sorted(p.name for p in (tmp_path / "emb" / "chunks").iterdir())
    assert kept == ["000000.npy"]  # rows 0-3 kept; the bad photo is row 7, in chunk 1 (rows 4-7)


def test_out_must_be_new_or_ours_and_vectors_have_nothing_to_embed(tmp_path, tiny_dino):
    folder = photo_folder(tmp_path / "photos")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is a folder with other files in it; expected a new or empty folder"):
        embed(str(tiny_dino), str(folder), tmp_path / "busy", SETTINGS, progress=False)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    np.save(tmp_path / "v.npy", np.zeros((5, 3), np.float32))
    with pytest.raises(DataError, match="holds feature vectors, not images: nothing to embed"):
        embed(str(tiny_dino), str(tmp_path / "v.npy"), tmp_path / "emb", SETTINGS, progress=False)


def test_the_command_line_embeds_then_trains_temi_on_the_features(tmp_path, tiny_dino, capsys):
    from infoclust.cli import main

    folder = photo_folder(tmp_path / "photos", n_per_class=30)
    emb = tmp_path / "emb"
    assert main(["embed", "--encoder", str(tiny_dino), "--data", str(folder), "--out", str(emb), "--quiet",
                 "--workers", "1", "--batch-size", "16"]) == 0
    assert f"embedded 60 images of photos with {tiny_dino}: 32-d features in {emb}" in capsys.readouterr().out
    assert main(["embed", "--encoder", str(tiny_dino), "--data", str(folder), "--out", str(emb)]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # refused before the encoder loads: one line, no bars
    assert len(err) == 1 and "already holds a finished embedding" in err[0]
    assert main(["train", "--method", "temi", "--features", str(emb), "--data", "digits", "--silent"]) == 2
    assert f"--features '{emb}' is an embedding: its vectors are the data; drop --data 'digits'" in capsys.readouterr().err
    assert main(["train", "--method", "temi", "--features", str(emb), "--out", str(tmp_path / "run"), "--silent",
                 "--set", "train.epochs=2", "--set", "model.n_clusters=2"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_samples"] == 60 and "acc" in summary  # the class sub-folders score it
    # new photos go through the same encoder, then the heads
    new = photo_folder(tmp_path / "new", n_per_class=3, classes=("x",), mixed=True)
    assert main(["predict", str(tmp_path / "run"), "--data", str(new), "--out", str(tmp_path / "a.csv"), "--quiet"]) == 0
    rows = (tmp_path / "a.csv").read_text().splitlines()
    assert rows[0] == "file,cluster,confidence" and [r.split(",")[0] for r in rows[1:]] == ["x/000.png", "x/001.png", "x/002.png"]
    from infoclust.embedder import embed_like
    from infoclust.engine import load_trainer
    from infoclust import prediction

    trainer = load_trainer(tmp_path / "run", dataset=embed_like(emb, str(new), progress=False))
    expected = prediction.reported(trainer.method, trainer.eval_images, trainer.selected_sub_head)
    assert [int(r.split(",")[1]) for r in rows[1:]] == expected.argmax(1).tolist()
    # the report shows each cluster (and each anchor's neighbours) as the photos behind the features
    assert main(["report", str(tmp_path / "run")]) == 0
    report = tmp_path / "run" / "report"
    assert (report / "clusters.png").is_file() and (report / "neighbours.png").is_file()
    assert "No cluster grid" not in (report / "index.html").read_text()


def test_a_finished_run_embeds_photos_as_it_embeds_its_own_images(tmp_path):
    """An infoclust run folder as the encoder: a photo of the run's size gets exactly the features
    the run's method gives that image; other sizes and colour photos are resized and converted."""
    from sklearn.datasets import load_digits

    from infoclust import prediction
    from infoclust.cli import main
    from infoclust.data import load_dataset
    from infoclust.engine import finished_run_method
    from tests.conftest import TINY

    run = tmp_path / "run"
    args = ["train", "--method", "iic", "--data", "digits", "--out", str(run), "--silent"]
    assert main(args + [a for item in TINY for a in ("--set", item)]) == 0
    digits = np.rint(load_digits().images[:12] * (255 / 16)).astype(np.uint8)
    folder = tmp_path / "photos"
    for i, pixels in enumerate(digits):
        (folder / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"c{i % 2}" / f"{i:02d}.png")
    Image.fromarray(digits[0]).resize((24, 24)).save(folder / "c0" / "big.png")
    meta = embed(str(run), str(folder), tmp_path / "emb", SETTINGS, progress=False)
    assert meta["encoder"] == str(run) and len(meta["revision"]) == 16
    assert meta["preprocessing"]["size"] == [8, 8] and meta["preprocessing"]["mode"] == "L"
    got = read_embedding(tmp_path / "emb")
    images = load_dataset(str(folder), progress=False)  # the folder reader: the big photo resized to 8x8, grey
    expected = prediction.features(finished_run_method(run, images), prediction.sample_tensor(images))
    assert got.ids == images.ids and got.images.shape == (13, meta["dim"])
    np.testing.assert_allclose(got.images, expected.reshape(13, -1), rtol=0, atol=1e-5)  # (other batches)
    colour = tmp_path / "colour"  # a colour photo (R = G = B) is converted to the run's grey
    colour.mkdir()
    Image.fromarray(np.repeat(digits[1][:, :, None], 3, axis=2)).save(colour / "one.png")
    embed(str(run), str(colour), tmp_path / "emb-colour", SETTINGS, progress=False)
    np.testing.assert_allclose(read_embedding(tmp_path / "emb-colour").images[0], got.images[got.ids.index("c1/01.png")],
                               rtol=0, atol=1e-5)
    assert main(["embed", "--encoder", str(tmp_path / "emb"), "--data", str(folder), "--out", str(tmp_path / "e2")]) == 2
