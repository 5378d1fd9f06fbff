"""``infoclust embed``: the features of every image under a pretrained encoder, written in chunks
(``data.embedding`` reads them back). Images are decoded and preprocessed in DataLoader workers,
one batch at a time, so memory stays bounded whatever the number of images. A stopped embed run
again continues at its first missing chunk; the chunks are formed by the same batches either way,
so the features are bit-identical to an uninterrupted run's.

An encoder is a pretrained model (``hf:ORG/NAME``, a model folder: ``encoders.load_hub_encoder``)
or a finished infoclust run (its method's ``features``, the first stage of a two-stage run): photos
are converted to the run's channels and resized to its image size (bilinear, as the folder reader
resizes), then embedded as the run embeds its own images."""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from .data import Dataset, load_dataset
from .data.embedding import (CHUNKS, IDS, LABELS, META, chunk_path, chunk_ranges, is_embedding_folder, read_chunk,
                             read_meta)
from .data.stream import ImageStream, dataset_stream, folder_stream
from .encoders import HubEncoder, Preprocessing, is_hub_spec, load_hub_encoder
from .engine import finished_run_method
from .errors import ConfigError, DataError
from .cpus import decoding_workers
from .machine import select_device
from .methods import Method
from .runs import RunDir, atomic_write_bytes, atomic_write_text

CHUNK_IMAGES = 4096  # about this many images a chunk (a whole number of batches)
# what must match for a stopped embed to continue into the same folder
SAME_WORK = ("encoder", "revision", "preprocessing", "dim", "data", "n", "chunk_rows")


@dataclass
class EmbedSettings:
    """``batch_size`` images a forward pass; ``workers`` DataLoader processes decoding (None: one
    fewer than the usable CPUs, at most 4); ``device`` "auto" (CUDA when present), "cpu", "cuda"."""

    batch_size: int = 64
    workers: int | None = None
    device: str = "auto"

    def decoding_workers(self) -> int:
        return decoding_workers(self.workers)


@dataclass
class RunEncoder:
    """A finished infoclust run as an encoder: its method's ``features`` of B×C×H×W images
    (``preprocessing``: converted and resized to the run's image shape, values 0..255 kept).
    ``revision``: the first 16 hex digits of its checkpoint's SHA-256, so a run trained further
    is other work."""

    name: str
    revision: str
    method: Method
    preprocessing: Preprocessing
    dim: int

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self.method.features(batch.to(self.method.device).round().to(torch.uint8)).float().flatten(1)


def load_encoder(spec: str, device: torch.device, progress: bool = True) -> HubEncoder | RunEncoder:
    """The encoder ``spec`` names: an infoclust run folder (it holds config.yaml), else a
    Hugging Face id or model folder (``progress``: transformers' loading bars)."""
    if is_hub_spec(spec) or not RunDir(spec).config_path.is_file():
        return load_hub_encoder(spec, device, progress)
    run = RunDir.existing(spec)
    record = run.read_data_record()
    if record is None:
        raise ConfigError(f"encoder '{spec}': the run has no data.json (made by an older infoclust); expected a run "
                          "that records its image shape: train it again")
    shape = tuple(record["train"]["shape"])
    if len(shape) != 3:
        raise ConfigError(f"encoder '{spec}': the run was trained on {shape[0]}-d feature vectors, not images; "
                          "expected a run trained on images")
    probe = Dataset(np.zeros((1, *shape), dtype=np.uint8), None, ["probe"], "probe")
    method = finished_run_method(spec, probe)
    digest = hashlib.sha256(run.checkpoint_path.read_bytes()).hexdigest()[:16]
    resize = Preprocessing(mode="L" if shape[0] == 1 else "RGB", size=shape[1:], resample=2, scale=1.0)
    dim = method.features(torch.zeros((1, *shape), dtype=torch.uint8, device=method.device)).flatten(1).shape[1]
    return RunEncoder(spec, digest, method, resize, int(dim))


def image_stream(data: str) -> ImageStream:
    """A folder of images (decoded on demand), or a dataset infoclust reads (its arrays)."""
    path = Path(data).expanduser()
    if path.is_dir() and not is_embedding_folder(path):
        return folder_stream(path)
    dataset = load_dataset(data)
    if dataset.is_vectors:
        raise DataError(f"'{data}' holds feature vectors, not images: nothing to embed (cluster them directly)")
    return dataset_stream(dataset)


def embed(encoder: str, data: str, out: str | Path, settings: EmbedSettings = EmbedSettings(),
          progress: bool = True) -> dict:
    """Embed every image of ``data`` with ``encoder`` (``hf:ORG/NAME``, a model folder, an
    infoclust run folder) into the
    folder ``out``; returns its record (``embedding.json``). Continues a stopped run into the same
    folder; a finished one, or one of other work, is refused in one line."""
    out = Path(out)
    if settings.batch_size < 1:
        raise ConfigError(f"batch size {settings.batch_size}: expected a positive number of images")
    _refuse_finished(out)
    stream = image_stream(data)
    device = select_device(settings.device)
    model = load_encoder(encoder, device, progress)
    rows = settings.batch_size * max(1, CHUNK_IMAGES // settings.batch_size)
    meta = {"format": 1, "encoder": model.name, "revision": model.revision, "preprocessing": model.preprocessing.to_dict(),
            "dim": model.dim, "data": {"source": data, "name": stream.name, "fingerprint": stream.fingerprint,
                                       "class_names": stream.class_names,
                                       "folder": None if stream.folder is None else str(stream.folder)},
            "n": len(stream), "chunk_rows": rows, "complete": False}
    meta = as_read_back(meta)
    _claim(out, meta, stream)
    chunks = chunk_ranges(len(stream), rows)
    todo = [c for c, part in enumerate(chunks) if read_chunk(out, c, len(part), model.dim) is None]
    preprocessed = stream.with_transform(model.preprocessing)
    done_images = len(stream) - sum(len(chunks[c]) for c in todo)
    bar = tqdm(total=len(stream), initial=done_images, desc=f"embedding {stream.name}", unit="img",
               disable=not progress, dynamic_ncols=True)
    with bar:
        for c in todo:
            chunk = _embed_rows(model, preprocessed, chunks[c], settings.batch_size, settings.decoding_workers(),
                                device, bar)
            atomic_write_bytes(chunk_path(out, c), _npy_bytes(chunk))
    meta["complete"] = True
    atomic_write_text(out / META, json.dumps(meta, indent=1) + "\n")
    return meta


def embed_like(embedding: str | Path, data: str, settings: EmbedSettings = EmbedSettings(),
               progress: bool = True) -> Dataset:
    """The images of ``data`` embedded as the embedding folder ``embedding`` was (its encoder and
    revision; the preprocessing checked equal), held in memory: new photos for a run trained on
    that embedding."""
    meta = read_meta(embedding)
    spec = meta["encoder"] + (f"@{meta['revision']}" if meta["revision"] and is_hub_spec(meta["encoder"]) else "")
    device = select_device(settings.device)
    model = load_encoder(spec, device, progress)
    if isinstance(model, RunEncoder) and model.revision != meta["revision"]:
        raise ConfigError(f"the run '{spec}' has been trained further since '{embedding}' was embedded with it; "
                          "expected the same weights (embed the training images again)")
    if as_read_back(model.preprocessing.to_dict()) != meta["preprocessing"]:
        raise ConfigError(f"encoder '{spec}' now preprocesses images otherwise than when '{embedding}' was embedded; "
                          "expected the same model folder (embed the training images again)")
    stream = image_stream(data)
    with tqdm(total=len(stream), desc=f"embedding {stream.name}", unit="img", disable=not progress) as bar:
        vectors = _embed_rows(model, stream.with_transform(model.preprocessing), range(len(stream)),
                              settings.batch_size, settings.decoding_workers(), device, bar)
    return Dataset(vectors, stream.labels, stream.ids, stream.name, class_names=stream.class_names)


def as_read_back(record: dict) -> dict:
    """``record`` as embedding.json gives it back (tuples become lists), for comparisons with it."""
    return json.loads(json.dumps(record))


def _refuse_finished(out: Path) -> None:
    """One line when ``out`` cannot be this embedding's folder whatever the encoder: a file, or a
    finished embedding (checked before the encoder loads)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out '{out}' is a file; expected a new folder for the embedding")
    if out.is_dir() and is_embedding_folder(out):
        kept = read_meta(out)
        if kept.get("complete"):
            raise ConfigError(f"'{out}' already holds a finished embedding ({kept['n']} images by {kept['encoder']}); "
                              "choose a new --out")


def _claim(out: Path, meta: dict, stream: ImageStream) -> None:
    """Make ``out`` this embedding's folder (its record, item names and labels), or check that it
    already is (a stopped run of the same work)."""
    _refuse_finished(out)
    if out.is_dir() and is_embedding_folder(out):
        kept = read_meta(out)
        differ = [key for key in SAME_WORK if kept.get(key) != meta[key]]
        if differ:
            raise ConfigError(f"'{out}' holds a stopped embedding of other work (its {', '.join(differ)} differ); "
                              "choose a new --out, or give the same encoder and data to continue it")
        return
    if out.is_dir() and any(entry.name not in (CHUNKS, IDS, LABELS) for entry in out.iterdir()):
        raise ConfigError(f"--out '{out}' is a folder with other files in it; expected a new or empty folder")
    # (a folder with only our first files: a run stopped while claiming it, claimed again)
    (out / CHUNKS).mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / IDS, "".join(f"{item}\n" for item in stream.ids))
    if stream.labels is not None:
        atomic_write_bytes(out / LABELS, _npy_bytes(stream.labels))
    atomic_write_text(out / META, json.dumps(meta, indent=1) + "\n")  # last: the folder is claimed once whole


def _embed_rows(model: HubEncoder | RunEncoder, stream: ImageStream, rows: range, batch_size: int, workers: int,
                device: torch.device, bar: tqdm) -> np.ndarray:
    """Features of the stream's items ``rows`` (len×D float32), batch by batch."""
    loader = DataLoader(Subset(stream, rows), batch_size=batch_size, shuffle=False, num_workers=workers,
                        collate_fn=_stacked)
    out = np.empty((len(rows), model.dim), dtype=np.float32)
    filled = 0
    for batch in loader:
        features = model(batch.to(device)).cpu().numpy()
        out[filled:filled + len(features)] = features
        filled += len(features)
        bar.update(len(features))
    return out


def _stacked(items: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(items))


def _npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    return buffer.getvalue()
