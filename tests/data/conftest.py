"""Fixtures for the data tests: hand-written IDX files, unreadable files and a local HTTP server with Range support."""

from __future__ import annotations

import gzip
import os
import re
import socket
import struct
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write a uint8 array as an IDX file (gzipped when ``compress``) and return its path."""
    payload = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.fixture
def make_idx():
    return write_idx


def _lock(path: Path) -> None:
    """chmod 000 ``path``; skip the test when this user still reads it (root, CAP_DAC_OVERRIDE)."""
    path.chmod(0)
    try:
        os.listdir(path) if path.is_dir() else path.read_bytes()
    except PermissionError:
        return
    path.chmod(0o755)
    pytest.skip("this user reads files whatever their permissions (root)")


@pytest.fixture
def lock():
    """``lock(path)`` makes ``path`` unreadable, or skips the test where that is impossible."""
    return _lock


class _RangeHandler(SimpleHTTPRequestHandler):
    """Serves files from the server's folder, honouring ``Range: bytes=N-``; records every request."""

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append((self.path, self.headers.get("Range")))
        path = Path(state.folder) / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and state.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.cut_after is not None:  # simulate a dropped connection mid-transfer, once
            body, state.cut_after = body[: state.cut_after], None
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server(tmp_path):
    """A server on 127.0.0.1 serving ``state.folder``; ``state.url`` is its base URL (ends in '/')."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    server.state = SimpleNamespace(
        folder=folder,
        requests=[],
        honour_range=True,
        cut_after=None,
        url=f"http://127.0.0.1:{server.server_address[1]}/",
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
