"""Files of datasets shipped as one .tar.gz (CIFAR, STL-10): read from the archive or its extracted folder.

The archive is never extracted: the wanted members are read in one streaming pass
(``tarfile`` mode "r|gz", stopping once all are read), so nothing is written to disk and member
paths (``..``, absolute names, links) never matter. A folder the archive was extracted to is
read directly and is preferred, being faster. Record files are checked to hold exactly
N records of the expected size and are read in chunks straight into their final arrays.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Callable, TypeVar

import numpy as np

from ..errors import DataError
from .sources import locate

CHUNK_BYTES = 1 << 23  # records are read about 8 MB at a time

Read = TypeVar("Read")
# reader(handle, size in bytes, description of the file for messages) -> what was read
Reader = Callable[[BinaryIO, int, str], Read]


def _member_path(name: str) -> str:
    """A tar member name without leading './'."""
    while name.startswith("./"):
        name = name[2:]
    return name


@dataclass(frozen=True)
class Bundle:
    """The files of one dataset: ``path`` is the extracted folder, or the .tar.gz when ``is_archive``.

    Members are named relative to ``inner``, the archive's top folder (e.g. "cifar-10-batches-bin").
    """

    path: Path
    inner: str
    is_archive: bool

    def describe(self, member: str) -> str:
        """How error messages name a member: its path, or the archive and its path inside it."""
        return f"'{self.path}' member '{self.inner}/{member}'" if self.is_archive else f"'{self.path / member}'"

    def read(self, readers: dict[str, Reader]) -> dict[str, object]:
        """``{member: readers[member](handle, size, description)}`` for every member in ``readers``."""
        return self._read_archive(readers) if self.is_archive else self._read_folder(readers)

    def _read_folder(self, readers: dict[str, Reader]) -> dict[str, object]:
        results = {}
        for member, reader in readers.items():
            path = self.path / member
            try:
                with open(path, "rb") as handle:
                    results[member] = reader(handle, os.fstat(handle.fileno()).st_size, self.describe(member))
            except OSError as error:
                raise DataError(f"cannot read '{path}': {error.strerror or error}") from error
        return results

    def _read_archive(self, readers: dict[str, Reader]) -> dict[str, object]:
        results, prefix = {}, f"{self.inner}/"
        try:
            with tarfile.open(self.path, "r|gz") as tar:
                for info in tar:
                    name = _member_path(info.name)
                    member = name[len(prefix) :] if name.startswith(prefix) else None
                    if member in readers and member not in results and info.isfile():
                        handle = tar.extractfile(info)
                        results[member] = readers[member](handle, info.size, self.describe(member))
                        if len(results) == len(readers):
                            break
        except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
            raise DataError(
                f"'{self.path}' is not a readable .tar.gz archive ({error}); delete it to download it again, "
                f"or replace it with the official {self.path.name}"
            ) from error
        missing = [f"{prefix}{member}" for member in readers if member not in results]
        if missing:
            raise DataError(
                f"'{self.path}' lacks {', '.join(missing)}; expected the official {self.path.name} "
                "(delete it to download it again)"
            )
        return results


def find_bundle(archive: str, inner: str, members: list[str], folder: Path) -> Bundle | None:
    """``folder/inner`` (or ``folder`` itself when so named) holding all ``members``, else ``folder/archive``."""
    extracted = [folder / inner] + ([folder] if folder.name == inner else [])
    for candidate in extracted:
        if all((candidate / member).is_file() for member in members):
            return Bundle(candidate, inner, is_archive=False)
    if (folder / archive).is_file():
        return Bundle(folder / archive, inner, is_archive=True)
    return None


def locate_bundle(
    name: str,
    archive: str,
    inner: str,
    members: list[str],
    root: str | Path | None,
    download: bool,
    progress: bool,
    mirror: str | None = None,
) -> Bundle:
    """The extracted folder or the archive of dataset ``name``, in lookup order (``sources.locate``)."""
    return locate(
        name,
        partial(find_bundle, archive, inner, members),
        [archive],
        root,
        download,
        progress,
        mirror,
        alternative=f" (or extract it there: a {inner} folder holding {', '.join(members)} is read as well)",
    )


def _fill(handle: BinaryIO, buffer: np.ndarray, done: int, expected: int, source: str) -> None:
    """Fill the contiguous uint8 ``buffer`` from ``handle``; ``done`` bytes were read before it."""
    view = memoryview(buffer).cast("B")
    filled = 0
    while filled < len(view):
        got = handle.readinto(view[filled:])
        if not got:
            raise DataError(f"{source} ended after {done + filled:,} bytes; expected {expected:,} bytes")
        filled += got


def read_records(
    handle: BinaryIO,
    size: int,
    source: str,
    count: int,
    record_bytes: int,
    store: Callable[[int, np.ndarray], None],
) -> None:
    """Read a file of exactly ``count`` records of ``record_bytes`` bytes, chunk by chunk.

    ``store(start, records)`` gets records ``start .. start + len(records) - 1`` as a
    (k, record_bytes) uint8 array that is reused for the next chunk (copy what you keep).
    """
    expected = count * record_bytes
    if size != expected:
        state = "truncated" if size < expected else "too long"
        raise DataError(
            f"{source} is {state}: {size:,} bytes, expected {count:,} records x {record_bytes:,} bytes "
            f"= {expected:,} bytes"
        )
    step = max(1, CHUNK_BYTES // record_bytes)
    buffer = np.empty((min(step, count), record_bytes), dtype=np.uint8)
    for start in range(0, count, step):
        chunk = buffer[: min(step, count - start)]
        _fill(handle, chunk, start * record_bytes, expected, source)
        store(start, chunk)


def read_lines(handle: BinaryIO, size: int, source: str) -> list[str]:
    """The non-empty lines of a small UTF-8 text file, stripped (e.g. class names)."""
    try:
        text = handle.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{source} is not UTF-8 text ({error}); expected one class name per line") from error
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{source} is empty; expected one class name per line")
    return lines

