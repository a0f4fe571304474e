"""The dynamic batcher: merged runs, each caller gets its own rows, failures stay contained."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from aiaas_runtime.batcher import DynamicBatcher, Feeds
from aiaas_runtime.errors import BatcherClosedError, QueueFullError
from tests.unit import catalog_models as cm


@pytest.fixture(scope="module")
def mlp() -> Any:
    """A real onnxruntime session: deterministic per row, any batch size."""
    return ort.InferenceSession(cm.to_bytes(cm.mlp()), providers=["CPUExecutionProvider"])


def session_run(session: Any) -> Any:
    def run(feeds: Feeds) -> Feeds:
        return {"y": session.run(["y"], feeds)[0]}

    return run


class Recorder:
    """A run function that doubles ``x``, records each call's shapes and can be held."""

    def __init__(self) -> None:
        self.calls: list[dict[str, tuple[int, ...]]] = []
        self.release = threading.Event()
        self.poison: float | None = None

    def __call__(self, feeds: Feeds) -> Feeds:
        if "block" in feeds:
            self.release.wait(5)
            return {"y": feeds["block"]}
        self.calls.append({name: a.shape for name, a in feeds.items()})
        x = feeds["x"]
        if self.poison is not None and (x == self.poison).any():
            raise ValueError("poisoned row")
        return {"y": x * 2}


@pytest.fixture
def held() -> Iterator[tuple[DynamicBatcher, Recorder]]:
    """A batcher whose worker is busy with a blocking request until ``release`` is set, so
    the test can queue requests first and know exactly what waits together."""
    recorder = Recorder()
    batcher = DynamicBatcher(recorder, max_batch=8, max_delay_s=0.001, max_queue=8)
    blocker = batcher.submit({"block": np.zeros((1, 1), np.float32)})
    while not blocker.running():
        time.sleep(0.001)
    yield batcher, recorder
    recorder.release.set()
    batcher.close()


def rows(n: int, width: int = 3, value: float = 1.0, dtype: Any = np.float32) -> Feeds:
    return {"x": np.full((n, width), value, dtype=dtype)}


def test_concurrent_requests_each_get_their_own_result(mlp: Any) -> None:
    # Given 16 threads that send requests of 1..5 rows of distinct data at the same moment
    batcher = DynamicBatcher(session_run(mlp), max_batch=32, max_delay_s=0.02, max_queue=64)
    rng = np.random.default_rng(0)
    requests = [
        {"x": rng.standard_normal((int(rng.integers(1, 6)), cm.FEATURES)).astype(np.float32)}
        for _ in range(48)
    ]
    results: dict[int, Feeds] = {}
    barrier = threading.Barrier(16)

    def client(worker: int) -> None:
        barrier.wait()
        for index in range(worker, len(requests), 16):
            results[index] = batcher.infer(requests[index], timeout=10)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = batcher.stats()
    batcher.close()

    # Then each response is its own request's result, as if it had run alone
    for index, request in enumerate(requests):
        alone = mlp.run(["y"], request)[0]
        assert results[index]["y"].shape == alone.shape
        np.testing.assert_allclose(results[index]["y"], alone, rtol=1e-5, atol=1e-6)
    # And the batcher did merge requests into fewer, larger runs
    assert stats.requests == len(requests)
    assert stats.merged_runs > 0
    assert stats.runs < len(requests)
    assert stats.mean_batch_rows > 1
    assert stats.rows == sum(len(r["x"]) for r in requests)
    assert stats.retried == 0


def test_only_batch_compatible_requests_are_merged(held: tuple[DynamicBatcher, Recorder]) -> None:
    batcher, recorder = held
    # Given requests queued together: two of [n, 3] float32, one of another width, one float64
    same_a = batcher.submit(rows(2, value=1))
    wider = batcher.submit(rows(1, width=5, value=2))
    same_b = batcher.submit(rows(1, value=3))
    doubles = batcher.submit(rows(1, value=4, dtype=np.float64))

    recorder.release.set()
    results = [f.result(5)["y"] for f in (same_a, wider, same_b, doubles)]

    # Then the two compatible ones ran as one run of 3 rows, the others alone
    assert recorder.calls == [{"x": (3, 3)}, {"x": (1, 5)}, {"x": (1, 3)}]
    assert [r.shape for r in results] == [(2, 3), (1, 5), (1, 3), (1, 3)]
    assert [float(r[0, 0]) for r in results] == [2.0, 4.0, 6.0, 8.0]
    assert results[3].dtype == np.float64
    assert batcher.stats().retried == 0


def test_a_failing_request_fails_alone(held: tuple[DynamicBatcher, Recorder]) -> None:
    batcher, recorder = held
    recorder.poison = 13.0
    # Given three compatible requests queued together, one of which the model cannot run
    good_a = batcher.submit(rows(1, value=1))
    bad = batcher.submit(rows(2, value=13))
    good_b = batcher.submit(rows(1, value=2))

    recorder.release.set()

    # Then the merged run fails, each request runs again alone, and only the bad one fails
    with pytest.raises(ValueError, match="poisoned row"):
        bad.result(5)
    assert float(good_a.result(5)["y"][0, 0]) == 2.0
    assert float(good_b.result(5)["y"][0, 0]) == 4.0
    assert recorder.calls[0] == {"x": (4, 3)}
    assert batcher.stats().retried == 3


def test_a_run_that_always_fails_fails_exactly_its_requests() -> None:
    calls = []

    def broken(feeds: Feeds) -> Feeds:
        calls.append(len(feeds["x"]))
        if len(calls) <= 1:
            raise RuntimeError("CUDA error: out of memory")
        return {"y": feeds["x"]}

    batcher = DynamicBatcher(broken, max_batch=4, max_delay_s=0, max_queue=4)
    failed = batcher.submit(rows(1))
    with pytest.raises(RuntimeError, match="out of memory"):
        failed.result(5)
    # The worker survives: the next request runs
    assert batcher.infer(rows(2), timeout=5)["y"].shape == (2, 3)
    batcher.close()


def test_a_full_queue_refuses_at_once(held: tuple[DynamicBatcher, Recorder]) -> None:
    batcher, recorder = held
    waiting = [batcher.submit(rows(1)) for _ in range(batcher.max_queue)]

    start = time.monotonic()
    with pytest.raises(QueueFullError, match="8 requests are already waiting"):
        batcher.submit(rows(1))
    assert time.monotonic() - start < 0.05
    assert batcher.stats().rejected == 1
    assert batcher.stats().queued == 8

    recorder.release.set()
    assert all(f.result(5)["y"].shape == (1, 3) for f in waiting)


def test_a_lone_request_waits_at_most_about_max_delay() -> None:
    batcher = DynamicBatcher(lambda f: {"y": f["x"]}, max_batch=8, max_delay_s=0.1, max_queue=4)
    start = time.monotonic()
    batcher.infer(rows(1), timeout=5)
    elapsed = time.monotonic() - start
    batcher.close()
    assert 0.095 <= elapsed < 0.4  # waited for company, then ran without it


def test_a_full_batch_runs_without_waiting_for_the_delay() -> None:
    recorder = Recorder()
    batcher = DynamicBatcher(recorder, max_batch=4, max_delay_s=5, max_queue=8)
    start = time.monotonic()
    futures = [batcher.submit(rows(1, value=v)) for v in range(4)]
    assert [float(f.result(2)["y"][0, 0]) for f in futures] == [0, 2, 4, 6]
    assert time.monotonic() - start < 1
    batcher.close()


def test_a_request_larger_than_max_batch_runs_alone() -> None:
    recorder = Recorder()
    batcher = DynamicBatcher(recorder, max_batch=4, max_delay_s=0.01, max_queue=8)
    assert batcher.infer(rows(10), timeout=5)["y"].shape == (10, 3)
    assert recorder.calls == [{"x": (10, 3)}]
    batcher.close()


def test_outputs_that_are_not_one_row_per_input_row_make_requests_run_alone() -> None:
    def summed(feeds: Feeds) -> Feeds:
        return {"total": np.array(feeds["x"].sum(), dtype=np.float32)}

    batcher = DynamicBatcher(summed, max_batch=8, max_delay_s=0.05, max_queue=8)
    futures = [batcher.submit(rows(1, value=v)) for v in (1, 2)]
    assert [float(f.result(5)["total"]) for f in futures] == [3.0, 6.0]
    batcher.close()


def test_batching_off_runs_every_request_alone(mlp: Any) -> None:
    batcher = DynamicBatcher(
        session_run(mlp), max_batch=32, max_delay_s=0.02, max_queue=64, enabled=False
    )
    x = np.ones((1, cm.FEATURES), np.float32)
    futures = [batcher.submit({"x": x}) for _ in range(10)]
    for future in futures:
        future.result(5)
    stats = batcher.stats()
    batcher.close()
    assert (stats.runs, stats.merged_runs, stats.mean_requests_per_run) == (10, 0, 1.0)


def test_close_fails_waiting_requests(held: tuple[DynamicBatcher, Recorder]) -> None:
    batcher, _ = held
    waiting = batcher.submit(rows(1))
    batcher.close(timeout=0.05)
    with pytest.raises(BatcherClosedError):
        waiting.result(1)
    with pytest.raises(BatcherClosedError):
        batcher.submit(rows(1))


def test_close_with_drain_runs_waiting_requests(held: tuple[DynamicBatcher, Recorder]) -> None:
    batcher, recorder = held
    waiting = batcher.submit(rows(1, value=5))
    recorder.release.set()
    batcher.close(drain=True)
    assert float(waiting.result(1)["y"][0, 0]) == 10.0


def test_infer_async_awaits_without_blocking_the_loop() -> None:
    batcher = DynamicBatcher(
        lambda f: {"y": f["x"] + 1}, max_batch=8, max_delay_s=0.02, max_queue=8
    )

    async def main() -> list[float]:
        results = await asyncio.gather(*(batcher.infer_async(rows(1, value=v)) for v in range(5)))
        return [float(r["y"][0, 0]) for r in results]

    loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the thread's loop
    try:
        assert loop.run_until_complete(main()) == [1, 2, 3, 4, 5]
    finally:
        loop.close()
    assert batcher.stats().merged_runs >= 1
    batcher.close()


def test_cancelled_requests_are_skipped(held: tuple[DynamicBatcher, Recorder]) -> None:
    batcher, recorder = held
    cancelled: Future[Feeds] = batcher.submit(rows(1, value=1))
    kept = batcher.submit(rows(1, value=2))
    assert cancelled.cancel()
    recorder.release.set()
    assert float(kept.result(5)["y"][0, 0]) == 4.0
    assert recorder.calls == [{"x": (1, 3)}]
