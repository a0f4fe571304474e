"""Data capture: a sample of a version's requests and responses, batched into S3.

A version's owner turns it on with ``PATCH .../versions/{v}`` and ``{"capture":
{"sample_percent": p}}``. Each prediction of that version made by the owner's own tenant is
kept with probability ``p`` / 100 (requests from other tenants to a public model are never
captured: they are not the owner's data). Records wait in this process's buffer and are
written as one JSONL file per version once ``max_records`` are waiting or the oldest has
waited ``max_age_s`` (checked on each request), and at interpreter exit (the local stack's
shutdown). A failed write is logged (counts, never the records) and never fails a request.

A record is ``{"time", "model", "version", "inputs", "outputs"}``: the request's inputs and
the task-level outputs (native and OpenAI routes: lists; the Open Inference Protocol: one
object of tensors by name; a batch job: one record per sampled row), never a header, key or
token. What a frozen Lambda environment still
buffers when it is retired is lost (at most ``max_age_s`` of sampled requests).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)


class CaptureStore(Protocol):
    """Where batches of records go (S3)."""

    def write(self, tenant: str, model: str, version: str, started: float, body: bytes) -> str:
        """Store one JSONL batch; its key."""
        ...


@dataclass
class _Pending:
    started: float
    lines: list[bytes] = field(default_factory=list)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):  # an Open Inference Protocol BYTES element
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON")


class CaptureBuffer:
    """Samples, buffers and writes captured requests, per version."""

    def __init__(
        self,
        store: CaptureStore,
        *,
        max_records: int = 100,
        max_age_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.max_records = max_records
        self.max_age_s = max_age_s
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - sampling, not secrets
        self._pending: dict[tuple[str, str, str], _Pending] = {}
        self._lock = threading.Lock()

    def offer(
        self,
        percent: float,
        key: tuple[str, str, str],
        inputs: Sequence[Any],
        outputs: Sequence[Any],
    ) -> bool:
        """Keep this request with probability ``percent`` / 100 (``key``: tenant, model,
        version); write whatever is due. Whether it was kept."""
        kept = percent > 0 and self.rng.random() * 100 < percent
        if kept:
            now = self.clock()
            record = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "model": key[1],
                "version": key[2],
                "inputs": list(inputs),
                "outputs": list(outputs),
            }
            line = json.dumps(record, default=_plain, separators=(",", ":")).encode() + b"\n"
            with self._lock:
                self._pending.setdefault(key, _Pending(now)).lines.append(line)
        self.flush(force=False)
        return kept

    def flush(self, *, force: bool = True) -> int:
        """Write the batches that are due (all of them with ``force``); records written."""
        now = self.clock()
        with self._lock:
            due = {
                key: batch
                for key, batch in self._pending.items()
                if force
                or len(batch.lines) >= self.max_records
                or now - batch.started >= self.max_age_s
            }
            for key in due:
                del self._pending[key]
        written = 0
        for (tenant, model, version), batch in due.items():
            try:
                self.store.write(tenant, model, version, batch.started, b"".join(batch.lines))
                written += len(batch.lines)
            except Exception:  # a capture never fails the prediction it samples
                logger.warning(
                    "captured requests dropped",
                    extra={"model": model, "version": version, "records": len(batch.lines)},
                    exc_info=True,
                )
        return written
