"""Reader for the IDX format of MNIST and Fashion-MNIST, plain or gzipped.

An IDX file is: two zero bytes, a type code (0x08 = unsigned byte, the only one read here), the
number of dimensions, one big-endian uint32 per dimension, then the values in C order.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
TYPE_NAMES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read '{path}': {error.strerror or error}") from error
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"'{path}' is a corrupt gzip file ({error})") from error


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes.

    Returns images (N, 1, H, W) uint8 for a 3-dimensional file and labels (N,) int64 for a
    1-dimensional one; any other rank or a non-ubyte type raises DataError.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        magic = f"0x{data[:4].hex()}" if data else "none, the file is empty"
        raise DataError(f"'{path}' is not an IDX file (bad magic {magic}; expected 0x00000801 or 0x00000803)")
    type_code, ndim = data[2], data[3]
    if type_code != UBYTE:
        kind = TYPE_NAMES.get(type_code, "unknown")
        raise DataError(f"'{path}' holds unsupported IDX type 0x{type_code:02x} ({kind}); only 0x08 (uint8) is read")
    if ndim not in (1, 3):
        raise DataError(f"'{path}' has {ndim} dimensions; expected 1 (labels) or 3 (images)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"'{path}' is truncated: its header needs {header} bytes, found {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected, found = int(np.prod(dims, dtype=np.int64)), len(data) - header
    if found < expected:
        raise DataError(f"'{path}' is truncated: expected {expected} bytes of data, found {found}")
    if found > expected:
        raise DataError(f"'{path}' has {found - expected} unexpected bytes after its {expected} bytes of data")
    values = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1:
        return values.astype(np.int64)
    return values[:, None].copy()


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
