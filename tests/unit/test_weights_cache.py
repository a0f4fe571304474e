"""The serving cache of registered models' files: verified, shared, bounded."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from aiaas.errors import Unavailable
from aiaas.serving.weights_cache import WeightsCache


class FakeS3:
    """Objects in memory; counts downloads (the only thing S3 does here)."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.downloads = 0
        self.lock = threading.Lock()

    def download(self, uri: str, destination: Path) -> None:
        with self.lock:
            self.downloads += 1
        time.sleep(0.05)  # long enough for concurrent callers to overlap
        destination.write_bytes(self.objects[uri])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_concurrent_requests_download_once_and_share_the_file(tmp_path: Path) -> None:
    s3 = FakeS3({"s3://b/m": b"model" * 100})
    cache = WeightsCache(s3, tmp_path, budget_bytes=10_000)
    paths: list[Path] = []
    digest = sha(b"model" * 100)
    threads = [
        threading.Thread(target=lambda: paths.append(cache.path("s3://b/m", digest)))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert s3.downloads == 1 and len(set(paths)) == 1 and paths[0].read_bytes() == b"model" * 100


def test_tampered_bytes_are_refused_and_not_kept(tmp_path: Path) -> None:
    cache = WeightsCache(FakeS3({"s3://b/m": b"tampered"}), tmp_path, budget_bytes=10_000)
    with pytest.raises(Unavailable, match="sha256"):
        cache.path("s3://b/m", sha(b"original"))
    assert list(tmp_path.iterdir()) == []


def test_least_recently_used_files_are_evicted_over_budget(tmp_path: Path) -> None:
    blobs = {f"s3://b/{i}": bytes([i]) * 400 for i in range(3)}
    cache = WeightsCache(FakeS3(blobs), tmp_path, budget_bytes=900)
    first = cache.path("s3://b/0", sha(blobs["s3://b/0"]))
    time.sleep(0.01)
    second = cache.path("s3://b/1", sha(blobs["s3://b/1"]))
    time.sleep(0.01)
    cache.path("s3://b/0", sha(blobs["s3://b/0"]))  # used again: now the most recent
    time.sleep(0.01)
    third = cache.path("s3://b/2", sha(blobs["s3://b/2"]))
    assert first.exists() and third.exists() and not second.exists()
