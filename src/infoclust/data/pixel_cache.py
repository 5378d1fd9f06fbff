"""An image folder too large to hold in memory, as an on-disk uint8 cache: decoded once (by
worker processes) into one raw file, ``$INFOCLUST_DATA/pixels/<key>/pixels.u8`` (rows of C·H·W
bytes; the key names the folder and the decoded size), valid while the folder's fingerprint (its
files' names, sizes, modification times) is the one recorded beside it (``record.json``; rebuilt
in place when the folder changed), and reused by every later run and every torchrun process. Read with positioned reads (``os.pread``),
batch by batch: a process holds one batch, never the set (a memory map would count every page it
touched in its resident set; the two are measured in docs/RESULTS.md)."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError, DataError
from .dataset import Dataset
from ..cpus import decoding_workers
from .folder import FolderLayout, folder_fingerprint, folder_layout, read_image_folder
from .lazy import LazyImages
from .sources import cache_dir

PIXELS = "pixels.u8"
RECORD = "record.json"
IN_MEMORY_BYTES = 256 << 20  # a folder whose decoded pixels take more goes through the on-disk cache
BUILD_CHUNK = 64  # images a decoding process is handed at a time


class DiskImages(LazyImages):
    """(N, C, H, W) uint8 images in the raw file ``path``, read on indexing (one ``pread`` per
    image, or one for a run of consecutive images). Pickles as its path: each process (a
    DataLoader worker, a torchrun rank) opens the file itself."""

    def __init__(self, path: str | Path, shape: tuple[int, int, int, int], fingerprint: dict):
        super().__init__(shape)
        self.path, self.fingerprint = Path(path), fingerprint
        self.row_bytes = int(np.prod(self.shape[1:]))
        self._fd: int | None = None
        self._pid: int | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None, "_pid": None}

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def rows(self, positions: np.ndarray) -> np.ndarray:
        out = np.empty((len(positions), self.row_bytes), dtype=np.uint8)
        fd, start = self._file(), 0
        while start < len(positions):  # a run of consecutive positions is one read
            stop = start + 1
            while stop < len(positions) and positions[stop] == positions[stop - 1] + 1:
                stop += 1
            target, offset = memoryview(out[start:stop]).cast("B"), int(positions[start]) * self.row_bytes
            while len(target):  # (one read returns at most about 2 GiB)
                got = os.preadv(fd, [target], offset)
                if got == 0:
                    raise DataError(f"the pixel cache '{self.path}' is shorter than its record says; delete its "
                                    "folder to rebuild it")
                target, offset = target[got:], offset + got
            start = stop
        return out.reshape(len(positions), *self.shape[1:])

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


def image_folder(folder: Path, progress: bool = True, layout: FolderLayout | None = None) -> Dataset:
    """The images under ``folder`` (found as ``layout`` says, when given): in memory when their
    decoded pixels take at most ``in_memory_limit()``, else from the on-disk cache (``cached_folder``)."""
    layout = layout if layout is not None else folder_layout(folder)
    if int(np.prod(layout.shape)) <= in_memory_limit():
        return read_image_folder(folder, progress, layout)
    return cached_folder(folder, layout, decoding_workers(), progress)


def in_memory_limit() -> int:
    """Bytes of decoded pixels up to which a folder is held in memory: ``IN_MEMORY_BYTES``, or the
    MiB of the environment variable INFOCLUST_IN_MEMORY_MIB (0: every folder through the cache)."""
    given = os.environ.get("INFOCLUST_IN_MEMORY_MIB")
    if given is None:
        return IN_MEMORY_BYTES
    try:
        mib = float(given)
    except ValueError:
        mib = -1
    if mib < 0:
        raise ConfigError(f"INFOCLUST_IN_MEMORY_MIB = {given!r}: expected a number of MiB, 0 or more")
    return int(mib * (1 << 20))


def cached_folder(folder: Path, layout: FolderLayout | None = None, workers: int = 0,
                  progress: bool = True) -> Dataset:
    """The images under ``folder`` as a Dataset whose ``images`` are ``DiskImages``: the cache of
    this folder's fingerprint, built first when there is none (``workers`` decoding processes)."""
    folder = Path(folder)
    layout = layout if layout is not None else folder_layout(folder)
    fingerprint = {**folder_fingerprint(layout.files, layout.ids), "shape": list(layout.shape[1:])}  # (C, H, W)
    where = f"{folder.resolve()}\t{fingerprint['shape']}"  # one cache per folder and size, valid for one fingerprint
    home = cache_dir("pixels") / hashlib.sha256(where.encode()).hexdigest()[:24]
    record = _read_record(home)
    if record is None or record["fingerprint"] != fingerprint:
        _build(home, folder, layout, fingerprint, workers, progress)
    images = DiskImages(home / PIXELS, layout.shape, fingerprint)
    return Dataset(images, layout.labels, layout.ids, name=folder.resolve().name, class_names=layout.class_names)


def _read_record(home: Path) -> dict | None:
    try:
        record = json.loads((home / RECORD).read_text())
        size = (home / PIXELS).stat().st_size
    except (OSError, json.JSONDecodeError):
        return None
    shape = record.get("fingerprint", {}).get("shape", [])
    return record if size == record["fingerprint"]["count"] * int(np.prod(shape)) else None


_LAYOUT: FolderLayout | None = None  # the folder a decoding process reads (set once per process)


def _use_layout(layout: FolderLayout) -> None:
    global _LAYOUT
    _LAYOUT = layout


def _decode(i: int) -> np.ndarray:
    return _LAYOUT.pixels(i)


def _build(home: Path, folder: Path, layout: FolderLayout, fingerprint: dict, workers: int, progress: bool) -> None:
    """Decode every image into ``home/pixels.u8`` (``workers`` processes; written under a name of
    this process's own and renamed when whole), then write the record: a stopped build leaves no
    cache that looks finished, and two processes building at once do not mix their writes."""
    home.mkdir(parents=True, exist_ok=True)
    (home / RECORD).unlink(missing_ok=True)  # the folder changed: its old cache is no longer valid
    partial = home / f"{PIXELS}.{os.getpid()}.partial"
    bar = tqdm(total=len(layout.files), desc=f"caching the pixels of {folder.name}", unit="img",
               disable=not progress, dynamic_ncols=True)
    try:
        with open(partial, "wb") as out, bar:
            if workers == 0:
                _write_all(map(layout.pixels, range(len(layout.files))), out, bar)
            else:
                with multiprocessing.get_context("fork").Pool(workers, _use_layout, (layout,)) as pool:
                    _write_all(pool.imap(_decode, range(len(layout.files)), chunksize=BUILD_CHUNK), out, bar)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, home / PIXELS)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    record = json.dumps({"fingerprint": fingerprint, "folder": str(folder.resolve())}, indent=1)
    tmp = home / f"{RECORD}.{os.getpid()}.partial"
    tmp.write_text(record)
    os.replace(tmp, home / RECORD)


def _write_all(images, out, bar: tqdm) -> None:
    for pixels in images:
        out.write(pixels.tobytes())
        bar.update(1)
