"""Atomic, checksum-verified, resumable HTTP download (urllib only).

Bytes go to ``<dest>.part``; an existing .part is resumed with a ``Range`` request (kept when the
server answers 206, restarted on 200). Only a complete file whose digests match is renamed to
``dest`` (``os.replace``), so ``dest`` never holds a partial or corrupt file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..errors import DataError

CHUNK_BYTES = 1 << 16


class _Failed(Exception):
    """A failed attempt; ``retry`` is False when repeating it cannot help (e.g. HTTP 404)."""

    def __init__(self, reason: str, retry: bool = True) -> None:
        super().__init__(reason)
        self.retry = retry


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file's bytes, e.g. ``file_digest(path, "sha256")``."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _mismatch(path: Path, expected: dict[str, str]) -> str | None:
    """None when every expected digest matches, else 'expected <algo> X, got Y'."""
    for algorithm, digest in expected.items():
        actual = file_digest(path, algorithm)
        if actual != digest.lower():
            return f"expected {algorithm} {digest.lower()}, got {actual}"
    return None


def _fetch(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size; raise _Failed on trouble."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to send: the .part is already whole
            return
        if 400 <= error.code < 500 and error.code not in (408, 429):
            raise _Failed(f"HTTP {error.code} {error.reason}", retry=False) from error
        raise _Failed(f"HTTP {error.code} {error.reason}") from error
    except (OSError, http.client.HTTPException) as error:
        raise _Failed(str(getattr(error, "reason", error))) from error
    with response:
        resumed = response.status == 206
        if resumed and not (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-"):
            part.unlink()
            raise _Failed(f"server resumed at the wrong offset ({response.headers.get('Content-Range')})")
        length = response.headers.get("Content-Length")
        start = offset if resumed else 0
        total = None if length is None else start + int(length)
        written = start
        with open(part, "ab" if resumed else "wb") as handle, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, desc=part.name[: -len(".part")], disable=not progress
        ) as bar:
            try:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    handle.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as error:
                raise _Failed(f"connection lost after {written} bytes ({error})") from error
    if total is not None and written < total:
        raise _Failed(f"connection closed after {written} of {total} bytes")


def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    retries: int = 3,
    progress: bool = True,
    timeout: float = 30,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` and verify its digests; return ``dest``.

    A ``dest`` that already exists with the right digests is returned without any network access.
    ``retries`` is the number of attempts after the first; retry k (1, 2, ...) first waits
    ``backoff * 2**(k-1)`` seconds. ``timeout`` (seconds) applies to each connection and read.
    """
    dest = Path(dest)
    expected = {name: digest for name, digest in (("sha256", sha256), ("md5", md5)) if digest}
    if dest.is_file() and _mismatch(dest, expected) is None:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _fetch(url, part, timeout, progress)
        except _Failed as error:
            problem = f"could not download {url} (attempt {attempt + 1} of {retries + 1}): {error}"
            if error.retry:
                continue
            break
        mismatch = _mismatch(part, expected)
        if mismatch is None:
            os.replace(part, dest)
            return dest
        part.unlink()
        problem = f"checksum mismatch for {url}: {mismatch}"
    raise DataError(f"{problem}; download it by hand and place it in {dest.parent}")
