"""Reader for the IDX format of MNIST and Fashion-MNIST, plain or gzipped.

An IDX file is: two zero bytes, a type code (0x08 = unsigned byte, the only one read here), the
number of dimensions, one big-endian uint32 per dimension, then the values in C order.

Gzip is recognised by its magic bytes, not the file name, and is decompressed as a stream: the
header is checked first, then exactly the bytes it claims are read, plus one more to detect
trailing data, so a gzip bomb is never inflated beyond that. Refused with one line: a header
claiming no images (or labels), a zero dimension, or more than MAX_DATA_BYTES (4 GiB) of data;
a file shorter or longer than its header claims; a corrupt or cut gzip stream; an unreadable file.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
TYPE_NAMES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}
MAX_DATA_BYTES = 2**32  # 4 GiB, about 5.5 million 28x28 images
CHUNK_BYTES = 2**24


def _open(path: Path) -> BinaryIO:
    """The file opened for reading, gunzipped on the fly when it starts with the gzip magic bytes."""
    try:
        with path.open("rb") as probe:
            is_gzip = probe.read(2) == GZIP_MAGIC
        return gzip.open(path, "rb") if is_gzip else path.open("rb")
    except OSError as error:
        raise DataError(f"cannot read '{path}': {error.strerror or error}") from error


def _read(stream: BinaryIO, count: int, path: Path) -> bytes:
    """Up to ``count`` bytes (fewer only at the end of the data); read failures raise DataError."""
    try:
        return stream.read(count)
    except (OSError, EOFError, zlib.error) as error:
        if isinstance(stream, gzip.GzipFile):
            raise DataError(f"'{path}' is a corrupt gzip file ({error})") from error
        raise DataError(f"cannot read '{path}': {getattr(error, 'strerror', None) or error}") from error


def _read_dims(stream: BinaryIO, path: Path) -> tuple[int, ...]:
    """Check the header (magic, type, rank) and return the dimensions it declares."""
    magic = _read(stream, 4, path)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        shown = f"0x{magic.hex()}" if magic else "none, the file is empty"
        raise DataError(f"'{path}' is not an IDX file (bad magic {shown}; expected 0x00000801 or 0x00000803)")
    type_code, ndim = magic[2], magic[3]
    if type_code != UBYTE:
        kind = TYPE_NAMES.get(type_code, "unknown")
        raise DataError(f"'{path}' holds unsupported IDX type 0x{type_code:02x} ({kind}); only 0x08 (uint8) is read")
    if ndim not in (1, 3):
        raise DataError(f"'{path}' has {ndim} dimensions; expected 1 (labels) or 3 (images)")
    raw = _read(stream, 4 * ndim, path)
    if len(raw) < 4 * ndim:
        raise DataError(f"'{path}' is truncated: its header needs {4 + 4 * ndim} bytes, found {4 + len(raw)}")
    return struct.unpack(f">{ndim}I", raw)


def _check_dims(dims: tuple[int, ...], path: Path) -> int:
    """The number of data bytes ``dims`` claim; DataError when none or more than MAX_DATA_BYTES."""
    if dims[0] == 0:
        noun = "labels" if len(dims) == 1 else "images"
        raise DataError(f"'{path}' holds 0 {noun}; expected at least one")
    if 0 in dims:
        raise DataError(f"'{path}' has images of {dims[1]}x{dims[2]} pixels; expected at least 1x1")
    expected = math.prod(dims)
    if expected > MAX_DATA_BYTES:
        raise DataError(f"'{path}' claims {expected} bytes of data {dims}; expected at most {MAX_DATA_BYTES}")
    return expected


def _read_data(stream: BinaryIO, expected: int, path: Path) -> bytearray:
    """Exactly ``expected`` bytes in chunks (memory grows with what is really there), then end of data."""
    data = bytearray()
    while len(data) < expected:
        chunk = _read(stream, min(CHUNK_BYTES, expected - len(data)), path)
        if not chunk:
            raise DataError(f"'{path}' is truncated: expected {expected} bytes of data, found {len(data)}")
        data += chunk
    if _read(stream, 1, path):
        raise DataError(f"'{path}' has unexpected bytes after its {expected} bytes of data; expected it to end there")
    return data


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes.

    Returns images (N, 1, H, W) uint8 for a 3-dimensional file and labels (N,) int64 for a
    1-dimensional one; any other rank or a non-ubyte type raises DataError.
    """
    path = Path(path)
    with _open(path) as stream:
        dims = _read_dims(stream, path)
        values = np.frombuffer(_read_data(stream, _check_dims(dims, path), path), dtype=np.uint8).reshape(dims)
    if len(dims) == 1:
        return values.astype(np.int64)
    return values[:, None]


def read_idx_pair(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read matching images (N, 1, H, W) uint8 and labels (N,) int64 files."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 4:
        raise DataError(f"'{images_path}' holds labels, not images; expected a 3-dimensional IDX file")
    if labels.ndim != 1:
        raise DataError(f"'{labels_path}' holds images, not labels; expected a 1-dimensional IDX file")
    if len(images) != len(labels):
        raise DataError(
            f"'{images_path}' has {len(images)} images but '{labels_path}' has {len(labels)} labels; "
            "expected equal counts"
        )
    return images, labels
