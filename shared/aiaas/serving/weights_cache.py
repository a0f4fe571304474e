"""Model files from S3 in /tmp: content-addressed by sha256, verified, evicted least-recent first.

A file is stored under its expected digest only after the downloaded bytes hash to it, so a
tampered object in S3 is refused (and logged) instead of served, and two requests for the
same model download it once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from aiaas.errors import Unavailable

logger = logging.getLogger(__name__)


class Downloader(Protocol):
    """Copies an object (``s3://bucket/key``) to a local file."""

    def download(self, uri: str, destination: Path) -> None:
        """Write the object's bytes to ``destination``."""
        ...


class WeightsCache:
    """A /tmp directory of model files with a byte budget."""

    def __init__(self, downloader: Downloader, directory: Path, budget_bytes: int) -> None:
        self.downloader = downloader
        self.directory = directory
        self.budget_bytes = budget_bytes
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def path(self, uri: str, sha256: str) -> Path:
        """The verified local copy of ``uri``; Unavailable if its bytes do not match."""
        target = self.directory / f"{sha256}{Path(uri).suffix or '.bin'}"
        with self._lock:
            lock = self._locks.setdefault(sha256, threading.Lock())
        with lock:
            if target.exists():
                os.utime(target)  # most recently used
                return target
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{threading.get_ident()}.part")
            try:
                self.downloader.download(uri, partial)
                digest = _sha256(partial)
                if digest != sha256:
                    logger.error("refusing %s: sha256 %s, the catalog says %s", uri, digest, sha256)
                    raise Unavailable(
                        "model weights do not match the catalog's sha256; refusing to serve them"
                    )
                partial.rename(target)
            finally:
                partial.unlink(missing_ok=True)
        self._evict(keep=target)
        return target

    def _evict(self, keep: Path) -> None:
        files = sorted(
            (p for p in self.directory.iterdir() if p.suffix != ".part"),
            key=lambda p: p.stat().st_mtime,
        )
        total = sum(p.stat().st_size for p in files)
        for path in files:
            if total <= self.budget_bytes:
                return
            if path != keep:
                total -= path.stat().st_size
                path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
