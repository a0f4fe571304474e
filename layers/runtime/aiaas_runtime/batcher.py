"""A dynamic batcher, like Triton's: concurrent requests to one model merged into one run.

A GPU runs 32 rows in about the time of one, so a server that runs each request alone leaves
most of it idle. One worker thread per model takes the oldest waiting request, waits up to
``max_delay_s`` (from that request's arrival) for more, and runs every waiting request whose
inputs can be stacked with it (same input names, dtypes and non-batch dimensions), up to
``max_batch`` rows, as one batch; each request gets back its own rows of every output.

Requests are plain dicts of numpy arrays with the batch along axis 0. ``submit`` returns a
``concurrent.futures.Future``; ``infer_async`` awaits it without blocking an event loop. If a
merged run fails (or returns outputs that are not one row per input row), each of its requests
runs again alone, so a request fails only when it fails by itself. Standard library and numpy
only.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import BatcherClosedError, QueueFullError

logger = logging.getLogger(__name__)

Array = npt.NDArray[Any]
Feeds = dict[str, Array]
RunFn = Callable[[Feeds], Feeds]
# What two requests must share to be stacked: (input name, dtype, non-batch shape) per input.
Key = tuple[tuple[str, str, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class BatcherStats:
    """Counters since the batcher started (a snapshot).

    Attributes:
        requests: Requests that ran (successfully or not).
        runs: Calls of the run function.
        rows: Rows over all runs.
        merged_runs: Runs that carried more than one request.
        largest_run: Most rows in one run.
        retried: Requests run again alone after their merged run failed.
        rejected: Requests refused because the queue was full.
        queued: Requests waiting now.
        wait_s: Total time requests spent queued before their run started.
    """

    requests: int = 0
    runs: int = 0
    rows: int = 0
    merged_runs: int = 0
    largest_run: int = 0
    retried: int = 0
    rejected: int = 0
    queued: int = 0
    wait_s: float = 0.0

    @property
    def mean_batch_rows(self) -> float:
        """Mean rows per run."""
        return self.rows / self.runs if self.runs else 0.0

    @property
    def mean_requests_per_run(self) -> float:
        """Mean requests per run (1.0: nothing was merged)."""
        return self.requests / self.runs if self.runs else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The counters and the means, for JSON."""
        return {
            **asdict(self),
            "wait_s": round(self.wait_s, 6),
            "mean_batch_rows": round(self.mean_batch_rows, 3),
            "mean_requests_per_run": round(self.mean_requests_per_run, 3),
        }


@dataclass(slots=True, eq=False)
class _Request:
    feeds: Feeds
    key: Key | None  # None: runs alone (scalars, ragged or empty batch)
    rows: int
    future: Future[Feeds]
    arrived: float


class _NotRowAligned(Exception):
    """An output of a merged run does not have one row per input row."""


class DynamicBatcher:
    """Merges concurrent requests for one model into batched runs on a worker thread.

    Args:
        run: Runs one batch: input arrays by name in, output arrays by name out. Called from
            the worker thread only, one call at a time.
        max_batch: Most rows in one run; a single larger request runs alone. 1 turns
            batching off.
        max_delay_s: Longest wait, from the oldest request's arrival, for more requests.
        max_queue: Requests that may wait; ``submit`` raises QueueFullError beyond.
        enabled: False runs every request alone, without waiting (to compare on and off).
        name: Names the worker thread and messages.
    """

    def __init__(
        self,
        run: RunFn,
        *,
        max_batch: int,
        max_delay_s: float,
        max_queue: int,
        enabled: bool = True,
        name: str = "model",
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_delay_s < 0:
            raise ValueError("max_batch and max_queue must be >= 1, max_delay_s >= 0")
        self._run = run
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_queue = max_queue
        self.batching = enabled and max_batch > 1
        self.name = name
        self._queue: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._unbatchable: set[Key] = set()
        self._stats = BatcherStats()
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def submit(self, feeds: Feeds) -> Future[Feeds]:
        """Queue one request; its future resolves to its own rows of every output.

        Raises:
            QueueFullError: ``max_queue`` requests are already waiting.
            BatcherClosedError: The batcher was closed.
        """
        key, rows = _signature(feeds)
        future: Future[Feeds] = Future()
        with self._cond:
            if self._closed:
                raise BatcherClosedError(f"{self.name} is shutting down")
            if len(self._queue) >= self.max_queue:
                self._count(rejected=1)
                raise QueueFullError(
                    f"{len(self._queue)} requests are already waiting for {self.name}"
                )
            self._queue.append(_Request(feeds, key, rows, future, time.monotonic()))
            self._cond.notify()
        return future

    def infer(self, feeds: Feeds, timeout: float | None = None) -> Feeds:
        """Submit and wait (blocking); raises what the run raised for this request."""
        return self.submit(feeds).result(timeout)

    async def infer_async(self, feeds: Feeds) -> Feeds:
        """Submit and await without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(feeds))

    def stats(self) -> BatcherStats:
        """A snapshot of the counters."""
        with self._cond:
            return _replace(self._stats, queued=len(self._queue))

    def close(self, *, drain: bool = False, timeout: float | None = 5.0) -> None:
        """Stop the worker. Waiting requests fail with BatcherClosedError, or with
        ``drain`` run first; a run in progress always finishes."""
        with self._cond:
            self._closed = True
            dropped = [] if drain else list(self._queue)
            if not drain:
                self._queue.clear()
            self._cond.notify_all()
        for request in dropped:
            _settle(request.future, error=BatcherClosedError(f"{self.name} was closed"))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._execute(batch)
            except Exception as exc:  # a bug here must not strand the callers
                logger.exception("batcher %s failed outside its run function", self.name)
                for request in batch:
                    _settle(request.future, error=exc)

    def _next_batch(self) -> list[_Request] | None:
        with self._cond:
            while True:
                if not self._queue:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                first = self._queue[0]
                if not self._closed and self._mergeable(first):
                    deadline = first.arrived + self.max_delay_s
                    remaining = deadline - time.monotonic()
                    if remaining > 0 and self._waiting_rows(first) < self.max_batch:
                        self._cond.wait(remaining)
                        continue  # look again: more requests, the deadline, or close()
                return self._take(first)

    def _mergeable(self, first: _Request) -> bool:
        return (
            self.batching
            and first.key is not None
            and first.key not in self._unbatchable
            and first.rows < self.max_batch
        )

    def _waiting_rows(self, first: _Request) -> int:
        return sum(r.rows for r in self._queue if r.key == first.key)

    def _take(self, first: _Request) -> list[_Request]:
        taken, total = [first], first.rows
        if self._mergeable(first):
            for request in list(self._queue)[1:]:
                if request.key == first.key and total + request.rows <= self.max_batch:
                    taken.append(request)
                    total += request.rows
                if total >= self.max_batch:
                    break
        chosen = {id(r) for r in taken}
        self._queue = deque(r for r in self._queue if id(r) not in chosen)
        now = time.monotonic()
        self._count(wait_s=sum(now - r.arrived for r in taken))
        return taken

    def _execute(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if len(live) == 1:
            self._run_alone(live[0])
        if len(live) <= 1:
            return
        sizes = [r.rows for r in live]
        try:
            feeds = {name: np.concatenate([r.feeds[name] for r in live]) for name in live[0].feeds}
            parts = _split(self._run(feeds), sizes)
        except Exception as exc:
            if isinstance(exc, _NotRowAligned) and live[0].key is not None:
                with self._cond:
                    self._unbatchable.add(live[0].key)
            logger.warning("merged run of %d requests failed (%s); each runs alone", len(live), exc)
            self._count(retried=len(live))
            for request in live:
                self._run_alone(request)
            return
        self._count_run(sizes)
        for request, outputs in zip(live, parts, strict=True):
            _settle(request.future, result=outputs)

    def _run_alone(self, request: _Request) -> None:
        try:
            outputs = self._run(request.feeds)
        except Exception as exc:
            self._count_run([request.rows])
            _settle(request.future, error=exc)
            return
        self._count_run([request.rows])
        _settle(request.future, result=outputs)

    def _count_run(self, sizes: list[int]) -> None:
        rows = sum(sizes)
        with self._cond:
            self._stats = _replace(
                self._stats,
                requests=self._stats.requests + len(sizes),
                runs=self._stats.runs + 1,
                rows=self._stats.rows + rows,
                merged_runs=self._stats.merged_runs + (len(sizes) > 1),
                largest_run=max(self._stats.largest_run, rows),
            )

    def _count(self, *, rejected: int = 0, retried: int = 0, wait_s: float = 0.0) -> None:
        with self._cond:  # re-entrant: submit and _take already hold it
            self._stats = _replace(
                self._stats,
                rejected=self._stats.rejected + rejected,
                retried=self._stats.retried + retried,
                wait_s=self._stats.wait_s + wait_s,
            )


def _signature(feeds: Feeds) -> tuple[Key | None, int]:
    """The batch key and row count of a request; key None when it cannot be stacked."""
    firsts = {array.shape[0] if array.ndim else -1 for array in feeds.values()}
    rows = firsts.pop() if len(firsts) == 1 else -1
    if rows <= 0:
        return None, max(rows, 0)
    key = tuple(sorted((name, a.dtype.str, tuple(a.shape[1:])) for name, a in feeds.items()))
    return key, rows


def _split(outputs: Feeds, sizes: list[int]) -> list[Feeds]:
    total = sum(sizes)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            raise _NotRowAligned(f"output {name!r} {list(array.shape)} is not {total} rows")
    bounds = np.cumsum([0, *sizes])
    return [
        {name: array[start:stop] for name, array in outputs.items()}
        for start, stop in itertools.pairwise(bounds)
    ]


def _settle(
    future: Future[Feeds], *, result: Feeds | None = None, error: BaseException | None = None
) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or {})
    except InvalidStateError:  # cancelled meanwhile (the caller went away)
        pass


def _replace(stats: BatcherStats, **changes: Any) -> BatcherStats:
    return BatcherStats(**{**asdict(stats), **changes})
