import hashlib
import time

import pytest

from infoclust.data.download import download
from infoclust.errors import DataError

PAYLOAD = bytes(range(256)) * 1000  # 256,000 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture
def served(http_server):
    (http_server.folder / "blob.bin").write_bytes(PAYLOAD)
    return http_server


def fetch(server, dest, **kwargs):
    options = {"progress": False, "backoff": 0, "timeout": 5, **kwargs}
    return download(server.url + "blob.bin", dest, **options)


def test_good_download(served, tmp_path):
    dest = tmp_path / "out" / "blob.bin"
    assert fetch(served, dest, sha256=SHA, md5=MD5) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_suffix(".bin.part").exists()
    assert served.requests == [("/blob.bin", None)]


def test_checksum_mismatch_leaves_nothing(served, tmp_path):
    dest = tmp_path / "blob.bin"
    wrong = "0" * 64
    message = rf"checksum mismatch for {served.url}blob.bin: expected sha256 {wrong}, got {SHA}"
    with pytest.raises(DataError, match=message):
        fetch(served, dest, sha256=wrong, retries=2)
    assert not dest.exists()
    assert not dest.with_suffix(".bin.part").exists()
    assert len(served.requests) == 3  # first attempt + 2 retries


def test_md5_mismatch(served, tmp_path):
    with pytest.raises(DataError, match=f"expected md5 {'f' * 32}, got {MD5}"):
        fetch(served, tmp_path / "blob.bin", sha256=SHA, md5="f" * 32, retries=0)
    assert not (tmp_path / "blob.bin").exists()


def test_resume_from_part(served, tmp_path):
    dest = tmp_path / "blob.bin"
    dest.with_suffix(".bin.part").write_bytes(PAYLOAD[:1000])
    fetch(served, dest, sha256=SHA)
    assert served.requests == [("/blob.bin", "bytes=1000-")]
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_suffix(".bin.part").exists()


def test_server_ignoring_range_restarts(served, tmp_path):
    served.honour_range = False
    dest = tmp_path / "blob.bin"
    dest.with_suffix(".bin.part").write_bytes(b"garbage that must not be kept")
    fetch(served, dest, sha256=SHA)
    assert served.requests[0][1] is not None
    assert dest.read_bytes() == PAYLOAD


def test_dropped_connection_resumes_on_retry(served, tmp_path):
    served.cut_after = 100_000
    dest = tmp_path / "blob.bin"
    fetch(served, dest, sha256=SHA, retries=1)
    assert served.requests == [("/blob.bin", None), ("/blob.bin", "bytes=100000-")]
    assert dest.read_bytes() == PAYLOAD


def test_complete_part_verified_after_416(served, tmp_path):
    dest = tmp_path / "blob.bin"
    dest.with_suffix(".bin.part").write_bytes(PAYLOAD)
    fetch(served, dest, sha256=SHA)
    assert dest.read_bytes() == PAYLOAD


def test_corrupt_complete_part_discarded(served, tmp_path):
    dest = tmp_path / "blob.bin"
    dest.with_suffix(".bin.part").write_bytes(b"x" * len(PAYLOAD))  # right size, wrong bytes: 416
    fetch(served, dest, sha256=SHA, retries=1)
    assert dest.read_bytes() == PAYLOAD
    assert served.requests[-1] == ("/blob.bin", None)


def test_existing_good_dest_skips_network(served, tmp_path):
    dest = tmp_path / "blob.bin"
    dest.write_bytes(PAYLOAD)
    assert fetch(served, dest, sha256=SHA) == dest
    assert served.requests == []


def test_existing_bad_dest_replaced(served, tmp_path):
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"old and wrong")
    fetch(served, dest, sha256=SHA)
    assert dest.read_bytes() == PAYLOAD


def test_missing_file_is_not_retried(served, tmp_path):
    with pytest.raises(DataError, match=r"missing.bin .*HTTP 404.*place it in"):
        download(served.url + "missing.bin", tmp_path / "missing.bin", progress=False, backoff=0)
    assert len(served.requests) == 1


def test_server_down(tmp_path, closed_port):
    dest = tmp_path / "blob.bin"
    start = time.monotonic()
    message = rf"could not download http://127.0.0.1:{closed_port}/blob.bin .*place it in {tmp_path}"
    with pytest.raises(DataError, match=message):
        download(f"http://127.0.0.1:{closed_port}/blob.bin", dest, sha256=SHA, retries=2, progress=False, backoff=0.01)
    assert time.monotonic() - start < 5
    assert not dest.exists()
